"""The instructor's command line: ``python -m workshop train|evaluate|notebooks``.

``train`` fits a VAE on MNIST and leaves everything an instructor needs in one
run folder (the model, its curves and figures, the test numbers, the exact
configuration); ``evaluate`` measures a saved model on the test set;
``notebooks`` builds, checks and runs the course notebooks (see
:mod:`workshop.notebooks`).

Examples::

    python -m workshop train                              # about a minute on a laptop CPU
    python -m workshop train --latent-dim 2 --epochs 30 --output runs/z2
    python -m workshop evaluate runs/z2 --num-samples 1000
    python -m workshop notebooks check

Wrong arguments end with one line ``error: ...`` on stderr and exit status 2.
"""

import argparse
import datetime
import json
import os
import platform
import sys
import time
import warnings
import zipfile
from pathlib import Path

from workshop.settings import quiet_tensorflow

quiet_tensorflow()

import keras  # noqa: E402
import numpy as np  # noqa: E402

# Five epochs of the default 784-512-256-20 MLP on the full 60,000 images take
# about a minute on a 2-core laptop CPU, start-up and evaluation included.
DEFAULT_EPOCHS = 5
DATA_SEED = 0  # the fixed stochastic binarization is part of the data set, not of the run
MODEL_FILE = "model.keras"
RUN_FILES = (
    MODEL_FILE,
    "history.json",
    "config.json",
    "metrics.json",
    "curves.png",
    "reconstructions.png",
    "samples.png",
    "latent.png",
    "manifold.png",
)
BINARIZE_CHOICES = ("none", "threshold", "random")
INTERRUPTED = 130


