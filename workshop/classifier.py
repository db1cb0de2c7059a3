"""A small convolutional digit classifier, to judge generated digits.

A conditional VAE asked for a 7 should draw a 7. To measure how often it does,
classify its samples with a classifier that is itself reliable on real digits.
The package ships one (about 57,000 parameters, float16 weights, 0.1 MB)::

    from workshop import classifier
    net = classifier.load_classifier()              # a keras.Model: images -> 10 logits
    labels = classifier.predict_labels(images)      # integer class of each image
    accuracy = classifier.accuracy(images, labels)  # fraction classified as `labels`

It was trained on the 60,000 MNIST training images, half of every batch as
grey levels and half binarized with a fresh random draw, so that it reads both
the binarized digits of the notebooks and the grey mean images a decoder
outputs. It scores about 99% on the 10,000 test digits (grey or binarized; the
numbers are recorded in ``workshop/pretrained/digit_classifier.meta.json``).

Retrain it (a couple of minutes on a laptop CPU; the shipped weights: 5 epochs) with::

    python -m workshop.classifier train
"""

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from workshop.pretrained import sha256_file
from workshop.settings import quiet_tensorflow
from workshop.validation import check_images, check_labels, check_positive_int

quiet_tensorflow()

NUM_CLASSES = 10
WEIGHTS_PATH = Path(__file__).with_name("pretrained") / "digit_classifier.npz"
META_PATH = WEIGHTS_PATH.with_suffix(".meta.json")  # not NAME.json: pretrained.available() lists VAEs only
STORAGE_DTYPE = "float16"

__all__ = [
    "accuracy",
    "build_classifier",
    "load_classifier",
    "per_class_accuracy",
    "predict_labels",
    "train_classifier",
]

_LOADED = {}


def build_classifier(seed=0):
    """The classifier's architecture, untrained: images (N, 28, 28, 1) in [0, 1] -> 10 logits.

    Two 3x3 convolutions (16 and 32 filters), each followed by 2x2 max pooling,
    then a Dense layer of 64 ReLU units and a Dense layer of 10 logits.
    """
    import keras
    from keras import layers

    init = keras.initializers.GlorotUniform
    return keras.Sequential(
        [
            keras.Input(shape=(28, 28, 1), name="image"),
            layers.Conv2D(16, 3, activation="relu", kernel_initializer=init(seed), name="conv_0"),
            layers.MaxPooling2D(2, name="pool_0"),
            layers.Conv2D(32, 3, activation="relu", kernel_initializer=init(seed + 1), name="conv_1"),
            layers.MaxPooling2D(2, name="pool_1"),
            layers.Flatten(name="flatten"),
            layers.Dense(64, activation="relu", kernel_initializer=init(seed + 2), name="hidden"),
            layers.Dense(NUM_CLASSES, kernel_initializer=init(seed + 3), name="logits"),
        ],
        name="digit_classifier",
    )


def load_classifier(path=None):
    """Return the shipped, trained classifier (a ``keras.Model``; loaded once per process).

    Raises:
        ValueError: when the weight file is missing, does not match its recorded
            SHA-256, or holds weights of other shapes.
    """
    weights_path = Path(path) if path is not None else WEIGHTS_PATH
    key = str(weights_path.resolve())
    if key in _LOADED:
        return _LOADED[key]
    meta_path = weights_path.with_suffix(".meta.json")
    if not weights_path.is_file() or not meta_path.is_file():
        raise ValueError(f"Expected the classifier's weights at {weights_path} and {meta_path}. Received: missing file")
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    digest = sha256_file(weights_path)
    if digest != meta["weights"]["sha256"]:
        raise ValueError(f"{weights_path}: expected SHA-256 {meta['weights']['sha256']}. Received: {digest} (a corrupt or changed file)")
    model = build_classifier()
    with np.load(weights_path, allow_pickle=False) as archive:
        weights = [archive[f"w{i:03d}"] for i in range(len(archive.files))]
    expected = [tuple(w.shape) for w in model.weights]
    received = [tuple(w.shape) for w in weights]
    if expected != received:
        raise ValueError(f"{weights_path}: expected weights of shapes {expected}. Received: {received}")
    model.set_weights([w.astype("float32") for w in weights])
    _LOADED[key] = model
    return model


def _logits(images, model, batch_size):
    x = check_images(images, "images").astype("float32")
    model = load_classifier() if model is None else model
    batch_size = check_positive_int(batch_size, "batch_size")
    out = [np.asarray(model(x[i : i + batch_size], training=False)) for i in range(0, len(x), batch_size)]
    return np.concatenate(out) if out else np.zeros((0, NUM_CLASSES), "float32")


