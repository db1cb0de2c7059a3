"""From graded submissions to the gradebook: students, points, LMS files, feedback, class report, exit statuses.

No kernel runs here: the results are made by hand (``SubmissionGrade``), or
``grade_submission`` is replaced by a fake that returns them.
"""

import csv
import html.parser
import json
import os
import re
from pathlib import Path

import pytest

from workshop.instructor import classreport, gradebook, grading, roster
from workshop.instructor.cli import main
from workshop.instructor.grading import ExerciseGrade, SubmissionGrade

NB = "01_probability_toolkit.ipynb"
EXERCISES = ["kl_divergence", "gaussian_kl", "monte_carlo_kl"]
HALF = "[not quite] gaussian_kl: the overall factor 1/2 is missing. (case 2: gaussian_kl(0.5, -0.4, -1, 0.8))"
SWAPPED = (
    "[not quite] gaussian_kl: the two Gaussians are swapped: you computed KL(N2 || N1). The expectation is under the first one, "
    "so var1 and (mu1 - mu2)^2 sit over var2. (case 1: gaussian_kl(0, 0, 1, 0.5))"
)
WRONG = (
    "[wrong] kl_divergence: case {case} of 4, kl_divergence([0.5, 0.3, 0.2], [0.25, 0.25, 0.5 ]): expected 0.218012, received {value} "
    "(every value is larger than expected; 0.282 more than expected, 2.293 x expected)."
)
MESSAGES = {"pass": "public and instructor checks passed", "not attempted": "[not implemented yet] x: replace the stub.", "fail": HALF}


def submission(file, statuses, messages=None, status="graded", message="ran without errors", notebook=NB):
    """A graded submission of notebook 01 with the given statuses (pass, fail, not attempted, not graded) per exercise."""
    messages = messages or {}
    exercises = [
        ExerciseGrade(name, f"check_{name}", s, messages.get(name, MESSAGES.get(s, "its check did not finish (time limit?)")))
        for name, s in zip(EXERCISES, statuses)
    ]
    return SubmissionGrade(Path(file).stem, str(file), notebook, status, message, exercises, 1.0)


def not_a_notebook(file):
    return SubmissionGrade(Path(file).stem, str(file), "", "not a notebook", f"{Path(file).name} is not a Jupyter notebook; not graded.")


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


def read_dicts(path):
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


# --------------------------------------------------------------------------- #
# who handed it in
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize(
    "path, name, lms, lms_id, late",
    [
        ("subs/smithjohn_12345_678901_01_probability_toolkit.ipynb", "smithjohn", "canvas", "12345", False),
        ("subs/smithjohn_LATE_12345_678901_01_probability_toolkit.ipynb", "smithjohn", "canvas", "12345", True),
        ("subs/smithjohn_12345_678902_01_probability_toolkit-1.ipynb", "smithjohn", "canvas", "12345", False),  # resubmitted
        ("subs/smithjohn_12345_678901_Copy_of_01_probability_toolkit.ipynb", "smithjohn", "canvas", "12345", False),
        ("subs/Jane Doe_123456_assignsubmission_file_/01_probability_toolkit.ipynb", "Jane Doe", "moodle", "123456", False),
        ("subs/Jane Doe_123456_assignsubmission_file_01_probability_toolkit.ipynb", "Jane Doe", "moodle", "123456", False),
        ("subs/Zoë Ångström_77_assignsubmission_file_/Copy of 01_probability_toolkit.ipynb", "Zoë Ångström", "moodle", "77", False),
        ("subs/alice/01_probability_toolkit.ipynb", "alice", "folder", "", False),
        ("subs/alice/Copy of 01_probability_toolkit.ipynb", "alice", "folder", "", False),
        ("subs/alice/Copy of Copy of 01_probability_toolkit (2).ipynb", "alice", "folder", "", False),
        ("subs/01_probability_toolkit_bob.ipynb", "bob", "file", "", False),
        ("subs/Copy of 01_probability_toolkit - Bob Lee (1).ipynb", "Bob Lee", "file", "", False),
        ("subs/Bob Lee - 01_probability_toolkit.ipynb", "Bob Lee", "file", "", False),
        ("subs/Bob Lee - Copy of 01_probability_toolkit (1).ipynb", "Bob Lee", "file", "", False),
        ("subs/Copy of 01_probability_toolkit (1) - Bob Lee.ipynb", "Bob Lee", "file", "", False),
    ],
)
def test_download_names_of_each_lms_say_who_handed_in(path, name, lms, lms_id, late):
    origin = roster.parse_download_name(path, NB)
    assert (origin.name, origin.lms, origin.lms_id, origin.late) == (name, lms, lms_id, late)
    assert grading._student_name(Path(path), NB) == name


def test_the_original_file_name_is_recovered():
    assert (
        roster.parse_download_name("smithjohn_12345_678901_01_probability_toolkit-1.ipynb", NB).original == "01_probability_toolkit-1.ipynb"
    )
    assert roster.clean_file_name("Copy of Copy of 01_probability_toolkit (3).ipynb") == NB
    assert roster.clean_file_name("01_probability_toolkit-2.ipynb") == NB


