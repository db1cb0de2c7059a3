"""Grading submissions (workshop.instructor.grading) on notebook 01, the fastest: one kernel per submission."""

import csv
import json
import re
from pathlib import Path

import nbformat
import numpy as np
import pytest

from workshop.instructor import grading
from workshop.instructor.authoring import strip_solutions
from workshop.instructor.delivery import deliver

ROOT = Path(__file__).resolve().parent.parent
NAME = "01_probability_toolkit.ipynb"
EXERCISES = ["kl_divergence", "gaussian_kl", "monte_carlo_kl"]


def _solution():
    return nbformat.read(str(ROOT / "solutions" / NAME), as_version=4)


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    base = tmp_path_factory.mktemp("submissions")
    paths = {}
    for student in ("ada", "sol", "bob", "hal"):
        (base / student).mkdir()
        paths[student] = base / student / NAME
    nbformat.write(deliver(strip_solutions(_solution(), NAME), NAME), str(paths["ada"]))  # untouched student notebook
    nbformat.write(_solution(), str(paths["sol"]))
    # bob: one planted mistake (the square on the mean difference forgotten); his check cells
    # are deleted and his exercise cells moved to the end and one duplicated: grading must not care.
    bob = _solution()
    exercise_cells = [c for c in bob.cells if c.cell_type == "code" and "### BEGIN SOLUTION" in c.source]
    others = [c for c in bob.cells if c not in exercise_cells and "checks.nb01.check_" not in c.source]
    for cell in exercise_cells:
        if "def gaussian_kl(" in cell.source:
            assert "(mu1 - mu2) ** 2" in cell.source
            cell.source = cell.source.replace("(mu1 - mu2) ** 2", "(mu1 - mu2)")
    bob.cells = others + exercise_cells + exercise_cells[:1]
    for i, cell in enumerate(bob.cells):
        cell.id = f"c{i}"
    nbformat.write(bob, str(paths["bob"]))
    hal = deliver(strip_solutions(_solution(), NAME), NAME)  # the student notebook with a cell that hangs before the exercises
    first = next(i for i, c in enumerate(hal.cells) if c.cell_type == "code" and "def kl_divergence(" in c.source)
    hal.cells.insert(first, nbformat.v4.new_code_cell("import time\ntime.sleep(600)"))
    for i, cell in enumerate(hal.cells):
        cell.id = f"h{i}"
    nbformat.write(hal, str(paths["hal"]))
    junk = base / "eve.ipynb"
    junk.write_text("my answers are in the email")
    order = [paths["ada"], paths["sol"], paths["bob"], junk, paths["hal"]]
    out = base / "report"
    results = grading.grade(order, out, jobs=2, settings=grading.Settings(cell_timeout=10))
    return {r.student: r for r in results}, out


def _statuses(result):
    return {e.exercise: e.status for e in result.exercises}


def test_an_untouched_student_notebook_is_all_not_attempted(graded):
    results, _ = graded
    ada = results["ada"]
    assert ada.notebook == NAME and _statuses(ada) == dict.fromkeys(EXERCISES, "not attempted")
    assert all("[not implemented yet]" in e.message for e in ada.exercises)


def test_the_solution_passes_everything_with_instructor_cases_where_they_exist(graded):
    results, _ = graded
    sol = results["sol"]
    assert _statuses(sol) == dict.fromkeys(EXERCISES, "pass") and sol.status == "graded"
    messages = {e.exercise: e.message for e in sol.exercises}
    assert messages["kl_divergence"] == "public and instructor checks passed"
    assert messages["monte_carlo_kl"] == "public checks passed"  # no instructor cases for it


def _wrong(exercise, right, wrong):
    """The solution's function ``exercise`` with the text ``right`` replaced by ``wrong``, defined in a fresh namespace."""
    from workshop import probability

    (source,) = [c.source for c in _solution().cells if c.cell_type == "code" and c.source.startswith(f"def {exercise}(")]
    assert right in source
    namespace = {"np": np, "probability": probability}
    exec(source.replace(right, wrong), namespace)  # noqa: S102 - the course's own solution, with a planted mistake
    return namespace[exercise]


def _own_verdict(exercise, fn):
    """What the student's check cell says about ``fn``, as the grader records it: (status, one-line message)."""
    from workshop import checks

    result = getattr(checks.nb01, f"check_{exercise}")(fn, verbose=False, strict=False)
    return {"passed": "pass", "not_implemented": "not attempted"}.get(result.status, "fail"), grading._one_line(result.message, 300)


