"""Pretrained VAEs shipped with the package, for students who skip training.

One line gives a trained model::

    from workshop import pretrained
    model = pretrained.load_pretrained("vae_mnist_z20")   # a workshop.VAE, ready to use

Each model is two files in ``workshop/pretrained/``: ``NAME.npz`` (the weights,
stored as float16 in a compressed archive, about 2 MB for the 784-512-256-20
MLP) and ``NAME.json`` (the model's configuration, how it was trained, and its
test -ELBO measured on the float16 weights). ``README.md`` there says which
command trained each model.

Instructors make these files from a run folder of ``python -m workshop train``::

    python -m workshop.pretrained export runs/z20 vae_mnist_z20

which rounds the weights to float16, rebuilds the model from them and records
its test -ELBO (nats per image, one sample of z per image, ``seed=0``) on the
full fixed-binarized MNIST test set and on the 2,000 test images of the shipped
sample, so a test can check the shipped weights anywhere.
"""

import argparse
import hashlib
import json
import os
import sys
import warnings
from pathlib import Path

import numpy as np

from workshop.settings import quiet_tensorflow

quiet_tensorflow()

PRETRAINED_DIR = Path(__file__).with_name("pretrained")
STORAGE_DTYPE = "float16"
ELBO_SEED = 0  # the seed of the one-sample ELBO estimate that is recorded
BINARIZE_SEED = 0  # the fixed stochastic binarization of the test set (as in the CLI)
FORMAT_VERSION = 1