def test_a_notebook_name_with_numbers_is_not_read_as_canvas():
    origin = roster.parse_download_name("01_probability_toolkit_2_3.ipynb", NB)
    assert origin.lms == "file" and origin.lms_id == ""


CANVAS_ROSTER = (
    "Student,ID,SIS User ID,SIS Login ID,Section,Notebook 01 (5501)\n"
    "    Points Possible,,,,,3\n"
    '"Smith, John",12345,S001,jsmith,Section A,\n'
    '"Doe, Jane",222,S002,jdoe,Section B,\n'
    '"Student, Test",999,,,Section A,\n'
)
MOODLE_EXPORT = (
    "First name,Last name,ID number,Institution,Department,Email address\n"
    "Zoë,Ångström,M-17,,,zoe@uni.example\n"
    "Bob,Lee,M-18,,,blee@uni.example\n"
)
MOODLE_WORKSHEET = (
    "Identifier,Full name,Email address,Status,Grade,Maximum grade,Grade can be changed,Last modified (submission),"
    "Last modified (grade),Feedback comments\n"
    "Participant 123456,Jane Doe,jane@uni.example,Submitted,,3.00,Yes,,-,\n"
)


def test_a_canvas_export_is_a_roster_and_matches_canvas_downloads_by_user_id(tmp_path):
    path = tmp_path / "canvas.csv"
    path.write_text("\ufeff" + CANVAS_ROSTER, encoding="utf-8")  # Excel's byte-order mark
    students = roster.load_roster(path)
    assert [s.name for s in students] == ["Smith, John", "Doe, Jane"]  # Points Possible and the test student left out
    assert students[0] == roster.Student("Smith, John", "12345", "", "S001", "jsmith", "", "Section A")
    origin = roster.parse_download_name("smithjohn_LATE_12345_678901_01_probability_toolkit.ipynb", NB)
    assert roster.match_roster("smithjohn_LATE_12345_678901_01_probability_toolkit.ipynb", origin, students) == 0
    renamed = roster.Origin("someone else", "canvas", "222")
    assert roster.match_roster("x.ipynb", renamed, students) == 1  # the ID wins over the name


def test_a_moodle_export_matches_moodle_downloads_by_name_accents_and_case_aside(tmp_path):
    path = tmp_path / "moodle.csv"
    path.write_text(MOODLE_EXPORT, encoding="utf-8")
    students = roster.load_roster(path)
    assert [(s.name, s.sis_id, s.email) for s in students] == [
        ("Zoë Ångström", "M-17", "zoe@uni.example"),
        ("Bob Lee", "M-18", "blee@uni.example"),
    ]
    for file, expected in [
        ("Zoe Angstrom_77_assignsubmission_file_/01_probability_toolkit.ipynb", 0),
        ("BOB LEE_78_assignsubmission_file_01_probability_toolkit.ipynb", 1),
        ("blee/01_probability_toolkit.ipynb", 1),  # the email's user name
        ("Carol Kim_79_assignsubmission_file_01_probability_toolkit.ipynb", None),
    ]:
        assert roster.match_roster(file, roster.parse_download_name(file, NB), students) == expected, file


def test_a_moodle_grading_worksheet_matches_by_participant_number(tmp_path):
    path = tmp_path / "worksheet.csv"
    path.write_text(MOODLE_WORKSHEET, encoding="utf-8")
    (jane,) = roster.load_roster(path)
    assert (jane.name, jane.participant, jane.canvas_id, jane.email) == ("Jane Doe", "123456", "", "jane@uni.example")
    file = "J. Doe_123456_assignsubmission_file_/01_probability_toolkit.ipynb"
    assert roster.match_roster(file, roster.parse_download_name(file, NB), [jane]) == 0


def test_file_patterns_in_the_roster_identify_colab_copies_in_one_folder(tmp_path):
    path = tmp_path / "roster.csv"
    path.write_text(
        "student,canvas_id,email,files\nAda Lovelace,11,ada@uni.example,ada_*.ipynb;*lovelace*\nAlan Turing,12,alan@uni.example,\n"
    )
    students = roster.load_roster(path)
    assert students[0].files == ("ada_*.ipynb", "*lovelace*") and students[1].canvas_id == "12"
    for file, expected in [("in/ada_01.ipynb", 0), ("in/Copy of 01_probability_toolkit LOVELACE.ipynb", 0), ("in/alan/" + NB, 1)]:
        assert roster.match_roster(file, roster.parse_download_name(file, NB), students) == expected, file


@pytest.mark.parametrize(
    "text, expected",
    [
        ("", "an empty file"),
        ("ID,Section\n1,A\n", "Expected a roster with a column of names"),
        ("student,email\nA,a@x\nB,A@X\n", "Expected one row per student"),
        ("student\n,\n", "Expected at least one student"),
    ],
)
def test_a_roster_that_cannot_be_used_is_refused_with_the_file_named(tmp_path, text, expected):
    path = tmp_path / "class.csv"
    path.write_text(text)
    with pytest.raises(ValueError, match=re.escape(expected)) as error:
        roster.load_roster(path)
    assert str(path) in str(error.value)
    with pytest.raises(ValueError, match="no such file"):
        roster.load_roster(tmp_path / "missing.csv")


