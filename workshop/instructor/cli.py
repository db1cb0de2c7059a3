"""The instructor's command line: ``python -m workshop train|evaluate|export|likelihood|notebooks|site|release``.

``train`` fits a VAE on MNIST and leaves everything an instructor needs in one
run folder (:func:`workshop.instructor.training.train_and_evaluate`); ``evaluate`` measures
a saved model on the test set; ``export`` turns a run folder into shipped
pretrained weights and ``likelihood`` records their test log-likelihood
(:mod:`workshop.instructor.export`); ``notebooks`` builds, checks, runs and grades
the course notebooks (:mod:`workshop.instructor.authoring`,
:mod:`workshop.instructor.grading`); ``site`` builds and serves the course website
(:mod:`workshop.instructor.site`); ``release`` writes the student edition
(:mod:`workshop.instructor.release`). ``docs/command-line.md`` is the reference.

Examples::

    python -m workshop train                              # about a minute on a laptop CPU
    python -m workshop train --latent-dim 2 --epochs 30 --output runs/z2
    python -m workshop evaluate runs/z2 --num-samples 1000
    python -m workshop export runs/z2 vae_mnist_z2
    python -m workshop notebooks check

One error convention for every command: an error is one line ``error: ...``
on stderr and the exit status says what kind it was:

- 0: success;
- 1: the command could not do its job (a missing or damaged input file, a
  refused overwrite, a diverged training, a failing notebook, ``notebooks check``
  finding problems);
- 2: a usage error (the command line itself is wrong);
- 130 (Ctrl-C) or 143 (SIGTERM): interrupted; a run folder says so.

One name per idea: ``--output`` is where a command writes, ``--timeout`` a limit
in seconds, ``--force`` allows replacing what an instructor made, ``--quiet``
silences the progress lines (which go to stderr). Earlier spellings (``--out``,
``--cell-timeout``) are still accepted, and not shown in ``--help``.

Nothing here imports TensorFlow: the parser, ``--help`` and usage errors are
instant. A command that needs TensorFlow imports it when it runs (through
:func:`workshop._import_library`, which ``python -m workshop`` defers; see
``workshop/__init__.py``). This module only parses and reports; the work is done
by the modules above.
"""

import argparse
import json
import signal
import sys
import textwrap
import time
from pathlib import Path

from workshop.constants import BINARIZE_CHOICES
from workshop.instructor import config as _config
from workshop.instructor.config import TrainingConfig

USAGE, FAILURE = 2, 1
INTERRUPTED = 130  # 128 + SIGINT; SIGTERM gives 128 + 15
# Defaults shown by --help, kept here so that --help imports nothing heavy; tests check that they
# equal the modules' own (grading.DEFAULT_CELL_TIMEOUT, authoring.run's timeout, site.DEFAULT_PORT).
GRADE_TIMEOUT = 120
RUN_TIMEOUT = 1800
SITE_PORT = 8000

COMMAND_NAMES = ("train", "evaluate", "export", "likelihood", "notebooks", "site", "cluster", "release")


