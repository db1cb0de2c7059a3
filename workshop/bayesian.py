"""Bayesian neural networks by variational inference: a dense layer with random weights.

A Bayesian network treats its weights as random variables with a prior p(w) and
learns a factorised Gaussian q_phi(w) over them by maximising the ELBO

    E_{w ~ q} log p(Y | X, w) - KL(q(w) || p(w)),

the same objective as a VAE's, with the weights in place of the latent code.
Per training example (so that it can be minimised on minibatches) the loss is

    mean over the batch of -log p(y_i | x_i, w)  +  KL(q || p) / N,

with N the size of the training set. :class:`BayesianDense` adds its
``kl_weight * KL`` to the model's losses, so ``kl_weight=1 / N`` gives exactly
this objective in an ordinary compiled ``fit``.

Two priors:

* ``prior="gaussian"``: p(w) = N(0, prior_std^2) per weight; q has a mean and a
  parameter rho per weight with sigma = softplus(rho); the KL is in closed form
  (:func:`kl_to_gaussian_prior`).
* ``prior="log_uniform"``: p(log |w|) uniform, the prior of sparse variational
  dropout (Molchanov, Ashukha & Vetrov, 2017, arXiv:1701.05369). q is
  parameterised by its mean theta and log sigma^2 directly (the "additive"
  reparameterisation), the dropout rate is alpha = sigma^2 / theta^2, and the
  KL, which depends on log alpha only, uses the paper's approximation
  (:func:`kl_log_uniform`). Weights with log alpha > 3 are mostly noise and can
  be removed.

The NumPy functions ``reference_*`` (float64) are the references that the
tests and the exercise checks compare against.
"""

import math

import keras
import numpy as np
from keras import ops

from workshop import rng

__all__ = [
    "SPARSE_VD_K1",
    "SPARSE_VD_K2",
    "SPARSE_VD_K3",
    "BayesianDense",
    "KLAnnealing",
    "bayesian_layers",
    "kl_log_uniform",
    "kl_to_gaussian_prior",
    "mean_weight_predict",
    "negative_elbo_per_example",
    "predictive_samples",
    "reference_kl_log_uniform",
    "reference_kl_to_gaussian_prior",
    "sample_gaussian_weights",
    "softplus_inverse",
    "sparsity",
]

# Constants of the KL approximation of Molchanov, Ashukha & Vetrov (2017), eq. (14).
SPARSE_VD_K1 = 0.63576
SPARSE_VD_K2 = 1.87320
SPARSE_VD_K3 = 1.48695
PRIORS = ("gaussian", "log_uniform")
_EPS = 1e-8


# --------------------------------------------------------------------------- #
# The pieces, on tensors
# --------------------------------------------------------------------------- #
def softplus_inverse(x):
    """The rho with softplus(rho) = x, for x > 0 (NumPy, float64): log(exp(x) - 1), computed stably."""
    x = np.asarray(x, dtype="float64")
    if np.any(~np.isfinite(x)) or np.any(x <= 0):
        raise ValueError(f"Expected positive, finite values. Received: min={np.min(x)!r}")
    return x + np.log(-np.expm1(-x))


def sample_gaussian_weights(mean, rho, seed):
    """One draw w = mean + softplus(rho) * eps, eps ~ N(0, I), with an independent eps per weight.

    Args:
        mean, rho: tensors of the same shape (a kernel).
        seed: a ``keras.random.SeedGenerator`` (fresh noise at every call) or an integer.

    Returns:
        A tensor of the shape of ``mean``: a weight matrix drawn by reparameterisation,
        differentiable in ``mean`` and ``rho``.
    """
    eps = rng.normal(ops.shape(mean), seed, dtype=mean.dtype)
    return mean + ops.softplus(rho) * eps


