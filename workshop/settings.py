"""Run-wide switches shared by the notebooks, the CLI and the tests.

Fast mode cuts epochs and data so that every notebook executes in CI in seconds,
while running exactly the same code path as a full run. It is on when the
environment variable ``WORKSHOP_FAST`` is set to anything but ``0``/``false``, or
when ``CI`` is set (as it is on GitHub Actions and in this project's CI).
"""

import os
import random
import re
import sys

_FALSE = {"", "0", "false", "no", "off"}


def env_flag(name, default=False):
    """True when the environment variable ``name`` is set to anything but ``""``, ``0``, ``false``, ``no`` or ``off``.

    ``default`` when it is not set. The one reading of on/off switches used for
    ``WORKSHOP_FAST``, ``CI`` and ``WORKSHOP_STRICT_CHECKS``.
    """
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() not in _FALSE


def fast_mode():
    """Return True when notebooks and scripts should run their cut-down version.

    ``WORKSHOP_FAST`` wins when it is set (``WORKSHOP_FAST=0`` forces a full
    run even in CI); otherwise fast mode follows ``CI``.
    """
    return env_flag("WORKSHOP_FAST", default=env_flag("CI"))


def quiet_tensorflow():
    """Silence TensorFlow's start-up chatter, import it, then set the XLA flag of :func:`avoid_ynn_fusions`.

    ``TF_CPP_MIN_LOG_LEVEL=3`` does not cover the lines that TensorFlow's C++
    libraries print while they load (``cudart_stub ... Could not find cuda
    drivers``), so the first import runs with the process's stderr pointed at
    ``/dev/null``. Python-level errors are unaffected: an import that fails still
    raises, after stderr is restored. Set ``WORKSHOP_TF_STDERR=1`` to see them.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    if sys.modules.get("tensorflow") is None:
        _import_quietly()
    avoid_ynn_fusions(sys.modules["tensorflow"].__version__)


def _import_quietly():
    if os.environ.get("WORKSHOP_TF_STDERR") == "1":
        _import_tensorflow()
        return
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no real file descriptor 2 (some embedded consoles)
        _import_tensorflow()
        return
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            try:
                _import_tensorflow()
            finally:
                os.dup2(saved, 2)
    finally:
        os.close(saved)


YNN_FLAG = "xla_cpu_experimental_ynn_fusion_type"
# TensorFlow releases (major, minor) checked to know the flag and to crash without it. XLA aborts the
# process on a flag it does not know, so other releases are left alone: check again when the pin moves.
YNN_FLAG_RELEASES = ((2, 21),)


def avoid_ynn_fusions(tensorflow_version):
    """Keep XLA:CPU from handing reductions to YNNPACK: ``--xla_cpu_experimental_ynn_fusion_type=`` in ``XLA_FLAGS``.

    TensorFlow 2.21's XLA:CPU compiles some sums of the training step (the
    per-image reconstruction sum) into "YNN fusions", whose YNNPACK executables
    it rebuilds at every call of the compiled step, appending to state that
    nothing guards. When two threads build them at once the process can die with
    a segmentation fault: caught under gdb in ``xla::cpu::EmitYnnSubgraph`` while
    a second thread was building too, and a CI run of the test suite died with a
    segmentation fault inside ``fit``. With the flag, XLA compiles those sums itself.

    Called by ``import workshop`` right after TensorFlow is imported. XLA reads its
    flags once, at its first compilation, so this has no effect on a process that
    has already compiled with XLA. An ``XLA_FLAGS`` that already sets the flag is
    kept, and TensorFlow releases outside ``YNN_FLAG_RELEASES`` are left alone.

    Returns:
        True if the flag is in ``XLA_FLAGS`` afterwards because of this call or the user's.
    """
    release = tuple(int(part) for part in re.findall(r"\d+", str(tensorflow_version))[:2])
    flags = os.environ.get("XLA_FLAGS", "")
    if any(token.lstrip("-").startswith(YNN_FLAG) for token in flags.split()):
        return True
    if release not in YNN_FLAG_RELEASES:
        return False
    os.environ["XLA_FLAGS"] = f"{flags} --{YNN_FLAG}=".strip()
    return True


TENSORFLOW_MISSING = (
    "The workshop package needs TensorFlow (Keras 3's backend in this course), and it is not installed. "
    "From the repository root: pip install -r requirements.txt (the pinned CPU stack); "
    "or pip install tensorflow (or tensorflow-cpu: one of the two, not both)."
)


def _import_tensorflow():
    """Import TensorFlow; if it is missing, say how to install it (it is not a hard dependency, see pyproject.toml)."""
    try:
        import tensorflow  # noqa: F401
    except ModuleNotFoundError as error:
        if error.name != "tensorflow":
            raise
        raise ModuleNotFoundError(TENSORFLOW_MISSING, name="tensorflow") from None


def seed_everything(seed=0):
    """Seed Python, NumPy and Keras (hence TensorFlow) from one integer.

    Call it once at the top of a notebook or script: the same seed then gives
    the same numbers in a fresh process.

    Args:
        seed: a non-negative integer.

    Returns:
        A ``numpy.random.Generator`` seeded with ``seed``, for NumPy-side draws.
    """
    import numpy as np  # here, not at the top: `python -m workshop --help` imports this module and needs no NumPy

    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"Expected a non-negative integer seed. Received: seed={seed!r}")
    quiet_tensorflow()
    import keras

    random.seed(int(seed))
    np.random.seed(int(seed))
    keras.utils.set_random_seed(int(seed))
    return np.random.default_rng(int(seed))
