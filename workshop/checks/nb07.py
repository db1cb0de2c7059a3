"""Exercise checks for notebook 07: the conditional VAE.

Three exercises:

- :func:`check_one_hot`: ``one_hot(labels, num_classes)``, integer labels to
  one-hot rows, shape (N, num_classes).
- :func:`check_decoder_input`: ``decoder_input(z, labels, num_classes)``, the
  conditioned input of the decoder, ``[z, one_hot(labels)]`` side by side, shape
  (N, latent_dim + num_classes).
- :func:`check_style_transfer`: ``style_transfer(model, x, labels, num_classes)``,
  encode each image with its true label and decode the same code with every
  label, shape (N, num_classes, 28, 28, 1).

The last check runs the student's routine on a small, deterministic stand-in
for a conditional VAE (:class:`ToyConditionalModel`): it has the same
``encode(x, labels)`` and ``decode(z, labels)`` methods as
:class:`workshop.ConditionalVAE`, costs nothing to run and gives the same
numbers on every machine.
"""

import numpy as np

from workshop.checks._core import check_function
from workshop.validation import check_images, check_labels, check_latent

__all__ = ["ToyConditionalModel", "check_decoder_input", "check_one_hot", "check_style_transfer"]


# --------------------------------------------------------------------------- #
# one_hot
# --------------------------------------------------------------------------- #
def reference_one_hot(labels, num_classes):
    """One-hot rows, float32, from the package's label validation."""
    labels = np.asarray(labels)
    return check_labels(labels, len(labels), num_classes)


_ONE_HOT_MISTAKES = [
    (
        "the result is transposed: put one row per label (shape (N, num_classes)), not one row per class.",
        lambda labels, num_classes: reference_one_hot(labels, num_classes).T,
    ),
    (
        "the 1 sits one column to the left: labels start at 0, so label k sets column k (no `- 1`).",
        lambda labels, num_classes: np.eye(num_classes)[np.asarray(labels) - 1],
    ),
    (
        "the number of columns must be `num_classes`, not `max(labels) + 1`: a batch need not contain the largest class.",
        lambda labels, num_classes: np.eye(int(np.max(labels)) + 1)[np.asarray(labels)],
    ),
]


def check_one_hot(student_fn, verbose=True, strict=None):
    """Check ``one_hot(labels, num_classes)``: shape (N, num_classes), one 1 per row.

    Args:
        student_fn: the student's function; takes integer labels of shape (N,)
            and the number of classes.
        verbose, strict: see :func:`workshop.checks.check_function`.

    Returns:
        A :class:`~workshop.checks.CheckResult`.
    """
    cases = [
        (np.array([2, 0, 1, 2]), 5),
        (np.array([9, 0, 3, 3, 7]), 10),
        {"labels": np.array([1]), "num_classes": 2},
    ]
    return check_function(
        "one_hot",
        student_fn,
        reference_one_hot,
        cases,
        mistakes=_ONE_HOT_MISTAKES,
        verbose=verbose,
        strict=strict,
    )


# --------------------------------------------------------------------------- #
# decoder_input
# --------------------------------------------------------------------------- #
def reference_decoder_input(z, labels, num_classes):
    """[z, one_hot(labels)] side by side, as the package's decoder concatenates them."""
    z = np.asarray(z, dtype=np.float32)
    return np.concatenate([z, reference_one_hot(labels, num_classes)], axis=1)


_DECODER_INPUT_MISTAKES = [
    (
        "the two parts are in the wrong order: the decoder expects the code first, then the one-hot label, [z, y].",
        lambda z, labels, num_classes: np.concatenate([reference_one_hot(labels, num_classes), np.asarray(z, dtype=np.float32)], axis=1),
    ),
    (
        "the label was appended as one integer column: a class number is not a quantity "
        "(7 is not 'more' than 3), so give the decoder the one-hot row.",
        lambda z, labels, num_classes: np.concatenate(
            [np.asarray(z, dtype=np.float32), np.asarray(labels, dtype=np.float32)[:, None]], axis=1
        ),
    ),
    (
        "the one-hot labels were added to the code instead of placed beside it: concatenate along axis 1.",
        lambda z, labels, num_classes: np.asarray(z, dtype=np.float32) + reference_one_hot(labels, num_classes),
    ),
]


def check_decoder_input(student_fn, verbose=True, strict=None):
    """Check ``decoder_input(z, labels, num_classes)``: shape (N, latent_dim + num_classes).

    Args:
        student_fn: the student's function; takes codes of shape (N, latent_dim),
            integer labels of shape (N,) and the number of classes.
        verbose, strict: see :func:`workshop.checks.check_function`.

    Returns:
        A :class:`~workshop.checks.CheckResult`.
    """
    rng = np.random.default_rng(7)
    cases = [
        (rng.standard_normal((4, 4)), np.array([2, 0, 1, 3]), 4),
        (rng.standard_normal((3, 8)), np.array([9, 0, 5]), 10),
        {"z": rng.standard_normal((1, 2)), "labels": np.array([1]), "num_classes": 3},
    ]
    return check_function(
        "decoder_input",
        student_fn,
        reference_decoder_input,
        cases,
        mistakes=_DECODER_INPUT_MISTAKES,
        verbose=verbose,
        strict=strict,
    )


