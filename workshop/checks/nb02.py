"""Exercise checks for notebook 02 (autoencoders).

Exercises:
    ``principal_angles(a, b)``: the principal angles between two column
        spaces, in degrees, smallest first (QR, then SVD).
    ``build_encoder_decoder(code_dim, hidden_units)``: the two halves of a
        deterministic MLP autoencoder for flattened MNIST images.
    ``shift_vs_noise_mse(image, shift, noise_std, rng)``: the mean squared
        error of a shifted copy and of a noisy copy of an image.
"""

import numpy as np

from workshop import autoencoders
from workshop.checks._core import check_function

__all__ = ["check_build_encoder_decoder", "check_principal_angles", "check_shift_vs_noise_mse"]


# --------------------------------------------------------------------------- #
# principal_angles
# --------------------------------------------------------------------------- #
def _angle_cases():
    rng = np.random.default_rng(202)
    t = np.radians(30.0)
    plane = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
    tilted = np.array([[1.0, 0.0], [0.0, np.cos(t)], [0.0, np.sin(t)]])
    # The same two spaces, spanned by orthogonal columns of other lengths.
    scaled = (plane * [3.0, 0.5], tilted * [0.2, 4.0])
    # Non-orthogonal columns of length 1 spanning the same two spaces.
    mix = np.array([[1.0, 1.0], [0.0, 1.0]])
    skew, skew_b = plane @ mix, tilted @ mix
    skew, skew_b = skew / np.linalg.norm(skew, axis=0), skew_b / np.linalg.norm(skew_b, axis=0)
    return [
        (plane, tilted),
        scaled,
        (skew, skew_b),
        (rng.normal(size=(20, 3)), rng.normal(size=(20, 3))),
        (rng.normal(size=(10, 2)), rng.normal(size=(10, 4))),  # different dimensions: 2 angles
    ]


def _cosines(a, b, orthonormalise):
    a, b = np.asarray(a, dtype="float64"), np.asarray(b, dtype="float64")
    if orthonormalise == "qr":
        a, b = np.linalg.qr(a)[0], np.linalg.qr(b)[0]
    elif orthonormalise == "normalise":
        a, b = a / np.linalg.norm(a, axis=0), b / np.linalg.norm(b, axis=0)
    return np.clip(np.linalg.svd(a.T @ b, compute_uv=False), -1.0, 1.0)


def _angles_no_qr(a, b):
    return np.degrees(np.arccos(_cosines(a, b, None)))


def _angles_normalised_only(a, b):
    return np.degrees(np.arccos(_cosines(a, b, "normalise")))


def _angles_radians(a, b):
    return np.arccos(_cosines(a, b, "qr"))


def _angles_cosines(a, b):
    return _cosines(a, b, "qr")


def _angles_descending(a, b):
    return autoencoders.principal_angles(a, b)[::-1]


ANGLE_MISTAKES = [
    ("columns of length 1 are not enough: they must also be orthogonal to each other. Use np.linalg.qr.",
     _angles_normalised_only),
    ("orthonormalise both bases first (q, _ = np.linalg.qr(a)): the singular values of a.T @ b are "
     "cosines only when the columns are orthonormal.", _angles_no_qr),
    ("those are radians: convert with np.degrees.", _angles_radians),
    ("those are the cosines of the angles (the singular values): take np.arccos, then np.degrees.", _angles_cosines),
    ("return the angles smallest first: np.arccos reverses the order of the singular values, "
     "which np.linalg.svd returns largest first.", _angles_descending),
]


def check_principal_angles(student_fn, verbose=True, strict=None):
    """Check the exercise ``principal_angles(a, b)`` against :func:`workshop.autoencoders.principal_angles`."""
    return check_function(
        "principal_angles",
        student_fn,
        autoencoders.principal_angles,
        _angle_cases(),
        mistakes=ANGLE_MISTAKES,
        rtol=1e-5,
        atol=1e-4,  # degrees: arccos near 1 turns 1e-16 in a cosine into ~1e-6 degrees
        verbose=verbose,
        strict=strict,
    )


# --------------------------------------------------------------------------- #
# shift_vs_noise_mse
# --------------------------------------------------------------------------- #
def _shift_cases():
    blob = np.zeros((28, 28))
    blob[6:22, 9:15] = np.linspace(0.3, 1.0, 6)  # a vertical bar, brighter to the right
    edge = np.zeros((28, 28))
    edge[3:10, 24:28] = 0.9  # touches the right border: a wrap-around shows
    edge[20:26, 2:8] = np.linspace(0.2, 0.8, 6)
    grey = np.random.default_rng(2020).random((28, 28)) * 0.5 + 0.25  # no pixel near 0 or 1
    return [
        (blob, 2, 0.1, np.random.default_rng(21)),
        (edge, 3, 0.1, np.random.default_rng(22)),
        (grey, 1, 0.3, np.random.default_rng(23)),
        (blob, 0, 0.2, np.random.default_rng(24)),
    ]


