"""Compatibility shim: the notebook tool now lives in :mod:`workshop.instructor.authoring`.

``from workshop.instructor.notebooks import build, check, run, strip_solutions`` keeps
working; :func:`cli_main` runs ``python -m workshop notebooks ...``.
"""

from workshop.instructor.authoring import (
    MARKDOWN_STUB,
    NotebookBuildError,
    NotebookFileError,
    NotebookRunError,
    build,
    check,
    collapse_progress_output,
    render_terminal,
    run,
    strip_solutions,
)
from workshop.instructor.authoring.execute import _select  # noqa: F401  (used by tests)
from workshop.instructor.authoring.files import solution_files as _solution_files  # noqa: F401  (used by tests)

__all__ = [
    "MARKDOWN_STUB",
    "NotebookBuildError",
    "NotebookFileError",
    "NotebookRunError",
    "build",
    "check",
    "cli_main",
    "collapse_progress_output",
    "render_terminal",
    "run",
    "strip_solutions",
]


def cli_main(argv=None):
    """``python -m workshop notebooks ARGV...``; returns the exit status (see :func:`workshop.instructor.cli.main`)."""
    import sys

    from workshop.instructor.cli import main

    argv = sys.argv[1:] if argv is None else list(argv)
    return main(["notebooks", *argv])
