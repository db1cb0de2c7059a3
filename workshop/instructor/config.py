"""Every training default in one place: :class:`TrainingConfig`.

``python -m workshop train`` builds its options from this dataclass (the
``--help`` defaults are its field defaults), :func:`workshop.instructor.training.train_and_evaluate`
takes one, the pretrained export reads the one a run recorded, and a run's
``config.json`` stores it (``TrainingConfig.to_dict()``) next to its status.

On the latent size: :class:`workshop.VAE` and this configuration both default
to ``latent_dim=20``, the reference model of the course (the best test
likelihood of the two shipped models). The notebooks that draw the 2-d latent
space ask for ``latent_dim=2`` explicitly.

This module imports neither TensorFlow nor Keras.
"""

import dataclasses
import math
from dataclasses import dataclass

from workshop.constants import BINARIZE_CHOICES, BINARIZE_SEED
from workshop.instructor.presets import PRESETS

ARCHITECTURES = ("mlp", "conv")
LIKELIHOODS = ("bernoulli", "gaussian")
DEFAULT_LATENT_DIM = 20
DEFAULT_HIDDEN_UNITS = (512, 256)
# Five epochs of the default 784-512-256-20 MLP on the full 60,000 images take
# about a minute on a 2-core laptop CPU, start-up and evaluation included.
DEFAULT_EPOCHS = 5
_POSITIVE = ("latent_dim", "epochs", "batch_size", "eval_images", "eval_samples")


# constant: the learning rate throughout; cosine: from it down to 0 along a half cosine over all steps.
LR_SCHEDULES = ("constant", "cosine")
# none: one device; mirrored: tf.distribute.MirroredStrategy over local devices; multiworker: MultiWorkerMirroredStrategy (TF_CONFIG).
STRATEGIES = ("none", "mirrored", "multiworker")
# Seconds a multi-worker run waits for every worker of TF_CONFIG to join before it gives up.
DEFAULT_WORKER_TIMEOUT = 300.0


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


