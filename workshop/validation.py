"""Input checks shared by the models, the data loader and the plots.

Every check raises a ``ValueError`` that says what was expected and what was
received, so a student who passes raw 0-255 pixels or a wrongly shaped array
learns what to fix instead of meeting a shape error deep inside TensorFlow.
"""

import numpy as np

IMAGE_SHAPE = (28, 28, 1)
NUM_PIXELS = 28 * 28


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
    shape = arr.shape
    if arr.ndim == 4 and shape[1:] == IMAGE_SHAPE:
        pass
    elif arr.ndim == 3 and shape[1:] == IMAGE_SHAPE[:2]:
        arr = arr[..., None]
    elif allow_flat and arr.ndim == 2 and shape[1] == NUM_PIXELS:
        arr = arr.reshape(-1, *IMAGE_SHAPE)
    else:
        flat = " or (N, 784)" if allow_flat else ""
        raise ValueError(
            f"Expected `{name}` of shape (N, 28, 28, 1) or (N, 28, 28){flat}. Received: shape={shape}"
        )
    if arr.shape[0] == 0:
        raise ValueError(f"Expected `{name}` to hold at least one image. Received: shape={shape} (empty)")
    arr = arr.astype("float32", copy=False)
    if not np.all(np.isfinite(arr)):
        bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
        raise ValueError(f"Expected `{name}` to contain finite values. Received: {bad} NaN or infinite values")
    lo, hi = float(arr.min()), float(arr.max())
    if lo < 0.0 or hi > 1.0:
        hint = " (raw 0-255 pixels? divide by 255)" if hi > 1.0 else ""
        raise ValueError(
            f"Expected `{name}` with pixel values in [0, 1]{hint}. Received: min={lo:g}, max={hi:g}"
        )
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
            raise ValueError(
                f"Expected `{name}` in [0, {num_classes}). Received: min={arr.min()}, max={arr.max()}"
            )
        return np.eye(num_classes, dtype="float32")[arr]
    if arr.ndim == 2 and arr.shape == (num_images, num_classes):
        arr = arr.astype("float32")
        if not np.all(np.isfinite(arr)) or not np.allclose(arr.sum(axis=1), 1.0, atol=1e-4) or arr.min() < 0:
            raise ValueError(f"Expected one-hot `{name}` (rows of non-negative values summing to 1). Received rows that do not")
        return arr
    raise ValueError(
        f"Expected `{name}` of shape ({num_images},) or ({num_images}, {num_classes}). Received: shape={arr.shape}"
    )


def check_latent(z, latent_dim, name="z"):
    """Validate latent codes and return them as float32 of shape (N, latent_dim)."""
    arr = np.asarray(z, dtype="float32")
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
