"""Exercise checks for notebook 06: Gaussian decoders and blurry samples.

Three exercises:

- :func:`check_gaussian_nll`: ``gaussian_nll(x, mean, sigma)``, the negative
  log-likelihood of images under independent Gaussian pixels with a fixed
  standard deviation, one number per image (nats).
- :func:`check_sharpness`: ``sharpness(images)``, ``2 * mean |x - 0.5|`` per
  image: 1 for a black-and-white image, 0 for a uniformly grey one.
- :func:`check_beta_for_sigma`: ``beta_for_sigma(sigma)``, the KL weight of
  the beta-VAE (on a summed squared-error reconstruction) that a Gaussian
  decoder with standard deviation ``sigma`` is equivalent to: ``2 sigma^2``.
"""

import math

import numpy as np

from workshop import probability
from workshop.checks._core import check_function

__all__ = ["check_beta_for_sigma", "check_gaussian_nll", "check_sharpness"]

_LOG_2PI = math.log(2.0 * math.pi)


def _per_image(a):
    """Flatten everything but the first (batch) axis, as float64."""
    a = np.asarray(a, dtype=np.float64)
    return a.reshape(a.shape[0], -1)


# --------------------------------------------------------------------------- #
# gaussian_nll
# --------------------------------------------------------------------------- #
def reference_gaussian_nll(x, mean, sigma):
    """-log N(x; mean, sigma^2 I) per image, from the package's NumPy Gaussian density."""
    x, mean = _per_image(x), _per_image(mean)
    log_var = np.full_like(x, 2.0 * math.log(sigma))
    return -probability.gaussian_log_density(x, mean, log_var, axis=-1)


def _squared_error(x, mean):
    return np.sum((_per_image(x) - _per_image(mean)) ** 2, axis=-1)


def _constant(x, sigma):
    return _per_image(x).shape[1] * (math.log(sigma) + 0.5 * _LOG_2PI)


_GAUSSIAN_NLL_MISTAKES = [
    (
        "the squared error is not divided by 2 sigma^2: the scale 1 / (2 sigma^2) in front of ||x - mean||^2 is missing.",
        lambda x, mean, sigma: _squared_error(x, mean) + _constant(x, sigma),
    ),
    (
        "looks like you divided by 2 sigma where 2 sigma^2 is meant (sigma is a standard deviation; the variance is sigma^2).",
        lambda x, mean, sigma: _squared_error(x, mean) / (2 * sigma) + _constant(x, sigma),
    ),
    (
        "the normalising constant D * log(sigma * sqrt(2 pi)) is missing: it does not change "
        "the gradient, but without it the number is not -log p(x | z).",
        lambda x, mean, sigma: _squared_error(x, mean) / (2 * sigma**2),
    ),
    (
        "looks like you averaged over the pixels: the pixels are independent, so their "
        "log-densities add up (sum over pixels, one number per image).",
        lambda x, mean, sigma: (_squared_error(x, mean) / (2 * sigma**2) + _constant(x, sigma)) / _per_image(x).shape[1],
    ),
    (
        "the constant uses log(sigma^2) where log(sigma) is meant: the density of one pixel is "
        "divided by sigma * sqrt(2 pi), not sigma^2 * sqrt(2 pi).",
        lambda x, mean, sigma: _squared_error(x, mean) / (2 * sigma**2) + _per_image(x).shape[1] * (2 * math.log(sigma) + 0.5 * _LOG_2PI),
    ),
    (
        "the sign is flipped: you returned log p(x | z); the exercise asks for -log p(x | z).",
        lambda x, mean, sigma: -reference_gaussian_nll(x, mean, sigma),
    ),
    (
        "one value for the whole batch: return one number per image (sum over the pixels of each image, not over the batch).",
        lambda x, mean, sigma: np.sum(reference_gaussian_nll(x, mean, sigma)),
    ),
]


def _gaussian_nll_cases():
    rng = np.random.default_rng(6)
    x = rng.random((2, 28, 28, 1))
    mean = np.clip(x + 0.1 * rng.standard_normal(x.shape), 0.0, 1.0)
    small_x = rng.random((3, 5))
    small_mean = rng.random((3, 5))
    return [
        (x, mean, 0.1),
        (small_x, small_mean, 0.5),
        {"x": small_x[:1], "mean": small_x[:1], "sigma": 2.0},  # a perfect reconstruction
        {"x": rng.random((4, 28, 28)), "mean": np.full((4, 28, 28), 0.5), "sigma": 0.05},
    ]


