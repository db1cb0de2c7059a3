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