class UsageError(Exception):
    """Raised by the argument parser instead of printing usage and exiting."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(message)


class _Formatter(argparse.HelpFormatter):
    """Wraps descriptions as usual; keeps a text with line breaks (the exit-status table) as written."""

    def _fill_text(self, text, width, indent):
        if "\n" in text:
            return "".join(indent + line for line in text.splitlines(keepends=True))
        return super()._fill_text(text, width, indent)


def _exit_statuses(failure):
    """The ``--help`` epilog of a command: its exit statuses, ``failure`` saying what 1 means for it."""
    failure = textwrap.fill(failure, width=78, initial_indent="  1    ", subsequent_indent=" " * 7)
    return (
        "exit status:\n"
        "  0    success\n"
        f"{failure}\n"
        "  2    a usage mistake on the command line (nothing was done)\n"
        "  130  interrupted (Ctrl-C); 143: stopped by SIGTERM\n"
        "errors are one line, 'error: ...', on stderr"
    )


def _old_spelling(parser, flag, dest, **kwargs):
    """Accept ``flag``, an earlier name of the option stored in ``dest``, without showing it in --help."""
    parser.add_argument(flag, dest=dest, default=argparse.SUPPRESS, help=argparse.SUPPRESS, **kwargs)


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
        if value != value or value in (float("inf"), float("-inf")) or value < minimum or (strict and value == minimum):
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


def _add_train(commands, preset=None):
    from workshop.instructor.config import preset_config
    from workshop.instructor.presets import PRESETS

    d = preset_config(preset) if preset in PRESETS else _config.DEFAULTS
    train = commands.add_parser(
        "train",
        help="train a VAE on MNIST and save model, curves, figures and test numbers",
        description="Train a VAE on MNIST. Everything goes into one run folder: model.keras, history.json, "
        "config.json, metrics.json and PNG figures. The defaults take about a minute on a laptop CPU. "
        "A folder being trained is locked (.train.lock holds the process id): another run never writes into it.",
        epilog=_exit_statuses(
            "the run could not be done: a missing or damaged --data file; a refused --output folder (not empty "
            "without --overwrite, or being trained by a live process); a worker that did not join within "
            "--worker-timeout; a diverged or failed run"
        ),
        formatter_class=_Formatter,
    )
    model = train.add_argument_group("model")
    model.add_argument(
        "--architecture", choices=_config.ARCHITECTURES, default=d.architecture, help=f"encoder/decoder type (default: {d.architecture})"
    )
    model.add_argument(
        "--latent-dim", type=_integer(1), default=d.latent_dim, metavar="D", help=f"latent dimensions (default: {d.latent_dim})"
    )
    units = ",".join(str(u) for u in d.hidden_units)
    model.add_argument(
        "--hidden-units", type=_hidden_units, default=d.hidden_units, metavar="U1,U2", help=f"hidden layer sizes (default: {units})"
    )
    model.add_argument(
        "--likelihood", choices=_config.LIKELIHOODS, default=d.likelihood, help=f"pixel likelihood (default: {d.likelihood})"
    )
    model.add_argument(
        "--sigma", type=_number(0, strict=True), default=d.sigma, help=f"std of the gaussian likelihood (default: {d.sigma})"
    )
    model.add_argument("--beta", type=_number(0, strict=False), default=d.beta, help=f"weight of the KL term (default: {d.beta})")
    model.add_argument(
        "--kl-warmup-epochs",
        type=_integer(0),
        default=d.kl_warmup_epochs,
        metavar="N",
        help=f"KL weight from 0 to beta over the first N epochs (default: {d.kl_warmup_epochs}, off)",
    )
    model.add_argument(
        "--free-bits",
        type=_number(0, strict=False),
        default=d.free_bits,
        metavar="NATS",
        help=f"floor on each latent dimension's KL, in nats (default: {d.free_bits:g}, off)",
    )
    model.add_argument(
        "--preset",
        choices=sorted(PRESETS),
        default=d.preset,
        help="a named recipe whose settings become the defaults (flags given still win): "
        + "; ".join(f"{name}: {p['description']}" for name, p in PRESETS.items()),
    )
    model.add_argument("--conditional", action="store_true", help="train a ConditionalVAE that also sees the digit label")
    fitting = train.add_argument_group("training")
    fitting.add_argument("--epochs", type=_integer(1), default=d.epochs, metavar="N", help=f"training epochs (default: {d.epochs})")
    fitting.add_argument("--batch-size", type=_integer(1), default=d.batch_size, metavar="N", help=f"(default: {d.batch_size})")
    fitting.add_argument(
        "--learning-rate",
        type=_number(0, strict=True),
        default=d.learning_rate,
        metavar="LR",
        help=f"Adam's (default: {d.learning_rate:g})",
    )
    fitting.add_argument(
        "--lr-schedule",
        choices=_config.LR_SCHEDULES,
        default=d.lr_schedule,
        help="constant: the learning rate throughout; cosine: decayed from it to 0 along a half cosine over all the steps"
        f" (default: {d.lr_schedule})",
    )
    fitting.add_argument("--seed", type=_integer(0), default=d.seed, help=f"seeds weights, shuffling and sampling (default: {d.seed})")
    fitting.add_argument(
        "--jit", action=argparse.BooleanOptionalAction, default=d.jit, help="compile with XLA (default: on; off under a --strategy)"
    )
    devices = train.add_argument_group("devices")
    devices.add_argument(
        "--strategy",
        choices=_config.STRATEGIES,
        default=d.strategy,
        help="none: one device (default); mirrored: tf.distribute.MirroredStrategy over every local GPU, or every logical CPU "
        "device of --cpu-devices; multiworker: MultiWorkerMirroredStrategy, one process per machine, the cluster in $TF_CONFIG. "
        "--batch-size is the global batch, split over the replicas",
    )
    devices.add_argument(
        "--cpu-devices", type=_integer(1), default=d.cpu_devices, metavar="N", help="split the CPU into N logical devices (replicas)"
    )
    devices.add_argument(
        "--worker-timeout",
        type=_number(0, strict=True),
        default=d.worker_timeout,
        metavar="SECONDS",
        help="--strategy multiworker: give up, with exit status 1, when a worker of TF_CONFIG has not joined "
        f"the cluster within SECONDS (default: {d.worker_timeout:g})",
    )
    data = train.add_argument_group("data")
    data.add_argument("--data", metavar="PATH", help="MNIST .npz in Keras's layout (default: $MNIST_PATH, Keras, the shipped sample)")
    data.add_argument(
        "--binarize",
        choices=BINARIZE_CHOICES,
        default=d.binarize,
        help="random: fixed stochastic binarization, the standard binarized MNIST (default); threshold: pixel > 0.5; none: grey levels",
    )
    data.add_argument(
        "--binarize-seed",
        type=_integer(0),
        default=d.binarize_seed,
        metavar="S",
        help=f"seed of --binarize random (default: {d.binarize_seed})",
    )
    data.add_argument(
        "--dynamic-binarization",
        action=argparse.BooleanOptionalAction,
        default=d.dynamic_binarization,
        help="train on grey levels binarized afresh at every step (the test set follows --binarize)"
        f" (default: {'on' if d.dynamic_binarization else 'off'})",
    )
    data.add_argument("--num-train", type=_integer(1), metavar="N", help="train on the first N images only")
    output = train.add_argument_group("output")
    output.add_argument(
        "--output", metavar="DIR", help="run folder, empty or new (default: a new runs/<architecture>-z<latent>-<timestamp>)"
    )
    output.add_argument(
        "--overwrite",
        action="store_true",
        help="reuse a non-empty --output folder, replacing its run files (refused while another process trains in it)",
    )
    output.add_argument(
        "--eval-samples",
        type=_integer(1),
        default=d.eval_samples,
        metavar="K",
        help=f"importance samples of the test log-likelihood (default: {d.eval_samples})",
    )
    output.add_argument(
        "--eval-images",
        type=_integer(1),
        default=d.eval_images,
        metavar="N",
        help=f"test images evaluated at the end (default: {d.eval_images})",
    )
    output.add_argument("--quiet", action="store_true", help="no progress bar, only errors")


def _add_evaluate(commands):
    evaluate = commands.add_parser(
        "evaluate",
        help="measure a saved model on the MNIST test set",
        description="Evaluate a saved VAE on the MNIST test set: -ELBO, importance-weighted log-likelihood, "
        "KL per latent dimension and active units, in nats per image.",
        epilog=_exit_statuses("a missing or damaged model or data file, or a model with NaN weights"),
        formatter_class=_Formatter,
    )
    evaluate.add_argument("model", metavar="MODEL", help="a .keras file, or a run folder holding model.keras")
    evaluate.add_argument("--num-samples", type=_integer(1), default=100, metavar="K", help="importance samples per image (default: 100)")
    evaluate.add_argument("--num-images", type=_integer(1), metavar="N", help="evaluate the first N test images (default: all)")
    evaluate.add_argument("--data", metavar="PATH", help="MNIST .npz (default: $MNIST_PATH, Keras, the shipped sample)")
    evaluate.add_argument("--binarize", choices=BINARIZE_CHOICES, help="default: what the run's config.json says, else random")
    evaluate.add_argument("--seed", type=_integer(0), default=0, help="seeds the sampled estimates (default: 0)")
    evaluate.add_argument("--json", action="store_true", help="print the results as JSON")
    evaluate.add_argument("--quiet", action="store_true", help="no progress lines on stderr, only errors")


def _add_export(commands):
    export = commands.add_parser(
        "export",
        help="write pretrained weights NAME.npz and NAME.json from a run folder",
        description="Round a run's weights to float16 and write NAME.npz and NAME.json (configuration, "
        "sha256 of the weights, test -ELBO on the full test set and on the shipped sample). "
        "An existing model NAME is never replaced without --force, and only a complete run is exported "
        "without --allow-unfinished.",
        epilog=_exit_statuses(
            "a missing or damaged run folder; a run whose config.json status is not complete (see "
            "--allow-unfinished); a model NAME already in the output folder (see --force); data that is not the full MNIST"
        ),
        formatter_class=_Formatter,
    )
    export.add_argument("run_dir", metavar="RUN_DIR")
    export.add_argument("name", metavar="NAME")
    export.add_argument("--output", metavar="DIR", help="where to write (default: the package's pretrained/ folder)")
    export.add_argument("--data", metavar="PATH", help="MNIST .npz (default: $MNIST_PATH, then Keras)")
    export.add_argument("--description", help="one sentence stored in NAME.json")
    export.add_argument("--force", action="store_true", help="replace an existing model NAME (its .npz and .json)")
    export.add_argument(
        "--allow-unfinished",
        action="store_true",
        help="export a run whose config.json status is not complete (interrupted, diverged, failed, running)",
    )
    export.add_argument("--quiet", action="store_true", help="no progress lines on stderr, only errors")
    likelihood = commands.add_parser(
        "likelihood",
        help="record a pretrained model's test -ELBO and IWAE bound in pretrained/likelihoods.json",
        description="Measure a shipped model's test -ELBO and K-sample importance-weighted bound (slow: K=5000 on "
        "10,000 images is 5e7 decoder passes) and record them, keyed by the sha256 of its weights. A recorded "
        "measurement of the same weights is never replaced by a smaller one (fewer samples or images) without --force.",
        epilog=_exit_statuses(
            "an unknown model; a damaged likelihoods.json (checked before measuring); a recorded measurement "
            "larger than this one (see --force); a missing data file, or data that is not the full MNIST"
        ),
        formatter_class=_Formatter,
    )
    likelihood.add_argument("name", metavar="NAME")
    likelihood.add_argument(
        "--num-samples", type=_integer(1), default=5000, metavar="K", help="importance samples per image (default: 5000)"
    )
    likelihood.add_argument("--num-images", type=_integer(1), metavar="N", help="the first N test images (default: all 10,000)")
    likelihood.add_argument("--data", metavar="PATH", help="MNIST .npz (default: $MNIST_PATH, then Keras)")
    likelihood.add_argument("--force", action="store_true", help="replace a recorded measurement of these weights even by a smaller one")
    likelihood.add_argument("--quiet", action="store_true", help="no progress lines on stderr, only errors")


def _whole_number(text, what):
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number{what} >= 1. Received: {text!r}")
    return value


def _seconds(text):
    return _whole_number(text, " of seconds")


def _count(text):
    return _whole_number(text, "")


def _add_notebooks(commands):
    notebooks = commands.add_parser(
        "notebooks",
        help="build, check, run or grade the course notebooks",
        description="Build, check, run and grade the course notebooks.",
        epilog=_exit_statuses("see the --help of each job"),
        formatter_class=_Formatter,
    )
    common = _Parser(add_help=False)
    common.add_argument("--solutions", metavar="DIR", help="solution notebooks (default: <repo>/solutions)")
    common.add_argument("--notebooks", metavar="DIR", help="student notebooks (default: <repo>/notebooks)")
    jobs = notebooks.add_subparsers(dest="job", metavar="JOB", required=True, parser_class=_Parser)
    jobs.add_parser(
        "build",
        parents=[common],
        help="write notebooks/ from solutions/",
        description="Write the student notebooks in notebooks/ from the solution notebooks in solutions/.",
        epilog=_exit_statuses("a missing or unreadable solutions folder or notebook, or a malformed solution marker"),
        formatter_class=_Formatter,
    )
    jobs.add_parser(
        "check",
        parents=[common],
        help="fail when notebooks/ and solutions/ are out of sync",
        description="Check that notebooks/ is what `notebooks build` would write from solutions/.",
        epilog=_exit_statuses("problems found (listed on stdout), or a missing or unreadable folder or notebook"),
        formatter_class=_Formatter,
    )
    run = jobs.add_parser(
        "run",
        parents=[common],
        help="execute solution notebooks in place (full settings)",
        description="Execute solution notebooks in place, top to bottom, each on a fresh kernel; a notebook is "
        "written back only when every cell ran. One progress line per notebook.",
        epilog=_exit_statuses("an unknown notebook name, a missing solutions folder, or a cell that failed or timed out"),
        formatter_class=_Formatter,
    )
    run.add_argument("names", nargs="*", metavar="NAMES", help="e.g. 05, 05_vae_mnist")
    run.add_argument("--fast", action="store_true", help="run with WORKSHOP_FAST=1")
    run.add_argument(
        "--timeout", type=_seconds, default=RUN_TIMEOUT, metavar="SECONDS", help=f"seconds a cell may run (default: {RUN_TIMEOUT})"
    )
    grade = jobs.add_parser(
        "grade",
        help="grade submitted student notebooks (gradebook, feedback, class report)",
        description="Grade submitted student notebooks: the cells each needs run in a fresh, walled-off kernel, then the "
        "course's checks run in the grader, calling the student's code in that kernel (only values cross). "
        "Writes into --output, after each submission: grades.csv, grades.json, summary.txt, "
        "gradebook.csv (one row per student), gradebook_canvas.csv and gradebook_moodle.csv (to import), "
        "feedback/<student>.txt and class_report.html (never over the reports of an earlier grading without --force). "
        "Students are identified from Canvas's, Moodle's and Colab's file names, or by --roster. "
        "One progress line per submission on stderr. docs/grading-guide.md says how to import the grades.",
        epilog=_exit_statuses(
            "a missing submission file or solutions folder, a roster or points file that cannot be read, an --output that is a "
            "file or cannot be written, reports in --output that exist already (see --force), a report that cannot be written, or not a single submission "
            "that could be graded; "
            "a class whose students fail, or hand in files that are not notebooks, is graded as such (status 0)"
        ),
        formatter_class=_Formatter,
    )
    grade.add_argument("submissions", nargs="+", metavar="SUBMISSION.ipynb", help="student notebooks to grade")
    grade.add_argument("--output", metavar="DIR", help="folder for the gradebook, feedback and reports (required)")
    _old_spelling(grade, "--out", "output", metavar="DIR")
    grade.add_argument("--solutions", metavar="DIR", help="solution notebooks (default: <repo>/solutions)")
    grade.add_argument(
        "--timeout", type=_seconds, default=GRADE_TIMEOUT, metavar="SECONDS", help=f"seconds allowed per cell (default: {GRADE_TIMEOUT})"
    )
    _old_spelling(grade, "--cell-timeout", "timeout", type=_seconds, metavar="SECONDS")
    grade.add_argument("--full", action="store_true", help="run submissions with full settings instead of fast mode")
    grade.add_argument("--no-extra", action="store_true", help="skip the instructor-only extra cases")
    grade.add_argument("--force", action="store_true", help="replace the reports of an earlier grading in --output")
    grade.add_argument(
        "--roster",
        metavar="CSV",
        help="the class list: Canvas's gradebook export, Moodle's gradebook export or grading worksheet, "
        "or student,canvas_id,participant,sis_id,login,email,section,files (files: file-name patterns)",
    )
    grade.add_argument(
        "--points", metavar="FILE", help='points per exercise: JSON {"gaussian_kl": 2} or CSV exercise,points (default: 1 each)'
    )
    grade.add_argument("--assignment", metavar="NAME", help="the assignment's column name in the LMS files (default: the notebook's name)")
    grade.add_argument("--quiet", action="store_true", help="no progress lines on stderr, only errors")
    grade.add_argument(
        "-j", "--jobs", type=_count, default=1, metavar="N", help="grade N submissions at once, each in its own kernel (default: 1)"
    )
    grade.add_argument(
        "--call-timeout",
        type=_seconds,
        default=None,
        metavar="SECONDS",
        help="seconds allowed per call of the student's code by a check; past it the exercise is 'not graded' (default: 120)",
    )
    grade.add_argument(
        "--isolation",
        choices=("auto", "namespace", "plain"),
        default="auto",
        help="how each kernel is walled off: Linux mount and PID namespaces, or a private folder, "
        "scrubbed environment and limits only ('plain'); auto: namespaces where they work (default: auto)",
    )
    grade.add_argument("--memory", type=_count, default=None, metavar="MB", help="address-space limit of a kernel in MB (default: 6144)")
    grade.add_argument(
        "--notebook",
        metavar="NAME",
        default=None,
        help="the assignment (e.g. 05 or 05_vae_mnist): a submission of another course notebook is reported, not graded",
    )


def _port(text):
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port number 0-65535. Received: {text!r}")
    return value


def _add_site(commands):
    site = commands.add_parser(
        "site",
        help="build or serve the course website",
        description="Build and serve the course website.",
        epilog=_exit_statuses("see the --help of each job"),
        formatter_class=_Formatter,
    )
    jobs = site.add_subparsers(dest="job", metavar="JOB", required=True, parser_class=_Parser)
    build = jobs.add_parser(
        "build",
        help="build the students' site (or with --solutions the instructor's) into build/site",
        description="Build the static site with Sphinx (about a minute): by default the students' site (the student "
        "notebooks with the outputs that give no answer away, no answers), with --solutions the instructor's (the "
        "executed solution notebooks and docs/). "
        "Its sources are staged in a temporary folder of its own, removed afterwards; a non-empty --output folder "
        "is only written into when it holds a site built earlier. One progress line per step on stderr.",
        epilog=_exit_statuses(
            "missing or unreadable notebooks or site configuration, an --output folder that is neither empty nor a "
            "built site, or a Sphinx failure"
        ),
        formatter_class=_Formatter,
    )
    build.add_argument("--output", metavar="DIR", help="output folder (default: <repo>/build/site)")
    _old_spelling(build, "--out", "output", metavar="DIR")
    build.add_argument("--solutions", action="store_true", help="build the instructor's site: solution notebooks with answers, and docs/")
    build.add_argument("--repository", metavar="URL", help="where the Colab buttons point (default: workshop/instructor/course.py's)")
    build.add_argument("--ref", metavar="REF", help="the branch, tag or commit of --repository they open (default: course.py's)")
    build.add_argument("--quiet", action="store_true", help="no progress lines on stderr, only errors")
    serve = jobs.add_parser(
        "serve",
        help="serve the built site on 127.0.0.1",
        description="Serve a built site on 127.0.0.1 until Ctrl-C.",
        epilog=_exit_statuses("no built site (index.html) in --dir, or a port that is in use"),
        formatter_class=_Formatter,
    )
    serve.add_argument("--port", type=_port, default=SITE_PORT, help=f"(default: {SITE_PORT}; 0 picks a free one)")
    serve.add_argument("--dir", metavar="DIR", help="site folder (default: <repo>/build/site)")


def _add_cluster(commands):
    from workshop.instructor.clustering_run import DEFAULTS as C

    cluster = commands.add_parser(
        "cluster",
        help="train, evaluate and export the clustering model of notebook 10 (VaDE-like)",
        description="The mixture-prior VAE that clusters MNIST without labels (notebook 10): train it, measure it on "
        "the full test set, ship it as a pretrained model.",
        epilog=_exit_statuses("see the --help of each job"),
        formatter_class=_Formatter,
    )
    jobs = cluster.add_subparsers(dest="job", metavar="JOB", required=True, parser_class=_Parser)
    train = jobs.add_parser(
        "train",
        help="train the clustering model (about 7 minutes on a 2-core CPU)",
        description="Train the clustering recipe: pretrain an autoencoder (the encoder sees images shifted by up to "
        "--max-shift pixels), initialise the mixture prior from its codes, train a few epochs with q(c | x) fixed to those "
        "clusters, then VaDE's ELBO with q(c | x) = p(c | z). Writes model.keras, config.json and metrics.json into --output.",
        epilog=_exit_statuses("a missing or damaged --data file, a refused --output folder, a diverged or failed run"),
        formatter_class=_Formatter,
    )
    train.add_argument("--output", metavar="DIR", required=True, help="run folder, new or empty")
    train.add_argument("--overwrite", action="store_true", help="replace the run files of an earlier run in --output")
    train.add_argument("--seed", type=_integer(0), default=C["seed"], help=f"(default: {C['seed']})")
    train.add_argument("--data", metavar="PATH", help="MNIST .npz in Keras's layout (default: $MNIST_PATH, Keras, the shipped sample)")
    train.add_argument("--num-train", type=_integer(10), metavar="N", help="train on the first N images only")
    train.add_argument(
        "--hidden-units",
        type=_hidden_units,
        default=C["hidden_units"],
        metavar="U1,U2,...",
        help="hidden layer sizes (default: " + ",".join(map(str, C["hidden_units"])) + ")",
    )
    train.add_argument("--latent-dim", type=_integer(1), default=C["latent_dim"], metavar="D", help=f"(default: {C['latent_dim']})")
    train.add_argument(
        "--max-shift",
        type=_integer(0),
        default=C["max_shift"],
        metavar="PIXELS",
        help=f"largest random shift of the encoder's input during training (default: {C['max_shift']}; 0: none)",
    )
    train.add_argument(
        "--pretrain-epochs", type=_integer(1), default=C["pretrain_epochs"], metavar="N", help=f"(default: {C['pretrain_epochs']})"
    )
    train.add_argument(
        "--init",
        choices=("tsne", "gmm"),
        default=C["init"],
        help="how the prior starts: k-means on a t-SNE map of the codes (default), or VaDE's Gaussian mixture on the codes",
    )
    train.add_argument(
        "--settle-epochs",
        type=_integer(0),
        default=C["settle_epochs"],
        metavar="N",
        help=f"epochs with q(c | x) fixed to the initial clusters (default: {C['settle_epochs']}; 0: none)",
    )
    train.add_argument(
        "--epochs", type=_integer(1), default=C["epochs"], metavar="N", help=f"epochs of VaDE's ELBO (default: {C['epochs']})"
    )
    train.add_argument(
        "--learning-rate",
        type=_number(0, strict=True),
        default=C["learning_rate"],
        metavar="LR",
        help=f"Adam's in the VaDE phase, decayed along a cosine (default: {C['learning_rate']:g})",
    )
    train.add_argument("--batch-size", type=_integer(1), default=C["batch_size"], metavar="N", help=f"(default: {C['batch_size']})")
    train.add_argument("--quiet", action="store_true", help="no progress lines, only errors")
    evaluate = jobs.add_parser(
        "evaluate",
        help="unsupervised accuracy, NMI and confusion matrix on the 10,000 test images",
        description="Cluster the full MNIST test set, binarized with two seeds, and report the unsupervised accuracy "
        "(clusters matched one-to-one to digits), the NMI, the confusion matrix and k-means on pixels.",
        epilog=_exit_statuses("an unknown model, not a clustering model, or no full MNIST"),
        formatter_class=_Formatter,
    )
    evaluate.add_argument("model", metavar="MODEL", help="a pretrained name (vade_mnist_clustering), a run folder or a .keras file")
    evaluate.add_argument("--data", metavar="PATH", help="MNIST .npz (default: $MNIST_PATH, then Keras)")
    evaluate.add_argument("--json", metavar="FILE", help="also write the results to FILE (JSON)")
    evaluate.add_argument("--quiet", action="store_true", help="no progress lines")
    export = jobs.add_parser(
        "export",
        help="ship a run as a pretrained model (float16 weights, sha256, measured clustering)",
        description="Write NAME.npz and NAME.json into workshop/pretrained/ (or --output-dir) from a complete "
        "`cluster train` run, measuring the clustering with the float16 weights.",
        epilog=_exit_statuses("an unfinished run, an existing NAME without --force, or no full MNIST"),
        formatter_class=_Formatter,
    )
    export.add_argument("run", metavar="RUN_DIR")
    export.add_argument("name", metavar="NAME")
    export.add_argument("--output-dir", metavar="DIR", help="(default: the package's pretrained/ folder)")
    export.add_argument("--data", metavar="PATH", help="MNIST .npz (default: $MNIST_PATH, then Keras)")
    export.add_argument("--force", action="store_true", help="replace an existing NAME")
    export.add_argument("--quiet", action="store_true", help="no progress lines")


def _add_release(commands):
    release = commands.add_parser(
        "release",
        help="write the student edition (no answers) into a folder of its own",
        description="Write what students get into OUT, a folder meant to become its own git repository: the student "
        "notebooks, the students' library, a student README, requirements.txt, pyproject.toml and LICENSE; no solutions, "
        "no instructor tools. Every file is scanned for answers first. The Colab badges and install cell point at the "
        "edition's repository, pinned to --ref.",
        epilog=_exit_statuses(
            "no or a bad --repository or --ref (a branch such as main without --allow-branch), an OUT folder that is "
            "neither new, empty nor an earlier release (--force replaces one), or an edition that would give answers away"
        ),
        formatter_class=_Formatter,
    )
    release.add_argument("out", metavar="OUT", help="the edition's folder")
    release.add_argument(
        "--repository", metavar="URL", help="https://github.com/OWNER/NAME of the edition's repository (default: OUT's git origin)"
    )
    release.add_argument("--ref", metavar="TAG_OR_SHA", help="the tag or commit of that repository that Colab pins (required)")
    release.add_argument("--allow-branch", action="store_true", help="accept a branch such as main as --ref (or none: main)")
    release.add_argument("--force", action="store_true", help="replace an earlier release in OUT")


def build_parser(preset=None):
    """Return the ``argparse`` parser of ``python -m workshop``."""
    parser = _Parser(
        prog="python -m workshop",
        description="VAE Workshop tools for instructors: train, evaluate and export VAEs on MNIST, build, run and grade "
        "the notebooks, build the course website. `python -m workshop COMMAND --help` says more; docs/command-line.md "
        "is the reference.",
        epilog=_exit_statuses("the command could not do its job (each command's --help says when)"),
        formatter_class=_Formatter,
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    _add_train(commands, preset)
    _add_evaluate(commands)
    _add_export(commands)
    _add_notebooks(commands)
    _add_site(commands)
    _add_cluster(commands)
    _add_release(commands)
    return parser


def config_from_args(args):
    """The :class:`~workshop.instructor.config.TrainingConfig` of parsed ``train`` arguments."""
    values = {f.name: getattr(args, f.name) for f in _config.fields()}
    return TrainingConfig(**values)


# ----------------------------------------------------------------- commands
def _import_library():
    """TensorFlow and the Keras classes, for the commands that need them (deferred by ``python -m workshop``)."""
    import workshop

    workshop._import_library()


def _progress(args):
    """A function printing one progress line on stderr, or nothing with ``--quiet``."""
    if getattr(args, "quiet", False):
        return lambda message: None
    return lambda message: print(message, file=sys.stderr, flush=True)


def _train(args):
    _import_library()
    from workshop.instructor.training import train_and_evaluate

    train_and_evaluate(config_from_args(args), args.output, overwrite=args.overwrite, quiet=args.quiet)
    return 0


def _binarize_of_run(path):
    """The binarization a run folder's config.json recorded (new and old layouts), or None."""
    config_path = path.parent / "config.json"
    if not config_path.is_file():
        return None, None
    try:
        with open(config_path, encoding="utf-8") as handle:
            record = json.load(handle)
        binarize = (record.get("config") or record.get("data"))["binarize"]
    except (ValueError, KeyError, TypeError, AttributeError):
        raise ValueError(f"{config_path}: expected a run's config.json with its binarization; pass --binarize") from None
    binarize = "none" if binarize is None else binarize
    if binarize not in BINARIZE_CHOICES:
        raise ValueError(f"{config_path}: expected binarize in {BINARIZE_CHOICES}. Received: {binarize!r}")
    return binarize, str(config_path)


