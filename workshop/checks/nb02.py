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
from workshop.checks._core import check_function, report

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
    cases = [
        (plane, tilted),
        scaled,
        (skew, skew_b),
        (rng.normal(size=(20, 3)), rng.normal(size=(20, 3))),
        (rng.normal(size=(10, 2)), rng.normal(size=(10, 4))),  # different dimensions: 2 angles
    ]
    return cases


def _coinciding_cases():
    """Coinciding subspaces: rounding makes some cosines 1 + 2e-16, and arccos of that is nan unless
    they are clipped (each of these gives such a cosine with NumPy's LAPACK; three cases so that
    another LAPACK build still meets one)."""
    cases = []
    for seed, kind in ((0, "same"), (1, "mix"), (7, "mix")):
        same_rng = np.random.default_rng(seed)
        a = same_rng.normal(size=(6, 3))
        cases.append((a, a if kind == "same" else a @ same_rng.normal(size=(3, 3))))
    return cases


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


def _angles_unclipped(a, b):
    a, b = np.linalg.qr(np.asarray(a, dtype="float64"))[0], np.linalg.qr(np.asarray(b, dtype="float64"))[0]
    with np.errstate(invalid="ignore"):
        return np.degrees(np.arccos(np.linalg.svd(a.T @ b, compute_uv=False)))


ANGLE_MISTAKES = [
    ("columns of length 1 are not enough: they must also be orthogonal to each other. Use np.linalg.qr.", _angles_normalised_only),
    (
        "orthonormalise both bases first (q, _ = np.linalg.qr(a)): the singular values of a.T @ b are "
        "cosines only when the columns are orthonormal.",
        _angles_no_qr,
    ),
    ("those are radians: convert with np.degrees.", _angles_radians),
    ("those are the cosines of the angles (the singular values): take np.arccos, then np.degrees.", _angles_cosines),
    (
        "return the angles smallest first: np.arccos reverses the order of the singular values, which np.linalg.svd returns largest first.",
        _angles_descending,
    ),
    (
        "for two coinciding subspaces rounding gives cosines like 1.0000000000000002, and np.arccos of that is nan: "
        "clip the singular values to [-1, 1] (np.clip) before np.arccos.",
        _angles_unclipped,
    ),
]


def check_principal_angles(student_fn, verbose=True, strict=None):
    """Check the exercise ``principal_angles(a, b)`` against :func:`workshop.autoencoders.principal_angles`."""
    result = None
    # Two stages, reported as one: the general cases, then coinciding subspaces (nan without clipping).
    for cases in (_angle_cases(), _coinciding_cases()):
        stage = check_function(
            "principal_angles",
            student_fn,
            autoencoders.principal_angles,
            cases,
            mistakes=ANGLE_MISTAKES,
            rtol=1e-5,
            atol=1e-4,  # degrees: arccos near 1 turns 1e-16 in a cosine into ~1e-6 degrees
            verbose=False,
            strict=False,
        )
        result = result or stage
        if not stage.passed:
            result = stage
            break
    return report(result, verbose, strict)


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
    (
        "np.roll wraps the pixels that leave the right edge around to the left. Shift with zeros coming in "
        "instead (np.zeros_like, then copy image[:, :-shift] into shifted[:, shift:]).",
        _mse_roll,
    ),
    ("you shifted along the rows (down). Shift along axis 1, the columns, to move the digit right.", _mse_rows),
    ("clip the noisy image to [0, 1] (np.clip) before comparing: pixel values outside [0, 1] are not an image.", _mse_no_clip),
    ("noise_std is the standard deviation: multiply the standard normal draws by noise_std, not noise_std**2.", _mse_variance_as_std),
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


class _ModelFailed(Exception):
    """The student's model raised; the message is one line naming which model and on what input."""


def _run(model, x, which, what):
    try:
        out = model(x)
    except Exception as error:  # noqa: BLE001 - reported as one line
        from workshop.checks._core import _error_text

        raise _ModelFailed(f"the {which} fails on {what} of shape {x.shape}: {_error_text(error)}") from None
    if isinstance(out, (tuple, list)):
        raise _ModelFailed(f"the {which} returns {len(out)} outputs, expected one tensor")
    return _numpy(out)


