"""Tests for notebook 01's exercise checkers: reference passes, stub, each mistake, a wrong answer."""

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