def _evaluate(args):
    say = _progress(args)
    _import_library()
    from workshop.evaluation import evaluate_model
    from workshop.instructor.training import describe_source, load_data, load_vae

    started = time.perf_counter()
    model, path = load_vae(args.model)
    binarize, origin = args.binarize, "--binarize"
    if binarize is None:
        binarize, origin = _binarize_of_run(path)
        if binarize is None:
            binarize, origin = "random", "default"
    _, (x_test, y_test), info = load_data(args.data, binarize)
    if args.num_images is not None:
        x_test, y_test = x_test[: args.num_images], y_test[: args.num_images]
    say(f"evaluate: {path} on {len(x_test)} test images, {args.num_samples} importance samples each ...")
    metrics = evaluate_model(model, x_test, y_test if model.conditional else None, num_samples=args.num_samples, seed=args.seed)
    seconds = time.perf_counter() - started
    if args.json:
        print(json.dumps({"model": str(path), "data": info, "binarize": binarize, **metrics, "seconds": round(seconds, 2)}, indent=2))
        return 0
    kl = " ".join(f"{v:.2f}" for v in metrics["kl_per_dimension"])
    print(f"model: {path} ({type(model).__name__}, {model.architecture}, latent_dim={model.latent_dim}, {model.likelihood})")
    print(f"data: {describe_source(info)}; {metrics['num_images']} test images, binarize={binarize} (from {origin})")
    print(f"test -ELBO:               {metrics['neg_elbo']:8.2f} nats/image")
    print(f"log p(x) (IWAE, K={metrics['num_samples']}):".ljust(26) + f"{metrics['log_likelihood']:8.2f} nats/image")
    print(f"KL(q(z|x) || p(z)):       {metrics['kl']:8.2f} nats/image")
    print(f"KL per latent dimension:  {kl}")
    print(f"active units:             {metrics['active_units']} of {metrics['latent_dim']} (variance of E_q[z] over images > 0.01)")
    print(f"({seconds:.1f} s)")
    return 0


