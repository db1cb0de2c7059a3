"""The instructor's notebook tool: one module per job.

- :mod:`workshop.instructor.authoring.markers`: find ``### BEGIN/END SOLUTION`` regions and turn a
  solution notebook into its student version (:func:`strip_solutions`);
- :mod:`workshop.instructor.authoring.files`: where the notebooks live, reading and writing them;
- :mod:`workshop.instructor.authoring.build`: write ``notebooks/`` from ``solutions/`` (:func:`build`);
- :mod:`workshop.instructor.authoring.check`: list what is out of sync or leaked (:func:`check`);
- :mod:`workshop.instructor.authoring.execute`: execute solution notebooks in place (:func:`run`).

The command line is ``python -m workshop notebooks build|check|run`` (:mod:`workshop.instructor.cli`).
Its dependencies (nbformat, nbclient, ipykernel) are the ``authoring`` extra of the package.
"""

from workshop.instructor.authoring.build import build
from workshop.instructor.authoring.check import check
from workshop.instructor.authoring.execute import NotebookRunError, collapse_progress_output, render_terminal, run
from workshop.instructor.authoring.files import NotebookFileError
from workshop.instructor.authoring.markers import MARKDOWN_STUB, NotebookBuildError, strip_solutions

__all__ = [
    "MARKDOWN_STUB",
    "NotebookBuildError",
    "NotebookFileError",
    "NotebookRunError",
    "build",
    "check",
    "collapse_progress_output",
    "render_terminal",
    "run",
    "strip_solutions",
]
