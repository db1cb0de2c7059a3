"""The two terms of the VAE loss, on tensors (``keras.ops``), per image.

Both terms are summed over their dimensions (pixels, latent units) and
returned per image, so that callers average over the batch: averaging over
pixels instead would shrink the reconstruction term 784-fold against the KL
and push the model toward posterior collapse.

Numerics:
    * The Bernoulli term is computed from logits in the form
      ``max(l, 0) - l * x + log(1 + exp(-|l|))``, finite for any logit.
    * ``z_log_var`` is clipped to ``[-LOG_VAR_LIMIT, LOG_VAR_LIMIT]``
      (``LOG_VAR_LIMIT = 20``, i.e. sigma between 4.5e-5 and 2.2e4) wherever it is
      exponentiated, so that ``exp`` cannot overflow float32; inside the limit
      nothing changes.
"""

import math

from keras import ops

LOG_VAR_LIMIT = 20.0


def clip_log_var(z_log_var):
    """Clip log-variances to [-LOG_VAR_LIMIT, LOG_VAR_LIMIT] so exp() stays finite in float32."""
    return ops.clip(z_log_var, -LOG_VAR_LIMIT, LOG_VAR_LIMIT)


def _flatten(t):
    return ops.reshape(t, (ops.shape(t)[0], -1))


def bernoulli_reconstruction_loss(x, logits):
    """-log p(x | z) for independent Bernoulli pixels, summed over pixels: shape (N,), nats.

    Args:
        x: targets in [0, 1], shape (N, ...).
        logits: decoder logits, same shape as ``x``.
    """
    x = ops.cast(_flatten(x), logits.dtype)
    logits = _flatten(logits)
    per_pixel = ops.relu(logits) - logits * x + ops.log1p(ops.exp(-ops.abs(logits)))
    return ops.sum(per_pixel, axis=-1)


def gaussian_reconstruction_loss(x, logits, sigma):
    """-log N(x; sigmoid(logits), sigma^2 I), summed over pixels: shape (N,), nats.

    The decoder mean is ``sigmoid(logits)`` (so decoded images stay in [0, 1]),
    ``sigma`` is a fixed standard deviation. The loss is the squared error
    scaled by 1 / (2 sigma^2) plus the normalising constant D * log(sigma sqrt(2 pi)).
    """
    x = ops.cast(_flatten(x), logits.dtype)
    mean = ops.sigmoid(_flatten(logits))
    num_pixels = ops.cast(ops.shape(x)[-1], logits.dtype)
    squared = ops.sum(ops.square(x - mean), axis=-1)
    return squared / (2.0 * sigma**2) + num_pixels * (math.log(sigma) + 0.5 * math.log(2.0 * math.pi))


def kl_standard_normal(z_mean, z_log_var):
    """KL(N(z_mean, diag exp(z_log_var)) || N(0, I)), summed over latent dimensions: shape (N,), nats."""
    z_log_var = clip_log_var(z_log_var)
    return 0.5 * ops.sum(ops.exp(z_log_var) + ops.square(z_mean) - 1.0 - z_log_var, axis=-1)


def gaussian_log_density(z, mean, log_var):
    """log N(z; mean, diag exp(log_var)) summed over the last axis, on tensors."""
    log_var = clip_log_var(log_var)
    return -0.5 * ops.sum(math.log(2.0 * math.pi) + log_var + ops.square(z - mean) * ops.exp(-log_var), axis=-1)


def kl_per_dimension(z_mean, z_log_var):
    """KL(q(z_j | x) || N(0, 1)) for each image and latent dimension: shape (N, latent_dim), nats."""
    z_log_var = clip_log_var(z_log_var)
    return 0.5 * (ops.exp(z_log_var) + ops.square(z_mean) - 1.0 - z_log_var)


def free_bits_kl(z_mean, z_log_var, free_bits):
    """The free-bits KL penalty of a batch (Kingma et al., 2016): sum_j max(lambda, mean_batch KL_j).

    Each latent dimension's KL, averaged over the batch, is floored at
    ``free_bits`` (lambda, nats): below the floor a dimension pays a constant,
    so the loss no longer pushes its KL to zero. With ``free_bits = 0`` this is
    the batch-mean KL. Returns a scalar tensor.
    """
    return ops.sum(ops.maximum(ops.mean(kl_per_dimension(z_mean, z_log_var), axis=0), free_bits))


def kl_warmup_weight(epoch, warmup_epochs):
    """The KL weight at the START of epoch ``epoch`` (0-based) of a linear warm-up over ``warmup_epochs``.

    ``min(1, epoch / warmup_epochs)``: 0 for the first epoch, 1 from epoch
    ``warmup_epochs`` on; ``warmup_epochs = 0`` means no warm-up (always 1).
    """
    if warmup_epochs <= 0:
        return 1.0
    return min(1.0, epoch / warmup_epochs)
