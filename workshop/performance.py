"""CPU settings for fast training, and the arithmetic the benchmark reports.

Two things live here:

* :func:`configure_cpu` sets TensorFlow's thread pools. It must run before
  TensorFlow executes its first operation (TensorFlow fixes its pools then),
  so call it at the top of a script or notebook, right after the imports.
* :func:`matmul_flops_per_image` counts the matrix-multiply work of one
  training step of the MLP VAE, per image, so that a measured speed can be
  set against the machine's matmul peak (``benchmarks/benchmark.py``).

FLOP counting convention: a matmul of an (m, k) by a (k, n) matrix costs
``2 * m * k * n`` floating-point operations (one multiply, one add). The
backward pass of a Dense layer costs two such matmuls (the weight gradient and
the input gradient), that is twice its forward pass, except for the first
layer, whose input gradient (with respect to the images) is never needed.
Bias adds, activations, the loss and the optimizer update are not counted.
"""

import os
import warnings

from workshop.validation import NUM_PIXELS, check_positive_int


def available_cores():
    """Return the number of CPU cores this process may run on (its affinity mask, else ``os.cpu_count()``)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # macOS and Windows have no sched_getaffinity
        return os.cpu_count() or 1


def configure_cpu(threads=None, inter_op_threads=None):
    """Set TensorFlow's CPU thread pools for training small models.

    ``threads`` sets the intra-op pool, the threads that one operation (a
    matmul) is split across; ``inter_op_threads`` sets how many independent
    operations may run at once. Giving the intra-op pool every core this
    process may use matters where TensorFlow would otherwise count cores it
    cannot have (a container limited by CPU affinity); on the 2-core machine
    this was measured on, the inter-op setting made no difference beyond noise,
    so it is left to TensorFlow unless you pass one.

    TensorFlow fixes its pools when it runs its first operation. Call this
    before that, right after the imports. Called again later with the same
    values it does nothing; with other values it warns and leaves the pools
    as they are.

    Args:
        threads: intra-op threads, a positive integer, or None for every core
            this process may use (:func:`available_cores`).
        inter_op_threads: inter-op threads, a positive integer, or None
            (default) to keep TensorFlow's own choice.

    Returns:
        A dict ``{"intra_op_threads": ..., "inter_op_threads": ...}`` with the
        values in force afterwards (0 means TensorFlow's own default).

    Example:
        >>> from workshop.performance import configure_cpu
        >>> configure_cpu()  # before building or training any model
        {'intra_op_threads': 2, 'inter_op_threads': 0}
    """
    threads = available_cores() if threads is None else check_positive_int(threads, "threads")
    if inter_op_threads is not None:
        inter_op_threads = check_positive_int(inter_op_threads, "inter_op_threads")
    import tensorflow as tf

    threading = tf.config.threading
    wanted = {"intra_op_threads": threads, "inter_op_threads": inter_op_threads}
    setters = {
        "intra_op_threads": (threading.get_intra_op_parallelism_threads, threading.set_intra_op_parallelism_threads),
        "inter_op_threads": (threading.get_inter_op_parallelism_threads, threading.set_inter_op_parallelism_threads),
    }
    for key, value in wanted.items():
        getter, setter = setters[key]
        if value is None or getter() == value:
            continue
        try:
            setter(value)
        except RuntimeError:
            warnings.warn(
                f"configure_cpu: TensorFlow has already run an operation, so its thread pools are fixed and "
                f"{key}={value} was not applied. Call configure_cpu() before building or training a model "
                f"(restart the kernel in a notebook).",
                RuntimeWarning,
                stacklevel=2,
            )
    return {key: getter() for key, (getter, _) in setters.items()}


def dense_layer_sizes(hidden_units=(512, 256), latent_dim=20, input_dim=NUM_PIXELS):
    """List the (inputs, outputs) of every Dense layer of the MLP VAE, in forward order.

    The encoder is ``input_dim -> hidden_units... -> (z_mean, z_log_var)``, the
    decoder mirrors it, ``latent_dim -> reversed(hidden_units)... -> input_dim``.
    The two heads ``z_mean`` and ``z_log_var`` are listed separately.
    """
    latent_dim = check_positive_int(latent_dim, "latent_dim")
    input_dim = check_positive_int(input_dim, "input_dim")
    if isinstance(hidden_units, int):
        hidden_units = (hidden_units,)
    units = tuple(check_positive_int(u, "hidden_units entry") for u in hidden_units)
    sizes, width = [], input_dim
    for u in units:
        sizes.append((width, u))
        width = u
    sizes += [(width, latent_dim), (width, latent_dim)]
    width = latent_dim
    for u in reversed(units):
        sizes.append((width, u))
        width = u
    sizes.append((width, input_dim))
    return sizes


def matmul_flops_per_image(hidden_units=(512, 256), latent_dim=20, input_dim=NUM_PIXELS):
    """Matmul FLOPs of one training step (forward and backward) of the MLP VAE, per image.

    For Dense layers with ``n_in`` inputs and ``n_out`` outputs:

        forward  = sum over layers of 2 * n_in * n_out
        backward = 2 * forward - 2 * input_dim * hidden_units[0]

    (weight and input gradients, less the first layer's input gradient). For
    784-400-20 this is 3,280,000 FLOPs per image; for 784-512-256-20,
    5,679,104.

    Returns:
        An int, FLOPs per image.
    """
    sizes = dense_layer_sizes(hidden_units, latent_dim, input_dim)
    forward = sum(2 * n_in * n_out for n_in, n_out in sizes)
    first_in, first_out = sizes[0]
    return 3 * forward - 2 * first_in * first_out
