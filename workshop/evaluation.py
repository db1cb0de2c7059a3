"""Numbers that say how good a trained VAE is, and how it uses its latent space.

Three questions, three functions:

- How well does it model the test images? :func:`evaluate_model` reports the
  negative ELBO (the training loss with ``beta = 1``) and the importance-weighted
  estimate of log p(x) with K samples (Burda, Grosse and Salakhutdinov, 2016),
  both in nats per image. The second is a tighter lower bound on the true
  log-likelihood, so it is the number to compare between models.
- Where does the KL go? :func:`kl_per_dimension` splits the average
  KL(q(z | x) || N(0, I)) into one term per latent dimension.
- Which dimensions carry information? :func:`active_units` counts the
  dimensions whose posterior mean changes with the input. A dimension whose
  posterior is the same for every image ("posterior collapse") has a KL near
  zero and tells the decoder nothing.

All functions take any object with the models' ``encode`` method, so they work
on a :class:`~workshop.models.VAE`, a :class:`~workshop.models.ConditionalVAE`
(pass ``labels``) or a stand-in written for a test.
"""

import math

import numpy as np

from workshop.losses import LOG_VAR_LIMIT
from workshop.probability import kl_to_standard_normal
from workshop.validation import check_images, check_positive_int


def _encode(model, x, labels):
    if not hasattr(model, "encode"):
        raise ValueError(f"Expected a model with an `encode` method (a VAE). Received: {type(model).__name__}")
    z_mean, z_log_var = model.encode(x) if labels is None else model.encode(x, labels)
    z_mean = np.asarray(z_mean, dtype="float64")
    z_log_var = np.asarray(z_log_var, dtype="float64")
    if z_mean.ndim != 2 or z_mean.shape != z_log_var.shape or z_mean.shape[0] == 0:
        raise ValueError(
            "Expected `encode` to return (z_mean, z_log_var) of the same shape (N, latent_dim). "
            f"Received: shapes {z_mean.shape} and {z_log_var.shape}"
        )
    return z_mean, z_log_var


def kl_per_dimension(model, x, labels=None):
    """Average KL(q(z_j | x) || N(0, 1)) over the images, one value per latent dimension.

    Because the posterior is a diagonal Gaussian, the KL term of the ELBO is a
    sum of independent per-dimension terms; the values returned add up to the
    model's average ``kl_loss`` on ``x``. Dimensions near zero are unused: the
    encoder gives them the prior whatever the image.

    Log-variances are clipped to ``[-LOG_VAR_LIMIT, LOG_VAR_LIMIT]`` as in the
    training loss, so the numbers match it exactly.

    Args:
        model: a VAE (anything with ``encode(x) -> (z_mean, z_log_var)``).
        x: images, shape (N, 28, 28, 1), (N, 28, 28) or (N, 784), values in [0, 1].
        labels: class labels, for a ConditionalVAE only.

    Returns:
        A float64 array of shape (latent_dim,), in nats.
    """
    z_mean, z_log_var = _encode(model, check_images(x), labels)
    z_log_var = np.clip(z_log_var, -LOG_VAR_LIMIT, LOG_VAR_LIMIT)
    return kl_to_standard_normal(z_mean, z_log_var, axis=None).mean(axis=0)


def active_units(model, x, labels=None, threshold=1e-2):
    """Count the latent dimensions whose posterior mean depends on the input.

    Burda et al. (2016) measure the activity of dimension u as
    ``A_u = Cov_x(E_q[z_u | x])``: the variance, over the images, of the
    posterior mean. An inactive dimension encodes every image the same way,
    so the decoder cannot use it. A unit counts as active when
    ``A_u > threshold`` (their choice: 0.01).

    Args:
        model: a VAE (anything with ``encode(x) -> (z_mean, z_log_var)``).
        x: images, shape (N, 28, 28, 1), (N, 28, 28) or (N, 784), values in [0, 1].
        labels: class labels, for a ConditionalVAE only.
        threshold: the activity above which a unit is active.

    Returns:
        ``(count, variances)``: the number of active units (an int) and the
        activities ``A_u`` as a float64 array of shape (latent_dim,).
    """
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float, np.integer, np.floating)) or not threshold >= 0:
        raise ValueError(f"Expected `threshold` to be a number >= 0. Received: threshold={threshold!r}")
    z_mean, _ = _encode(model, check_images(x), labels)
    variances = z_mean.var(axis=0)
    return int(np.sum(variances > threshold)), variances


