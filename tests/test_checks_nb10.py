"""Tests for the exercise checks of notebook 10 (a mixture-of-Gaussians prior)."""

import numpy as np
import pytest
from helpers import assert_checker_contract
from keras import ops

from workshop import mixture
from workshop.checks import nb10

CHECKS = [
    (nb10.check_mixture_log_density, nb10.reference_mixture_log_density, nb10.MIXTURE_LOG_DENSITY_MISTAKES),
    (nb10.check_monte_carlo_kl, nb10.reference_monte_carlo_kl, nb10.MONTE_CARLO_KL_MISTAKES),
    (nb10.check_responsibilities, nb10.reference_responsibilities, nb10.RESPONSIBILITIES_MISTAKES),
]
IDS = ["mixture_log_density", "monte_carlo_kl", "responsibilities"]


@pytest.mark.parametrize("check, reference, mistakes", CHECKS, ids=IDS)
def test_checker_contract(check, reference, mistakes):
    assert_checker_contract(check, reference, mistakes, perturb=lambda value: value * 1.01 + 0.01)


@pytest.mark.parametrize("check, reference, mistakes", CHECKS, ids=IDS)
def test_each_mistake_has_its_own_one_line_message(check, reference, mistakes):
    messages = [check(fn, verbose=False, strict=False).message for _, fn in mistakes]
    assert len(set(messages)) == len(messages)
    assert all("\n" not in m for m in messages)


def test_the_checks_accept_the_library_functions():
    # The package's model uses these; the notebook's answers must agree with them.
    assert nb10.check_mixture_log_density(mixture.mixture_log_density, verbose=False, strict=False).passed
    assert nb10.check_responsibilities(mixture.mixture_responsibilities, verbose=False, strict=False).passed
    assert nb10.check_monte_carlo_kl(mixture.monte_carlo_kl, verbose=False, strict=False).passed


def test_naive_log_sum_exp_is_named_on_the_overflow_case():
    result = nb10.check_mixture_log_density(nb10._naive_log_density, verbose=False, strict=False)
    assert result.status == "mistake"
    assert "underflows" in result.message and "case 3" in result.message


def test_numpy_inside_the_function_fails_only_when_compiled():
    def numpy_answer(z, means, log_vars, logits):
        a = np.asarray(nb10._log_joint(z, means, log_vars, logits))  # NumPy: fine eagerly, not on symbolic tensors
        m = a.max(axis=-1, keepdims=True)
        return (m + np.log(np.exp(a - m).sum(axis=-1, keepdims=True)))[:, 0]

    result = nb10.check_mixture_log_density(numpy_answer, verbose=False, strict=False)
    assert result.status == "error"
    assert "compiled function" in result.message and "keras.ops" in result.message
    assert "\n" not in result.message


def test_fixed_batch_size_fails_when_compiled():
    def fixed_batch(z, means, log_vars, logits):
        n = int(z.shape[0])  # None inside the compiled function
        return ops.reshape(nb10.reference_mixture_log_density(z, means, log_vars, logits), (n,))

    result = nb10.check_mixture_log_density(fixed_batch, verbose=False, strict=False)
    assert result.status == "error" and "compiled function" in result.message


def test_strict_mode_raises_and_a_non_function_is_an_error():
    from workshop.checks import CheckFailed

    with pytest.raises(CheckFailed):
        nb10.check_responsibilities(nb10.RESPONSIBILITIES_MISTAKES[0][1], verbose=False, strict=True)
    assert nb10.check_monte_carlo_kl(3.0, verbose=False, strict=False).status == "error"


def test_references_against_float64_numpy():
    from workshop import probability

    for z, means, log_vars, logits in nb10._mixture_cases()[:2]:
        z, means, log_vars, logits = (a.astype("float64") for a in (z, means, log_vars, logits))
        log_w = logits - probability.logsumexp(logits)
        joint = log_w[None, :] + probability.gaussian_log_density(z[:, None, :], means[None], log_vars[None])
        expected = probability.logsumexp(joint, axis=-1)
        got = ops.convert_to_numpy(nb10.reference_mixture_log_density(z, means, log_vars, logits))
        np.testing.assert_allclose(got, expected, rtol=1e-5)
        resp = ops.convert_to_numpy(nb10.reference_responsibilities(z, means, log_vars, logits))
        np.testing.assert_allclose(resp, np.exp(joint - expected[:, None]), rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(resp.sum(axis=-1), 1.0, rtol=1e-6)