class UsageError(Exception):
    """Raised by the argument parser instead of printing usage and exiting."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(message)


# ------------------------------------------------------------ argument types
def _integer(minimum):
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer >= {minimum}. Received: {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected an integer >= {minimum}. Received: {text!r}")
        return value

    return parse


def _number(minimum, strict):
    def parse(text):
        try:
            value = float(text)
        except ValueError:
            value = float("nan")
        if not np.isfinite(value) or value < minimum or (strict and value == minimum):
            bound = f"> {minimum:g}" if strict else f">= {minimum:g}"
            raise argparse.ArgumentTypeError(f"expected a number {bound}. Received: {text!r}")
        return value

    return parse


def _hidden_units(text):
    try:
        units = tuple(int(part) for part in text.split(","))
    except ValueError:
        units = ()
    if not units or min(units) < 1:
        raise argparse.ArgumentTypeError(f"expected positive integers separated by commas, e.g. 512,256. Received: {text!r}")
    return units


def build_parser(preset=None):
    """Return the ``argparse`` parser of ``python -m workshop`` (``preset``: a name from
    :data:`workshop.presets.PRESETS` whose settings become the defaults of ``train``)."""
    from workshop.presets import PRESETS
    parser = _Parser(
        prog="python -m workshop",
        description="VAE Workshop tools for instructors: train and evaluate VAEs on MNIST, build the notebooks.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    train = commands.add_parser(
        "train",
        help="train a VAE on MNIST and save model, curves, figures and test numbers",
        description="Train a VAE on MNIST. Everything goes into one run folder: model.keras, history.json, "
        "config.json, metrics.json and PNG figures. The defaults take about a minute on a laptop CPU.",
    )
    model = train.add_argument_group("model")
    model.add_argument("--architecture", choices=("mlp", "conv"), default="mlp", help="encoder/decoder type (default: mlp)")
    model.add_argument("--latent-dim", type=_integer(1), default=20, metavar="D", help="latent dimensions (default: 20)")
    model.add_argument(
        "--hidden-units", type=_hidden_units, default=(512, 256), metavar="U1,U2", help="hidden layer sizes (default: 512,256)"
    )
    model.add_argument("--likelihood", choices=("bernoulli", "gaussian"), default="bernoulli", help="pixel likelihood (default: bernoulli)")
    model.add_argument("--sigma", type=_number(0, strict=True), default=0.1, help="std of the gaussian likelihood (default: 0.1)")
    model.add_argument("--beta", type=_number(0, strict=False), default=1.0, help="weight of the KL term (default: 1.0)")
    model.add_argument("--conditional", action="store_true", help="train a ConditionalVAE that also sees the digit label")
    fitting = train.add_argument_group("training")
    fitting.add_argument(
        "--epochs", type=_integer(1), default=DEFAULT_EPOCHS, metavar="N", help=f"training epochs (default: {DEFAULT_EPOCHS})"
    )
    fitting.add_argument("--batch-size", type=_integer(1), default=128, metavar="N", help="(default: 128)")
    fitting.add_argument("--learning-rate", type=_number(0, strict=True), default=1e-3, metavar="LR", help="Adam's (default: 1e-3)")
    fitting.add_argument("--seed", type=_integer(0), default=0, help="seeds weights, shuffling and sampling (default: 0)")
    fitting.add_argument("--jit", action=argparse.BooleanOptionalAction, default=True, help="compile with XLA (default: on)")
    fitting.add_argument("--kl-warmup-epochs", type=_integer(0), default=0, metavar="N", help="KL weight from 0 to beta over N epochs (default: 0, off)")
    fitting.add_argument("--free-bits", type=_number(0, strict=False), default=0.0, metavar="NATS", help="floor on each latent dimension's KL (default: 0, off)")
    fitting.add_argument(
        "--preset", choices=sorted(PRESETS), help="a named recipe whose settings become the defaults: "
        + "; ".join(f"{name}: {p['description']}" for name, p in PRESETS.items()),
    )
    data = train.add_argument_group("data")
    data.add_argument("--data", metavar="PATH", help="MNIST .npz in Keras's layout (default: $MNIST_PATH, Keras, the shipped sample)")
    data.add_argument(
        "--binarize",
        choices=BINARIZE_CHOICES,
        default="random",
        help="random: fixed stochastic binarization, the standard binarized MNIST (default); "
        "threshold: pixel > 0.5; none: grey levels",
    )
    data.add_argument(
        "--dynamic-binarization",
        action="store_true",
        help="train on grey levels binarized afresh at every step (the test set follows --binarize)",
    )
    data.add_argument("--num-train", type=_integer(1), metavar="N", help="train on the first N images only")
    output = train.add_argument_group("output")
    output.add_argument("--output", metavar="DIR", help="run folder (default: runs/<architecture>-z<latent>-<timestamp>)")
    output.add_argument("--overwrite", action="store_true", help="reuse an --output folder that already holds a model")
    output.add_argument("--eval-samples", type=_integer(1), default=50, metavar="K", help="importance samples of the test log-likelihood (default: 50)")
    output.add_argument("--eval-images", type=_integer(1), default=1000, metavar="N", help="test images evaluated at the end (default: 1000)")
    output.add_argument("--quiet", action="store_true", help="no progress bar, only the summary")
    if preset in PRESETS:
        train.set_defaults(**PRESETS[preset]["arguments"])

    evaluate = commands.add_parser(
        "evaluate",
        help="measure a saved model on the MNIST test set",
        description="Evaluate a saved VAE on the MNIST test set: -ELBO, importance-weighted log-likelihood, "
        "KL per latent dimension and active units, in nats per image.",
    )
    evaluate.add_argument("model", metavar="MODEL", help="a .keras file, or a run folder holding model.keras")
    evaluate.add_argument("--num-samples", type=_integer(1), default=100, metavar="K", help="importance samples per image (default: 100)")
    evaluate.add_argument("--num-images", type=_integer(1), metavar="N", help="evaluate the first N test images (default: all)")
    evaluate.add_argument("--data", metavar="PATH", help="MNIST .npz (default: $MNIST_PATH, Keras, the shipped sample)")
    evaluate.add_argument(
        "--binarize", choices=BINARIZE_CHOICES, help="default: what the run's config.json says, else random"
    )
    evaluate.add_argument("--seed", type=_integer(0), default=0, help="seeds the sampled estimates (default: 0)")
    evaluate.add_argument("--json", action="store_true", help="print the results as JSON")

    commands.add_parser(
        "notebooks",
        add_help=False,
        help="build, check or run the course notebooks (python -m workshop notebooks --help)",
    )
    return parser


# ------------------------------------------------------------------ helpers
def _write_json(path, payload):
    """Write JSON next to ``path`` first, then move it in place: a kill never leaves half a file."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(payload, handle, indent=2)
        handle.write("\n")
    os.replace(tmp, path)


def save_model_atomically(model, path):
    """Save ``model`` to ``path`` (a .keras file) through a temporary file and ``os.replace``."""
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.keras")
    model.save(tmp)
    os.replace(tmp, path)


