"""The student edition: ``python -m workshop release OUT --repository URL --ref TAG``.

Writes into ``OUT`` what an instructor hands to students, a folder meant to become
its own git repository (nbgrader's ``release/`` tree, otter's ``student/`` folder):

- ``notebooks/``: the student notebooks, built afresh from ``solutions/`` exactly as
  ``notebooks build`` builds them, except that the Colab badge and the Colab install
  cell point at *the edition's* repository, pinned to ``--ref`` (a tag or a commit);
- ``workshop/``: the students' library, ``workshop/checks/``, ``workshop/data/`` and
  ``workshop/pretrained/`` (what the notebooks import and load), without
  ``workshop/instructor/`` (training, the notebook tool, grading with its
  instructor-only cases, the site); ``workshop/__main__.py`` is replaced by
  :mod:`workshop.instructor.student_main`, so ``python -m workshop`` says what the
  edition is instead of failing;
- ``README.md`` (the repository's, without the instructor's and developers'
  material; the course map links ``notebooks/`` and Colab), ``requirements.txt``
  (the libraries the notebooks need, not the test or site tools), ``pyproject.toml``
  (so ``pip install`` and Colab's ``pip install git+...`` work), ``LICENSE``,
  ``.gitignore``, and ``.workshop-release.json``, the list of what was written.

Nothing that gives answers away: before anything is written, every file of the
edition is scanned (:func:`answer_leaks`) for the solution markers, for any line of
a solution region (:func:`workshop.instructor.authoring.check.secret_lines`) and
for instructor-only paths; a hit stops the command with the file named. The
library's own ``.py`` files are exempt from the line scan (not from the markers):
the check cells compare a student's function with the library's, so the library
holds a reference version of several exercises by design.

``OUT`` must be new, empty (a fresh ``git clone`` of an empty repository, holding
only ``.git``, counts as empty) or an earlier release (it has
``.workshop-release.json``), which only ``--force`` replaces: then the files that
release listed are deleted and the new ones written; files it did not list are kept,
and one that the new edition would overwrite stops the command before anything
changes. The edition is staged in a temporary folder next to ``OUT`` first, so a
failure leaves ``OUT`` as it was.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from workshop.instructor import course

__all__ = ["MANIFEST", "ReleaseError", "answer_leaks", "edition_files", "release", "student_readme", "student_requirements"]

MANIFEST = ".workshop-release.json"
# What the notebooks need; the tests', the site's and the notebook tool's pins stay behind.
STUDENT_REQUIREMENTS = ("tensorflow-cpu", "tensorflow", "keras", "numpy", "matplotlib", "scipy", "scikit-learn", "jupyter", "ipykernel")
BRANCH_NAMES = ("main", "master", "HEAD", "develop", "dev", "trunk", "gh-pages")
README_SECTIONS = ("Quick start", "Course map", "Licence", "MNIST licence and attribution")
_REF = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/+-]*$")
_MARKERS = re.compile(rb"(BEGIN|END) SOLUTION")
GITIGNORE = "__pycache__/\n*.egg-info/\n.ipynb_checkpoints/\n.venv/\n"


class ReleaseError(ValueError):
    """The edition cannot be written: a bad argument, a refused output folder, or an answer it would leak."""


def _root():
    candidate = Path(__file__).resolve().parent.parent.parent
    return candidate if (candidate / "solutions").is_dir() else Path.cwd()


# --------------------------------------------------------------------------- #
# where the edition's notebooks point
# --------------------------------------------------------------------------- #
def normalize_repository(address):
    """``https://github.com/OWNER/NAME`` for that address, ``...NAME.git`` or ``git@github.com:OWNER/NAME.git``."""
    text = str(address).strip()
    ssh = re.fullmatch(r"git@github\.com:([^/\s]+/[^/\s]+?)(?:\.git)?/?", text)
    if ssh:
        text = "https://github.com/" + ssh.group(1)
    return "https://github.com/" + course.github_path(text)  # ValueError for anything else


