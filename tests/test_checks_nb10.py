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


# --------------------------------------------------------------------------- #
# Answers written as students write them
# --------------------------------------------------------------------------- #
def _exp_minus_logsumexp(z, means, log_vars, logits):
    a = nb10._log_joint(z, means, log_vars, logits)
    return ops.exp(a - ops.logsumexp(a, axis=-1, keepdims=True))


def _exp_minus_log_density(z, means, log_vars, logits):
    a = nb10._log_joint(z, means, log_vars, logits)
    return ops.exp(a - nb10.reference_mixture_log_density(z, means, log_vars, logits)[:, None])


def _normalised_over_everything(z, means, log_vars, logits):
    a = nb10._log_joint(z, means, log_vars, logits)
    return ops.exp(a - ops.logsumexp(a))  # no axis: the whole table sums to 1, not each row


def _float_of_a_tensor(z, means, log_vars, logits):
    shift = float(ops.max(logits))  # needs a value: fine eagerly, not on symbolic tensors
    return nb10.reference_mixture_log_density(z, means, log_vars, logits - shift)


def _squeeze_without_axis(z, means, log_vars, logits):
    a = nb10._log_joint(z, means, log_vars, logits)
    return ops.squeeze(ops.logsumexp(a, axis=-1, keepdims=True))


def _density_then_log(z, z_mean, z_log_var, log_prior):
    var = ops.exp(z_log_var)
    density = ops.exp(-0.5 * ops.square(z - z_mean) / var) / ops.sqrt(2 * np.pi * var)
    return ops.log(ops.prod(density, axis=-1)) - log_prior


@pytest.mark.parametrize("route", [_exp_minus_logsumexp, _exp_minus_log_density], ids=["exp(a - logsumexp(a))", "exp(a - log p(z))"])
def test_responsibilities_through_exp_of_a_log_ratio_are_accepted(route):
    # Correct routes whose float32 rounding of log p(z) (|log p(z)| about 2.4e5 in the narrow case) costs about 1e-3.
    assert nb10.check_responsibilities(route, verbose=False, strict=False).status == "passed"


def test_the_float32_tolerance_is_tight_where_the_numbers_are_small():
    general, far, narrow, single = nb10._responsibility_cases()
    assert nb10._float32_tolerance(general) < 1e-5 and nb10._float32_tolerance(single) < 1e-5
    assert 1e-3 < nb10._float32_tolerance(narrow) < 0.05


def test_rows_that_do_not_sum_to_one_are_named():
    result = nb10.check_responsibilities(_normalised_over_everything, verbose=False, strict=False)
    assert result.status == "wrong"
    assert "sum to 1" in result.message and "row sums range" in result.message
    assert result.message.index("normalise") < result.message.index("row sums")  # advice first


def test_nan_from_a_direct_ratio_is_named_as_underflow():
    result = nb10.check_responsibilities(nb10.RESPONSIBILITIES_MISTAKES[1][1], verbose=False, strict=False)
    assert result.status == "mistake" and "nan" in result.message and "far from every component" in result.message


def test_float_of_a_tensor_gets_the_shared_explanation_and_the_students_line():
    result = nb10.check_mixture_log_density(_float_of_a_tensor, verbose=False, strict=False)
    assert result.status == "error"
    assert "float(...)" in result.message and "keep it a tensor" in result.message
    assert "shift = float(ops.max(logits))" in result.message


def test_a_squeeze_without_an_axis_is_caught_on_one_code():
    result = nb10.check_mixture_log_density(_squeeze_without_axis, verbose=False, strict=False)
    assert result.status == "mistake" and "axis" in result.message and "N = 1" in result.message


def test_a_density_logged_after_underflows_on_the_extreme_case():
    result = nb10.check_monte_carlo_kl(_density_then_log, verbose=False, strict=False)
    assert result.status == "mistake" and "log space" in result.message and "40 standard deviations" in result.message


def test_messages_name_the_case_and_stay_short():
    for check, _, mistakes in CHECKS:
        for _, wrong in mistakes:
            message = check(wrong, verbose=False, strict=False).message
            assert "array of shape" not in message and len(message) <= 300, message


def test_no_retracing_warning_when_a_check_cell_is_run_again(caplog):
    import logging

    with caplog.at_level(logging.WARNING):
        for _ in range(6):
            assert nb10.check_responsibilities(nb10.reference_responsibilities, verbose=False, strict=False).passed
    assert "retracing" not in caplog.text


def test_verdicts_are_deterministic_over_five_runs():
    answers = [
        (nb10.check_mixture_log_density, _squeeze_without_axis),
        (nb10.check_mixture_log_density, nb10._naive_log_density),
        (nb10.check_monte_carlo_kl, _density_then_log),
        (nb10.check_responsibilities, _exp_minus_log_density),
        (nb10.check_responsibilities, _normalised_over_everything),
    ]
    for check, answer in answers:
        messages = {check(answer, verbose=False, strict=False).message for _ in range(5)}
        assert len(messages) == 1, messages


def _numpy_method_on_a_tensor(z, means, log_vars, logits):
    a = nb10._log_joint(z, means, log_vars, logits)
    m = a.max(axis=-1, keepdims=True)  # a NumPy method: tensors have none, eagerly or compiled
    return ops.exp(a - m) / ops.sum(ops.exp(a - m), axis=-1, keepdims=True)


def test_a_numpy_method_on_a_tensor_is_named_in_the_eager_stage_with_the_students_line():
    result = nb10.check_responsibilities(_numpy_method_on_a_tensor, verbose=False, strict=False)
    assert result.status == "error"
    assert "symbolic" not in str(result.details["exception"])  # the eager stage decided, before the compiled one
    assert "NumPy method on a tensor" in result.message and "use keras.ops, ops.max(x, ...)" in result.message
    assert "m = a.max(axis=-1, keepdims=True)" in result.message and "case 1: general codes" in result.message
    assert "\n" not in result.message
