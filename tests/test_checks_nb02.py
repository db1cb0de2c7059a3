"""Tests for notebook 02's exercise checkers: reference passes, stub, each mistake, a wrong answer."""

import keras
import numpy as np
import pytest
from keras import layers

from workshop import autoencoders
from workshop.checks import nb02


def run(check, fn):
    return check(fn, verbose=False, strict=False)


# --------------------------------------------------------------------------- #
# principal_angles
# --------------------------------------------------------------------------- #
def student_angles(a, b):
    qa, _ = np.linalg.qr(a)
    qb, _ = np.linalg.qr(b)
    cosines = np.linalg.svd(qa.T @ qb, compute_uv=False)
    return np.sort(np.degrees(np.arccos(np.clip(cosines, -1, 1))))


def test_angles_reference_and_hand_written_solution_pass():
    assert run(nb02.check_principal_angles, autoencoders.principal_angles).status == "passed"
    assert run(nb02.check_principal_angles, student_angles).status == "passed"


def test_angles_stub_is_not_implemented():
    def stub(a, b):
        raise NotImplementedError("Exercise principal_angles: QR, then SVD.")

    assert run(nb02.check_principal_angles, stub).status == "not_implemented"


@pytest.mark.parametrize("hint, mistake", nb02.ANGLE_MISTAKES, ids=lambda v: v[:30] if isinstance(v, str) else "")
def test_angles_each_mistake_gets_its_hint(hint, mistake):
    result = run(nb02.check_principal_angles, mistake)
    assert result.status == "mistake", result.message
    assert result.details["hint"] == hint


def test_angles_generic_wrong_answer_and_shape():
    assert run(nb02.check_principal_angles, lambda a, b: student_angles(a, b) + 1.0).status == "wrong"
    result = run(nb02.check_principal_angles, lambda a, b: student_angles(a, b).max())
    assert result.status == "wrong" and "shape" in result.message


# --------------------------------------------------------------------------- #
# shift_vs_noise_mse
# --------------------------------------------------------------------------- #
def student_shift(image, shift, noise_std, rng):
    shifted = np.zeros_like(image)
    if shift > 0:
        shifted[:, shift:] = image[:, :-shift]
    else:
        shifted = image.copy()
    noisy = np.clip(image + rng.normal(0.0, noise_std, size=image.shape), 0.0, 1.0)
    return np.mean((shifted - image) ** 2), np.mean((noisy - image) ** 2)


def test_shift_reference_and_hand_written_solution_pass():
    assert run(nb02.check_shift_vs_noise_mse, autoencoders.shift_vs_noise_mse).status == "passed"
    assert run(nb02.check_shift_vs_noise_mse, student_shift).status == "passed"


def test_shift_stub_is_not_implemented():
    def stub(image, shift, noise_std, rng):
        raise NotImplementedError("Exercise shift_vs_noise_mse: shift, add noise, compare.")

    assert run(nb02.check_shift_vs_noise_mse, stub).status == "not_implemented"


@pytest.mark.parametrize("hint, mistake", nb02.SHIFT_MISTAKES, ids=lambda v: v[:30] if isinstance(v, str) else "")
def test_shift_each_mistake_gets_its_hint(hint, mistake):
    result = run(nb02.check_shift_vs_noise_mse, mistake)
    assert result.status == "mistake", result.message
    assert result.details["hint"] == hint


def test_shift_generic_wrong_answer():
    result = run(nb02.check_shift_vs_noise_mse, lambda *args: student_shift(*args)[::-1])
    assert result.status == "wrong"


# --------------------------------------------------------------------------- #
# build_encoder_decoder
# --------------------------------------------------------------------------- #
def student_encoder_decoder(code_dim, hidden_units):
    # Written differently from the reference (Sequential models), same behaviour.
    encoder = keras.Sequential(
        [keras.Input((784,))] + [layers.Dense(u, activation="relu") for u in hidden_units] + [layers.Dense(code_dim)]
    )
    decoder = keras.Sequential(
        [keras.Input((code_dim,))]
        + [layers.Dense(u, activation="relu") for u in reversed(hidden_units)]
        + [layers.Dense(784, activation="sigmoid")]
    )
    return encoder, decoder


