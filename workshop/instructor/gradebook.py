"""From graded submissions to a gradebook: who handed in what, points, LMS import files, feedback.

:func:`write_all` is what ``notebooks grade`` writes into ``--output`` (after
every submission, so an interrupted run keeps what was graded; each file is
written atomically and a second call with the same results writes the same files):

- ``grades.csv`` (one row per submission and exercise), ``grades.json`` and
  ``summary.txt``, as before, with points added;
- ``gradebook.csv``: one row per student, the points of every exercise, the
  total and the maximum, the identifiers, late and superseded files, notes;
- ``gradebook_canvas.csv``: Canvas's gradebook import (``Student, ID, SIS User ID,
  SIS Login ID, Section``, one column per assignment, a ``Points Possible`` row);
- ``gradebook_moodle.csv``: Moodle's grading worksheet (``Identifier``, ``Grade``,
  ``Last modified (grade)``, ``Feedback comments``), with ``Email address`` and
  ``ID number`` for the gradebook's CSV import;
- ``feedback/<student>.txt`` and ``feedback/index.csv``;
- ``class_report.html`` (:mod:`workshop.instructor.classreport`).

Students are identified by :mod:`workshop.instructor.roster`; points come from
``--points`` (:func:`load_points`). ``docs/grading-guide.md`` describes the files
and how to import them.

Written here: no maintained library writes Canvas's and Moodle's import files
(nbgrader's exporters need nbgrader's course layout and database); the files are
written with the ``csv`` module.
"""

import csv
import io
import json
import math
import os
import re
import unicodedata
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path

from workshop.instructor.files import write_text_atomic
from workshop.instructor.roster import Origin, Student, _key, match_roster, parse_download_name

__all__ = ["build", "load_points", "points_for", "safe_file_name", "write_all"]

PASS, FAIL, NOT_ATTEMPTED, NOT_GRADED = "pass", "fail", "not attempted", "not graded"
CANVAS_COLUMNS = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
MOODLE_COLUMNS = ["Identifier", "Full name", "Email address", "ID number"]
MOODLE_TAIL = ["Grade", "Maximum grade", "Last modified (grade)", "Feedback comments"]


# --------------------------------------------------------------------------- #
# points
# --------------------------------------------------------------------------- #
POINTS_FORMS = (
    'a JSON object {"exercise": points} or a CSV file with the columns exercise,points '
    "(an exercise is e.g. gaussian_kl, check_gaussian_kl or 01/gaussian_kl)"
)


