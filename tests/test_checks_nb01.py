"""Tests for notebook 01's exercise checkers: reference passes, stub, each mistake, a wrong answer."""

import math

import numpy as np
import pytest

from workshop.checks import nb01


def run(check, fn):
    return check(fn, verbose=False, strict=False)


# --------------------------------------------------------------------------- #
# kl_divergence
# --------------------------------------------------------------------------- #
def student_kl(p, q):
    # Written as a student would: mask the p = 0 terms.
    safe_p = np.where(p > 0, p, 1.0)
    return np.sum(np.where(p > 0, p * np.log(safe_p / q), 0.0), axis=-1)


def test_kl_reference_and_hand_written_solution_pass():
    assert run(nb01.check_kl_divergence, nb01.probability.kl_divergence).status == "passed"
    assert run(nb01.check_kl_divergence, student_kl).status == "passed"


def test_kl_stub_is_not_implemented():
    def stub(p, q):
        raise NotImplementedError("Exercise kl_divergence: replace this line with your code.")

    assert run(nb01.check_kl_divergence, stub).status == "not_implemented"


@pytest.mark.parametrize("hint, mistake", nb01.KL_MISTAKES, ids=lambda v: v[:30] if isinstance(v, str) else "")
def test_kl_each_mistake_gets_its_hint(hint, mistake):
    result = run(nb01.check_kl_divergence, mistake)
    assert result.status == "mistake", result.message
    assert result.details["hint"] == hint


def test_kl_generic_wrong_answer():
    result = run(nb01.check_kl_divergence, lambda p, q: student_kl(p, q) + 0.01)
    assert result.status == "wrong"


# --------------------------------------------------------------------------- #
# gaussian_kl
# --------------------------------------------------------------------------- #
def student_gaussian_kl(mu1, log_var1, mu2, log_var2):
    var1, var2 = np.exp(log_var1), np.exp(log_var2)
    return 0.5 * (np.log(var2 / var1) + (var1 + (mu1 - mu2) ** 2) / var2 - 1.0)


def test_gaussian_kl_reference_and_hand_written_solution_pass():
    assert run(nb01.check_gaussian_kl, nb01.probability.gaussian_kl).status == "passed"
    assert run(nb01.check_gaussian_kl, student_gaussian_kl).status == "passed"


def test_gaussian_kl_stub_is_not_implemented():
    def stub(mu1, log_var1, mu2, log_var2):
        raise NotImplementedError("Exercise gaussian_kl: use the closed form.")

    assert run(nb01.check_gaussian_kl, stub).status == "not_implemented"


@pytest.mark.parametrize("hint, mistake", nb01.GAUSSIAN_KL_MISTAKES, ids=lambda v: v[:30] if isinstance(v, str) else "")
def test_gaussian_kl_each_mistake_gets_its_hint(hint, mistake):
    result = run(nb01.check_gaussian_kl, mistake)
    assert result.status == "mistake", result.message
    assert result.details["hint"] == hint


def test_gaussian_kl_generic_wrong_answer_and_error():
    result = run(nb01.check_gaussian_kl, lambda *args: student_gaussian_kl(*args) * 1.1)
    assert result.status == "wrong"
    import math

    def scalar_only(mu1, lv1, mu2, lv2):
        # Correct for numbers, but math.exp cannot take an array.
        return 0.5 * (lv2 - lv1 + (math.exp(lv1) + (mu1 - mu2) ** 2) / math.exp(lv2) - 1.0)

    result = run(nb01.check_gaussian_kl, scalar_only)
    assert result.status == "error" and result.details["case"] == 3


# --------------------------------------------------------------------------- #
# monte_carlo_kl
# --------------------------------------------------------------------------- #
def student_mc(mu1, log_var1, mu2, log_var2, num_samples, rng):
    eps = rng.standard_normal((num_samples, len(mu1)))
    z = mu1 + np.exp(0.5 * log_var1) * eps

    def log_density(z, mu, log_var):
        return np.sum(-0.5 * (np.log(2 * np.pi) + log_var + (z - mu) ** 2 / np.exp(log_var)), axis=-1)

    values = log_density(z, mu1, log_var1) - log_density(z, mu2, log_var2)
    return values.mean(), values.std(ddof=1) / np.sqrt(num_samples)


