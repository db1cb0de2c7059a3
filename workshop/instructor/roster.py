"""Who handed in what: students from Canvas's, Moodle's and Colab's download names, and ``--roster``.

:func:`parse_download_name` reads what a submission's path says (Canvas's
``lastfirst_[LATE_]userid_submissionid_file.ipynb``, Moodle's
``Full Name_123456_assignsubmission_file_`` folders and flat files, Colab's
``Copy of X.ipynb`` and ``X (1).ipynb``, a folder per student, a name around the
notebook's). :func:`load_roster` reads the class list an instructor already has
(Canvas's or Moodle's export, or a small CSV of our own) and :func:`match_roster`
finds a submission's student in it.

Written here: no maintained library reads these download names (nbgrader's
``zip_collect`` takes a regular expression per course and nbgrader's database).
"""

import csv
import fnmatch
import io
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["ROSTER_FORMS", "Origin", "Student", "clean_file_name", "load_roster", "match_roster", "parse_download_name", "student_name"]


# --------------------------------------------------------------------------- #
# what a download's name says
# --------------------------------------------------------------------------- #
@dataclass(frozen=True)
class Origin:
    """What a submission's path says about who handed it in.

    Attributes:
        name: the student's name as the path gives it ("" when it gives none).
        lms: ``"canvas"``, ``"moodle"``, ``"folder"`` (a folder named after the
            student), ``"file"`` (a name in the file name) or ``""`` (nothing).
        lms_id: Canvas's user ID or Moodle's participant number, else "".
        late: Canvas marked the submission ``LATE``.
        original: the file name the student uploaded.
    """

    name: str
    lms: str
    lms_id: str = ""
    late: bool = False
    original: str = ""


# Canvas: lastfirst_[LATE_]userid_submissionid_original.ipynb (the name part is the sortable name,
# lower case, letters and digits only; a resubmitted file's original name may end in -1, -2, ...).
_CANVAS = re.compile(r"^(?P<name>[^\W_]+)_(?:(?P<late>LATE)_)?(?P<id>\d+)_(?P<submission>\d+)_(?P<original>.+)$")
# Moodle: "Full Name_123456_assignsubmission_file_" folders, or the same prefix on a flat file.
_MOODLE_FOLDER = re.compile(r"^(?P<name>.+?)_(?P<id>\d+)_assignsubmission_[a-z]+_?$", re.DOTALL)
_MOODLE_FILE = re.compile(r"^(?P<name>.+?)_(?P<id>\d+)_assignsubmission_file_(?P<original>.+)$", re.DOTALL)
# Colab and browsers: "Copy of X.ipynb", "Copy of Copy of X.ipynb", "X (1).ipynb"; Canvas: "X-1.ipynb".
_COPY_OF = re.compile(r"^(?:copy of\s+)+", re.IGNORECASE)
_NUMBERED = re.compile(r"(?:\s*\(\d+\)|-\d+)+$")
_DECORATIONS = re.compile(r"\(\d+\)|\bcopy of\b", re.IGNORECASE)  # the same, anywhere in the rest of a name
_SEPARATORS = "_- .,"


def clean_file_name(name):
    """``name`` without Colab's ``Copy of`` and the `` (1)``/``-1`` a download or resubmission adds."""
    stem, suffix = (name[: -len(".ipynb")], ".ipynb") if name.lower().endswith(".ipynb") else (name, "")
    stem = _NUMBERED.sub("", _COPY_OF.sub("", stem.strip())).strip()
    return stem + suffix