def load_points(path, known=None):
    """Points per exercise from ``path`` (JSON or CSV, :data:`POINTS_FORMS`): ``{key: points}``.

    A key is an exercise (``gaussian_kl``; ``check_`` is dropped) or an exercise of
    one notebook (``01/monte_carlo_kl``, ``01_probability_toolkit/monte_carlo_kl``).
    ``known``, if given, is the set of ``(notebook, exercise)`` pairs of the
    course: a key that names none of them is refused (a typo would otherwise
    silently count 1 point). ValueError names the file and what was expected.
    """
    from workshop.instructor.roster import read_option_file

    path = Path(path)
    text = read_option_file(path, "a points file", "--points", f": {POINTS_FORMS}")
    pairs = []
    if path.suffix.lower() == ".json" or text.lstrip().startswith("{"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise ValueError(f"Expected {POINTS_FORMS} in {path}. Received: invalid JSON ({error})") from None
        if not isinstance(data, dict):
            raise ValueError(f"Expected {POINTS_FORMS} in {path}. Received: a JSON {type(data).__name__}")
        pairs = [(str(k), v, f"key {k!r}") for k, v in data.items()]
    else:
        rows = list(csv.DictReader(io.StringIO(text)))
        fields = {f.strip().lower(): f for f in (rows[0].keys() if rows else [])}
        name_field = fields.get("exercise") or fields.get("checker")
        if not rows or name_field is None or "points" not in fields:
            raise ValueError(f"Expected {POINTS_FORMS} in {path}. Received: columns {list(fields) or 'none'}")
        notebook_field = fields.get("notebook")
        for number, row in enumerate(rows, start=2):
            key = (row.get(name_field) or "").strip()
            if notebook_field and (row.get(notebook_field) or "").strip():
                key = f"{row[notebook_field].strip()}/{key}"
            pairs.append((key, (row.get(fields["points"]) or "").strip(), f"row {number}"))
    points = {}
    for key, value, where in pairs:
        try:
            number = float(value)
        except (TypeError, ValueError):
            number = float("nan")
        if isinstance(value, bool) or not math.isfinite(number) or number < 0:
            raise ValueError(f"Expected a number of points >= 0 for each exercise in {path}. Received: {value!r} at {where}")
        notebook, _, exercise = key.rpartition("/")
        exercise = exercise.strip().removeprefix("check_")
        notebook = notebook.strip().removesuffix(".ipynb")
        if not exercise:
            raise ValueError(f"Expected an exercise name at {where} of {path}. Received: {key!r}")
        if known is not None and not any(_same_notebook(notebook, nb) and exercise == ex for nb, ex in known):
            names = sorted({ex for _, ex in known})
            raise ValueError(f"Expected exercises of the course in {path} ({', '.join(names)}). Received: {key!r} at {where}")
        points[f"{notebook}/{exercise}" if notebook else exercise] = int(number) if number.is_integer() else number
    return points


def _same_notebook(given, notebook):
    """Whether ``given`` (``""``, ``"01"``, ``"01_probability_toolkit"``) names ``notebook``."""
    stem = notebook.removesuffix(".ipynb")
    return not given or given == stem or (given.isdigit() and stem.startswith(given + "_"))


def points_for(points, notebook, exercise):
    """The points ``exercise`` of ``notebook`` is worth under ``points`` (default 1)."""
    points = points or {}
    for key, value in points.items():
        given, _, name = key.rpartition("/")
        if given and name == exercise and _same_notebook(given, notebook):
            return value
    return points.get(exercise, 1)


# --------------------------------------------------------------------------- #
# the gradebook
# --------------------------------------------------------------------------- #
@dataclass
class Entry:
    """One submission as the gradebook sees it."""

    result: object  # grading.SubmissionGrade
    origin: Origin
    student: str  # the name reports use
    key: str  # who it is: "roster line 3", "canvas:12345", "moodle:678", "name:alicesmith", "file:..."
    roster_index: object = None
    points: list = field(default_factory=list)  # per exercise
    max_points: list = field(default_factory=list)
    superseded_by: str = ""
    mtime: object = None

    @property
    def total(self):
        return sum(self.points)

    @property
    def maximum(self):
        return sum(self.max_points)

    @property
    def graded(self):
        """Whether at least one exercise got a verdict (so the total means something)."""
        return any(e.status != NOT_GRADED for e in self.result.exercises)


@dataclass
class Row:
    """One student of the gradebook."""

    name: str
    key: str
    student: object = None  # the roster's Student, if any
    origin: object = None
    entries: dict = field(default_factory=dict)  # notebook -> Entry kept
    superseded: list = field(default_factory=list)  # Entry
    unreadable: list = field(default_factory=list)  # Entry of files that are not a course notebook
    notes: list = field(default_factory=list)
    feedback_file: str = ""

    @property
    def total(self):
        return sum(e.total for e in self.entries.values())

    @property
    def late(self):
        return any(e.origin.late for e in self.entries.values())


@dataclass
class Gradebook:
    entries: list  # Entry per result, in the results' order
    rows: list  # Row per student
    notebooks: list  # course notebooks graded, in order
    exercises: dict  # notebook -> [(exercise, max points)]
    problems: list  # lines for the instructor
    assignment: object = None

    def maximum(self, notebook=None):
        notebooks = [notebook] if notebook else self.notebooks
        return sum(p for nb in notebooks for _, p in self.exercises[nb])


def _mtime(path):
    try:
        return os.stat(path).st_mtime
    except OSError:
        return None


def _natural(text):
    return [int(part) if part.isdigit() else part.casefold() for part in re.split(r"(\d+)", str(text))]


def build(results, roster=None, points=None, assignment=None):
    """Identify the students of ``results`` (``SubmissionGrade`` list) and give points; a :class:`Gradebook`.

    The same student handing in the same notebook twice: the newest file (by
    modification time, then by name: ``(2)`` after ``(1)``) counts; the others are
    kept in the reports, marked superseded.
    """
    # One folder holding every file, several of them of the same notebook: a class's downloads, not a student's folder.
    parents = {Path(r.file).parent for r in results}
    shared_folder = len(parents) == 1 and len({r.notebook for r in results}) < len(results)
    entries = []
    for result in results:
        origin = parse_download_name(result.file, result.notebook or None)
        if origin.lms == "folder" and shared_folder:
            origin = Origin("", "", original=origin.original)  # every file in one folder: the folder is not a student's
        index = match_roster(result.file, origin, roster) if roster else None
        if index is not None:
            name, key = roster[index].name, _roster_key(roster, index)
        elif origin.lms in ("canvas", "moodle") and origin.lms_id:
            name, key = origin.name, f"{origin.lms}:{origin.lms_id}"
        elif origin.name:
            name, key = origin.name, f"name:{_key(origin.name) or origin.name}"
        else:
            name, key = Path(result.file).stem, f"file:{result.file}"
        entry = Entry(result, origin, name, key, index, mtime=_mtime(result.file))
        for e in result.exercises:
            worth = points_for(points, result.notebook, e.exercise)
            entry.max_points.append(worth)
            entry.points.append(worth if e.status == PASS else 0)
        entries.append(entry)

    exercises = {}
    for entry in entries:
        nb = entry.result.notebook
        if nb and entry.result.exercises and nb not in exercises:
            exercises[nb] = [(e.exercise, p) for e, p in zip(entry.result.exercises, entry.max_points)]
    notebooks = sorted(exercises)

    rows, by_key, problems = [], {}, []
    for entry in entries:
        row = by_key.get(entry.key)
        if row is None:
            student = roster[entry.roster_index] if entry.roster_index is not None else None
            row = by_key[entry.key] = Row(entry.student, entry.key, student, entry.origin)
            rows.append(row)
        nb = entry.result.notebook
        if not entry.result.exercises:  # not a notebook, or not one of the course's
            row.unreadable.append(entry)
            continue
        kept = row.entries.get(nb)
        if kept is None:
            row.entries[nb] = entry
            continue
        newer, older = sorted(
            (kept, entry), key=lambda e: (e.mtime is not None, e.mtime or 0, _natural(Path(e.result.file).with_suffix("")))
        )[::-1]
        row.entries[nb] = newer
        older.superseded_by = newer.result.file
        row.superseded.append(older)
    for row in rows:
        for entry in row.superseded:  # a file superseded by one that was itself superseded later
            entry.superseded_by = row.entries[entry.result.notebook].result.file
        if row.unreadable and not row.entries:
            row.notes.append("needs review: " + "; ".join(e.result.message for e in row.unreadable))
        elif row.unreadable:
            row.notes.append("also handed in " + ", ".join(Path(e.result.file).name for e in row.unreadable) + " (not graded)")
        for entry in row.superseded:
            row.notes.append(f"{Path(entry.result.file).name} superseded by {Path(entry.superseded_by).name}")
        for nb, entry in row.entries.items():
            if not entry.graded:
                row.notes.append(f"needs review: {nb} could not be graded ({entry.result.message})")
            elif any(e.status == NOT_GRADED for e in entry.result.exercises):
                row.notes.append(f"needs review: some exercises of {nb} could not be graded")
        if any(e.origin.late for e in row.entries.values()):
            row.notes.append("late (Canvas)")
        if roster and row.student is None:
            problems.append(f"{row.name} ({', '.join(Path(e.result.file).name for e in _row_entries(row))}) is not on the roster")
            row.notes.append("not on the roster")
        if not roster and not row.origin.name:
            problems.append(
                f"{Path(_row_entries(row)[0].result.file).name}: the file name does not say whose it is; give --roster with a files pattern"
            )
            row.notes.append("student not identified")
    if roster:
        present = {row.key for row in rows}
        for index, student in enumerate(roster):
            if _roster_key(roster, index) not in present:
                rows.append(Row(student.name, _roster_key(roster, index), student, None, notes=["no submission"]))
    if assignment and len(notebooks) > 1:
        problems.append(
            f"--assignment {assignment!r} names one column, but {len(notebooks)} notebooks were graded: columns are named after the notebooks"
        )
    return Gradebook(entries, rows, notebooks, exercises, problems, assignment)


def _roster_key(roster, index):
    return f"roster line {roster[index].line or index + 2}"


def _row_entries(row):
    return [*row.entries.values(), *row.superseded, *row.unreadable]


def assignment_columns(book):
    """{notebook: column name in the LMS files}: ``--assignment`` when one notebook was graded, else the notebook's stem."""
    if book.assignment and len(book.notebooks) == 1:
        return {book.notebooks[0]: book.assignment}
    return {nb: nb.removesuffix(".ipynb") for nb in book.notebooks}


def _number(value):
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


# --------------------------------------------------------------------------- #
# file names
# --------------------------------------------------------------------------- #
_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(1, 10)), *(f"lpt{i}" for i in range(1, 10))}