def evaluate_model(model, x, labels=None, num_samples=100, seed=0):
    """Evaluate a trained VAE on images: -ELBO, log-likelihood, KL per dimension, active units.

    Args:
        model: a trained :class:`~workshop.models.VAE` or ConditionalVAE.
        x: test images, shape (N, 28, 28, 1), (N, 28, 28) or (N, 784), values in [0, 1].
        labels: class labels, required for a ConditionalVAE.
        num_samples: K, the number of importance samples per image of the
            log-likelihood estimate (larger is tighter and slower).
        seed: makes the sampled estimates repeatable.

    Returns:
        A dict of plain Python numbers (ready for ``json.dump``):

        - ``neg_elbo``: mean -ELBO (``beta = 1``, one sample of z per image), nats per image;
        - ``log_likelihood``: mean importance-weighted estimate of log p(x) with K samples;
          on average it is at least ``-neg_elbo`` and rises towards log p(x) as K grows;
        - ``kl``: mean KL(q(z | x) || N(0, I)), the sum of ``kl_per_dimension``;
        - ``kl_per_dimension``: list of per-dimension mean KLs (nats);
        - ``active_units``: the number of active latent dimensions (threshold 0.01);
        - ``latent_dim``, ``num_images``, ``num_samples``.
    """
    x = check_images(x)
    num_samples = check_positive_int(num_samples, "num_samples")
    seed = check_positive_int(seed, "seed", minimum=0)
    if labels is None:
        elbo = model.elbo(x, num_samples=1, seed=seed)
        log_px = model.log_likelihood(x, num_samples=num_samples, seed=seed + 1)
    else:
        elbo = model.elbo(x, labels, num_samples=1, seed=seed)
        log_px = model.log_likelihood(x, labels, num_samples=num_samples, seed=seed + 1)
    kl = kl_per_dimension(model, x, labels)
    count, _ = active_units(model, x, labels)
    return {
        "neg_elbo": float(-np.mean(elbo)),
        "log_likelihood": float(np.mean(log_px)),
        "kl": float(np.sum(kl)),
        "kl_per_dimension": [float(v) for v in kl],
        "active_units": count,
        "latent_dim": int(len(kl)),
        "num_images": int(len(x)),
        "num_samples": num_samples,
    }


