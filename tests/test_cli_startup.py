"""An instant, consistent command line: ``--help`` and usage errors never import TensorFlow.

The fresh-process tests run the real ``python -m workshop`` (and a copy of the
``workshop`` console script that pip writes) with a ``sitecustomize`` module on
the path that, at exit, writes the names in ``sys.modules`` to a file; they
assert that TensorFlow and Keras are not among them: a property a loaded machine
cannot break, unlike a wall-clock budget. (``-X importtime`` would not do:
TensorFlow is imported with stderr pointed at /dev/null, so its lines vanish.)
"""

import os
import subprocess
import sys

import pytest
from helpers import REPO

from workshop.instructor import cli

HELP = [
    [],
    ["train"],
    ["evaluate"],
    ["export"],
    ["likelihood"],
    ["notebooks"],
    ["notebooks", "build"],
    ["notebooks", "check"],
    ["notebooks", "run"],
    ["notebooks", "grade"],
    ["site"],
    ["site", "build"],
    ["site", "serve"],
]
USAGE_ERRORS = [
    ["frobnicate"],
    [],
    ["train", "--latent-dim", "0"],
    ["export", "run-folder-only"],
    ["likelihood"],
    ["notebooks", "grade", "x.ipynb"],
    ["site"],
    ["site", "serve", "--port", "99999"],
]
HEAVY = ("tensorflow", "keras", "nbformat", "nbclient", "sphinx")


SITECUSTOMIZE = """
import atexit, os, sys

def _write_modules(path=os.environ["WORKSHOP_MODULES_FILE"]):
    with open(path, "w") as handle:
        handle.write("\\n".join(sorted(sys.modules)))

atexit.register(_write_modules)
"""


def _run_traced(command, tmp_path):
    """Run ``command`` (a list, the interpreter added); return (status, stderr lines, top-level names of the modules it imported)."""
    hook = tmp_path / "hook"
    hook.mkdir(exist_ok=True)
    (hook / "sitecustomize.py").write_text(SITECUSTOMIZE)
    modules = tmp_path / "modules.txt"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(hook), str(REPO)]), "WORKSHOP_MODULES_FILE": str(modules)}
    result = subprocess.run([sys.executable, *command], capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path)
    imported = {name.split(".")[0] for name in modules.read_text().split()}
    return result.returncode, result.stderr.splitlines(), imported


def _heavy(imported):
    return sorted(set(HEAVY) & imported)


@pytest.mark.parametrize("words", HELP, ids=lambda w: " ".join(w) or "main")
def test_help_of_every_command_imports_no_tensorflow(words, tmp_path):
    code, lines, imported = _run_traced(["-m", "workshop", *words, "--help"], tmp_path)
    assert code == 0, lines
    assert {"workshop", "argparse"} <= imported  # the hook did see the command line
    assert not _heavy(imported), f"`python -m workshop {' '.join(words)} --help` imported {_heavy(imported)}"


@pytest.mark.parametrize("argv", USAGE_ERRORS, ids=lambda a: " ".join(a) or "no command")
def test_usage_errors_are_one_line_status_2_and_import_no_tensorflow(argv, tmp_path):
    code, lines, imported = _run_traced(["-m", "workshop", *argv], tmp_path)
    assert code == 2
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    assert not _heavy(imported), _heavy(imported)


def test_the_console_script_is_instant_too(tmp_path):
    # What pip writes for `[project.scripts] workshop = "workshop.instructor.cli:main"`.
    script = tmp_path / "bin" / "workshop"
    script.parent.mkdir()
    script.write_text(
        "import re\nimport sys\nfrom workshop.instructor.cli import main\nif __name__ == '__main__':\n"
        "    sys.argv[0] = re.sub(r'(-script\\.pyw|\\.exe)?$', '', sys.argv[0])\n    sys.exit(main())\n"
    )
    code, lines, imported = _run_traced([str(script), "train", "--help"], tmp_path)
    assert code == 0, lines
    assert not _heavy(imported), _heavy(imported)


