"""Tests for the exercise checks of notebook 07 (conditional VAE)."""

import numpy as np
import pytest

from helpers import assert_checker_contract

from workshop.checks import nb07


CHECKS = [
    (nb07.check_one_hot, nb07.reference_one_hot, nb07._ONE_HOT_MISTAKES),
    (nb07.check_decoder_input, nb07.reference_decoder_input, nb07._DECODER_INPUT_MISTAKES),
    (nb07.check_style_transfer, nb07.reference_style_transfer, nb07._STYLE_TRANSFER_MISTAKES),
]
IDS = ["one_hot", "decoder_input", "style_transfer"]


@pytest.mark.parametrize("check, reference, mistakes", CHECKS, ids=IDS)
def test_checker_contract(check, reference, mistakes):
    assert_checker_contract(check, reference, mistakes, perturb=lambda value: np.asarray(value) * 0.9 + 0.05)


def test_one_hot_rows():
    rows = nb07.reference_one_hot(np.array([3, 0]), 4)
    np.testing.assert_array_equal(rows, [[0, 0, 0, 1], [1, 0, 0, 0]])


def test_reference_decoder_input_matches_the_conditional_decoder():
    # The package's decoder concatenates [z, one-hot label] in its first layer.
    import keras

    from workshop.models import build_decoder

    decoder = build_decoder(3, hidden_units=(8,), num_classes=4)
    concatenated = keras.Model(decoder.inputs, decoder.get_layer("z_and_label").output)
    z = np.random.default_rng(0).standard_normal((5, 3)).astype("float32")
    labels = np.array([0, 3, 1, 2, 3])
    one_hot = nb07.reference_one_hot(labels, 4)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(concatenated([z, one_hot])), nb07.reference_decoder_input(z, labels, 4)
    )


def test_toy_model_depends_on_the_label_in_both_directions():
    model = nb07.ToyConditionalModel(num_classes=3, seed=0)
    x = np.random.default_rng(0).random((2, 28, 28, 1))
    z0, _ = model.encode(x, np.array([0, 0]))
    z1, _ = model.encode(x, np.array([1, 1]))
    assert not np.allclose(z0, z1)
    assert not np.allclose(model.decode(z0, np.array([0, 0])), model.decode(z0, np.array([2, 2])))
    out = nb07.reference_style_transfer(model, x, np.array([0, 1]), 3)
    assert out.shape == (2, 3, 28, 28, 1)
    # Column k of image i is its own reconstruction when k is its true label.
    np.testing.assert_allclose(out[1, 1], model.decode(model.encode(x[1:], [1])[0], [1])[0])
