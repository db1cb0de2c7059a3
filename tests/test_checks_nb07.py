"""Tests for the exercise checks of notebook 07 (conditional VAE)."""

import keras
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
    np.testing.assert_allclose(keras.ops.convert_to_numpy(concatenated([z, one_hot])), nb07.reference_decoder_input(z, labels, 4))


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


# --------------------------------------------------------------------------- #
# Catalogues of answers written as students write them
# --------------------------------------------------------------------------- #
from helpers import assert_catalogue  # noqa: E402


def _one_hot_named(fn):
    def one_hot(labels, num_classes):
        return fn(labels, num_classes)

    return one_hot


ONE_HOT_WRONG = {
    k: _one_hot_named(f)
    for k, f in {
        "transposed": lambda y, k: np.eye(k)[np.asarray(y)].T,
        "minus one": lambda y, k: np.eye(k)[np.asarray(y) - 1],
        "max + 1 columns": lambda y, k: np.eye(int(np.max(y)) + 1)[np.asarray(y)],
        "labels as a column": lambda y, k: np.asarray(y, dtype="float32")[:, None],
        "row of ones": lambda y, k: np.ones((len(y), k)),
        "k + 1 columns": lambda y, k: np.eye(k + 1)[np.asarray(y)],
        "identity": lambda y, k: np.eye(len(y), k),
        "reversed columns": lambda y, k: np.eye(k)[np.asarray(y)][:, ::-1],
        "cumulative": lambda y, k: (np.arange(k) <= np.asarray(y)[:, None]).astype("float32"),
    }.items()
}
ONE_HOT_RIGHT = {
    k: _one_hot_named(f)
    for k, f in {
        "eye": lambda y, k: np.eye(k, dtype="float32")[np.asarray(y)],
        "comparison": lambda y, k: (np.asarray(y)[:, None] == np.arange(k)).astype("float32"),
        "keras": lambda y, k: keras.ops.convert_to_numpy(keras.ops.one_hot(np.asarray(y), k)),
        "reference": nb07.reference_one_hot,
    }.items()
}


def _decoder_input_named(fn):
    def decoder_input(z, labels, num_classes):
        return fn(z, labels, num_classes)

    return decoder_input


DECODER_INPUT_WRONG = {
    k: _decoder_input_named(f)
    for k, f in {
        "order": lambda z, y, k: np.concatenate([np.eye(k)[y], z], axis=1),
        "integer column": lambda z, y, k: np.concatenate([z, np.asarray(y)[:, None]], axis=1),
        "added": lambda z, y, k: np.asarray(z) + np.eye(k)[y][:, : np.shape(z)[1]] if np.shape(z)[1] <= k else np.asarray(z),
        "axis 0": lambda z, y, k: np.concatenate([np.asarray(z).T, np.eye(k)[y].T], axis=0).T[:, ::-1],
        "code only": lambda z, y, k: np.asarray(z),
        "label only": lambda z, y, k: np.eye(k)[y],
        "minus one label": lambda z, y, k: np.concatenate([z, np.eye(k)[np.asarray(y) - 1]], axis=1),
        "stacked": lambda z, y, k: np.stack([np.asarray(z), np.eye(k)[y][:, : np.shape(z)[1]]], axis=1),
    }.items()
}
DECODER_INPUT_RIGHT = {
    k: _decoder_input_named(f)
    for k, f in {
        "concatenate": lambda z, y, k: np.concatenate([z, np.eye(k)[y]], axis=1),
        "hstack": lambda z, y, k: np.hstack([np.asarray(z, dtype="float32"), np.eye(k, dtype="float32")[y]]),
        "keras": lambda z, y, k: keras.ops.convert_to_numpy(
            keras.ops.concatenate([keras.ops.convert_to_tensor(np.asarray(z, "float32")), keras.ops.one_hot(np.asarray(y), k)], axis=-1)
        ),
    }.items()
}


def _style(encode_label=None, decode_label=None, stack_axis=1, use_sampling=False):
    def style_transfer(model, x, labels, num_classes=10):
        n = len(x)
        code_label = labels if encode_label is None else encode_label(labels, num_classes)
        z_mean, z_log_var = model.encode(x, code_label)
        z = z_mean + (np.exp(0.5 * z_log_var) * np.random.default_rng(0).standard_normal(z_mean.shape) if use_sampling else 0)
        columns = [model.decode(z, np.full(n, k) if decode_label is None else decode_label(labels, k)) for k in range(num_classes)]
        return np.stack(columns, axis=stack_axis)

    return style_transfer


STYLE_WRONG = {
    "new label in the encoder": nb07._encoded_with_new_label,
    "true label in the decoder": _style(decode_label=lambda labels, k: labels),
    "axis 0": _style(stack_axis=0),
    "sampled z": _style(use_sampling=True),
    "label 0 in the encoder": _style(encode_label=lambda labels, k: np.zeros_like(labels)),
    "columns shifted by one": _style(decode_label=lambda labels, k: np.full(len(labels), (k + 1) % 10 if k + 1 < 10 else 0)),
    "last axis": _style(stack_axis=-1),
}
STYLE_RIGHT = {
    "reference": nb07.reference_style_transfer,
    "helper": _style(),
    "list comprehension": lambda model, x, labels, num_classes=10: np.stack(
        [model.decode(model.encode(x, labels)[0], [k] * len(x)) for k in range(num_classes)], axis=1
    ),
}


@pytest.mark.parametrize(
    "check, wrong, right",
    [
        (nb07.check_one_hot, ONE_HOT_WRONG, ONE_HOT_RIGHT),
        (nb07.check_decoder_input, DECODER_INPUT_WRONG, DECODER_INPUT_RIGHT),
        (nb07.check_style_transfer, STYLE_WRONG, STYLE_RIGHT),
    ],
    ids=["one_hot", "decoder_input", "style_transfer"],
)
def test_catalogue_of_student_answers(check, wrong, right, capsys):
    assert_catalogue(check, wrong, right, capsys)