def safe_file_name(name, taken=None, limit=80):
    """``name`` as a file name that is valid everywhere: letters (any script), digits, ``-``, ``_``, ``.``.

    Whitespace and newlines become ``_``; path separators and other characters
    are dropped; Windows' reserved names get a ``_``. ``taken`` (a set of
    case-folded names, updated) makes the name unique with ``-2``, ``-3``, ...
    """
    text = unicodedata.normalize("NFC", str(name))
    text = re.sub(r"\s+", "_", text.strip())
    text = "".join(c for c in text if c.isalnum() or c in "-_.")
    text = text.strip("._")[:limit] or "student"
    if text.lower().split(".")[0] in _RESERVED:
        text += "_"
    if taken is not None:
        base, number = text, 1
        while text.casefold() in taken:
            number += 1
            text = f"{base}-{number}"
        taken.add(text.casefold())
    return text


def _line(text):
    """``text`` on one line (a name with a newline must not break a one-line-per-submission file)."""
    return " ".join(str(text).split())


# --------------------------------------------------------------------------- #
# writing
# --------------------------------------------------------------------------- #
def _cell(value):
    """A text cell that a spreadsheet would run as a formula (``=``, ``+``, ``-``, ``@``) gets a leading ``'`` (OWASP's CSV injection advice).

    A student chooses the file name that can become their name here.
    """
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _csv_text(rows):
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerows([_cell(value) for value in row] for row in rows)
    return buffer.getvalue()