@dataclass(frozen=True)
class TrainingConfig:
    """The settings of one training run, with the course's defaults.

    Model: ``architecture``, ``latent_dim``, ``hidden_units``, ``likelihood``,
    ``sigma`` (std of the Gaussian likelihood), ``beta`` (weight of the KL term), ``kl_warmup_epochs`` (KL weight
    from 0 to ``beta`` over that many epochs), ``free_bits`` (a floor in nats on each latent
    dimension's KL),
    ``conditional`` (a :class:`workshop.ConditionalVAE` that sees the label).
    Training: ``epochs``, ``batch_size``, ``learning_rate`` (Adam), ``lr_schedule``
    (``"constant"``, or ``"cosine"``: decayed to 0 over all the steps), ``seed``
    (weights, shuffling and sampling), ``jit`` (XLA). Data: ``data`` (an MNIST
    ``.npz``; None: ``$MNIST_PATH``, Keras, the shipped sample), ``binarize``
    (one of ``"none"``, ``"threshold"``, ``"random"``), ``binarize_seed`` (of the
    fixed stochastic binarization), ``dynamic_binarization`` (fresh binary pixels
    at every step), ``num_train`` (first N images only). Evaluation:
    ``eval_images`` test images, ``eval_samples`` importance samples. Devices:
    ``strategy`` (``"none"``, ``"mirrored"`` or ``"multiworker"``, see
    :mod:`workshop.instructor.distribute`; ``batch_size`` is then the global batch, split
    over the replicas), ``cpu_devices`` (split the CPU into that many logical
    devices first) and ``worker_timeout`` (seconds a multi-worker run waits for
    every worker to join before it gives up).

    Every field is checked when the object is made: a wrong value is a
    ``ValueError`` naming the field.
    """

    architecture: str = "mlp"
    latent_dim: int = DEFAULT_LATENT_DIM
    hidden_units: tuple = DEFAULT_HIDDEN_UNITS
    likelihood: str = "bernoulli"
    sigma: float = 0.1
    beta: float = 1.0
    kl_warmup_epochs: int = 0
    free_bits: float = 0.0
    conditional: bool = False
    epochs: int = DEFAULT_EPOCHS
    batch_size: int = 128
    learning_rate: float = 1e-3
    lr_schedule: str = "constant"
    seed: int = 0
    jit: bool = True
    data: str | None = None
    binarize: str = "random"
    binarize_seed: int = BINARIZE_SEED
    dynamic_binarization: bool = False
    num_train: int | None = None
    eval_images: int = 1000
    eval_samples: int = 50
    preset: str | None = None
    strategy: str = "none"
    cpu_devices: int | None = None
    worker_timeout: float = DEFAULT_WORKER_TIMEOUT

    def __post_init__(self):
        def fail(name, expected):
            raise ValueError(f"Expected `{name}` to be {expected}. Received: {name}={getattr(self, name)!r}")

        if self.architecture not in ARCHITECTURES:
            fail("architecture", f"one of {ARCHITECTURES}")
        if self.likelihood not in LIKELIHOODS:
            fail("likelihood", f"one of {LIKELIHOODS}")
        if self.lr_schedule not in LR_SCHEDULES:
            fail("lr_schedule", f"one of {LR_SCHEDULES}")
        if self.binarize not in BINARIZE_CHOICES:
            fail("binarize", f"one of {BINARIZE_CHOICES}")
        for name in _POSITIVE:
            if not _is_int(getattr(self, name)) or getattr(self, name) < 1:
                fail(name, "an integer >= 1")
        for name in ("seed", "binarize_seed", "kl_warmup_epochs"):
            if not _is_int(getattr(self, name)) or getattr(self, name) < 0:
                fail(name, "an integer >= 0")
        if self.num_train is not None and (not _is_int(self.num_train) or self.num_train < 1):
            fail("num_train", "an integer >= 1 or None")
        if self.strategy not in STRATEGIES:
            fail("strategy", f"one of {STRATEGIES}")
        if self.cpu_devices is not None and (not _is_int(self.cpu_devices) or self.cpu_devices < 1):
            fail("cpu_devices", "an integer >= 1 or None")
        try:
            units = tuple(self.hidden_units)
        except TypeError:
            units = ()
        if not units or not all(_is_int(u) and u >= 1 for u in units):
            fail("hidden_units", "a non-empty sequence of integers >= 1")
        object.__setattr__(self, "hidden_units", units)
        for name, strict in (("sigma", True), ("learning_rate", True), ("beta", False), ("free_bits", False), ("worker_timeout", True)):
            value = getattr(self, name)
            if not _is_number(value) or value < 0 or (strict and value == 0):
                fail(name, "a finite number " + ("> 0" if strict else ">= 0"))
        for name in ("conditional", "jit", "dynamic_binarization"):
            if not isinstance(getattr(self, name), bool):
                fail(name, "True or False")
        if self.preset is not None:
            if self.preset not in PRESETS:
                fail("preset", f"None or one of {tuple(sorted(PRESETS))}")
        if self.data is not None and not isinstance(self.data, str):
            object.__setattr__(self, "data", str(self.data))

    # ---------------------------------------------------------------- views
    def model_kwargs(self):
        """The keyword arguments of :class:`workshop.VAE` (and :class:`workshop.ConditionalVAE`)."""
        return {
            "latent_dim": self.latent_dim,
            "architecture": self.architecture,
            "hidden_units": self.hidden_units,
            "likelihood": self.likelihood,
            "beta": self.beta,
            "sigma": self.sigma,
            "dynamic_binarization": self.dynamic_binarization,
            "kl_warmup_epochs": self.kl_warmup_epochs,
            "free_bits": self.free_bits,
            "seed": self.seed,
        }

    def to_dict(self):
        """A JSON-ready dict of every field (tuples become lists)."""
        return {f.name: (list(v) if isinstance(v, tuple) else v) for f in fields() for v in [getattr(self, f.name)]}

    @classmethod
    def from_dict(cls, values):
        """The inverse of :meth:`to_dict`; unknown keys are a ValueError naming them."""
        names = {f.name for f in fields()}
        unknown = sorted(set(values) - names)
        if unknown:
            raise ValueError(f"Expected TrainingConfig fields ({', '.join(sorted(names))}). Received unknown: {', '.join(unknown)}")
        return cls(**values)

    def replace(self, **changes):
        """A copy with ``changes`` applied (checked like a new object)."""
        return dataclasses.replace(self, **changes)

    def command_line(self):
        """``python -m workshop train ...`` with the options that differ from the defaults."""
        parts = ["python -m workshop train"]
        base = DEFAULTS
        if self.preset is not None:
            parts.append(f"--preset {self.preset}")
            base = preset_config(self.preset)
        for f in fields():
            value = getattr(self, f.name)
            if f.name in ("data", "preset") or value == getattr(base, f.name):
                continue
            flag = "--" + f.name.replace("_", "-")
            if isinstance(value, bool):
                parts.append(flag if value else f"--no-{f.name.replace('_', '-')}")
            elif isinstance(value, tuple):
                parts.append(f"{flag} {','.join(str(v) for v in value)}")
            else:
                parts.append(f"{flag} {value}")
        return " ".join(parts)


def preset_config(name):
    """The :class:`~workshop.instructor.config.TrainingConfig` of preset ``name`` (a ValueError naming the presets otherwise)."""
    if name not in PRESETS:
        raise ValueError(f"Expected `preset` to be one of {tuple(sorted(PRESETS))}. Received: preset={name!r}")
    return TrainingConfig(preset=name, **PRESETS[name]["arguments"])


def fields():
    """The dataclass fields of :class:`TrainingConfig` that are settings (in declaration order)."""
    return [f for f in dataclasses.fields(TrainingConfig) if f.init]


DEFAULTS = TrainingConfig()
