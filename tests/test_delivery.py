"""Colab badge and set-up cell, nbgrader metadata and the parameters tag (workshop.instructor.delivery)."""

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


def _meta(cell):
    return cell.metadata.get("nbgrader")


def test_the_notebook_opens_with_a_colab_badge_for_the_student_version(delivered):
    _, nb = delivered
    badge = nb.cells[0]
    assert badge.cell_type == "markdown" and "Open In Colab" in badge.source
    assert f"({course.colab_url(NAME)})" in badge.source
    assert "/notebooks/" + NAME in badge.source and "solutions" not in badge.source
    assert _meta(badge)["locked"] is True
    nbformat.validate(nb)


def test_the_setup_cell_is_a_no_op_outside_colab(delivered, monkeypatch):
    _, nb = delivered
    setup = nb.cells[1]
    assert setup.cell_type == "code" and _meta(setup)["grade_id"] == "colab-setup"
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


def test_exercise_and_check_cells_carry_nbgrader_metadata(delivered):
    solution, nb = delivered
    graded = [cell for cell in nb.cells if _meta(cell)]
    ids = [_meta(cell)["grade_id"] for cell in graded]
    assert len(ids) == len(set(ids))
    checks = {_meta(c)["grade_id"]: c for c in graded if _meta(c)["grade"] and not _meta(c)["solution"]}
    expected = [name for cell in solution.cells if cell.cell_type == "code" for _, name in delivery.check_calls(cell.source)]
    assert expected and sorted(checks) == sorted(set(expected))
    for grade_id, cell in checks.items():
        assert _meta(cell)["locked"] is True and _meta(cell)["points"] >= 1
        assert grade_id in cell.source
    exercises = [c for c in graded if _meta(c)["solution"] and c.cell_type == "code"]
    assert {"exercise-kl_divergence", "exercise-gaussian_kl"} <= {_meta(c)["grade_id"] for c in exercises}
    assert all(not _meta(c)["locked"] and "NotImplementedError" in c.source for c in exercises)
    assert all(_meta(c)["schema_version"] == 3 for c in graded)


def test_deliver_is_idempotent_and_checks_its_argument(delivered):
    _, nb = delivered
    assert delivery.deliver(nb, NAME) == nb
    with pytest.raises(ValueError, match="ending in .ipynb. Received: '01'"):
        delivery.deliver(nb, "01")