__all__ = ["PRETRAINED_DIR", "available", "describe", "export", "load_pretrained", "record_likelihood", "recorded_likelihood", "test_elbo"]


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

    Keys include ``config`` (the arguments of :class:`workshop.VAE`), ``training``
    (the command, the data, the seconds it took and the per-epoch ``history``
    that :func:`workshop.plots.plot_history` draws) and ``test`` (the recorded
    test -ELBO on the full test set and on the shipped sample, nats per image).
    """
    meta_path, _ = _files(name, directory)
    with open(meta_path, encoding="utf-8") as handle:
        return json.load(handle)


def load_pretrained(name, directory=None):
    """Return the pretrained :class:`workshop.VAE` called ``name``, weights loaded.

    The float16 weights are converted to float32; the model is compiled (Adam,
    learning rate 1e-3) so that it can also be trained further or evaluated.

    Args:
        name: a name from :func:`available`, e.g. ``"vae_mnist_z20"`` or ``"vae_mnist_z2"``.
        directory: where the files are (default: the package's ``pretrained/`` folder).

    Returns:
        A ``workshop.VAE``.

    Example:
        >>> model = load_pretrained("vae_mnist_z2")
        >>> images = model.sample(16, seed=0)
    """
    meta = describe(name, directory)
    _, weights_path = _files(name, directory)
    from workshop.models import VAE

    model = VAE(**meta["config"])
    with np.load(weights_path, allow_pickle=False) as archive:
        weights = [archive[f"w{i:03d}"] for i in range(len(archive.files))]
    expected = [tuple(v.shape) for v in model.weights]
    received = [tuple(w.shape) for w in weights]
    if expected != received:
        raise ValueError(
            f"{weights_path}: expected weights of shapes {expected} for this configuration. Received: {received}"
        )
    model.set_weights([w.astype("float32") for w in weights])
    model.compile()
    return model


# --------------------------------------------------------------------- measure
def _test_images(path):
    from workshop.data import load_mnist

    _, (x_test, _), info = load_mnist(path=path, binarize="random", seed=BINARIZE_SEED, return_info=True)
    return x_test, info


def test_elbo(model, x):
    """The recorded number: mean -ELBO of ``x`` in nats per image (one z per image, ``seed=ELBO_SEED``)."""
    return float(-np.mean(model.elbo(x, num_samples=1, seed=ELBO_SEED)))


def _command_line(arguments):
    """``python -m workshop train ...`` with the options that differ from their defaults."""
    from workshop.cli import build_parser

    preset = arguments.get("preset")
    defaults = vars(build_parser(preset).parse_args(["train"] + (["--preset", preset] if preset else [])))
    parts = ["python -m workshop train"] + ([f"--preset {preset}"] if preset else [])
    for key, value in arguments.items():
        if key in ("output", "overwrite", "quiet", "data", "preset") or defaults.get(key) == value:
            continue
        if isinstance(defaults.get(key), tuple) and list(defaults[key]) == value:
            continue
        flag = "--" + key.replace("_", "-")
        if isinstance(value, bool):
            parts.append(flag if value else f"--no-{key.replace('_', '-')}")
        elif isinstance(value, (list, tuple)):
            parts.append(f"{flag} {','.join(str(v) for v in value)}")
        else:
            parts.append(f"{flag} {value}")
    return " ".join(parts)


def export(run_dir, name, output_dir=None, data=None, description=None):
    """Write ``NAME.npz`` and ``NAME.json`` from a run folder of ``python -m workshop train``.

    The weights are rounded to float16; the test -ELBO is measured AFTER that
    rounding, on the fixed-binarized test set of the full MNIST (``data``, else
    ``$MNIST_PATH``, else Keras's copy) and on the shipped sample's 2,000 test
    images.

    Args:
        run_dir: the run folder (holding ``model.keras`` and ``config.json``).
        name: the model's name, letters, digits and ``_`` only (e.g. ``"vae_mnist_z20"``).
        output_dir: where to write (default: the package's ``pretrained/`` folder).
        data: an MNIST ``.npz`` (default: ``$MNIST_PATH``, then Keras).
        description: one sentence for the JSON file.

    Returns:
        The metadata written to ``NAME.json``, as a dict.
    """
    import keras

    from workshop.data import SAMPLE_PATH
    from workshop.models import VAE

    if not isinstance(name, str) or not name.replace("_", "").isalnum():
        raise ValueError(f"Expected a name of letters, digits and underscores. Received: name={name!r}")
    run_dir = Path(run_dir)
    model_path, config_path = run_dir / "model.keras", run_dir / "config.json"
    for path in (model_path, config_path):
        if not path.is_file():
            raise FileNotFoundError(f"Expected a run folder of `python -m workshop train` holding {path.name}. Missing: {path}")
    with open(config_path, encoding="utf-8") as handle:
        run_config = json.load(handle)
    history = None
    if (run_dir / "history.json").is_file():
        with open(run_dir / "history.json", encoding="utf-8") as handle:
            history = {k: [round(float(v), 4) for v in values] for k, values in json.load(handle).items()}
    trained = keras.saving.load_model(model_path, compile=False)
    if type(trained) is not VAE:
        raise ValueError(f"Expected a workshop VAE in {model_path}. Received: a {type(trained).__name__}")

    config = {k: v for k, v in trained.get_config().items() if k not in ("name", "trainable", "dtype")}
    rounded = [np.asarray(w).astype(STORAGE_DTYPE) for w in trained.get_weights()]
    model = VAE(**config)
    model.set_weights([w.astype("float32") for w in rounded])

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        x_full, full_info = _test_images(data)
    if full_info["source"] == "sample":
        raise ValueError("Expected the full MNIST to record the test -ELBO: set MNIST_PATH or pass data=...")
    x_sample, _ = _test_images(SAMPLE_PATH)
    arguments = run_config.get("arguments", {})
    test = {
        "full": {"neg_elbo": round(test_elbo(model, x_full), 4), "num_images": int(len(x_full))},
        "sample": {"neg_elbo": round(test_elbo(model, x_sample), 4), "num_images": int(len(x_sample))},
        "float32_full": round(test_elbo(trained, x_full), 4),
    }
    output_dir = Path(output_dir) if output_dir is not None else PRETRAINED_DIR
    output_dir.mkdir(parents=True, exist_ok=True)
    weights_path = output_dir / f"{name}.npz"
    np.savez_compressed(weights_path, **{f"w{i:03d}": w for i, w in enumerate(rounded)})
    meta = {
        "format_version": FORMAT_VERSION,
        "name": name,
        "description": description or f"VAE {_layers(config)} trained on binarized MNIST",
        "config": config,
        "weights": {
            "file": weights_path.name,
            "dtype": STORAGE_DTYPE,
            "parameters": int(sum(w.size for w in rounded)),
            "sha256": hashlib.sha256(weights_path.read_bytes()).hexdigest(),
            "shapes": [list(w.shape) for w in rounded],
        },
        "training": {
            "command": _command_line(arguments),
            "arguments": {k: v for k, v in arguments.items() if k not in ("output", "overwrite", "quiet")},
            "data": run_config.get("data"),
            "epochs_completed": run_config.get("epochs_completed"),
            "seconds": run_config.get("seconds"),
            "versions": run_config.get("versions"),
            "history": history,
        },
        "test": {
            "what": "mean -ELBO in nats per image of the fixed-binarized test images "
            f"(binarize='random', seed={BINARIZE_SEED}), one sample of z per image with seed={ELBO_SEED}, "
            "computed with the float16 weights; float32_full is the same on the full test set before rounding",
            **test,
        },
    }
    meta_path = output_dir / f"{name}.json"
    tmp = meta_path.with_name(f".{meta_path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(meta, handle, indent=2)
        handle.write("\n")
    os.replace(tmp, meta_path)
    return meta


def _layers(config):
    if config.get("architecture", "mlp") == "mlp":
        return "-".join(str(u) for u in (784, *config["hidden_units"], config["latent_dim"]))
    return f"conv, latent_dim={config['latent_dim']}"


# ------------------------------------------------------------ log-likelihoods
LIKELIHOODS_FILE = "likelihoods.json"  # IWAE numbers of the shipped models (notebook 08 reads them)


def record_likelihood(name, num_samples=5000, num_images=None, seed=0, directory=None, data=None):
    """Measure a pretrained model's test -ELBO and IWAE bound and record them in ``likelihoods.json``.

    The test set is the fixed-binarized one (``binarize='random'``, seed 0) of the
    full MNIST (``data``, else ``$MNIST_PATH``, else Keras); ``num_images`` (default:
    all 10,000) are taken from its start. The entry is keyed by the model's name
    and stores the SHA-256 of its weights, so a re-exported model is not matched
    with the numbers of its predecessor. Slow: K = 5,000 on 10,000 images is
    5e7 decoder evaluations (about half an hour on an idle 2-core CPU for the
    784-512-256 MLP).

    Returns:
        The entry written (a dict).
    """
    import time

    from workshop.evaluation import importance_log_weights, log_mean_exp

    meta = describe(name, directory)
    model = load_pretrained(name, directory)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        x, info = _test_images(data)
    if info["source"] == "sample":
        raise ValueError("Expected the full MNIST to record likelihoods: set MNIST_PATH or pass data=...")
    x = x[:num_images] if num_images else x
    started = time.perf_counter()
    elbo = model.elbo(x, num_samples=1, seed=ELBO_SEED)
    bounds = np.concatenate([
        log_mean_exp(importance_log_weights(model, x[i : i + 100], num_samples, seed=seed + i), axis=1)
        for i in range(0, len(x), 100)
    ])
    entry = {
        "weights_sha256": meta["weights"]["sha256"],
        "num_images": int(len(x)),
        "num_samples": int(num_samples),
        "neg_elbo": round(float(-np.mean(elbo)), 3),
        "neg_iwae": round(float(-np.mean(bounds)), 3),
        "neg_iwae_standard_error": round(float(np.std(bounds, ddof=1) / np.sqrt(len(x))), 3),
        "seconds": round(time.perf_counter() - started, 1),
        "what": "nats per image on the first num_images fixed-binarized test images (binarize='random', seed 0): "
        "neg_elbo with one z per image (seed 0); neg_iwae = -mean of the K-sample importance-weighted bound "
        "(K = num_samples); the standard error is over the images",
    }
    path = (Path(directory) if directory is not None else PRETRAINED_DIR) / LIKELIHOODS_FILE
    records = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    records[name] = entry
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(records, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return entry


def recorded_likelihood(name, directory=None):
    """The entry of ``likelihoods.json`` for ``name`` if it matches the shipped weights, else None."""
    path = (Path(directory) if directory is not None else PRETRAINED_DIR) / LIKELIHOODS_FILE
    if not path.is_file() or name not in available(directory):
        return None
    entry = json.loads(path.read_text(encoding="utf-8")).get(name)
    if entry is None or entry.get("weights_sha256") != describe(name, directory)["weights"]["sha256"]:
        return None
    return entry


# ------------------------------------------------------------------------- CLI
def main(argv=None):
    """``python -m workshop.pretrained export RUN_DIR NAME`` or ``... list``; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m workshop.pretrained", description="Pretrained VAEs shipped with the package.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    write = commands.add_parser("export", help="write NAME.npz and NAME.json from a run folder of `python -m workshop train`")
    write.add_argument("run_dir", metavar="RUN_DIR")
    write.add_argument("name", metavar="NAME")
    write.add_argument("--output", metavar="DIR", help=f"where to write (default: {PRETRAINED_DIR})")
    write.add_argument("--data", metavar="PATH", help="MNIST .npz (default: $MNIST_PATH, then Keras)")
    write.add_argument("--description", help="one sentence stored in NAME.json")
    commands.add_parser("list", help="list the shipped models and their recorded test -ELBO")
    measure = commands.add_parser("likelihood", help=f"record a model's test -ELBO and IWAE bound in {LIKELIHOODS_FILE}")
    measure.add_argument("name", metavar="NAME")
    measure.add_argument("--num-samples", type=int, default=5000, metavar="K", help="importance samples per image (default: 5000)")
    measure.add_argument("--num-images", type=int, metavar="N", help="first N test images (default: all 10,000)")
    measure.add_argument("--data", metavar="PATH", help="MNIST .npz (default: $MNIST_PATH, then Keras)")
    args = parser.parse_args(argv)
    if args.command == "likelihood":
        try:
            entry = record_likelihood(args.name, args.num_samples, args.num_images, data=args.data)
        except (ValueError, FileNotFoundError) as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        print(f"{args.name}: test -ELBO {entry['neg_elbo']:.2f}, -IWAE(K={entry['num_samples']}) {entry['neg_iwae']:.2f} "
              f"+- {entry['neg_iwae_standard_error']:.2f} nats/image on {entry['num_images']} images ({entry['seconds']:.0f} s)")
        return 0
    if args.command == "list":
        for model_name in available():
            meta = describe(model_name)
            print(f"{model_name}: {meta['description']}; test -ELBO {meta['test']['full']['neg_elbo']:.2f} nats/image")
        return 0
    try:
        meta = export(args.run_dir, args.name, args.output, args.data, args.description)
    except (ValueError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    test = meta["test"]
    print(
        f"wrote {meta['name']}.npz and {meta['name']}.json: {meta['weights']['parameters']:,} parameters in float16; "
        f"test -ELBO {test['full']['neg_elbo']:.2f} nats/image on {test['full']['num_images']} images "
        f"(float32: {test['float32_full']:.2f}), {test['sample']['neg_elbo']:.2f} on the sample's {test['sample']['num_images']}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
