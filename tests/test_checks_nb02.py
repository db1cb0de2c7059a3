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


@pytest.mark.parametrize(
    "hint, mistake", nb02.ENCODER_DECODER_MISTAKES, ids=lambda v: v[:30] if isinstance(v, str) else ""
)
def test_encoder_decoder_each_mistake_gets_its_hint(hint, mistake):
    result = run(nb02.check_build_encoder_decoder, mistake)
    assert result.status == "mistake", result.message
    assert result.details["hint"] == hint


def test_encoder_decoder_wrong_code_size_and_wrong_return():
    result = run(nb02.check_build_encoder_decoder, lambda code_dim, hidden_units: student_encoder_decoder(code_dim + 1, hidden_units))
    assert result.status == "wrong" and "encoder output shape" in result.message
    result = run(nb02.check_build_encoder_decoder, lambda code_dim, hidden_units: student_encoder_decoder(code_dim, hidden_units)[0])
    assert result.status == "wrong" and "pair" in result.message


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_encoder_decoder_mistakes_are_recognised_whatever_the_initial_weights(seed):
    # Regression: with all-positive probe images a fresh ReLU encoder could look linear,
    # so a mistake was reported as a generic "wrong" answer depending on the global seed.
    import keras

    keras.utils.set_random_seed(seed)
    for hint, mistake in nb02.ENCODER_DECODER_MISTAKES:
        result = run(nb02.check_build_encoder_decoder, mistake)
        assert (result.status, result.details.get("hint")) == ("mistake", hint), result.message