def check_gaussian_nll(student_fn, verbose=True, strict=None):
    """Check ``gaussian_nll(x, mean, sigma)`` against the package's Gaussian log-density.

    Args:
        student_fn: the student's function; takes images ``x`` and decoder means
            ``mean`` of the same shape (N, ...) and a positive float ``sigma``,
            returns an array of shape (N,).
        verbose, strict: see :func:`workshop.checks.check_function`.

    Returns:
        A :class:`~workshop.checks.CheckResult`.
    """
    return check_function(
        "gaussian_nll",
        student_fn,
        reference_gaussian_nll,
        _gaussian_nll_cases(),
        mistakes=_GAUSSIAN_NLL_MISTAKES,
        rtol=1e-5,
        atol=1e-4,
        verbose=verbose,
        strict=strict,
    )


# --------------------------------------------------------------------------- #
# sharpness
# --------------------------------------------------------------------------- #
def reference_sharpness(images):
    """2 * mean |x - 0.5| over the pixels of each image: shape (N,), values in [0, 1]."""
    return 2.0 * np.mean(np.abs(_per_image(images) - 0.5), axis=-1)


_SHARPNESS_MISTAKES = [
    (
        "the absolute value is missing: without it, pixels darker and brighter than 0.5 cancel out. Use |x - 0.5|.",
        lambda images: 2.0 * np.mean(_per_image(images) - 0.5, axis=-1),
    ),
    (
        "the factor 2 is missing: mean |x - 0.5| is at most 0.5; doubling it puts a black-and-white image at 1.",
        lambda images: np.mean(np.abs(_per_image(images) - 0.5), axis=-1),
    ),
    (
        "you squared the distance to 0.5; the exercise asks for the absolute value |x - 0.5|.",
        lambda images: 2.0 * np.mean((_per_image(images) - 0.5) ** 2, axis=-1),
    ),
    (
        "one value for the whole batch: average over the pixels of each image and return one number per image, shape (N,).",
        lambda images: 2.0 * np.mean(np.abs(np.asarray(images, dtype=np.float64) - 0.5)),
    ),
]


def _sharpness_cases():
    rng = np.random.default_rng(7)
    return [
        (rng.random((3, 28, 28, 1)),),
        (np.stack([np.full((28, 28, 1), 0.5), (rng.random((28, 28, 1)) < 0.3).astype(float)]),),
        {"images": rng.random((2, 784)) ** 3},
    ]


def check_sharpness(student_fn, verbose=True, strict=None):
    """Check ``sharpness(images)``: ``2 * mean |x - 0.5|`` per image, shape (N,).

    Args:
        student_fn: the student's function; takes images of shape (N, ...) in [0, 1].
        verbose, strict: see :func:`workshop.checks.check_function`.

    Returns:
        A :class:`~workshop.checks.CheckResult`.
    """
    return check_function(
        "sharpness",
        student_fn,
        reference_sharpness,
        _sharpness_cases(),
        mistakes=_SHARPNESS_MISTAKES,
        verbose=verbose,
        strict=strict,
    )


# --------------------------------------------------------------------------- #
# beta_for_sigma
# --------------------------------------------------------------------------- #
def reference_beta_for_sigma(sigma):
    """The equivalent KL weight: 2 * sigma^2."""
    return 2.0 * np.asarray(sigma, dtype=np.float64) ** 2


_BETA_MISTAKES = [
    (
        "looks like you used sigma where sigma^2 is meant: multiply the loss by 2 sigma^2 and read off the weight of the KL term.",
        lambda sigma: 2.0 * np.asarray(sigma, dtype=np.float64),
    ),
    (
        "the factor 2 is missing: the squared error is divided by 2 sigma^2, so the loss is multiplied by 2 sigma^2, not sigma^2.",
        lambda sigma: np.asarray(sigma, dtype=np.float64) ** 2,
    ),
    (
        "upside down: 1 / (2 sigma^2) is the weight of the squared error; the weight of the KL "
        "term, once the squared error has weight 1, is its inverse.",
        lambda sigma: 1.0 / (2.0 * np.asarray(sigma, dtype=np.float64) ** 2),
    ),
]


def check_beta_for_sigma(student_fn, verbose=True, strict=None):
    """Check ``beta_for_sigma(sigma)``: the KL weight ``2 sigma^2``, elementwise.

    Args:
        student_fn: the student's function; takes a float or an array of floats.
        verbose, strict: see :func:`workshop.checks.check_function`.

    Returns:
        A :class:`~workshop.checks.CheckResult`.
    """
    return check_function(
        "beta_for_sigma",
        student_fn,
        reference_beta_for_sigma,
        [(0.1,), (0.5,), (np.array([0.05, 0.1, 0.2, 0.5, 1.0]),)],
        mistakes=_BETA_MISTAKES,
        rtol=1e-6,
        atol=1e-9,
        verbose=verbose,
        strict=strict,
    )
