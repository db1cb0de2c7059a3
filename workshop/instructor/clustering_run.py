"""The clustering model of notebook 10: train it, measure it, ship it.

``python -m workshop cluster train`` runs :func:`train_clustering`, the recipe
of the shipped model ``vade_mnist_clustering``:

1. **pretrain**: the MLP 784-500-500-2000-10 of VaDE (Jiang et al., 2017) as a
   plain autoencoder on the posterior means (20 epochs); the encoder sees each
   image shifted by up to ``max_shift`` pixels and the decoder must rebuild the
   unshifted one, so codes depend less on where a digit sits;
2. **initialise** the mixture prior from the codes (``MixturePriorVAE.init_prior``,
   ``method="tsne"`` by default; ``"gmm"`` is VaDE's own);
3. **settle**: a few epochs with q(c | x) fixed to those clusters
   (``MixturePriorVAE.fit_to_clusters``);
4. **VaDE**: the ELBO with q(c | x) = p(c | z) (``kl_estimator="vade"``).

The run folder gets ``model.keras``, ``config.json`` (settings, seconds per
phase, histories, baselines, status) and ``metrics.json`` (the clustering of the
10,000 test images). ``python -m workshop cluster export RUN NAME`` ships a run
like the other pretrained models (float16 weights, sha256 in ``NAME.json``);
``python -m workshop cluster evaluate MODEL`` reports unsupervised accuracy, NMI
and the confusion matrix on all test images, for two binarization draws, with
the k-means baselines.
"""

import json
import shlex
import time
from pathlib import Path

import numpy as np

from workshop.instructor.files import save_model_atomic, write_json_atomic

__all__ = ["DEFAULTS", "evaluate_clustering", "export_clustering", "load_clustering_model", "train_clustering"]

DEFAULTS = {
    "seed": 0,
    "hidden_units": (500, 500, 2000),
    "latent_dim": 10,
    "num_components": 10,
    "max_shift": 2,
    "batch_size": 256,
    "pretrain_epochs": 20,
    "pretrain_learning_rate": 1e-3,
    "init": "tsne",
    "map_points": 10000,
    "settle_epochs": 4,
    "settle_learning_rate": 1e-3,
    "epochs": 10,
    "learning_rate": 5e-4,
}
EVALUATION_SEEDS = (0, 1)  # two stochastic binarizations of the test set
RUN_FILES = ("model.keras", "config.json", "metrics.json")


def _quiet(message):
    pass


def _accuracy(clusters, labels):
    from workshop.clustering import clustering_accuracy

    return round(clustering_accuracy(clusters, labels), 4)


def _test_sets(data, seeds):
    """The labels and the test images binarized with each seed: ``(y_test, {seed: x_test})``."""
    from workshop.instructor.training import load_data

    sets = {}
    y_test = None
    for seed in seeds:
        _, (x_test, y_test), info = load_data(data, "random", seed)
        sets[seed] = x_test
    return y_test, sets, info


def kmeans_baseline(points, labels, seed=0):
    """Unsupervised accuracy of k-means (10 clusters, 3 starts) on ``points``."""
    from workshop.clustering import kmeans

    _, clusters, _ = kmeans(points.reshape(len(points), -1), 10, num_init=3, seed=seed)
    return _accuracy(clusters, labels)


def evaluate_clustering(model, data=None, seeds=EVALUATION_SEEDS, baselines=True, progress=None):
    """Cluster the full test set once per binarization draw; return a dict of results.

    For each seed of ``seeds``: unsupervised accuracy (one-to-one matching of
    clusters to digits), NMI and the confusion matrix (rows: true digits,
    columns: matched clusters). With ``baselines``, k-means on the pixels of the
    first draw too.
    """
    from workshop.clustering import clustering_report

    say = progress or _quiet
    y_test, sets, info = _test_sets(data, seeds)
    if info["source"] == "sample":
        raise ValueError("Expected the full MNIST to measure the clustering on all 10,000 test images: set MNIST_PATH or pass --data")
    draws = {}
    for seed, x_test in sets.items():
        say(f"cluster: clustering {len(x_test)} test images (binarization seed {seed}) ...")
        report = clustering_report(model.cluster(x_test), y_test)
        draws[str(seed)] = {"accuracy": round(report["accuracy"], 4), "nmi": round(report["nmi"], 4), "confusion": report["confusion"]}
    accuracies = [d["accuracy"] for d in draws.values()]
    result = {
        "what": "unsupervised accuracy (clusters matched one-to-one to digits by scipy's linear_sum_assignment), NMI "
        "(scikit-learn) and confusion matrix (rows: digits, columns: matched clusters) of MixturePriorVAE.cluster "
        "on the full MNIST test set, binarized at random with each seed",
        "num_images": int(len(y_test)),
        "draws": draws,
        "accuracy_spread": round(max(accuracies) - min(accuracies), 4),
    }
    if baselines:
        first = sets[seeds[0]]
        say("cluster: k-means on the test pixels (3 starts) ...")
        result["kmeans_pixels"] = kmeans_baseline(first, y_test)
    return result


