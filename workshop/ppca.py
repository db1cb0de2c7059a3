"""Probabilistic PCA: a latent-variable model where every quantity is exact.

Notebook 03 uses it to check the ELBO identities with numbers. The model is
linear and Gaussian,

    z ~ N(0, I_k),    x | z ~ N(W z + b, sigma^2 I_d),

so the marginal p(x) = N(x; b, W W^T + sigma^2 I_d) and the posterior
p(z | x) = N(M^{-1} W^T (x - b), sigma^2 M^{-1}) with M = W^T W + sigma^2 I_k
have closed forms, and so does the ELBO of any Gaussian q(z | x). That makes
it the one model on which ``log p(x) - ELBO = KL(q || p(z | x))`` can be
checked to rounding error instead of to Monte Carlo error.

Everything is NumPy in float64 and in nats. Arrays broadcast over leading
(batch) axes: ``x`` has shape (..., d), latent codes and means (..., k),
covariances (..., k, k).
"""

import numpy as np

from workshop.probability import LOG_2PI, logsumexp

__all__ = [
    "PPCA",
    "gaussian_entropy_full",
    "gaussian_kl_full",
    "gaussian_log_density_full",
    "log_mean_exp",
]


def _float(a):
    return np.asarray(a, dtype="float64")


def _check_cov(cov, name):
    cov = _float(cov)
    if cov.ndim < 2 or cov.shape[-1] != cov.shape[-2]:
        raise ValueError(f"Expected `{name}` to be a covariance matrix of shape (..., k, k). Received: shape={cov.shape}")
    return cov


def _cholesky(cov, name):
    try:
        return np.linalg.cholesky(cov)
    except np.linalg.LinAlgError:
        raise ValueError(f"Expected `{name}` to be symmetric positive definite. Received: a matrix that is not.") from None


def _mahalanobis(diff, chol):
    """diff^T C^{-1} diff for C = chol chol^T, broadcasting over leading axes."""
    chol = np.broadcast_to(chol, diff.shape[:-1] + chol.shape[-2:])
    solved = np.linalg.solve(chol, diff[..., None])[..., 0]
    return np.sum(solved**2, axis=-1)


def _log_det_from_cholesky(chol):
    return 2.0 * np.sum(np.log(np.diagonal(chol, axis1=-2, axis2=-1)), axis=-1)


def gaussian_log_density_full(x, mean, cov):
    """log N(x; mean, cov) of a multivariate Gaussian with a full covariance.

    Args:
        x: points, shape (..., k).
        mean: the mean, shape (..., k).
        cov: the covariance, shape (..., k, k), symmetric positive definite.

    Returns:
        The log-density in nats, shape (...).
    """
    x, mean, cov = _float(x), _float(mean), _check_cov(cov, "cov")
    chol = _cholesky(cov, "cov")
    diff = x - mean
    k = cov.shape[-1]
    if diff.shape[-1] != k:
        raise ValueError(f"Expected `x` and `mean` to have last axis {k} like `cov`. Received: shape={diff.shape}")
    return -0.5 * (k * LOG_2PI + _log_det_from_cholesky(chol) + _mahalanobis(diff, chol))


def gaussian_entropy_full(cov):
    """Differential entropy of N(m, cov): 0.5 * (k log(2 pi e) + log det cov), in nats.

    Args:
        cov: covariance, shape (..., k, k).

    Returns:
        The entropy, shape (...).
    """
    cov = _check_cov(cov, "cov")
    k = cov.shape[-1]
    return 0.5 * (k * (LOG_2PI + 1.0) + _log_det_from_cholesky(_cholesky(cov, "cov")))


def gaussian_kl_full(mean1, cov1, mean2, cov2):
    """KL(N(mean1, cov1) || N(mean2, cov2)) for full covariances, in nats.

    Uses 0.5 * (tr(C2^{-1} C1) + (m2 - m1)^T C2^{-1} (m2 - m1) - k + log det C2 - log det C1).

    Returns:
        The divergence, shape of the broadcast leading axes.
    """
    mean1, mean2 = _float(mean1), _float(mean2)
    cov1, cov2 = _check_cov(cov1, "cov1"), _check_cov(cov2, "cov2")
    chol1, chol2 = _cholesky(cov1, "cov1"), _cholesky(cov2, "cov2")
    k = cov1.shape[-1]
    batch = np.broadcast_shapes(mean1.shape[:-1], mean2.shape[:-1], cov1.shape[:-2], cov2.shape[:-2])
    chol2_b = np.broadcast_to(chol2, batch + (k, k))
    # tr(C2^{-1} C1) = ||L2^{-1} L1||_F^2
    trace = np.sum(np.linalg.solve(chol2_b, np.broadcast_to(chol1, batch + (k, k))) ** 2, axis=(-2, -1))
    diff = np.broadcast_to(mean2 - mean1, batch + (k,))
    quad = _mahalanobis(diff, chol2_b)
    return 0.5 * (trace + quad - k + _log_det_from_cholesky(chol2) - _log_det_from_cholesky(chol1))


