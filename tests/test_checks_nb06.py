"""Tests for the exercise checks of notebook 06 (Gaussian decoders and blurry samples)."""

import math

import numpy as np
import pytest
from helpers import assert_checker_contract
from keras import ops

from workshop import losses
from workshop.checks import nb06

CHECKS = [
    (nb06.check_gaussian_nll, nb06.reference_gaussian_nll, nb06._GAUSSIAN_NLL_MISTAKES),
    (nb06.check_sharpness, nb06.reference_sharpness, nb06._SHARPNESS_MISTAKES),
    (nb06.check_beta_for_sigma, nb06.reference_beta_for_sigma, nb06._BETA_MISTAKES),
]
IDS = ["gaussian_nll", "sharpness", "beta_for_sigma"]


@pytest.mark.parametrize("check, reference, mistakes", CHECKS, ids=IDS)
def test_checker_contract(check, reference, mistakes):
    assert_checker_contract(check, reference, mistakes, perturb=lambda value: value * 1.01 + 0.01)


def test_gaussian_reference_matches_the_training_loss():
    # The package's training loss takes logits; sigmoid(logits) is the decoder mean.
    rng = np.random.default_rng(0)
    x = rng.random((3, 28, 28, 1)).astype("float32")
    logits = rng.normal(size=(3, 28, 28, 1)).astype("float32")
    mean = 1.0 / (1.0 + np.exp(-logits.astype("float64")))
    for sigma in (0.05, 0.1, 0.5):
        loss = ops.convert_to_numpy(losses.gaussian_reconstruction_loss(x, ops.convert_to_tensor(logits), sigma))
        np.testing.assert_allclose(loss, nb06.reference_gaussian_nll(x, mean, sigma), rtol=1e-5)


def test_gaussian_reference_is_the_scaled_squared_error_plus_a_constant():
    x = np.zeros((1, 4))
    mean = np.array([[0.0, 0.1, 0.2, 0.3]])
    sigma = 0.2
    expected = (0.01 + 0.04 + 0.09) / (2 * sigma**2) + 4 * math.log(sigma * math.sqrt(2 * math.pi))
    np.testing.assert_allclose(nb06.reference_gaussian_nll(x, mean, sigma), [expected])


def test_sharpness_extremes():
    binary = (np.random.default_rng(1).random((2, 28, 28, 1)) < 0.2).astype(float)
    np.testing.assert_allclose(nb06.reference_sharpness(binary), [1.0, 1.0])
    np.testing.assert_allclose(nb06.reference_sharpness(np.full((1, 784), 0.5)), [0.0])


# --------------------------------------------------------------------------- #
# Catalogues of answers written as students write them
# --------------------------------------------------------------------------- #
from helpers import assert_catalogue  # noqa: E402


def _flat(a):
    a = np.asarray(a, dtype=np.float64)
    return a.reshape(len(a), -1)


def _nll(x, mean, sigma, scale=None, constant=True, log_sigma=None, reduce=np.sum, sign=1.0):
    d = _flat(x).shape[1]
    squared = reduce((_flat(x) - _flat(mean)) ** 2, axis=-1)
    scale = 1.0 / (2 * sigma**2) if scale is None else scale
    const = d * ((math.log(sigma) if log_sigma is None else log_sigma) + 0.5 * math.log(2 * math.pi)) if constant else 0.0
    if reduce is np.mean:
        const = const / d
    return sign * (scale * squared + const)


def _gnll_named(fn):
    def gaussian_nll(x, mean, sigma):
        return fn(x, mean, sigma)

    return gaussian_nll