class EpochCheckpoint(keras.callbacks.Callback):
    """Save ``model.keras`` and ``history.json`` after every epoch, so an interrupted run keeps its work.

    Args:
        directory: the run folder.
    """

    def __init__(self, directory):
        super().__init__()
        self.directory = Path(directory)
        self.history = {}
        self.epochs_completed = 0

    def on_epoch_end(self, epoch, logs=None):
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(float(value))
        save_model_atomically(self.model, self.directory / MODEL_FILE)
        _write_json(self.directory / "history.json", self.history)
        self.epochs_completed = epoch + 1


def _load_data(path, binarize, **kwargs):
    """load_mnist with the source returned and its fallback warning turned into one note on stderr."""
    from workshop.data import MNISTFallbackWarning, load_mnist

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", MNISTFallbackWarning)
        result = load_mnist(path=path, binarize=None if binarize == "none" else binarize, seed=DATA_SEED, return_info=True, **kwargs)
    for warning in caught:
        if issubclass(warning.category, MNISTFallbackWarning):
            print(f"note: {warning.message}", file=sys.stderr)
        else:
            warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
    return result


def _describe_source(info):
    if info["source"] == "sample":
        return f"sample shipped with the package ({info['path']})"
    if info["source"] == "keras":
        return f"keras ({info['path']})"
    return f"file {info['path']}"