def load_clustering_model(source):
    """A MixturePriorVAE from a pretrained name, a run folder or a ``.keras`` file; and what it was."""
    from workshop import pretrained
    from workshop.mixture import MixturePriorVAE

    path = Path(str(source))
    if str(source) in pretrained.available():
        model, meta = pretrained.load_pretrained(str(source)), pretrained.describe(str(source))
    elif path.is_dir() or path.suffix == ".keras":
        from workshop.instructor.training import load_vae

        model, path = load_vae(path)
        meta = _read_json(path.parent / "config.json") if path.name == "model.keras" else {}
    else:
        raise ValueError(
            f"Expected a pretrained name ({', '.join(pretrained.available())}), a run folder or a .keras file. Received: {source}"
        )
    if not isinstance(model, MixturePriorVAE):
        raise ValueError(f"Expected a MixturePriorVAE (a clustering model). Received: a {type(model).__name__} from {source}")
    return model, meta


def _read_json(path):
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def command_line(settings):
    """The ``python -m workshop cluster train`` command of ``settings`` (defaults left out)."""
    parts = ["python", "-m", "workshop", "cluster", "train"]
    for key, value in settings.items():
        if key in DEFAULTS and value != DEFAULTS[key]:
            shown = ",".join(str(v) for v in value) if isinstance(value, (tuple, list)) else str(value)
            parts += [f"--{key.replace('_', '-')}", shown]
    return shlex.join(parts)


