"""The NumPy probability helpers against definitions, Monte Carlo and each other."""

import numpy as np
import pytest

from workshop import probability as P


def test_entropy_of_uniform_and_point_mass():
    assert P.entropy([0.25] * 4) == pytest.approx(np.log(4))
    assert P.entropy([1.0, 0.0, 0.0]) == 0.0


def test_kl_is_cross_entropy_minus_entropy_nonnegative_and_asymmetric():
    rng = np.random.default_rng(0)
    p = rng.dirichlet(np.ones(6), size=50)
    q = rng.dirichlet(np.ones(6), size=50)
    kl = P.kl_divergence(p, q)
    np.testing.assert_allclose(kl, P.cross_entropy(p, q) - P.entropy(p), rtol=1e-12, atol=1e-12)
    assert np.all(kl > 0)
    np.testing.assert_allclose(P.kl_divergence(p, p), 0.0, atol=1e-12)
    assert np.max(np.abs(kl - P.kl_divergence(q, p))) > 1e-3


def test_kl_infinite_when_q_misses_support():
    assert np.isinf(P.kl_divergence([0.5, 0.5], [1.0, 0.0]))
    assert np.isfinite(P.kl_divergence([1.0, 0.0], [0.5, 0.5]))


@pytest.mark.parametrize("bad", [[0.5, 0.6], [-0.1, 1.1], [np.nan, 1.0], []])
def test_distributions_are_validated(bad):
    with pytest.raises(ValueError, match="Expected"):
        P.entropy(bad)


def test_gaussian_kl_matches_monte_carlo_within_three_standard_errors():
    mu1, lv1, mu2, lv2 = np.array([0.3, -1.0]), np.array([-0.5, 0.4]), np.array([1.0, 0.5]), np.array([0.2, -0.3])
    exact = P.gaussian_kl(mu1, lv1, mu2, lv2, axis=-1)
    estimate, se = P.monte_carlo_gaussian_kl(mu1, lv1, mu2, lv2, num_samples=200_000, rng=np.random.default_rng(1))
    assert abs(estimate - exact) < 3 * se
    assert se < 0.01


def test_gaussian_kl_closed_form_special_cases():
    # Same distribution: 0. Standard normal target: the VAE's formula. Additive over dimensions.
    assert P.gaussian_kl(1.2, 0.3, 1.2, 0.3) == pytest.approx(0.0)
    mu, lv = np.array([0.5, -2.0, 0.0]), np.array([0.1, -1.0, 2.0])
    np.testing.assert_allclose(P.gaussian_kl(mu, lv, 0.0, 0.0, axis=-1), P.kl_to_standard_normal(mu, lv))
    np.testing.assert_allclose(
        P.kl_to_standard_normal(mu, lv), sum(P.kl_to_standard_normal(mu[i : i + 1], lv[i : i + 1]) for i in range(3))
    )
    # Known value: KL(N(0,1) || N(1, 4)) = log 2 + (1 + 1) / 8 - 1/2
    assert P.gaussian_kl(0.0, 0.0, 1.0, np.log(4.0)) == pytest.approx(np.log(2) + 2 / 8 - 0.5)


def test_gaussian_entropy_grows_with_log_variance():
    h = P.gaussian_entropy(np.array([-2.0, 0.0, 2.0]))
    assert np.all(np.diff(h) == pytest.approx(1.0))  # dH / dlog_var = 1/2 per unit, steps of 2
    assert P.gaussian_entropy(0.0) == pytest.approx(0.5 * np.log(2 * np.pi * np.e))


def test_gaussian_log_density_matches_formula():
    x, mu, lv = 0.7, -0.2, np.log(0.25)
    expected = -0.5 * np.log(2 * np.pi * 0.25) - (0.9**2) / (2 * 0.25)
    assert P.gaussian_log_density(x, mu, lv, axis=None) == pytest.approx(expected)


def test_bernoulli_log_likelihood_is_minus_binary_cross_entropy_and_stable():
    rng = np.random.default_rng(2)
    logits = rng.normal(size=(10, 784)) * 3
    x = (rng.random((10, 784)) < 0.3).astype(float)
    np.testing.assert_allclose(-P.bernoulli_log_likelihood(x, logits), P.binary_cross_entropy(x, P.sigmoid(logits)), rtol=1e-9)
    extreme = P.bernoulli_log_likelihood(np.array([1.0, 0.0, 1.0, 0.0]), np.array([100.0, -100.0, -100.0, 100.0]), axis=None)
    assert np.all(np.isfinite(extreme))
    np.testing.assert_allclose(extreme, [0.0, 0.0, -100.0, -100.0], atol=1e-12)


def test_logsumexp_matches_naive_and_survives_large_values():
    a = np.array([[1.0, 2.0, 3.0], [1000.0, 1000.0, 1000.0]])
    np.testing.assert_allclose(P.logsumexp(a[:1], axis=1), np.log(np.exp(a[0]).sum()))
    assert P.logsumexp(a[1:], axis=1)[0] == pytest.approx(1000.0 + np.log(3))


def test_monte_carlo_mean_standard_error():
    values = np.random.default_rng(3).normal(2.0, 3.0, size=40_000)
    estimate, se = P.monte_carlo_mean(values)
    assert se == pytest.approx(3.0 / np.sqrt(40_000), rel=0.05)
    assert abs(estimate - 2.0) < 4 * se
    with pytest.raises(ValueError):
        P.monte_carlo_mean([1.0])