# --------------------------------------------------------------------------- #
# points
# --------------------------------------------------------------------------- #
KNOWN = {(NB, e) for e in EXERCISES} | {("10_mixture_prior.ipynb", "monte_carlo_kl")}


def test_points_from_json_and_csv_with_exercises_of_one_notebook(tmp_path):
    (tmp_path / "p.json").write_text('{"check_gaussian_kl": 2, "10/monte_carlo_kl": 0.5}')
    points = gradebook.load_points(tmp_path / "p.json", KNOWN)
    assert points == {"gaussian_kl": 2, "10/monte_carlo_kl": 0.5}
    assert gradebook.points_for(points, NB, "gaussian_kl") == 2
    assert gradebook.points_for(points, NB, "monte_carlo_kl") == 1  # only notebook 10's changed
    assert gradebook.points_for(points, "10_mixture_prior.ipynb", "monte_carlo_kl") == 0.5
    (tmp_path / "p.csv").write_text("notebook,exercise,points\n,kl_divergence,3\n01_probability_toolkit,monte_carlo_kl,2\n")
    assert gradebook.load_points(tmp_path / "p.csv", KNOWN) == {"kl_divergence": 3, "01_probability_toolkit/monte_carlo_kl": 2}


@pytest.mark.parametrize(
    "name, text, expected",
    [
        ("p.json", "{not json", "invalid JSON"),
        ("p.json", "[1, 2]", "a JSON list"),
        ("p.json", '{"gaussian_kl": -1}', "Expected a number of points >= 0"),
        ("p.json", '{"gaussian_kl": "two"}', "Received: 'two' at key 'gaussian_kl'"),
        ("p.json", '{"gaussian_kl": true}', "Expected a number of points >= 0"),
        ("p.json", '{"gausian_kl": 2}', "Expected exercises of the course"),
        ("p.json", '{"05/gaussian_kl": 2}', "Expected exercises of the course"),
        ("p.csv", "name,score\ngaussian_kl,2\n", "Received: columns ['name', 'score']"),
        ("p.csv", "exercise,points\ngaussian_kl,nan\n", "Received: 'nan' at row 2"),
    ],
)
def test_a_points_file_that_cannot_be_used_is_refused_naming_the_file_and_what_was_expected(tmp_path, name, text, expected):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(ValueError, match=re.escape(expected)) as error:
        gradebook.load_points(path, KNOWN)
    assert str(path) in str(error.value) and "Expected" in str(error.value)


# --------------------------------------------------------------------------- #
# the gradebook files
# --------------------------------------------------------------------------- #
@pytest.fixture()
def canvas_class(tmp_path):
    """Three Canvas students (one late, one with two files) and a file that is not a notebook, graded with a roster and points."""
    subs = tmp_path / "subs"
    subs.mkdir()
    files = {
        "john": subs / "smithjohn_12345_678901_01_probability_toolkit.ipynb",
        "jane_old": subs / "doejane_222_1000_01_probability_toolkit.ipynb",
        "jane_new": subs / "doejane_LATE_222_1001_01_probability_toolkit-1.ipynb",
        "kim": subs / "kimcarol_333_1002_notes.txt",
    }
    for index, path in enumerate(files.values()):
        path.write_text("{}")
        os.utime(path, (1_700_000_000 + index, 1_700_000_000 + index))
    os.utime(files["jane_old"], (1_800_000_000, 1_800_000_000))  # downloaded later, but older than jane_new?
    os.utime(files["jane_new"], (1_900_000_000, 1_900_000_000))
    results = [
        submission(files["john"], ["pass", "fail", "pass"]),
        submission(files["jane_new"], ["pass", "pass", "not attempted"]),
        submission(files["jane_old"], ["pass", "fail", "fail"]),
        not_a_notebook(files["kim"]),
    ]
    (tmp_path / "canvas.csv").write_text(CANVAS_ROSTER + '"Kim, Carol",333,S003,ckim,Section A,\n"Absent, Al",444,S004,aal,Section B,\n')
    (tmp_path / "points.json").write_text('{"gaussian_kl": 2}')
    students = roster.load_roster(tmp_path / "canvas.csv")
    points = gradebook.load_points(tmp_path / "points.json", KNOWN)
    out = tmp_path / "out"
    written, book = gradebook.write_all(results, out, roster=students, points=points, assignment="Notebook 01 (5501)")
    return out, written, book, files


