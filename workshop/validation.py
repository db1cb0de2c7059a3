"""Input checks shared by the models, the data loader and the plots.

Every check raises a ``ValueError`` that says what was expected and what was
received, so a student who passes raw 0-255 pixels or a wrongly shaped array
learns what to fix instead of meeting a shape error deep inside TensorFlow.
"""

import numpy as np

from workshop.constants import IMAGE_SHAPE, NUM_PIXELS

__all__ = [
    "IMAGE_SHAPE",
    "NUM_PIXELS",
    "check_bool",
    "check_choice",
    "check_hidden_units",
    "check_images",
    "check_labels",
    "check_latent",
    "check_positive_int",
    "check_seed",
]


def check_images(x, name="x", allow_flat=True):
    """Validate a batch of images and return it as float32 of shape (N, 28, 28, 1).

    Args:
        x: array-like of shape (N, 28, 28, 1) or (N, 28, 28) (or (N, 784) when
            ``allow_flat``), values in [0, 1].
        name: what to call the array in error messages.
        allow_flat: accept flattened (N, 784) images too.

    Returns:
        A float32 NumPy array of shape (N, 28, 28, 1).

    Raises:
        ValueError: on a wrong shape, an empty batch, NaN or infinite values,
            or pixels outside [0, 1] (for example raw 0-255 integers).
    """
    if hasattr(x, "numpy") and not isinstance(x, np.ndarray):
        x = x.numpy()
    try:
        arr = np.asarray(x)
    except Exception as error:  # ragged lists and the like
        raise ValueError(f"Expected `{name}` to be an array of images. Received: {type(x).__name__} ({error})") from None
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise ValueError(f"Expected `{name}` to hold numbers. Received: dtype={arr.dtype}")
    if np.iscomplexobj(arr):
        raise ValueError(f"Expected `{name}` to hold real numbers (pixel values in [0, 1]). Received: dtype={arr.dtype}")
    shape = arr.shape
    if arr.ndim == 4 and shape[1:] == IMAGE_SHAPE:
        pass
    elif arr.ndim == 3 and shape[1:] == IMAGE_SHAPE[:2]:
        arr = arr[..., None]
    elif allow_flat and arr.ndim == 2 and shape[1] == NUM_PIXELS:
        arr = arr.reshape(-1, *IMAGE_SHAPE)
    else:
        flat = " or (N, 784)" if allow_flat else ""
        raise ValueError(f"Expected `{name}` of shape (N, 28, 28, 1) or (N, 28, 28){flat}. Received: shape={shape}")
    if arr.shape[0] == 0:
        raise ValueError(f"Expected `{name}` to hold at least one image. Received: shape={shape} (empty)")
    arr = arr.astype("float32", copy=False)
    if not np.all(np.isfinite(arr)):
        bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
        raise ValueError(f"Expected `{name}` to contain finite values. Received: {bad} NaN or infinite values")
    lo, hi = float(arr.min()), float(arr.max())
    if lo < 0.0 or hi > 1.0:
        hint = " (raw 0-255 pixels? divide by 255)" if hi > 1.0 else ""
        raise ValueError(f"Expected `{name}` with pixel values in [0, 1]{hint}. Received: min={lo:g}, max={hi:g}")
    return arr


def check_labels(labels, num_images, num_classes, name="labels"):
    """Validate class labels (integers or one-hot rows) and return them one-hot, float32.

    Args:
        labels: shape (N,) integers in [0, num_classes) or (N, num_classes) one-hot rows.
        num_images: the N the labels must match.
        num_classes: the number of classes.
        name: what to call the array in error messages.

    Returns:
        A float32 array of shape (N, num_classes).
    """
    arr = np.asarray(labels)
    if arr.ndim == 0:
        arr = np.full((num_images,), arr)
    if arr.ndim == 1:
        if arr.shape[0] != num_images:
            raise ValueError(f"Expected {num_images} `{name}`, one per image. Received: {arr.shape[0]}")
        if not np.issubdtype(arr.dtype, np.integer):
            if np.issubdtype(arr.dtype, np.floating) and np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)):
                arr = arr.astype("int64")
            else:
                raise ValueError(f"Expected integer `{name}` in [0, {num_classes}). Received: dtype={arr.dtype}")
        if arr.size and (arr.min() < 0 or arr.max() >= num_classes):
            raise ValueError(f"Expected `{name}` in [0, {num_classes}). Received: min={arr.min()}, max={arr.max()}")
        return np.eye(num_classes, dtype="float32")[arr]
    if arr.ndim == 2 and arr.shape == (num_images, num_classes):
        arr = arr.astype("float32")
        if not np.all(np.isfinite(arr)) or not np.allclose(arr.sum(axis=1), 1.0, atol=1e-4) or arr.min() < 0:
            raise ValueError(f"Expected one-hot `{name}` (rows of non-negative values summing to 1). Received rows that do not")
        return arr
    raise ValueError(f"Expected `{name}` of shape ({num_images},) or ({num_images}, {num_classes}). Received: shape={arr.shape}")


