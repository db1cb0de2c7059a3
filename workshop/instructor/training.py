"""Train a VAE on MNIST and leave everything an instructor needs in one run folder.

:func:`train_and_evaluate` is what ``python -m workshop train`` runs, callable
from Python (notebooks, tests)::

    from workshop.instructor.config import TrainingConfig
    from workshop.instructor.training import train_and_evaluate

    result = train_and_evaluate(TrainingConfig(latent_dim=2, epochs=3), "runs/z2")
    result.metrics["neg_elbo"]

The run folder gets ``model.keras`` (saved after every epoch), ``history.json``,
``config.json`` (the :class:`~workshop.instructor.config.TrainingConfig`, the data's origin,
versions, timings and a ``status``: ``running``, ``complete``, ``interrupted``,
``diverged`` or ``failed``), ``metrics.json`` and PNG figures. Every JSON file is written
atomically and is strictly valid JSON (no ``NaN`` tokens). While the run lasts the
folder holds ``.train.lock`` (:mod:`workshop.instructor.runlock`): no other run
writes into it, ``--overwrite`` included.
"""

import atexit
import contextlib
import datetime
import math
import os
import platform
import shutil
import sys
import tempfile
import time
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path

from workshop.settings import quiet_tensorflow

quiet_tensorflow()

import keras  # noqa: E402
import numpy as np  # noqa: E402

from workshop.instructor.config import TrainingConfig  # noqa: E402
from workshop.instructor.files import save_model_atomic, write_json_atomic  # noqa: E402
from workshop.instructor.runlock import LOCK_FILE, RunFolderBusy, RunLock  # noqa: E402

MODEL_FILE = "model.keras"
CONFIG_FILE = "config.json"
RUN_FILES = (
    MODEL_FILE,
    "history.json",
    CONFIG_FILE,
    "metrics.json",
    "curves.png",
    "reconstructions.png",
    "samples.png",
    "latent.png",
    "manifold.png",
)
DIVERGENCE_HINT = "try a smaller --learning-rate, a smaller --beta or a larger --sigma"


