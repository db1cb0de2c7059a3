"""Exercise checks for notebook 01 (the probability toolkit).

Exercises:
    ``kl_divergence(p, q)``: KL(p || q) of discrete distributions along the
        last axis, in nats, with 0 log 0 = 0.
    ``gaussian_kl(mu1, log_var1, mu2, log_var2)``: the closed-form KL of two
        univariate Gaussians, elementwise.
    ``monte_carlo_kl(mu1, log_var1, mu2, log_var2, num_samples, rng)``: the
        Monte Carlo estimate of KL(N1 || N2) for diagonal Gaussians and its
        standard error.
"""

import numpy as np

from workshop import probability
from workshop.checks._core import check_function

__all__ = ["check_gaussian_kl", "check_kl_divergence", "check_monte_carlo_kl"]


# --------------------------------------------------------------------------- #
# kl_divergence
# --------------------------------------------------------------------------- #
KL_CASES = [
    (np.array([0.5, 0.3, 0.2]), np.array([0.25, 0.25, 0.5])),
    (np.array([0.0, 0.4, 0.6]), np.array([0.2, 0.3, 0.5])),  # p gives an outcome probability 0
    (np.array([0.1, 0.6, 0.3]), np.array([0.1, 0.6, 0.3])),  # p = q
    (
        np.array([[0.7, 0.2, 0.1], [0.25, 0.25, 0.5]]),  # a batch of two pairs
        np.array([[0.2, 0.5, 0.3], [0.4, 0.4, 0.2]]),
    ),
]


