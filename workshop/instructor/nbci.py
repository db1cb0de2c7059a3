"""Harder notebook CI: kernelspec and metadata hygiene, and jupytext percent-format twins of the solutions.

Used by ``python -m workshop notebooks check`` (see :func:`problems`):

- every notebook (solution and student) must declare the ``python3`` kernel;
- no stray metadata: the notebook may carry only ``kernelspec`` and
  ``language_info``, a cell only ``tags`` (student notebooks carry no nbgrader
  metadata: see :mod:`workshop.instructor.delivery`). Editors add
  ``collapsed``, ``scrolled``, ``ExecuteTime``, ``vscode`` or ``colab`` keys
  that make diffs noisy and can leak an author's set-up;
- each ``solutions/NN_name.ipynb`` has a plain-text twin ``solutions/NN_name.py``
  in jupytext's percent format (code and Markdown, no outputs) that equals what
  the pinned jupytext writes for it, so a change to a solution can be reviewed as
  a text diff. :func:`sync_scripts` (re)writes them.

The twins are written one way (from the notebook, never read back) rather than
kept by jupytext's two-way pairing: the executed ``.ipynb`` with its outputs is
what nbval runs and students see, and a paired ``.py`` edited on its own would
rewrite it without outputs.
"""

import os
import tempfile
from pathlib import Path

import nbformat

__all__ = ["metadata_problems", "problems", "script_path", "script_problems", "script_text", "sync_scripts"]

KERNEL_NAME = "python3"
NOTEBOOK_KEYS = {"kernelspec", "language_info"}
CELL_KEYS = {"tags"}
STUDENT_CELL_KEYS = {"tags"}  # no nbgrader block: see workshop.instructor.delivery
SCRIPT_FORMAT = "py:percent"
HINT = "run `python -m workshop notebooks build`"


def metadata_problems(path, nb, student=False):
    """Problems with a notebook's kernelspec and metadata, one sentence each."""
    found = []
    spec = nb.metadata.get("kernelspec", {})
    if spec.get("name") != KERNEL_NAME or spec.get("language", "python") != "python":
        found.append(
            f"{path}: kernelspec must be {KERNEL_NAME!r} (Python). Received: name={spec.get('name')!r}, language={spec.get('language')!r}."
        )
    stray = sorted(set(nb.metadata) - NOTEBOOK_KEYS)
    if stray:
        found.append(f"{path}: stray notebook metadata {stray}; keep only {sorted(NOTEBOOK_KEYS)}.")
    allowed = STUDENT_CELL_KEYS if student else CELL_KEYS
    for index, cell in enumerate(nb.cells):
        extra = sorted(set(cell.get("metadata", {})) - allowed)
        if extra:
            found.append(
                f"{path}, cell {index + 1}: stray cell metadata {extra}; keep only {sorted(allowed)} "
                "(clear it in your editor, or delete the keys from the JSON)."
            )
    return found


def script_path(notebook_path):
    """The percent-format twin of a solution notebook: same folder, same name, ``.py``."""
    return Path(notebook_path).with_suffix(".py")


def script_text(nb):
    """What the pinned jupytext writes for ``nb`` in the percent format (no outputs)."""
    import jupytext

    text = jupytext.writes(nb, fmt=SCRIPT_FORMAT)
    return text if text.endswith("\n") else text + "\n"


def script_problems(solutions_dir):
    """Solution notebooks whose percent-format twin is missing or out of date."""
    found = []
    for path in sorted(Path(solutions_dir).glob("*.ipynb")):
        twin = script_path(path)
        expected = script_text(nbformat.read(str(path), as_version=4))
        if not twin.exists():
            found.append(f"{twin}: missing (the text twin of {path.name}); {HINT}.")
        elif twin.read_text(encoding="utf-8") != expected:
            found.append(f"{twin}: out of sync with {path.name}; {HINT}.")
    for twin in sorted(Path(solutions_dir).glob("*.py")):
        if not twin.with_suffix(".ipynb").exists():
            found.append(f"{twin}: has no notebook {twin.with_suffix('.ipynb').name}; delete it.")
    return found


def sync_scripts(solutions_dir):
    """(Re)write every percent-format twin from its notebook; return the paths written."""
    written = []
    for path in sorted(Path(solutions_dir).glob("*.ipynb")):
        twin = script_path(path)
        text = script_text(nbformat.read(str(path), as_version=4))
        if twin.exists() and twin.read_text(encoding="utf-8") == text:
            continue
        fd, tmp = tempfile.mkstemp(prefix=f".{twin.name}.", dir=twin.parent)
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, twin)
        written.append(twin)
    return written


def problems(solutions_dir, notebooks_dir, scripts=True):
    """Everything this module checks, for ``notebooks check``."""
    found = []
    for folder, student in ((Path(solutions_dir), False), (Path(notebooks_dir), True)):
        for path in sorted(folder.glob("*.ipynb")) if folder.is_dir() else []:
            try:
                nb = nbformat.read(str(path), as_version=4)
            except Exception as error:  # nbformat raises several unrelated types
                found.append(f"{path}: not a readable notebook ({error}).")
                continue
            found.extend(metadata_problems(path, nb, student=student))
    if scripts:
        found.extend(script_problems(solutions_dir))
    return found