def test_encoder_decoder_reference_and_hand_written_solution_pass():
    assert run(nb02.check_build_encoder_decoder, nb02._reference_encoder_decoder).status == "passed"
    assert run(nb02.check_build_encoder_decoder, student_encoder_decoder).status == "passed"


def test_encoder_decoder_stub_is_not_implemented():
    def stub(code_dim, hidden_units):
        raise NotImplementedError("Exercise build_encoder_decoder: build two models.")

    assert run(nb02.check_build_encoder_decoder, stub).status == "not_implemented"


@pytest.mark.parametrize("hint, mistake", nb02.ENCODER_DECODER_MISTAKES, ids=lambda v: v[:30] if isinstance(v, str) else "")
def test_encoder_decoder_each_mistake_gets_its_hint(hint, mistake):
    result = run(nb02.check_build_encoder_decoder, mistake)
    assert result.status == "mistake", result.message
    assert result.details["hint"] == hint


def test_encoder_decoder_wrong_code_size_and_wrong_return():
    result = run(nb02.check_build_encoder_decoder, lambda code_dim, hidden_units: student_encoder_decoder(code_dim + 1, hidden_units))
    assert result.status == "wrong" and "encoder output shape" in result.message
    result = run(nb02.check_build_encoder_decoder, lambda code_dim, hidden_units: student_encoder_decoder(code_dim, hidden_units)[0])
    assert result.status == "wrong" and "pair" in result.message


@pytest.mark.parametrize("seed", [3])
def test_encoder_decoder_mistakes_are_recognised_whatever_the_initial_weights(seed):
    # Regression: with all-positive probe images a fresh ReLU encoder could look linear,
    # so a mistake was reported as a generic "wrong" answer depending on the global seed.
    import keras

    keras.utils.set_random_seed(seed)
    for hint, mistake in nb02.ENCODER_DECODER_MISTAKES:
        result = run(nb02.check_build_encoder_decoder, mistake)
        assert (result.status, result.details.get("hint")) == ("mistake", hint), result.message


# --------------------------------------------------------------------------- #
# The shared contract, and catalogues of answers written as students write them
# --------------------------------------------------------------------------- #
from helpers import assert_catalogue, assert_checker_contract  # noqa: E402


@pytest.mark.parametrize(
    "check, reference, mistakes",
    [
        (nb02.check_principal_angles, autoencoders.principal_angles, nb02.ANGLE_MISTAKES),
        (nb02.check_shift_vs_noise_mse, autoencoders.shift_vs_noise_mse, nb02.SHIFT_MISTAKES),
    ],
    ids=["principal_angles", "shift_vs_noise_mse"],
)
def test_checker_contract(check, reference, mistakes):
    def perturb(value):
        return tuple(np.asarray(v) * 1.1 + 0.01 for v in value) if isinstance(value, tuple) else np.asarray(value) + 1.0

    assert_checker_contract(check, reference, mistakes, perturb)


def _qr_svd(a, b):
    qa, _ = np.linalg.qr(a)
    qb, _ = np.linalg.qr(b)
    return np.linalg.svd(qa.T @ qb, compute_uv=False)


