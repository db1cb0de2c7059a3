"""Colab badge and set-up cell and the parameters tag (workshop.instructor.delivery); no nbgrader metadata."""

import copy
import subprocess
import sys
import types
from pathlib import Path

import nbformat
import pytest

from workshop.instructor import course, delivery
from workshop.instructor.authoring import strip_solutions

ROOT = Path(__file__).resolve().parent.parent
NAME = "01_probability_toolkit.ipynb"


@pytest.fixture(scope="module")
def delivered():
    solution = nbformat.read(str(ROOT / "solutions" / NAME), as_version=4)
    return solution, delivery.deliver(strip_solutions(solution, NAME), NAME)


def test_the_notebook_opens_with_a_colab_badge_for_the_student_version(delivered):
    _, nb = delivered
    badge = nb.cells[0]
    assert badge.cell_type == "markdown" and "Open In Colab" in badge.source
    assert f"({course.colab_url(NAME)})" in badge.source
    assert "/notebooks/" + NAME in badge.source and "solutions" not in badge.source
    assert badge.metadata == {"tags": [delivery.BADGE_TAG]}
    nbformat.validate(nb)


def test_the_setup_cell_is_a_no_op_outside_colab(delivered, monkeypatch):
    _, nb = delivered
    setup = nb.cells[1]
    assert setup.cell_type == "code" and setup.metadata == {"tags": [delivery.SETUP_TAG]}
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: pytest.fail("installed outside Colab"))
    namespace = {}
    exec(setup.source, namespace)  # noqa: S102 - the cell, run as a kernel would
    assert "WORKSHOP_REQUIREMENT" not in namespace


def test_under_colab_the_setup_cell_pip_installs_the_package_from_the_course_repository(delivered, monkeypatch):
    _, nb = delivered
    calls = []
    monkeypatch.setitem(sys.modules, "google", types.ModuleType("google"))
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    monkeypatch.setattr(subprocess, "run", lambda command, **kwargs: calls.append((command, kwargs)))
    exec(nb.cells[1].source, {})  # noqa: S102
    ((command, kwargs),) = calls
    assert command == [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        f"workshop @ git+{course.COURSE_REPOSITORY}.git@{course.COURSE_BRANCH}",
    ]
    assert kwargs == {"check": True}
    assert not any(word in " ".join(command).lower() for word in ("tensorflow", "numpy", "keras", "=="))


def test_the_repository_address_is_configured_in_one_place():
    source = delivery.colab_setup_source("https://github.com/someone/course", "dev")
    assert "workshop @ git+https://github.com/someone/course.git@dev" in source
    assert course.colab_url("notebooks/05_vae_mnist.ipynb", "https://github.com/someone/course", "dev") == (
        "https://colab.research.google.com/github/someone/course/blob/dev/notebooks/05_vae_mnist.ipynb"
    )
    with pytest.raises(ValueError, match="Expected a repository address https://github.com/OWNER/NAME"):
        course.colab_url("x.ipynb", "https://example.org/course")


def test_first_code_cell_of_the_notebook_is_tagged_parameters(delivered):
    solution, nb = delivered
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert "parameters" in code[1].metadata["tags"] and "seed_everything" in code[1].source
    assert sum("parameters" in cell.metadata.get("tags", []) for cell in nb.cells) == 1
    first_solution_code = next(c for c in solution.cells if c.cell_type == "code")
    assert code[1].source == first_solution_code.source


def test_no_cell_carries_nbgrader_metadata(delivered):
    # The check cells raise only under WORKSHOP_STRICT_CHECKS=1, so nbgrader's autograder would give a
    # wrong answer its points: the notebooks carry no grading metadata that promises otherwise.
    solution, nb = delivered
    assert all("nbgrader" not in cell.metadata for cell in nb.cells)
    assert all(set(cell.metadata) <= {"tags"} for cell in nb.cells)
    # What the course's grader needs instead: the checker each check cell calls.
    expected = [name for cell in solution.cells if cell.cell_type == "code" for _, name in delivery.check_calls(cell.source)]
    called = [name for cell in nb.cells if cell.cell_type == "code" for _, name in delivery.check_calls(cell.source)]
    assert expected and called == expected


def test_an_nbgrader_block_from_an_earlier_build_is_removed(delivered):
    _, nb = delivered
    old = copy.deepcopy(nb)
    old.cells[5].metadata["nbgrader"] = {"grade": True, "grade_id": "x", "points": 1}
    assert all("nbgrader" not in cell.metadata for cell in delivery.deliver(old, NAME).cells)


def test_deliver_is_idempotent_and_checks_its_argument(delivered):
    _, nb = delivered
    assert delivery.deliver(nb, NAME) == nb
    with pytest.raises(ValueError, match="ending in .ipynb. Received: '01'"):
        delivery.deliver(nb, "01")


def test_the_nbval_markers_of_the_solution_are_left_out(delivered):
    solution, nb = delivered
    assert any("# NBVAL_CHECK_OUTPUT" in cell.source for cell in solution.cells)
    assert not any("NBVAL" in cell.source for cell in nb.cells)
    marked = next(cell for cell in solution.cells if cell.source.startswith("# NBVAL_CHECK_OUTPUT\n"))
    assert any(cell.source == marked.source.split("\n", 1)[1] for cell in nb.cells)  # only the marker line goes