def test_a_planted_mistake_fails_with_the_checks_message_despite_moved_deleted_duplicated_cells(graded):
    results, _ = graded
    bob = results["bob"]
    assert _statuses(bob) == {"kl_divergence": "pass", "gaussian_kl": "fail", "monte_carlo_kl": "pass"}
    (failed,) = [e for e in bob.exercises if e.status == "fail"]
    # The row holds the public check's own verdict on bob's answer, not a pass that an instructor case overturned.
    own_status, own_message = _own_verdict("gaussian_kl", _wrong("gaussian_kl", "(mu1 - mu2) ** 2", "(mu1 - mu2)"))
    assert own_status == "fail" and own_message.startswith("[")
    assert failed == grading.ExerciseGrade("gaussian_kl", "check_gaussian_kl", "fail", own_message)
    assert "\n" not in failed.message


@pytest.mark.parametrize(
    "exercise, right, wrong, passed_message",
    [
        ("gaussian_kl", "(mu1 - mu2) ** 2", "(mu1 - mu2)", "public and instructor checks passed"),  # has instructor cases
        ("monte_carlo_kl", "return terms.mean(),", "return -terms.mean(),", "public checks passed"),  # has none
    ],
    ids=["gaussian_kl", "monte_carlo_kl"],
)
def test_instructor_cases_run_in_the_grader_only_after_the_public_check_passed(exercise, right, wrong, passed_message):
    """probes' last step (run here on plain functions, no kernel): the instructor's cases of grading_extra judge a
    right answer, and fail a wrong one that slipped through the public check, naming the case."""
    from workshop.instructor import probes

    status, message = _own_verdict(exercise, _wrong(exercise, right, wrong))
    assert status == "fail"  # the public check itself names this mistake; run_exercise reports it as it is
    assert probes._extra_cases(f"check_{exercise}", exercise, _wrong(exercise, right, right), "public") == ("passed", passed_message)
    if exercise == "gaussian_kl":
        status, message = probes._extra_cases(f"check_{exercise}", exercise, _wrong(exercise, right, wrong), "public")
        assert status == "wrong" and message.startswith("public checks passed; instructor check failed: ")


def test_a_file_that_is_not_a_notebook_gets_one_clear_line(graded):
    results, out = graded
    eve = results["eve"]
    assert eve.status == "not a notebook" and eve.exercises == []
    assert eve.message.startswith("eve.ipynb is not a Jupyter notebook")
    assert any(
        line.startswith("eve (eve.ipynb): eve.ipynb is not a Jupyter notebook") for line in (out / "summary.txt").read_text().splitlines()
    )


def test_a_hanging_cell_times_out_and_grading_goes_on(graded):
    results, _ = graded
    hal = results["hal"]
    assert hal.status == "graded with problems" and re.search(r"cell \d+ ran past 10 s \(skipped when grading\)", hal.message), hal.message
    assert _statuses(hal) == dict.fromkeys(EXERCISES, "not attempted")  # the exercises after the hanging cell still ran


def test_reports_in_csv_and_json(graded):
    _, out = graded
    rows = list(csv.DictReader((out / "grades.csv").open()))
    assert [r["student"] for r in rows].count("bob") == 3
    assert {(r["student"], r["exercise"], r["status"]) for r in rows} >= {
        ("ada", "kl_divergence", "not attempted"),
        ("bob", "gaussian_kl", "fail"),
        ("eve", "", "not a notebook"),
    }
    data = json.loads((out / "grades.json").read_text())
    assert [d["student"] for d in data] == ["ada", "sol", "bob", "eve", "hal"]
    assert [d["passed"] for d in data] == [0, 3, 2, 0, 0]
    summary = (out / "summary.txt").read_text().splitlines()
    assert summary[1].startswith(f"sol ({NAME}): 3/3 passed; graded")
    assert summary[2].startswith(f"bob ({NAME}): 2/3 passed, 1 fail")


