"""A VAE whose prior is a learnable mixture of Gaussians (VaDE-like).

The generative model is VaDE's (Jiang et al., 2017, "Variational Deep Embedding"):
c ~ Cat(pi), z | c ~ N(m_c, diag exp(s_c)), x | z from the decoder. It is not the
GMVAE of Dilokthanakul et al. (2016), whose component means and variances are
computed by a network from a second latent w ~ N(0, I). The loss here is simpler
than VaDE's: one sampled code per image, no closed-form expectation over c.

The standard VAE's prior N(0, I) is replaced by a mixture of K diagonal Gaussians,

    p(z) = sum_k pi_k N(z; m_k, diag exp(s_k)),    pi = softmax(logits),

with learnable means ``m`` (K, d), log-variances ``s`` (K, d) and mixture logits
(K,). The KL divergence from the encoder's Gaussian q(z | x) to a mixture has no
closed form, so the model estimates it by Monte Carlo at the same
reparameterised code z that the reconstruction term uses:

    KL(q(z | x) || p(z)) ~= log q(z | x) - log p(z),    z = mu + sigma * eps.

The expectation of the right-hand side over eps *is* the KL, so the one-sample
loss ``-log p(x | z) + log q(z | x) - log p(z)`` is an unbiased estimate of the
negative ELBO (and, by reparameterisation, its gradient an unbiased estimate of
the ELBO's gradient); only its variance is higher than with a closed-form KL.

The mixture log-density is a log-sum-exp over components, computed stably by
subtracting the largest term before exponentiating.
"""

import math

import keras
import numpy as np
from keras import ops

from workshop import losses
from workshop.models import VAE
from workshop.validation import check_images, check_latent, check_positive_int

__all__ = [
    "MixturePrior",
    "MixturePriorVAE",
    "mixture_log_density",
    "mixture_responsibilities",
    "monte_carlo_kl",
]


def _component_log_joint(z, means, log_vars, logits):
    """log pi_k + log N(z; m_k, diag exp(s_k)) for every code and component: shape (N, K)."""
    log_weights = logits - ops.logsumexp(logits, axis=-1, keepdims=True)
    log_vars = losses.clip_log_var(log_vars)
    diff = z[:, None, :] - means[None, :, :]
    log_normal = -0.5 * ops.sum(math.log(2.0 * math.pi) + log_vars[None] + ops.square(diff) * ops.exp(-log_vars[None]), axis=-1)
    return log_weights[None, :] + log_normal


def mixture_log_density(z, means, log_vars, logits):
    """log p(z) under the mixture sum_k softmax(logits)_k N(z; means_k, diag exp(log_vars_k)), on tensors.

    Args:
        z: codes, shape (N, d).
        means: component means, shape (K, d).
        log_vars: component log-variances, shape (K, d).
        logits: unnormalised mixture weights, shape (K,) (the weights are their softmax).

    Returns:
        A tensor of shape (N,), in nats. Computed as a stable log-sum-exp over the
        components, so it stays finite when every component density underflows.
    """
    return ops.logsumexp(_component_log_joint(z, means, log_vars, logits), axis=-1)


def mixture_responsibilities(z, means, log_vars, logits):
    """p(k | z) = pi_k N(z; m_k, S_k) / p(z) for every code: shape (N, K), rows summing to 1."""
    return ops.softmax(_component_log_joint(z, means, log_vars, logits), axis=-1)


def monte_carlo_kl(z, z_mean, z_log_var, log_prior):
    """One-sample Monte Carlo estimate of KL(q(z | x) || p(z)) per code: log q(z | x) - log p(z).

    Args:
        z: codes drawn from q by reparameterisation, shape (N, d).
        z_mean, z_log_var: the encoder's Gaussian q(z | x), shape (N, d).
        log_prior: log p(z), shape (N,) (for example :func:`mixture_log_density`).

    Returns:
        A tensor of shape (N,), in nats. Unbiased: its mean over draws of z is the KL.
        A single estimate can be negative.
    """
    return losses.gaussian_log_density(z, z_mean, z_log_var) - log_prior


def _check_component(component, num_components):
    if isinstance(component, bool) or not isinstance(component, (int, np.integer)) or not 0 <= component < num_components:
        raise ValueError(f"Expected `component` to be an integer in [0, {num_components}). Received: component={component!r}")
    return int(component)


