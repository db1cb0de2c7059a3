"""Installing the package: exactly one TensorFlow distribution, and a clear message without one.

TensorFlow ships as several distributions (``tensorflow``, ``tensorflow-cpu``, ...)
that all install the same ``tensorflow`` module. When ``pyproject.toml`` listed
``tensorflow`` while ``requirements.txt`` pinned ``tensorflow-cpu``, ``pip install -r
requirements.txt`` installed both, the second overwriting the first's files.
"""

import importlib.metadata
import os
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent
TENSORFLOW_DISTRIBUTIONS = {"tensorflow", "tensorflow-cpu", "tensorflow-intel", "tensorflow-macos", "tf-nightly", "tf-nightly-cpu"}
PLATFORMS = {
    "linux x86_64": {"sys_platform": "linux", "platform_machine": "x86_64"},
    "linux aarch64": {"sys_platform": "linux", "platform_machine": "aarch64"},
    "macOS arm64": {"sys_platform": "darwin", "platform_machine": "arm64"},
    "Windows": {"sys_platform": "win32", "platform_machine": "AMD64"},
}


def _name(requirement):
    return requirement.name.lower().replace("_", "-")


def _requirements_file():
    lines = (ROOT / "requirements.txt").read_text().splitlines()
    return [Requirement(line.split(" #")[0].strip()) for line in lines if line.strip() and not line.lstrip().startswith(("#", "-"))]


def test_the_package_leaves_the_choice_of_tensorflow_distribution_to_the_installer():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    hard = [Requirement(text) for text in project["dependencies"]]
    assert not [str(r) for r in hard if _name(r) in TENSORFLOW_DISTRIBUTIONS]
    assert "keras" in {_name(r) for r in hard}
    assert [_name(Requirement(text)) for text in project["optional-dependencies"]["tensorflow"]] == ["tensorflow"]


def test_requirements_pin_exactly_one_tensorflow_distribution_on_every_platform():
    tensorflow = [r for r in _requirements_file() if _name(r) in TENSORFLOW_DISTRIBUTIONS]
    for platform, markers in PLATFORMS.items():
        environment = {**default_environment(), **markers}
        chosen = [str(r) for r in tensorflow if r.marker is None or r.marker.evaluate(environment)]
        assert len(chosen) == 1, (platform, chosen)
        assert str(Requirement(chosen[0]).specifier).startswith("=="), chosen  # pinned


def test_this_environment_has_one_tensorflow_distribution():
    installed = set()
    for dist in importlib.metadata.distributions():
        name = (dist.metadata["Name"] or "").lower().replace("_", "-")
        if name in TENSORFLOW_DISTRIBUTIONS:
            installed.add(name)
    assert len(installed) == 1, f"expected one TensorFlow distribution, found {sorted(installed)}"


def test_import_without_tensorflow_says_how_to_install_it():
    code = "import sys\nsys.modules['tensorflow'] = None  # as if it were not installed\nimport workshop\n"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for stderr_shown in ("0", "1"):
        result = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, env={**env, "WORKSHOP_TF_STDERR": stderr_shown}, timeout=120
        )
        assert result.returncode == 1
        last = result.stderr.strip().splitlines()[-1]
        assert last.startswith("ModuleNotFoundError: The workshop package needs TensorFlow"), last
        assert "pip install -r requirements.txt" in last