class TrainingDivergedError(RuntimeError):
    """The training loss became NaN or infinite; the run folder is marked ``diverged``."""


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C (or SIGTERM from the command line) stopped a run; its folder is marked ``interrupted``.

    Attributes:
        epochs_completed: epochs whose model and history were saved.
        output_dir: the run folder.
    """

    def __init__(self, epochs_completed, output_dir):
        super().__init__(f"interrupted after {epochs_completed} epochs")
        self.epochs_completed = epochs_completed
        self.output_dir = output_dir


@dataclass
class RunResult:
    """What :func:`train_and_evaluate` returns."""

    output_dir: Path
    model: object
    history: dict
    metrics: dict
    seconds: dict
    figures: list


# ------------------------------------------------------------- run folders
def default_run_dir(config, root="runs"):
    """``root/<architecture>[-cvae]-z<latent>-<timestamp>`` (not created; see :func:`create_run_dir`)."""
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    kind = f"{config.architecture}-cvae" if config.conditional else config.architecture
    return Path(root) / f"{kind}-z{config.latent_dim}-{stamp}"


def _claim(folder):
    """Create ``config.json`` exclusively: of two runs aiming at one folder, only one gets it."""
    try:
        fd = os.open(folder / CONFIG_FILE, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return False
    os.close(fd)
    return True


def claim_run_dir(output_dir=None, config=None, overwrite=False, root="runs"):
    """Create, lock and claim the run folder; return ``(path, lock)``, the :class:`~workshop.instructor.runlock.RunLock` held.

    Without ``output_dir`` the folder is :func:`default_run_dir`, made unique
    with a suffix (``-2``, ``-3``, ...) when another run already took the name:
    runs started in the same second never share a folder. An ``output_dir``
    that is being trained by a live process is refused, ``overwrite`` or not;
    one that exists and is not empty is refused unless ``overwrite`` (then the
    files of an earlier run are removed, other files are kept). A lock left by a
    dead process is taken over (``lock.took_over`` names that process). Release
    the lock (``lock.release()``) when the run ends.

    Raises:
        ValueError: ``output_dir`` is a file, or a non-empty folder without ``overwrite``.
        RunFolderBusy: (a RuntimeError) another live process trains in ``output_dir``.
    """
    if output_dir is None:
        base = default_run_dir(config or TrainingConfig(), root)
        base.parent.mkdir(parents=True, exist_ok=True)
        for index in range(1, 10_000):
            candidate = base if index == 1 else base.with_name(f"{base.name}-{index}")
            try:
                candidate.mkdir()
            except FileExistsError:
                continue
            try:
                lock = RunLock(candidate).acquire()
            except RunFolderBusy:
                continue
            if _claim(candidate):
                return candidate, lock
            lock.release()
        raise ValueError(f"Expected a free run folder name next to {base}. Received: 10,000 taken")
    out = Path(output_dir)
    if out.exists() and not out.is_dir():
        raise ValueError(f"Expected --output to be a folder. Received: {out} (an existing file)")
    out.mkdir(parents=True, exist_ok=True)
    lock = RunLock(out).acquire()  # before anything is deleted: a live run's files stay
    try:
        if overwrite:
            for name in RUN_FILES:  # no stale file of an older run survives
                (out / name).unlink(missing_ok=True)
        elif any(path.name != LOCK_FILE for path in out.iterdir()):
            raise ValueError(f"{out} is not empty; choose another --output or pass --overwrite to replace its run files")
        if not _claim(out):
            raise ValueError(f"{out} is being written by another run; choose another --output")
    except BaseException:
        lock.release()
        raise
    return out, lock


def check_run_dir(output_dir, overwrite=False):
    """Refuse early what :func:`claim_run_dir` would refuse for ``output_dir``; change nothing.

    Called before the data is loaded and the model built; :func:`claim_run_dir`
    checks again when it claims the folder.
    """
    out = Path(output_dir)
    if out.exists() and not out.is_dir():
        raise ValueError(f"Expected --output to be a folder. Received: {out} (an existing file)")
    if not out.is_dir():
        return
    with RunLock(out):  # RunFolderBusy while a live run trains here; a stale lock file goes
        pass
    if not overwrite and any(path.name != LOCK_FILE for path in out.iterdir()):
        raise ValueError(f"{out} is not empty; choose another --output or pass --overwrite to replace its run files")


def create_run_dir(output_dir=None, config=None, overwrite=False, root="runs"):
    """Create and claim the run folder like :func:`claim_run_dir`, without keeping its lock; return its path."""
    out, lock = claim_run_dir(output_dir, config, overwrite, root)
    lock.release()
    return out


# --------------------------------------------------------------- callbacks
def _finite_logs(logs):
    return all(math.isfinite(float(v)) for v in (logs or {}).values() if np.ndim(v) == 0)


def weights_are_finite(model):
    """True when every weight of ``model`` is a finite number."""
    return all(np.all(np.isfinite(np.asarray(w))) for w in model.get_weights())


class DivergenceGuard(keras.callbacks.Callback):
    """Stop training as soon as a logged loss is NaN or infinite (checked where Keras reports, every few batches)."""

    def __init__(self):
        super().__init__()
        self.diverged_at = None  # (epoch, logs)
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def _check(self, logs):
        if self.diverged_at is None and not _finite_logs(logs):
            self.diverged_at = (self._epoch, {k: float(v) for k, v in (logs or {}).items() if np.ndim(v) == 0})
            self.model.stop_training = True

    def on_train_batch_end(self, batch, logs=None):
        self._check(logs)

    def on_epoch_end(self, epoch, logs=None):
        self._check(logs)


class EpochCheckpoint(keras.callbacks.Callback):
    """Save ``model.keras`` and ``history.json`` after every finite epoch, so an interrupted run keeps its work.

    An epoch whose logs or weights are not finite is not saved: the folder keeps
    the last good model.

    Args:
        directory: the run folder.
        guard: the run's :class:`DivergenceGuard` (checked before saving), or None.
    """

    def __init__(self, directory, guard=None):
        super().__init__()
        self.directory = Path(directory)
        self.guard = guard
        self.history = {}
        self.epochs_completed = 0

    def on_epoch_end(self, epoch, logs=None):
        diverged = (self.guard is not None and self.guard.diverged_at is not None) or not _finite_logs(logs)
        if diverged or not weights_are_finite(self.model):
            if self.guard is not None and self.guard.diverged_at is None:
                self.guard.diverged_at = (epoch, {k: float(v) for k, v in (logs or {}).items()})
            self.model.stop_training = True
            return
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(float(value))
        save_model_atomic(self.model, self.directory / MODEL_FILE)
        write_json_atomic(self.directory / "history.json", self.history)
        self.epochs_completed = epoch + 1


# -------------------------------------------------------------------- data
def load_data(path, binarize, binarize_seed=None, **kwargs):
    """``load_mnist`` with the source returned and its fallback warning turned into one note on stderr."""
    from workshop.constants import BINARIZE_SEED
    from workshop.data import MNISTFallbackWarning, load_mnist

    seed = BINARIZE_SEED if binarize_seed is None else binarize_seed
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", MNISTFallbackWarning)
        result = load_mnist(path=path, binarize=binarize, seed=seed, return_info=True, **kwargs)
    for warning in caught:
        if issubclass(warning.category, MNISTFallbackWarning):
            print(f"note: {warning.message}", file=sys.stderr)
        else:
            warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
    return result


def describe_source(info):
    """One phrase saying where the data came from."""
    if info["source"] == "sample":
        return f"sample shipped with the package ({info['path']})"
    if info["source"] == "keras":
        return f"keras ({info['path']})"
    return f"file {info['path']}"


def versions():
    """Versions of the packages a run depends on."""
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


def _rounded(seconds):
    return {k: round(v, 2) for k, v in seconds.items()}


# -------------------------------------------------------------------- train
def train_and_evaluate(config=None, output_dir=None, overwrite=False, quiet=False):
    """Train a VAE as ``config`` says, evaluate it on the test set, save everything in a run folder.

    Args:
        config: a :class:`~workshop.instructor.config.TrainingConfig` (default: all defaults).
        output_dir: the run folder; None makes a unique ``runs/<kind>-z<latent>-<timestamp>``.
            An existing non-empty folder is refused unless ``overwrite``.
        overwrite: replace the run files of an existing folder.
        quiet: print nothing but errors (no progress bar, no summary lines).

    Returns:
        A :class:`RunResult` (folder, model, history, metrics, seconds, figure names).

    Raises:
        ValueError: a bad config, data file or output folder (nothing is trained).
        RunFolderBusy: (a RuntimeError) another live process trains in ``output_dir`` (nothing is touched).
        ClusterTimeout: (a RuntimeError) ``--strategy multiworker``: a worker did not join within
            ``config.worker_timeout`` seconds (nothing is written).
        TrainingDivergedError: the loss became NaN or infinite; the folder is
            marked ``diverged`` and keeps the last finite model, if any.
        TrainingInterrupted: Ctrl-C; the folder is marked ``interrupted`` and
            keeps the model of the last completed epoch.
    """
    from workshop.models import VAE, ConditionalVAE
    from workshop.settings import seed_everything

    config = TrainingConfig() if config is None else config
    if not isinstance(config, TrainingConfig):
        raise ValueError(f"Expected a workshop.instructor.config.TrainingConfig. Received: {type(config).__name__}")
    os.environ.setdefault("MPLBACKEND", "Agg")
    started = time.perf_counter()
    say = (lambda *a, **k: None) if quiet else print

    # Everything that can be refused is checked before the run folder is made.
    from workshop.instructor.distribute import is_chief, make_strategy

    chief = is_chief() if config.strategy == "multiworker" else True
    if chief and output_dir is not None:
        check_run_dir(output_dir, overwrite)
    strategy = make_strategy(config.strategy, config.cpu_devices, config.worker_timeout)  # before TensorFlow's first operation
    seed_everything(config.seed)
    if config.dynamic_binarization:
        (x_train, y_train), _, info = load_data(config.data, "none", config.binarize_seed)
        _, (x_test, y_test), _ = load_data(config.data, config.binarize, config.binarize_seed)
    else:
        (x_train, y_train), (x_test, y_test), info = load_data(config.data, config.binarize, config.binarize_seed)
    if config.num_train is not None:
        x_train, y_train = x_train[: config.num_train], y_train[: config.num_train]
    model_class = ConditionalVAE if config.conditional else VAE
    with strategy.scope() if strategy is not None else contextlib.nullcontext():
        model = model_class(**config.model_kwargs())
        learning_rate = config.learning_rate
        if config.lr_schedule == "cosine":
            steps = config.epochs * -(-len(x_train) // config.batch_size)  # optimizer steps in the whole run
            learning_rate = keras.optimizers.schedules.CosineDecay(config.learning_rate, decay_steps=steps)
        # --jit applies on one device; under a strategy VAE.compile's own default (XLA off) decides.
        model.compile(optimizer=keras.optimizers.Adam(learning_rate=learning_rate), jit_compile=config.jit if strategy is None else None)
    lock = None
    if chief:
        out, lock = claim_run_dir(output_dir, config, overwrite)
        if lock.took_over:
            print(f"note: took over the lock of process {lock.took_over} on {out}, which no longer runs", file=sys.stderr)
    else:  # another worker of a multi-worker run: the same work, written to a scratch folder removed at the end
        out = Path(tempfile.mkdtemp(prefix="workshop-worker-"))
        atexit.register(shutil.rmtree, out, ignore_errors=True)
    try:
        data = (x_train, y_train, x_test, y_test)
        return _train_in(out, config, model, model_class, strategy, chief, output_dir, started, say, quiet, info, data)
    finally:
        if lock is not None:
            lock.release()


def _train_in(out, config, model, model_class, strategy, chief, output_dir, started, say, quiet, info, data):
    """The part of :func:`train_and_evaluate` that runs in the claimed (and locked) run folder."""
    from workshop.evaluation import evaluate_model

    x_train, y_train, x_test, y_test = data
    say(
        f"data: {describe_source(info)}; {len(x_train)} training and {len(x_test)} test images, binarize={config.binarize}"
        + (" (training images binarized afresh each step)" if config.dynamic_binarization else "")
    )
    parameters = int(model.count_params())
    layers = (
        "-".join(str(u) for u in (784, *config.hidden_units, config.latent_dim))
        if config.architecture == "mlp"
        else f"conv, z={config.latent_dim}"
    )
    say(f"model: {model_class.__name__} {layers}, {config.likelihood} likelihood, beta={config.beta:g}: {parameters:,} parameters")
    if strategy is not None:
        say(
            f"devices: {type(strategy).__name__} with {strategy.num_replicas_in_sync} replicas; global batch {config.batch_size}"
            + ("" if chief else f" (this worker writes nothing; the chief writes {output_dir})")
        )

    record = {
        "command": "train",
        "config": config.to_dict(),
        "command_line": config.command_line(),
        "model_class": model_class.__name__,
        "parameters": parameters,
        "data": {
            **info,
            "num_train": int(len(x_train)),
            "num_test": int(len(x_test)),
            "validation": "the test set (curves only; nothing is tuned on it)",
        },
        "versions": versions(),
        "devices": {
            "strategy": config.strategy,
            "replicas": 1 if strategy is None else int(strategy.num_replicas_in_sync),
            "jit_compile": bool(model.jit_compile),
        },
        "status": "running",
    }
    write_json_atomic(out / CONFIG_FILE, record)

    guard = DivergenceGuard()
    checkpoint = EpochCheckpoint(out, guard)
    verbose = 0 if quiet else (1 if sys.stdout.isatty() else 2)
    fit_args = (x_train, y_train) if config.conditional else (x_train,)
    validation = (x_test, y_test) if config.conditional else (x_test,)
    seconds = {}

    def finish(status, **fields):
        seconds["total"] = time.perf_counter() - started
        record.update(status=status, epochs_completed=checkpoint.epochs_completed, seconds=_rounded(seconds), **fields)
        write_json_atomic(out / CONFIG_FILE, record)

    try:
        t0 = time.perf_counter()
        model.fit(
            *fit_args,
            epochs=config.epochs,
            batch_size=config.batch_size,
            validation_data=validation,
            validation_batch_size=1000,
            callbacks=[guard, checkpoint],
            verbose=verbose,
        )
        seconds["train"] = time.perf_counter() - t0
        if guard.diverged_at is not None:
            epoch, logs = guard.diverged_at
            shown = ", ".join(f"{k} = {v:g}" for k, v in logs.items() if not math.isfinite(v)) or "non-finite weights"
            kept = (
                f"the model of epoch {checkpoint.epochs_completed} is kept in {out}"
                if checkpoint.epochs_completed
                else f"no model was saved in {out}"
            )
            finish("diverged", diverged={"epoch": epoch + 1, "logs": {k: str(v) for k, v in logs.items()}})
            raise TrainingDivergedError(f"training diverged in epoch {epoch + 1} ({shown}); {DIVERGENCE_HINT}; {kept}")
        seconds["per_epoch"] = seconds["train"] / config.epochs
        history = checkpoint.history

        t0 = time.perf_counter()
        n_eval = min(config.eval_images, len(x_test))
        metrics = evaluate_model(
            model,
            x_test[:n_eval],
            y_test[:n_eval] if config.conditional else None,
            num_samples=config.eval_samples,
            seed=config.seed,
        )
        write_json_atomic(out / "metrics.json", metrics)
        seconds["evaluate"] = time.perf_counter() - t0

        t0 = time.perf_counter()
        figures = _save_figures(model, out, x_test, y_test, history, config.conditional, config.seed)
        seconds["figures"] = time.perf_counter() - t0
    except KeyboardInterrupt:
        finish("interrupted")
        raise TrainingInterrupted(checkpoint.epochs_completed, out) from None
    except TrainingDivergedError:
        raise
    except BaseException:
        finish("failed")
        raise

    finish("complete")
    epochs = config.epochs
    say(
        f"done in {seconds['total']:.0f} s ({epochs} epoch{'s' if epochs != 1 else ''}, {seconds['per_epoch']:.1f} s/epoch). "
        f"Test -ELBO {metrics['neg_elbo']:.2f} nats/image; log p(x) >= {metrics['log_likelihood']:.2f} "
        f"(IWAE, K={metrics['num_samples']}, {metrics['num_images']} images); "
        f"{metrics['active_units']}/{metrics['latent_dim']} active units."
    )
    if chief:
        say(f"saved to {out}: {', '.join([MODEL_FILE, 'history.json', CONFIG_FILE, 'metrics.json', *figures])}")
    return RunResult(out, model, history, metrics, _rounded(seconds), figures)


# ------------------------------------------------------------------ loading
def _one_line(error):
    text = " ".join(str(error).split())
    return text[:600] + (" ..." if len(text) > 600 else "") if text else type(error).__name__


def load_vae(path):
    """Load a saved VAE from a ``.keras`` file or a run folder; return ``(model, file path)``.

    Raises:
        FileNotFoundError: no such file.
        ValueError: not a ``.keras`` file, not loadable, not a workshop VAE, or
            holding NaN or infinite weights (a diverged run).
    """
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
    if not weights_are_finite(model):
        raise ValueError(f"{path}: the model holds NaN or infinite weights (its training diverged); {DIVERGENCE_HINT} and train again")
    return model, path