def repository_from_git(folder):
    """The ``origin`` remote of the git repository ``folder`` (normalized), or None."""
    folder = Path(folder)
    if not (folder / ".git").exists():
        return None
    try:
        found = subprocess.run(["git", "-C", str(folder), "remote", "get-url", "origin"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    address = found.stdout.strip() if found.returncode == 0 else ""
    return address or None


def check_pin(repository, ref, allow_branch=False):
    """The (repository, ref) the edition's badges and install cell use, or ReleaseError saying what is wrong."""
    if not repository:
        raise ReleaseError(
            "Expected --repository https://github.com/OWNER/NAME (the student edition's own repository), or OUT as a git "
            "clone whose origin remote is that repository. Received: neither."
        )
    try:
        repository = normalize_repository(repository)
    except ValueError:
        raise ReleaseError(f"Expected --repository https://github.com/OWNER/NAME. Received: {repository!r}") from None
    if repository.lower() == normalize_repository(course.COURSE_REPOSITORY).lower():
        raise ReleaseError(
            f"Expected the student edition's own repository. Received: {repository}, the course repository of "
            "workshop/instructor/course.py, which holds solutions/: Colab would install from it and its badges open it."
        )
    if not ref:
        if not allow_branch:
            raise ReleaseError(
                "Expected --ref TAG_OR_COMMIT: the tag (e.g. v2026.1) or commit of the edition's repository that the Colab "
                "badges and install cell pin. Received: no --ref. (--allow-branch releases against 'main'.)"
            )
        ref = "main"
    if not _REF.match(ref) or ".." in ref or ref.endswith((".", "/", ".lock")):
        raise ReleaseError(f"Expected --ref to be a git tag, branch or commit name. Received: {ref!r}")
    if ref in BRANCH_NAMES and not allow_branch:
        raise ReleaseError(
            f"Expected --ref to pin a tag or a commit. Received: {ref!r}, a branch: students' Colab installs would follow "
            "whatever is pushed there later. Tag the release (git tag v2026.1) and pass --ref v2026.1, or pass --allow-branch."
        )
    return repository, ref


# --------------------------------------------------------------------------- #
# what the edition holds
# --------------------------------------------------------------------------- #
def _sections(text):
    """(preamble, [(heading, body)]) of a Markdown text split at its ``## `` headings."""
    parts = re.split(r"^## (.+?)\s*$", text, flags=re.MULTILINE)
    return parts[0], list(zip(parts[1::2], parts[2::2]))


def student_readme(readme, repository, ref):
    """The edition's README: the repository's title, introduction, set-up, course map and licences.

    The list of audiences (instructors, developers), the package layout and the tests are
    left out; the course map links ``notebooks/`` (never ``solutions/``) and Colab.
    """
    preamble, sections = _sections(readme)
    found = dict(sections)
    if "Course map" not in found:
        raise ReleaseError("README.md: expected a '## Course map' section (the edition's README is made from it). Received: none.")
    intro = []
    for paragraph in preamble.strip().split("\n\n"):
        if paragraph.lstrip().startswith("- **"):  # the audiences list: students, instructors, developers
            break
        intro.append(paragraph.strip())
    intro.append(
        "This is the **student edition**: the notebooks in `notebooks/`, with the exercises left for you, and the "
        "`workshop` package they import. Start with [Quick start](#quick-start) and the [course map](#course-map)."
    )
    out = ["\n\n".join(intro), ""]
    for heading in README_SECTIONS:
        if heading not in found:
            continue
        body = found[heading].strip()
        if heading == "Course map":
            body = _student_course_map(body, repository, ref)
        out += [f"## {heading}", "", body, ""]
    return "\n".join(out).rstrip() + "\n"


def _student_course_map(body, repository, ref):
    lines = []
    for line in body.splitlines():
        match = re.match(r"^(\|\s*\d+\s*\|\s*\[[^\]]*\]\()(?:solutions|notebooks)/([^)]+\.ipynb)\)(.*)$", line)
        if match:
            head, name, rest = match.groups()
            colab = course.colab_url(name, repository, ref)
            line = f"{head}notebooks/{name}) ([Colab]({colab})){rest}"
        lines.append(line)
    paragraphs = "\n".join(lines).split("\n\n")
    return "\n\n".join(p for p in paragraphs if "solutions/" not in p).strip()


def _requirement_name(line):
    return re.split(r"[=<>!~;\[\s]", line.strip(), maxsplit=1)[0].lower()


def student_requirements(text):
    """The repository's pinned requirements that the notebooks need, and ``-e .`` (the package itself)."""
    kept = [
        line.strip()
        for line in text.splitlines()
        if line.strip() and not line.startswith("#") and _requirement_name(line) in STUDENT_REQUIREMENTS
    ]
    if not any(_requirement_name(line) == "keras" for line in kept):
        raise ReleaseError("requirements.txt: expected a pinned keras line. Received: none.")
    header = "# Pinned versions for Python 3.11 on a CPU. `pip install -r requirements.txt` from this folder\n# installs these and the `workshop` package itself.\n"
    return header + "\n".join(kept) + "\n-e .\n"


def _toml_value(value):
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{key} = {_toml_value(item)}" for key, item in value.items()) + " }"
    return json.dumps(value)


def student_pyproject(pyproject_text):
    """The edition's pyproject.toml: the package's metadata and dependencies; no scripts, no instructor extras."""
    try:
        import tomllib
    except ImportError:  # Python 3.10
        raise ReleaseError("Expected Python 3.11 or later to read pyproject.toml (tomllib). Received: Python 3.10.") from None
    project = tomllib.loads(pyproject_text)["project"]
    fields = [
        f"{key} = {_toml_value(project[key])}"
        for key in ("name", "version", "description", "readme", "requires-python", "license", "dependencies")
        if key in project
    ]
    extras = project.get("optional-dependencies", {})
    lines = ["[build-system]", 'requires = ["setuptools>=68"]', 'build-backend = "setuptools.build_meta"', "", "[project]", *fields, ""]
    if "tensorflow" in extras:
        lines += ["[project.optional-dependencies]", f"tensorflow = {_toml_value(extras['tensorflow'])}", ""]
    lines += [
        "[tool.setuptools.packages.find]",
        'include = ["workshop*"]',
        "",
        "[tool.setuptools.package-data]",
        'workshop = ["data/*.npz", "data/*.md", "pretrained/*"]',
    ]
    return "\n".join(lines) + "\n"


def _package_files(package):
    """{path in the edition: bytes} of the package, without instructor/, caches and compiled files."""
    files = {}
    for path in sorted(package.rglob("*")):
        relative = path.relative_to(package)
        if not path.is_file() or relative.parts[0] == "instructor" or "__pycache__" in relative.parts or path.suffix == ".pyc":
            continue
        files[f"workshop/{relative.as_posix()}"] = path.read_bytes()
    files["workshop/__main__.py"] = (package / "instructor" / "student_main.py").read_bytes()
    return files


def edition_files(root, repository, ref):
    """{relative path: bytes} of everything the edition holds (not yet scanned; see :func:`answer_leaks`)."""
    from workshop.instructor.authoring.files import dumps, read, solution_files
    from workshop.instructor.authoring.markers import strip_solutions
    from workshop.instructor.delivery import deliver

    root = Path(root)
    files = {}
    for path in solution_files(root / "solutions"):
        student = deliver(strip_solutions(read(path), filename=str(path)), path.name, repository, ref)
        files[f"notebooks/{path.name}"] = dumps(student).encode("utf-8")
    for name in ("README.md", "requirements.txt", "pyproject.toml", "LICENSE"):
        if not (root / name).is_file():
            raise ReleaseError(f"Expected {root / name}. Received: no such file.")
    files["README.md"] = student_readme((root / "README.md").read_text(encoding="utf-8"), repository, ref).encode("utf-8")
    files["requirements.txt"] = student_requirements((root / "requirements.txt").read_text(encoding="utf-8")).encode("utf-8")
    files["pyproject.toml"] = student_pyproject((root / "pyproject.toml").read_text(encoding="utf-8")).encode("utf-8")
    files["LICENSE"] = (root / "LICENSE").read_bytes()
    files[".gitignore"] = GITIGNORE.encode("utf-8")
    files.update(_package_files(root / "workshop"))
    return files


# --------------------------------------------------------------------------- #
# the answer scan
# --------------------------------------------------------------------------- #
def solution_secrets(solutions_dir):
    """{answer line: solution notebook name}: every line found only inside solution regions, in no notebook outside one."""
    from workshop.instructor.authoring.check import secret_lines
    from workshop.instructor.authoring.files import read, solution_files

    notebooks = {path.name: read(path) for path in solution_files(solutions_dir)}
    shared = secret_lines(*notebooks.values())  # a line one notebook shows is no secret of another
    return {line: name for name, nb in notebooks.items() for line in sorted(secret_lines(nb) & shared)}


def _library_code(relative):
    return relative.startswith("workshop/") and relative.endswith(".py")


def _text_lines(relative, data):
    """(where, stripped line) of a file's text; a notebook's cell sources and outputs; nothing for binary data."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return
    if relative.endswith(".ipynb"):
        for index, cell in enumerate(json.loads(text).get("cells", [])):
            source = cell.get("source", "")
            parts = [source if isinstance(source, str) else "".join(source)]
            for output in cell.get("outputs", []):
                parts.append(json.dumps(output))
            for part in parts:
                for line in part.split("\n"):
                    yield f"{relative}, cell {index + 1}", line.strip()
        return
    for number, line in enumerate(text.splitlines(), start=1):
        yield f"{relative}, line {number}", line.strip()


def answer_leaks(files, secrets):
    """What in ``files`` ({relative path: bytes}) gives an answer away, one sentence each; empty when nothing does.

    A solution marker anywhere; a line of a solution region (``secrets``) in any file but the
    library's ``.py`` files; ``solutions/``, ``workshop/instructor/`` or ``grading_extra``; a notebook
    cell with outputs.
    """
    found = []
    for relative, data in sorted(files.items()):
        if relative.startswith("solutions/") or relative.startswith("workshop/instructor/") or "grading_extra" in relative:
            found.append(f"{relative}: instructor-only material")
        match = _MARKERS.search(data)
        if match:
            found.append(f"{relative}: a solution marker ({match.group(0).decode()})")
        if relative.endswith(".ipynb"):
            for index, cell in enumerate(json.loads(data).get("cells", [])):
                if cell.get("outputs"):
                    found.append(f"{relative}, cell {index + 1}: stored outputs")
        if _library_code(relative):
            continue
        for where, line in _text_lines(relative, data):
            if line in secrets:
                found.append(f"{where}: the answer line {line!r} of solutions/{secrets[line]}")
    return found


# --------------------------------------------------------------------------- #
# writing
# --------------------------------------------------------------------------- #
def _previous_release(out, force):
    """The files an earlier release in ``out`` wrote ([] for a new or empty folder); ReleaseError when refused."""
    if out.exists() and not out.is_dir():
        raise ReleaseError(f"Expected OUT to be a folder. Received: {out}, an existing file.")
    if not out.exists():
        return []
    entries = {entry.name for entry in out.iterdir()} - {".git"}
    if not entries:
        return []
    if MANIFEST not in entries:
        raise ReleaseError(
            f"Expected OUT to be a new or empty folder, or an earlier student edition (with {MANIFEST}). "
            f"Received: {out}, which holds other files; choose another folder."
        )
    if not force:
        raise ReleaseError(f"{out} holds an earlier student edition; pass --force to replace it (files it did not write are kept).")
    try:
        listed = json.loads((out / MANIFEST).read_text(encoding="utf-8"))["files"]
    except (OSError, ValueError, KeyError, TypeError):
        raise ReleaseError(f"{out / MANIFEST}: expected the JSON list of an earlier release's files; it is damaged.") from None
    return [name for name in listed if isinstance(name, str) and ".." not in Path(name).parts and not Path(name).is_absolute()]


def _source_commit(root):
    try:
        found = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return found.stdout.strip() if found.returncode == 0 else None


def _write(out, files, previous):
    out.parent.mkdir(parents=True, exist_ok=True)
    clashes = sorted(name for name in files if name not in previous and (out / name).exists())
    if clashes:
        raise ReleaseError(f"{out / clashes[0]}: exists and is not part of the earlier release; move it away first (nothing was changed).")
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.release-", dir=out.parent))
    try:
        for name, data in files.items():
            (staging / name).parent.mkdir(parents=True, exist_ok=True)
            (staging / name).write_bytes(data)
            os.chmod(staging / name, 0o644)
        if not out.exists():
            os.chmod(staging, 0o755)
            os.replace(staging, out)
            return
        for name in previous:
            target = out / name
            if target.is_file() or target.is_symlink():
                target.unlink()
        for folder in sorted({(out / name).parent for name in previous}, key=lambda p: len(p.parts), reverse=True):
            while folder != out and folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
                folder = folder.parent
        for name in sorted(files, key=lambda n: n == MANIFEST):  # the list last: it says the edition is complete
            (out / name).parent.mkdir(parents=True, exist_ok=True)
            os.replace(staging / name, out / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def release(out, repository=None, ref=None, root=None, force=False, allow_branch=False, stream=None):
    """Write the student edition into ``out``; return the list of files written (relative paths).

    Args:
        out: the edition's folder: new, empty, or an earlier release (with ``force``).
        repository: ``https://github.com/OWNER/NAME`` of the edition's own repository
            (default: the ``origin`` remote of ``out`` when it is a git clone).
        ref: the tag or commit of that repository that Colab badges and installs pin;
            a branch (``main``) only with ``allow_branch``.
        root: the course repository (default: the one holding this package).

    Raises:
        ReleaseError: a bad argument, a refused ``out``, or an edition that would give an answer away.
    """
    stream = stream or sys.stdout
    root = Path(root) if root is not None else _root()
    out = Path(out).absolute()
    previous = _previous_release(out, force)
    repository, ref = check_pin(repository or repository_from_git(out), ref, allow_branch)
    files = edition_files(root, repository, ref)
    leaks = answer_leaks(files, solution_secrets(root / "solutions"))
    if leaks:
        raise ReleaseError(
            f"refusing to write {out}: the edition would give answers away ({len(leaks)} finding(s)): " + "; ".join(leaks[:5])
        )
    manifest = {"repository": repository, "ref": ref, "source_commit": _source_commit(root), "files": sorted([*files, MANIFEST])}
    files[MANIFEST] = (json.dumps(manifest, indent=1) + "\n").encode("utf-8")
    _write(out, files, previous)
    notebooks = sum(name.startswith("notebooks/") for name in files)
    print(
        f"wrote the student edition into {out}: {notebooks} notebooks, {len(files)} files; Colab pinned to {repository} at {ref}",
        file=stream,
    )
    return sorted(files)
