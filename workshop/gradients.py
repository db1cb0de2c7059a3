"""Two Monte Carlo estimators of the gradient of an expectation, in NumPy.

Notebook 04 compares them on the toy objective

    J(mu) = E_{z ~ N(mu, sigma^2)} [ f(z) ],

whose gradient with respect to mu is what a VAE needs for its encoder:

* the **score-function** (REINFORCE, likelihood-ratio) estimator uses
  d/dmu log N(z; mu, sigma^2) = (z - mu) / sigma^2 and needs only values of f:
  ``f(z) * (z - mu) / sigma^2`` with z ~ N(mu, sigma^2);
* the **pathwise** (reparameterisation) estimator writes z = mu + sigma * eps,
  eps ~ N(0, 1), and differentiates through f: ``f'(mu + sigma * eps)``.

Both are unbiased; their variances differ a lot. Each function returns one
estimate per sample, so that the caller can average them and measure their
spread with :func:`summarize`.
"""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = [
    "Objective",
    "pathwise_gradient",
    "quadratic_objective",
    "score_function_gradient",
    "sine_objective",
    "summarize",
]


def _sigma(sigma):
    sigma = np.asarray(sigma, dtype="float64")
    if np.any(sigma <= 0) or not np.all(np.isfinite(sigma)):
        raise ValueError(f"Expected a positive, finite `sigma`. Received: sigma={sigma}")
    return sigma


def score_function_gradient(f, z, mu, sigma, baseline=0.0):
    """Per-sample score-function estimates of d/dmu E_{z ~ N(mu, sigma^2)}[f(z)].

    The gradient of the density moves inside the integral as the density times
    its score: d/dmu E[f(z)] = E[f(z) * d/dmu log N(z; mu, sigma^2)]
    = E[f(z) * (z - mu) / sigma^2]. A constant ``baseline`` subtracted from
    f(z) leaves the mean unchanged (the score has mean zero) and can lower the
    variance.

    Args:
        f: the function inside the expectation, applied elementwise to arrays.
        z: samples from N(mu, sigma^2), any shape.
        mu: the mean the gradient is taken with respect to.
        sigma: the standard deviation (> 0).
        baseline: a number subtracted from f(z) (a control variate).

    Returns:
        An array shaped like ``z``: one unbiased estimate per sample.
    """
    z = np.asarray(z, dtype="float64")
    sigma = _sigma(sigma)
    return (np.asarray(f(z), dtype="float64") - baseline) * (z - mu) / sigma**2


def pathwise_gradient(df, eps, mu, sigma):
    """Per-sample pathwise (reparameterised) estimates of d/dmu E_{z ~ N(mu, sigma^2)}[f(z)].

    With z = mu + sigma * eps and eps ~ N(0, 1), the expectation is over eps,
    which does not depend on mu, so the derivative moves inside:
    d/dmu E[f(mu + sigma * eps)] = E[f'(mu + sigma * eps) * dz/dmu] = E[f'(z)].

    Args:
        df: the derivative f' of the function inside the expectation.
        eps: standard-normal noise, any shape.
        mu: the mean.
        sigma: the standard deviation (> 0).

    Returns:
        An array shaped like ``eps``: one unbiased estimate per sample.
    """
    eps = np.asarray(eps, dtype="float64")
    sigma = _sigma(sigma)
    return np.asarray(df(mu + sigma * eps), dtype="float64")


def summarize(estimates):
    """Mean, standard error and per-sample variance of a set of gradient estimates.

    Returns:
        A dict with ``mean``, ``standard_error`` (std / sqrt(n)) and ``variance``
        (the variance of one estimate, ddof=1), as floats.
    """
    estimates = np.asarray(estimates, dtype="float64").ravel()
    if estimates.size < 2:
        raise ValueError(f"Expected at least 2 estimates. Received: {estimates.size}")
    variance = float(estimates.var(ddof=1))
    return {
        "mean": float(estimates.mean()),
        "standard_error": float(np.sqrt(variance / estimates.size)),
        "variance": variance,
    }


@dataclass(frozen=True)
class Objective:
    """A toy function f with its derivative and the exact gradient of E_{N(mu, sigma^2)}[f].

    Attributes:
        name: a short description, e.g. ``"f(z) = (z - 2)^2"``.
        f: the function (elementwise on arrays).
        df: its derivative.
        expectation: ``(mu, sigma) -> E[f(z)]`` in closed form.
        gradient: ``(mu, sigma) -> d/dmu E[f(z)]`` in closed form.
    """

    name: str
    f: Callable
    df: Callable
    expectation: Callable
    gradient: Callable


def quadratic_objective(target=2.0):
    """f(z) = (z - target)^2: E[f] = (mu - target)^2 + sigma^2, d/dmu E[f] = 2 (mu - target)."""
    target = float(target)
    return Objective(
        name=f"f(z) = (z - {target:g})^2",
        f=lambda z: (z - target) ** 2,
        df=lambda z: 2.0 * (z - target),
        expectation=lambda mu, sigma: (mu - target) ** 2 + sigma**2,
        gradient=lambda mu, sigma: 2.0 * (mu - target),
    )


def sine_objective():
    """f(z) = sin(z): E[f] = sin(mu) exp(-sigma^2 / 2), d/dmu E[f] = cos(mu) exp(-sigma^2 / 2)."""
    return Objective(
        name="f(z) = sin(z)",
        f=np.sin,
        df=np.cos,
        expectation=lambda mu, sigma: np.sin(mu) * np.exp(-0.5 * sigma**2),
        gradient=lambda mu, sigma: np.cos(mu) * np.exp(-0.5 * sigma**2),
    )