def kl_to_gaussian_prior(mean, rho, prior_std=1.0):
    """KL(q || p) summed over all weights, q = N(mean, softplus(rho)^2), p = N(0, prior_std^2), in nats.

    Per weight: log(prior_std / sigma) + (sigma^2 + mean^2) / (2 prior_std^2) - 1/2.
    """
    sigma = ops.softplus(rho)
    prior_var = float(prior_std) ** 2
    per_weight = math.log(float(prior_std)) - ops.log(sigma) + (ops.square(sigma) + ops.square(mean)) / (2.0 * prior_var) - 0.5
    return ops.sum(per_weight)


def kl_log_uniform(log_alpha):
    """Sparse variational dropout's approximation of KL(q || log-uniform prior), summed, in nats.

    -KL is approximated by k1 sigmoid(k2 + k3 log alpha) - 0.5 log(1 + 1/alpha) - k1
    (Molchanov et al., 2017, eq. 14), accurate to about 0.01 nats per weight. It is
    0 as alpha -> infinity (a weight that is pure noise costs nothing) and grows
    like -0.5 log alpha as alpha -> 0.
    """
    per_weight = SPARSE_VD_K1 - SPARSE_VD_K1 * ops.sigmoid(SPARSE_VD_K2 + SPARSE_VD_K3 * log_alpha) + 0.5 * ops.softplus(-log_alpha)
    return ops.sum(per_weight)


def negative_elbo_per_example(nll, kl, num_train):
    """The minibatch loss of a Bayesian network: mean(nll) + kl / num_train, in nats per example.

    ``nll`` holds -log p(y_i | x_i, w) for the examples of one minibatch (one
    weight sample), ``kl`` is KL(q(w) || p(w)) for the whole network, and
    ``num_train`` the number of training examples N. The minibatch estimate of
    the full -ELBO is (N / B) sum_i nll_i + KL; divided by N it is this.
    """
    return ops.mean(nll) + kl / num_train


# --------------------------------------------------------------------------- #
# NumPy references (float64)
# --------------------------------------------------------------------------- #
def reference_kl_to_gaussian_prior(mean, rho, prior_std=1.0):
    """NumPy reference of :func:`kl_to_gaussian_prior` (float64, summed over all weights)."""
    mean, rho = np.asarray(mean, dtype="float64"), np.asarray(rho, dtype="float64")
    sigma = np.logaddexp(0.0, rho)
    prior_std = float(prior_std)
    return float(np.sum(np.log(prior_std / sigma) + (sigma**2 + mean**2) / (2 * prior_std**2) - 0.5))


def reference_kl_log_uniform(log_alpha, axis=None):
    """NumPy reference of :func:`kl_log_uniform` (float64); ``axis=None`` sums everything, else per weight if ``axis=False``."""
    log_alpha = np.asarray(log_alpha, dtype="float64")
    sigmoid = 1.0 / (1.0 + np.exp(-(SPARSE_VD_K2 + SPARSE_VD_K3 * log_alpha)))
    per_weight = SPARSE_VD_K1 - SPARSE_VD_K1 * sigmoid + 0.5 * np.logaddexp(0.0, -log_alpha)
    if axis is False:
        return per_weight
    return float(np.sum(per_weight)) if axis is None else np.sum(per_weight, axis=axis)


# --------------------------------------------------------------------------- #
# The layer
# --------------------------------------------------------------------------- #
def _positive_number(value, name):
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float, np.integer, np.floating))
        or not (math.isfinite(float(value)) and float(value) > 0)
    ):
        raise ValueError(f"Expected `{name}` to be a positive number. Received: {name}={value!r}")
    return float(value)