def _export(args):
    from workshop.instructor.export import check_export

    # Refusals first: before TensorFlow is imported and the test sets are measured.
    check_export(args.run_dir, args.name, args.output, force=args.force, allow_unfinished=args.allow_unfinished)
    _import_library()
    from workshop.instructor.export import export

    meta = export(
        args.run_dir,
        args.name,
        args.output,
        args.data,
        args.description,
        force=args.force,
        allow_unfinished=args.allow_unfinished,
        progress=_progress(args),
    )
    test = meta["test"]
    print(
        f"wrote {meta['name']}.npz and {meta['name']}.json: {meta['weights']['parameters']:,} parameters in float16; "
        f"test -ELBO {test['full']['neg_elbo']:.2f} nats/image on {test['full']['num_images']} images "
        f"(float32: {test['float32_full']:.2f}), {test['sample']['neg_elbo']:.2f} on the sample's {test['sample']['num_images']}"
    )
    return 0


def _likelihood(args):
    from workshop.instructor.export import read_likelihoods

    read_likelihoods()  # a damaged likelihoods.json is refused before TensorFlow and the slow measurement
    _import_library()
    from workshop.instructor.export import record_likelihood

    entry = record_likelihood(args.name, args.num_samples, args.num_images, data=args.data, force=args.force, progress=_progress(args))
    error = entry["neg_iwae_standard_error"]
    print(
        f"{args.name}: test -ELBO {entry['neg_elbo']:.2f}, -IWAE(K={entry['num_samples']}) {entry['neg_iwae']:.2f}"
        + ("" if error is None else f" +- {error:.2f}")
        + f" nats/image on {entry['num_images']} images ({entry['seconds']:.0f} s)"
    )
    return 0