def _terms(p, q):
    """p_k log(p_k / q_k) with 0 where p_k = 0, in nats."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0) / q), 0.0)


def _kl_reversed(p, q):
    return probability.kl_divergence(q, p)


def _kl_bits(p, q):
    return np.sum(_terms(p, q), axis=-1) / np.log(2.0)


def _kl_negative(p, q):
    return -np.sum(_terms(p, q), axis=-1)


def _kl_nan_at_zero(p, q):
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.sum(p * np.log(p / q), axis=-1)


def _kl_all_axes(p, q):
    return np.sum(_terms(p, q))


def _kl_unweighted(p, q):
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.sum(np.where(p > 0, np.log(np.where(p > 0, p, 1.0) / q), 0.0), axis=-1)


KL_MISTAKES = [
    ("the arguments are swapped: you computed KL(q || p). The expectation is under p, so weight log(p_k / q_k) by p_k.", _kl_reversed),
    ("that is the answer in bits: use the natural log (np.log), not np.log2.", _kl_bits),
    ("the sign is flipped: KL(p || q) = sum_k p_k log(p_k / q_k) = H(p, q) - H(p), never negative.", _kl_negative),
    (
        "an outcome with p_k = 0 gives 0 * log(0) = nan in NumPy. Its term is 0 (the limit of p log p): use np.where(p > 0, ..., 0.0).",
        _kl_nan_at_zero,
    ),
    (
        "you summed over every axis. Sum over the last axis only (axis=-1), so that a batch of distributions gives one KL each.",
        _kl_all_axes,
    ),
    ("each log(p_k / q_k) must be weighted by its probability p_k before summing.", _kl_unweighted),
]


def check_kl_divergence(student_fn, verbose=True, strict=None):
    """Check the exercise ``kl_divergence(p, q)`` against :func:`workshop.probability.kl_divergence`."""
    return check_function(
        "kl_divergence",
        student_fn,
        probability.kl_divergence,
        KL_CASES,
        mistakes=KL_MISTAKES,
        rtol=1e-6,
        atol=1e-9,
        verbose=verbose,
        strict=strict,
    )


# --------------------------------------------------------------------------- #
# gaussian_kl
# --------------------------------------------------------------------------- #
GAUSSIAN_KL_CASES = [
    (0.0, 0.0, 0.0, 0.0),  # the same Gaussian: KL = 0
    (0.5, -0.4, -1.0, 0.8),
    (1.0, 0.0, 0.0, 0.0),  # only the means differ
    (np.array([0.3, -1.2, 2.0]), np.array([0.5, -1.0, 0.0]), np.array([0.0, 0.5, -0.5]), np.array([-0.3, 0.2, 1.5])),
    {
        "mu1": np.array([[0.2, -0.7], [1.5, 0.0]]),
        "log_var1": np.array([[-2.0, 0.3], [0.0, 1.0]]),
        "mu2": 0.0,
        "log_var2": 0.0,
    },  # to the standard normal, with broadcasting
]


def _gkl(mu1, log_var1, mu2, log_var2):
    return probability.gaussian_kl(mu1, log_var1, mu2, log_var2)


def _gkl_log_sigma(mu1, log_var1, mu2, log_var2):
    # log_var read as log(sigma): variances exp(2 * log_var), log ratio log_var2 - log_var1.
    mu1, log_var1, mu2, log_var2 = (np.asarray(a, dtype="float64") for a in (mu1, log_var1, mu2, log_var2))
    return (log_var2 - log_var1) + (np.exp(2 * log_var1) + (mu1 - mu2) ** 2) / (2 * np.exp(2 * log_var2)) - 0.5


def _gkl_swapped(mu1, log_var1, mu2, log_var2):
    return probability.gaussian_kl(mu2, log_var2, mu1, log_var1)


def _gkl_no_minus_one(mu1, log_var1, mu2, log_var2):
    return _gkl(mu1, log_var1, mu2, log_var2) + 0.5


def _gkl_full_log_ratio(mu1, log_var1, mu2, log_var2):
    # log(sigma2^2 / sigma1^2) where log(sigma2 / sigma1) belongs.
    return _gkl(mu1, log_var1, mu2, log_var2) + 0.5 * (np.asarray(log_var2) - np.asarray(log_var1))


def _gkl_sigma_for_var(mu1, log_var1, mu2, log_var2):
    mu1, log_var1, mu2, log_var2 = (np.asarray(a, dtype="float64") for a in (mu1, log_var1, mu2, log_var2))
    return 0.5 * (log_var2 - log_var1 + (np.exp(0.5 * log_var1) + (mu1 - mu2) ** 2) / np.exp(0.5 * log_var2) - 1.0)


def _gkl_log_sign(mu1, log_var1, mu2, log_var2):
    mu1, log_var1, mu2, log_var2 = (np.asarray(a, dtype="float64") for a in (mu1, log_var1, mu2, log_var2))
    return 0.5 * (log_var1 - log_var2 + (np.exp(log_var1) + (mu1 - mu2) ** 2) / np.exp(log_var2) - 1.0)


def _gkl_no_half(mu1, log_var1, mu2, log_var2):
    return 2.0 * _gkl(mu1, log_var1, mu2, log_var2)


GAUSSIAN_KL_MISTAKES = [
    (
        "looks like you read log_var as log(sigma). It is log(sigma^2): the variance is exp(log_var), "
        "the standard deviation exp(log_var / 2).",
        _gkl_log_sigma,
    ),
    (
        "the two Gaussians are swapped: you computed KL(N2 || N1). The expectation is under the first one, "
        "so var1 and (mu1 - mu2)^2 sit over var2.",
        _gkl_swapped,
    ),
    ("the constant -1/2 is missing (it makes KL(N || N) = 0).", _gkl_no_minus_one),
    (
        "the log term should be log(sigma2 / sigma1) = (log_var2 - log_var1) / 2; you used log(sigma2^2 / sigma1^2) without the 1/2.",
        _gkl_full_log_ratio,
    ),
    ("sigma used where sigma^2 is meant: the fraction is (var1 + (mu1 - mu2)^2) / var2 with var = exp(log_var).", _gkl_sigma_for_var),
    ("the log term has the wrong sign: it is log(sigma2 / sigma1), the second over the first.", _gkl_log_sign),
    ("the overall factor 1/2 is missing.", _gkl_no_half),
]


def check_gaussian_kl(student_fn, verbose=True, strict=None):
    """Check the exercise ``gaussian_kl(mu1, log_var1, mu2, log_var2)`` (elementwise closed form)."""
    return check_function(
        "gaussian_kl",
        student_fn,
        _gkl,
        GAUSSIAN_KL_CASES,
        mistakes=GAUSSIAN_KL_MISTAKES,
        rtol=1e-6,
        atol=1e-9,
        verbose=verbose,
        strict=strict,
    )


# --------------------------------------------------------------------------- #
# monte_carlo_kl
# --------------------------------------------------------------------------- #
MC_NUM_SAMPLES = 20_000


def _mc_cases():
    n = MC_NUM_SAMPLES
    return [
        # Different variances, so that KL(N1 || N2) and KL(N2 || N1) differ.
        (np.array([0.5]), np.array([-1.0]), np.array([-0.5]), np.array([0.7]), n, np.random.default_rng(101)),
        (np.array([0.0]), np.array([0.0]), np.array([1.0]), np.array([0.0]), n, np.random.default_rng(102)),
        (
            np.array([0.3, -1.0, 0.8]),
            np.array([-0.5, 0.4, 0.0]),
            np.array([1.0, 0.5, 0.0]),
            np.array([0.2, -0.3, 1.0]),
            n,
            np.random.default_rng(103),
        ),
    ]


def _mc_reference(mu1, log_var1, mu2, log_var2, num_samples, rng):
    return probability.monte_carlo_gaussian_kl(mu1, log_var1, mu2, log_var2, num_samples=num_samples, rng=rng)


def _log_ratio(z, mu1, log_var1, mu2, log_var2, axis=-1):
    return probability.gaussian_log_density(z, mu1, log_var1, axis=axis) - probability.gaussian_log_density(z, mu2, log_var2, axis=axis)


def _draw(mu, std, num_samples, rng):
    mu = np.asarray(mu, dtype="float64")
    return mu + std * rng.standard_normal((num_samples,) + mu.shape)


def _mc_std_not_se(mu1, log_var1, mu2, log_var2, num_samples, rng):
    z = _draw(mu1, np.exp(0.5 * np.asarray(log_var1)), num_samples, rng)
    values = _log_ratio(z, mu1, log_var1, mu2, log_var2)
    return values.mean(), values.std(ddof=1)


def _mc_sign(mu1, log_var1, mu2, log_var2, num_samples, rng):
    estimate, se = _mc_reference(mu1, log_var1, mu2, log_var2, num_samples, rng)
    return -estimate, se


def _mc_sample_from_q(mu1, log_var1, mu2, log_var2, num_samples, rng):
    z = _draw(mu2, np.exp(0.5 * np.asarray(log_var2)), num_samples, rng)
    return probability.monte_carlo_mean(_log_ratio(z, mu1, log_var1, mu2, log_var2))


def _mc_log_var_as_std(mu1, log_var1, mu2, log_var2, num_samples, rng):
    z = _draw(mu1, np.exp(np.asarray(log_var1)), num_samples, rng)
    return probability.monte_carlo_mean(_log_ratio(z, mu1, log_var1, mu2, log_var2))


def _mc_per_dimension(mu1, log_var1, mu2, log_var2, num_samples, rng):
    z = _draw(mu1, np.exp(0.5 * np.asarray(log_var1)), num_samples, rng)
    return probability.monte_carlo_mean(_log_ratio(z, mu1, log_var1, mu2, log_var2, axis=None), axis=0)


MC_MISTAKES = [
    (
        "the second number should be the standard error of the mean, std / sqrt(num_samples), not the standard deviation of the terms.",
        _mc_std_not_se,
    ),
    ("the sign is flipped: average log p(z) - log q(z) over z ~ p (the first Gaussian), not log q - log p.", _mc_sign),
    ("the samples must come from the first Gaussian N(mu1, var1): KL(p || q) is an expectation under p.", _mc_sample_from_q),
    ("the standard deviation is exp(log_var / 2), not exp(log_var): draw z = mu1 + exp(0.5 * log_var1) * eps.", _mc_log_var_as_std),
    (
        "sum the log-density ratio over the dimensions (axis=-1) before averaging over samples: "
        "the KL of a diagonal Gaussian is one number.",
        _mc_per_dimension,
    ),
]


def _mc_compare(received, expected):
    """Equal to the reference when it drew the same numbers, or statistically consistent with it.

    A solution that draws its samples in a different order cannot reproduce the
    reference to the last digit; it passes when its estimate is within 5
    reference standard errors and its standard error within 10 %.
    """
    if not isinstance(received, (tuple, list)) or len(received) != 2:
        what = f"a {type(received).__name__}" if received is not None else "None"
        return False, f"expected a pair (estimate, standard_error), received {what}"
    try:
        estimate, se = (np.asarray(v, dtype="float64") for v in received)
    except (TypeError, ValueError):
        return False, "expected two numbers (estimate, standard_error)"
    ref_estimate, ref_se = (np.asarray(v, dtype="float64") for v in expected)
    if estimate.shape != ref_estimate.shape or se.shape != ref_se.shape:
        return False, (
            f"shape mismatch: expected an estimate of shape {ref_estimate.shape}, received shape "
            f"{estimate.shape} (check which axis you sum or average over)"
        )
    if np.allclose(estimate, ref_estimate, rtol=1e-6, atol=1e-9) and np.allclose(se, ref_se, rtol=1e-6, atol=1e-9):
        return True, None
    close = np.all(np.abs(estimate - ref_estimate) <= 5.0 * ref_se + 1e-9)
    same_se = np.all(np.abs(se - ref_se) <= 0.1 * ref_se + 1e-9)
    return bool(close and same_se), None


def check_monte_carlo_kl(student_fn, verbose=True, strict=None):
    """Check the exercise ``monte_carlo_kl(mu1, log_var1, mu2, log_var2, num_samples, rng)``.

    The reference is :func:`workshop.probability.monte_carlo_gaussian_kl`. Each
    case hands both functions a generator in the same state.
    """
    return check_function(
        "monte_carlo_kl",
        student_fn,
        _mc_reference,
        _mc_cases(),
        mistakes=MC_MISTAKES,
        compare=_mc_compare,
        verbose=verbose,
        strict=strict,
    )
