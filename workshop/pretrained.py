"""Pretrained VAEs shipped with the package, for students who skip training.

One line gives a trained model::

    from workshop import pretrained
    model = pretrained.load_pretrained("vae_mnist_z20")   # a workshop.VAE, ready to use

Each model is two files in ``workshop/pretrained/``: ``NAME.npz`` (the weights,
stored as float16 in a compressed archive, about 2 MB for the 784-512-256-20
MLP) and ``NAME.json`` (the model's configuration, the sha256 of ``NAME.npz``,
how it was trained, and its test -ELBO measured on the float16 weights).
:func:`load_pretrained` checks the weights against that sha256, so changed or
damaged weights never load silently; any damaged file is a ``ValueError``
naming it. ``README.md`` there says which command trained each model.

Instructors make these files with ``python -m workshop export RUN_DIR NAME``
(:mod:`workshop.instructor.export`).
"""

import hashlib
import json
import sys
import zipfile
from pathlib import Path

import numpy as np

from workshop.constants import BINARIZE_SEED
from workshop.settings import quiet_tensorflow

PRETRAINED_DIR = Path(__file__).with_name("pretrained")
STORAGE_DTYPE = "float16"
ELBO_SEED = 0  # the seed of the one-sample ELBO estimate that is recorded
FORMAT_VERSION = 1

__all__ = ["PRETRAINED_DIR", "available", "describe", "load_pretrained", "recorded_likelihood", "test_elbo", "test_images"]


def available(directory=None):
    """Names of the pretrained models in ``directory`` (default: the package's), sorted."""
    directory = Path(directory) if directory is not None else PRETRAINED_DIR
    if not directory.is_dir():
        return []
    return sorted(p.stem for p in directory.glob("*.json") if p.with_suffix(".npz").is_file())


def _files(name, directory):
    directory = Path(directory) if directory is not None else PRETRAINED_DIR
    names = available(directory)
    if not isinstance(name, str) or name not in names:
        raise ValueError(f"Expected the name of a pretrained model, one of {names}. Received: name={name!r}")
    return directory / f"{name}.json", directory / f"{name}.npz"


def describe(name, directory=None):
    """The metadata of a pretrained model (its JSON file) as a dict.

    Keys include ``config`` (the arguments of :class:`workshop.VAE`), ``weights``
    (file, dtype, shapes and ``sha256``), ``training`` (the command, the data, the
    seconds it took and the per-epoch ``history`` that
    :func:`workshop.plots.plot_history` draws) and ``test`` (the recorded test
    -ELBO on the full test set and on the shipped sample, nats per image).

    Raises:
        ValueError: an unknown name, or a JSON file that is not valid JSON or
            lacks ``config`` or ``weights.sha256`` (naming the file).
    """
    meta_path, _ = _files(name, directory)
    try:
        with open(meta_path, encoding="utf-8") as handle:
            meta = json.load(handle)
    except (ValueError, UnicodeDecodeError) as error:
        raise ValueError(f"{meta_path}: not valid JSON ({type(error).__name__}: {error}); reinstall the package") from None
    problems = []
    if not isinstance(meta, dict) or not isinstance(meta.get("config"), dict):
        problems.append("a `config` object")
    if not isinstance(meta, dict) or not isinstance(meta.get("weights"), dict) or not isinstance(meta["weights"].get("sha256"), str):
        problems.append("a `weights.sha256` string")
    if problems:
        raise ValueError(f"{meta_path}: expected the metadata of a pretrained model with {' and '.join(problems)}; reinstall the package")
    return meta


