"""Probability helpers for the derivation notebooks, in NumPy (float64, nats).

These are the reference implementations that notebooks 01-04 and the tests
compare against. The training code uses the Keras versions in
:mod:`workshop.losses`, which compute the same formulas on tensors.

All logarithms are natural, so every information quantity is in nats.
"""

import numpy as np

LOG_2PI = float(np.log(2.0 * np.pi))


def _distribution(p, name):
    p = np.asarray(p, dtype="float64")
    if p.ndim == 0 or p.shape[-1] == 0:
        raise ValueError(f"Expected `{name}` to be a probability vector (a non-empty last axis). Received: shape={p.shape}")
    if not np.all(np.isfinite(p)) or np.any(p < 0):
        raise ValueError(f"Expected `{name}` to hold finite, non-negative probabilities. Received: min={np.nanmin(p):g}")
    total = p.sum(axis=-1)
    if not np.allclose(total, 1.0, atol=1e-6):
        raise ValueError(f"Expected `{name}` to sum to 1 along its last axis. Received: sum={np.round(total, 6)}")
    return p


def entropy(p):
    """Entropy H(p) = -sum_k p_k log p_k of a discrete distribution, in nats.

    Terms with p_k = 0 contribute 0 (the limit of p log p).

    Args:
        p: probabilities along the last axis (they must sum to 1).

    Returns:
        The entropy, one value per distribution (the last axis is summed).
    """
    p = _distribution(p, "p")
    return -np.sum(np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0), axis=-1)


def cross_entropy(p, q):
    """Cross-entropy H(p, q) = -sum_k p_k log q_k: the expected NLL of samples of p under q.

    Infinite when q gives probability 0 to an outcome that p can produce.
    """
    p, q = _distribution(p, "p"), _distribution(q, "q")
    with np.errstate(divide="ignore"):
        log_q = np.log(q)
    return -np.sum(np.where(p > 0, p * log_q, 0.0), axis=-1)


def kl_divergence(p, q):
    """KL(p || q) = H(p, q) - H(p) = sum_k p_k log(p_k / q_k) of discrete distributions, in nats.

    Non-negative, zero exactly when p = q, and not symmetric.
    """
    p, q = _distribution(p, "p"), _distribution(q, "q")
    with np.errstate(divide="ignore"):
        ratio = np.log(np.where(p > 0, p, 1.0)) - np.log(q)
    return np.sum(np.where(p > 0, p * ratio, 0.0), axis=-1)


def gaussian_entropy(log_var, axis=None):
    """Differential entropy of a Gaussian with variance exp(log_var): 0.5 * (log(2 pi e) + log_var).

    Args:
        log_var: log-variances, one per independent dimension.
        axis: sum over this axis (independent dimensions add up); None keeps them apart.
    """
    h = 0.5 * (LOG_2PI + 1.0 + np.asarray(log_var, dtype="float64"))
    return h if axis is None else np.sum(h, axis=axis)


def gaussian_kl(mu1, log_var1, mu2, log_var2, axis=None):
    """KL(N(mu1, var1) || N(mu2, var2)) of univariate Gaussians, elementwise, in nats.

    The closed form is 0.5 * (log var2 - log var1 + (var1 + (mu1 - mu2)^2) / var2 - 1).
    For a diagonal Gaussian the dimensions are independent, so pass ``axis=-1``
    to add the per-dimension terms.
    """
    mu1, log_var1, mu2, log_var2 = (np.asarray(a, dtype="float64") for a in (mu1, log_var1, mu2, log_var2))
    kl = 0.5 * (log_var2 - log_var1 + (np.exp(log_var1) + (mu1 - mu2) ** 2) / np.exp(log_var2) - 1.0)
    return kl if axis is None else np.sum(kl, axis=axis)


def kl_to_standard_normal(mu, log_var, axis=-1):
    """KL(N(mu, diag exp(log_var)) || N(0, I)) = 0.5 * sum(exp(log_var) + mu^2 - 1 - log_var)."""
    mu, log_var = np.asarray(mu, dtype="float64"), np.asarray(log_var, dtype="float64")
    kl = 0.5 * (np.exp(log_var) + mu**2 - 1.0 - log_var)
    return kl if axis is None else np.sum(kl, axis=axis)


