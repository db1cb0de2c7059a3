"""Exercise checks for notebook 03 (latent-variable models and the ELBO).

Exercises:
    ``elbo_ppca(x, q_mean, q_log_var, model)``: the closed-form ELBO of a
        diagonal Gaussian q on a probabilistic-PCA model.
    ``log_px_prior_sampling(x, z, model)``: the naive estimate of log p(x)
        from prior samples, log((1/K) sum_k p(x | z_k)), by log-sum-exp.
"""

import numpy as np

from workshop import probability
from workshop.checks._core import check_function
from workshop.ppca import PPCA, log_mean_exp

__all__ = ["check_elbo_ppca", "check_log_px_prior_sampling"]


def _model(data_dim, latent_dim, noise_std, seed):
    return PPCA.random(data_dim, latent_dim, noise_std=noise_std, rng=np.random.default_rng(seed))


# --------------------------------------------------------------------------- #
# elbo_ppca
# --------------------------------------------------------------------------- #
def _elbo_cases():
    rng = np.random.default_rng(303)
    cases = []
    # One data point, one q.
    model = _model(4, 2, 0.6, 1)
    cases.append((rng.normal(size=4), np.array([0.3, -0.5]), np.array([-0.4, 0.2]), model))
    # A batch of three points with their own q.
    model = _model(6, 3, 0.4, 2)
    x, _ = model.sample(3, rng=rng)
    cases.append((x, rng.normal(size=(3, 3)), rng.normal(scale=0.7, size=(3, 3)), model))
    # One latent dimension, large noise.
    model = _model(3, 1, 1.5, 3)
    x, _ = model.sample(2, rng=rng)
    cases.append((x, rng.normal(size=(2, 1)), rng.normal(size=(2, 1)), model))
    return cases


def _reference_elbo(x, q_mean, q_log_var, model):
    return model.elbo(x, q_mean, q_log_var)


def _kl(q_mean, q_log_var):
    return probability.kl_to_standard_normal(q_mean, q_log_var, axis=-1)


def _reconstruction(x, q_mean, q_log_var, model, spread_var):
    """E_q log p(x|z) with the variance of q replaced by ``spread_var`` in the trace term."""
    x = np.asarray(x, dtype="float64")
    residual = x - model.decode(q_mean)
    spread = np.sum(spread_var[..., None, :] * model.weights**2, axis=(-2, -1))
    d, s2 = model.data_dim, model.noise_var
    return -0.5 * (d * np.log(2 * np.pi * s2) + (np.sum(residual**2, axis=-1) + spread) / s2)


def _elbo_at_the_mean(x, q_mean, q_log_var, model):
    return model.log_likelihood(x, q_mean) - _kl(q_mean, q_log_var)


def _elbo_plus_kl(x, q_mean, q_log_var, model):
    return model.expected_log_likelihood(x, q_mean, q_log_var) + _kl(q_mean, q_log_var)


def _elbo_std_as_var(x, q_mean, q_log_var, model):
    return _reconstruction(x, q_mean, q_log_var, model, np.exp(0.5 * np.asarray(q_log_var))) - _kl(q_mean, q_log_var)


def _elbo_no_constant(x, q_mean, q_log_var, model):
    d, s2 = model.data_dim, model.noise_var
    return model.elbo(x, q_mean, q_log_var) + 0.5 * d * np.log(2 * np.pi * s2)


def _elbo_sigma_for_var(x, q_mean, q_log_var, model):
    # 1 / (2 sigma) where 1 / (2 sigma^2) belongs (and log sigma in the constant).
    x = np.asarray(x, dtype="float64")
    s = model.noise_std
    residual = x - model.decode(q_mean)
    spread = np.sum(np.exp(q_log_var)[..., None, :] * model.weights**2, axis=(-2, -1))
    reconstruction = -0.5 * (model.data_dim * np.log(2 * np.pi * s) + (np.sum(residual**2, axis=-1) + spread) / s)
    return reconstruction - _kl(q_mean, q_log_var)


