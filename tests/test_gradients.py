"""Tests for the score-function and pathwise gradient estimators."""

import numpy as np
import pytest

from workshop import gradients


@pytest.mark.parametrize("objective", [gradients.quadratic_objective(2.0), gradients.sine_objective()])
@pytest.mark.parametrize("mu, sigma", [(0.5, 1.0), (-1.0, 0.3)])
def test_both_estimators_are_unbiased(objective, mu, sigma):
    eps = np.random.default_rng(0).standard_normal(400_000)
    z = mu + sigma * eps
    exact = objective.gradient(mu, sigma)
    for estimates in (
        gradients.score_function_gradient(objective.f, z, mu, sigma),
        gradients.pathwise_gradient(objective.df, eps, mu, sigma),
    ):
        summary = gradients.summarize(estimates)
        assert abs(summary["mean"] - exact) < 4 * summary["standard_error"]


def test_closed_forms_match_numerical_derivatives():
    for objective in (gradients.quadratic_objective(-1.5), gradients.sine_objective()):
        mu, sigma, h = 0.7, 0.8, 1e-5
        numeric = (objective.expectation(mu + h, sigma) - objective.expectation(mu - h, sigma)) / (2 * h)
        assert objective.gradient(mu, sigma) == pytest.approx(numeric, rel=1e-7)
        # And the expectation itself by quadrature on a grid.
        grid = np.linspace(mu - 10 * sigma, mu + 10 * sigma, 20001)
        density = np.exp(-0.5 * ((grid - mu) / sigma) ** 2) / (sigma * np.sqrt(2 * np.pi))
        assert np.sum(objective.f(grid) * density) * (grid[1] - grid[0]) == pytest.approx(objective.expectation(mu, sigma), abs=1e-8)


def test_quadratic_variances_match_their_closed_forms():
    # Pathwise: 2 (z - t) has variance 4 sigma^2. Score: known fourth/sixth moments.
    mu, sigma, target = 0.5, 1.0, 2.0
    objective = gradients.quadratic_objective(target)
    eps = np.random.default_rng(1).standard_normal(1_000_000)
    z = mu + sigma * eps
    path = gradients.summarize(gradients.pathwise_gradient(objective.df, eps, mu, sigma))
    score = gradients.summarize(gradients.score_function_gradient(objective.f, z, mu, sigma))
    assert path["variance"] == pytest.approx(4 * sigma**2, rel=0.01)
    # Score estimate g = (a + sigma e)^2 e / sigma with a = mu - target, e ~ N(0, 1).
    # E[g^2] = E[(a + sigma e)^4 e^2] / sigma^2 = (a^4 + 18 a^2 sigma^2 + 15 sigma^4) / sigma^2
    # (E e^2 = 1, E e^4 = 3, E e^6 = 15; odd moments vanish), and E[g] = 2a.
    a = mu - target
    second_moment = a**4 + 18 * a**2 * sigma**2 + 15 * sigma**4
    assert score["variance"] == pytest.approx(second_moment / sigma**2 - (2 * a) ** 2, rel=0.02)
    assert score["variance"] > 5 * path["variance"]


def test_baseline_keeps_the_mean_and_lowers_the_variance():
    mu, sigma = 0.5, 1.0
    objective = gradients.quadratic_objective(2.0)
    z = mu + sigma * np.random.default_rng(2).standard_normal(400_000)
    plain = gradients.summarize(gradients.score_function_gradient(objective.f, z, mu, sigma))
    baseline = objective.expectation(mu, sigma)
    centred = gradients.summarize(gradients.score_function_gradient(objective.f, z, mu, sigma, baseline=baseline))
    assert abs(centred["mean"] - objective.gradient(mu, sigma)) < 4 * centred["standard_error"]
    assert centred["variance"] < plain["variance"]


def test_shapes_and_bad_sigma():
    objective = gradients.sine_objective()
    eps = np.zeros((3, 4))
    assert gradients.pathwise_gradient(objective.df, eps, 0.0, 1.0).shape == (3, 4)
    assert gradients.score_function_gradient(objective.f, eps, 0.0, 1.0).shape == (3, 4)
    with pytest.raises(ValueError, match="positive, finite `sigma`"):
        gradients.pathwise_gradient(objective.df, eps, 0.0, 0.0)
    with pytest.raises(ValueError, match="at least 2"):
        gradients.summarize([1.0])