def student_mc_other_stream(mu1, log_var1, mu2, log_var2, num_samples, rng):
    # Correct, but draws its noise differently (antithetic order): must still pass.
    eps = -rng.standard_normal((num_samples, len(mu1)))[::-1]
    return student_mc(mu1, log_var1, mu2, log_var2, num_samples, _Fixed(eps))


class _Fixed:
    def __init__(self, eps):
        self.eps = eps

    def standard_normal(self, shape):
        return self.eps.reshape(shape)


def test_mc_reference_same_stream_and_other_stream_pass():
    assert run(nb01.check_monte_carlo_kl, nb01._mc_reference).status == "passed"
    assert run(nb01.check_monte_carlo_kl, student_mc).status == "passed"
    assert run(nb01.check_monte_carlo_kl, student_mc_other_stream).status == "passed"


def test_mc_stub_is_not_implemented():
    def stub(mu1, log_var1, mu2, log_var2, num_samples, rng):
        raise NotImplementedError("Exercise monte_carlo_kl: draw samples.")

    assert run(nb01.check_monte_carlo_kl, stub).status == "not_implemented"


@pytest.mark.parametrize("hint, mistake", nb01.MC_MISTAKES, ids=lambda v: v[:30] if isinstance(v, str) else "")
def test_mc_each_mistake_gets_its_hint(hint, mistake):
    result = run(nb01.check_monte_carlo_kl, mistake)
    assert result.status == "mistake", result.message
    assert result.details["hint"] == hint


def test_mc_generic_wrong_answers():
    # Biased by far more than the standard error.
    result = run(nb01.check_monte_carlo_kl, lambda *a: (student_mc(*a)[0] + 0.2, student_mc(*a)[1]))
    assert result.status == "wrong"
    # A single number instead of the pair.
    result = run(nb01.check_monte_carlo_kl, lambda *a: student_mc(*a)[0])
    assert result.status == "wrong" and "pair" in result.message


def test_mc_reference_agrees_with_closed_form():
    # The cases are sensible: the reference estimate is within 4 standard errors of the closed form.
    for mu1, lv1, mu2, lv2, n, rng in nb01._mc_cases():
        estimate, se = nb01._mc_reference(mu1, lv1, mu2, lv2, n, rng)
        exact = nb01.probability.gaussian_kl(mu1, lv1, mu2, lv2, axis=-1)
        assert abs(estimate - exact) < 4 * se


# --------------------------------------------------------------------------- #
# The shared contract, and catalogues of answers written as students write them
# --------------------------------------------------------------------------- #
from helpers import assert_catalogue, assert_checker_contract  # noqa: E402


@pytest.mark.parametrize(
    "check, reference, mistakes",
    [
        (nb01.check_kl_divergence, nb01.probability.kl_divergence, nb01.KL_MISTAKES),
        (nb01.check_gaussian_kl, nb01._gkl, nb01.GAUSSIAN_KL_MISTAKES),
        (nb01.check_monte_carlo_kl, nb01._mc_reference, nb01.MC_MISTAKES),
    ],
    ids=["kl_divergence", "gaussian_kl", "monte_carlo_kl"],
)
def test_checker_contract(check, reference, mistakes):
    def perturb(value):
        if isinstance(value, tuple):
            return (np.asarray(value[0]) + 0.5, value[1])
        return np.asarray(value) * 1.01 + 0.01

    assert_checker_contract(check, reference, mistakes, perturb)


def _masked_terms(p, q):
    return np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0) / q), 0.0)