def sha256_file(path):
    """The sha256 hex digest of a file (read in 1 MiB blocks): how shipped weights are pinned."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _read_weights(weights_path, count):
    """The arrays ``w000 ... w{count-1}`` of an archive; ValueError naming the file otherwise."""
    try:
        with np.load(weights_path, allow_pickle=False) as archive:
            expected = [f"w{i:03d}" for i in range(count)]
            if sorted(archive.files) != expected:
                raise ValueError(f"{weights_path}: expected arrays {expected[0]} ... {expected[-1]}. Received: {sorted(archive.files)}")
            return [archive[key] for key in expected]
    except ValueError:
        raise
    except (OSError, EOFError, zipfile.BadZipFile, KeyError) as error:
        raise ValueError(f"{weights_path}: not a readable weights archive ({type(error).__name__}: {error})") from None


def load_pretrained(name, directory=None):
    """Return the pretrained model called ``name``, weights loaded: a :class:`workshop.VAE`, or the
    :class:`workshop.MixturePriorVAE` its ``NAME.json`` names as ``model_class`` (``"vade_mnist_clustering"``).

    The weights file is checked against the sha256 recorded in ``NAME.json``;
    the float16 weights are converted to float32; the model is compiled (Adam,
    learning rate 1e-3) so that it can also be trained further or evaluated.

    Args:
        name: a name from :func:`available`, e.g. ``"vae_mnist_z20"``, ``"vae_mnist_z2"`` or ``"vade_mnist_clustering"``.
        directory: where the files are (default: the package's ``pretrained/`` folder).

    Returns:
        A ``workshop.VAE``.

    Raises:
        ValueError: an unknown name, or a damaged file (changed or truncated
            weights, a renamed array, broken JSON), naming the file.

    Example:
        >>> model = load_pretrained("vae_mnist_z2")
        >>> images = model.sample(16, seed=0)
    """
    meta = describe(name, directory)
    meta_path, weights_path = _files(name, directory)
    recorded = meta["weights"]["sha256"]
    found = sha256_file(weights_path)
    if found != recorded:
        raise ValueError(
            f"{weights_path}: the weights do not match the sha256 recorded in {meta_path.name} "
            f"(expected {recorded[:12]}..., received {found[:12]}...): the file was changed or damaged; reinstall the package"
        )
    quiet_tensorflow()  # TensorFlow is imported here, not with this module: `python -m workshop export --help` stays instant
    from workshop.mixture import MixturePriorVAE
    from workshop.models import VAE

    classes = {"VAE": VAE, "MixturePriorVAE": MixturePriorVAE}
    if meta.get("model_class", "VAE") not in classes:
        raise ValueError(f"{meta_path}: expected a model_class among {sorted(classes)}. Received: {meta.get('model_class')!r}")
    try:
        model = classes[meta.get("model_class", "VAE")](**meta["config"])
    except (TypeError, ValueError) as error:
        raise ValueError(f"{meta_path}: not a valid VAE configuration ({error})") from None
    weights = _read_weights(weights_path, len(model.weights))
    expected = [tuple(v.shape) for v in model.weights]
    received = [tuple(w.shape) for w in weights]
    if expected != received:
        raise ValueError(f"{weights_path}: expected weights of shapes {expected} for this configuration. Received: {received}")
    model.set_weights([w.astype("float32") for w in weights])
    model.compile()
    return model


# --------------------------------------------------------------------- measure
def test_images(path):
    """The fixed-binarized test images of the MNIST at ``path`` (the recorded numbers' test set), and where they came from."""
    from workshop.data import load_mnist

    _, (x_test, _), info = load_mnist(path=path, binarize="random", seed=BINARIZE_SEED, return_info=True)
    return x_test, info


_test_images = test_images  # the name the tests and older notebooks use


def test_elbo(model, x):
    """The recorded number: mean -ELBO of ``x`` in nats per image (one z per image, ``seed=ELBO_SEED``)."""
    return float(-np.mean(model.elbo(x, num_samples=1, seed=ELBO_SEED)))


# ------------------------------------------------------------ log-likelihoods
LIKELIHOODS_FILE = "likelihoods.json"  # IWAE numbers of the shipped models (notebook 08 reads them)


def recorded_likelihood(name, directory=None):
    """The entry of ``likelihoods.json`` for ``name`` if it matches the shipped weights, else None.

    Entries are written by ``python -m workshop likelihood NAME`` (:func:`workshop.instructor.export.record_likelihood`)
    and keyed by the sha256 of the weights, so a re-exported model is never matched with the numbers of
    its predecessor.
    """
    path = (Path(directory) if directory is not None else PRETRAINED_DIR) / LIKELIHOODS_FILE
    if not path.is_file() or name not in available(directory):
        return None
    try:
        records = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as error:
        raise ValueError(f"{path}: not valid JSON ({error}).") from None
    entry = records.get(name) if isinstance(records, dict) else None
    if not isinstance(entry, dict) or entry.get("weights_sha256") != describe(name, directory)["weights"]["sha256"]:
        return None
    return entry


# ------------------------------------------------------------------------- CLI
def main(argv=None):
    """``python -m workshop.pretrained list``: the shipped models with their test -ELBO (export is ``python -m workshop export``)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv != ["list"]:
        print("error: expected `list` (or use `python -m workshop export RUN_DIR NAME`)", file=sys.stderr)
        return 2
    for model_name in available():
        meta = describe(model_name)
        print(f"{model_name}: {meta['description']}; test -ELBO {meta['test']['full']['neg_elbo']:.2f} nats/image")
    return 0


if __name__ == "__main__":
    sys.exit(main())
