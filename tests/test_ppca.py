"""Tests for the probabilistic-PCA reference model (closed forms vs independent computations)."""

import numpy as np
import pytest

from workshop import probability
from workshop.ppca import (
    PPCA,
    gaussian_entropy_full,
    gaussian_kl_full,
    gaussian_log_density_full,
    log_mean_exp,
)


@pytest.fixture
def model():
    return PPCA.random(data_dim=4, latent_dim=2, noise_std=0.7, rng=np.random.default_rng(3))


@pytest.fixture
def data(model):
    x, _ = model.sample(5, rng=np.random.default_rng(4))
    return x


def random_q(rng, n=5, k=2):
    mean = rng.normal(size=(n, k))
    log_var = rng.normal(scale=0.5, size=(n, k))
    a = rng.normal(size=(n, k, k))
    cov = a @ np.swapaxes(a, -1, -2) + 0.3 * np.eye(k)
    return mean, log_var, cov


def test_full_gaussian_helpers_match_diagonal_references():
    rng = np.random.default_rng(0)
    mean, log_var = rng.normal(size=3), rng.normal(size=3)
    mean2, log_var2 = rng.normal(size=3), rng.normal(size=3)
    x = rng.normal(size=(6, 3))
    cov, cov2 = np.diag(np.exp(log_var)), np.diag(np.exp(log_var2))
    np.testing.assert_allclose(gaussian_log_density_full(x, mean, cov), probability.gaussian_log_density(x, mean, log_var), rtol=1e-12)
    np.testing.assert_allclose(gaussian_entropy_full(cov), probability.gaussian_entropy(log_var, axis=-1), rtol=1e-12)
    np.testing.assert_allclose(
        gaussian_kl_full(mean, cov, mean2, cov2),
        probability.gaussian_kl(mean, log_var, mean2, log_var2, axis=-1),
        rtol=1e-12,
    )


def test_full_gaussian_kl_is_zero_on_itself_and_positive_otherwise():
    rng = np.random.default_rng(1)
    _, _, cov = random_q(rng, n=2, k=3)
    mean = rng.normal(size=(2, 3))
    np.testing.assert_allclose(gaussian_kl_full(mean, cov, mean, cov), 0.0, atol=1e-12)
    assert np.all(gaussian_kl_full(mean, cov[0], mean[::-1], cov[1]) > 0)


def test_log_density_full_against_monte_carlo_normalisation():
    # A correlated 2-D Gaussian integrates to 1 on a fine grid.
    cov = np.array([[1.0, 0.6], [0.6, 0.5]])
    grid = np.linspace(-7, 7, 401)
    pts = np.stack(np.meshgrid(grid, grid, indexing="ij"), axis=-1)
    total = np.exp(gaussian_log_density_full(pts, np.zeros(2), cov)).sum() * (grid[1] - grid[0]) ** 2
    assert total == pytest.approx(1.0, abs=1e-6)


def test_log_mean_exp_is_stable_and_correct():
    a = np.array([[0.0, np.log(3.0)], [-1000.0, -1000.0 + np.log(3.0)]])
    np.testing.assert_allclose(log_mean_exp(a, axis=-1), [np.log(2.0), -1000.0 + np.log(2.0)], rtol=1e-12)


def test_log_marginal_matches_prior_monte_carlo(model, data):
    # log p(x) = log E_p(z) p(x | z): the prior-sampling estimate converges to it.
    z = np.random.default_rng(5).standard_normal((200_000, 1, model.latent_dim))
    estimate = log_mean_exp(model.log_likelihood(data, z), axis=0)
    np.testing.assert_allclose(estimate, model.log_marginal(data), atol=0.05)


def test_posterior_is_bayes_rule(model, data):
    z = np.random.default_rng(6).normal(size=(3, 1, model.latent_dim))
    lhs = model.log_posterior(z, data)
    rhs = model.log_joint(data, z) - model.log_marginal(data)
    np.testing.assert_allclose(lhs, rhs, atol=1e-10)
    mean, cov = model.posterior(data)
    assert mean.shape == (5, 2) and cov.shape == (2, 2)
    np.testing.assert_allclose(model.posterior(data[0])[0], mean[0], atol=1e-12)