ELBO_MISTAKES = [
    (
        "the reconstruction term is log p(x | z) at z = q_mean only: the expectation over q adds "
        "sum_j exp(q_log_var_j) * ||W[:, j]||^2 to the squared error (before dividing by 2 sigma^2).",
        _elbo_at_the_mean,
    ),
    ("the KL term has the wrong sign: ELBO = reconstruction - KL(q || p(z)).", _elbo_plus_kl),
    (
        "the spread term uses the standard deviation exp(q_log_var / 2) where the variance exp(q_log_var) belongs.",
        _elbo_std_as_var,
    ),
    (
        "the normalising constant -d/2 * log(2 pi sigma^2) of the Gaussian likelihood is missing.",
        _elbo_no_constant,
    ),
    (
        "looks like you used sigma (model.noise_std) where sigma^2 (model.noise_var) belongs.",
        _elbo_sigma_for_var,
    ),
]


def check_elbo_ppca(student_fn, verbose=True, strict=None):
    """Check the exercise ``elbo_ppca(x, q_mean, q_log_var, model)`` against ``model.elbo``."""
    return check_function(
        "elbo_ppca",
        student_fn,
        _reference_elbo,
        _elbo_cases(),
        mistakes=ELBO_MISTAKES,
        rtol=1e-6,
        atol=1e-6,
        verbose=verbose,
        strict=strict,
    )


# --------------------------------------------------------------------------- #
# log_px_prior_sampling
# --------------------------------------------------------------------------- #
def _prior_cases():
    rng = np.random.default_rng(304)
    cases = []
    # Small model: every likelihood is a moderate number.
    model = _model(3, 2, 1.0, 4)
    x, _ = model.sample(1, rng=rng)
    cases.append((x[0], rng.standard_normal((50, 2)), model))
    # Sharp likelihood in 40 dimensions and a code in the tail of the prior: every
    # log p(x | z_k) is far below -745, where exp underflows to 0 in float64.
    model = _model(40, 2, 0.05, 5)
    x = model.decode(np.array([2.5, -2.5])) + 0.05 * rng.standard_normal(40)
    cases.append((x, rng.standard_normal((20, 2)), model))
    # One latent dimension, a single prior sample.
    model = _model(2, 1, 0.8, 6)
    cases.append((np.array([0.5, -0.2]), rng.standard_normal((1, 1)), model))
    return cases


def _reference_prior(x, z, model):
    return log_mean_exp(model.log_likelihood(x, z), axis=-1)


def _mean_of_logs(x, z, model):
    return np.mean(model.log_likelihood(x, z), axis=-1)


def _naive_exp(x, z, model):
    with np.errstate(divide="ignore", over="ignore", under="ignore"):
        return np.log(np.mean(np.exp(model.log_likelihood(x, z)), axis=-1))


def _log_sum_exp(x, z, model):
    return probability.logsumexp(model.log_likelihood(x, z), axis=-1)


def _joint(x, z, model):
    return log_mean_exp(model.log_joint(x, z), axis=-1)


PRIOR_MISTAKES = [
    (
        "you averaged the log-likelihoods. By Jensen's inequality mean(log p(x | z_k)) is below "
        "log mean(p(x | z_k)): average the likelihoods themselves, in log space "
        "(logsumexp(log_likelihoods) - log K).",
        _mean_of_logs,
    ),
    (
        "np.log(np.mean(np.exp(...))) underflows: exp of a log-likelihood below about -745 is 0 "
        "in float64. Subtract the largest log-likelihood before exponentiating (log-sum-exp).",
        _naive_exp,
    ),
    ("this is log of the sum; the mean needs - log K (K = number of samples).", _log_sum_exp),
    (
        "you averaged p(x, z) = p(x | z) p(z); the z are already drawn from p(z), so average p(x | z) alone.",
        _joint,
    ),
]


def check_log_px_prior_sampling(student_fn, verbose=True, strict=None):
    """Check the exercise ``log_px_prior_sampling(x, z, model)`` (naive estimate of log p(x))."""
    return check_function(
        "log_px_prior_sampling",
        student_fn,
        _reference_prior,
        _prior_cases(),
        mistakes=PRIOR_MISTAKES,
        rtol=1e-7,
        atol=1e-7,
        verbose=verbose,
        strict=strict,
    )