def _versions():
    import tensorflow as tf

    import workshop

    return {
        "workshop": workshop.__version__,
        "keras": keras.__version__,
        "tensorflow": tf.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def _one_line(error):
    text = " ".join(str(error).split())
    return text[:600] + (" ..." if len(text) > 600 else "") if text else type(error).__name__


# -------------------------------------------------------------------- train
def _output_dir(args):
    if args.output:
        out = Path(args.output)
    else:
        stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        kind = f"{args.architecture}-cvae" if args.conditional else args.architecture
        out = Path("runs") / f"{kind}-z{args.latent_dim}-{stamp}"
    if out.exists() and not out.is_dir():
        raise ValueError(f"Expected --output to be a folder. Received: {out} (an existing file)")
    if (out / MODEL_FILE).exists() and not args.overwrite:
        raise ValueError(f"{out} already holds a trained model ({MODEL_FILE}); choose another --output or pass --overwrite")
    return out


def _save_figures(model, out, x_test, y_test, history, conditional, seed):
    import matplotlib.pyplot as plt

    from workshop import plots

    labels = y_test if conditional else None
    written = []

    def save(figure_or_axes, name):
        plots.save_figure(figure_or_axes, out / name)
        plt.close(getattr(figure_or_axes, "figure", figure_or_axes))
        written.append(name)

    save(plots.plot_history(history), "curves.png")
    shown = x_test[:10]
    recon = model.reconstruct(shown, None if labels is None else labels[:10])
    save(plots.plot_reconstructions(shown, recon, n=len(shown)), "reconstructions.png")
    if conditional:
        digits = np.repeat(np.arange(model.num_classes), 10)  # one row per digit
        images = model.sample(len(digits), labels=digits, seed=seed)
        title = "samples from the prior, one row per digit"
    else:
        images = model.sample(100, seed=seed)
        title = "samples from the prior"
    save(plots.plot_images(images, ncols=10, title=title), "samples.png")
    if model.latent_dim == 2:
        n = min(len(x_test), 5000)
        z_mean, _ = model.encode(x_test[:n], None if labels is None else labels[:n])
        save(plots.plot_latent_scatter(z_mean, y_test[:n]), "latent.png")
        if conditional:
            ax = plots.plot_manifold(lambda z: model.decode(z, np.zeros(len(z), dtype="int64")), n=20)
            ax.set_title("latent manifold, digit 0")
        else:
            ax = plots.plot_manifold(model, n=20)
        save(ax, "manifold.png")
    return written


def train(args):
    """Run ``python -m workshop train``; returns the exit status."""
    from workshop.evaluation import evaluate_model
    from workshop.models import VAE, ConditionalVAE
    from workshop.settings import seed_everything

    os.environ.setdefault("MPLBACKEND", "Agg")
    started = time.perf_counter()
    out = _output_dir(args)
    say = (lambda *a, **k: None) if args.quiet else print

    seed_everything(args.seed)
    if args.dynamic_binarization:
        (x_train, y_train), _, info = _load_data(args.data, "none")
        _, (x_test, y_test), _ = _load_data(args.data, args.binarize)
    else:
        (x_train, y_train), (x_test, y_test), info = _load_data(args.data, args.binarize)
    if args.num_train is not None:
        x_train, y_train = x_train[: args.num_train], y_train[: args.num_train]
    say(f"data: {_describe_source(info)}; {len(x_train)} training and {len(x_test)} test images, binarize={args.binarize}"
        + (" (training images binarized afresh each step)" if args.dynamic_binarization else ""))

    options = dict(
        latent_dim=args.latent_dim,
        architecture=args.architecture,
        hidden_units=args.hidden_units,
        likelihood=args.likelihood,
        beta=args.beta,
        sigma=args.sigma,
        dynamic_binarization=args.dynamic_binarization,
        seed=args.seed,
    )
    if getattr(args, "kl_warmup_epochs", 0) or getattr(args, "free_bits", 0.0):
        options.update(kl_warmup_epochs=args.kl_warmup_epochs, free_bits=args.free_bits)
    model = ConditionalVAE(num_classes=10, **options) if args.conditional else VAE(**options)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=args.learning_rate), jit_compile=args.jit)
    parameters = int(model.count_params())
    layers = "-".join(str(u) for u in (784, *args.hidden_units, args.latent_dim)) if args.architecture == "mlp" else f"conv, z={args.latent_dim}"
    say(f"model: {type(model).__name__} {layers}, {args.likelihood} likelihood, beta={args.beta:g}: {parameters:,} parameters")

    out.mkdir(parents=True, exist_ok=True)
    for name in RUN_FILES:  # with --overwrite: no stale file of an older run survives
        (out / name).unlink(missing_ok=True)
    config = {
        "command": "train",
        "arguments": {k: (list(v) if isinstance(v, tuple) else v) for k, v in vars(args).items() if k != "command"},
        "model_class": type(model).__name__,
        "parameters": parameters,
        "data": {
            **info,
            "binarize": args.binarize,
            "binarize_seed": DATA_SEED,
            "num_train": int(len(x_train)),
            "num_test": int(len(x_test)),
            "validation": "the test set (curves only; nothing is tuned on it)",
        },
        "versions": _versions(),
        "status": "running",
    }
    _write_json(out / "config.json", config)

    checkpoint = EpochCheckpoint(out)
    verbose = 0 if args.quiet else (1 if sys.stdout.isatty() else 2)
    fit_args = (x_train, y_train) if args.conditional else (x_train,)
    validation = (x_test, y_test) if args.conditional else (x_test,)
    seconds = {}
    try:
        t0 = time.perf_counter()
        model.fit(
            *fit_args,
            epochs=args.epochs,
            batch_size=args.batch_size,
            validation_data=validation,
            validation_batch_size=1000,
            callbacks=[checkpoint],
            verbose=verbose,
        )
        seconds["train"] = time.perf_counter() - t0
        seconds["per_epoch"] = seconds["train"] / args.epochs
        history = checkpoint.history

        t0 = time.perf_counter()
        n_eval = min(args.eval_images, len(x_test))
        metrics = evaluate_model(
            model,
            x_test[:n_eval],
            y_test[:n_eval] if args.conditional else None,
            num_samples=args.eval_samples,
            seed=args.seed,
        )
        _write_json(out / "metrics.json", metrics)
        seconds["evaluate"] = time.perf_counter() - t0

        t0 = time.perf_counter()
        figures = _save_figures(model, out, x_test, y_test, history, args.conditional, args.seed)
        seconds["figures"] = time.perf_counter() - t0
    except KeyboardInterrupt:
        done = checkpoint.epochs_completed
        config.update(status="interrupted", epochs_completed=done, seconds={"total": time.perf_counter() - started})
        _write_json(out / "config.json", config)
        if done == 0:
            print(f"interrupted before the first epoch ended; nothing trained was saved in {out}", file=sys.stderr)
        else:
            print(f"interrupted after {done} epoch{'s' if done != 1 else ''}; saved to {out}", file=sys.stderr)
        return INTERRUPTED

    seconds["total"] = time.perf_counter() - started
    config.update(status="complete", epochs_completed=args.epochs, seconds={k: round(v, 2) for k, v in seconds.items()})
    _write_json(out / "config.json", config)
    print(
        f"done in {seconds['total']:.0f} s ({args.epochs} epoch{'s' if args.epochs != 1 else ''}, {seconds['per_epoch']:.1f} s/epoch). "
        f"Test -ELBO {metrics['neg_elbo']:.2f} nats/image; log p(x) >= {metrics['log_likelihood']:.2f} "
        f"(IWAE, K={metrics['num_samples']}, {metrics['num_images']} images); "
        f"{metrics['active_units']}/{metrics['latent_dim']} active units."
    )
    print(f"saved to {out}: {', '.join([MODEL_FILE, 'history.json', 'config.json', 'metrics.json', *figures])}")
    return 0