def test_the_gradebook_has_one_row_per_student_with_points_total_and_maximum(canvas_class):
    out, _, _, files = canvas_class
    rows = {r["student"]: r for r in read_dicts(out / "gradebook.csv")}
    assert list(rows) == ["Smith, John", "Doe, Jane", "Kim, Carol", "Absent, Al"]
    john, jane, kim, al = rows.values()
    assert [john[f"01_probability_toolkit/{e}"] for e in EXERCISES] == ["1", "0", "1"]
    assert (john["total"], john["max_points"], john["canvas_id"], john["sis_id"], john["section"]) == (
        "2",
        "4",
        "12345",
        "S001",
        "Section A",
    )
    assert (jane["total"], jane["late"]) == ("3", "yes")  # the newer file: 1 + 2 + 0
    assert (
        "doejane_222_1000_01_probability_toolkit.ipynb superseded by doejane_LATE_222_1001_01_probability_toolkit-1.ipynb" in jane["notes"]
    )
    assert kim["total"] == "" and "needs review: kimcarol_333_1002_notes.txt is not a Jupyter notebook" in kim["notes"]
    assert al["total"] == "" and al["notes"] == "no submission" and al["files"] == ""


def test_the_canvas_file_parses_back_with_canvass_columns_and_the_right_totals(canvas_class):
    out, _, _, _ = canvas_class
    rows = read_csv(out / "gradebook_canvas.csv")
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "Notebook 01 (5501)"]
    assert rows[1] == ["Points Possible", "", "", "", "", "4"]
    assert rows[2:] == [
        ["Smith, John", "12345", "S001", "jsmith", "Section A", "2"],
        ["Doe, Jane", "222", "S002", "jdoe", "Section B", "3"],
    ]  # no row for Kim (nothing could be graded) or Al (no submission): a blank would change nothing in Canvas


def test_the_moodle_file_has_the_worksheet_columns_and_the_gradebook_import_identifiers(canvas_class, tmp_path):
    out, _, _, _ = canvas_class
    rows = read_dicts(out / "gradebook_moodle.csv")
    assert list(rows[0]) == [*gradebook.MOODLE_COLUMNS, *gradebook.MOODLE_TAIL]
    assert [(r["Full name"], r["Grade"], r["Maximum grade"], r["ID number"]) for r in rows] == [
        ("Smith, John", "2", "4", "S001"),
        ("Doe, Jane", "3", "4", "S002"),
    ]
    assert [r["Identifier"] for r in rows] == ["", ""]  # a Canvas ID is not a Moodle participant number
    assert rows[0]["Feedback comments"] == f"{NB}: 2 of 4 points (not passed: gaussian_kl)."
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", rows[0]["Last modified (grade)"])
    # A Moodle class: the participant number from the download name fills the worksheet's Identifier.
    file = tmp_path / "Jane Doe_123456_assignsubmission_file_" / NB
    _, book = gradebook.write_all([submission(file, ["pass", "pass", "pass"])], tmp_path / "moodle")
    (row,) = read_dicts(tmp_path / "moodle" / "gradebook_moodle.csv")
    assert (row["Identifier"], row["Full name"], row["Grade"]) == ("Participant 123456", "Jane Doe", "3")


def test_a_moodle_class_with_moodles_export_as_roster_gets_every_identifier(tmp_path):
    (tmp_path / "moodle.csv").write_text(MOODLE_EXPORT, encoding="utf-8")
    students = roster.load_roster(tmp_path / "moodle.csv")
    results = [
        submission(tmp_path / "Zoë Ångström_77_assignsubmission_file_" / NB, ["pass", "pass", "pass"]),
        submission(tmp_path / "Bob Lee_78_assignsubmission_file_" / f"Copy of {NB}", ["pass", "fail", "pass"]),
    ]
    gradebook.write_all(results, tmp_path / "out", roster=students)
    rows = read_dicts(tmp_path / "out" / "gradebook_moodle.csv")
    assert [(r["Identifier"], r["Full name"], r["Email address"], r["ID number"], r["Grade"]) for r in rows] == [
        ("Participant 77", "Zoë Ångström", "zoe@uni.example", "M-17", "3"),
        ("Participant 78", "Bob Lee", "blee@uni.example", "M-18", "2"),
    ]
    book = read_dicts(tmp_path / "out" / "gradebook.csv")
    assert [(r["canvas_id"], r["participant"]) for r in book] == [("", "77"), ("", "78")]
    assert {r["student_key"] for r in read_dicts(tmp_path / "out" / "grades.csv")} == {"roster line 2", "roster line 3"}


def test_the_earlier_reports_keep_their_fields_and_gain_points(canvas_class):
    out, written, _, files = canvas_class
    assert [p.name for p in written[:3]] == ["grades.csv", "grades.json", "summary.txt"]
    rows = read_dicts(out / "grades.csv")
    assert list(rows[0])[:6] == ["student", "file", "notebook", "exercise", "status", "message"]
    john = [r for r in rows if r["student"] == "Smith, John"]
    assert [(r["exercise"], r["status"], r["points"], r["max_points"]) for r in john] == [
        ("kl_divergence", "pass", "1", "1"),
        ("gaussian_kl", "fail", "0", "2"),
        ("monte_carlo_kl", "pass", "1", "1"),
    ]
    assert {r["superseded_by"] for r in rows if r["file"] == str(files["jane_old"])} == {str(files["jane_new"])}
    data = json.loads((out / "grades.json").read_text(encoding="utf-8"))
    assert [(d["student"], d["passed"], d["points"], d["max_points"]) for d in data] == [
        ("Smith, John", 2, 2, 4),
        ("Doe, Jane", 2, 3, 4),
        ("Doe, Jane", 1, 1, 4),
        ("Kim, Carol", 0, 0, 0),
    ]
    assert data[1]["late"] is True and data[2]["superseded_by"] == str(files["jane_new"])
    summary = (out / "summary.txt").read_text(encoding="utf-8").splitlines()
    assert summary[0] == f"Smith, John ({NB}): 2/3 passed, 1 fail; graded: ran without errors; 2/4 points"
    assert summary[2].endswith("superseded by doejane_LATE_222_1001_01_probability_toolkit-1.ipynb")


