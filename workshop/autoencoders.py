"""Plain (deterministic) autoencoders and the tools notebook 02 measures them with.

An autoencoder is an encoder ``x -> z`` followed by a decoder ``z -> x_hat``,
trained to give ``x_hat ~ x`` through a bottleneck ``dim(z) < dim(x)``. This
module builds the deterministic kind (no sampling, no KL: that is the VAE in
:mod:`workshop.models`) and holds the NumPy helpers that compare a linear
autoencoder with PCA (:func:`pca_subspace`, :func:`principal_angles`), measure
the holes in a code space (:func:`nearest_neighbour_distances`, :func:`knn_vote`), and show what
squared error does and does not see (:func:`shift_images`,
:func:`shift_vs_noise_mse`).

The decoders here output pixel values (a sigmoid, or nothing for the linear
model), not logits, because their loss is squared error in pixel space
(:func:`sum_squared_error`, summed over pixels, averaged over the batch).
"""

import keras
import numpy as np
from keras import layers, ops

from workshop.validation import check_hidden_units, check_positive_int

NUM_PIXELS = 28 * 28


def build_encoder_decoder(code_dim, hidden_units=(256, 128), linear=False, input_dim=NUM_PIXELS):
    """Build the two halves of a deterministic autoencoder for flattened images.

    The encoder maps ``(N, input_dim)`` to codes ``(N, code_dim)`` through Dense
    layers of ``hidden_units`` (ReLU) and a final Dense layer with no activation,
    so codes can take any real value. The decoder mirrors it (``hidden_units``
    reversed) and ends in ``input_dim`` sigmoid units: pixel values in [0, 1].

    With ``linear=True`` every layer is linear and has no bias: ``x_hat = D E x``
    for two matrices, the autoencoder whose optimum under squared error spans
    the PCA subspace of centred data (use ``hidden_units=()`` for one matrix each).

    Args:
        code_dim: size of the code (the bottleneck), >= 1.
        hidden_units: sizes of the encoder's hidden layers (the decoder's, reversed).
        linear: build the linear, bias-free model instead.
        input_dim: size of a flattened input (784 for MNIST).

    Returns:
        ``(encoder, decoder)``: two functional ``keras.Model`` objects named
        ``"encoder"`` and ``"decoder"``.

    Example:
        >>> encoder, decoder = build_encoder_decoder(16, hidden_units=(256, 128))
        >>> encoder.output_shape, decoder.output_shape
        ((None, 16), (None, 784))
    """
    code_dim = check_positive_int(code_dim, "code_dim")
    input_dim = check_positive_int(input_dim, "input_dim")
    hidden_units = check_hidden_units(hidden_units)
    activation = None if linear else "relu"
    dense = {"use_bias": not linear}

    x = keras.Input(shape=(input_dim,), name="image")
    h = x
    for i, units in enumerate(hidden_units):
        h = layers.Dense(units, activation=activation, name=f"hidden_{i}", **dense)(h)
    code = layers.Dense(code_dim, name="code", **dense)(h)
    encoder = keras.Model(x, code, name="encoder")

    z = keras.Input(shape=(code_dim,), name="code")
    h = z
    for i, units in enumerate(reversed(hidden_units)):
        h = layers.Dense(units, activation=activation, name=f"hidden_{i}", **dense)(h)
    output = layers.Dense(input_dim, activation=None if linear else "sigmoid", name="reconstruction", **dense)(h)
    decoder = keras.Model(z, output, name="decoder")
    return encoder, decoder


def build_autoencoder(code_dim, hidden_units=(256, 128), linear=False, input_dim=NUM_PIXELS):
    """Build a deterministic autoencoder ``x -> decoder(encoder(x))`` for flattened images.

    The halves come from :func:`build_encoder_decoder` (see there for the
    layers) and stay reachable as ``autoencoder.get_layer("encoder")`` and
    ``autoencoder.get_layer("decoder")``.

    Args:
        code_dim: size of the code, >= 1.
        hidden_units: sizes of the encoder's hidden layers (the decoder's, reversed).
        linear: every layer linear and bias-free (the PCA-like autoencoder).
        input_dim: size of a flattened input.

    Returns:
        A functional ``keras.Model`` named ``"autoencoder"``, not compiled.
        Compile it with :func:`sum_squared_error` as the loss and fit it with
        ``fit(x, x)``.
    """
    encoder, decoder = build_encoder_decoder(code_dim, hidden_units, linear=linear, input_dim=input_dim)
    x = keras.Input(shape=(encoder.input_shape[-1],), name="image")
    return keras.Model(x, decoder(encoder(x)), name="autoencoder")


@keras.saving.register_keras_serializable(package="workshop")
def sum_squared_error(x, x_hat):
    """Squared error summed over the pixels of each image: ``sum_i (x_i - x_hat_i)^2``.

    Used as a Keras loss it returns one value per image, and Keras averages
    those over the batch (sum over pixels, mean over images).

    Args:
        x: target images, shape (N, D).
        x_hat: reconstructions, shape (N, D).

    Returns:
        A tensor of shape (N,).
    """
    x = ops.convert_to_tensor(x)
    x_hat = ops.convert_to_tensor(x_hat)
    return ops.sum(ops.square(ops.cast(x, x_hat.dtype) - x_hat), axis=-1)