def test_a_deferred_import_still_gives_every_name_and_registers_the_keras_classes():
    # `python -m workshop` defers TensorFlow; the package's names still work, and load on first use.
    code = (
        "import sys\n"
        "sys.argv[0] = '-m'  # what `python -m` sets while it imports the package\n"
        "import workshop\n"
        "assert 'tensorflow' not in sys.modules, 'TensorFlow imported by a deferred import'\n"
        "assert 'VAE' in dir(workshop)\n"
        "model_class = workshop.VAE\n"
        "import keras\n"
        "assert keras.saving.get_registered_object('workshop>VAE') is model_class\n"
        "assert keras.saving.get_registered_object('workshop>Sampling') is workshop.Sampling\n"
        "import os\n"
        "print('ok', 'xla_cpu_experimental_ynn_fusion_type' in os.environ.get('XLA_FLAGS', ''))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=REPO)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split()[0] == "ok"


def test_a_plain_import_still_registers_the_keras_classes_at_once():
    code = "import sys, workshop\nimport keras\nprint('tensorflow' in sys.modules, keras.saving.get_registered_object('workshop>VAE') is not None)\n"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=REPO)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == ["True", "True"]


@pytest.mark.parametrize(
    "argv",
    [["-m"], ["/usr/local/bin/workshop"], ["C:\\venv\\Scripts\\workshop.exe".replace("\\", "/")]],
)
def test_only_the_command_line_defers(argv):
    import workshop

    assert workshop._started_as_command(argv)
    for other in ([""], ["-c"], ["/opt/conda/lib/python3.11/site-packages/ipykernel_launcher.py"], ["/venv/bin/pytest"], []):
        assert not workshop._started_as_command(other), other


# ----------------------------------------------------------- one name per idea
def _parse(argv):
    return cli.build_parser().parse_args(argv)


def test_output_and_timeout_are_the_names_and_the_old_spellings_still_work():
    args = _parse(["notebooks", "grade", "a.ipynb", "--output", "o", "--timeout", "7"])
    assert (args.output, args.timeout) == ("o", 7)
    args = _parse(["notebooks", "grade", "a.ipynb", "--out", "o", "--cell-timeout", "7"])
    assert (args.output, args.timeout) == ("o", 7)
    assert _parse(["notebooks", "grade", "a.ipynb", "--output", "o"]).timeout == cli.GRADE_TIMEOUT
    assert _parse(["site", "build", "--out", "x"]).output == "x"
    assert _parse(["site", "build", "--output", "x"]).output == "x"
    for command in (["notebooks", "grade", "--help"], ["site", "build", "--help"]):
        text = _help(command)
        assert "--output" in text and "--out " not in text and "--out\n" not in text and "--cell-timeout" not in text


def test_the_defaults_shown_by_help_are_the_modules_own():
    import inspect

    from workshop.instructor import authoring, config, distribute, grading, site

    assert cli.GRADE_TIMEOUT == grading.DEFAULT_CELL_TIMEOUT
    assert cli.SITE_PORT == site.DEFAULT_PORT
    assert cli.RUN_TIMEOUT == inspect.signature(authoring.run).parameters["timeout"].default
    assert config.DEFAULT_WORKER_TIMEOUT == distribute.DEFAULT_WORKER_TIMEOUT
    assert _parse(["train"]).worker_timeout == config.DEFAULT_WORKER_TIMEOUT


def _help(words, capsys=None):
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert cli.main([*words]) == 0
    return out.getvalue()


@pytest.mark.parametrize("words", HELP, ids=lambda w: " ".join(w) or "main")
def test_every_help_documents_the_exit_statuses(words):
    text = _help([*words, "--help"])
    assert "exit status:" in text
    for status in ("  0    success", "  1    ", "  2    a usage mistake", "130"):
        assert status in text, (words, status)


def test_the_command_line_reference_names_every_command_and_option():
    reference = (REPO / "docs" / "command-line.md").read_text(encoding="utf-8")
    for words in HELP:
        if words:
            assert f"python -m workshop {' '.join(words)}" in reference, words
    parser = cli.build_parser()
    for action in _all_options(parser):
        assert action in reference, action
    assert "exit status" in reference.lower()


def _all_options(parser):
    import argparse

    found = set()
    for action in parser._actions:
        if action.help != argparse.SUPPRESS:
            names = action.option_strings[:1] if isinstance(action, argparse.BooleanOptionalAction) else action.option_strings
            found.update(o for o in names if o.startswith("--") and o != "--help")
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                found |= _all_options(sub)
    return found
