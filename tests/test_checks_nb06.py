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