GAUSSIAN_NLL_WRONG = {
    k: _gnll_named(f)
    for k, f in {
        "no scale": lambda x, m, s: _nll(x, m, s, scale=1.0),
        "2 sigma": lambda x, m, s: _nll(x, m, s, scale=1.0 / (2 * s)),
        "no constant": lambda x, m, s: _nll(x, m, s, constant=False),
        "pixel mean": lambda x, m, s: _nll(x, m, s, reduce=np.mean),
        "log sigma^2 in constant": lambda x, m, s: _nll(x, m, s, log_sigma=2 * math.log(s)),
        "sign": lambda x, m, s: _nll(x, m, s, sign=-1.0),
        "batch sum": lambda x, m, s: np.sum(_nll(x, m, s)),
        "sigma^2 not halved": lambda x, m, s: _nll(x, m, s, scale=1.0 / s**2),
        "constant without 2 pi": lambda x, m, s: _nll(x, m, s, log_sigma=math.log(s) - 0.5 * math.log(2 * math.pi)),
        "no flatten": lambda x, m, s: (
            np.sum((np.asarray(x) - m) ** 2, axis=-1) / (2 * s**2) + np.shape(x)[-1] * math.log(s * math.sqrt(2 * math.pi))
        ),
        "absolute error": lambda x, m, s: (
            np.sum(np.abs(_flat(x) - _flat(m)), axis=-1) / (2 * s**2) + _flat(x).shape[1] * math.log(s * math.sqrt(2 * math.pi))
        ),
    }.items()
}
GAUSSIAN_NLL_RIGHT = {
    k: _gnll_named(f)
    for k, f in {
        "helper": lambda x, m, s: _nll(x, m, s),
        "reference": nb06.reference_gaussian_nll,
        "0.5 log(2 pi sigma^2)": lambda x, m, s: np.sum(0.5 * np.log(2 * np.pi * s**2) + (_flat(x) - _flat(m)) ** 2 / (2 * s**2), axis=1),
    }.items()
}


def _sharp_named(fn):
    def sharpness(images):
        return fn(images)

    return sharpness


SHARPNESS_WRONG = {
    k: _sharp_named(f)
    for k, f in {
        "no abs": lambda im: 2 * np.mean(_flat(im) - 0.5, axis=-1),
        "no 2": lambda im: np.mean(np.abs(_flat(im) - 0.5), axis=-1),
        "squared": lambda im: 2 * np.mean((_flat(im) - 0.5) ** 2, axis=-1),
        "one value": lambda im: 2 * np.mean(np.abs(np.asarray(im) - 0.5)),
        "sum": lambda im: 2 * np.sum(np.abs(_flat(im) - 0.5), axis=-1),
        "std of pixels": lambda im: np.std(_flat(im), axis=-1),
        "distance to 0": lambda im: 2 * np.mean(np.abs(_flat(im)), axis=-1),
        "max": lambda im: 2 * np.max(np.abs(_flat(im) - 0.5), axis=-1),
        "no flatten": lambda im: 2 * np.mean(np.abs(np.asarray(im) - 0.5), axis=-1),
    }.items()
}
SHARPNESS_RIGHT = {
    k: _sharp_named(f)
    for k, f in {
        "reference": nb06.reference_sharpness,
        "axes tuple": lambda im: 2 * np.mean(np.abs(np.asarray(im, dtype=float) - 0.5), axis=tuple(range(1, np.ndim(im)))),
        "abs of 2x - 1": lambda im: np.mean(np.abs(2 * _flat(im) - 1), axis=1),
    }.items()
}


def _beta_named(fn):
    def beta_for_sigma(sigma):
        return fn(sigma)

    return beta_for_sigma


BETA_WRONG = {
    k: _beta_named(f)
    for k, f in {
        "2 sigma": lambda s: 2 * np.asarray(s),
        "sigma^2": lambda s: np.asarray(s) ** 2,
        "inverse": lambda s: 1 / (2 * np.asarray(s) ** 2),
        "1 / sigma^2": lambda s: 1 / np.asarray(s) ** 2,
        "sqrt": lambda s: np.sqrt(2 * np.asarray(s)),
        "math on arrays": lambda s: 2 * math.pow(s, 2),
        "sigma^2 / 2": lambda s: np.asarray(s) ** 2 / 2,
    }.items()
}
BETA_RIGHT = {
    k: _beta_named(f)
    for k, f in {
        "reference": nb06.reference_beta_for_sigma,
        "power": lambda s: 2 * np.power(s, 2),
        "product": lambda s: 2 * np.asarray(s) * np.asarray(s),
    }.items()
}


@pytest.mark.parametrize(
    "check, wrong, right",
    [
        (nb06.check_gaussian_nll, GAUSSIAN_NLL_WRONG, GAUSSIAN_NLL_RIGHT),
        (nb06.check_sharpness, SHARPNESS_WRONG, SHARPNESS_RIGHT),
        (nb06.check_beta_for_sigma, BETA_WRONG, BETA_RIGHT),
    ],
    ids=["gaussian_nll", "sharpness", "beta_for_sigma"],
)
def test_catalogue_of_student_answers(check, wrong, right, capsys):
    assert_catalogue(check, wrong, right, capsys)