def test_a_feedback_file_per_student_with_verdicts_messages_total_and_problems(canvas_class):
    out, _, book, _ = canvas_class
    index = read_dicts(out / "feedback" / "index.csv")
    assert [(r["student"], r["file"]) for r in index] == [
        ("Smith, John", "Smith_John.txt"),
        ("Doe, Jane", "Doe_Jane.txt"),
        ("Kim, Carol", "Kim_Carol.txt"),
    ]
    john = (out / "feedback" / "Smith_John.txt").read_text(encoding="utf-8")
    assert "- gaussian_kl: fail, 0 of 2 points\n  " + HALF in john
    assert "- kl_divergence: pass, 1 of 1 point\n  public and instructor checks passed" in john
    assert f"Total for {NB}: 2 of 4 points" in john
    jane = (out / "feedback" / "Doe_Jane.txt").read_text(encoding="utf-8")
    assert "doejane_222_1000_01_probability_toolkit.ipynb was not counted" in jane and "Canvas marked this submission late." in jane
    kim = (out / "feedback" / "Kim_Carol.txt").read_text(encoding="utf-8")
    assert "kimcarol_333_1002_notes.txt is not a Jupyter notebook" in kim


def test_feedback_names_problems_of_the_run_and_never_shows_an_instructor_case(tmp_path):
    secret = "public checks passed; instructor check failed: on a batch of shape (3, 4) it returned shape (), expected (3, 4)"
    result = submission(
        tmp_path / "ann" / NB, ["pass", "fail", "pass"], {"gaussian_kl": secret}, "graded with problems", "cell 7 raised ValueError: bad"
    )
    gradebook.write_all([result], tmp_path / "out")
    text = (tmp_path / "out" / "feedback" / "ann.txt").read_text(encoding="utf-8")
    assert "a stricter instructor check failed" in text and "batch of shape" not in text
    assert "Problems while running your notebook: cell 7 raised ValueError: bad" in text


def test_unicode_and_newline_names_keep_their_name_in_the_csv_and_get_safe_file_names(tmp_path):
    folders = ["Zoë\nÅngström_55_assignsubmission_file_", "../evil/Eve_56_assignsubmission_file_", "CON_57_assignsubmission_file_"]
    results = [submission(tmp_path / folder / NB, ["pass", "pass", "fail"]) for folder in folders]
    gradebook.write_all(results, tmp_path / "out")
    rows = read_dicts(tmp_path / "out" / "gradebook.csv")
    assert [r["student"] for r in rows] == ["Zoë\nÅngström", "Eve", "CON"]  # the real name, quoted by the csv module
    feedback = sorted(p.name for p in (tmp_path / "out" / "feedback").iterdir())
    assert feedback == ["CON_.txt", "Eve.txt", "Zoë_Ångström.txt", "index.csv"]
    assert len((tmp_path / "out" / "summary.txt").read_text(encoding="utf-8").splitlines()) == 3  # one line per submission
    assert read_csv(tmp_path / "out" / "gradebook_canvas.csv")[2][0] == "Zoë Ångström"
    assert gradebook.safe_file_name('a/b\\c:d*?"<>|e') == "abcde" and gradebook.safe_file_name("...") == "student"
    taken = set()
    assert [gradebook.safe_file_name(n, taken) for n in ("Ann Lee", "ann lee", "Ann\tLee")] == ["Ann_Lee", "ann_lee-2", "Ann_Lee-3"]


def test_a_name_a_spreadsheet_would_run_as_a_formula_is_written_as_text(tmp_path):
    results = [submission(tmp_path / "subs" / '01_probability_toolkit =HYPERLINK("x").ipynb', ["pass"] * 3)]
    gradebook.write_all(results, tmp_path / "out")
    for name in ("gradebook.csv", "gradebook_canvas.csv", "gradebook_moodle.csv", "grades.csv"):
        rows = read_csv(tmp_path / "out" / name)
        cells = [cell for row in rows for cell in row]
        assert '\'=HYPERLINK("x")' in cells and not any(cell.startswith("=") for cell in cells), name


