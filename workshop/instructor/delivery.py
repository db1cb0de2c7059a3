"""Delivering student notebooks: Colab badge and set-up cell, papermill tag.

:func:`deliver` takes a student notebook (what :func:`workshop.instructor.authoring.strip_solutions`
returns) and returns it ready to hand out:

- a Markdown cell at the top with an "Open in Colab" badge that opens *this student
  notebook* (``notebooks/NAME``, never ``solutions/``) from the course repository;
- a set-up code cell right after it that, only when ``"google.colab" in sys.modules``,
  pip-installs the ``workshop`` package from the course repository (TensorFlow, Keras
  and NumPy are not pinned: Colab's own are used), and otherwise does nothing;
- the first code cell after that (the switches and the seed) tagged ``parameters``,
  the papermill convention, so a notebook can be re-run with other switches;
- no nbval comment lines (``# NBVAL_CHECK_OUTPUT``): they tell the tests which
  outputs of a *solution* to compare, and mean nothing to a student.

No nbgrader metadata is written (an earlier version wrote ``grade_id``/``points``):
the check cells only raise under ``WORKSHOP_STRICT_CHECKS=1``, so nbgrader's
autograder would give a wrong answer full marks. The course's own grader
(:mod:`workshop.instructor.grading`) finds exercises by the checker each check cell
calls (:func:`check_calls`), which needs no metadata. :func:`deliver` removes an
``nbgrader`` block left by that earlier version.

The repository address lives in :mod:`workshop.instructor.course` only; a student
edition (:mod:`workshop.instructor.release`) passes its own address and ref.
"""

import copy
import re
import sys

import nbformat

from workshop.instructor import course

__all__ = [
    "CHECK_CALL",
    "check_calls",
    "colab_setup_source",
    "deliver",
]

BADGE_TAG = "colab-badge"
SETUP_TAG = "colab-setup"
PARAMETERS_TAG = "parameters"
# A check cell calls a checker: ``checks.nb01.check_kl_divergence(kl_divergence)``.
CHECK_CALL = re.compile(r"\bchecks\.(nb\d+)\.(check_\w+)\s*\(")
BADGE_IMAGE = "https://colab.research.google.com/assets/colab-badge.svg"
# An nbval comment line of a solution's code cell (# NBVAL_CHECK_OUTPUT), left out of the student version.
NBVAL_LINE = re.compile(r"^[ \t]*#[ \t]*NBVAL_\w+[^\n]*(?:\n|$)", re.MULTILINE)


def check_calls(source):
    """[(module, checker)] called in a cell's source, in order, e.g. [("nb01", "check_kl_divergence")]."""
    return CHECK_CALL.findall(source)


def colab_setup_source(repository=None, branch=None):
    """The set-up cell's code: installs the package under Colab, does nothing elsewhere."""
    requirement = course.pip_requirement(repository, branch)
    return (
        "# Set-up for Google Colab: installs the `workshop` package there (Colab's own TensorFlow,\n"
        "# Keras and NumPy are kept). Anywhere else this cell does nothing.\n"
        "import sys\n"
        "\n"
        'if "google.colab" in sys.modules:\n'
        "    import subprocess\n"
        "\n"
        f"    WORKSHOP_REQUIREMENT = {requirement!r}\n"
        '    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", WORKSHOP_REQUIREMENT], check=True)'
    )


def _badge_source(notebook_name, repository=None, branch=None):
    url = course.colab_url(notebook_name, repository, branch)
    return f"[![Open In Colab]({BADGE_IMAGE})]({url})"


def _add_tag(cell, tag):
    tags = list(cell.metadata.get("tags", []))
    if tag not in tags:
        tags.append(tag)
    cell.metadata["tags"] = tags


def _is_delivery_cell(cell):
    return bool({BADGE_TAG, SETUP_TAG} & set(cell.get("metadata", {}).get("tags", [])))


def deliver(nb, notebook_name, repository=None, branch=None):
    """Return a copy of the student notebook ``nb`` with badge, set-up cell and the parameters tag.

    Idempotent: cells added by an earlier call are replaced, not duplicated.

    Args:
        nb: a student notebook (``nbformat.NotebookNode``, version 4).
        notebook_name: its file name in ``notebooks/`` (e.g. ``"01_probability_toolkit.ipynb"``).
        repository, branch: the repository and the branch, tag or commit that the badge and
            the Colab install point at (default: :mod:`workshop.instructor.course`'s).
    """
    if not str(notebook_name).endswith(".ipynb"):
        raise ValueError(f"Expected a notebook file name ending in .ipynb. Received: {notebook_name!r}")
    nb = copy.deepcopy(nb)
    cells = [cell for cell in nb.cells if not _is_delivery_cell(cell)]
    first_code_seen = False
    for cell in cells:
        cell.setdefault("metadata", nbformat.NotebookNode()).pop("nbgrader", None)
        if cell.cell_type == "code":
            cell.source = NBVAL_LINE.sub("", cell.source if isinstance(cell.source, str) else "".join(cell.source))
            if not first_code_seen:
                first_code_seen = True
                _add_tag(cell, PARAMETERS_TAG)
    badge = nbformat.v4.new_markdown_cell(_badge_source(notebook_name, repository, branch))
    badge.metadata = nbformat.NotebookNode({"tags": [BADGE_TAG]})
    setup = nbformat.v4.new_code_cell(colab_setup_source(repository, branch))
    setup.metadata = nbformat.NotebookNode({"tags": [SETUP_TAG]})
    badge.id, setup.id = "colab-badge", "colab-setup"
    nb.cells = [badge, setup, *cells]
    return nb


if __name__ == "__main__":  # pragma: no cover - a manual look at one notebook
    print(nbformat.writes(deliver(nbformat.read(sys.argv[1], as_version=4), sys.argv[1].rsplit("/", 1)[-1])))