def _notebooks(args):
    if args.job == "grade":
        from workshop.instructor import grading

        return grading.run_from_args(args, progress=_progress(args))
    from workshop.instructor import authoring

    if args.job == "build":
        written = authoring.build(args.solutions, args.notebooks)
        for path in written:
            print(f"wrote {path}")
        print(f"{len(written)} student notebook(s) built.")
        return 0
    if args.job == "check":
        problems = authoring.check(args.solutions, args.notebooks)
        for problem in problems:
            print(problem)
        if problems:
            print(f"error: {len(problems)} problem(s) found.", file=sys.stderr)
            return FAILURE
        print("notebooks/ is in sync with solutions/.")
        return 0
    authoring.run(args.names, args.solutions, fast=args.fast, timeout=args.timeout)
    return 0


def _site(args):
    from workshop.instructor import site

    if args.job == "build":
        site.build(args.output, progress=_progress(args), solutions=args.solutions, repository=args.repository, ref=args.ref)
    else:
        site.serve(args.dir, args.port)
    return 0


def _cluster(args):
    _import_library()
    from workshop.instructor import clustering_run

    if args.job == "train":
        settings = {k: getattr(args, k) for k in clustering_run.DEFAULTS if hasattr(args, k)}
        clustering_run.train_clustering(
            args.output, data=args.data, overwrite=args.overwrite, num_train=args.num_train, progress=_progress(args), **settings
        )
    elif args.job == "evaluate":
        model, meta = clustering_run.load_clustering_model(args.model)
        result = clustering_run.evaluate_clustering(model, args.data, progress=_progress(args))
        print(clustering_run.format_report(result, meta))
        if args.json:
            from workshop.instructor.files import write_json_atomic

            write_json_atomic(Path(args.json), result)
    else:
        clustering_run.export_clustering(args.run, args.name, args.output_dir, args.data, args.force, progress=_progress(args))
    return 0


