"""Instructor side of the pretrained models: write ``NAME.npz`` and ``NAME.json`` from a run folder.

``python -m workshop export runs/z20 vae_mnist_z20`` (or :func:`export`) rounds
the weights of a run of ``python -m workshop train`` to float16, rebuilds the
model from them and records, in ``NAME.json``, its configuration, the sha256 of
``NAME.npz`` (which :func:`workshop.pretrained.load_pretrained` verifies), how it
was trained, and its test -ELBO (nats per image, one sample of z per image,
``seed=0``) on the full fixed-binarized MNIST test set and on the 2,000 test
images of the shipped sample, so a test can check the shipped weights anywhere.

Nothing an instructor made is replaced silently: :func:`export` refuses a NAME
that exists in the output folder (``force=True``, ``--force``, replaces it) and a
run whose ``config.json`` status is not ``complete`` (``allow_unfinished=True``,
``--allow-unfinished``); :func:`record_likelihood` refuses to replace a recorded
measurement of the same weights by a smaller one (``force=True``) and checks
``likelihoods.json`` before it measures anything. Every refusal comes before the
slow work and leaves every file as it was.

Students never import this module: :mod:`workshop.pretrained` only loads.
"""

import json
import os
import warnings
from pathlib import Path

import numpy as np

from workshop.constants import BINARIZE_SEED
from workshop.instructor.config import TrainingConfig, fields
from workshop.instructor.files import to_json, write_json_atomic
from workshop.pretrained import ELBO_SEED, FORMAT_VERSION, PRETRAINED_DIR, STORAGE_DTYPE, sha256_file, test_elbo, test_images

__all__ = ["check_export", "export", "read_likelihoods", "record_likelihood", "run_config"]

FINISHED = ("complete", "finished")  # the config.json statuses of a run that ran to its end


def _quiet(message):
    pass


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


def check_export(run_dir, name, output_dir=None, force=False, allow_unfinished=False):
    """Everything :func:`export` refuses, checked before anything is loaded or measured.

    Returns:
        ``(record, output_dir)``: the run's parsed ``config.json`` and the folder to write to.

    Raises:
        FileNotFoundError: the run folder lacks ``model.keras`` or ``config.json``.
        ValueError: a bad name; a ``config.json`` that is not a run's; a run whose
            status is not complete (unless ``allow_unfinished``); a model ``name``
            already in the output folder (unless ``force``).
    """
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
        run_config(record)
    except (ValueError, TypeError, AttributeError) as error:
        raise ValueError(f"{config_path}: not a run's config.json ({error})") from None
    status = record.get("status")
    if status not in FINISHED and not allow_unfinished:
        raise ValueError(
            f"{config_path}: expected a run that trained to its end (status 'complete'). Received: status {status!r}; "
            "export it anyway with --allow-unfinished (allow_unfinished=True)"
        )
    output_dir = Path(output_dir) if output_dir is not None else PRETRAINED_DIR
    _refuse_existing(output_dir, name, force)
    return record, output_dir


def _refuse_existing(output_dir, name, force):
    existing = [p.name for p in (output_dir / f"{name}.npz", output_dir / f"{name}.json") if p.exists()]
    if existing and not force:
        raise ValueError(
            f"Expected a new model name in {output_dir}. Received: {name!r}, whose {' and '.join(existing)} exist already; "
            "choose another NAME or pass --force (force=True) to replace that model"
        )