@pytest.mark.parametrize("kind", ["diagonal", "full"])
def test_gap_identity_for_arbitrary_q(model, data, kind):
    mean, log_var, cov = random_q(np.random.default_rng(7))
    q = {"q_log_var": log_var} if kind == "diagonal" else {"q_cov": cov}
    elbo = model.elbo(data, mean, **q)
    gap = model.log_marginal(data) - elbo
    np.testing.assert_allclose(gap, model.kl_to_posterior(data, mean, **q), atol=1e-10)
    assert np.all(gap > 0)
    # Three forms of the ELBO agree.
    joint_plus_entropy = model.expected_log_likelihood(data, mean, **q) + model.expected_log_prior(mean, **q) + model.entropy(mean, **q)
    np.testing.assert_allclose(joint_plus_entropy, elbo, atol=1e-10)


def test_elbo_is_tight_at_the_posterior(model, data):
    mean, cov = model.posterior(data)
    np.testing.assert_allclose(model.elbo(data, mean, q_cov=cov), model.log_marginal(data), atol=1e-10)
    np.testing.assert_allclose(model.kl_to_posterior(data, mean, q_cov=cov), 0.0, atol=1e-10)


def test_closed_form_elbo_matches_monte_carlo(model, data):
    rng = np.random.default_rng(8)
    mean, cov = model.posterior(data)
    log_var = np.log(np.diag(cov)) + 0.3  # a diagonal q near the posterior
    log_var = np.broadcast_to(log_var, mean.shape)
    z = mean + np.exp(0.5 * log_var) * rng.standard_normal((100_000,) + mean.shape)
    values = model.log_joint(data, z) - probability.gaussian_log_density(z, mean, log_var)
    estimate, se = probability.monte_carlo_mean(values)
    assert np.all(np.abs(estimate - model.elbo(data, mean, log_var)) < 4 * se + 1e-9)


def test_prior_sampling_relative_variance_matches_simulation(model, data):
    x = data[0]
    z = np.random.default_rng(9).standard_normal((400_000, model.latent_dim))
    ratio = np.exp(model.log_likelihood(x, z) - model.log_marginal(x))
    assert ratio.mean() == pytest.approx(1.0, abs=0.02)
    assert np.exp(model.prior_sampling_relative_variance(x)) == pytest.approx(ratio.var(), rel=0.05)


def test_sample_shapes_and_statistics():
    model = PPCA(np.array([[2.0], [0.0]]), bias=np.array([1.0, -1.0]), noise_std=0.5)
    x, z = model.sample(50_000, rng=np.random.default_rng(0))
    assert x.shape == (50_000, 2) and z.shape == (50_000, 1)
    np.testing.assert_allclose(np.cov(x.T), model.marginal_covariance(), atol=0.05)
    np.testing.assert_allclose(x.mean(axis=0), [1.0, -1.0], atol=0.05)


def test_bad_inputs_raise_value_errors(model, data):
    with pytest.raises(ValueError, match="Expected `x` of shape"):
        model.log_marginal(np.zeros(3))
    with pytest.raises(ValueError, match="exactly one of"):
        model.elbo(data, np.zeros((5, 2)))
    with pytest.raises(ValueError, match="exactly one of"):
        model.elbo(data, np.zeros((5, 2)), q_log_var=np.zeros((5, 2)), q_cov=np.eye(2))
    with pytest.raises(ValueError, match="positive definite"):
        model.elbo(data, np.zeros(2), q_cov=-np.eye(2))
    with pytest.raises(ValueError, match="positive `noise_std`"):
        PPCA(np.ones((3, 1)), noise_std=0.0)
    with pytest.raises(ValueError, match="Expected `weights`"):
        PPCA(np.ones(3))