def train_clustering(output_dir, data=None, overwrite=False, num_train=None, progress=None, **settings):
    """Train the clustering model (the four phases of the module docstring) into ``output_dir``.

    Args:
        output_dir: the run folder, new or empty (``overwrite`` replaces an earlier run's files).
        data: an MNIST ``.npz`` (default ``$MNIST_PATH``, then Keras, then the shipped sample).
        num_train: train on the first N training images only (fast runs).
        progress: called with one line per phase.
        **settings: any key of :data:`DEFAULTS`.

    Returns:
        ``(model, record)``: the trained MixturePriorVAE and the dict written to ``config.json``.
    """
    import keras

    from workshop.instructor.training import check_run_dir, claim_run_dir, load_data, versions
    from workshop.mixture import MixturePriorVAE
    from workshop.settings import seed_everything

    unknown = sorted(set(settings) - set(DEFAULTS))
    if unknown:
        raise ValueError(f"Expected settings among {sorted(DEFAULTS)}. Received: {unknown}")
    settings = {**DEFAULTS, **settings}
    settings["hidden_units"] = tuple(settings["hidden_units"])
    if settings["init"] not in ("tsne", "gmm"):
        raise ValueError(f"Expected --init tsne or gmm. Received: {settings['init']!r}")
    say = progress or _quiet
    check_run_dir(output_dir, overwrite)
    seed_everything(settings["seed"])
    (x_train, y_train), _, info = load_data(data, "none")
    if num_train is not None:
        x_train, y_train = x_train[:num_train], y_train[:num_train]
    y_test, test_sets, _ = _test_sets(data, EVALUATION_SEEDS[:1])
    x_test = test_sets[EVALUATION_SEEDS[0]]
    model = MixturePriorVAE(
        num_components=settings["num_components"],
        latent_dim=settings["latent_dim"],
        hidden_units=settings["hidden_units"],
        dynamic_binarization=True,
        kl_estimator="vade",
        max_shift=settings["max_shift"],
        seed=settings["seed"],
    )
    out, lock = claim_run_dir(output_dir, None, overwrite)
    record = {
        "command": "cluster train",
        "command_line": command_line(settings) + (f" --num-train {num_train}" if num_train else ""),
        "settings": {k: list(v) if isinstance(v, tuple) else v for k, v in settings.items()},
        "model_class": "MixturePriorVAE",
        "parameters": int(model.count_params()),
        "data": {**info, "num_train": int(len(x_train)), "num_test": int(len(x_test))},
        "versions": versions(),
        "status": "running",
    }
    seconds, history = {}, {}
    started = time.perf_counter()
    try:
        for name in ("model.keras", "metrics.json"):
            (out / name).unlink(missing_ok=True)
        write_json_atomic(out / "config.json", record)
        batch = settings["batch_size"]
        say(
            f"cluster: {len(x_train)} training images, MixturePriorVAE 784-{'-'.join(map(str, settings['hidden_units']))}-{settings['latent_dim']}, "
            f"{record['parameters']:,} parameters"
        )

        t0 = time.perf_counter()
        say(f"cluster: 1/4 pretraining the autoencoder for {settings['pretrain_epochs']} epochs ...")
        fit = model.pretrain(
            x_train, epochs=settings["pretrain_epochs"], batch_size=batch, learning_rate=settings["pretrain_learning_rate"], verbose=0
        )
        history["pretrain"] = {k: [round(float(v), 4) for v in vals] for k, vals in fit.history.items()}
        seconds["pretrain"] = time.perf_counter() - t0
        baselines = {
            "kmeans_pixels": kmeans_baseline(x_test, y_test, settings["seed"]),
            "kmeans_pretrained_codes": kmeans_baseline(model.encode(x_test)[0], y_test, settings["seed"]),
        }
        say(
            f"cluster: k-means test accuracy: pixels {baselines['kmeans_pixels']:.2%}, pretrained codes {baselines['kmeans_pretrained_codes']:.2%}"
        )

        t0 = time.perf_counter()
        say(f"cluster: 2/4 initialising the prior ({settings['init']}) ...")
        clusters = model.init_prior(
            x_train, method=settings["init"], seed=settings["seed"], map_points=min(settings["map_points"], len(x_train))
        )
        seconds["init"] = time.perf_counter() - t0
        baselines["init_clusters_train"] = _accuracy(clusters, y_train)
        baselines["init_model_test"] = _accuracy(model.cluster(x_test), y_test)
        say(
            f"cluster: initial clusters: {baselines['init_clusters_train']:.2%} of the training images; the model's test accuracy {baselines['init_model_test']:.2%}"
        )

        t0 = time.perf_counter()
        if settings["settle_epochs"]:
            say(f"cluster: 3/4 {settings['settle_epochs']} epochs with q(c | x) fixed to those clusters ...")
            fit = model.fit_to_clusters(
                x_train,
                clusters,
                epochs=settings["settle_epochs"],
                batch_size=batch,
                learning_rate=settings["settle_learning_rate"],
                verbose=0,
            )
            history["settle"] = {k: [round(float(v), 4) for v in vals] for k, vals in fit.history.items()}
            baselines["settled_model_test"] = _accuracy(model.cluster(x_test), y_test)
        seconds["settle"] = time.perf_counter() - t0

        t0 = time.perf_counter()
        say(f"cluster: 4/4 VaDE's ELBO for {settings['epochs']} epochs ...")
        steps = settings["epochs"] * -(-len(x_train) // batch)
        model.compile(optimizer=keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(settings["learning_rate"], steps)))
        fit = model.fit(x_train, epochs=settings["epochs"], batch_size=batch, verbose=0)
        history["vade"] = {k: [round(float(v), 4) for v in vals] for k, vals in fit.history.items()}
        seconds["vade"] = time.perf_counter() - t0
        seconds["train"] = time.perf_counter() - started
        if not all(np.all(np.isfinite(w)) for w in model.get_weights()):
            raise ValueError("the training diverged (NaN or infinite weights); try a smaller learning rate")
        save_model_atomic(model, out / "model.keras")
        test = {"accuracy": _accuracy(model.cluster(x_test), y_test)}
        write_json_atomic(out / "metrics.json", {"test": test, "baselines": baselines})
        seconds["total"] = time.perf_counter() - started
        record.update(
            status="complete", seconds={k: round(v, 1) for k, v in seconds.items()}, history=history, baselines=baselines, test=test
        )
        write_json_atomic(out / "config.json", record)
        say(
            f"cluster: done in {seconds['total']:.0f} s; test accuracy {test['accuracy']:.2%} (binarization seed {EVALUATION_SEEDS[0]}); saved to {out}"
        )
        return model, record
    except BaseException as error:
        record.update(
            status="interrupted" if isinstance(error, KeyboardInterrupt) else "failed", seconds={k: round(v, 1) for k, v in seconds.items()}
        )
        write_json_atomic(out / "config.json", record)
        raise
    finally:
        lock.release()


