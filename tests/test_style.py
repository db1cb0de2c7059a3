"""The code is formatted and lint-clean: ``ruff format --check`` and ``ruff check`` (settings in pyproject.toml)."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _ruff():
    """The ruff command: the executable next to this Python, else on PATH, else ``python -m ruff``."""
    beside = Path(sys.executable).with_name("ruff")
    if beside.is_file():
        return [str(beside)]
    if shutil.which("ruff"):
        return ["ruff"]
    try:
        import ruff  # noqa: F401
    except ImportError:
        pytest.fail("ruff is not installed: pip install -r requirements.txt (it pins ruff)")
    return [sys.executable, "-m", "ruff"]


@pytest.mark.parametrize("command", [["format", "--check", "--diff"], ["check", "--output-format", "concise"]], ids=["format", "lint"])
def test_ruff_passes(command):
    result = subprocess.run([*_ruff(), *command, "."], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"ruff {' '.join(command)} found problems:\n{result.stdout[-6000:]}{result.stderr[-2000:]}"