def _release(args):
    from workshop.instructor import release

    release.release(args.out, args.repository, args.ref, force=args.force, allow_branch=args.allow_branch)
    return 0


COMMANDS = {
    "train": _train,
    "evaluate": _evaluate,
    "export": _export,
    "likelihood": _likelihood,
    "notebooks": _notebooks,
    "site": _site,
    "cluster": _cluster,
    "release": _release,
}


# --------------------------------------------------------------------- main
# An error message's first word is lower-cased (`error: expected ...`), unless it is a name.
_NAMES = {"Sphinx", "Keras", "Python", "Colab", "Chromium", "Jupyter", "Adam", "MyST", "MathJax"}


def _one_line(error):
    """``error`` as one line of at most about 600 characters, its first word lower-cased unless a name."""
    text = " ".join(str(error).split())
    text = text[:600] + (" ..." if len(text) > 600 else "") if text else type(error).__name__
    word = text.split(" ", 1)[0].rstrip(".,:;")
    if word[:1].isupper() and word[1:].islower() and word not in _NAMES:
        text = text[0].lower() + text[1:]
    return text


def _check_arguments(args):
    """What the parser cannot say: no command, a required option given under its old name, a bad training setting."""
    if args.command is None:
        raise UsageError(f"expected a command: {', '.join(COMMAND_NAMES[:-1])} or {COMMAND_NAMES[-1]}")
    if args.command == "train":
        config_from_args(args)  # a value the parser let through but the config refuses
    if args.command == "notebooks" and args.job == "grade" and getattr(args, "output", None) is None:
        raise UsageError("the following arguments are required: --output")