def _as_matrix(a, name, keep_float32=False):
    a = np.asarray(a)
    a = a.astype("float32" if keep_float32 and a.dtype == np.float32 else "float64", copy=False)
    if a.ndim != 2 or a.shape[0] == 0 or a.shape[1] == 0:
        raise ValueError(f"Expected `{name}` to be a non-empty 2-D array (N, D). Received: shape={a.shape}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"Expected `{name}` to hold finite values. Received: NaN or infinite entries")
    return a


def pca_subspace(x, k, return_variances=False):
    """An orthonormal basis of the top-``k`` principal subspace of the data ``x``.

    The data are centred; the principal directions are the top right singular
    vectors of the centred data ``x_c = U S V^T``, equivalently the top
    eigenvectors of the covariance ``C = x_c^T x_c / N``, whose eigenvalues
    ``S^2 / N`` are the variances along them. With many more rows than columns
    (MNIST: 60,000 x 784) the eigendecomposition of the small ``D x D``
    covariance is much cheaper than the SVD and is used; otherwise the SVD.

    Args:
        x: data, shape (N, D), one example per row.
        k: number of directions, ``1 <= k <= min(N, D)``.
        return_variances: also return the variances along all directions.

    Returns:
        The basis, shape (D, k) with orthonormal columns (and the variances,
        shape (min(N, D),), largest first, when asked).
    """
    x = _as_matrix(x, "x")
    k = check_positive_int(k, "k")
    n, d = x.shape
    if k > min(n, d):
        raise ValueError(f"Expected k <= min(N, D) = {min(n, d)}. Received: k={k}")
    centred = x - x.mean(axis=0)
    if n > d:
        eigenvalues, eigenvectors = np.linalg.eigh(centred.T @ centred / n)
        variances = np.maximum(eigenvalues[::-1], 0.0)
        directions = eigenvectors[:, ::-1]
    else:
        _, s, vt = np.linalg.svd(centred, full_matrices=False)
        variances, directions = s**2 / n, vt.T
    basis = directions[:, :k]
    if return_variances:
        return basis, variances
    return basis


def principal_angles(a, b):
    """The principal angles between the column spaces of ``a`` and ``b``, in degrees.

    With orthonormal bases ``Q_a`` and ``Q_b`` of the two spaces (from QR), the
    singular values of ``Q_a^T Q_b`` are the cosines of the angles. All angles
    are 0 exactly when the two spaces are the same.

    Args:
        a: shape (D, k), columns spanning the first subspace.
        b: shape (D, m), columns spanning the second.

    Returns:
        ``min(k, m)`` angles in degrees, smallest first.
    """
    a, b = _as_matrix(a, "a"), _as_matrix(b, "b")
    if a.shape[0] != b.shape[0]:
        raise ValueError(
            f"Expected `a` and `b` to have the same number of rows (the dimension D). Received: a.shape={a.shape}, b.shape={b.shape}"
        )
    q_a, _ = np.linalg.qr(a)
    q_b, _ = np.linalg.qr(b)
    cosines = np.linalg.svd(q_a.T @ q_b, compute_uv=False)
    return np.degrees(np.arccos(np.clip(cosines, -1.0, 1.0)))


def shift_images(x, shift, axis=-1):
    """Shift images by ``shift`` pixels along ``axis``, filling the gap with zeros.

    Unlike ``np.roll`` nothing wraps around: what leaves one edge is lost and
    black pixels enter from the other. A positive ``shift`` moves the content
    towards higher indices (right, for the last axis of a (28, 28) image).

    Args:
        x: an image (H, W) or a batch (N, H, W), any shape with at least one axis.
        shift: whole pixels, positive or negative.
        axis: the axis to shift along (default: the last, columns).

    Returns:
        An array of the same shape and dtype.
    """
    x = np.asarray(x)
    if isinstance(shift, bool) or not isinstance(shift, (int, np.integer)):
        raise ValueError(f"Expected `shift` to be a whole number of pixels. Received: shift={shift!r}")
    out = np.zeros_like(x)
    n = x.shape[axis]
    shift = int(shift)
    if abs(shift) >= n:
        return out
    source = [slice(None)] * x.ndim
    target = [slice(None)] * x.ndim
    if shift >= 0:
        source[axis], target[axis] = slice(0, n - shift), slice(shift, n)
    else:
        source[axis], target[axis] = slice(-shift, n), slice(0, n + shift)
    out[tuple(target)] = x[tuple(source)]
    return out


def shift_vs_noise_mse(image, shift=2, noise_std=0.1, rng=None):
    """Mean squared error of a shifted copy and of a noisy copy of one image.

    The shifted copy moves the image ``shift`` pixels to the right
    (:func:`shift_images`, zeros enter on the left); the noisy copy adds
    Gaussian noise of standard deviation ``noise_std`` to every pixel, drawn as
    ``noise_std * rng.standard_normal(image.shape)``, then clips to [0, 1].

    Args:
        image: one image, shape (28, 28) or (28, 28, 1), values in [0, 1].
        shift: pixels to the right.
        noise_std: standard deviation of the noise.
        rng: a ``numpy.random.Generator`` (seed 0 if None).

    Returns:
        ``(mse_shifted, mse_noisy)``: two floats, each a mean over pixels.
    """
    image = np.asarray(image, dtype="float64")
    if image.shape not in ((28, 28), (28, 28, 1)):
        raise ValueError(f"Expected one image of shape (28, 28) or (28, 28, 1). Received: shape={image.shape}")
    image = image.reshape(28, 28)
    rng = np.random.default_rng(0) if rng is None else rng
    shifted = shift_images(image, shift, axis=1)
    noisy = np.clip(image + noise_std * rng.standard_normal(image.shape), 0.0, 1.0)
    return float(np.mean((shifted - image) ** 2)), float(np.mean((noisy - image) ** 2))


def _squared_distance_blocks(queries, references, batch_size):
    """Yield (start, squared Euclidean distances of a block of queries to every reference)."""
    # float32 stays float32 (a full MNIST training set in float64 would take 376 MB).
    q = _as_matrix(np.reshape(queries, (len(queries), -1)), "queries", keep_float32=True)
    r = _as_matrix(np.reshape(references, (len(references), -1)), "references", keep_float32=True)
    if q.shape[1] != r.shape[1]:
        raise ValueError(f"Expected queries and references with the same number of values each. Received: {q.shape[1]} and {r.shape[1]}")
    batch_size = check_positive_int(batch_size, "batch_size")
    r_sq = np.sum(r**2, axis=1)
    for start in range(0, len(q), batch_size):
        block = q[start : start + batch_size]
        yield start, np.maximum(np.sum(block**2, axis=1, keepdims=True) - 2.0 * block @ r.T + r_sq, 0.0)


def nearest_neighbour_distances(queries, references, exclude_self=False, batch_size=256):
    """Euclidean distance from each query to its nearest reference, and which reference it is.

    Args:
        queries: shape (M, ...) (images are flattened).
        references: shape (N, ...), the same size per item.
        exclude_self: the queries are the references (M = N): skip each
            item's distance to itself, so its neighbour is another item.
        batch_size: queries handled at once (memory is ``batch_size * N`` floats).

    Returns:
        ``(distances, indices)``, each of shape (M,).
    """
    if exclude_self and len(queries) != len(references):
        raise ValueError(f"Expected as many queries as references with exclude_self=True. Received: {len(queries)} and {len(references)}")
    distances = np.empty(len(queries))
    indices = np.empty(len(queries), dtype="int64")
    for start, sq in _squared_distance_blocks(queries, references, batch_size):
        rows = np.arange(len(sq))
        if exclude_self:
            sq[rows, start + rows] = np.inf
        best = np.argmin(sq, axis=1)
        indices[start : start + len(sq)] = best
        distances[start : start + len(sq)] = np.sqrt(sq[rows, best])
    return distances, indices


def knn_vote(queries, references, labels, k=10, batch_size=256):
    """Classify each query by a vote of its ``k`` nearest references (Euclidean, in pixel space).

    The share of the ``k`` neighbours that agree with the winning label is a
    simple confidence: near 1 for an image that looks like one digit, lower
    for an ambiguous or unrecognisable one.

    Args:
        queries: shape (M, ...) (images are flattened).
        references: shape (N, ...).
        labels: integer labels of the references, shape (N,).
        k: number of neighbours, ``1 <= k <= N``.
        batch_size: queries handled at once.

    Returns:
        ``(predicted, agreement)``: the winning label (ties go to the smaller
        label) and the fraction of the ``k`` neighbours that carry it, each of shape (M,).
    """
    labels = np.asarray(labels)
    if labels.shape != (len(references),) or not np.issubdtype(labels.dtype, np.integer) or labels.min() < 0:
        raise ValueError(
            f"Expected one non-negative integer label per reference, shape ({len(references)},). "
            f"Received: shape={labels.shape}, dtype={labels.dtype}"
        )
    k = check_positive_int(k, "k")
    if k > len(references):
        raise ValueError(f"Expected k <= the number of references ({len(references)}). Received: k={k}")
    num_classes = int(labels.max()) + 1
    predicted = np.empty(len(queries), dtype="int64")
    agreement = np.empty(len(queries))
    for start, sq in _squared_distance_blocks(queries, references, batch_size):
        nearest = np.argpartition(sq, k - 1, axis=1)[:, :k]
        votes = np.zeros((len(sq), num_classes), dtype="int64")
        np.add.at(votes, (np.arange(len(sq))[:, None], labels[nearest]), 1)
        predicted[start : start + len(sq)] = np.argmax(votes, axis=1)
        agreement[start : start + len(sq)] = votes.max(axis=1) / k
    return predicted, agreement
