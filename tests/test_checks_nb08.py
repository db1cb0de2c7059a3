"""Tests for the exercise checks of notebook 08 (how good is the model?)."""

import time

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


def _student_optimize_q(mistake=None, compiled=True):
    """optimize_q as students write it (eager or compiled step), right or with one mistake."""

    def optimize_q(log_likelihood, x, z_mean, z_log_var, steps=300, learning_rate=1e-2, num_samples=8):
        mean = tf.Variable(np.asarray(z_mean, dtype="float32"))
        log_var = tf.Variable(np.asarray(z_log_var, dtype="float32"))
        optimizer = keras.optimizers.Adam(learning_rate)
        n, d = mean.shape
        x_rep = ops.repeat(ops.convert_to_tensor(x), num_samples, axis=0)

        def step():
            eps = tf.random.normal((n, num_samples, d))
            z_outside = mean[:, None, :] + ops.exp(0.5 * log_var)[:, None, :] * eps
            with tf.GradientTape() as tape:
                if mistake == "z outside the tape":
                    z = z_outside
                elif mistake == "swapped in z":
                    z = log_var[:, None, :] + ops.exp(0.5 * mean)[:, None, :] * eps
                elif mistake == "softplus std":
                    z = mean[:, None, :] + ops.softplus(log_var)[:, None, :] * eps
                elif mistake == "no noise":
                    z = mean[:, None, :] + 0.0 * eps
                else:
                    z = mean[:, None, :] + ops.exp(0.5 * log_var)[:, None, :] * eps
                log_px_z = ops.reshape(log_likelihood(x_rep, ops.reshape(z, (n * num_samples, d))), (n, num_samples))
                if mistake == "softplus variance in the KL only":
                    var = ops.softplus(log_var)
                    kl = 0.5 * ops.sum(var + ops.square(mean) - 1.0 - ops.log(var), axis=-1)
                else:
                    kl = 0.5 * ops.sum(ops.exp(log_var) + ops.square(mean) - 1.0 - log_var, axis=-1)
                rec = ops.sum(log_px_z, axis=1) if mistake == "summed over S" else ops.mean(log_px_z, axis=1)
                loss = ops.sum((0.0 if mistake == "no kl" else kl) - rec)
                if mistake == "sign":
                    loss = -loss
            variables = [mean] if mistake == "log_var left out" else [mean, log_var]
            if mistake != "no step":
                optimizer.apply(tape.gradient(loss, variables), variables)

        if compiled:
            step = tf.function(step)
        for _ in range(steps):
            step()
        if mistake == "returned swapped":
            return log_var.numpy(), mean.numpy()
        return mean.numpy(), log_var.numpy()

    return optimize_q


_OPTIMIZE_Q_CAUSES = {
    "no step": "q never moved",
    "returned swapped": "the two results are swapped",
    "swapped in z": "swapped in the codes",
    "log_var left out": "the log-variance never moved",
    "z outside the tape": "outside the GradientTape",
    "summed over S": "SUMMED over the num_samples codes",
    "sign": "the loss's sign is flipped",
    "no kl": "the KL(q || p(z)) term of the loss is missing",
    "no noise": "the codes carry no noise",
    "softplus std": "standard deviation softplus(log_var)",
    "softplus variance in the KL only": "the KL reads softplus(log_var) as the variance",
}


@pytest.mark.parametrize("mistake", list(_OPTIMIZE_Q_CAUSES))
def test_optimize_q_names_the_real_cause(mistake):
    result = nb08.check_optimize_q(_student_optimize_q(mistake), verbose=False, strict=False)
    assert result.status == "mistake", result.message
    assert _OPTIMIZE_Q_CAUSES[mistake] in result.message, result.message


def test_optimize_q_contract():
    check = nb08.check_optimize_q
    assert check(_student_optimize_q(), verbose=False, strict=False).status == "passed"
    assert check(nb08.reference_optimize_q, verbose=False, strict=False).status == "passed"
    assert check(lambda *a, **k: (_ for _ in ()).throw(NotImplementedError("x")), verbose=False, strict=False).status == "not_implemented"

    def perturbed(*args, **kwargs):
        mean, log_var = _student_optimize_q()(*args, **kwargs)
        return mean + 0.5, log_var

    assert check(perturbed, verbose=False, strict=False).status == "wrong"
    result = check(lambda *a, **k: 3, verbose=False, strict=False)
    assert result.status == "error" and "Expected optimize_q to return" in result.message


def test_optimize_q_eager_loop_passes_within_seconds():
    t0 = time.perf_counter()
    result = nb08.check_optimize_q(_student_optimize_q(compiled=False), verbose=False, strict=False)
    assert result.status == "passed", result.message
    assert time.perf_counter() - t0 < 60  # about 3 s on an idle laptop core; generous for a loaded machine


# The wrong answer whose verdict depended on the draw before the check was seeded (about half
# the runs passed); a right answer and the other mistakes are run by the tests above.
@pytest.mark.parametrize("mistake", ["softplus std"])
def test_optimize_q_gives_the_same_verdict_in_repeated_runs(mistake):
    messages = {nb08.check_optimize_q(_student_optimize_q(mistake), verbose=False, strict=False).message for _ in range(5)}
    assert len(messages) == 1, messages


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
    result = nb08.check_log_mean_exp(nb08._LOG_MEAN_EXP_MISTAKES[1][1], verbose=False, strict=False)
    assert result.status == "mistake" and "\n" not in result.message and "underflows" in result.message