def _ids(row):
    """(Canvas ID, Moodle participant number) of a student: the roster's, else the download name's."""
    student, origin = row.student, row.origin
    canvas = (student.canvas_id if student else "") or (origin.lms_id if origin and origin.lms == "canvas" else "")
    moodle = next((e.origin.lms_id for e in _row_entries(row) if e.origin.lms == "moodle"), "") or (student.participant if student else "")
    return canvas, moodle


def _grades_csv(book):
    rows = [["student", "file", "notebook", "exercise", "status", "message", "points", "max_points", "student_key", "superseded_by"]]
    for entry in book.entries:
        r = entry.result
        if not r.exercises:
            rows.append([entry.student, r.file, r.notebook, "", r.status, r.message, "", "", entry.key, entry.superseded_by])
        for e, got, worth in zip(r.exercises, entry.points, entry.max_points):
            rows.append(
                [
                    entry.student,
                    r.file,
                    r.notebook,
                    e.exercise,
                    e.status,
                    e.message,
                    _number(got),
                    _number(worth),
                    entry.key,
                    entry.superseded_by,
                ]
            )
    return _csv_text(rows)


def _grades_json(book):
    records = []
    for entry in book.entries:
        record = {**asdict(entry.result), "student": entry.student, "passed": entry.result.passed}
        for exercise, got, worth in zip(record["exercises"], entry.points, entry.max_points):
            exercise.update(points=got, max_points=worth)
        record.update(
            points=entry.total,
            max_points=entry.maximum,
            student_key=entry.key,
            late=entry.origin.late,
            superseded_by=entry.superseded_by or None,
        )
        records.append(record)
    return json.dumps(records, indent=2, ensure_ascii=False) + "\n"


