"""Tests for notebook 09's exercise checkers: the solution passes, each plausible mistake gets its own
one-line hint, an unlisted wrong answer is 'wrong', NumPy on symbolic tensors is named, no traceback escapes."""

import keras
import numpy as np
import pytest
from helpers import assert_checker_contract, assert_one_line_verdict
from keras import ops

from workshop import bayesian
from workshop.checks import nb09


def run(check, fn):
    return check(fn, verbose=False, strict=False)


def student_sample_weights(mean, rho, seed_generator):
    sigma = ops.log1p(ops.exp(rho))  # accurate for very negative rho, unlike log(1 + exp(rho))
    return keras.random.normal(ops.shape(mean), mean=0.0, stddev=1.0, seed=seed_generator) * sigma + mean


def student_kl(mean, rho, prior_std):
    sigma = ops.softplus(rho)
    return 0.5 * ops.sum(2 * ops.log(prior_std / sigma) + (sigma**2 + mean**2) / prior_std**2 - 1.0)


def student_loss(nll, kl, num_train):
    return ops.sum(nll) / ops.cast(ops.shape(nll)[0], nll.dtype) + kl / num_train


def test_sample_weights_contract():
    assert_checker_contract(
        nb09.check_sample_weights,
        nb09.reference_sample_weights,
        nb09._sampling_mistakes(),
        perturb=lambda w: w * 1.1 + 0.1,
    )


def test_kl_contract():
    assert_checker_contract(nb09.check_kl_to_prior, nb09.reference_kl_to_prior, nb09.KL_MISTAKES, perturb=lambda kl: kl * 1.01 + 0.01)


def test_minibatch_loss_contract():
    assert_checker_contract(
        nb09.check_minibatch_loss,
        bayesian.negative_elbo_per_example,
        nb09.LOSS_MISTAKES,
        perturb=lambda loss: loss * 1.01 + 0.01,
    )


@pytest.mark.parametrize(
    "check, fn",
    [
        (nb09.check_sample_weights, student_sample_weights),
        (nb09.check_kl_to_prior, student_kl),
        (nb09.check_minibatch_loss, student_loss),
    ],
)
def test_other_correct_answers_pass_and_say_so(check, fn):
    result = run(check, fn)
    assert result.status == "passed", result.message
    assert "\n" not in result.message


def test_passing_layer_exercises_mention_the_compiled_fit():
    assert "compiled fit" in run(nb09.check_sample_weights, student_sample_weights).message
    assert "compiled fit" in run(nb09.check_kl_to_prior, student_kl).message


def test_numpy_on_symbolic_tensors_is_named():
    def numpy_kl(mean, rho, prior_std):
        sigma = np.log1p(np.exp(rho))
        return np.sum(np.log(prior_std / sigma) + (sigma**2 + mean**2) / (2 * prior_std**2) - 0.5)

    result = run(nb09.check_kl_to_prior, numpy_kl)
    assert result.status == "error" and "keras.ops" in result.message and "\n" not in result.message


def test_unscaled_gradient_free_sampling_is_named():
    def numpy_noise(mean, rho, seed_generator):
        eps = np.random.default_rng(0).standard_normal(mean.shape).astype("float32")
        return ops.stop_gradient(mean + ops.softplus(rho) * eps)

    result = run(nb09.check_sample_weights, numpy_noise)
    assert result.status == "wrong" and "no gradient reaches mean" in result.message


def test_a_shape_error_is_named():
    result = run(
        nb09.check_kl_to_prior, lambda mean, rho, prior_std: ops.sum(nb09.reference_kl_to_prior(mean, rho, prior_std)) * ops.ones((2,))
    )
    assert result.status == "wrong" and "shape" in result.message


def test_strict_mode_raises():
    with pytest.raises(nb09.CheckFailed):
        nb09.check_minibatch_loss(lambda nll, kl, n: ops.mean(nll), verbose=False, strict=True)


def test_numpy_noise_in_sample_weights_is_named():
    """Regression: NumPy noise (frozen when the function is traced) got only "an integer seed repeats itself"."""

    def numpy_noise(mean, rho, seed_generator):
        return mean + ops.softplus(rho) * np.random.normal(size=tuple(mean.shape)).astype("float32")

    result = nb09.check_sample_weights(numpy_noise, verbose=False, strict=False)
    assert result.status == "mistake", result.message
    assert "NumPy noise" in result.details["hint"] and "\n" not in result.message


