"""Instructor side of the pretrained models: write ``NAME.npz`` and ``NAME.json`` from a run folder.

``python -m workshop export runs/z20 vae_mnist_z20`` (or :func:`export`) rounds
the weights of a run of ``python -m workshop train`` to float16, rebuilds the
model from them and records, in ``NAME.json``, its configuration, the sha256 of
``NAME.npz`` (which :func:`workshop.pretrained.load_pretrained` verifies), how it
was trained, and its test -ELBO (nats per image, one sample of z per image,
``seed=0``) on the full fixed-binarized MNIST test set and on the 2,000 test
images of the shipped sample, so a test can check the shipped weights anywhere.

Students never import this module: :mod:`workshop.pretrained` only loads.
"""

import json
import os
import warnings
from pathlib import Path

import numpy as np

from workshop.constants import BINARIZE_SEED
from workshop.instructor.config import TrainingConfig, fields
from workshop.instructor.files import write_json_atomic
from workshop.pretrained import ELBO_SEED, FORMAT_VERSION, PRETRAINED_DIR, STORAGE_DTYPE, sha256_file, test_elbo, test_images

__all__ = ["export", "run_config"]


def run_config(record):
    """The :class:`~workshop.instructor.config.TrainingConfig` a run's ``config.json`` recorded.

    Reads the current layout (``"config"``) and the older one (``"arguments"``,
    the parsed command line), ignoring options that are not training settings.
    """
    values = record.get("config")
    if values is None:
        values = record.get("arguments", {})
    names = {f.name for f in fields()}
    values = {k: v for k, v in values.items() if k in names}
    if values.get("binarize", "none") is None:
        values["binarize"] = "none"
    return TrainingConfig.from_dict(values)


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
    from workshop.data import SAMPLE_PATH
    from workshop.instructor.training import load_vae
    from workshop.models import VAE

    if not isinstance(name, str) or not name.replace("_", "").isalnum():
        raise ValueError(f"Expected a name of letters, digits and underscores. Received: name={name!r}")
    run_dir = Path(run_dir)
    model_path, config_path = run_dir / "model.keras", run_dir / "config.json"
    for path in (model_path, config_path):
        if not path.is_file():
            raise FileNotFoundError(f"Expected a run folder of `python -m workshop train` holding {path.name}. Missing: {path}")
    try:
        with open(config_path, encoding="utf-8") as handle:
            record = json.load(handle)
        config_of_run = run_config(record)
    except (ValueError, TypeError, AttributeError) as error:
        raise ValueError(f"{config_path}: not a run's config.json ({error})") from None
    history = None
    if (run_dir / "history.json").is_file():
        with open(run_dir / "history.json", encoding="utf-8") as handle:
            history = {k: [round(float(v), 4) for v in values] for k, values in json.load(handle).items()}
    trained, _ = load_vae(model_path)  # refuses non-finite weights
    if type(trained) is not VAE:
        raise ValueError(f"Expected a workshop VAE in {model_path}. Received: a {type(trained).__name__}")

    config = {k: v for k, v in trained.get_config().items() if k not in ("name", "trainable", "dtype")}
    rounded = [np.asarray(w).astype(STORAGE_DTYPE) for w in trained.get_weights()]
    model = VAE(**config)
    model.set_weights([w.astype("float32") for w in rounded])

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        x_full, full_info = test_images(data)
    if full_info["source"] == "sample":
        raise ValueError("Expected the full MNIST to record the test -ELBO: set MNIST_PATH or pass data=...")
    x_sample, _ = test_images(SAMPLE_PATH)
    test = {
        "full": {"neg_elbo": round(test_elbo(model, x_full), 4), "num_images": int(len(x_full))},
        "sample": {"neg_elbo": round(test_elbo(model, x_sample), 4), "num_images": int(len(x_sample))},
        "float32_full": round(test_elbo(trained, x_full), 4),
    }
    output_dir = Path(output_dir) if output_dir is not None else PRETRAINED_DIR
    output_dir.mkdir(parents=True, exist_ok=True)
    weights_path = output_dir / f"{name}.npz"
    tmp = weights_path.with_name(f".{name}.{os.getpid()}.tmp.npz")
    try:
        np.savez_compressed(tmp, **{f"w{i:03d}": w for i, w in enumerate(rounded)})
        os.replace(tmp, weights_path)
    finally:
        tmp.unlink(missing_ok=True)
    meta = {
        "format_version": FORMAT_VERSION,
        "name": name,
        "description": description or f"VAE {_layers(config)} trained on binarized MNIST",
        "config": config,
        "weights": {
            "file": weights_path.name,
            "dtype": STORAGE_DTYPE,
            "parameters": int(sum(w.size for w in rounded)),
            "sha256": sha256_file(weights_path),
            "shapes": [list(w.shape) for w in rounded],
        },
        "training": {
            "command": config_of_run.command_line(),
            "config": {k: v for k, v in config_of_run.to_dict().items() if k != "data"},
            "data": record.get("data"),
            "epochs_completed": record.get("epochs_completed"),
            "seconds": record.get("seconds"),
            "versions": record.get("versions"),
            "history": history,
        },
        "test": {
            "what": "mean -ELBO in nats per image of the fixed-binarized test images "
            f"(binarize='random', seed={BINARIZE_SEED}), one sample of z per image with seed={ELBO_SEED}, "
            "computed with the float16 weights; float32_full is the same on the full test set before rounding",
            **test,
        },
    }
    write_json_atomic(output_dir / f"{name}.json", meta)
    return meta


def _layers(config):
    if config.get("architecture", "mlp") == "mlp":
        return "-".join(str(u) for u in (784, *config["hidden_units"], config["latent_dim"]))
    return f"conv, latent_dim={config['latent_dim']}"


# ------------------------------------------------------------ log-likelihoods
def record_likelihood(name, num_samples=5000, num_images=None, seed=0, directory=None, data=None):
    """Measure a pretrained model's test -ELBO and IWAE bound and record them in ``likelihoods.json``.

    The test set is the fixed-binarized one (``binarize='random'``, seed 0) of the
    full MNIST (``data``, else ``$MNIST_PATH``, else Keras); ``num_images`` (default:
    all 10,000) are taken from its start. The entry is keyed by the model's name
    and stores the SHA-256 of its weights, so a re-exported model is not matched
    with the numbers of its predecessor (see :func:`workshop.pretrained.recorded_likelihood`).
    Slow: K = 5,000 on 10,000 images is 5e7 decoder evaluations.

    Returns:
        The entry written (a dict).
    """
    import time

    from workshop.evaluation import importance_log_weights, log_mean_exp
    from workshop.pretrained import LIKELIHOODS_FILE, describe, load_pretrained

    meta = describe(name, directory)
    model = load_pretrained(name, directory)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        x, info = test_images(data)
    if info["source"] == "sample":
        raise ValueError("Expected the full MNIST to record likelihoods: set MNIST_PATH or pass data=...")
    x = x[:num_images] if num_images else x
    started = time.perf_counter()
    elbo = model.elbo(x, num_samples=1, seed=ELBO_SEED)
    bounds = np.concatenate(
        [log_mean_exp(importance_log_weights(model, x[i : i + 100], num_samples, seed=seed + i), axis=1) for i in range(0, len(x), 100)]
    )
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
    write_json_atomic(path, records)
    return entry