KL_WRONG = {
    "no axis": lambda p, q: np.sum(_masked_terms(p, q)),
    "0 log 0 = nan": lambda p, q: np.sum(p * np.log(p / q), axis=-1),
    "difference of logs": lambda p, q: np.sum(p * (np.log(p) - np.log(q)), axis=-1),
    "reversed": lambda p, q: np.sum(_masked_terms(q, p), axis=-1),
    "log2": lambda p, q: np.sum(np.where(p > 0, p * np.log2(np.where(p > 0, p, 1.0) / q), 0.0), axis=-1),
    "log10": lambda p, q: np.sum(np.where(p > 0, p * np.log10(np.where(p > 0, p, 1.0) / q), 0.0), axis=-1),
    "axis 0": lambda p, q: np.sum(_masked_terms(p, q), axis=0),
    "negative": lambda p, q: np.sum(np.where(p > 0, p * np.log(q / np.where(p > 0, p, 1.0)), 0.0), axis=-1),
    "unweighted": lambda p, q: np.sum(np.where(p > 0, np.log(np.where(p > 0, p, 1.0) / q), 0.0), axis=-1),
    "mean": lambda p, q: np.mean(_masked_terms(p, q), axis=-1),
    "keepdims": lambda p, q: np.sum(_masked_terms(p, q), axis=-1, keepdims=True),
    "axis 1 only": lambda p, q: np.sum(_masked_terms(p, q), axis=1),
    "cross-entropy": lambda p, q: -np.sum(p * np.log(q), axis=-1),
    "ratio inverted in log": lambda p, q: np.sum(np.where(p > 0, p * np.log(q / np.where(p > 0, p, 1.0)) * -1, 0) - p * 0.1, axis=-1),
}
KL_RIGHT = {
    "where": lambda p, q: np.sum(_masked_terms(p, q), axis=-1),
    "nansum": lambda p, q: np.nansum(p * np.log(p / q), axis=-1),
    "masked loop": lambda p, q: np.array(
        [
            sum(pk * np.log(pk / qk) for pk, qk in zip(pr, qr) if pk > 0)
            for pr, qr in np.reshape(np.stack([p, q], -2), (-1, 2, np.shape(p)[-1]))
        ]
    ).reshape(np.shape(p)[:-1]),
    "log of masked p": lambda p, q: np.sum(p * np.log(np.where(p > 0, p, 1.0)) - p * np.log(q), axis=-1),
}


def _gkl_form(mu1, log_var1, mu2, log_var2, log_term=1.0, fraction=1.0, constant=-0.5, square=True):
    mu1, log_var1, mu2, log_var2 = (np.asarray(a, dtype="float64") for a in (mu1, log_var1, mu2, log_var2))
    diff = (mu1 - mu2) ** 2 if square else (mu1 - mu2)
    return log_term * 0.5 * (log_var2 - log_var1) + fraction * (np.exp(log_var1) + diff) / (2 * np.exp(log_var2)) + constant


GAUSSIAN_KL_WRONG = {
    "no -1/2": lambda *a: _gkl_form(*a, constant=0.0),
    "-1 not -1/2": lambda *a: _gkl_form(*a, constant=-1.0),
    "log ratio without 1/2": lambda *a: _gkl_form(*a, log_term=2.0),
    "log ratio sign": lambda *a: _gkl_form(*a, log_term=-1.0),
    "mean difference not squared": lambda *a: _gkl_form(*a, square=False),
    "fraction without 2": lambda *a: _gkl_form(*a, fraction=2.0),
    "swapped": lambda mu1, lv1, mu2, lv2: _gkl_form(mu2, lv2, mu1, lv1),
    "variance ratio upside down": lambda mu1, lv1, mu2, lv2: (
        0.5 * (np.asarray(lv2) - lv1) + (np.exp(lv2) + (np.asarray(mu1) - mu2) ** 2) / (2 * np.exp(lv1)) - 0.5
    ),
    "log_var as log sigma": nb01._gkl_log_sigma,
    "sigma for variance": nb01._gkl_sigma_for_var,
    "math.exp on arrays": lambda mu1, lv1, mu2, lv2: 0.5 * (lv2 - lv1) + (math.exp(lv1) + (mu1 - mu2) ** 2) / (2 * math.exp(lv2)) - 0.5,
    "no overall half": lambda *a: 2 * _gkl_form(*a),
    "divided by var1": lambda mu1, lv1, mu2, lv2: (
        0.5 * (np.asarray(lv2) - lv1) + (np.exp(lv1) + (np.asarray(mu1) - mu2) ** 2) / (2 * np.exp(lv1)) - 0.5
    ),
    "sum over everything": lambda *a: np.sum(_gkl_form(*a)),
}
GAUSSIAN_KL_RIGHT = {
    "closed form": lambda *a: _gkl_form(*a),
    "with sigmas": lambda mu1, lv1, mu2, lv2: (
        np.log(np.exp(0.5 * np.asarray(lv2)) / np.exp(0.5 * np.asarray(lv1)))
        + (np.exp(lv1) + (np.asarray(mu1) - mu2) ** 2) / (2 * np.exp(lv2))
        - 0.5
    ),
    "textbook bracket": lambda mu1, lv1, mu2, lv2: (
        0.5 * (np.exp(np.asarray(lv1) - lv2) + (np.asarray(mu1) - mu2) ** 2 / np.exp(lv2) - 1 + np.asarray(lv2) - lv1)
    ),
}