def _describe(models):
    """The facts about an (encoder, decoder) pair that the exercise asks for, or an error string.

    Works for functional models and for ``keras.Sequential`` ones with or without an
    explicit ``keras.Input`` (each model is called on a batch first, which builds it).
    The probes rely on Keras's default zero biases: with ReLU hidden layers and no code
    activation the encoder is positively homogeneous, enc(10 x) = 10 enc(x), and the
    decoder's logits are, logit(dec(10 z)) = 10 logit(dec(z)).
    """
    import keras

    if not isinstance(models, (tuple, list)) or len(models) != 2:
        return "expected a pair (encoder, decoder) of keras.Model objects"
    encoder, decoder = models
    if not all(isinstance(m, keras.Model) for m in models):
        return "expected a pair (encoder, decoder) of keras.Model objects (keras.Model(inputs, outputs) or keras.Sequential)"
    x1, x2 = _probe_inputs()
    try:
        codes1 = _run(encoder, x1, "encoder", "a batch of flat images")
        if codes1.ndim != 2:
            return f"the encoder returns codes of shape {codes1.shape}, expected (batch, code_dim)"
        codes2 = _run(encoder, x2, "encoder", "a batch of flat images")
        codes_sum = _run(encoder, x1 + x2, "encoder", "a batch of flat images")
        codes_zero = _run(encoder, np.zeros_like(x1), "encoder", "a batch of flat images")
        codes_big = _run(encoder, 10.0 * x1, "encoder", "a batch of flat images")
        codes_negative_inputs = _run(encoder, -10.0 * x1, "encoder", "a batch of flat images")
        small = codes1 / (np.abs(codes1).max() + 1e-12)  # codes of size <= 1: pixels stay off 0 and 1
        pixels = _run(decoder, np.concatenate([codes1, 3.0 * codes2]).astype("float32"), "decoder", "a batch of codes")
        pixels_small = _run(decoder, (0.1 * small).astype("float32"), "decoder", "a batch of codes")
        pixels_big = _run(decoder, small.astype("float32"), "decoder", "a batch of codes")
    except _ModelFailed as error:
        return str(error)
    all_codes = np.concatenate([codes1, codes2, codes_big, codes_negative_inputs])
    gap = np.abs(codes1 + codes2 - codes_sum - codes_zero).max()
    scale = 1.0 + np.abs(codes_sum).max()
    flat_pixels = pixels.reshape(len(pixels), -1)

    def logit(p):
        p = np.clip(p.reshape(len(p), -1), 1e-7, 1 - 1e-7)
        return np.log(p) - np.log1p(-p)

    return {
        "encoder output shape": (None,) + codes1.shape[1:],
        "decoder output shape": (None,) + pixels.shape[1:],
        "encoder parameter count": int(encoder.count_params()),
        "decoder parameter count": int(decoder.count_params()),
        # A ReLU on the code layer clips codes at exactly 0. (Whether codes happen to be negative is not a property of
        # the architecture: with sigmoid hidden units and 3 code dimensions they were all >= 0 for some initialisations.)
        "codes are clipped at 0 (an activation on the code layer)": bool(all_codes.min() >= 0.0 and np.any(all_codes == 0.0)),
        "pixels lie in [0, 1]": bool(pixels.min() >= 0.0 and pixels.max() <= 1.0),
        "the pixels of an image sum to 1": bool(np.allclose(flat_pixels.sum(axis=1), 1.0, atol=1e-3)),
        "encoder is nonlinear": bool(gap > 1e-4 * scale),
        "encoder scales with its input, enc(10 x) = 10 enc(x) (ReLU hidden layers, no code activation)": bool(
            np.allclose(codes_big, 10.0 * codes1, rtol=1e-3, atol=1e-3 * np.abs(codes_big).max() + 1e-6)
        ),
        "decoder logits scale with the code, logit(dec(10 z)) = 10 logit(dec(z)) (ReLU hidden layers, sigmoid output)": bool(
            np.allclose(logit(pixels_big), 10.0 * logit(pixels_small), rtol=2e-2, atol=2e-2)
        ),
    }


def _compare_models(received, expected):
    got, want = _describe(received), _describe(expected)
    if isinstance(got, str):
        return False, got
    for key, value in want.items():
        if got[key] != value:
            return False, f"{key}: expected {value}, received {got[key]}"
    return True, None


def _build(
    code_dim, hidden_units, hidden_activation="relu", code_activation=None, output_activation="sigmoid", reverse=True, image_output=False
):
    import keras
    from keras import layers

    x = keras.Input(shape=(784,))
    h = x
    for units in hidden_units:
        h = layers.Dense(units, activation=hidden_activation)(h)
    encoder = keras.Model(x, layers.Dense(code_dim, activation=code_activation)(h), name="encoder")
    z = keras.Input(shape=(code_dim,))
    h = z
    for units in reversed(hidden_units) if reverse else hidden_units:
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


def _softmax_output(code_dim, hidden_units):
    return _build(code_dim, hidden_units, output_activation="softmax")


def _tanh_code(code_dim, hidden_units):
    return _build(code_dim, hidden_units, code_activation="tanh")


def _sigmoid_hidden(code_dim, hidden_units):
    return _build(code_dim, hidden_units, hidden_activation="sigmoid")


ENCODER_DECODER_MISTAKES = [
    ("the code layer should have no activation: with a ReLU every code is >= 0 and half of the code space is wasted.", _relu_code),
    ("end the decoder with Dense(784, activation='sigmoid'), so that every pixel lies in [0, 1].", _no_sigmoid),
    ("the decoder mirrors the encoder: its hidden layers use reversed(hidden_units).", _not_reversed),
    ("the hidden layers need activation='relu': without it the whole encoder is one linear map.", _no_hidden_activation),
    ("return flat images of shape (None, 784), the shape the encoder takes, not (None, 28, 28, 1).", _image_output),
    (
        "softmax makes the 784 pixels of an image compete for one unit of probability (they sum to 1): each pixel "
        "is its own probability, so end the decoder with activation='sigmoid'.",
        _softmax_output,
    ),
    ("the code layer should have no activation: tanh squeezes every code into [-1, 1].", _tanh_code),
    ("the hidden layers should use activation='relu', not sigmoid (sigmoid units saturate and learn slowly).", _sigmoid_hidden),
]


def check_build_encoder_decoder(student_fn, verbose=True, strict=None):
    """Check the exercise ``build_encoder_decoder(code_dim, hidden_units)``.

    The two models are compared by what they do, not by how they are written
    (functional or ``keras.Sequential``, with or without ``keras.Input``): output
    shapes, parameter counts, whether codes are clipped at 0, whether pixels stay
    in [0, 1] or sum to 1 (softmax), whether the encoder is nonlinear, and whether
    encoder and decoder logits scale with their input as ReLU layers without a
    code activation do (a tanh code or sigmoid hidden layers do not). A model that
    raises on a batch is reported in one line naming the model and the input.
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
