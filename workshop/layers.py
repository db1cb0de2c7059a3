"""The reparameterisation layer."""

import keras
from keras import ops

from workshop import rng
from workshop.losses import clip_log_var


@keras.saving.register_keras_serializable(package="workshop")
class Sampling(keras.layers.Layer):
    """Draws z ~ N(z_mean, diag exp(z_log_var)) by the reparameterisation trick.

    The noise is drawn as eps ~ N(0, I) and shifted and scaled,
    z = z_mean + exp(z_log_var / 2) * eps, so z is a differentiable function of
    the encoder's outputs and gradients flow back through it. The layer owns a
    ``keras.random.SeedGenerator``: every call, compiled or eager, draws fresh
    noise, and the same ``seed`` repeats the same sequence of draws. The noise
    is drawn with Philox named (:func:`workshop.rng.normal`): ``keras.random.normal``
    leaves the algorithm to TensorFlow, whose choice made XLA's CPU step up to 2x slower.
    ``z_log_var`` is clipped to [-20, 20] before it is exponentiated.

    Args:
        seed: an integer to make the draws repeatable, or None.
        **kwargs: base layer keyword arguments, such as ``name``.

    Call arguments:
        inputs: a list ``[z_mean, z_log_var]`` of two tensors of shape (N, latent_dim).

    Returns:
        A tensor z of shape (N, latent_dim).
    """

    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs):
        z_mean, z_log_var = inputs
        eps = rng.normal(ops.shape(z_mean), self.seed_generator, dtype=z_mean.dtype)
        return z_mean + ops.exp(0.5 * clip_log_var(z_log_var)) * eps

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self):
        base_config = super().get_config()
        config = {"seed": self.seed}
        return {**base_config, **config}
