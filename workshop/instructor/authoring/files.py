"""Where the notebooks live, and reading and writing them as stable JSON text."""

from pathlib import Path

import nbformat

from workshop.instructor.files import write_text_atomic


class NotebookFileError(ValueError):
    """A notebook file or folder that cannot be read."""


def repo_root():
    """The parent of the package when it holds solutions/, else the current directory."""
    candidate = Path(__file__).resolve().parent.parent.parent
    if (candidate / "solutions").is_dir():
        return candidate
    return Path.cwd()


def folders(solutions_dir=None, notebooks_dir=None):
    """(solutions, notebooks) folders, defaulting to ``<repo>/solutions`` and ``<repo>/notebooks``."""
    root = repo_root()
    solutions = Path(solutions_dir) if solutions_dir is not None else root / "solutions"
    notebooks = Path(notebooks_dir) if notebooks_dir is not None else root / "notebooks"
    return solutions, notebooks


def solution_files(solutions_dir):
    """The ``*.ipynb`` files of ``solutions_dir``, sorted; NotebookFileError when it is not a folder."""
    solutions_dir = Path(solutions_dir)
    if not solutions_dir.is_dir():
        raise NotebookFileError(f"Expected a folder of solution notebooks. Received: {solutions_dir} does not exist.")
    return sorted(p for p in solutions_dir.glob("*.ipynb") if p.is_file())


def dumps(nb):
    """Stable JSON text for a notebook (nbformat's layout, sorted keys, trailing newline)."""
    text = nbformat.writes(nb, version=4)
    return text if text.endswith("\n") else text + "\n"


def read(path):
    """Read a notebook (version 4); NotebookFileError naming the file when it cannot be read."""
    try:
        return nbformat.read(str(path), as_version=4)
    except Exception as error:  # nbformat raises several unrelated types
        raise NotebookFileError(f"{path}: not a readable notebook ({error}).") from None


def write(path, nb):
    """Write a notebook atomically, world-readable (0644)."""
    write_text_atomic(path, dumps(nb))