def parse_download_name(path, notebook=None):
    """Who handed in ``path``, as far as its name and folder say (an :class:`Origin`).

    ``notebook`` is the course notebook it was identified as (e.g.
    ``"05_vae_mnist.ipynb"``), used to find a name written around the notebook's.
    """
    path = Path(path)
    folder = _MOODLE_FOLDER.match(path.parent.name)
    if folder:
        return Origin(folder["name"].strip(), "moodle", folder["id"], False, path.name)
    flat = _MOODLE_FILE.match(path.name)
    if flat:
        return Origin(flat["name"].strip(), "moodle", flat["id"], False, flat["original"])
    canvas = _CANVAS.match(path.name)
    if canvas and not (notebook and path.name.startswith(notebook[:3])):  # "05_vae_mnist_1_2.ipynb" is not Canvas's
        return Origin(canvas["name"], "canvas", canvas["id"], bool(canvas["late"]), canvas["original"])
    original = clean_file_name(path.name)
    stem = original[: -len(".ipynb")] if original.lower().endswith(".ipynb") else Path(original).stem
    if notebook:
        course = notebook[: -len(".ipynb")]
        lowered = stem.lower()
        if lowered == course.lower():
            return Origin(path.parent.name, "folder", original=original) if path.parent.name else Origin("", "", original=original)
        at = lowered.find(course.lower())
        if at >= 0:  # "05_vae_mnist_bob", "Bob Smith - 05_vae_mnist"
            rest = " ".join(_DECORATIONS.sub(" ", stem[:at] + " " + stem[at + len(course) :]).split()).strip(_SEPARATORS)
            if rest:
                return Origin(rest, "file", original=original)
            return Origin(path.parent.name, "folder", original=original)
    return Origin(stem, "file", original=original)


def student_name(path, notebook):
    """The student's name for one submission, from its path alone (the roster, if any, comes later)."""
    origin = parse_download_name(path, notebook)
    return origin.name or Path(path).stem


# --------------------------------------------------------------------------- #
# the roster
# --------------------------------------------------------------------------- #
@dataclass(frozen=True)
class Student:
    """One row of ``--roster``: the student's name and whatever identifies them to the LMS."""

    name: str
    canvas_id: str = ""  # Canvas's ID: the user ID in Canvas's download names
    participant: str = ""  # Moodle's participant number: the worksheet's "Participant 123456", in Moodle's download names
    sis_id: str = ""  # Canvas's SIS User ID; Moodle's ID number
    login: str = ""  # Canvas's SIS Login ID; Moodle's username
    email: str = ""
    section: str = ""
    files: tuple = ()  # file-name patterns (fnmatch, ";"-separated in the CSV)
    line: int = field(default=0, compare=False)  # its line in the roster file


# Header (lower case) -> field. Canvas's gradebook export, Moodle's gradebook export and grading
# worksheet, and the course's own form (student, canvas_id, participant, sis_id, login, email, section, files).
_ROSTER_HEADERS = {
    "student": "name",
    "name": "name",
    "full name": "name",
    "id": "canvas_id",
    "canvas_id": "canvas_id",
    "identifier": "participant",
    "participant": "participant",
    "sis user id": "sis_id",
    "sis_id": "sis_id",
    "id number": "sis_id",
    "sis login id": "login",
    "login": "login",
    "username": "login",
    "email address": "email",
    "email": "email",
    "section": "section",
    "file": "files",
    "files": "files",
    "file_pattern": "files",
}
ROSTER_FORMS = (
    "Canvas's gradebook export (Student, ID, SIS User ID, SIS Login ID, Section), "
    "Moodle's gradebook export (First name, Last name, ID number, Email address), "
    "Moodle's grading worksheet (Identifier, Full name, Email address) "
    "or student,canvas_id,participant,sis_id,login,email,section,files"
)