# --------------------------------------------------------------------------- #
# Wrong answers from the review: extreme magnitudes, unknown batch size, float() of a tensor
# --------------------------------------------------------------------------- #
def naive_softplus_sample(mean, rho, seed_generator):
    return mean + ops.log(1.0 + ops.exp(rho)) * keras.random.normal(ops.shape(mean), seed=seed_generator)


def naive_softplus_kl(mean, rho, prior_std):
    sigma = ops.log(1.0 + ops.exp(rho))
    return ops.sum(ops.log(prior_std / sigma) + (sigma**2 + mean**2) / (2 * prior_std**2) - 0.5)


def float_kl(mean, rho, prior_std):
    sigma = ops.softplus(rho)
    return float(ops.sum(ops.log(prior_std / sigma) + (sigma**2 + mean**2) / (2 * prior_std**2) - 0.5))


def static_batch_loss(nll, kl, num_train):
    return ops.sum(nll) / nll.shape[0] + kl / num_train


def float_loss(nll, kl, num_train):
    return float(ops.mean(nll)) + kl / num_train


def test_the_cases_reach_the_extremes():
    assert min(float(rho.min()) for _, rho, _ in nb09._sampling_cases()) <= -20.0
    assert any(float(rho.max()) <= -17.0 for _, rho, _ in nb09._kl_cases())
    assert any(num_train == 1 and len(nll) == 1 for nll, _, num_train in nb09._loss_cases())


@pytest.mark.parametrize("check, fn", [(nb09.check_sample_weights, naive_softplus_sample), (nb09.check_kl_to_prior, naive_softplus_kl)])
def test_a_naive_softplus_is_caught_at_very_negative_rho(check, fn):
    """log(1 + exp(rho)) is 0 in float32 for rho < -17 under XLA, as in the notebook's jit-compiled fit."""
    result = run(check, fn)
    assert result.status == "mistake", result.message
    assert result.message.split(": ", 1)[1].startswith("use ops.softplus(rho)")
    assert_one_line_verdict(result)


def test_a_batch_size_read_from_the_static_shape_is_caught():
    result = run(nb09.check_minibatch_loss, static_batch_loss)
    assert result.status == "error", result.message
    assert "use ops.shape(x)" in result.message[:300] and "nll.shape[0]" in result.message
    assert_one_line_verdict(result)


@pytest.mark.parametrize("check, fn", [(nb09.check_kl_to_prior, float_kl), (nb09.check_minibatch_loss, float_loss)])
def test_float_of_a_tensor_gets_the_explanation(check, fn):
    result = run(check, fn)
    assert result.status == "error", result.message
    assert "keep it a tensor (keras.ops)" in result.message[:300] and "float(ops." in result.message
    assert_one_line_verdict(result)


def test_verdicts_are_deterministic():
    for fn in (static_batch_loss, student_loss, LOSS_WRONG):
        messages = {run(nb09.check_minibatch_loss, fn).message for _ in range(5)}
        assert len(messages) == 1, messages
    messages = {run(nb09.check_kl_to_prior, naive_softplus_kl).message for _ in range(5)}
    assert len(messages) == 1, messages


def LOSS_WRONG(nll, kl, num_train):  # noqa: N802 - a named wrong answer
    return ops.mean(nll) + kl / (num_train + 1)


def test_re_running_a_check_prints_no_retracing_warning(capsys):
    import logging

    import tensorflow as tf

    records = []

    class Keep(logging.Handler):
        def emit(self, record):
            records.append(record.getMessage())

    handler = Keep()
    tf.get_logger().addHandler(handler)
    try:
        for _ in range(3):
            run(nb09.check_minibatch_loss, student_loss)
            run(nb09.check_kl_to_prior, student_kl)
    finally:
        tf.get_logger().removeHandler(handler)
    assert not [r for r in records if "retracing" in r], records
    assert "retracing" not in capsys.readouterr().err


def test_an_error_that_also_happens_outside_a_compiled_function_is_not_blamed_on_it():
    result = run(nb09.check_minibatch_loss, lambda nll, kl, num_train: ops.mean(nll) + kl / num_train + None)
    assert result.status == "error", result.message
    assert "works on arrays" not in result.message and "None values not supported" in result.message