def export(run_dir, name, output_dir=None, data=None, description=None, force=False, allow_unfinished=False, progress=None):
    """Write ``NAME.npz`` and ``NAME.json`` from a run folder of ``python -m workshop train``.

    The weights are rounded to float16; the test -ELBO is measured AFTER that
    rounding, on the fixed-binarized test set of the full MNIST (``data``, else
    ``$MNIST_PATH``, else Keras's copy) and on the shipped sample's 2,000 test
    images. Both files are written to temporary files first and moved in place
    together at the end: a refusal or a failure leaves the folder as it was.

    Args:
        run_dir: the run folder (holding ``model.keras`` and ``config.json``).
        name: the model's name, letters, digits and ``_`` only (e.g. ``"vae_mnist_z20"``).
        output_dir: where to write (default: the package's ``pretrained/`` folder).
        data: an MNIST ``.npz`` (default: ``$MNIST_PATH``, then Keras).
        description: one sentence for the JSON file.
        force: replace a model ``name`` that exists in ``output_dir`` (refused otherwise).
        allow_unfinished: export a run whose status is not ``complete`` (refused otherwise).
        progress: called with one line per step, if given.

    Returns:
        The metadata written to ``NAME.json``, as a dict.

    Raises:
        FileNotFoundError, ValueError: see :func:`check_export`; data that is not the full MNIST.
    """
    from workshop.data import SAMPLE_PATH
    from workshop.instructor.training import load_vae
    from workshop.models import VAE

    say = progress or _quiet
    record, output_dir = check_export(run_dir, name, output_dir, force, allow_unfinished)
    run_dir = Path(run_dir)
    model_path = run_dir / "model.keras"
    config_of_run = run_config(record)
    history = None
    if (run_dir / "history.json").is_file():
        with open(run_dir / "history.json", encoding="utf-8") as handle:
            history = {k: [round(float(v), 4) for v in values] for k, values in json.load(handle).items()}
    say(f"export: loading {model_path} ...")
    trained, _ = load_vae(model_path)  # refuses non-finite weights
    if type(trained) is not VAE:
        raise ValueError(f"Expected a workshop VAE in {model_path}. Received: a {type(trained).__name__}")

    config, rounded, model = rounded_copy(trained, VAE)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        x_full, full_info = test_images(data)
    if full_info["source"] == "sample":
        raise ValueError("Expected the full MNIST to record the test -ELBO: set MNIST_PATH or pass data=...")
    x_sample, _ = test_images(SAMPLE_PATH)
    say(f"export: measuring the test -ELBO on {len(x_full)} test images (float16 and float32 weights) and the sample's {len(x_sample)} ...")
    test = {
        "full": {"neg_elbo": round(test_elbo(model, x_full), 4), "num_images": int(len(x_full))},
        "sample": {"neg_elbo": round(test_elbo(model, x_sample), 4), "num_images": int(len(x_sample))},
        "float32_full": round(test_elbo(trained, x_full), 4),
    }
    meta = {
        "format_version": FORMAT_VERSION,
        "name": name,
        "description": description or f"VAE {_layers(config)} trained on binarized MNIST",
        "config": config,
        "weights": None,  # filled in by write_pretrained
        "training": {
            "command": config_of_run.command_line(),
            "config": {k: v for k, v in config_of_run.to_dict().items() if k != "data"},
            "data": record.get("data"),
            "epochs_completed": record.get("epochs_completed"),
            "seconds": record.get("seconds"),
            "status": record.get("status"),
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
    weights_path, meta_path = write_pretrained(output_dir, name, rounded, meta, force)
    say(f"export: wrote {weights_path} and {meta_path}")
    return meta


def rounded_copy(trained, model_class):
    """``(config, float16 weights, model)``: ``trained``'s configuration, its weights rounded to float16, and a
    ``model_class`` rebuilt from that configuration holding the rounded weights (what :func:`load_pretrained` will load)."""
    config = {k: v for k, v in trained.get_config().items() if k not in ("name", "trainable", "dtype")}
    rounded = [np.asarray(w).astype(STORAGE_DTYPE) for w in trained.get_weights()]
    model = model_class(**config)
    model.set_weights([w.astype("float32") for w in rounded])
    return config, rounded, model


def write_pretrained(output_dir, name, rounded, meta, force):
    """Write ``NAME.npz`` (the float16 weights) and ``NAME.json`` (``meta`` with its ``weights`` entry filled in:
    file, dtype, parameters, sha256, shapes) into ``output_dir``.

    Both go to temporary files first and are moved in place together at the end, after checking
    again that ``NAME`` was not taken meanwhile (unless ``force``): a failure leaves the folder as it was.
    Returns the two paths.
    """
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    weights_path, meta_path = output_dir / f"{name}.npz", output_dir / f"{name}.json"
    tmp_weights = output_dir / f".{name}.{os.getpid()}.tmp.npz"
    tmp_meta = output_dir / f".{name}.{os.getpid()}.tmp.json"
    try:
        np.savez_compressed(tmp_weights, **{f"w{i:03d}": w for i, w in enumerate(rounded)})
        meta["weights"] = {
            "file": weights_path.name,
            "dtype": STORAGE_DTYPE,
            "parameters": int(sum(w.size for w in rounded)),
            "sha256": sha256_file(tmp_weights),
            "shapes": [list(w.shape) for w in rounded],
        }
        tmp_meta.write_text(to_json(meta), encoding="utf-8")
        _refuse_existing(output_dir, name, force)  # again: the measurement took a while
        os.replace(tmp_weights, weights_path)
        os.replace(tmp_meta, meta_path)
    finally:
        tmp_weights.unlink(missing_ok=True)
        tmp_meta.unlink(missing_ok=True)
    return weights_path, meta_path


def _layers(config):
    if config.get("architecture", "mlp") == "mlp":
        return "-".join(str(u) for u in (784, *config["hidden_units"], config["latent_dim"]))
    return f"conv, latent_dim={config['latent_dim']}"


# ------------------------------------------------------------ log-likelihoods
def _likelihoods_path(directory=None):
    from workshop.pretrained import LIKELIHOODS_FILE

    return (Path(directory) if directory is not None else PRETRAINED_DIR) / LIKELIHOODS_FILE


def read_likelihoods(directory=None):
    """The records of ``likelihoods.json`` (``{}`` when there is none), checked; a ValueError naming the file otherwise.

    Expected: a JSON object mapping each model name to an object with
    ``weights_sha256`` (a string) and ``num_samples`` and ``num_images`` (integers >= 1).
    """
    path = _likelihoods_path(directory)
    if not path.exists():
        return {}
    try:
        records = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as error:
        raise ValueError(f"{path}: expected a JSON object of recorded likelihoods. Received: invalid JSON ({error})") from None
    except OSError as error:
        raise ValueError(f"{path}: expected a readable file of recorded likelihoods. Received: {error}") from None
    if not isinstance(records, dict):
        raise ValueError(f"{path}: expected a JSON object mapping model names to measurements. Received: a JSON {type(records).__name__}")
    for key, entry in records.items():
        fine = isinstance(entry, dict) and isinstance(entry.get("weights_sha256"), str)
        fine = fine and all(
            isinstance(entry.get(k), int) and not isinstance(entry.get(k), bool) and entry[k] >= 1 for k in ("num_samples", "num_images")
        )
        if not fine:
            raise ValueError(
                f"{path}: expected the entry {key!r} to be an object with weights_sha256, num_samples and num_images. "
                f"Received: {json.dumps(entry)[:200]}"
            )
    return records


def _refuse_smaller(path, name, previous, sha256, num_samples, num_images):
    """Refuse to replace a recorded measurement of the same weights by a smaller one."""
    if previous is None or previous["weights_sha256"] != sha256:
        return  # nothing recorded, or the numbers of other weights (which nothing reads any more)
    if num_samples < previous["num_samples"] or num_images < previous["num_images"]:
        raise ValueError(
            f"{path}: expected a measurement of {name} at least as large as the recorded one "
            f"(K={previous['num_samples']} on {previous['num_images']} images). Received: K={num_samples} on {num_images} images; "
            "pass --force (force=True) to replace it"
        )


def record_likelihood(name, num_samples=5000, num_images=None, seed=0, directory=None, data=None, force=False, progress=None):
    """Measure a pretrained model's test -ELBO and IWAE bound and record them in ``likelihoods.json``.

    The test set is the fixed-binarized one (``binarize='random'``, seed 0) of the
    full MNIST (``data``, else ``$MNIST_PATH``, else Keras); ``num_images`` (default:
    all 10,000) are taken from its start. The entry is keyed by the model's name
    and stores the SHA-256 of its weights, so a re-exported model is not matched
    with the numbers of its predecessor (see :func:`workshop.pretrained.recorded_likelihood`).
    Slow: K = 5,000 on 10,000 images is 5e7 decoder evaluations.

    Before measuring, ``likelihoods.json`` is checked (:func:`read_likelihoods`) and
    a recorded measurement of the same weights with more samples or more images is
    kept: the call is refused unless ``force``. ``progress``, if given, is called
    with about ten lines as the images are measured.

    Returns:
        The entry written (a dict).
    """
    import time

    from workshop.evaluation import importance_log_weights, log_mean_exp
    from workshop.pretrained import describe, load_pretrained

    say = progress or _quiet
    path = _likelihoods_path(directory)
    records = read_likelihoods(directory)
    meta = describe(name, directory)
    sha256 = meta["weights"]["sha256"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        x, info = test_images(data)
    if info["source"] == "sample":
        raise ValueError("Expected the full MNIST to record likelihoods: set MNIST_PATH or pass data=...")
    x = x[:num_images] if num_images else x
    if not force:
        _refuse_smaller(path, name, records.get(name), sha256, int(num_samples), len(x))
    model = load_pretrained(name, directory)
    started = time.perf_counter()
    say(f"likelihood: {name}, K={num_samples} importance samples on {len(x)} test images ...")
    elbo = model.elbo(x, num_samples=1, seed=ELBO_SEED)
    chunk = 100
    starts = list(range(0, len(x), chunk))
    every = max(1, len(starts) // 10)
    bounds = []
    for number, i in enumerate(starts, start=1):
        bounds.append(log_mean_exp(importance_log_weights(model, x[i : i + chunk], num_samples, seed=seed + i), axis=1))
        if number % every == 0 or number == len(starts):
            done, elapsed = min(i + chunk, len(x)), time.perf_counter() - started
            say(f"likelihood: {done}/{len(x)} images, {elapsed:.0f} s, about {elapsed * (len(x) - done) / done:.0f} s left")
    bounds = np.concatenate(bounds)
    entry = {
        "weights_sha256": sha256,
        "num_images": int(len(x)),
        "num_samples": int(num_samples),
        "neg_elbo": round(float(-np.mean(elbo)), 3),
        "neg_iwae": round(float(-np.mean(bounds)), 3),
        "neg_iwae_standard_error": round(float(np.std(bounds, ddof=1) / np.sqrt(len(x))), 3) if len(x) > 1 else None,
        "seconds": round(time.perf_counter() - started, 1),
        "what": "nats per image on the first num_images fixed-binarized test images (binarize='random', seed 0): "
        "neg_elbo with one z per image (seed 0); neg_iwae = -mean of the K-sample importance-weighted bound "
        "(K = num_samples); the standard error is over the images",
    }
    records = read_likelihoods(directory)  # again: the file may have changed during the measurement
    if not force:
        _refuse_smaller(path, name, records.get(name), sha256, entry["num_samples"], entry["num_images"])
    records[name] = entry
    write_json_atomic(path, records)
    return entry