def test_the_graded_class_reaches_the_gradebook_feedback_and_class_report(graded):
    _, out = graded
    book = {r["student"]: r for r in csv.DictReader((out / "gradebook.csv").open(encoding="utf-8"))}
    assert {name: book[name]["total"] for name in ("ada", "sol", "bob")} == {"ada": "0", "sol": "3", "bob": "2"}
    assert book["eve"]["total"] == "" and all(row["max_points"] == "3" for row in book.values())
    assert book["bob"][f"{NAME.removesuffix('.ipynb')}/gaussian_kl"] == "0"
    canvas = list(csv.reader((out / "gradebook_canvas.csv").open(encoding="utf-8")))
    assert canvas[0][:5] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"] and canvas[1][0] == "Points Possible"
    bob = (out / "feedback" / "bob.txt").read_text(encoding="utf-8")
    assert "gaussian_kl" in bob and "2" in bob and "fail" in bob
    report = (out / "class_report.html").read_text(encoding="utf-8")
    assert "gaussian_kl" in report and "<img" in report and 'alt="' in report


def test_instructor_cases_catch_what_the_public_check_lets_through():
    from workshop import probability
    from workshop.instructor import grading_extra

    def no_batches(p, q):  # right on 1-D inputs, wrong on batches: sums over everything
        import numpy as np

        p, q = np.asarray(p), np.asarray(q)
        safe = np.where(p > 0, p, 1.0)
        return float(np.sum(np.where(p > 0, p * np.log(safe / q), 0.0)))

    ok, message = grading_extra.EXTRA_CHECKS["check_kl_divergence"]({"kl_divergence": no_batches})
    assert not ok and "shape () , expected (3, 4)".replace(" ,", ",") in message
    assert grading_extra.EXTRA_CHECKS["check_kl_divergence"]({"kl_divergence": probability.kl_divergence})[0]


def test_the_grade_command_is_wired_and_checks_its_arguments(capsys):
    from workshop.instructor.cli import main

    def cli_main(argv):
        return main(["notebooks", *argv])

    assert cli_main(["grade", "x.ipynb"]) == 2
    assert "--out" in capsys.readouterr().err
    assert cli_main(["grade", "x.ipynb", "--out", "o", "--cell-timeout", "0"]) == 2
    assert "expected a whole number of seconds >= 1. Received: '0'" in capsys.readouterr().err


def test_bad_inputs_each_get_one_line_and_the_rest_of_the_class_is_graded(tmp_path):
    stub = deliver(strip_solutions(_solution(), NAME), NAME)
    folders = {name: tmp_path / name for name in ("zoë\nnew line", "empty", "r", "other", "twin-a", "twin-b")}
    for folder in folders.values():
        folder.mkdir()
    junk = folders["zoë\nnew line"] / NAME
    junk.write_bytes(b"\x89PNG not a notebook")
    empty = folders["empty"] / NAME
    nbformat.write(nbformat.v4.new_notebook(), str(empty))
    r_notebook = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "ir", "language": "R", "display_name": "R"}})
    r_notebook.cells = [nbformat.v4.new_code_cell("print('hello')")]
    r_path = folders["r"] / NAME
    nbformat.write(r_notebook, str(r_path))
    other_name = "02_autoencoders.ipynb"
    other = folders["other"] / other_name
    nbformat.write(nbformat.read(str(ROOT / "notebooks" / other_name), as_version=4), str(other))
    twins = [folders["twin-a"] / "twin" / NAME, folders["twin-b"] / "twin" / NAME]
    for path in twins:
        path.parent.mkdir()
        nbformat.write(stub, str(path))
    lines = []
    settings = grading.Settings(cell_timeout=60, notebook=NAME)
    results = grading.grade([junk, empty, r_path, other, *twins], tmp_path / "report", jobs=2, settings=settings, progress=lines.append)
    statuses = [r.status for r in results]
    assert statuses[:4] == ["not a notebook", "empty notebook", "wrong kernel", "another assignment"], [r.message for r in results]
    assert "R notebook" in results[2].message and "not the assignment 01_probability_toolkit.ipynb" in results[3].message
    assert [r.student for r in results[4:]] == ["twin", "twin"]
    assert all(_statuses(r) == dict.fromkeys(EXERCISES, "not attempted") for r in results[4:])
    assert all("\n" not in line for line in lines) and any("zoë\\nnew line" in line for line in lines)
    assert sum(line.startswith(f"[{k}/6] ") for line in lines for k in range(1, 7)) >= 6
    report = json.loads((tmp_path / "report" / "grades.json").read_text(encoding="utf-8"))
    assert len(report) == 6