@keras.saving.register_keras_serializable(package="workshop")
class MixturePrior(keras.layers.Layer):
    """A learnable mixture of K diagonal Gaussians over codes of size d.

    Holds the component means (K, d), log-variances (K, d) and mixture logits
    (K,). The means start at random points drawn from N(0, init_scale^2 I), the
    log-variances at 0 and the logits at 0 (equal weights).

    Args:
        num_components: K, the number of components (>= 1).
        latent_dim: d, the size of a code.
        learn_weights: when False, the logits stay at 0: equal weights 1 / K.
        init_scale: standard deviation of the random initial means.
        seed: an integer making the initial means and the draws repeatable, or None.

    Call arguments:
        z: codes of shape (N, d). Returns log p(z), shape (N,).
    """

    def __init__(self, num_components=10, latent_dim=2, learn_weights=True, init_scale=1.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.num_components = check_positive_int(num_components, "num_components")
        self.latent_dim = check_positive_int(latent_dim, "latent_dim")
        if (
            isinstance(init_scale, bool)
            or not isinstance(init_scale, (int, float, np.floating, np.integer))
            or not init_scale >= 0
            or not math.isfinite(init_scale)
        ):
            raise ValueError(f"Expected `init_scale` to be a finite number >= 0. Received: init_scale={init_scale!r}")
        if seed is not None:
            check_positive_int(seed, "seed", minimum=0)
        self.learn_weights = bool(learn_weights)
        self.init_scale = float(init_scale)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        k, d = self.num_components, self.latent_dim
        self.means = self.add_weight(
            shape=(k, d),
            name="means",
            initializer=keras.initializers.RandomNormal(stddev=self.init_scale, seed=seed),
        )
        self.log_vars = self.add_weight(shape=(k, d), name="log_vars", initializer="zeros")
        self.logits = self.add_weight(shape=(k,), name="logits", initializer="zeros", trainable=self.learn_weights)
        self.built = True

    def call(self, z):
        return mixture_log_density(z, self.means, self.log_vars, self.logits)

    def log_prob(self, z):
        """log p(z), shape (N,), for codes of shape (N, d)."""
        return self.call(z)

    def responsibilities(self, z):
        """p(k | z), shape (N, K)."""
        return mixture_responsibilities(z, self.means, self.log_vars, self.logits)

    @property
    def weights_(self):
        """The mixture weights softmax(logits) as a NumPy array of shape (K,)."""
        return ops.convert_to_numpy(ops.softmax(self.logits))

    def sample(self, n, component=None, seed=None):
        """Draw n codes (a tensor of shape (n, d)), from one component or from the whole mixture."""
        generator = self.seed_generator if seed is None else seed
        if component is None:
            k = keras.random.categorical(self.logits[None, :], n, seed=generator)[0]
        else:
            k = ops.full((n,), component, dtype="int32")
        means = ops.take(self.means, k, axis=0)
        log_vars = ops.take(losses.clip_log_var(self.log_vars), k, axis=0)
        eps = keras.random.normal((n, self.latent_dim), seed=generator)
        return means + ops.exp(0.5 * log_vars) * eps

    def compute_output_shape(self, input_shape):
        return (input_shape[0],)

    def get_config(self):
        config = {
            "num_components": self.num_components,
            "latent_dim": self.latent_dim,
            "learn_weights": self.learn_weights,
            "init_scale": self.init_scale,
            "seed": self.seed,
        }
        return {**super().get_config(), **config}


@keras.saving.register_keras_serializable(package="workshop")
class MixturePriorVAE(VAE):
    """A VAE with a learnable mixture-of-Gaussians prior (VaDE-like; see the module docstring).

    Everything of :class:`~workshop.VAE` (encoder, decoder, ``Sampling`` layer,
    metrics, ``fit``/``evaluate``/``encode``/``decode``) is kept; only the prior
    changes. ``kl_loss`` is the one-sample Monte Carlo estimate
    ``log q(z | x) - log p(z)`` at the reparameterised code z, whose expectation
    is the KL, so ``loss`` remains an unbiased estimate of the negative ELBO in
    nats per image (a single batch's ``kl_loss`` is noisier than the closed
    form, and an individual image's estimate can even be negative).

    Args:
        num_components: K, the number of mixture components (>= 1).
        learn_weights: learn the mixture weights (True) or keep them equal to 1 / K.
        prior_init_scale: standard deviation of the random initial component means
            (see :meth:`set_prior` to start them somewhere chosen instead).
        **kwargs: everything :class:`~workshop.VAE` takes (``latent_dim``, ``beta``, ``seed``...).

    Example:
        >>> model = MixturePriorVAE(num_components=10, latent_dim=2, seed=0)
        >>> model.compile()
        >>> model.fit(x_train, epochs=10, batch_size=128)
        >>> images = model.sample(8, component=3)        # digits from component 3
        >>> clusters = model.cluster(x_test)             # most responsible component per image
    """

    def __init__(self, num_components=10, learn_weights=True, prior_init_scale=1.0, **kwargs):
        if kwargs.get("num_classes") is not None:
            raise ValueError(
                f"Expected no `num_classes`: a MixturePriorVAE is unconditional. Received: num_classes={kwargs['num_classes']!r}"
            )
        super().__init__(**kwargs)
        seed = kwargs.get("seed")
        self.num_components = check_positive_int(num_components, "num_components")
        self.learn_weights = bool(learn_weights)
        self.prior_init_scale = prior_init_scale
        self.prior = MixturePrior(
            num_components,
            self.latent_dim,
            learn_weights=learn_weights,
            init_scale=prior_init_scale,
            seed=None if seed is None else seed + 2,
            name="prior",
        )
        self.prior_init_scale = self.prior.init_scale

    def get_config(self):
        config = {
            "num_components": self.num_components,
            "learn_weights": self.learn_weights,
            "prior_init_scale": self.prior_init_scale,
        }
        return {**super().get_config(), **config}

    # ------------------------------------------------------------ the losses
    def compute_loss_terms(self, x, condition=None, training=False):
        """One-sample estimates per image: (reconstruction_loss, log q(z | x) - log p(z)) at the same z."""
        z_mean, z_log_var = self.encoder(x, training=training)
        z = self.sampling([z_mean, z_log_var])
        logits = self.decoder(z, training=training)
        kl = monte_carlo_kl(z, z_mean, z_log_var, self.prior(z))
        return self.reconstruction_loss(x, logits), kl

    # ------------------------------------------------------ NumPy interface
    def set_prior(self, means, log_vars=None, weights=None):
        """Set the components: ``means`` (K, d), optional ``log_vars`` (K, d) and ``weights`` (K,), summing to 1."""
        k, d = self.num_components, self.latent_dim
        means = np.asarray(means, dtype="float32")
        if means.shape != (k, d) or not np.all(np.isfinite(means)):
            raise ValueError(f"Expected finite `means` of shape ({k}, {d}). Received: shape={means.shape}")
        self.prior.means.assign(means)
        if log_vars is not None:
            log_vars = np.asarray(log_vars, dtype="float32")
            if log_vars.shape != (k, d) or not np.all(np.isfinite(log_vars)):
                raise ValueError(f"Expected finite `log_vars` of shape ({k}, {d}). Received: shape={log_vars.shape}")
            self.prior.log_vars.assign(log_vars)
        if weights is not None:
            weights = np.asarray(weights, dtype="float64")
            if weights.shape != (k,) or np.any(weights <= 0) or not np.isclose(weights.sum(), 1.0, atol=1e-5):
                raise ValueError(
                    f"Expected positive `weights` of shape ({k},) summing to 1. Received: shape={weights.shape}, sum={weights.sum():.6g}"
                )
            self.prior.logits.assign(np.log(weights).astype("float32"))

    def prior_parameters(self):
        """The prior as NumPy arrays: ``(means (K, d), log_vars (K, d), weights (K,))``."""
        return (
            ops.convert_to_numpy(self.prior.means),
            ops.convert_to_numpy(self.prior.log_vars),
            self.prior.weights_,
        )

    def prior_log_density(self, z):
        """log p(z) in nats for codes ``z`` of shape (N, d): a NumPy array of shape (N,)."""
        z = check_latent(z, self.latent_dim)
        return ops.convert_to_numpy(self.prior(ops.convert_to_tensor(z))).astype("float64")

    def responsibilities(self, z):
        """p(k | z) for codes ``z`` of shape (N, d): a NumPy array of shape (N, K), rows summing to 1."""
        z = check_latent(z, self.latent_dim)
        return ops.convert_to_numpy(self.prior.responsibilities(ops.convert_to_tensor(z)))

    def cluster(self, x, batch_size=1024):
        """The most responsible component of each image's posterior mean: integers in [0, K), shape (N,)."""
        z_mean, _ = self.encode(x, batch_size=batch_size)
        return np.argmax(self.responsibilities(z_mean), axis=-1)

    def sample(self, n, seed=None, component=None, labels=None):
        """Draw ``n`` images: z from the mixture (or from component ``component`` only), then the decoder's mean image."""
        n = check_positive_int(n, "n")
        if seed is not None:
            seed = check_positive_int(seed, "seed", minimum=0)
        if component is not None:
            component = _check_component(component, self.num_components)
        z = self.prior.sample(n, component=component, seed=None if seed is None else keras.random.SeedGenerator(seed))
        return self.decode(ops.convert_to_numpy(z))

    def elbo(self, x, labels=None, num_samples=1, batch_size=1024, seed=None):
        """Per-image ELBO in nats, E_q[log p(x | z) + log p(z) - log q(z | x)], from ``num_samples`` draws.

        Both terms are estimated with the same draws (the KL has no closed form).
        """
        x = check_images(x)
        num_samples = check_positive_int(num_samples, "num_samples")
        generator = keras.random.SeedGenerator(seed) if seed is not None else self.noise_seed_generator

        def run(xb, _):
            xb = ops.convert_to_tensor(xb)
            z_mean, z_log_var = self.encoder(xb, training=False)
            total = 0.0
            for _ in range(num_samples):
                eps = keras.random.normal(ops.shape(z_mean), seed=generator)
                z = z_mean + ops.exp(0.5 * losses.clip_log_var(z_log_var)) * eps
                kl = monte_carlo_kl(z, z_mean, z_log_var, self.prior(z))
                total = total + self.reconstruction_loss(xb, self.decoder(z, training=False)) + kl
            return ops.convert_to_numpy(-(total / num_samples)).astype("float64")

        return self._batched(run, (x, None), batch_size)

    def _log_prior(self, z):
        """log p(z) under the mixture for codes of any leading shape (used by :meth:`VAE.log_likelihood`)."""
        flat = ops.reshape(z, (-1, self.latent_dim))
        return ops.reshape(self.prior(flat), ops.shape(z)[:-1])