def test_the_newest_file_of_a_student_counts_then_the_name_order(tmp_path):
    folder = tmp_path / "alice"
    folder.mkdir()
    older, newer = folder / "Copy of 01_probability_toolkit (2).ipynb", folder / "Copy of 01_probability_toolkit (10).ipynb"
    for path, when in ((older, 1_000), (newer, 2_000)):
        path.write_text("{}")
        os.utime(path, (when, when))
    results = [submission(newer, ["pass"] * 3), submission(older, ["fail"] * 3), submission(tmp_path / "bob" / NB, ["fail"] * 3)]
    book = gradebook.build(results)
    row = book.rows[0]
    assert len(book.rows) == 2 and row.name == "alice"
    assert row.entries[NB].result.file == str(newer) and row.total == 3 and row.superseded[0].superseded_by == str(newer)
    assert "Copy of 01_probability_toolkit (2).ipynb superseded by Copy of 01_probability_toolkit (10).ipynb" in row.notes
    os.utime(older, (2_000, 2_000))  # the same time: (10) comes after (2)
    assert gradebook.build(results).rows[0].entries[NB].result.file == str(newer)
    os.utime(older, (3_000, 3_000))
    assert gradebook.build(results).rows[0].entries[NB].result.file == str(older)
    missing = [
        submission(tmp_path / "eve" / "01_probability_toolkit (1).ipynb", ["fail"] * 3),
        submission(tmp_path / "eve" / NB, ["pass"] * 3),
        submission(tmp_path / "bob" / NB, ["pass"] * 3),
    ]
    assert gradebook.build(missing).rows[0].total == 0  # no file to stat: name order, "(1)" after the plain name


def test_files_all_in_one_folder_are_not_that_folders_student(tmp_path):
    """Otherwise a class of Colab copies in one folder would be one student, and all but one file superseded."""
    results = [
        submission(tmp_path / "week01" / "Copy of 01_probability_toolkit.ipynb", ["pass"] * 3),
        submission(tmp_path / "week01" / NB, ["fail"] * 3),
    ]
    book = gradebook.build(results)
    assert len(book.rows) == 2 and all("student not identified" in row.notes for row in book.rows)
    assert any("does not say whose it is" in problem for problem in book.problems)
    one_student = [
        submission(tmp_path / "ann" / NB, ["pass"] * 3),
        submission(tmp_path / "ann" / "02_autoencoders.ipynb", ["pass"] * 3, notebook="02_autoencoders.ipynb"),
    ]
    assert [row.name for row in gradebook.build(one_student).rows] == ["ann"]  # one file per notebook: the folder is hers


def test_several_notebooks_give_a_column_each_and_a_grand_total(tmp_path):
    two = ExerciseGrade("principal_angles", "check_principal_angles", "pass", "public checks passed")
    results = [
        submission(tmp_path / "ann" / NB, ["pass", "pass", "fail"]),
        SubmissionGrade(
            "ann", str(tmp_path / "ann" / "02_autoencoders.ipynb"), "02_autoencoders.ipynb", "graded", "ran without errors", [two]
        ),
    ]
    gradebook.write_all(results, tmp_path / "out", assignment="Week 1")
    (row,) = read_dicts(tmp_path / "out" / "gradebook.csv")
    assert (row["01_probability_toolkit"], row["02_autoencoders"], row["total"], row["max_points"]) == ("2", "1", "3", "4")
    canvas = read_csv(tmp_path / "out" / "gradebook_canvas.csv")
    assert canvas[0][5:] == ["01_probability_toolkit", "02_autoencoders"] and canvas[2][5:] == ["2", "1"]