def log_mean_exp(a, axis=-1):
    """log(mean(exp(a))) along ``axis``, computed without overflow or underflow.

    This is how a Monte Carlo average of likelihoods is formed from
    log-likelihoods: log((1/K) sum_k exp(a_k)) = logsumexp(a) - log K.
    """
    a = _float(a)
    return logsumexp(a, axis=axis) - np.log(a.shape[axis] if axis is not None else a.size)


class PPCA:
    """The linear-Gaussian latent-variable model z ~ N(0, I), x | z ~ N(W z + b, sigma^2 I).

    The decoder G(z) = W z + b is linear, so the marginal likelihood, the
    posterior and the ELBO of a Gaussian q(z | x) all have closed forms. A
    variational distribution q is passed as its mean and either ``q_log_var``
    (a diagonal Gaussian, like a VAE encoder's output) or ``q_cov`` (a full
    covariance).

    Args:
        weights: the matrix W, shape (d, k): data dimension d, latent dimension k.
        bias: the vector b, shape (d,); zeros when None.
        noise_std: sigma, the standard deviation of the observation noise (> 0).

    Example:
        >>> model = PPCA.random(data_dim=5, latent_dim=2, rng=np.random.default_rng(0))
        >>> x, _ = model.sample(3, rng=np.random.default_rng(1))
        >>> mean, cov = model.posterior(x)
        >>> bool(np.allclose(model.elbo(x, mean, q_cov=cov), model.log_marginal(x)))
        True
    """

    def __init__(self, weights, bias=None, noise_std=1.0):
        weights = _float(weights)
        if weights.ndim != 2 or weights.size == 0:
            raise ValueError(f"Expected `weights` of shape (data_dim, latent_dim). Received: shape={weights.shape}")
        bias = np.zeros(weights.shape[0]) if bias is None else _float(bias)
        if bias.shape != (weights.shape[0],):
            raise ValueError(f"Expected `bias` of shape ({weights.shape[0]},). Received: shape={bias.shape}")
        if not np.isfinite(noise_std) or noise_std <= 0:
            raise ValueError(f"Expected a positive `noise_std`. Received: noise_std={noise_std}")
        self.weights = weights
        self.bias = bias
        self.noise_std = float(noise_std)

    # ------------------------------------------------------------------ #
    @classmethod
    def random(cls, data_dim, latent_dim, noise_std=0.5, rng=None):
        """A model with standard-normal weights and bias (handy for experiments).

        Args:
            data_dim: d.
            latent_dim: k.
            noise_std: sigma.
            rng: a ``numpy.random.Generator``; seed 0 when None.
        """
        rng = np.random.default_rng(0) if rng is None else rng
        weights = rng.standard_normal((data_dim, latent_dim))
        bias = rng.standard_normal(data_dim)
        return cls(weights, bias, noise_std)

    @property
    def data_dim(self):
        """d, the number of observed dimensions."""
        return self.weights.shape[0]

    @property
    def latent_dim(self):
        """k, the number of latent dimensions."""
        return self.weights.shape[1]

    @property
    def noise_var(self):
        """sigma^2."""
        return self.noise_std**2

    def __repr__(self):
        return f"PPCA(data_dim={self.data_dim}, latent_dim={self.latent_dim}, noise_std={self.noise_std:g})"

    # ------------------------------------------------------------------ #
    def _x(self, x):
        x = _float(x)
        if x.ndim == 0 or x.shape[-1] != self.data_dim:
            raise ValueError(f"Expected `x` of shape (..., {self.data_dim}). Received: shape={x.shape}")
        return x

    def _z(self, z, name="z"):
        z = _float(z)
        if z.ndim == 0 or z.shape[-1] != self.latent_dim:
            raise ValueError(f"Expected `{name}` of shape (..., {self.latent_dim}). Received: shape={z.shape}")
        return z

    def _q(self, q_mean, q_log_var, q_cov):
        """(mean, covariance) of q from a diagonal or a full parameterisation."""
        q_mean = self._z(q_mean, "q_mean")
        if (q_log_var is None) == (q_cov is None):
            raise ValueError(
                "Expected exactly one of `q_log_var` (diagonal q) or `q_cov` (full q). "
                f"Received: q_log_var={'None' if q_log_var is None else 'an array'}, "
                f"q_cov={'None' if q_cov is None else 'an array'}"
            )
        if q_log_var is not None:
            q_log_var = self._z(q_log_var, "q_log_var")
            q_cov = np.exp(q_log_var)[..., :, None] * np.eye(self.latent_dim)
        else:
            q_cov = _check_cov(q_cov, "q_cov")
            if q_cov.shape[-1] != self.latent_dim:
                raise ValueError(f"Expected `q_cov` of shape (..., {self.latent_dim}, {self.latent_dim}). Received: shape={q_cov.shape}")
        return q_mean, q_cov

    # ------------------------------------------------------------------ #
    def decode(self, z):
        """The decoder mean G(z) = W z + b, shape (..., d)."""
        return self._z(z) @ self.weights.T + self.bias

    def sample(self, num_samples, rng=None):
        """Draw (x, z) pairs from the model: z ~ N(0, I), then x ~ N(W z + b, sigma^2 I).

        Returns:
            ``(x, z)`` of shapes (num_samples, d) and (num_samples, k).
        """
        rng = np.random.default_rng(0) if rng is None else rng
        z = rng.standard_normal((num_samples, self.latent_dim))
        x = self.decode(z) + self.noise_std * rng.standard_normal((num_samples, self.data_dim))
        return x, z

    def log_prior(self, z):
        """log p(z) = log N(z; 0, I), summed over latent dimensions: shape (...)."""
        z = self._z(z)
        return -0.5 * np.sum(LOG_2PI + z**2, axis=-1)

    def log_likelihood(self, x, z):
        """log p(x | z) = log N(x; W z + b, sigma^2 I), summed over data dimensions.

        ``x`` (..., d) and ``z`` (..., k) broadcast, so one x against many z works:
        ``model.log_likelihood(x, z)`` with x (d,) and z (K, k) gives (K,).
        """
        x = self._x(x)
        residual = x - self.decode(z)
        return -0.5 * np.sum(LOG_2PI + np.log(self.noise_var) + residual**2 / self.noise_var, axis=-1)

    def log_joint(self, x, z):
        """log p(x, z) = log p(x | z) + log p(z)."""
        return self.log_likelihood(x, z) + self.log_prior(z)

    # ------------------------------------------------------------------ #
    def marginal_covariance(self):
        """The covariance of p(x): W W^T + sigma^2 I, shape (d, d)."""
        return self.weights @ self.weights.T + self.noise_var * np.eye(self.data_dim)

    def log_marginal(self, x):
        """The exact log-evidence log p(x) = log N(x; b, W W^T + sigma^2 I), shape (...)."""
        x = self._x(x)
        return gaussian_log_density_full(x, self.bias, self.marginal_covariance())

    def posterior(self, x):
        """The exact posterior p(z | x) = N(M^{-1} W^T (x - b), sigma^2 M^{-1}), M = W^T W + sigma^2 I.

        Returns:
            ``(mean, cov)``: the mean has shape (..., k); the covariance is the
            same for every x, shape (k, k).
        """
        x = self._x(x)
        m = self.weights.T @ self.weights + self.noise_var * np.eye(self.latent_dim)
        # M is symmetric, so (M^{-1} W^T r)^T = r^T W M^{-1}: one solve for the whole batch.
        mean = np.linalg.solve(m, ((x - self.bias) @ self.weights).reshape(-1, self.latent_dim).T).T
        cov = self.noise_var * np.linalg.inv(m)
        return mean.reshape(x.shape[:-1] + (self.latent_dim,)), 0.5 * (cov + cov.T)

    def log_posterior(self, z, x):
        """log p(z | x), from the closed-form posterior."""
        mean, cov = self.posterior(x)
        return gaussian_log_density_full(self._z(z), mean, cov)

    # ------------------------------------------------------------------ #
    def expected_log_likelihood(self, x, q_mean, q_log_var=None, q_cov=None):
        """E_q[log p(x | z)] in closed form (the reconstruction term of the ELBO).

        With q = N(m, S): E_q ||x - W z - b||^2 = ||x - W m - b||^2 + tr(W S W^T), so
        the term is -0.5 * (d log(2 pi sigma^2) + (||x - W m - b||^2 + tr(W S W^T)) / sigma^2).
        """
        x = self._x(x)
        q_mean, q_cov = self._q(q_mean, q_log_var, q_cov)
        squared = np.sum((x - self.decode(q_mean)) ** 2, axis=-1)
        spread = np.einsum("ij,...jk,ik->...", self.weights, q_cov, self.weights)
        return -0.5 * (self.data_dim * (LOG_2PI + np.log(self.noise_var)) + (squared + spread) / self.noise_var)

    def expected_log_prior(self, q_mean, q_log_var=None, q_cov=None):
        """E_q[log p(z)] = -0.5 * (k log(2 pi) + ||m||^2 + tr S) in closed form."""
        q_mean, q_cov = self._q(q_mean, q_log_var, q_cov)
        trace = np.trace(q_cov, axis1=-2, axis2=-1)
        return -0.5 * (self.latent_dim * LOG_2PI + np.sum(q_mean**2, axis=-1) + trace)

    def entropy(self, q_mean, q_log_var=None, q_cov=None):
        """H(q) = -E_q[log q(z)] in closed form."""
        q_mean, q_cov = self._q(q_mean, q_log_var, q_cov)
        return np.array(np.broadcast_to(gaussian_entropy_full(q_cov), q_mean.shape[:-1]))

    def kl_to_prior(self, q_mean, q_log_var=None, q_cov=None):
        """KL(q(z | x) || p(z)) in closed form."""
        q_mean, q_cov = self._q(q_mean, q_log_var, q_cov)
        k = self.latent_dim
        return gaussian_kl_full(q_mean, q_cov, np.zeros(k), np.eye(k))

    def kl_to_posterior(self, x, q_mean, q_log_var=None, q_cov=None):
        """KL(q(z | x) || p(z | x)), the gap between log p(x) and the ELBO."""
        q_mean, q_cov = self._q(q_mean, q_log_var, q_cov)
        post_mean, post_cov = self.posterior(x)
        return gaussian_kl_full(q_mean, q_cov, post_mean, post_cov)

    def elbo(self, x, q_mean, q_log_var=None, q_cov=None):
        """The ELBO of q in closed form: E_q[log p(x | z)] - KL(q || p(z)), in nats.

        Args:
            x: data, shape (..., d).
            q_mean: mean of q, shape (..., k).
            q_log_var: log-variances of a diagonal q, shape (..., k); or
            q_cov: a full covariance of q, shape (..., k, k).

        Returns:
            The ELBO, shape (...). It never exceeds :meth:`log_marginal`, and
            equals it when q is :meth:`posterior`.
        """
        return self.expected_log_likelihood(x, q_mean, q_log_var, q_cov) - self.kl_to_prior(q_mean, q_log_var, q_cov)

    # ------------------------------------------------------------------ #
    def prior_sampling_relative_variance(self, x):
        """Relative variance of one term of the naive estimator p(x) ~ mean_k p(x | z_k), z_k ~ p(z).

        Var[p(x | z)] / p(x)^2 = E_p(z)[p(x | z)^2] / p(x)^2 - 1, where
        p(x | z)^2 = (4 pi sigma^2)^(-d/2) N(x; W z + b, sigma^2 / 2 I), so
        E[p(x | z)^2] = (4 pi sigma^2)^(-d/2) N(x; b, W W^T + sigma^2 / 2 I).
        With K samples the relative standard deviation of the estimate of p(x)
        is sqrt(this / K). Returned as its natural log, since it overflows
        float64 easily: shape (...).
        """
        x = self._x(x)
        half = self.weights @ self.weights.T + 0.5 * self.noise_var * np.eye(self.data_dim)
        log_second = -0.5 * self.data_dim * np.log(4.0 * np.pi * self.noise_var) + gaussian_log_density_full(x, self.bias, half)
        log_ratio = log_second - 2.0 * self.log_marginal(x)
        # log(exp(r) - 1), stable for small and large r (r >= 0 by Jensen).
        log_ratio = np.maximum(log_ratio, 1e-300)
        return np.where(log_ratio > 30, log_ratio, np.log(np.expm1(log_ratio)))
