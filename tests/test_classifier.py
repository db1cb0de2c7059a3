"""Tests for workshop.classifier, the digit classifier that judges generated digits, and for the
ConditionalVAE option that makes the decoder obey its label."""

import json
import shutil

import numpy as np
import pytest

from workshop import classifier
from workshop.data import SAMPLE_PATH, read_mnist_npz


@pytest.fixture(scope="module")
def sample_test():
    _, (x_test, y_test) = read_mnist_npz(SAMPLE_PATH)
    return x_test.astype("float32")[..., None] / 255.0, y_test


def test_shipped_weights_score_on_the_sample_test_digits(sample_test):
    x, y = sample_test
    assert classifier.accuracy(x, y) >= 0.98
    binary = (np.random.default_rng(0).random(x.shape) < x).astype("float32")
    assert classifier.accuracy(binary, y) >= 0.97


def test_the_classifier_is_not_listed_as_a_pretrained_vae():
    from workshop import pretrained

    assert "digit_classifier" not in pretrained.available()
    assert not any(name.startswith("digit_classifier") for name in pretrained.available())


def test_recorded_accuracy_on_the_full_test_set_is_at_least_98_percent():
    meta = json.loads(classifier.META_PATH.read_text())
    assert meta["test_accuracy"]["num_images"] == 10000
    assert meta["test_accuracy"]["grey"] >= 0.98 and meta["test_accuracy"]["binarized"] >= 0.98
    assert meta["weights"]["dtype"] == "float16"


def test_predictions_per_class_and_flat_images(sample_test):
    x, y = sample_test
    x, y = x[:200], y[:200]
    labels = classifier.predict_labels(x.reshape(len(x), 784))
    assert labels.shape == (200,) and labels.dtype.kind == "i"
    per_class = classifier.per_class_accuracy(x, y)
    assert per_class.shape == (10,)
    counts = np.bincount(y, minlength=10)
    np.testing.assert_allclose(np.nansum(per_class * counts) / counts.sum(), classifier.accuracy(x, y))
    # A class that is absent gives nan, not a division warning.
    assert np.isnan(classifier.per_class_accuracy(x[y == 3][:5], np.full(5, 3))[0])


@pytest.mark.parametrize(
    "images, labels, match",
    [
        (np.zeros((2, 28, 28, 1)) + 255.0, np.array([0, 1]), "0, 1"),
        (np.zeros((2, 27, 27, 1)), np.array([0, 1]), "28"),
        (np.zeros((2, 28, 28, 1)), np.array([0, 10]), "10"),
        (np.zeros((2, 28, 28, 1)), np.array([0]), "2"),
    ],
)
def test_bad_inputs_raise_value_errors(images, labels, match):
    with pytest.raises(ValueError, match=match):
        classifier.accuracy(images, labels)


def test_a_changed_weight_file_is_refused(tmp_path):
    weights = tmp_path / "digit_classifier.npz"
    shutil.copy(classifier.WEIGHTS_PATH, weights)
    shutil.copy(classifier.META_PATH, tmp_path / "digit_classifier.meta.json")
    assert classifier.load_classifier(weights) is not None
    with open(weights, "ab") as handle:
        handle.write(b"x")
    classifier._LOADED.clear()
    with pytest.raises(ValueError, match="SHA-256"):
        classifier.load_classifier(weights)
    with pytest.raises(ValueError, match="missing"):
        classifier.load_classifier(tmp_path / "absent.npz")


def test_training_a_fresh_classifier_learns(sample_test):
    x, y = sample_test
    model = classifier.train_classifier(x[:1500], y[:1500], epochs=3, seed=1)
    assert classifier.accuracy(x[1500:], y[1500:], model=model) > 0.5  # chance: 0.1


# ------------------------------------------------------------- ConditionalVAE
def test_label_every_layer_feeds_the_label_to_every_decoder_layer_and_round_trips():
    from workshop.models import ConditionalVAE

    model = ConditionalVAE(latent_dim=3, hidden_units=(16, 8), label_every_layer=True)
    names = [layer.name for layer in model.decoder.layers]
    assert {"z_and_label", "label_to_hidden_1", "label_to_logits"} <= set(names)
    assert model.decoder.get_layer("logits").input.shape[-1] == 16 + 10
    restored = ConditionalVAE.from_config(model.get_config())
    assert restored._label_every_layer and len(restored.weights) == len(model.weights)
    plain = ConditionalVAE(latent_dim=3, hidden_units=(16, 8))
    assert not plain._label_every_layer
    assert not any(name.startswith("label_to_") for name in (layer.name for layer in plain.decoder.layers))
    # The decoder's output depends on the label through its last layer alone, too.
    z = np.zeros((2, 3), "float32")
    a = model.decode(z, labels=[0, 0])
    b = model.decode(z, labels=[5, 5])
    assert not np.allclose(a, b)
    with pytest.raises(ValueError, match="label_every_layer"):
        ConditionalVAE(latent_dim=3, label_every_layer="yes")