def _mse_parts(image, shifted, noisy):
    return float(np.mean((shifted - image) ** 2)), float(np.mean((noisy - image) ** 2))


def _noisy(image, noise_std, rng, clip=True, scale=None):
    noise = (noise_std if scale is None else scale) * rng.standard_normal(np.shape(image))
    out = np.asarray(image, dtype="float64") + noise
    return np.clip(out, 0.0, 1.0) if clip else out


def _mse_roll(image, shift, noise_std, rng):
    return _mse_parts(image, np.roll(image, shift, axis=1), _noisy(image, noise_std, rng))


def _mse_rows(image, shift, noise_std, rng):
    return _mse_parts(image, autoencoders.shift_images(image, shift, axis=0), _noisy(image, noise_std, rng))


def _mse_no_clip(image, shift, noise_std, rng):
    return _mse_parts(image, autoencoders.shift_images(image, shift, axis=1), _noisy(image, noise_std, rng, clip=False))


def _mse_variance_as_std(image, shift, noise_std, rng):
    noisy = _noisy(image, noise_std, rng, scale=noise_std**2)
    return _mse_parts(image, autoencoders.shift_images(image, shift, axis=1), noisy)


def _mse_sum(image, shift, noise_std, rng):
    shifted, noisy = autoencoders.shift_vs_noise_mse(image, shift, noise_std, rng)
    return shifted * image.size, noisy * image.size


def _mse_root(image, shift, noise_std, rng):
    shifted, noisy = autoencoders.shift_vs_noise_mse(image, shift, noise_std, rng)
    return float(np.sqrt(shifted)), float(np.sqrt(noisy))


SHIFT_MISTAKES = [
    ("np.roll wraps the pixels that leave the right edge around to the left. Shift with zeros coming in "
     "instead (np.zeros_like, then copy image[:, :-shift] into shifted[:, shift:]).", _mse_roll),
    ("you shifted along the rows (down). Shift along axis 1, the columns, to move the digit right.", _mse_rows),
    ("clip the noisy image to [0, 1] (np.clip) before comparing: pixel values outside [0, 1] are not an image.",
     _mse_no_clip),
    ("noise_std is the standard deviation: multiply the standard normal draws by noise_std, not noise_std**2.",
     _mse_variance_as_std),
    ("that is the sum over pixels: the mean squared error averages over the 784 pixels (np.mean).", _mse_sum),
    ("that is the root of the mean squared error: leave out np.sqrt.", _mse_root),
]


def check_shift_vs_noise_mse(student_fn, verbose=True, strict=None):
    """Check the exercise ``shift_vs_noise_mse(image, shift, noise_std, rng)``.

    The reference is :func:`workshop.autoencoders.shift_vs_noise_mse`; each case
    hands both functions a generator in the same state, so the noise is the same.
    """
    return check_function(
        "shift_vs_noise_mse",
        student_fn,
        autoencoders.shift_vs_noise_mse,
        _shift_cases(),
        mistakes=SHIFT_MISTAKES,
        rtol=1e-6,
        atol=1e-9,
        verbose=verbose,
        strict=strict,
    )


# --------------------------------------------------------------------------- #
# build_encoder_decoder
# --------------------------------------------------------------------------- #
_ENCODER_DECODER_CASES = [
    (3, (32, 16)),
    (2, (20,)),
    {"code_dim": 5, "hidden_units": (24, 12, 8)},
]


def _reference_encoder_decoder(code_dim, hidden_units):
    return autoencoders.build_encoder_decoder(code_dim, hidden_units)


def _probe_inputs():
    # Centred probes: with all-positive inputs a freshly initialised ReLU unit tends to be
    # on (or off) for every probe, and the nonlinearity test below would then depend on luck.
    rng = np.random.default_rng(2002)
    return rng.standard_normal((2, 64, 784)).astype("float32")


def _numpy(tensor):
    import keras

    return np.asarray(keras.ops.convert_to_numpy(tensor), dtype="float64")