def test_write_reports_is_idempotent_atomic_and_removes_feedback_of_a_name_that_changed(tmp_path):
    out = tmp_path / "out"
    first = [submission(tmp_path / "week" / "ann" / NB, ["pass", "fail", "pass"])]
    gradebook.write_all(first, out, graded_at="2026-12-06T10:00:00+00:00")
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    gradebook.write_all(first, out, graded_at="2026-12-06T10:00:00+00:00")
    assert {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    assert not [p for p in out.rglob("*.tmp")]
    (out / "feedback" / "my notes.txt").write_text("the instructor's own file")
    renamed = [submission(tmp_path / "week" / "Ann_9_assignsubmission_file_" / NB, ["pass"] * 3)]
    grading.write_reports(renamed, out)  # the signature the grader calls after every submission
    assert sorted(p.name for p in (out / "feedback").iterdir()) == ["Ann.txt", "index.csv", "my notes.txt"]


def test_write_reports_stays_cheap_for_a_class(tmp_path):
    import time

    results = [submission(tmp_path / f"student{i:03d}" / NB, ["pass", "fail", "pass"]) for i in range(120)]
    grading.write_reports(results, tmp_path / "warm")  # matplotlib's first import is not what is measured
    start = time.perf_counter()
    grading.write_reports(results, tmp_path / "out")
    assert time.perf_counter() - start < 3.0


# --------------------------------------------------------------------------- #
# the class report
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize(
    "message, expected",
    [
        (HALF, "the overall factor 1/2 is missing."),
        (SWAPPED, "the two Gaussians are swapped: you computed KL(N2 || N1)."),
        (
            WRONG.format(case=1, value="0.5"),
            "expected #, received # (every value is larger than expected; # more than expected, # x expected).",
        ),
        (
            "[error] kl_divergence: TypeError: unsupported operand type(s) for -: 'list' and 'list' (at `p - q`) on case 3: kl(...).",
            "TypeError: unsupported operand type(s) for -: 'list' and 'list'.",
        ),
        (
            "public checks passed; instructor check failed: raised ValueError: shape (3, 4) mismatch",
            "instructor check: raised ValueError: shape (#, #) mismatch",
        ),
    ],
)
def test_a_failed_checks_message_names_the_mistake(message, expected):
    assert classreport.mistake(message) == expected


def test_the_same_mistake_with_other_numbers_is_one_mistake():
    assert classreport.mistake(WRONG.format(case=1, value="0.5")) == classreport.mistake(WRONG.format(case=3, value="1.25"))


class _Page(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.text = [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def _synthetic_class(tmp_path, size=60):
    """60 students: 14 with the missing 1/2, 6 with swapped Gaussians, 5 with a wrong KL, 3 never started, 2 whose kernel died."""
    results = []
    for i in range(size):
        statuses, messages = ["pass", "pass", "pass"], {}
        if i < 14:
            statuses[1], messages["gaussian_kl"] = "fail", HALF
        elif i < 20:
            statuses[1], messages["gaussian_kl"] = "fail", SWAPPED
        if 20 <= i < 25:
            statuses[0], messages["kl_divergence"] = "fail", WRONG.format(case=i % 4 + 1, value=i / 10)
        if 25 <= i < 28:
            statuses = ["not attempted"] * 3
        if 28 <= i < 30:
            results.append(submission(tmp_path / f"s{i:02d}" / NB, ["not graded"] * 3, status="failed to run", message="the kernel died"))
            continue
        results.append(submission(tmp_path / f"s{i:02d}" / NB, statuses, messages))
    return results


def test_the_class_report_shows_pass_rates_named_mistakes_and_a_histogram(tmp_path):
    results = _synthetic_class(tmp_path)
    gradebook.write_all(results, tmp_path / "out")
    page = (tmp_path / "out" / "class_report.html").read_text(encoding="utf-8")
    parser = _Page()
    parser.feed(page)
    text = " ".join(" ".join(parser.text).split())
    # 58 graded on each exercise (2 kernels died); gaussian_kl: 58 - 20 failed - 3 not attempted = 35 passed.
    assert "gaussian_kl 1 35 20 3 2 60% (35 of 58)" in text
    assert "kl_divergence 1 50 5 3 2 86% (50 of 58)" in text
    assert "the overall factor 1/2 is missing. 14 of 58" in text
    assert "the two Gaussians are swapped: you computed KL(N2 || N1). 6 of 58" in text
    assert "expected #, received # (every value is larger than expected; # more than expected, # x expected). 5 of 58" in text
    assert text.index("the overall factor 1/2 is missing.") < text.index("the two Gaussians are swapped")  # most frequent first
    (image,) = [attrs for tag, attrs in parser.tags if tag == "img"]
    assert image["src"].startswith("data:image/png;base64,iVBOR")  # a PNG, in the page
    assert image["alt"] == "Histogram of the total points of 58 students, out of 3: 3 scored 0; 25 scored 2; 30 scored 3. Median 3."
    assert "needs review: 01_probability_toolkit.ipynb could not be graded (the kernel died)" in text


def test_the_class_report_is_self_contained_and_accessible(tmp_path):
    gradebook.write_all(_synthetic_class(tmp_path, 12), tmp_path / "out")
    page = (tmp_path / "out" / "class_report.html").read_text(encoding="utf-8")
    parser = _Page()
    parser.feed(page)
    tags = [tag for tag, _ in parser.tags]
    assert not re.search(r"(src|href)=\"(?!data:)", page) and "<script" not in page and "http" not in page
    assert ("html", {"lang": "en"}) in parser.tags and tags.count("h1") == 1 and "h2" in tags and "main" in tags
    assert tags.count("table") == tags.count("caption") and all(
        attrs.get("scope") in ("col", "row") for tag, attrs in parser.tags if tag == "th"
    )
    assert all(attrs.get("alt") for tag, attrs in parser.tags if tag == "img")


def test_a_class_where_nobody_could_be_graded_has_no_histogram(tmp_path):
    gradebook.write_all([not_a_notebook(tmp_path / "eve.ipynb")], tmp_path / "out")
    page = (tmp_path / "out" / "class_report.html").read_text(encoding="utf-8")
    assert "<img" not in page and "No student has a grade yet." in page and "eve.ipynb is not a Jupyter notebook" in page


# --------------------------------------------------------------------------- #
# the command and its exit statuses
# --------------------------------------------------------------------------- #
@pytest.fixture()
def fake_grading(monkeypatch, tmp_path):
    """Submission files on disk and a ``grade_submission`` that returns what ``verdicts`` says, with no kernel."""
    verdicts = {}

    def fake(path, solutions_dir=None, cell_timeout=None, fast=True, extra=True, settings=None):
        statuses = verdicts.get(Path(path).name)
        if statuses is None:
            return not_a_notebook(path)
        return submission(path, statuses)

    monkeypatch.setattr(grading, "grade_submission", fake)
    return verdicts


def _grade(tmp_path, *extra):
    files = sorted(str(p) for p in (tmp_path / "subs").rglob("*.ipynb"))
    return main(["notebooks", "grade", *files, "--output", str(tmp_path / "out"), "--quiet", *extra])


def test_the_command_exits_0_when_the_class_was_graded_whatever_the_scores(tmp_path, fake_grading, capsys):
    for name in ("smithjohn_12345_1_01_probability_toolkit.ipynb", "doejane_222_2_01_probability_toolkit.ipynb", "junk.ipynb"):
        (tmp_path / "subs").mkdir(exist_ok=True)
        (tmp_path / "subs" / name).write_text("{}")
    fake_grading["smithjohn_12345_1_01_probability_toolkit.ipynb"] = ["fail", "fail", "not attempted"]
    fake_grading["doejane_222_2_01_probability_toolkit.ipynb"] = ["pass", "fail", "pass"]
    (tmp_path / "points.csv").write_text("exercise,points\ngaussian_kl,2\n")
    (tmp_path / "canvas.csv").write_text(CANVAS_ROSTER)
    args = ["--roster", str(tmp_path / "canvas.csv"), "--points", str(tmp_path / "points.csv"), "--assignment", "NB 01"]
    assert _grade(tmp_path, *args) == 0
    out = capsys.readouterr().out
    assert "graded 2 of 3 submission(s), 2 student(s)" in out
    canvas = read_csv(tmp_path / "out" / "gradebook_canvas.csv")
    assert canvas[0][-1] == "NB 01" and canvas[2:] == [
        ["Doe, Jane", "222", "S002", "jdoe", "Section B", "2"],
        ["Smith, John", "12345", "S001", "jsmith", "Section A", "0"],
    ]
    assert (tmp_path / "out" / "class_report.html").is_file() and (tmp_path / "out" / "feedback" / "Smith_John.txt").is_file()
    # A second run is refused without --force, because of any report, the feedback folder included.
    for name in ("grades.csv", "gradebook.csv", "class_report.html"):
        (tmp_path / "out" / name).unlink()
    assert _grade(tmp_path) == 1 and "already holds the reports" in capsys.readouterr().err


def test_the_command_exits_1_when_nothing_could_be_graded(tmp_path, fake_grading, capsys):
    (tmp_path / "subs").mkdir()
    (tmp_path / "subs" / "a.ipynb").write_text("not a notebook")
    (tmp_path / "subs" / "b.ipynb").write_text("not a notebook")
    assert _grade(tmp_path) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: none of the 2 submission(s) could be graded") and len(err.strip().splitlines()) == 1
    assert (tmp_path / "out" / "summary.txt").is_file()  # the reports still say what happened


def test_the_command_exits_1_with_one_line_when_a_report_cannot_be_written(tmp_path, fake_grading, capsys, monkeypatch):
    (tmp_path / "subs").mkdir()
    (tmp_path / "subs" / NB).write_text("{}")
    fake_grading[NB] = ["pass", "pass", "pass"]

    def full_disk(path, text, mode=0o644):
        raise OSError(28, "No space left on device", str(path))

    monkeypatch.setattr(gradebook, "write_text_atomic", full_disk)
    assert _grade(tmp_path) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "No space left on device" in err[0]


@pytest.mark.parametrize(
    "option, text, expected",
    [
        ("--roster", None, "no such file"),
        ("--roster", "ID,Section\n1,A\n", "Expected a roster with a column of names"),
        ("--points", '{"gausian_kl": 2}', "Expected exercises of the course"),
    ],
)
def test_a_roster_or_points_file_that_cannot_be_used_stops_the_command_before_grading(
    tmp_path, fake_grading, capsys, option, text, expected
):
    (tmp_path / "subs").mkdir()
    (tmp_path / "subs" / NB).write_text("{}")
    path = tmp_path / "file.csv"
    if text is not None:
        path.write_text(text)
    assert _grade(tmp_path, option, str(path)) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and expected.lower() in err.lower() and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()  # nothing graded, nothing written


def test_the_help_says_what_each_exit_status_means(capsys):
    assert main(["notebooks", "grade", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "--roster CSV" in text and "--points FILE" in text and "--assignment NAME" in text
    assert "not a single submission that could be graded" in text and "is graded as such (status 0)" in text


def test_the_grading_guide_names_every_column_and_option():
    root = Path(__file__).resolve().parent.parent
    guide = (root / "docs" / "grading-guide.md").read_text(encoding="utf-8")
    for column in [*gradebook.CANVAS_COLUMNS, *gradebook.MOODLE_COLUMNS, *gradebook.MOODLE_TAIL, "Points Possible", "total", "max_points"]:
        assert f"`{column}`" in guide, column
    reference = (root / "docs" / "command-line.md").read_text(encoding="utf-8")
    for option in ("--roster", "--points", "--assignment"):
        assert f"`{option}" in guide and f"`{option}" in reference, option
    for name in grading.REPORT_FILES:
        assert name in guide, name