# --------------------------------------------------------------------------- #
# Notebook 08: the importance-weighted bound over K, and the two gaps
# --------------------------------------------------------------------------- #
def log_mean_exp(a, axis=-1):
    """log(mean(exp(a))) along ``axis``, computed without overflow or underflow (NumPy, float64).

    The largest entry is taken out first: ``m + log(mean(exp(a - m)))``, so every
    exponent is at most 0 and the largest term is exactly 1. Log-weights of real
    images are around -100 nats, where ``exp`` alone underflows to 0.
    """
    a = np.asarray(a, dtype="float64")
    m = np.max(a, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    return np.squeeze(m, axis=axis) + np.log(np.mean(np.exp(a - m), axis=axis))


def _check_proposal(z_mean, z_log_var, n, latent_dim):
    z_mean = np.asarray(z_mean, dtype="float32")
    z_log_var = np.asarray(z_log_var, dtype="float32")
    if z_mean.shape != (n, latent_dim) or z_log_var.shape != (n, latent_dim):
        raise ValueError(f"Expected z_mean and z_log_var of shape ({n}, {latent_dim}). Received: {z_mean.shape} and {z_log_var.shape}")
    return z_mean, z_log_var


def importance_log_weights(model, x, num_samples, seed=0, proposal=None, max_rows=32768):
    """Log importance weights ``log p(x, z_k) - log q(z_k | x)``, z_k ~ q(z | x): shape (N, K), float64.

    ``log_mean_exp`` of a row is the K-sample importance-weighted bound of that
    image (Burda et al., 2016); the mean of a row is a K-sample estimate of the
    ELBO. ``proposal = (z_mean, z_log_var)`` replaces the encoder's q (for
    example by the per-image optimum of :func:`optimize_posterior`). At most
    ``max_rows`` decoder evaluations are held at once. Unconditional VAEs only.
    """
    import keras
    from keras import ops

    from workshop import losses

    x = check_images(x)
    num_samples = check_positive_int(num_samples, "num_samples")
    if getattr(model, "conditional", False):
        raise ValueError("Expected an unconditional VAE. Received: a ConditionalVAE")
    if proposal is None:
        z_mean_all, z_log_var_all = model.encode(x)
    else:
        z_mean_all, z_log_var_all = _check_proposal(*proposal, len(x), model.latent_dim)
    generator = keras.random.SeedGenerator(seed)
    d = model.latent_dim
    chunk = max(1, min(num_samples, max_rows))
    batch = max(1, max_rows // chunk)
    out = np.empty((len(x), num_samples))
    for i in range(0, len(x), batch):
        xb = ops.reshape(ops.convert_to_tensor(x[i : i + batch]), (-1, 1, 784))
        b = int(xb.shape[0])
        mean = ops.convert_to_tensor(z_mean_all[i : i + batch])[:, None, :]
        log_var = losses.clip_log_var(ops.convert_to_tensor(z_log_var_all[i : i + batch]))[:, None, :]
        for start in range(0, num_samples, chunk):
            k = min(chunk, num_samples - start)
            z = mean + ops.exp(0.5 * log_var) * keras.random.normal((b, k, d), seed=generator)
            logits = model.decoder(ops.reshape(z, (b * k, d)), training=False)
            x_rep = ops.reshape(ops.broadcast_to(xb, (b, k, 784)), (b * k, 784))
            log_px_z = -ops.reshape(model.reconstruction_loss(x_rep, ops.reshape(logits, (b * k, 784))), (b, k))
            log_pz = -0.5 * ops.sum(ops.square(z) + math.log(2 * math.pi), axis=-1)
            log_qz = losses.gaussian_log_density(z, mean, log_var)
            out[i : i + b, start : start + k] = ops.convert_to_numpy(log_px_z + log_pz - log_qz)
    return out


def iwae_curve(model, x, ks, num_samples=None, seed=0, proposal=None):
    """The importance-weighted bound for each K in ``ks``, per image, with its Monte Carlo spread.

    ``num_samples`` (default ``2 * max(ks)``) log-weights are drawn per image and
    split into disjoint groups of K; each group gives one independent K-sample
    estimate. For each image and K this returns the mean over the groups and the
    standard deviation of ONE K-sample estimate (NaN when only one group fits).

    Returns:
        A dict: ``ks`` (list), ``bound`` and ``std`` (float64 arrays of shape
        (N, len(ks)), nats), ``groups`` (list: how many estimates were averaged).
    """
    ks = [check_positive_int(k, "ks entries") for k in ks]
    if not ks:
        raise ValueError("Expected at least one K in `ks`. Received: []")
    num_samples = 2 * max(ks) if num_samples is None else check_positive_int(num_samples, "num_samples")
    if num_samples < max(ks):
        raise ValueError(f"Expected num_samples >= max(ks) = {max(ks)}. Received: num_samples={num_samples}")
    log_w = importance_log_weights(model, x, num_samples, seed=seed, proposal=proposal)
    bound, std, groups = [], [], []
    for k in ks:
        g = num_samples // k
        estimates = log_mean_exp(log_w[:, : g * k].reshape(len(log_w), g, k), axis=-1)  # (N, g)
        bound.append(estimates.mean(axis=1))
        std.append(estimates.std(axis=1, ddof=1) if g > 1 else np.full(len(log_w), np.nan))
        groups.append(g)
    return {"ks": ks, "bound": np.stack(bound, axis=1), "std": np.stack(std, axis=1), "groups": groups}


def elbo_of_posterior(model, x, z_mean, z_log_var, num_samples=100, seed=0):
    """The ELBO of each image under a GIVEN diagonal Gaussian q = N(z_mean, exp(z_log_var)): shape (N,), nats.

    E_q[log p(x | z)] by ``num_samples`` reparameterised draws, minus the exact
    KL(q || N(0, I)). With the encoder's (z_mean, z_log_var) it estimates ``model.elbo``.
    """
    x = check_images(x)
    num_samples = check_positive_int(num_samples, "num_samples")
    z_mean, z_log_var = _check_proposal(z_mean, z_log_var, len(x), model.latent_dim)
    return _elbo_exact_kl(model, x, z_mean, z_log_var, num_samples, seed)


def _elbo_exact_kl(model, x, z_mean, z_log_var, num_samples, seed):
    import keras
    from keras import ops

    from workshop import losses

    x = check_images(x)
    generator = keras.random.SeedGenerator(seed)
    out = np.empty(len(x))
    batch = max(1, 32768 // num_samples)
    d = model.latent_dim
    for i in range(0, len(x), batch):
        xb = ops.reshape(ops.convert_to_tensor(x[i : i + batch]), (-1, 1, 784))
        b = int(xb.shape[0])
        mean = ops.convert_to_tensor(z_mean[i : i + batch])
        log_var = losses.clip_log_var(ops.convert_to_tensor(z_log_var[i : i + batch]))
        z = mean[:, None, :] + ops.exp(0.5 * log_var)[:, None, :] * keras.random.normal((b, num_samples, d), seed=generator)
        logits = model.decoder(ops.reshape(z, (b * num_samples, d)), training=False)
        x_rep = ops.reshape(ops.broadcast_to(xb, (b, num_samples, 784)), (b * num_samples, 784))
        rec = ops.reshape(model.reconstruction_loss(x_rep, ops.reshape(logits, (b * num_samples, 784))), (b, num_samples))
        out[i : i + b] = ops.convert_to_numpy(-ops.mean(rec, axis=1) - losses.kl_standard_normal(mean, log_var))
    return out


def optimize_posterior(model, x, steps=300, learning_rate=1e-2, num_samples=8, seed=0, init=None):
    """The best diagonal Gaussian q(z) for EACH image, with the decoder frozen (Cremer et al., 2018).

    Starting from the encoder's (z_mean, z_log_var) (or ``init``), Adam maximises
    every image's own ELBO over its mean and log-variance, with ``num_samples``
    reparameterised draws per step; the decoder's weights are not touched.

    Returns:
        ``(z_mean, z_log_var)``, float32 arrays of shape (N, latent_dim).
    """
    import keras
    import tensorflow as tf
    from keras import ops

    from workshop import losses

    x = check_images(x)
    steps = check_positive_int(steps, "steps")
    num_samples = check_positive_int(num_samples, "num_samples")
    z_mean0, z_log_var0 = model.encode(x) if init is None else _check_proposal(*init, len(x), model.latent_dim)
    n, d = z_mean0.shape
    mean = tf.Variable(np.asarray(z_mean0, "float32"))
    log_var = tf.Variable(np.asarray(z_log_var0, "float32"))
    optimizer = keras.optimizers.Adam(learning_rate)
    optimizer.build([mean, log_var])
    x_rep = tf.constant(np.repeat(x.reshape(n, 1, 784), num_samples, axis=1).reshape(n * num_samples, 784))
    generator = keras.random.SeedGenerator(seed)
    decoder = model.decoder

    @tf.function(jit_compile=False)
    def step():
        eps = keras.random.normal((n, num_samples, d), seed=generator)
        with tf.GradientTape() as tape:
            z = mean[:, None, :] + ops.exp(0.5 * losses.clip_log_var(log_var))[:, None, :] * eps
            logits = decoder(ops.reshape(z, (n * num_samples, d)), training=False)
            rec = ops.reshape(model.reconstruction_loss(x_rep, ops.reshape(logits, (n * num_samples, 784))), (n, num_samples))
            neg_elbo = ops.sum(ops.mean(rec, axis=1) + losses.kl_standard_normal(mean, log_var))
        grads = tape.gradient(neg_elbo, [mean, log_var])
        optimizer.apply(grads, [mean, log_var])
        return neg_elbo

    for _ in range(steps):
        step()
    return mean.numpy(), log_var.numpy()


def inference_gaps(model, x, steps=300, learning_rate=1e-2, num_samples=8, elbo_samples=200, iwae_samples=1000, seed=0):
    """Split log p(x) - ELBO into the approximation and the amortisation gap, per image (nats).

    - ``elbo_encoder``: the ELBO with the encoder's q(z | x);
    - ``elbo_optimal``: the ELBO with q*, the best diagonal Gaussian for that image
      (:func:`optimize_posterior`, decoder frozen);
    - ``log_px``: the larger of the two K-sample importance-weighted bounds (the
      encoder's q and q* as proposals, ``K = iwae_samples``), a lower bound on log p(x);
    - ``approximation_gap = log_px - elbo_optimal`` (what a diagonal Gaussian cannot fit),
      ``amortisation_gap = elbo_optimal - elbo_encoder`` (what one shared encoder loses).

    Returns a dict of float64 arrays of shape (N,), plus ``z_mean``/``z_log_var`` of q*.
    """
    x = check_images(x)
    z_mean, z_log_var = model.encode(x)
    opt_mean, opt_log_var = optimize_posterior(model, x, steps, learning_rate, num_samples, seed)
    elbo_encoder = elbo_of_posterior(model, x, z_mean, z_log_var, elbo_samples, seed + 1)
    elbo_optimal = elbo_of_posterior(model, x, opt_mean, opt_log_var, elbo_samples, seed + 1)
    iw_encoder = log_mean_exp(importance_log_weights(model, x, iwae_samples, seed + 2), axis=1)
    iw_optimal = log_mean_exp(importance_log_weights(model, x, iwae_samples, seed + 3, proposal=(opt_mean, opt_log_var)), axis=1)
    log_px = np.maximum(iw_encoder, iw_optimal)
    return {
        "log_px": log_px,
        "elbo_encoder": elbo_encoder,
        "elbo_optimal": elbo_optimal,
        "approximation_gap": log_px - elbo_optimal,
        "amortisation_gap": elbo_optimal - elbo_encoder,
        "z_mean": opt_mean,
        "z_log_var": opt_log_var,
    }
