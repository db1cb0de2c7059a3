"""Tests for notebook 03's exercise checkers: reference passes, stub, each mistake, a wrong answer."""

import numpy as np
import pytest

from workshop.checks import nb03
from workshop.ppca import log_mean_exp


def run(check, fn):
    return check(fn, verbose=False, strict=False)


# --------------------------------------------------------------------------- #
# elbo_ppca, written as a student would, from the closed form.
# --------------------------------------------------------------------------- #
def student_elbo(x, q_mean, q_log_var, model):
    W, b, s2 = model.weights, model.bias, model.noise_var
    d = W.shape[0]
    residual = x - (q_mean @ W.T + b)
    spread = np.exp(q_log_var) @ np.sum(W**2, axis=0)
    reconstruction = -0.5 * (d * np.log(2 * np.pi * s2) + (np.sum(residual**2, axis=-1) + spread) / s2)
    kl = 0.5 * np.sum(np.exp(q_log_var) + q_mean**2 - 1 - q_log_var, axis=-1)
    return reconstruction - kl


def test_elbo_reference_and_hand_written_solution_pass():
    assert run(nb03.check_elbo_ppca, nb03._reference_elbo).status == "passed"
    assert run(nb03.check_elbo_ppca, student_elbo).status == "passed"


def test_elbo_stub_is_not_implemented():
    def stub(x, q_mean, q_log_var, model):
        raise NotImplementedError("Exercise elbo_ppca: write the closed form.")

    assert run(nb03.check_elbo_ppca, stub).status == "not_implemented"


@pytest.mark.parametrize("hint, mistake", nb03.ELBO_MISTAKES, ids=lambda v: v[:30] if isinstance(v, str) else "")
def test_elbo_each_mistake_gets_its_hint(hint, mistake):
    result = run(nb03.check_elbo_ppca, mistake)
    assert result.status == "mistake"
    assert result.details["hint"] == hint


def test_elbo_generic_wrong_answer_and_shape_mismatch():
    result = run(nb03.check_elbo_ppca, lambda x, q_mean, q_log_var, model: student_elbo(x, q_mean, q_log_var, model) + 0.1)
    assert result.status == "wrong"
    result = run(nb03.check_elbo_ppca, lambda x, q_mean, q_log_var, model: np.atleast_1d(student_elbo(x, q_mean, q_log_var, model))[..., None])
    assert result.status == "wrong" and "shape" in result.message


# --------------------------------------------------------------------------- #
# log_px_prior_sampling
# --------------------------------------------------------------------------- #
def student_prior(x, z, model):
    log_lik = model.log_likelihood(x, z)
    top = np.max(log_lik)
    return top + np.log(np.mean(np.exp(log_lik - top)))


def test_prior_reference_and_hand_written_solution_pass():
    assert run(nb03.check_log_px_prior_sampling, nb03._reference_prior).status == "passed"
    assert run(nb03.check_log_px_prior_sampling, student_prior).status == "passed"


def test_prior_stub_is_not_implemented():
    def stub(x, z, model):
        raise NotImplementedError("Exercise log_px_prior_sampling: use log-sum-exp.")

    assert run(nb03.check_log_px_prior_sampling, stub).status == "not_implemented"


@pytest.mark.parametrize("hint, mistake", nb03.PRIOR_MISTAKES, ids=lambda v: v[:30] if isinstance(v, str) else "")
def test_prior_each_mistake_gets_its_hint(hint, mistake):
    result = run(nb03.check_log_px_prior_sampling, mistake)
    assert result.status == "mistake"
    assert result.details["hint"] == hint


def test_prior_naive_exp_passes_small_case_and_fails_on_underflow():
    # The underflow mistake is right on the first case and caught on the second.
    result = run(nb03.check_log_px_prior_sampling, nb03._naive_exp)
    assert result.details["case"] == 1


def test_prior_generic_wrong_answer():
    result = run(nb03.check_log_px_prior_sampling, lambda x, z, model: log_mean_exp(model.log_likelihood(x, z)) - 1.0)
    assert result.status == "wrong"