# --------------------------------------------------------------------------- #
# style_transfer
# --------------------------------------------------------------------------- #
class ToyConditionalModel:
    """A tiny, deterministic stand-in for a ConditionalVAE (NumPy only).

    ``encode(x, labels)`` is an affine map of the pixels and the one-hot label;
    ``decode(z, labels)`` an affine map of the code and the label followed by a
    sigmoid. Both depend on the label, so a routine that passes the wrong label
    to either of them gives different images.

    Args:
        num_classes: number of classes.
        latent_dim: size of the code.
        seed: seeds the fixed random weights.
    """

    def __init__(self, num_classes=10, latent_dim=3, seed=0):
        rng = np.random.default_rng(seed)
        self.num_classes = num_classes
        self.latent_dim = latent_dim
        self._w_x = rng.standard_normal((784, latent_dim)) / 28.0
        self._w_y_enc = rng.standard_normal((num_classes, latent_dim))
        self._w_z = rng.standard_normal((latent_dim, 784))
        self._w_y_dec = rng.standard_normal((num_classes, 784))

    def encode(self, x, labels):
        """Return ``(z_mean, z_log_var)``, each of shape (N, latent_dim)."""
        x = check_images(x).reshape(-1, 784).astype(np.float64)
        y = check_labels(labels, len(x), self.num_classes).astype(np.float64)
        z_mean = x @ self._w_x + y @ self._w_y_enc
        return z_mean, np.full_like(z_mean, -1.0)

    def decode(self, z, labels):
        """Return mean images of shape (N, 28, 28, 1) in [0, 1]."""
        z = check_latent(z, self.latent_dim).astype(np.float64)
        y = check_labels(labels, len(z), self.num_classes).astype(np.float64)
        logits = z @ self._w_z + y @ self._w_y_dec
        return (1.0 / (1.0 + np.exp(-logits))).reshape(-1, 28, 28, 1)

    def __repr__(self):
        return f"ToyConditionalModel(num_classes={self.num_classes})"


def reference_style_transfer(model, x, labels, num_classes=10):
    """Encode with the true labels, decode the posterior means with every class."""
    z_mean, _ = model.encode(x, labels)
    n = len(z_mean)
    images = [np.asarray(model.decode(z_mean, np.full(n, k))) for k in range(num_classes)]
    return np.stack(images, axis=1)


def _encoded_with_new_label(model, x, labels, num_classes=10):
    n = len(x)
    images = []
    for k in range(num_classes):
        z_mean, _ = model.encode(x, np.full(n, k))
        images.append(np.asarray(model.decode(z_mean, np.full(n, k))))
    return np.stack(images, axis=1)


def _decoded_with_true_label(model, x, labels, num_classes=10):
    z_mean, _ = model.encode(x, labels)
    image = np.asarray(model.decode(z_mean, labels))
    return np.stack([image] * num_classes, axis=1)


_STYLE_TRANSFER_MISTAKES = [
    (
        "each image was encoded with the new label: encode once with the image's own (true) "
        "label, so that z holds its style, and give only the decoder the new label.",
        _encoded_with_new_label,
    ),
    (
        "every column is the same reconstruction: decode the code with label k for column k, not with the image's own label.",
        _decoded_with_true_label,
    ),
    (
        "the axes are swapped: return shape (N, num_classes, 28, 28, 1), one row per input image (np.stack(..., axis=1)).",
        lambda model, x, labels, num_classes=10: np.swapaxes(reference_style_transfer(model, x, labels, num_classes), 0, 1),
    ),
]


def check_style_transfer(student_fn, verbose=True, strict=None):
    """Check ``style_transfer(model, x, labels, num_classes)`` on a toy conditional model.

    Args:
        student_fn: the student's function; takes a model with
            ``encode(x, labels)`` and ``decode(z, labels)``, images (N, 28, 28, 1),
            their integer labels (N,) and the number of classes; returns images
            of shape (N, num_classes, 28, 28, 1).
        verbose, strict: see :func:`workshop.checks.check_function`.

    Returns:
        A :class:`~workshop.checks.CheckResult`.
    """
    rng = np.random.default_rng(7)
    cases = [
        (ToyConditionalModel(num_classes=4, seed=1), rng.random((3, 28, 28, 1)), np.array([2, 0, 3]), 4),
        (ToyConditionalModel(num_classes=10, seed=2), rng.random((2, 28, 28, 1)), np.array([7, 1]), 10),
        {
            "model": ToyConditionalModel(num_classes=3, latent_dim=2, seed=3),
            "x": rng.random((1, 28, 28, 1)),
            "labels": np.array([1]),
            "num_classes": 3,
        },
    ]
    return check_function(
        "style_transfer",
        student_fn,
        reference_style_transfer,
        cases,
        mistakes=_STYLE_TRANSFER_MISTAKES,
        verbose=verbose,
        strict=strict,
    )