def gaussian_log_density(x, mu, log_var, axis=-1):
    """log N(x; mu, diag exp(log_var)), summed over ``axis`` (None keeps dimensions apart)."""
    x, mu, log_var = (np.asarray(a, dtype="float64") for a in (x, mu, log_var))
    log_p = -0.5 * (LOG_2PI + log_var + (x - mu) ** 2 / np.exp(log_var))
    return log_p if axis is None else np.sum(log_p, axis=axis)


def bernoulli_log_likelihood(x, logits, axis=-1):
    """log Bernoulli(x; sigmoid(logits)) computed stably from logits, summed over ``axis``.

    Uses log p = x * l - softplus(l) = x * l - max(l, 0) - log(1 + exp(-|l|)),
    which never overflows. Its negative is the binary cross-entropy from logits.
    """
    x, logits = np.asarray(x, dtype="float64"), np.asarray(logits, dtype="float64")
    log_p = x * logits - np.maximum(logits, 0.0) - np.log1p(np.exp(-np.abs(logits)))
    return log_p if axis is None else np.sum(log_p, axis=axis)


def binary_cross_entropy(x, probs, axis=-1, eps=1e-12):
    """-[x log p + (1 - x) log(1 - p)] from probabilities (for comparing with the logits form)."""
    x, probs = np.asarray(x, dtype="float64"), np.clip(np.asarray(probs, dtype="float64"), eps, 1.0 - eps)
    bce = -(x * np.log(probs) + (1.0 - x) * np.log1p(-probs))
    return bce if axis is None else np.sum(bce, axis=axis)


def sigmoid(logits):
    """The logistic function, computed without overflow."""
    logits = np.asarray(logits, dtype="float64")
    return np.exp(-np.logaddexp(0.0, -logits))


def logsumexp(a, axis=None):
    """log(sum(exp(a))) along ``axis`` without overflow."""
    a = np.asarray(a, dtype="float64")
    m = np.max(a, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    out = np.log(np.sum(np.exp(a - m), axis=axis, keepdims=True)) + m
    return np.squeeze(out, axis=axis) if axis is not None else out.reshape(())


def monte_carlo_mean(values, axis=0):
    """Sample mean and its standard error along ``axis``: the basic Monte Carlo estimate.

    Returns:
        (estimate, standard_error), with standard_error = std(values) / sqrt(n).
    """
    values = np.asarray(values, dtype="float64")
    n = values.shape[axis]
    if n < 2:
        raise ValueError(f"Expected at least 2 samples for a standard error. Received: {n}")
    return values.mean(axis=axis), values.std(axis=axis, ddof=1) / np.sqrt(n)


def monte_carlo_gaussian_kl(mu1, log_var1, mu2, log_var2, num_samples=10_000, rng=None):
    """Monte Carlo estimate of KL(N1 || N2) for diagonal Gaussians: mean of log N1(z) - log N2(z), z ~ N1.

    Args:
        mu1, log_var1, mu2, log_var2: parameters, shape (d,) (or scalars).
        num_samples: number of draws from N1.
        rng: a ``numpy.random.Generator`` (one is made from seed 0 if None).

    Returns:
        (estimate, standard_error) in nats.
    """
    rng = np.random.default_rng(0) if rng is None else rng
    mu1, log_var1, mu2, log_var2 = (np.atleast_1d(np.asarray(a, dtype="float64")) for a in (mu1, log_var1, mu2, log_var2))
    z = mu1 + np.exp(0.5 * log_var1) * rng.standard_normal((num_samples,) + mu1.shape)
    log_ratio = gaussian_log_density(z, mu1, log_var1) - gaussian_log_density(z, mu2, log_var2)
    return monte_carlo_mean(log_ratio)


def monte_carlo_kl(samples, log_p, log_q):
    """Monte Carlo KL(p || q) from samples of p and two log-density functions: mean of log p - log q."""
    samples = np.asarray(samples)
    return monte_carlo_mean(np.asarray(log_p(samples), dtype="float64") - np.asarray(log_q(samples), dtype="float64"))