# ----------------------------------------------------------------- evaluate
def load_vae(path):
    """Load a saved VAE from a ``.keras`` file or a run folder; ValueError/FileNotFoundError otherwise."""
    from workshop.models import VAE

    path = Path(path)
    if path.is_dir():
        path = path / MODEL_FILE
    if not path.exists():
        raise FileNotFoundError(f"model not found: {path}")
    if path.suffix != ".keras":
        raise ValueError(f"Expected a .keras model file or a run folder holding {MODEL_FILE}. Received: {path}")
    if not zipfile.is_zipfile(path):
        raise ValueError(f"{path}: not a .keras model (a .keras file is a zip archive written by model.save)")
    try:
        model = keras.saving.load_model(path, compile=False)
    except Exception as error:  # a corrupt zip, foreign content, an unknown class...
        raise ValueError(f"{path}: not a loadable .keras model ({type(error).__name__}: {_one_line(error)})") from None
    if not isinstance(model, VAE):
        raise ValueError(f"Expected a workshop VAE or ConditionalVAE in {path}. Received: a {type(model).__name__}")
    return model, path


def evaluate(args):
    """Run ``python -m workshop evaluate``; returns the exit status."""
    from workshop.evaluation import evaluate_model

    started = time.perf_counter()
    model, path = load_vae(args.model)
    binarize, origin = args.binarize, "--binarize"
    if binarize is None:
        binarize, origin = "random", "default"
        config_path = path.parent / "config.json"
        if config_path.is_file():
            try:
                with open(config_path, encoding="utf-8") as handle:
                    binarize = json.load(handle)["data"]["binarize"]
                origin = str(config_path)
            except (ValueError, KeyError, TypeError):
                raise ValueError(f"{config_path}: expected a run's config.json with data.binarize; pass --binarize") from None
            if binarize not in BINARIZE_CHOICES:
                raise ValueError(f"{config_path}: expected data.binarize in {BINARIZE_CHOICES}. Received: {binarize!r}")
    _, (x_test, y_test), info = _load_data(args.data, binarize)
    if args.num_images is not None:
        x_test, y_test = x_test[: args.num_images], y_test[: args.num_images]
    metrics = evaluate_model(model, x_test, y_test if model.conditional else None, num_samples=args.num_samples, seed=args.seed)
    seconds = time.perf_counter() - started
    if args.json:
        print(json.dumps({"model": str(path), "data": info, "binarize": binarize, **metrics, "seconds": round(seconds, 2)}, indent=2))
        return 0
    kl = " ".join(f"{v:.2f}" for v in metrics["kl_per_dimension"])
    print(f"model: {path} ({type(model).__name__}, {model.architecture}, latent_dim={model.latent_dim}, {model.likelihood})")
    print(f"data: {_describe_source(info)}; {metrics['num_images']} test images, binarize={binarize} (from {origin})")
    print(f"test -ELBO:               {metrics['neg_elbo']:8.2f} nats/image")
    print(f"log p(x) (IWAE, K={metrics['num_samples']}):".ljust(26) + f"{metrics['log_likelihood']:8.2f} nats/image")
    print(f"KL(q(z|x) || p(z)):       {metrics['kl']:8.2f} nats/image")
    print(f"KL per latent dimension:  {kl}")
    print(f"active units:             {metrics['active_units']} of {metrics['latent_dim']} (variance of E_q[z] over images > 0.01)")
    print(f"({seconds:.1f} s)")
    return 0


# --------------------------------------------------------------------- main
def main(argv=None):
    """Entry point of ``python -m workshop``; returns the exit status (0, 1, 2 or 130)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] == "notebooks":
        from workshop.notebooks import cli_main

        return cli_main(argv[1:])
    from workshop.presets import preset_from_argv

    parser = build_parser(preset_from_argv(argv))
    try:
        args = parser.parse_args(argv)
    except UsageError as error:
        print(f"error: {_one_line(error)}", file=sys.stderr)
        return 2
    except SystemExit as exit_:  # --help
        return exit_.code if isinstance(exit_.code, int) else 0
    if args.command is None:
        print("error: expected a command: train, evaluate or notebooks", file=sys.stderr)
        return 2
    try:
        return train(args) if args.command == "train" else evaluate(args)
    except (ValueError, FileNotFoundError, OSError) as error:
        print(f"error: {_one_line(error)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return INTERRUPTED
