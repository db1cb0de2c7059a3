"""Repository-wide pytest setup: quiet, headless, fast notebooks; nbval tuning.

A plain ``pytest`` runs the unit tests in ``tests/`` and executes every solution
notebook in ``solutions/`` with nbval (see ``[tool.pytest.ini_options]`` in
``pyproject.toml``). The environment below is set before anything imports
TensorFlow, and nbval's kernels inherit it: notebooks run in fast mode unless
``WORKSHOP_FAST=0 pytest`` asks for the full run, and a failed exercise check in
a solution notebook raises instead of printing a quiet message.
"""

import os
from pathlib import Path

os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("WORKSHOP_FAST", "1")
os.environ.setdefault("WORKSHOP_STRICT_CHECKS", "1")

_ROOT = Path(__file__).resolve().parent

# Student notebooks raise NotImplementedError by design: never collect them,
# not even with `pytest .`.
collect_ignore = ["notebooks", "build", "dist"]

# Output types that change from run to run or machine to machine and are never
# compared: TensorFlow and Keras write warnings to stderr, figures are images,
# rich reprs are HTML/JavaScript.
_SKIP_COMPARE = ("stderr", "text/html", "image/png", "image/svg+xml", "application/javascript")


def pytest_configure(config):
    """Resolve a relative ``--nbval-sanitize-with`` against the repository root."""
    sanitize = getattr(config.option, "nbval_sanitize_with", None)
    if sanitize and not os.path.isabs(sanitize) and not os.path.exists(sanitize):
        candidate = _ROOT / sanitize
        if candidate.exists():
            config.option.nbval_sanitize_with = str(candidate)


def pytest_collectstart(collector):
    """Tell nbval's notebook collector which outputs to leave out of comparisons."""
    path = getattr(collector, "path", None)
    if path is not None and path.suffix == ".ipynb" and hasattr(collector, "skip_compare"):
        collector.skip_compare = tuple(collector.skip_compare) + _SKIP_COMPARE
