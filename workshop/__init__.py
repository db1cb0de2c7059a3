"""VAE Workshop: variational autoencoders in Keras 3, from entropy and KL to MNIST.

Notebooks import what they need from here::

    from workshop import VAE, load_mnist, seed_everything

Importing the package registers the Keras classes (``VAE``, ``ConditionalVAE``,
``MixturePriorVAE``, ``Sampling``, ``BayesianDense``), so ``keras.models.load_model("model.keras")``
works after a plain
``import workshop`` in a new process. The submodules ``plots``, ``checks``,
``probability`` and ``evaluation`` load on first use.
"""

import importlib

from workshop.settings import fast_mode, quiet_tensorflow, seed_everything

quiet_tensorflow()

from workshop.bayesian import BayesianDense  # noqa: E402
from workshop.data import load_mnist  # noqa: E402
from workshop.layers import Sampling  # noqa: E402
from workshop.mixture import MixturePrior, MixturePriorVAE  # noqa: E402
from workshop.models import VAE, ConditionalVAE, build_decoder, build_encoder  # noqa: E402

__version__ = "0.1.0"

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


def __getattr__(name):
    if name in _LAZY:
        module = importlib.import_module(_LAZY[name])
        value = module if _LAZY[name].endswith("." + name) else getattr(module, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'workshop' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