def _mc(mu1, log_var1, mu2, log_var2, num_samples, rng, draw_from=1, std_power=0.5, se="se", sum_dims=True, sign=1.0):
    mu1, log_var1, mu2, log_var2 = (np.asarray(a, dtype="float64") for a in (mu1, log_var1, mu2, log_var2))
    mu, lv = (mu1, log_var1) if draw_from == 1 else (mu2, log_var2)
    z = mu + np.exp(std_power * lv) * rng.standard_normal((num_samples,) + mu.shape)

    def log_density(z, m, v):
        terms = -0.5 * (np.log(2 * np.pi) + v + (z - m) ** 2 / np.exp(v))
        return np.sum(terms, axis=-1) if sum_dims else terms

    values = sign * (log_density(z, mu1, log_var1) - log_density(z, mu2, log_var2))
    estimate = values.mean(axis=0)
    spread = {
        "se": values.std(axis=0, ddof=1) / np.sqrt(num_samples),
        "std": values.std(axis=0, ddof=1),
        "var": values.var(axis=0, ddof=1) / np.sqrt(num_samples),
        "se_n": values.std(axis=0, ddof=1) / num_samples,
    }[se]
    return estimate, spread


def _named(fn):
    """The student's function with the argument names of the exercise (the check passes some by keyword)."""

    def answer(mu1, log_var1, mu2, log_var2):
        return fn(mu1, log_var1, mu2, log_var2)

    return answer


GAUSSIAN_KL_WRONG = {name: _named(fn) for name, fn in GAUSSIAN_KL_WRONG.items()}
GAUSSIAN_KL_RIGHT = {name: _named(fn) for name, fn in GAUSSIAN_KL_RIGHT.items()}


MC_WRONG = {
    "std not se": lambda *a: _mc(*a, se="std"),
    "variance over sqrt n": lambda *a: _mc(*a, se="var"),
    "std over n": lambda *a: _mc(*a, se="se_n"),
    "sampled from q": lambda *a: _mc(*a, draw_from=2),
    "std = exp(log_var)": lambda *a: _mc(*a, std_power=1.0),
    "per dimension": lambda *a: _mc(*a, sum_dims=False),
    "sign": lambda *a: _mc(*a, sign=-1.0),
    "estimate only": lambda *a: _mc(*a)[0],
    "one sample": lambda mu1, lv1, mu2, lv2, n, rng: _mc(mu1, lv1, mu2, lv2, 1, rng),
    "rng.normal with variance as scale": lambda mu1, lv1, mu2, lv2, n, rng: _mc(mu1, lv1, mu2, lv2, n, rng, std_power=1.0),
}
MC_RIGHT = {
    "student": student_mc,
    "other stream": student_mc_other_stream,
    "helper form": lambda *a: _mc(*a),
    "ddof 0": lambda mu1, lv1, mu2, lv2, n, rng: (lambda e, s: (e, s * np.sqrt((n - 1) / n)))(*_mc(mu1, lv1, mu2, lv2, n, rng)),
}


@pytest.mark.parametrize(
    "check, wrong, right",
    [
        (nb01.check_kl_divergence, KL_WRONG, KL_RIGHT),
        (nb01.check_gaussian_kl, GAUSSIAN_KL_WRONG, GAUSSIAN_KL_RIGHT),
        (nb01.check_monte_carlo_kl, MC_WRONG, MC_RIGHT),
    ],
    ids=["kl_divergence", "gaussian_kl", "monte_carlo_kl"],
)
def test_catalogue_of_student_answers(check, wrong, right, capsys):
    assert_catalogue(check, wrong, right, capsys)