ANGLES_WRONG = {
    "no clip": lambda a, b: np.degrees(np.arccos(_qr_svd(a, b))),
    "no clip, sorted": lambda a, b: np.sort(np.degrees(np.arccos(_qr_svd(a, b)))),
    "radians": lambda a, b: np.arccos(np.clip(_qr_svd(a, b), -1, 1)),
    "cosines": lambda a, b: np.clip(_qr_svd(a, b), -1, 1),
    "no QR": lambda a, b: np.degrees(np.arccos(np.clip(np.linalg.svd(a.T @ b, compute_uv=False), -1, 1))),
    "normalised only": nb02._angles_normalised_only,
    "descending": lambda a, b: np.degrees(np.arccos(np.clip(_qr_svd(a, b), -1, 1)))[::-1],
    "eigenvalues for singular values": lambda a, b: np.degrees(
        np.arccos(np.clip(np.sort(np.abs(np.linalg.eigvals(np.linalg.qr(a)[0].T @ np.linalg.qr(b)[0][:, : a.shape[1]])))[::-1], -1, 1))
    ),
    "sine instead of cosine": lambda a, b: np.degrees(np.arcsin(np.clip(_qr_svd(a, b), -1, 1))),
    "clip to [0, 0.999]": lambda a, b: np.degrees(np.arccos(np.clip(_qr_svd(a, b), 0, 0.999))),
    "diagonal of Qa^T Qb": lambda a, b: np.degrees(np.arccos(np.clip(np.abs(np.diag(np.linalg.qr(a)[0].T @ np.linalg.qr(b)[0])), -1, 1))),
}
ANGLES_RIGHT = {
    "student": student_angles,
    "minimum": lambda a, b: np.degrees(np.arccos(np.minimum(_qr_svd(a, b), 1.0))),
    "sorted, clipped": lambda a, b: np.sort(np.rad2deg(np.arccos(np.clip(_qr_svd(a, b), -1.0, 1.0)))),
    "complete=False QR and reduced SVD": lambda a, b: np.degrees(
        np.arccos(
            np.clip(np.linalg.svd(np.linalg.qr(a, mode="reduced")[0].T @ np.linalg.qr(b, mode="reduced")[0], full_matrices=False)[1], -1, 1)
        )
    ),
}


def _shift(image, shift, axis=1, roll=False):
    if roll:
        return np.roll(image, shift, axis=axis)
    out = np.zeros_like(image)
    if shift == 0:
        return image.copy()
    if axis == 1:
        out[:, shift:] = image[:, :-shift]
    else:
        out[shift:, :] = image[:-shift, :]
    return out


def _mse(image, shift, noise_std, rng, roll=False, axis=1, clip=True, scale=None, reduce=np.mean, noise="normal"):
    shifted = _shift(image, shift, axis, roll)
    if noise == "normal":
        draws = rng.normal(0.0, noise_std if scale is None else scale, size=image.shape)
    else:
        draws = noise_std * rng.uniform(-1, 1, size=image.shape)
    noisy = image + draws
    if clip:
        noisy = np.clip(noisy, 0.0, 1.0)
    return reduce((shifted - image) ** 2), reduce((noisy - image) ** 2)


SHIFT_WRONG = {
    "np.roll": lambda image, shift, noise_std, rng: _mse(image, shift, noise_std, rng, roll=True),
    "rows": lambda image, shift, noise_std, rng: _mse(image, shift, noise_std, rng, axis=0),
    "no clip": lambda image, shift, noise_std, rng: _mse(image, shift, noise_std, rng, clip=False),
    "variance as std": lambda image, shift, noise_std, rng: _mse(image, shift, noise_std, rng, scale=noise_std**2),
    "sum": lambda image, shift, noise_std, rng: _mse(image, shift, noise_std, rng, reduce=np.sum),
    "root": lambda image, shift, noise_std, rng: tuple(np.sqrt(v) for v in _mse(image, shift, noise_std, rng)),
    "uniform noise": lambda image, shift, noise_std, rng: _mse(image, shift, noise_std, rng, noise="uniform"),
    "swapped pair": lambda image, shift, noise_std, rng: _mse(image, shift, noise_std, rng)[::-1],
    "shift left": lambda image, shift, noise_std, rng: _mse(image[:, ::-1], shift, noise_std, rng),
    "mean absolute error": lambda image, shift, noise_std, rng: tuple(
        np.mean(np.abs(d))
        for d in (_shift(image, shift) - image, np.clip(image + noise_std * rng.standard_normal(image.shape), 0, 1) - image)
    ),
    "new generator": lambda image, shift, noise_std, rng: _mse(image, shift, noise_std, np.random.default_rng()),
}
SHIFT_RIGHT = {
    "student": student_shift,
    "helper": lambda image, shift, noise_std, rng: _mse(image, shift, noise_std, rng),
    "standard_normal": lambda image, shift, noise_std, rng: (
        float(np.mean((_shift(image, shift) - image) ** 2)),
        float(np.mean((np.clip(image + noise_std * rng.standard_normal(image.shape), 0, 1) - image) ** 2)),
    ),
}


