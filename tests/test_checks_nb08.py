"""Tests for the exercise checks of notebook 08 (how good is the model?)."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from helpers import assert_checker_contract
from keras import ops

from workshop import evaluation
from workshop.checks import nb08


def _shift(value):
    return value * 1.01 + 0.01


@pytest.mark.parametrize(
    "check, reference, mistakes",
    [
        (nb08.check_log_mean_exp, nb08.reference_log_mean_exp, nb08._LOG_MEAN_EXP_MISTAKES),
        (nb08.check_kl_warmup_weight, nb08.reference_kl_warmup_weight, nb08._WARMUP_MISTAKES),
        (nb08.check_free_bits_kl, nb08.reference_free_bits_kl, nb08._FREE_BITS_MISTAKES),
    ],
    ids=["log_mean_exp", "kl_warmup_weight", "free_bits_kl"],
)
def test_checker_contract(check, reference, mistakes):
    assert_checker_contract(check, reference, mistakes, perturb=_shift)


def _optimize_q_variant(sign=1.0, kl=True, noise=True, apply=True):
    """Student-like optimize_q implementations: the reference and typical mistakes."""

    def optimize_q(log_likelihood, x, z_mean, z_log_var, steps=300, learning_rate=1e-2, num_samples=8):
        mean, log_var = tf.Variable(z_mean), tf.Variable(z_log_var)
        optimizer = keras.optimizers.Adam(learning_rate)
        n, d = z_mean.shape
        x_rep = ops.repeat(x, num_samples, axis=0)

        @tf.function
        def step():
            eps = tf.random.normal((n, num_samples, d)) if noise else tf.zeros((n, num_samples, d))
            with tf.GradientTape() as tape:
                z = mean[:, None, :] + ops.exp(0.5 * log_var)[:, None, :] * eps
                rec = ops.reshape(log_likelihood(x_rep, ops.reshape(z, (n * num_samples, d))), (n, num_samples))
                kl_term = 0.5 * ops.sum(ops.exp(log_var) + ops.square(mean) - 1.0 - log_var, axis=-1)
                loss = sign * ops.sum((kl_term if kl else 0.0) - ops.mean(rec, axis=1))
            if apply:
                optimizer.apply(tape.gradient(loss, [mean, log_var]), [mean, log_var])

        for _ in range(steps):
            step()
        return mean.numpy(), log_var.numpy()

    return optimize_q


def test_optimize_q_contract():
    hints = [hint for hint, _ in nb08._OPTIMIZE_Q_MISTAKES]
    wrong = [
        _optimize_q_variant(apply=False),
        _optimize_q_variant(sign=-1.0),
        _optimize_q_variant(kl=False),
        _optimize_q_variant(noise=False),
    ]

    def perturbed(*args, **kwargs):
        mean, log_var = _optimize_q_variant()(*args, **kwargs)
        return mean + 0.5, log_var

    check = nb08.check_optimize_q
    assert check(_optimize_q_variant(), verbose=False, strict=False).status == "passed"
    assert check(nb08.reference_optimize_q, verbose=False, strict=False).status == "passed"
    assert check(lambda *a, **k: (_ for _ in ()).throw(NotImplementedError("x")), verbose=False, strict=False).status == "not_implemented"
    for hint, fn in zip(hints, wrong):
        result = check(fn, verbose=False, strict=False)
        assert result.status == "mistake" and result.details["hint"] == hint, result.message
    assert check(perturbed, verbose=False, strict=False).status == "wrong"
    result = check(lambda *a, **k: 3, verbose=False, strict=False)
    assert result.status == "error" and "Expected optimize_q to return" in result.message


def test_optimize_q_reference_agrees_with_the_library_on_the_linear_model():
    # the closed-form optimum is what the library's ELBO machinery maximises: a numerical gradient check
    w, x = nb08._linear_model()
    mean, log_var = nb08._closed_form_optimum(w, x)
    best = nb08._elbo(w, x, mean, log_var)
    for delta in (np.array([[0.05, 0.0]]), np.array([[0.0, -0.05]])):
        assert np.all(nb08._elbo(w, x, mean + delta, log_var) < best)
        assert np.all(nb08._elbo(w, x, mean, log_var + delta) < best)


def test_log_mean_exp_reference_matches_the_numpy_one():
    log_w = np.random.default_rng(0).normal(-300, 10, size=(3, 40))
    got = ops.convert_to_numpy(nb08.reference_log_mean_exp(ops.convert_to_tensor(log_w)))
    np.testing.assert_allclose(got, evaluation.log_mean_exp(log_w, axis=1), rtol=1e-9)


def test_messages_are_one_line():
    result = nb08.check_log_mean_exp(nb08._LOG_MEAN_EXP_MISTAKES[0][1], verbose=False, strict=False)
    assert result.status == "mistake" and "\n" not in result.message and "underflows" in result.message
