"""VAE Workshop: variational autoencoders in Keras 3, from entropy and KL to MNIST.

Notebooks import what they need from here::

    from workshop import VAE, load_mnist, seed_everything

Importing the package registers the Keras classes (``VAE``, ``ConditionalVAE``,
``MixturePriorVAE``, ``Sampling``, ``BayesianDense``), so ``keras.models.load_model("model.keras")``
works after a plain
``import workshop`` in a new process. The submodules ``plots``, ``checks``,
``probability`` and ``evaluation`` load on first use.

One exception keeps the instructor's command line instant: when Python imports
this package only to start that command line (see :func:`_started_as_command`),
TensorFlow and the classes above are not imported here. They then load on first
use (``workshop.VAE`` still works, through the module ``__getattr__`` of PEP 562),
or when a command that needs them calls :func:`_import_library`.
"""

import importlib
import os
import sys

from workshop.settings import fast_mode, quiet_tensorflow, seed_everything

__version__ = "0.1.0"

# What `_import_library` imports, by name: the classes Keras must know and the data loader.
_LIBRARY = {
    "BayesianDense": "workshop.bayesian",
    "load_mnist": "workshop.data",
    "Sampling": "workshop.layers",
    "MixturePrior": "workshop.mixture",
    "MixturePriorVAE": "workshop.mixture",
    "VAE": "workshop.models",
    "ConditionalVAE": "workshop.models",
    "build_decoder": "workshop.models",
    "build_encoder": "workshop.models",
}

_LAZY = {
    "plots": "workshop.plots",
    "checks": "workshop.checks",
    "probability": "workshop.probability",
    "evaluation": "workshop.evaluation",
    "autoencoders": "workshop.autoencoders",
    "pretrained": "workshop.pretrained",
    "clustering": "workshop.clustering",
    "bayesian": "workshop.bayesian",
}

__all__ = [
    "VAE",
    "ConditionalVAE",
    "MixturePrior",
    "MixturePriorVAE",
    "Sampling",
    "BayesianDense",
    "build_encoder",
    "build_decoder",
    "load_mnist",
    "seed_everything",
    "fast_mode",
    "__version__",
    *_LAZY,
]

# The names of the command line's launcher scripts: `[project.scripts]` in pyproject.toml
# (pip writes `workshop`, and `workshop.exe` or `workshop-script.py` on Windows).
COMMAND_SCRIPTS = ("workshop", "workshop.exe", "workshop-script.py")


def _started_as_command(argv=None):
    """True while Python imports this package only to start the instructor's command line.

    Two cases, both read from ``sys.argv[0]`` at import time:

    - ``python -m workshop ...``: while ``-m`` looks for the module to run (it
      imports the package first to find ``workshop/__main__.py``), ``sys.argv[0]``
      is the string ``"-m"``; the Python documentation says so for the ``-m``
      option ("while the module file is being located, the first element will be
      set to ``"-m"``"). Any ``python -m workshop.<module>`` counts too: each
      module of the package imports what it needs itself;
    - the ``workshop`` console script (``[project.scripts]``): ``sys.argv[0]`` is
      the script's path, whose name is one of :data:`COMMAND_SCRIPTS`.

    A notebook kernel, a test run or a user's script never matches either case, so
    ``import workshop`` there registers the Keras classes at once.
    """
    argv = sys.argv if argv is None else argv
    if not argv or not isinstance(argv[0], str):
        return False
    return argv[0] == "-m" or os.path.basename(argv[0]) in COMMAND_SCRIPTS


def _import_library():
    """Import TensorFlow quietly, then the classes Keras must know (idempotent); return nothing."""
    quiet_tensorflow()
    for name, module in _LIBRARY.items():
        globals()[name] = getattr(importlib.import_module(module), name)


if not _started_as_command():
    _import_library()


def __getattr__(name):
    if name in _LIBRARY:  # only reached when the import above was deferred
        _import_library()
        return globals()[name]
    if name in _LAZY:
        module = importlib.import_module(_LAZY[name])
        value = module if _LAZY[name].endswith("." + name) else getattr(module, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'workshop' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY) | set(_LIBRARY))