def _summary(book):
    from workshop.instructor.grading import _summary_line

    lines = []
    for entry in book.entries:
        line = _summary_line(replace(entry.result, student=entry.student))
        if entry.result.exercises:
            line += f"; {_number(entry.total)}/{_number(entry.maximum)} points"
        if entry.superseded_by:
            line += f"; superseded by {Path(entry.superseded_by).name}"
        flags = [*getattr(entry.result, "flags", []), *(f for e in entry.result.exercises for f in getattr(e, "flags", []))]
        if flags:
            line += "; for the instructor: " + "; ".join(dict.fromkeys(flags))
        lines.append(_line(line))
    return "\n".join(lines) + "\n"


def _gradebook_csv(book):
    header = ["student", "canvas_id", "participant", "sis_id", "login", "email", "section"]
    for nb in book.notebooks:
        stem = nb.removesuffix(".ipynb")
        header += [f"{stem}/{exercise}" for exercise, _ in book.exercises[nb]]
        if len(book.notebooks) > 1:
            header.append(stem)
    header += ["total", "max_points", "files", "late", "notes"]
    rows = [header]
    for row in book.rows:
        s = row.student or Student(row.name)
        line = [row.name, *_ids(row), s.sis_id, s.login, s.email, s.section]
        for nb in book.notebooks:
            entry = row.entries.get(nb)
            if entry is None or not entry.graded:
                line += [""] * (len(book.exercises[nb]) + (len(book.notebooks) > 1))
                continue
            line += [_number(p) for p in entry.points] + ([_number(entry.total)] if len(book.notebooks) > 1 else [])
        graded = any(e.graded for e in row.entries.values())
        files = "; ".join(e.result.file for e in _row_entries(row))
        line += [_number(row.total) if graded else "", _number(book.maximum()), files, "yes" if row.late else "", "; ".join(row.notes)]
        rows.append(line)
    return _csv_text(rows)


def _canvas_csv(book):
    columns = assignment_columns(book)
    rows = [CANVAS_COLUMNS + list(columns.values()), ["Points Possible", "", "", "", ""] + [_number(book.maximum(nb)) for nb in columns]]
    for row in book.rows:
        cells = [_number(row.entries[nb].total) if nb in row.entries and row.entries[nb].graded else "" for nb in columns]
        if not any(cells):
            continue  # nothing to import: a blank cell would change nothing anyway
        s = row.student or Student(row.name)
        rows.append([_line(row.name), _ids(row)[0], s.sis_id, s.login, s.section, *cells])
    return _csv_text(rows)


def _moodle_csv(book, graded_at):
    columns = assignment_columns(book)
    several = len(columns) > 1
    rows = [MOODLE_COLUMNS + (list(columns.values()) if several else []) + MOODLE_TAIL]
    for row in book.rows:
        graded = [nb for nb in columns if nb in row.entries and row.entries[nb].graded]
        if not graded:
            continue
        s = row.student or Student(row.name)
        participant = _ids(row)[1]
        line = [f"Participant {participant}" if participant else "", _line(row.name), s.email, s.sis_id]
        if several:
            line += [_number(row.entries[nb].total) if nb in graded else "" for nb in columns]
        line += [_number(row.total), _number(book.maximum()), graded_at, _short_feedback(row)]
        rows.append(line)
    return _csv_text(rows)


def _short_feedback(row):
    parts = []
    for nb, entry in row.entries.items():
        missed = [e.exercise for e in entry.result.exercises if e.status != PASS]
        text = f"{nb}: {_number(entry.total)} of {_number(entry.maximum)} points"
        parts.append(text + (f" (not passed: {', '.join(missed)})" if missed else ""))
    return "; ".join(parts) + "."


