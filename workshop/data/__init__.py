"""Loading MNIST: from a file you name, from Keras, or from the sample this package ships.

Where the data comes from, in this order:

1. the ``path`` argument, or else the ``MNIST_PATH`` environment variable: an
   ``.npz`` file in Keras's layout (``x_train``, ``y_train``, ``x_test``,
   ``y_test``; uint8 images of 28x28, labels 0-9), validated before use;
2. Keras's own loader (its cache in ``~/.keras/datasets``, then a download);
3. the real MNIST sample shipped inside this package (8,000 training and 2,000
   test images), with a warning that says why and how to get the full set.

A file that is named but unreadable or wrongly laid out is an error, never a
silent fallback.
"""

import os
import warnings
import zipfile
from pathlib import Path

import numpy as np

from workshop.constants import BINARIZE_CHOICES, BINARIZE_SEED

SAMPLE_PATH = Path(__file__).with_name("mnist_sample.npz")
_KEYS = ("x_train", "y_train", "x_test", "y_test")


class MNISTFallbackWarning(UserWarning):
    """Issued when the full MNIST cannot be found and the shipped sample is used."""


def read_mnist_npz(path):
    """Read and validate an MNIST ``.npz`` in Keras's layout.

    Args:
        path: the file.

    Returns:
        ``(x_train, y_train), (x_test, y_test)`` as uint8 arrays.

    Raises:
        FileNotFoundError: when the file does not exist.
        ValueError: when it is not a readable ``.npz`` or its arrays are not
            MNIST-shaped (names the file and the problem).
    """
    path = _as_path(path, "path")
    if path.is_dir():
        raise ValueError(f"Expected an MNIST .npz file. Received: {path}, which is a folder")
    if not path.is_file():
        raise FileNotFoundError(f"MNIST file not found: {path}")
    if not zipfile.is_zipfile(path):
        raise ValueError(f"{path}: not a readable .npz file (an .npz is a zip archive of .npy arrays; this file is not)")
    try:
        with np.load(path, allow_pickle=False) as data:
            names = list(data.files)
            arrays = {k: data[k] for k in _KEYS if k in names}
    except Exception as error:  # truncated members, bad headers, pickled objects...
        raise ValueError(f"{path}: not a readable .npz file ({type(error).__name__}: {error})") from None
    missing = [k for k in _KEYS if k not in arrays]
    if missing:
        raise ValueError(
            f"{path}: expected arrays {', '.join(_KEYS)} (Keras's mnist.npz layout). "
            f"Received: {', '.join(names) or 'no arrays'} (missing {', '.join(missing)})"
        )
    for split in ("train", "test"):
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if x.ndim != 3 or x.shape[1:] != (28, 28) or x.shape[0] == 0:
            raise ValueError(f"{path}: expected x_{split} of shape (N, 28, 28). Received: shape={x.shape}")
        if y.shape != (x.shape[0],):
            raise ValueError(f"{path}: expected y_{split} of shape ({x.shape[0]},), one label per image. Received: shape={y.shape}")
        if x.dtype != np.uint8:
            raise ValueError(f"{path}: expected x_{split} of dtype uint8 (pixels 0-255). Received: dtype={x.dtype}")
        if not np.issubdtype(y.dtype, np.integer) or y.min() < 0 or y.max() > 9:
            raise ValueError(f"{path}: expected y_{split} to be integers 0-9. Received: dtype={y.dtype}, range=[{y.min()}, {y.max()}]")
    return (arrays["x_train"], arrays["y_train"]), (arrays["x_test"], arrays["y_test"])


def _as_path(path, name):
    if isinstance(path, bytes) or not isinstance(path, (str, os.PathLike)) or str(path) == "":
        raise ValueError(f"Expected `{name}` to be a file path (a str or pathlib.Path). Received: {name}={path!r}")
    return Path(path).expanduser()


def _from_keras():
    import keras

    return keras.datasets.mnist.load_data()