def read_option_file(path, expected, option, forms=""):
    """The text of a file an option names (UTF-8, a BOM allowed); ValueError naming the file and what was expected."""
    try:
        return Path(path).read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ValueError(f"Expected {expected} ({option}){forms}. Received: {path}: no such file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ValueError(f"Expected {expected} in UTF-8 ({option}). Received: {path}: {error}") from None


def load_roster(path):
    """The students of ``path``, a CSV file (:data:`ROSTER_FORMS`); ValueError naming the file when it is not one."""
    path = Path(path)
    text = read_option_file(path, "a roster CSV file", "--roster")
    rows = list(csv.reader(io.StringIO(text)))
    if not rows:
        raise ValueError(f"Expected a roster CSV file with a header row ({ROSTER_FORMS}). Received: {path}, an empty file")
    header = [h.strip().lower() for h in rows[0]]
    columns = {}
    for index, name in enumerate(header):
        if name in _ROSTER_HEADERS and _ROSTER_HEADERS[name] not in columns:
            columns[_ROSTER_HEADERS[name]] = index
    first, last = (header.index(n) if n in header else None for n in ("first name", "last name"))
    if "name" not in columns and (first is None or last is None):
        raise ValueError(f"Expected a roster with a column of names ({ROSTER_FORMS}). Received: {path} with columns {rows[0]}")
    students, seen = [], {}
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue

        def cell(key, row=row):
            index = columns.get(key)
            return row[index].strip() if index is not None and index < len(row) else ""

        name = cell("name") or " ".join(row[i].strip() for i in (first, last) if i is not None and i < len(row)).strip()
        if not name or "points possible" in name.lower() or name.lower() in ("student, test", "test student"):
            continue  # Canvas's second row and its Student View account
        participant = re.sub(r"^participant\s*", "", cell("participant"), flags=re.IGNORECASE)
        files = tuple(p.strip() for p in cell("files").split(";") if p.strip())
        student = Student(
            name, cell("canvas_id"), participant, cell("sis_id"), cell("login"), cell("email"), cell("section"), files, number
        )
        for key in ("canvas_id", "participant", "sis_id", "email"):
            value = getattr(student, key)
            if value and (key, value.lower()) in seen:
                raise ValueError(
                    f"Expected one row per student in the roster {path}. Received: {key} {value!r} on rows "
                    f"{seen[key, value.lower()]} and {number}"
                )
            if value:
                seen[key, value.lower()] = number
        students.append(student)
    if not students:
        raise ValueError(f"Expected at least one student in the roster {path}. Received: a header and no student rows")
    return students


def _key(text):
    """``text`` folded for comparing names: accents dropped, lower case, letters and digits only."""
    decomposed = unicodedata.normalize("NFKD", str(text))
    return "".join(c for c in decomposed if c.isalnum() and not unicodedata.combining(c)).casefold()


def _name_keys(student):
    keys = {_key(student.name)}
    if "," in student.name:  # Canvas's sortable "Last, First" and the "First Last" a student writes
        last, _, first = student.name.partition(",")
        keys.add(_key(first + last))
    for value in (student.login, student.sis_id, student.email.split("@")[0]):
        if value:
            keys.add(_key(value))
    keys.discard("")
    return keys


def match_roster(path, origin, roster):
    """The index in ``roster`` of the student who handed in ``path``, or None.

    In order: a ``files`` pattern that matches the file name or path; the
    LMS's ID in the download name; a unique match of the name (accents, case,
    spaces and punctuation ignored; ``Last, First`` also read as ``First Last``)
    with a roster name, login, SIS ID or the part of an email before ``@``.
    """
    path = Path(path)
    for index, student in enumerate(roster):
        for pattern in student.files:
            if fnmatch.fnmatch(path.name.casefold(), pattern.casefold()) or fnmatch.fnmatch(path.as_posix().casefold(), pattern.casefold()):
                return index
    if origin.lms_id:
        field_name = "canvas_id" if origin.lms == "canvas" else "participant"
        found = [i for i, s in enumerate(roster) if getattr(s, field_name) == origin.lms_id]
        if len(found) == 1:
            return found[0]
    wanted = _key(origin.name)
    if wanted:
        found = [i for i, s in enumerate(roster) if wanted in _name_keys(s)]
        if len(found) == 1:
            return found[0]
    return None