def _student_message(exercise):
    """The message a student may read: an instructor-only case is named as such, never shown (nbgrader #917)."""
    message = exercise.message
    if "instructor check failed" in message:
        return "public checks passed; a stricter instructor check failed (ask your instructor)"
    return message


def _feedback_text(row, book, graded_at):
    lines = [f"Feedback for {_line(row.name)}", f"Graded {graded_at}", ""]
    for nb, entry in row.entries.items():
        r = entry.result
        lines.append(f"{nb} (file: {_line(Path(r.file).name)})")
        for e, got, worth in zip(r.exercises, entry.points, entry.max_points):
            lines.append(f"- {e.exercise}: {e.status}, {_number(got)} of {_number(worth)} point{'s' if worth != 1 else ''}")
            lines.append(f"  {_student_message(e)}")
        lines.append(f"Total for {nb}: {_number(entry.total)} of {_number(entry.maximum)} points")
        if r.status == "graded with problems" or (r.status == "failed to run"):
            lines.append(f"Problems while running your notebook: {r.message}")
        lines.append("")
    if len(row.entries) > 1:
        lines += [f"Total: {_number(row.total)} of {_number(sum(e.maximum for e in row.entries.values()))} points", ""]
    for entry in row.unreadable:
        lines += [_line(entry.result.message), ""]
    for entry in row.superseded:
        lines += [
            f"{_line(Path(entry.result.file).name)} was not counted: a newer file, {_line(Path(entry.superseded_by).name)}, was graded.",
            "",
        ]
    if row.late:
        lines += ["Canvas marked this submission late.", ""]
    return "\n".join(lines).rstrip("\n") + "\n"


def _write_feedback(book, out, graded_at):
    folder = out / "feedback"
    folder.mkdir(exist_ok=True)
    index_path = folder / "index.csv"
    previous = set()
    if index_path.exists():
        with open(index_path, newline="", encoding="utf-8") as handle:
            previous = {row.get("file", "") for row in csv.DictReader(handle)}
    taken, index = set(), [["student", "canvas_id", "participant", "email", "file"]]
    for row in book.rows:
        if not (row.entries or row.unreadable):
            continue
        name = safe_file_name(row.name, taken)
        row.feedback_file = f"{name}.txt"
        path = folder / row.feedback_file
        write_text_atomic(path, _feedback_text(row, book, graded_at))
        index.append([row.name, *_ids(row), row.student.email if row.student else "", row.feedback_file])
    for stale in previous - {row.feedback_file for row in book.rows}:  # written by an earlier call, for a name that changed
        if stale and "/" not in stale and stale.endswith(".txt"):
            (folder / stale).unlink(missing_ok=True)
    write_text_atomic(index_path, _csv_text(index))
    return folder


def write_all(results, out_dir, roster=None, points=None, assignment=None, graded_at=None):
    """Write every report of :mod:`workshop.instructor.grading` into ``out_dir``; return (paths, :class:`Gradebook`).

    Each file is written atomically; calling again with more results replaces
    them all (feedback files of names that changed are removed). ``roster`` is a
    list of :class:`Student` (:func:`load_roster`), ``points`` a dict
    (:func:`load_points`), ``assignment`` the column name in the LMS files.
    """
    from workshop.instructor import classreport

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    graded_at = graded_at or datetime.now(timezone.utc).replace(microsecond=0).isoformat()
    book = build(results, roster, points, assignment)
    written = []
    for name, text in (
        ("grades.csv", _grades_csv(book)),
        ("grades.json", _grades_json(book)),
        ("summary.txt", _summary(book)),
        ("gradebook.csv", _gradebook_csv(book)),
        ("gradebook_canvas.csv", _canvas_csv(book)),
        ("gradebook_moodle.csv", _moodle_csv(book, graded_at)),
    ):
        write_text_atomic(out / name, text)
        written.append(out / name)
    written.append(_write_feedback(book, out, graded_at))
    write_text_atomic(out / "class_report.html", classreport.render(book, graded_at))
    written.append(out / "class_report.html")
    return written, book
