"""The instructor's notebook tool: one module per job.

- :mod:`workshop.authoring.markers`: find ``### BEGIN/END SOLUTION`` regions and turn a
  solution notebook into its student version (:func:`strip_solutions`);
- :mod:`workshop.authoring.files`: where the notebooks live, reading and writing them;
- :mod:`workshop.authoring.build`: write ``notebooks/`` from ``solutions/`` (:func:`build`);
- :mod:`workshop.authoring.check`: list what is out of sync or leaked (:func:`check`);
- :mod:`workshop.authoring.execute`: execute solution notebooks in place (:func:`run`).

The command line is ``python -m workshop notebooks build|check|run`` (:mod:`workshop.cli`).
Its dependencies (nbformat, nbclient, ipykernel) are the ``authoring`` extra of the package.
"""

from workshop.authoring.build import build
from workshop.authoring.check import check
from workshop.authoring.execute import NotebookRunError, collapse_progress_output, render_terminal, run
from workshop.authoring.files import NotebookFileError
from workshop.authoring.markers import MARKDOWN_STUB, NotebookBuildError, strip_solutions

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