def export_clustering(run_dir, name, output_dir=None, data=None, force=False, progress=None):
    """Ship a ``cluster train`` run as the pretrained model ``name`` (float16 weights, sha256, measured results).

    The clustering is measured on the float16 weights, on the full test set for
    every seed of :data:`EVALUATION_SEEDS`. Both files are written under
    temporary names and moved in place at the end; an existing ``name`` is
    refused unless ``force``.
    """
    from workshop.instructor.export import _refuse_existing, rounded_copy, write_pretrained
    from workshop.instructor.training import load_vae
    from workshop.mixture import MixturePriorVAE
    from workshop.pretrained import FORMAT_VERSION, PRETRAINED_DIR

    say = progress or _quiet
    if not isinstance(name, str) or not name.replace("_", "").isalnum():
        raise ValueError(f"Expected a name of letters, digits and underscores. Received: name={name!r}")
    run_dir = Path(run_dir)
    record = _read_json(run_dir / "config.json")
    if record.get("command") != "cluster train" or record.get("status") != "complete":
        raise ValueError(
            f"Expected a complete run of `python -m workshop cluster train` in {run_dir}. Received: status {record.get('status')!r}"
        )
    output_dir = Path(output_dir) if output_dir is not None else PRETRAINED_DIR
    _refuse_existing(output_dir, name, force)
    trained, _ = load_vae(run_dir)
    if not isinstance(trained, MixturePriorVAE):
        raise ValueError(f"Expected a MixturePriorVAE in {run_dir}. Received: a {type(trained).__name__}")
    config, rounded, model = rounded_copy(trained, MixturePriorVAE)
    test = evaluate_clustering(model, data, progress=say)
    meta = {
        "format_version": FORMAT_VERSION,
        "name": name,
        "model_class": "MixturePriorVAE",
        "description": "VaDE-like mixture-prior VAE, MLP 784-"
        + "-".join(str(u) for u in config["hidden_units"])
        + f"-{config['latent_dim']}, {config['num_components']} components, for clustering MNIST without labels",
        "config": config,
        "weights": None,  # filled in by write_pretrained
        "training": {
            k: record.get(k) for k in ("command_line", "settings", "data", "seconds", "status", "versions", "history", "baselines")
        },
        "clustering": test,
    }
    weights_path, meta_path = write_pretrained(output_dir, name, rounded, meta, force)
    say(f"cluster: wrote {weights_path} ({weights_path.stat().st_size / 1e6:.1f} MB) and {meta_path}")
    return meta


def format_report(result, meta=None):
    """The text ``cluster evaluate`` prints."""
    lines = []
    for seed, draw in result["draws"].items():
        lines.append(
            f"binarization seed {seed}: accuracy {draw['accuracy']:.2%}, NMI {draw['nmi']:.3f} ({result['num_images']} test images)"
        )
    lines.append(f"spread between the draws: {result['accuracy_spread'] * 100:.2f} points")
    if "kmeans_pixels" in result:
        lines.append(f"k-means on pixels: {result['kmeans_pixels']:.2%}")
    recorded = (meta or {}).get("training", meta or {}).get("baselines", {}) if meta else {}
    if "kmeans_pretrained_codes" in recorded:
        lines.append(f"k-means on the pretrained autoencoder's codes (recorded in training): {recorded['kmeans_pretrained_codes']:.2%}")
    first = next(iter(result["draws"].values()))
    lines.append("confusion matrix (rows: digits 0-9, columns: the cluster matched to each digit):")
    lines += ["  " + " ".join(f"{v:5d}" for v in row) for row in first["confusion"]]
    return "\n".join(lines)