def predict_labels(images, model=None, batch_size=1000):
    """The predicted class of each image: integers of shape (N,).

    Args:
        images: (N, 28, 28, 1) or (N, 28, 28) or (N, 784), values in [0, 1].
        model: a classifier (default: the shipped one).
        batch_size: images per forward pass.
    """
    return np.argmax(_logits(images, model, batch_size), axis=-1)


def accuracy(images, labels, model=None):
    """Fraction of ``images`` that the classifier assigns to ``labels`` (integers of shape (N,))."""
    x = check_images(images, "images")
    one_hot = check_labels(labels, len(x), NUM_CLASSES)
    return float(np.mean(predict_labels(x, model) == np.argmax(one_hot, axis=-1)))


def per_class_accuracy(images, labels, model=None):
    """Accuracy within each class: an array of shape (10,) (nan for a class absent from ``labels``)."""
    x = check_images(images, "images")
    labels = np.argmax(check_labels(labels, len(x), NUM_CLASSES), axis=-1)
    hits = predict_labels(x, model) == labels
    return np.array([hits[labels == k].mean() if np.any(labels == k) else np.nan for k in range(NUM_CLASSES)])


def train_classifier(x_train, y_train, epochs=5, batch_size=128, seed=0, verbose=0):
    """Train a fresh classifier on grey images (half of each batch binarized at random); return it.

    Args:
        x_train: grey training images in [0, 1], (N, 28, 28, 1).
        y_train: their integer labels, (N,).
        epochs, batch_size: as in ``keras.Model.fit``.
        seed: seeds the initial weights, the shuffling and the binarization.
    """
    import keras
    import tensorflow as tf

    x = check_images(x_train, "x_train").astype("float32")
    y = np.argmax(check_labels(y_train, len(x), NUM_CLASSES), axis=-1).astype("int32")
    epochs = check_positive_int(epochs, "epochs")
    keras.utils.set_random_seed(seed)
    model = build_classifier(seed)
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
        jit_compile=False,
    )

    def half_binarized(images, labels):
        u = tf.random.uniform(tf.shape(images), seed=seed)
        binary = tf.cast(u < images, "float32")
        keep_grey = tf.random.uniform((tf.shape(images)[0], 1, 1, 1), seed=seed + 1) < 0.5
        return tf.where(keep_grey, images, binary), labels

    data = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(len(x), seed=seed).batch(batch_size).map(half_binarized).prefetch(2)
    model.fit(data, epochs=epochs, verbose=verbose, shuffle=False)  # the dataset is shuffled
    return model


def _export(model, x_test, y_test, extra):
    """Write the float16 weights and their metadata; return the metadata."""
    weights = [w.astype(STORAGE_DTYPE) for w in model.get_weights()]
    WEIGHTS_PATH.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(WEIGHTS_PATH, **{f"w{i:03d}": w for i, w in enumerate(weights)})
    rebuilt = build_classifier()
    rebuilt.set_weights([w.astype("float32") for w in weights])
    rng = np.random.default_rng(0)
    binary = (rng.random(x_test.shape) < x_test).astype("float32")
    meta = {
        "description": "digit classifier for judging generated MNIST digits (workshop.classifier)",
        "weights": {
            "file": WEIGHTS_PATH.name,
            "dtype": STORAGE_DTYPE,
            "parameters": int(sum(w.size for w in weights)),
            "sha256": sha256_file(WEIGHTS_PATH),
        },
        "test_accuracy": {
            "grey": accuracy(x_test, y_test, rebuilt),
            "binarized": accuracy(binary, y_test, rebuilt),
            "num_images": int(len(x_test)),
        },
        **extra,
    }
    META_PATH.write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return meta


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m workshop.classifier", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    train = sub.add_parser("train", help="train on MNIST (MNIST_PATH or the shipped sample) and write the weights")
    train.add_argument("--epochs", type=int, default=5)
    train.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    import time

    from workshop.data import load_mnist

    (x_train, y_train), (x_test, y_test), info = load_mnist(binarize=None, return_info=True)
    start = time.perf_counter()
    model = train_classifier(x_train, y_train, epochs=args.epochs, seed=args.seed, verbose=2)
    seconds = time.perf_counter() - start
    meta = _export(
        model,
        x_test,
        y_test,
        {
            "training": {
                "command": f"python -m workshop.classifier train --epochs {args.epochs} --seed {args.seed}",
                "data": info.get("source"),
                "num_train": int(len(x_train)),
                "seconds": round(seconds, 1),
            }
        },
    )
    print(json.dumps(meta["test_accuracy"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