def _describe(models):
    """The facts about an (encoder, decoder) pair that the exercise asks for, or an error string."""
    import keras

    if not isinstance(models, (tuple, list)) or len(models) != 2:
        return "expected a pair (encoder, decoder) of keras.Model objects"
    encoder, decoder = models
    if not all(isinstance(m, keras.Model) for m in models):
        return "expected a pair (encoder, decoder) of keras.Model objects (build each with keras.Model(inputs, outputs))"
    x1, x2 = _probe_inputs()
    codes1, codes2 = _numpy(encoder(x1)), _numpy(encoder(x2))
    # An encoder without activations is affine: f(x1) + f(x2) = f(x1 + x2) + f(0).
    codes_sum, codes_zero = _numpy(encoder(x1 + x2)), _numpy(encoder(np.zeros_like(x1)))
    gap = np.abs(codes1 + codes2 - codes_sum - codes_zero).max()
    pixels = _numpy(decoder(np.concatenate([codes1, 3.0 * codes2])))
    return {
        "encoder input shape": tuple(encoder.input_shape),
        "encoder output shape": tuple(encoder.output_shape),
        "decoder input shape": tuple(decoder.input_shape),
        "decoder output shape": tuple(decoder.output_shape),
        "encoder parameter count": int(encoder.count_params()),
        "decoder parameter count": int(decoder.count_params()),
        "codes can be negative": bool(np.concatenate([codes1, codes2]).min() < 0.0),
        "pixels lie in [0, 1]": bool(pixels.min() >= 0.0 and pixels.max() <= 1.0),
        "encoder is nonlinear": bool(gap > 1e-4 * (1.0 + np.abs(codes_sum).max())),
    }


def _compare_models(received, expected):
    got, want = _describe(received), _describe(expected)
    if isinstance(got, str):
        return False, got
    for key, value in want.items():
        if got[key] != value:
            return False, f"{key}: expected {value}, received {got[key]}"
    return True, None


def _build(code_dim, hidden_units, hidden_activation="relu", code_activation=None,
           output_activation="sigmoid", reverse=True, image_output=False):
    import keras
    from keras import layers

    x = keras.Input(shape=(784,))
    h = x
    for units in hidden_units:
        h = layers.Dense(units, activation=hidden_activation)(h)
    encoder = keras.Model(x, layers.Dense(code_dim, activation=code_activation)(h), name="encoder")
    z = keras.Input(shape=(code_dim,))
    h = z
    for units in (reversed(hidden_units) if reverse else hidden_units):
        h = layers.Dense(units, activation=hidden_activation)(h)
    out = layers.Dense(784, activation=output_activation)(h)
    if image_output:
        out = layers.Reshape((28, 28, 1))(out)
    return encoder, keras.Model(z, out, name="decoder")


def _relu_code(code_dim, hidden_units):
    return _build(code_dim, hidden_units, code_activation="relu")


def _no_sigmoid(code_dim, hidden_units):
    return _build(code_dim, hidden_units, output_activation=None)


def _not_reversed(code_dim, hidden_units):
    return _build(code_dim, hidden_units, reverse=False)


def _no_hidden_activation(code_dim, hidden_units):
    return _build(code_dim, hidden_units, hidden_activation=None)


def _image_output(code_dim, hidden_units):
    return _build(code_dim, hidden_units, image_output=True)


ENCODER_DECODER_MISTAKES = [
    ("the code layer should have no activation: with a ReLU every code is >= 0 and half of the code space is wasted.",
     _relu_code),
    ("end the decoder with Dense(784, activation='sigmoid'), so that every pixel lies in [0, 1].", _no_sigmoid),
    ("the decoder mirrors the encoder: its hidden layers use reversed(hidden_units).", _not_reversed),
    ("the hidden layers need activation='relu': without it the whole encoder is one linear map.",
     _no_hidden_activation),
    ("return flat images of shape (None, 784), the shape the encoder takes, not (None, 28, 28, 1).", _image_output),
]


def check_build_encoder_decoder(student_fn, verbose=True, strict=None):
    """Check the exercise ``build_encoder_decoder(code_dim, hidden_units)``.

    The two models are compared by what they do, not by how they are written:
    input and output shapes, parameter counts, whether codes can be negative,
    whether pixels stay in [0, 1], and whether the encoder is nonlinear.
    """
    return check_function(
        "build_encoder_decoder",
        student_fn,
        _reference_encoder_decoder,
        _ENCODER_DECODER_CASES,
        mistakes=ENCODER_DECODER_MISTAKES,
        compare=_compare_models,
        verbose=verbose,
        strict=strict,
    )
