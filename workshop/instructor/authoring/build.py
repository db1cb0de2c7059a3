"""Build the student notebooks: ``notebooks/NN.ipynb`` from ``solutions/NN.ipynb``, all or nothing."""

from workshop.instructor.authoring.files import dumps, folders, read, solution_files
from workshop.instructor.authoring.markers import strip_solutions
from workshop.instructor.delivery import deliver
from workshop.instructor.files import write_text_atomic


def build_in_memory(solutions_dir):
    """{file name: student JSON text} for every solution notebook, or raise."""
    return {path.name: dumps(deliver(strip_solutions(read(path), filename=str(path)), path.name)) for path in solution_files(solutions_dir)}


def build(solutions_dir=None, notebooks_dir=None):
    """Write every student notebook from its solution notebook, all or nothing.

    Every notebook is built in memory first, so a marker error anywhere leaves
    ``notebooks_dir`` untouched; then each file is written through a temporary
    file and ``os.replace``. Rebuilding gives byte-identical files.

    Args:
        solutions_dir: folder of solution notebooks (default: ``<repo>/solutions``).
        notebooks_dir: folder for student notebooks (default: ``<repo>/notebooks``).

    Returns:
        The list of written paths, sorted.

    Raises:
        NotebookBuildError: a malformed marker, naming file and cell.
    """
    solutions, notebooks = folders(solutions_dir, notebooks_dir)
    built = build_in_memory(solutions)
    notebooks.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in built.items():
        target = notebooks / name
        if not target.exists() or target.read_text(encoding="utf-8") != text:
            write_text_atomic(target, text)
        written.append(target)
    from workshop.instructor import nbci

    nbci.sync_scripts(solutions)
    return written