class _Terminated(KeyboardInterrupt):
    """SIGTERM, turned into the same clean stop as Ctrl-C."""

    signum = signal.SIGTERM


def _on_sigterm(signum, frame):
    raise _Terminated()


def main(argv=None):
    """Entry point of ``python -m workshop``; returns the exit status (0, 1, 2, 130 or 143)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        from workshop.instructor.presets import preset_from_argv

        args = build_parser(preset_from_argv(argv)).parse_args(argv)
        _check_arguments(args)
    except (UsageError, ValueError) as error:
        print(f"error: {_one_line(error)}", file=sys.stderr)
        return USAGE
    except SystemExit as exit_:  # --help
        return exit_.code if isinstance(exit_.code, int) else 0

    previous = None
    try:
        previous = signal.signal(signal.SIGTERM, _on_sigterm)
    except ValueError:  # not the main thread: leave SIGTERM alone
        pass
    try:
        return COMMANDS[args.command](args)
    except KeyboardInterrupt as stop:
        terminated = isinstance(stop, _Terminated) or isinstance(stop.__context__, _Terminated)
        if terminated:
            signum = signal.SIGTERM
        else:
            signum = getattr(stop, "signum", signal.SIGINT)  # a notebook run says which signal stopped it
        what = "terminated (SIGTERM)" if signum == signal.SIGTERM else "interrupted"
        done = getattr(stop, "epochs_completed", None)  # a training run (TrainingInterrupted) says what it kept
        if done is None:
            print(f"error: {what}", file=sys.stderr)
        elif done == 0:
            print(f"error: {what} before the first epoch ended; nothing trained was saved in {stop.output_dir}", file=sys.stderr)
        else:
            print(f"error: {what} after {done} epoch{'s' if done != 1 else ''}; saved to {stop.output_dir}", file=sys.stderr)
        return 128 + int(signum)
    except (ValueError, OSError, RuntimeError, ImportError) as error:  # ImportError: TensorFlow (or nbclient) missing
        print(f"error: {_one_line(error)}", file=sys.stderr)
        return FAILURE
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