def _lme_static_batch(log_w):
    return ops.reshape(ops.logsumexp(log_w, axis=-1), (log_w.shape[0],)) - ops.log(ops.cast(ops.shape(log_w)[-1], log_w.dtype))


def _lme_float(log_w):
    return ops.logsumexp(log_w, axis=-1) - float(ops.log(ops.cast(ops.shape(log_w)[-1], "float32")))


def _lme_mean_shift(log_w):
    m = ops.mean(log_w, axis=-1, keepdims=True)
    return ops.squeeze(m, axis=-1) + ops.log(ops.mean(ops.exp(log_w - m), axis=-1))


def _lme_batch_max(log_w):
    m = ops.max(log_w)  # one maximum for the whole batch, not one per row
    return m + ops.log(ops.mean(ops.exp(log_w - m), axis=-1))


def _lme_squeeze_all(log_w):
    m = ops.max(log_w, axis=-1, keepdims=True)
    return ops.squeeze(m + ops.log(ops.mean(ops.exp(log_w - m), axis=-1, keepdims=True)))


def _fb_static_batch(z_mean, z_log_var, free_bits):
    kl = 0.5 * (ops.exp(z_log_var) + ops.square(z_mean) - 1.0 - z_log_var)
    return ops.sum(ops.maximum(ops.sum(kl, axis=0) / z_mean.shape[0], free_bits))


def _fb_float(z_mean, z_log_var, free_bits):
    kl = 0.5 * (ops.exp(z_log_var) + ops.square(z_mean) - 1.0 - z_log_var)
    return ops.sum(ops.maximum(ops.mean(kl, axis=0), free_bits)) + 0.0 * float(ops.sum(kl))


@pytest.mark.parametrize(
    "check, answer, status, words",
    [
        (nb08.check_log_mean_exp, _lme_mean_shift, "mistake", "must be the row's MAXIMUM"),
        (nb08.check_log_mean_exp, _lme_squeeze_all, "mistake", "single image (N = 1)"),
        (nb08.check_log_mean_exp, _lme_batch_max, "mistake", "must be each row's own"),
        (nb08.check_log_mean_exp, _lme_static_batch, "error", "use ops.shape(x)"),
        (nb08.check_log_mean_exp, _lme_float, "error", "float(...), int(...)"),
        (nb08.check_free_bits_kl, _fb_static_batch, "error", "use ops.shape(x)"),
        (nb08.check_free_bits_kl, _fb_float, "error", "float(...), int(...)"),
        (nb08.check_kl_warmup_weight, lambda e, n: min(1.0, e / max(n, 1)), "mistake", "with warmup_epochs = 0 there is no warm-up"),
    ],
    ids=["lme-mean-shift", "lme-squeeze", "lme-batch-max", "lme-static-batch", "lme-float", "fb-static-batch", "fb-float", "warmup-zero"],
)
def test_new_wrong_answers_are_caught_with_their_message(check, answer, status, words):
    messages = set()
    for _ in range(5):  # the same verdict in repeated runs
        result = check(answer, verbose=False, strict=False)
        assert result.status == status and words in result.message, result.message
        assert "\n" not in result.message
        messages.add(result.message)
    assert len(messages) == 1


def test_free_bits_near_the_prior_is_checked_with_a_relative_tolerance():
    # a KL that drops the log-variance term is off by thousandths of a nat near the prior: caught
    def without_log_var(z_mean, z_log_var, free_bits):
        kl = 0.5 * (ops.exp(z_log_var) + ops.square(z_mean) - 1.0)
        return ops.sum(ops.maximum(ops.mean(kl, axis=0), free_bits))

    assert nb08.check_free_bits_kl(without_log_var, verbose=False, strict=False).status != "passed"


def test_checks_print_no_tensorflow_warnings_when_run_again(capfd):
    for _ in range(7):
        nb08.check_log_mean_exp(nb08.reference_log_mean_exp, verbose=False, strict=False)
        nb08.check_free_bits_kl(nb08.reference_free_bits_kl, verbose=False, strict=False)
    nb08.check_optimize_q(_student_optimize_q(), verbose=False, strict=False)
    nb08.check_optimize_q(_student_optimize_q(), verbose=False, strict=False)
    captured = capfd.readouterr()
    assert "retracing" not in (captured.out + captured.err).lower()


def test_optimize_q_runs_each_mistake_once_per_process(monkeypatch):
    # The mistakes' outcomes are seeded: a check run again (a re-run cell) reuses them and only runs the student's.
    answer = _student_optimize_q("softplus std")
    first = nb08.check_optimize_q(answer, verbose=False, strict=False)
    built = []
    variant = nb08._variant
    monkeypatch.setattr(nb08, "_variant", lambda **mistake: built.append(mistake) or variant(**mistake))
    second = nb08.check_optimize_q(answer, verbose=False, strict=False)
    assert second.message == first.message and second.status == "mistake"
    assert built == []