def _layers_model(sizes, activations, input_dim, with_input=True, functional=False):
    if functional:
        x = keras.Input((input_dim,))
        h = x
        for units, activation in zip(sizes, activations):
            h = layers.Dense(units, activation=activation)(h)
        return keras.Model(x, h)
    stack = [layers.Dense(u, activation=a) for u, a in zip(sizes, activations)]
    return keras.Sequential(([keras.Input((input_dim,))] if with_input else []) + stack)


def _pair(
    code_dim,
    hidden_units,
    hidden="relu",
    code=None,
    out="sigmoid",
    with_input=True,
    functional=False,
    mirror=True,
    input_dim=784,
    output_units=784,
):
    hidden_units = tuple(hidden_units)
    encoder = _layers_model(hidden_units + (code_dim,), (hidden,) * len(hidden_units) + (code,), input_dim, with_input, functional)
    back = tuple(reversed(hidden_units)) if mirror else hidden_units
    decoder = _layers_model(back + (output_units,), (hidden,) * len(back) + (out,), code_dim, with_input, functional)
    return encoder, decoder


def _wrong_input_shape(code_dim, hidden_units):
    x = keras.Input((28, 28))
    h = x
    for units in hidden_units:
        h = layers.Dense(units, activation="relu")(h)
    encoder = keras.Model(x, layers.Dense(code_dim)(h))
    return encoder, _pair(code_dim, hidden_units)[1]


ENCODER_DECODER_WRONG = {
    "softmax output": lambda code_dim, hidden_units: _pair(code_dim, hidden_units, out="softmax"),
    "tanh code": lambda code_dim, hidden_units: _pair(code_dim, hidden_units, code="tanh"),
    "sigmoid hidden": lambda code_dim, hidden_units: _pair(code_dim, hidden_units, hidden="sigmoid"),
    "relu code": lambda code_dim, hidden_units: _pair(code_dim, hidden_units, code="relu"),
    "no output activation": lambda code_dim, hidden_units: _pair(code_dim, hidden_units, out=None),
    "no hidden activation": lambda code_dim, hidden_units: _pair(code_dim, hidden_units, hidden=None),
    "not mirrored": lambda code_dim, hidden_units: _pair(code_dim, hidden_units, mirror=False),
    "wrong keras.Input shape": _wrong_input_shape,
    "code_dim + 1": lambda code_dim, hidden_units: _pair(code_dim + 1, hidden_units),
    "tanh hidden": lambda code_dim, hidden_units: _pair(code_dim, hidden_units, hidden="tanh"),
}
ENCODER_DECODER_RIGHT = {
    "reference": autoencoders.build_encoder_decoder,
    "Sequential without Input": lambda code_dim, hidden_units: _pair(code_dim, hidden_units, with_input=False),
    "functional": lambda code_dim, hidden_units: _pair(code_dim, hidden_units, functional=True),
}


def test_catalogue_of_student_answers_angles_and_shift(capsys):
    assert_catalogue(nb02.check_principal_angles, ANGLES_WRONG, ANGLES_RIGHT, capsys)
    assert_catalogue(nb02.check_shift_vs_noise_mse, SHIFT_WRONG, SHIFT_RIGHT, capsys)


def test_catalogue_of_student_answers_encoder_decoder(capsys):
    assert_catalogue(nb02.check_build_encoder_decoder, ENCODER_DECODER_WRONG, ENCODER_DECODER_RIGHT, capsys)


def test_a_model_that_raises_is_one_line_naming_the_model():
    result = run(nb02.check_build_encoder_decoder, _wrong_input_shape)
    assert result.status == "wrong"
    assert "the encoder fails on a batch of flat images of shape (64, 784)" in result.message


@pytest.mark.parametrize("seed", [0, 21, 22, 37])
def test_sigmoid_hidden_layers_get_their_hint_whatever_the_initial_weights(seed):
    """Regression: with 3 code dimensions a sigmoid-hidden encoder's codes were all >= 0 for some initialisations,
    so the mistake was reported as "codes can be negative: expected True" instead of getting its hint."""
    np.random.seed(seed)
    keras.utils.set_random_seed(seed)
    result = run(nb02.check_build_encoder_decoder, nb02._sigmoid_hidden)
    assert result.status == "mistake", result.message
    assert "not sigmoid" in result.details["hint"]
