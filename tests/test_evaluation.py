"""Tests for workshop.evaluation: KL per dimension, active units and the test-set numbers."""

import json

import numpy as np
import pytest

from workshop import VAE, load_mnist
from workshop.data import SAMPLE_PATH
from workshop.evaluation import active_units, evaluate_model, kl_per_dimension


class FakeEncoder:
    """Stand-in for a VAE: ``encode`` returns fixed posterior parameters and records its labels."""

    def __init__(self, z_mean, z_log_var):
        self.z_mean = np.asarray(z_mean, dtype="float32")
        self.z_log_var = np.asarray(z_log_var, dtype="float32")
        self.labels_seen = "not called"

    def encode(self, x, labels=None):
        assert len(x) == len(self.z_mean), "the fake encoder needs one code per image"
        self.labels_seen = labels
        return self.z_mean, self.z_log_var


def _images(n, seed=0):
    return np.random.default_rng(seed).random((n, 28, 28, 1)).astype("float32")


def test_kl_per_dimension_matches_the_closed_form_and_sums_to_the_mean_kl():
    rng = np.random.default_rng(1)
    mu = rng.normal(size=(50, 3))
    log_var = rng.normal(scale=0.5, size=(50, 3))
    mu[:, 2], log_var[:, 2] = 0.0, 0.0  # the third dimension is the prior itself
    model = FakeEncoder(mu, log_var)
    kl = kl_per_dimension(model, _images(50))

    mu, log_var = model.z_mean.astype("float64"), model.z_log_var.astype("float64")
    per_image = 0.5 * (np.exp(log_var) + mu**2 - 1.0 - log_var)  # written out, not imported
    assert kl.shape == (3,)
    np.testing.assert_allclose(kl, per_image.mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(kl.sum(), per_image.sum(axis=1).mean(), rtol=1e-6)
    assert kl[2] == pytest.approx(0.0, abs=1e-12)
    assert np.all(kl[:2] > 0.0)


def test_active_units_counts_dimensions_whose_posterior_mean_varies():
    rng = np.random.default_rng(2)
    n = 400
    mu = np.stack(
        [
            np.full(n, 0.7),  # constant: inactive whatever its value
            rng.normal(size=n),  # variance about 1: active
            rng.normal(scale=0.05, size=n),  # variance about 0.0025: below 0.01, inactive
            rng.normal(scale=0.3, size=n),  # variance about 0.09: active
        ],
        axis=1,
    )
    model = FakeEncoder(mu, np.zeros_like(mu))
    count, variances = active_units(model, _images(n))
    assert count == 2
    assert isinstance(count, int)
    np.testing.assert_allclose(variances, model.z_mean.astype("float64").var(axis=0), rtol=1e-6)
    assert variances[0] == pytest.approx(0.0, abs=1e-12)
    # The threshold is what decides: lowering it below 0.0025 wakes the third unit.
    assert active_units(model, _images(n), threshold=1e-3)[0] == 3


def test_labels_are_passed_to_the_encoder():
    model = FakeEncoder(np.zeros((4, 2)), np.zeros((4, 2)))
    labels = np.array([0, 1, 2, 3])
    kl_per_dimension(model, _images(4), labels)
    assert model.labels_seen is labels
    active_units(model, _images(4))
    assert model.labels_seen is None


def test_bad_arguments_raise_value_errors():
    model = FakeEncoder(np.zeros((4, 2)), np.zeros((4, 2)))
    with pytest.raises(ValueError, match="threshold"):
        active_units(model, _images(4), threshold=-1.0)
    with pytest.raises(ValueError, match="encode"):
        kl_per_dimension(object(), _images(4))
    with pytest.raises(ValueError, match="pixel values in \\[0, 1\\]"):
        kl_per_dimension(model, 255.0 * _images(4))
    bad = FakeEncoder(np.zeros((4, 2)), np.zeros((4, 3)))
    with pytest.raises(ValueError, match="same shape"):
        kl_per_dimension(bad, _images(4))


@pytest.fixture(scope="module")
def trained_model():
    (x_train, _), (x_test, _) = load_mnist(SAMPLE_PATH, binarize="random", num_train=512, num_test=200)
    model = VAE(latent_dim=4, hidden_units=(128,), seed=0)
    model.compile(jit_compile=False)
    model.fit(x_train, epochs=1, batch_size=64, verbose=0)
    return model, x_test


def test_evaluate_model_on_a_trained_vae(trained_model):
    model, x_test = trained_model
    result = evaluate_model(model, x_test, num_samples=20, seed=0)
    json.dumps(result)  # plain Python numbers only

    assert set(result) >= {"neg_elbo", "log_likelihood", "kl_per_dimension", "active_units", "num_images"}
    assert result["num_images"] == len(x_test)
    assert len(result["kl_per_dimension"]) == model.latent_dim
    assert 0 <= result["active_units"] <= model.latent_dim
    # A VAE on binarized MNIST sits between a perfect model (0 nats) and coin flips (784 log 2).
    assert 0.0 < result["neg_elbo"] < 784 * np.log(2.0)
    # The importance-weighted bound with K = 20 is tighter than the ELBO (K = 1) on average.
    assert result["log_likelihood"] > -result["neg_elbo"]

    # The per-dimension KLs add up to the model's own KL term on the same images.
    z_mean, z_log_var = model.encode(x_test)
    from workshop import losses

    model_kl = np.asarray(losses.kl_standard_normal(z_mean, z_log_var)).mean()
    assert sum(result["kl_per_dimension"]) == pytest.approx(model_kl, rel=1e-4)
    assert result["kl"] == pytest.approx(model_kl, rel=1e-4)

    # The same seed gives the same numbers.
    again = evaluate_model(model, x_test, num_samples=20, seed=0)
    assert again["neg_elbo"] == pytest.approx(result["neg_elbo"], rel=1e-6)
    assert again["log_likelihood"] == pytest.approx(result["log_likelihood"], rel=1e-6)
