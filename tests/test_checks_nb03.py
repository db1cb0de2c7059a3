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
    result = run(
        nb03.check_elbo_ppca, lambda x, q_mean, q_log_var, model: np.atleast_1d(student_elbo(x, q_mean, q_log_var, model))[..., None]
    )
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


# --------------------------------------------------------------------------- #
# The shared contract, and catalogues of answers written as students write them
# --------------------------------------------------------------------------- #
from helpers import assert_catalogue, assert_checker_contract  # noqa: E402


@pytest.mark.parametrize(
    "check, reference, mistakes",
    [
        (nb03.check_elbo_ppca, nb03._reference_elbo, nb03.ELBO_MISTAKES),
        (nb03.check_log_px_prior_sampling, nb03._reference_prior, nb03.PRIOR_MISTAKES),
    ],
    ids=["elbo_ppca", "log_px_prior_sampling"],
)
def test_checker_contract(check, reference, mistakes):
    assert_checker_contract(check, reference, mistakes, perturb=lambda value: np.asarray(value) * 1.01 + 0.5)


def _elbo(x, q_mean, q_log_var, model, spread_power=1.0, kl_sign=-1.0, constant=True, s2=None, spread=True, kl_half=0.5, sum_w_axis=0):
    W, b = model.weights, model.bias
    s2 = model.noise_var if s2 is None else s2(model)
    d = W.shape[0]
    residual = x - (q_mean @ W.T + b)
    extra = np.exp(spread_power * q_log_var) @ np.sum(W**2, axis=sum_w_axis) if spread else 0.0
    reconstruction = -0.5 * ((d * np.log(2 * np.pi * s2) if constant else 0.0) + (np.sum(residual**2, axis=-1) + extra) / s2)
    kl = kl_half * np.sum(np.exp(q_log_var) + q_mean**2 - 1 - q_log_var, axis=-1)
    return reconstruction + kl_sign * kl


ELBO_WRONG = {
    "at the mean": lambda x, m, v, model: _elbo(x, m, v, model, spread=False),
    "KL added": lambda x, m, v, model: _elbo(x, m, v, model, kl_sign=1.0),
    "std in spread": lambda x, m, v, model: _elbo(x, m, v, model, spread_power=0.5),
    "no constant": lambda x, m, v, model: _elbo(x, m, v, model, constant=False),
    "sigma for variance": lambda x, m, v, model: _elbo(x, m, v, model, s2=lambda mdl: mdl.noise_std),
    "KL without 1/2": lambda x, m, v, model: _elbo(x, m, v, model, kl_half=1.0),
    "KL forgotten": lambda x, m, v, model: _elbo(x, m, v, model, kl_sign=0.0),
    "W summed over the wrong axis": lambda x, m, v, model: (
        _elbo(x, m, v, model, sum_w_axis=1) if model.weights.shape[0] == model.weights.shape[1] else _elbo(x, m, v, model, spread_power=2.0)
    ),
    "negative ELBO": lambda x, m, v, model: -_elbo(x, m, v, model),
    "variance squared in spread": lambda x, m, v, model: _elbo(x, m, v, model, spread_power=2.0),
    "batch sum": lambda x, m, v, model: np.sum(_elbo(x, m, v, model)),
}
ELBO_RIGHT = {
    "student": student_elbo,
    "helper": lambda x, m, v, model: _elbo(x, m, v, model),
    "from the model's pieces": lambda x, m, v, model: (
        model.expected_log_likelihood(x, m, v) - 0.5 * np.sum(np.exp(v) + m**2 - 1 - v, axis=-1)
    ),
}


def _named_elbo(fn):
    def elbo_ppca(x, q_mean, q_log_var, model):
        return fn(x, q_mean, q_log_var, model)

    return elbo_ppca


ELBO_WRONG = {k: _named_elbo(f) for k, f in ELBO_WRONG.items()}
ELBO_RIGHT = {k: _named_elbo(f) for k, f in ELBO_RIGHT.items()}


def _lse(a, axis=-1):
    m = np.max(a, axis=axis, keepdims=True)
    return np.squeeze(m, axis) + np.log(np.sum(np.exp(a - m), axis=axis))


PRIOR_WRONG = {
    "mean of logs": lambda x, z, model: np.mean(model.log_likelihood(x, z), axis=-1),
    "naive exp": nb03._naive_exp,
    "log-sum-exp without log K": lambda x, z, model: _lse(model.log_likelihood(x, z)),
    "joint": lambda x, z, model: _lse(model.log_joint(x, z)) - np.log(len(z)),
    "max only": lambda x, z, model: np.max(model.log_likelihood(x, z), axis=-1),
    "log K added": lambda x, z, model: _lse(model.log_likelihood(x, z)) + np.log(len(z)),
    "divided by K in log space": lambda x, z, model: _lse(model.log_likelihood(x, z)) / len(z),
    "max not subtracted back": lambda x, z, model: np.log(np.mean(np.exp(model.log_likelihood(x, z) - np.max(model.log_likelihood(x, z))))),
    "sum of logs": lambda x, z, model: np.sum(model.log_likelihood(x, z), axis=-1),
    "naive exp with epsilon": lambda x, z, model: np.log(np.mean(np.exp(model.log_likelihood(x, z))) + 1e-300),
}
PRIOR_RIGHT = {
    "log_mean_exp": lambda x, z, model: log_mean_exp(model.log_likelihood(x, z), axis=-1),
    "by hand": lambda x, z, model: _lse(model.log_likelihood(x, z)) - np.log(len(z)),
    "logaddexp.reduce": lambda x, z, model: np.logaddexp.reduce(model.log_likelihood(x, z), axis=-1) - np.log(z.shape[0]),
}


@pytest.mark.parametrize(
    "check, wrong, right",
    [(nb03.check_elbo_ppca, ELBO_WRONG, ELBO_RIGHT), (nb03.check_log_px_prior_sampling, PRIOR_WRONG, PRIOR_RIGHT)],
    ids=["elbo_ppca", "log_px_prior_sampling"],
)
def test_catalogue_of_student_answers(check, wrong, right, capsys):
    assert_catalogue(check, wrong, right, capsys)