@keras.saving.register_keras_serializable(package="workshop")
class BayesianDense(keras.layers.Layer):
    """A dense layer whose kernel is random: w ~ q(w) = N(mean, sigma^2), one Gaussian per weight.

    Every call draws the kernel by reparameterisation, w = mean + sigma * eps with
    eps from the layer's own ``keras.random.SeedGenerator`` (fresh noise at every
    call, compiled or eager; the same ``seed`` repeats the sequence), and adds
    ``kl_weight * KL(q(w) || p(w))`` to the layer's losses, which Keras adds to the
    training loss. With ``kl_weight = 1 / N`` (N training examples) and a loss
    averaged over the batch, ``fit`` minimises the negative ELBO per example.
    ``kl_weight`` is a non-trainable variable: assign to it (see
    :class:`KLAnnealing`) to anneal the KL during training. The bias is an
    ordinary (point-estimated) parameter.

    With ``local_reparameterization=True``, training calls sample the
    pre-activations instead of the kernel: for q factorised over weights,
    x @ w is Gaussian with mean x @ mean and variance x^2 @ sigma^2, so each
    example gets its own independent weights at the cost of one extra matrix
    product, which lowers the variance of the gradient (Kingma, Salimans &
    Welling, 2015). Calls with ``training`` false always draw one kernel for the
    whole batch, so a prediction is one coherent function.

    Args:
        units: number of output units.
        activation: a Keras activation (name or callable), or None.
        prior: ``"gaussian"`` (N(0, prior_std^2), sigma = softplus(rho), closed-form KL)
            or ``"log_uniform"`` (sparse variational dropout: parameters theta and
            log sigma^2, KL by the approximation of Molchanov et al., 2017).
        prior_std: the standard deviation of the Gaussian prior.
        kl_weight: the factor on the KL added to the losses; 1 / N for the ELBO per example.
        init_std: the initial sigma of every weight.
        local_reparameterization: sample pre-activations (not the kernel) in training calls.
        log_alpha_clip: log alpha is clipped to [-log_alpha_clip, log_alpha_clip]
            in the log-uniform KL and in the additive parameterisation's noise.
        kernel_initializer: initialiser of the kernel means.
        seed: an integer to make the draws repeatable, or None.
        **kwargs: base layer keyword arguments, such as ``name``.

    Call arguments:
        inputs: a tensor of shape (N, input_dim).
        training: whether the call is a training step (matters only with
            ``local_reparameterization=True``).

    Returns:
        A tensor of shape (N, units).

    Example:
        >>> layer = BayesianDense(50, activation="tanh", kl_weight=1 / 1000, seed=0)
        >>> y = layer(np.zeros((8, 1), "float32"))   # one kernel drawn; layer.losses holds the KL
    """

    def __init__(
        self,
        units,
        activation=None,
        prior="gaussian",
        prior_std=1.0,
        kl_weight=1.0,
        init_std=1e-3,
        local_reparameterization=False,
        log_alpha_clip=8.0,
        kernel_initializer="glorot_uniform",
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if isinstance(units, bool) or not isinstance(units, (int, np.integer)) or units < 1:
            raise ValueError(f"Expected `units` to be a positive integer. Received: units={units!r}")
        if prior not in PRIORS:
            raise ValueError(f"Expected `prior` to be one of {PRIORS}. Received: prior={prior!r}")
        if (
            isinstance(kl_weight, bool)
            or not isinstance(kl_weight, (int, float, np.integer, np.floating))
            or not (math.isfinite(float(kl_weight)) and float(kl_weight) >= 0)
        ):
            raise ValueError(f"Expected `kl_weight` to be a non-negative number. Received: kl_weight={kl_weight!r}")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
            raise ValueError(f"Expected `seed` to be an integer or None. Received: seed={seed!r}")
        self.units = int(units)
        self.activation = keras.activations.get(activation)
        self.prior = prior
        self.prior_std = _positive_number(prior_std, "prior_std")
        self.initial_kl_weight = float(kl_weight)
        self.init_std = _positive_number(init_std, "init_std")
        self.local_reparameterization = bool(local_reparameterization)
        self.log_alpha_clip = _positive_number(log_alpha_clip, "log_alpha_clip")
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.seed = None if seed is None else int(seed)
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.kl_weight = self.add_weight(
            shape=(),
            initializer=keras.initializers.Constant(self.initial_kl_weight),
            trainable=False,
            name="kl_weight",
        )

    def build(self, input_shape):
        input_dim = input_shape[-1]
        if input_dim is None:
            raise ValueError(f"Expected inputs with a known last dimension. Received: input_shape={input_shape}")
        shape = (int(input_dim), self.units)
        self.kernel_mean = self.add_weight(shape=shape, initializer=self.kernel_initializer, name="kernel_mean")
        if self.prior == "gaussian":
            # sigma = softplus(rho): any real rho gives a valid, positive sigma.
            rho = float(softplus_inverse(self.init_std))
            self.kernel_rho = self.add_weight(shape=shape, initializer=keras.initializers.Constant(rho), name="kernel_rho")
        else:
            # Additive reparameterisation: sigma^2 is a parameter of its own, not alpha * theta^2.
            log_sigma2 = 2.0 * math.log(self.init_std)
            self.kernel_log_sigma2 = self.add_weight(
                shape=shape, initializer=keras.initializers.Constant(log_sigma2), name="kernel_log_sigma2"
            )
        self.bias = self.add_weight(shape=(self.units,), initializer="zeros", name="bias")

    # -- the distribution q(w) ------------------------------------------------ #
    def kernel_variance(self):
        """sigma^2 of every kernel weight (same shape as the kernel)."""
        if self.prior == "gaussian":
            return ops.square(ops.softplus(self.kernel_rho))
        return ops.exp(ops.clip(self.kernel_log_sigma2, -30.0, 10.0))

    def log_alpha(self):
        """log alpha = log sigma^2 - log mean^2 per weight, clipped to [-log_alpha_clip, log_alpha_clip]."""
        log_alpha = ops.log(self.kernel_variance() + _EPS) - ops.log(ops.square(self.kernel_mean) + _EPS)
        return ops.clip(log_alpha, -self.log_alpha_clip, self.log_alpha_clip)

    def sample_kernel(self):
        """One draw of the kernel by reparameterisation (fresh noise at every call)."""
        if self.prior == "gaussian":
            return sample_gaussian_weights(self.kernel_mean, self.kernel_rho, self.seed_generator)
        eps = rng.normal(ops.shape(self.kernel_mean), self.seed_generator, dtype=self.kernel_mean.dtype)
        return self.kernel_mean + ops.sqrt(self.kernel_variance()) * eps

    def kl_divergence(self):
        """KL(q(w) || p(w)) summed over the kernel, in nats (not multiplied by ``kl_weight``)."""
        if self.prior == "gaussian":
            return kl_to_gaussian_prior(self.kernel_mean, self.kernel_rho, self.prior_std)
        return kl_log_uniform(self.log_alpha())

    def mean_kernel(self, prune_threshold=None):
        """The expected kernel E_q[w] = mean, with weights whose log alpha exceeds ``prune_threshold`` set to 0."""
        kernel = self.kernel_mean
        if prune_threshold is not None:
            kernel = ops.where(self.log_alpha() > prune_threshold, ops.zeros_like(kernel), kernel)
        return kernel

    # -- forward passes ------------------------------------------------------- #
    def call(self, inputs, training=None):
        inputs = ops.cast(inputs, self.compute_dtype)
        if self.local_reparameterization and training:
            mean = ops.matmul(inputs, self.kernel_mean)
            variance = ops.matmul(ops.square(inputs), self.kernel_variance())
            eps = rng.normal(ops.shape(mean), self.seed_generator, dtype=mean.dtype)
            outputs = mean + ops.sqrt(variance + _EPS) * eps
        else:
            outputs = ops.matmul(inputs, self.sample_kernel())
        self.add_loss(ops.cast(self.kl_weight, outputs.dtype) * self.kl_divergence())
        return self._finish(outputs)

    def deterministic_call(self, inputs, prune_threshold=None):
        """The layer with its expected kernel (optionally pruned): no noise, no KL added."""
        inputs = ops.cast(inputs, self.compute_dtype)
        return self._finish(ops.matmul(inputs, self.mean_kernel(prune_threshold)))

    def _finish(self, outputs):
        outputs = outputs + self.bias
        return outputs if self.activation is None else self.activation(outputs)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def get_config(self):
        base_config = super().get_config()
        config = {
            "units": self.units,
            "activation": keras.activations.serialize(self.activation) if self.activation is not None else None,
            "prior": self.prior,
            "prior_std": self.prior_std,
            "kl_weight": self.initial_kl_weight,
            "init_std": self.init_std,
            "local_reparameterization": self.local_reparameterization,
            "log_alpha_clip": self.log_alpha_clip,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "seed": self.seed,
        }
        return {**base_config, **config}


# --------------------------------------------------------------------------- #
# Training and prediction helpers
# --------------------------------------------------------------------------- #
def bayesian_layers(model):
    """The :class:`BayesianDense` layers of a model, in order."""
    return [layer for layer in model._flatten_layers(include_self=False) if isinstance(layer, BayesianDense)]


class KLAnnealing(keras.callbacks.Callback):
    """Raise every BayesianDense's ``kl_weight`` linearly from 0 to ``final_weight`` over ``epochs`` epochs.

    Sparse variational dropout starts from a network that fits the data and lets
    the KL push weights toward noise gradually; switching the full KL on at once
    can remove weights before the data term has had a say.

    Args:
        final_weight: the weight reached at the end (1 / N for the ELBO per example).
        epochs: number of epochs of the ramp; the weight is ``final_weight * epoch / epochs``
            during epoch ``epoch`` (0-based), then ``final_weight``.
    """

    def __init__(self, final_weight, epochs):
        super().__init__()
        if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 1:
            raise ValueError(f"Expected `epochs` to be a positive integer. Received: epochs={epochs!r}")
        self.final_weight = float(final_weight)
        self.epochs = int(epochs)

    def on_epoch_begin(self, epoch, logs=None):
        value = self.final_weight * min(1.0, epoch / self.epochs)
        for layer in bayesian_layers(self.model):
            layer.kl_weight.assign(value)


def _check_model_input(x):
    x = np.asarray(x, dtype="float32")
    if x.ndim < 2 or x.shape[0] == 0 or not np.all(np.isfinite(x)):
        raise ValueError(f"Expected a non-empty, finite array of shape (N, features). Received: shape={x.shape}")
    return x


def predictive_samples(model, x, num_samples, batch_size=None):
    """Outputs of ``model`` for ``num_samples`` independent weight draws: array (num_samples, N, ...).

    Each forward pass (``training=False``) draws one set of weights for all of ``x``,
    so each slice is one function sampled from q(w).
    """
    if isinstance(num_samples, bool) or not isinstance(num_samples, (int, np.integer)) or num_samples < 1:
        raise ValueError(f"Expected `num_samples` to be a positive integer. Received: num_samples={num_samples!r}")
    x = _check_model_input(x)
    # predict_on_batch runs the model's compiled predict function: one weight draw per call.
    return np.stack([np.asarray(model.predict_on_batch(x)) for _ in range(int(num_samples))])


def mean_weight_predict(model, x, prune_threshold=None, batch_size=4096):
    """Outputs of a stack of layers with every BayesianDense replaced by its expected kernel.

    Works for a ``keras.Sequential`` model (or any model whose layers apply one
    after the other). With ``prune_threshold`` (for example 3.0), kernel weights
    whose log alpha exceeds it are removed (set to zero) first.
    """
    x = _check_model_input(x)
    outputs = []
    for start in range(0, len(x), batch_size):
        h = ops.convert_to_tensor(x[start : start + batch_size])
        for layer in model.layers:
            if isinstance(layer, BayesianDense):
                h = layer.deterministic_call(h, prune_threshold)
            else:
                h = layer(h, training=False)
        outputs.append(np.asarray(h))
    return np.concatenate(outputs)


def sparsity(model, threshold=3.0):
    """Fraction of kernel weights (over all BayesianDense layers) with log alpha > threshold, and the counts.

    Returns:
        ``(fraction_removed, removed, total)``.
    """
    removed = total = 0
    for layer in bayesian_layers(model):
        log_alpha = np.asarray(layer.log_alpha())
        removed += int(np.sum(log_alpha > threshold))
        total += int(log_alpha.size)
    if total == 0:
        raise ValueError("Expected a model with at least one BayesianDense layer. Received: none found")
    return removed / total, removed, total
