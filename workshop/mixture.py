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
    "vade_kl",
]

KL_ESTIMATORS = ("monte_carlo", "vade")


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


def vade_kl(z, z_mean, z_log_var, means, log_vars, logits, responsibilities=None):
    """VaDE's KL per image, KL(q(z, c | x) || p(z, c)) with q(c | x) = p(c | z), analytic given the responsibilities.

    With gamma_k = p(c = k | z) at the sampled code z (the responsibilities, see
    :func:`mixture_responsibilities`), q's mean and variance mu_j, v_j and the
    components' m_kj, s_kj (variances) and weights pi_k::

        KL = 1/2 sum_k gamma_k sum_j [log s_kj + (v_j + (mu_j - m_kj)^2) / s_kj]
             - 1/2 sum_j (1 + log v_j)
             + sum_k gamma_k (log gamma_k - log pi_k).

    The expectation over z inside each component's term is exact (a Gaussian
    against a Gaussian); only gamma depends on the sample. Because q(c | x) is not
    the true posterior over c, this KL is never smaller than KL(q(z | x) || p(z))
    of :func:`monte_carlo_kl` in expectation: the bound is looser, the estimate
    far less noisy.

    Args:
        z: a code drawn from q(z | x), shape (N, d) (only the responsibilities use it).
        z_mean, z_log_var: the encoder's Gaussian q(z | x), shape (N, d).
        means, log_vars: the components, shape (K, d).
        logits: unnormalised mixture weights, shape (K,).
        responsibilities: q(c | x) given instead, shape (N, K), rows summing to 1
            (e.g. one-hot clusters); then ``z`` is not used. Any q(c | x) gives a
            lower bound on log p(x); p(c | z) is VaDE's choice.

    Returns:
        A tensor of shape (N,), in nats, >= 0 up to rounding.
    """
    if responsibilities is None:
        log_joint = _component_log_joint(z, means, log_vars, logits)
        gamma = ops.softmax(log_joint, axis=-1)
        gamma_log_gamma = gamma * ops.log_softmax(log_joint, axis=-1)
    else:
        gamma = ops.cast(responsibilities, z_mean.dtype)
        gamma_log_gamma = ops.where(gamma > 0, gamma * ops.log(ops.maximum(gamma, 1e-30)), 0.0)
    log_weights = logits - ops.logsumexp(logits, axis=-1, keepdims=True)
    log_vars = losses.clip_log_var(log_vars)
    z_log_var = losses.clip_log_var(z_log_var)
    per_component = 0.5 * ops.sum(
        log_vars[None] + (ops.exp(z_log_var)[:, None, :] + ops.square(z_mean[:, None, :] - means[None])) * ops.exp(-log_vars[None]),
        axis=-1,
    )
    entropy_term = 0.5 * ops.sum(1.0 + z_log_var, axis=-1)
    return ops.sum(gamma * (per_component - log_weights[None, :]) + gamma_log_gamma, axis=-1) - entropy_term


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

    def __init__(self, num_components=10, learn_weights=True, prior_init_scale=1.0, kl_estimator="monte_carlo", max_shift=0, **kwargs):
        if kwargs.get("free_bits"):
            raise ValueError(
                "Expected no `free_bits` for a MixturePriorVAE: free bits floors each dimension's KL to N(0, I), which "
                f"a mixture prior has no closed form for (kl_warmup_epochs works). Received: free_bits={kwargs['free_bits']!r}"
            )
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
        if kl_estimator not in KL_ESTIMATORS:
            raise ValueError(f"Expected `kl_estimator` to be one of {KL_ESTIMATORS}. Received: kl_estimator={kl_estimator!r}")
        self.kl_estimator = kl_estimator
        self.max_shift = check_positive_int(max_shift, "max_shift", minimum=0)
        self._autoencoder_phase = False  # True while pretrain() runs: z = z_mean, no KL
        self._fixed_assignments = False  # True while fit_to_clusters() runs: q(c | x) is a given one-hot

    def get_config(self):
        config = {
            "num_components": self.num_components,
            "learn_weights": self.learn_weights,
            "prior_init_scale": self.prior_init_scale,
        }
        if self.kl_estimator != "monte_carlo":  # only when used: older .keras files stay identical
            config["kl_estimator"] = self.kl_estimator
        if self.max_shift:
            config["max_shift"] = self.max_shift
        return {**super().get_config(), **config}

    # ------------------------------------------------------------ the losses
    def compute_loss_terms(self, x, condition=None, training=False, encoder_input=None, assignments=None):
        """One-sample estimates per image: (reconstruction_loss, KL estimate) at the same z.

        The KL estimate is ``log q(z | x) - log p(z)`` (``kl_estimator="monte_carlo"``)
        or VaDE's :func:`vade_kl` (``"vade"``). ``encoder_input`` (default ``x``) is
        what the encoder sees: a shifted copy of ``x`` during training with
        ``max_shift``, while the decoder is scored on ``x`` itself.
        """
        z_mean, z_log_var = self.encoder(x if encoder_input is None else encoder_input, training=training)
        if self._autoencoder_phase:  # pretrain(): a deterministic autoencoder on the posterior means
            logits = self.decoder(z_mean, training=training)
            return self.reconstruction_loss(x, logits), ops.zeros_like(z_mean[:, 0])
        z = self.sampling([z_mean, z_log_var])
        logits = self.decoder(z, training=training)
        if assignments is not None:  # fit_to_clusters(): q(c | x) fixed to the given clusters
            gamma = ops.one_hot(ops.cast(assignments, "int32"), self.num_components)
            kl = vade_kl(z, z_mean, z_log_var, self.prior.means, self.prior.log_vars, self.prior.logits, responsibilities=gamma)
        elif self.kl_estimator == "vade":
            kl = vade_kl(z, z_mean, z_log_var, self.prior.means, self.prior.log_vars, self.prior.logits)
        else:
            kl = monte_carlo_kl(z, z_mean, z_log_var, self.prior(z))
        return self.reconstruction_loss(x, logits), kl

    def _shift(self, x):
        """Each image moved by its own random whole-pixel offset in [-max_shift, max_shift] along both axes (zeros fill in)."""
        n = ops.shape(x)[0]
        size = x.shape[1]
        offsets = keras.random.randint((2, n), -self.max_shift, self.max_shift + 1, seed=self.noise_seed_generator)
        rows = ops.arange(size)
        # shift[b, i, j] = 1 where j = i - offset[b], so (shift @ image)[i] = image[i - offset]
        down = ops.cast(ops.equal(rows[None, None, :], rows[None, :, None] - offsets[0][:, None, None]), x.dtype)
        right = ops.cast(ops.equal(rows[None, None, :], rows[None, :, None] - offsets[1][:, None, None]), x.dtype)
        moved = ops.matmul(ops.matmul(down, x[..., 0]), ops.transpose(right, (0, 2, 1)))
        return moved[..., None]

    def _training_loss_terms(self, x, condition, data):
        """The training step's loss terms: the encoder sees ``x`` shifted (``max_shift``), the decoder is scored on
        ``x``; during :meth:`fit_to_clusters` q(c | x) is the one-hot cluster that ``fit`` passes as the target."""
        assignments = keras.utils.unpack_x_y_sample_weight(data)[1] if self._fixed_assignments else None
        seen = self._shift(x) if self.max_shift else None
        return self.compute_loss_terms(x, condition, training=True, encoder_input=seen, assignments=assignments)

    def _trained_variables(self):
        if not self._autoencoder_phase:
            return self.trainable_weights
        # pretrain(): the encoder's means and the decoder; the log-variance layer and the prior get no gradient
        return [v for v in self.encoder.trainable_weights if "z_log_var" not in v.path] + self.decoder.trainable_weights

    # ------------------------------------------------- clustering, VaDE's way
    def pretrain(self, x, epochs=10, batch_size=256, learning_rate=1e-3, **fit_kwargs):
        """Phase 1 of VaDE's recipe: train the encoder's means and the decoder as a plain autoencoder.

        The code is z = z_mean (no noise, no KL); the loss is the reconstruction
        loss alone. The encoder's log-variance layer is not trained here; at the
        end it is reset to output a small variance (exp(-4) per dimension), so
        that phase 2 starts from codes close to the pretrained ones. The model's
        optimizer is replaced by Adam(``learning_rate``) for this phase: compile
        the model again before phase 2.

        Returns:
            The ``keras.callbacks.History`` of the phase (``kl_loss`` is 0 throughout).
        """
        self._autoencoder_phase = True
        self.compile(optimizer=keras.optimizers.Adam(learning_rate))
        try:
            history = self.fit(x, epochs=epochs, batch_size=batch_size, **fit_kwargs)
        finally:
            self._autoencoder_phase = False
            self.train_function = None
        log_var_layer = self.encoder.get_layer("z_log_var")
        kernel, bias = log_var_layer.get_weights()
        log_var_layer.set_weights([np.zeros_like(kernel), np.full_like(bias, -4.0)])
        return history

    def init_prior(self, x, method="gmm", batch_size=1024, num_init=5, seed=0, map_points=10000):
        """Phase 2 of the recipe: find K clusters in the codes of ``x`` and start the prior's components there.

        Args:
            x: images; their posterior means ``encode(x)`` are clustered.
            method: ``"gmm"``: VaDE's initialisation, scikit-learn's
                ``GaussianMixture`` (K components, diagonal covariances, the best of
                ``num_init`` starts) fitted to the codes and copied into the prior.
                ``"tsne"``: the codes of ``map_points`` images are laid out in 2-D
                by scikit-learn's ``TSNE``, k-means finds K clusters there, every
                other code joins the cluster of its nearest mapped neighbours, and
                each component is started at its cluster's mean and per-dimension
                variance (weights: the cluster sizes). Slower (about half a minute),
                far more reliable on MNIST: t-SNE keeps the neighbourhoods that a
                Gaussian fitted to the raw codes blurs together.
            num_init: starts of the Gaussian mixture, or of k-means on the map.
            seed: seed of the starts (and of t-SNE).
            map_points: images laid out by t-SNE (``"tsne"`` only).

        Returns:
            The cluster of every image of ``x``: integers in [0, K), shape (N,).
        """
        from sklearn.cluster import KMeans
        from sklearn.manifold import TSNE
        from sklearn.mixture import GaussianMixture
        from sklearn.neighbors import KNeighborsClassifier

        if method not in ("gmm", "tsne"):
            raise ValueError(f"Expected `method` to be 'gmm' or 'tsne'. Received: method={method!r}")
        num_init = check_positive_int(num_init, "num_init")
        map_points = check_positive_int(map_points, "map_points", minimum=self.num_components)
        codes = self.encode(x, batch_size=batch_size)[0].astype("float64")
        k = self.num_components
        if method == "gmm":
            mixture = GaussianMixture(k, covariance_type="diag", n_init=num_init, random_state=seed, reg_covar=1e-4).fit(codes)
            clusters = mixture.predict(codes)
            means, variances, weights = mixture.means_, mixture.covariances_, mixture.weights_
        else:
            picked = np.random.default_rng(seed).permutation(len(codes))[:map_points]
            layout = TSNE(2, init="pca", random_state=seed).fit_transform(codes[picked])
            mapped = KMeans(k, n_init=num_init, random_state=seed).fit_predict(layout)
            clusters = KNeighborsClassifier(10).fit(codes[picked], mapped).predict(codes)
            clusters[picked] = mapped
            counts = np.bincount(clusters, minlength=k)
            if np.any(counts < 2):
                raise ValueError(f"Expected every one of the {k} clusters to hold at least 2 codes. Received: sizes {counts.tolist()}")
            means = np.stack([codes[clusters == c].mean(axis=0) for c in range(k)])
            variances = np.stack([codes[clusters == c].var(axis=0) for c in range(k)]) + 1e-4
            weights = counts / counts.sum()
        if not self.learn_weights:
            weights = np.full(k, 1.0 / k)
        self.set_prior(means, np.log(variances), weights / weights.sum())
        return clusters.astype("int64")

    def fit_to_clusters(self, x, clusters, epochs=3, batch_size=256, learning_rate=1e-3, **fit_kwargs):
        """Phase 3 of the recipe: train with q(c | x) fixed to given clusters (one-hot), VaDE's KL otherwise.

        Any q(c | x) keeps the loss a bound on -log p(x); fixing it to the
        clusters of :meth:`init_prior` gathers each cluster's codes around its
        component before VaDE's q(c | x) = p(c | z) takes over, so the
        encoder's codes agree with the clustering found on the map rather than
        drifting towards the nearest component. The optimizer is replaced by
        Adam(``learning_rate``).

        Returns:
            The ``keras.callbacks.History`` of the phase.
        """
        clusters = np.asarray(clusters)
        if clusters.shape != (len(x),) or clusters.dtype.kind not in "iu" or clusters.min() < 0 or clusters.max() >= self.num_components:
            raise ValueError(
                f"Expected `clusters` of shape ({len(x)},), integers in [0, {self.num_components}). "
                f"Received: shape={clusters.shape}, dtype={clusters.dtype}"
            )
        self._fixed_assignments = True
        self.compile(optimizer=keras.optimizers.Adam(learning_rate))
        try:
            return self.fit(x, clusters.astype("int32"), epochs=epochs, batch_size=batch_size, **fit_kwargs)
        finally:
            self._fixed_assignments = False
            self.train_function = None

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
