"""Small shared test utilities (not tests)."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "workshop" / "data" / "mnist_sample.npz"


def sample_images(n=64, seed=0, binary=True):
    """The first n training images of the shipped sample, as (n, 28, 28, 1) float32."""
    with np.load(SAMPLE) as data:
        x = data["x_train"][:n].astype("float32")[..., None] / 255.0
    if binary:
        x = (np.random.default_rng(seed).random(x.shape) < x).astype("float32")
    return x


def run_python(code, timeout=300, env=None):
    """Run `code` in a fresh interpreter (the same venv) and return its stdout; fail with its stderr."""
    full_env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **(env or {})}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout, env=full_env, cwd=REPO
    )
    if result.returncode != 0:
        raise AssertionError(f"subprocess failed ({result.returncode}):\n{result.stderr[-3000:]}")
    return result.stdout


def _stub(*args, **kwargs):
    raise NotImplementedError("Exercise: replace this line with your code.")


def assert_checker_contract(check, reference, mistakes, perturb):
    """The contract every exercise checker keeps: the reference passes, the stub is 'not implemented',
    each listed mistake (at least two) gets its own hint, and an unlisted wrong answer is 'wrong'."""

    def run(fn):
        return check(fn, verbose=False, strict=False)

    assert run(reference).status == "passed"
    assert run(_stub).status == "not_implemented"
    assert len(mistakes) >= 2
    for hint, wrong_fn in mistakes:
        result = run(wrong_fn)
        assert result.status == "mistake", (hint, result.message)
        assert result.details["hint"] == hint
    result = run(lambda *args, **kwargs: perturb(reference(*args, **kwargs)))
    assert result.status == "wrong", result.message