def check_latent(z, latent_dim, name="z"):
    """Validate latent codes and return them as float32 of shape (N, latent_dim)."""
    if np.iscomplexobj(z):
        raise ValueError(f"Expected `{name}` to hold real numbers. Received: dtype={np.asarray(z).dtype}")
    try:
        arr = np.asarray(z, dtype="float32")
    except (TypeError, ValueError):
        raise ValueError(f"Expected `{name}` to be an array of latent codes. Received: {type(z).__name__}") from None
    if arr.ndim == 1 and latent_dim == arr.shape[0]:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] != latent_dim or arr.shape[0] == 0:
        raise ValueError(f"Expected `{name}` of shape (N, {latent_dim}) with N >= 1. Received: shape={arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"Expected finite values in `{name}`. Received NaN or infinite values")
    return arr


def check_positive_int(value, name, minimum=1):
    """Return ``value`` as an int when it is an integer >= ``minimum``; raise ValueError otherwise."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"Expected `{name}` to be an integer >= {minimum}. Received: {name}={value!r}")
    return int(value)


def check_seed(seed, name="seed"):
    """Return ``seed`` as an int when it is None or an integer >= 0; raise ValueError otherwise."""
    return None if seed is None else check_positive_int(seed, name, minimum=0)


def check_bool(value, name):
    """Return ``value`` when it is True or False (NumPy booleans too); raise ValueError otherwise."""
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"Expected `{name}` to be True or False. Received: {name}={value!r}")
    return bool(value)


def check_choice(value, name, choices):
    """Return ``value`` when it is one of ``choices``; raise ValueError naming them otherwise."""
    if value not in choices:
        raise ValueError(f"Expected `{name}` to be one of {', '.join(repr(c) for c in choices)}. Received: {name}={value!r}")
    return value


def check_hidden_units(hidden_units):
    """Return hidden layer sizes as a tuple of positive ints (one int is accepted as a 1-tuple)."""
    if isinstance(hidden_units, (int, np.integer)) and not isinstance(hidden_units, bool):
        hidden_units = (hidden_units,)
    try:
        units = tuple(hidden_units)
    except TypeError:
        raise ValueError(f"Expected `hidden_units` to be a sequence of positive integers. Received: {hidden_units!r}") from None
    return tuple(check_positive_int(u, "hidden_units entry") for u in units)


# ------------------------------------------------------------ tf.data inputs
_DATASET_MARK = "workshop input check: "


def _pick(element, conditional):
    """(images, labels) of one dataset element (a spec or tensors): x, (x,), (x, y), ((x, y),)."""
    if isinstance(element, dict):
        raise ValueError(f"Expected dataset elements x, (x,) or (x, labels). Received: a dict with keys {sorted(element)}")
    if isinstance(element, (tuple, list)):
        if not element:
            raise ValueError("Expected dataset elements x, (x,) or (x, labels). Received: empty tuples")
        first = element[0]
        if isinstance(first, (tuple, list)):
            x = first[0]
            y = first[1] if len(first) > 1 else (element[1] if len(element) > 1 else None)
        else:
            x, y = first, (element[1] if len(element) > 1 else None)
    else:
        x, y = element, None
    return x, (y if conditional else None)


def check_dataset(dataset, conditional=False, num_classes=None, name="x"):
    """Check a ``tf.data.Dataset`` of image batches and return one that checks its values as they are consumed.

    The element spec is checked at once: batches of images of shape (batch, 28,
    28, 1), (batch, 28, 28) or (batch, 784) of a real dtype, and for a
    conditional model labels of shape (batch,) or (batch, num_classes). Each
    batch is then checked inside the input pipeline (finite values, pixels in
    [0, 1], labels in range: a few reductions per batch, negligible next to a
    training step); a failure stops ``fit``/``evaluate``/``predict`` with a
    ValueError (see :func:`dataset_error_message`).

    Returns:
        A dataset whose elements are float32 images (batch, 28, 28, 1) for a
        VAE, or ``(images, one-hot labels)`` for a conditional one.
    """
    import tensorflow as tf

    x_spec, y_spec = _pick(dataset.element_spec, conditional)
    if not isinstance(x_spec, tf.TensorSpec):
        raise ValueError(f"Expected `{name}` dataset elements holding an image tensor. Received: {x_spec}")
    shape = tuple(x_spec.shape.as_list()) if x_spec.shape.rank is not None else None
    good = shape is not None and (shape[1:] in (IMAGE_SHAPE, IMAGE_SHAPE[:2], (NUM_PIXELS,)))
    if not good:
        raise ValueError(
            f"Expected `{name}` to be a batched dataset (call .batch(...)) of images of shape (batch, 28, 28, 1), "
            f"(batch, 28, 28) or (batch, 784). Received: element shape={shape}"
        )
    dtype = x_spec.dtype
    if not (dtype.is_floating or dtype.is_integer or dtype == tf.bool):
        raise ValueError(f"Expected `{name}` dataset images of a real number dtype. Received: dtype={dtype.name}")
    if conditional:
        if y_spec is None:
            raise ValueError(f"Expected a ConditionalVAE dataset of (images, labels). Received: element_spec={dataset.element_spec}")
        y_shape = tuple(y_spec.shape.as_list()) if y_spec.shape.rank is not None else None
        if y_shape is None or not (len(y_shape) == 1 or (len(y_shape) == 2 and y_shape[1] == num_classes)):
            raise ValueError(f"Expected dataset labels of shape (batch,) or (batch, {num_classes}). Received: shape={y_shape}")
        if not (y_spec.dtype.is_integer or y_spec.dtype.is_floating):
            raise ValueError(f"Expected integer dataset labels in [0, {num_classes}). Received: dtype={y_spec.dtype.name}")
    mark = _DATASET_MARK

    def check_images_batch(x):
        x = tf.reshape(tf.cast(x, tf.float32), (-1, *IMAGE_SHAPE))
        finite = tf.reduce_all(tf.math.is_finite(x))
        lo, hi = tf.reduce_min(x), tf.reduce_max(x)
        checks = [
            tf.debugging.Assert(finite, [f"{mark}Expected `{name}` batches to contain finite values. Received NaN or infinite values"]),
            tf.debugging.Assert(
                tf.logical_or(tf.logical_not(finite), tf.logical_and(lo >= 0.0, hi <= 1.0)),
                [
                    f"{mark}Expected `{name}` batches with pixel values in [0, 1] (raw 0-255 pixels? divide by 255). Received: min=",
                    lo,
                    ", max=",
                    hi,
                ],
            ),
        ]
        with tf.control_dependencies(checks):
            return tf.identity(x)

    def check_labels_batch(y):
        if len(y.shape) == 2:
            y = tf.cast(y, tf.float32)
            ok = tf.logical_and(tf.reduce_min(y) >= 0.0, tf.reduce_all(tf.abs(tf.reduce_sum(y, axis=1) - 1.0) < 1e-4))
            check = tf.debugging.Assert(
                ok, [f"{mark}Expected one-hot dataset labels (rows of non-negative values summing to 1). Received rows that do not"]
            )
            with tf.control_dependencies([check]):
                return tf.identity(y)
        integral = tf.reduce_all(tf.equal(tf.cast(y, tf.float64), tf.round(tf.cast(y, tf.float64))))
        labels = tf.cast(y, tf.int64)
        lo, hi = tf.reduce_min(labels), tf.reduce_max(labels)
        check = tf.debugging.Assert(
            tf.logical_and(integral, tf.logical_and(lo >= 0, hi < num_classes)),
            [f"{mark}Expected dataset labels that are integers in [0, {num_classes}). Received: min=", lo, ", max=", hi],
        )
        with tf.control_dependencies([check]):
            return tf.one_hot(labels, num_classes, dtype=tf.float32)

    def check_element(*element):
        x, y = _pick(element[0] if len(element) == 1 else element, conditional)
        if conditional:
            return check_images_batch(x), check_labels_batch(y)
        return check_images_batch(x)

    return dataset.map(check_element)


def dataset_error_message(error):
    """The one-line message of a failed :func:`check_dataset` check inside a TensorFlow error, else None."""
    text = str(error)
    start = text.find(_DATASET_MARK)
    if start < 0:
        return None
    line = text[start + len(_DATASET_MARK) :].split("\n", 1)[0]
    if "]" in line:
        line = line[: line.rindex("]")]
    return "".join(line.split("] [")).strip()