def locate_mnist(path=None):
    """Find MNIST and return ``(arrays, info)``; see the module docstring for the order.

    ``info`` is a dict with ``source`` (``"file"``, ``"keras"`` or ``"sample"``),
    ``path`` and, for the sample, ``reason``.
    """
    explicit = path if path is not None else os.environ.get("MNIST_PATH") or None
    if explicit is not None:
        origin = "path" if path is not None else "MNIST_PATH"
        _as_path(explicit, origin)
        if Path(explicit).expanduser().is_dir():
            raise ValueError(f"Expected {origin} to name the MNIST .npz file. Received: {explicit}, which is a folder")
        try:
            return read_mnist_npz(explicit), {"source": "file", "path": str(explicit)}
        except FileNotFoundError:
            raise FileNotFoundError(f"MNIST file given by {origin} not found: {explicit}") from None
    try:
        arrays = _from_keras()
        return arrays, {"source": "keras", "path": "~/.keras/datasets/mnist.npz"}
    except Exception as error:  # no network, no cache, a rejected hash...
        reason = f"Keras could not load MNIST ({type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''})"
    warnings.warn(
        f"{reason}. Using the MNIST sample shipped with the package (8,000 training and 2,000 test images). "
        "For the full set, set MNIST_PATH to a copy of Keras's mnist.npz (or pass path=...), "
        "or connect to the internet once so that Keras can download it.",
        MNISTFallbackWarning,
        stacklevel=3,
    )
    return read_mnist_npz(SAMPLE_PATH), {"source": "sample", "path": str(SAMPLE_PATH), "reason": reason}


def load_mnist(
    path=None,
    binarize=None,
    flatten=False,
    threshold=0.5,
    seed=BINARIZE_SEED,
    num_train=None,
    num_test=None,
    return_info=False,
):
    """Load MNIST as float32 images in [0, 1] and integer labels.

    Args:
        path: an ``.npz`` in Keras's layout; defaults to ``$MNIST_PATH``, then
            Keras's loader, then the shipped sample.
        binarize: ``"none"`` or ``None`` (grey levels), ``"threshold"`` (pixel > ``threshold``)
            or ``"random"`` (each pixel drawn once as Bernoulli(grey level) with
            ``seed``: the fixed stochastic binarization used in the VAE literature;
            train and test use separate streams, so the test set never depends on
            ``num_train``).
        flatten: return images as (N, 784) instead of (N, 28, 28, 1).
        threshold: the cut-off for ``binarize="threshold"``.
        seed: the seed of ``binarize="random"``.
        num_train, num_test: keep only the first so many images (fast runs).
        return_info: also return a dict saying where the data came from.

    Returns:
        ``(x_train, y_train), (x_test, y_test)`` (and ``info`` when asked).

    Example:
        >>> (x_train, y_train), (x_test, y_test) = load_mnist(binarize="random")
    """
    if binarize is None:
        binarize = "none"
    if not isinstance(binarize, str) or binarize not in BINARIZE_CHOICES:
        raise ValueError(
            f"Expected `binarize` to be one of {', '.join(map(repr, BINARIZE_CHOICES))} (or None). Received: binarize={binarize!r}"
        )
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"Expected `seed` to be an integer >= 0. Received: seed={seed!r}")
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float, np.floating, np.integer)) or not 0.0 <= float(threshold) < 1.0:
        raise ValueError(f"Expected `threshold` in [0, 1). Received: threshold={threshold!r}")
    for value, name in ((num_train, "num_train"), (num_test, "num_test")):
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1):
            raise ValueError(f"Expected `{name}` to be a positive integer or None. Received: {name}={value!r}")
    ((x_train, y_train), (x_test, y_test)), info = locate_mnist(path)
    x_train, y_train = x_train[:num_train], y_train[:num_train]
    x_test, y_test = x_test[:num_test], y_test[:num_test]
    # Train and test are binarized from two independent streams of one seed, so the
    # binarized test set is the same whatever `num_train` (fast or full mode) and
    # its first k images are the same whatever `num_test`.
    streams = [np.random.default_rng(child) for child in np.random.SeedSequence(seed).spawn(2)]
    out = []
    for x, rng in zip((x_train, x_test), streams):
        x = x.astype("float32") / 255.0
        if binarize == "threshold":
            x = (x > threshold).astype("float32")
        elif binarize == "random":
            x = (rng.random(x.shape, dtype="float32") < x).astype("float32")
        out.append(x.reshape(-1, 784) if flatten else x[..., None])
    result = ((out[0], y_train.astype("int64")), (out[1], y_test.astype("int64")))
    return (*result, info) if return_info else result
