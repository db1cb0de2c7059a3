"""Grade submitted student notebooks: ``python -m workshop notebooks grade SUBMISSION.ipynb... --output DIR``.

Each submission runs top to bottom in a fresh kernel (fast mode, checks not
strict, a time limit per cell; a cell that errors or runs out of time is
reported and the run goes on). Then, in the same kernel, the grader replays
every check cell *of the solution notebook*, found by the checker it calls
(``checks.nb01.check_kl_divergence(...)``, the nbgrader ``grade_id`` of the
student's check cell), against whatever the student's code defined. So a
moved, deleted or duplicated cell does not change the grade: only the
student's definitions count, never the outputs they left in the notebook.

Per exercise the verdict is ``pass``, ``fail`` or ``not attempted`` (the stub's
``NotImplementedError``, or the exercise's code missing) with the check's
one-line message. Where an exercise passes its public check, instructor-only
extra cases (:mod:`workshop.instructor.grading_extra`, stricter than the students' checks,
never printed in a student notebook) run too; the message then says
"public and instructor checks passed", or "public checks passed" where the
exercise has no extra cases. A file that is not a notebook, a notebook that is
not one of the course's, or a kernel that dies gets one clear line, and the
other submissions are graded all the same.

Writes into ``--output`` (:mod:`workshop.instructor.gradebook`): ``grades.csv``
(one row per submission and exercise, with its points), ``grades.json``
(everything), ``summary.txt`` (one line per submission), ``gradebook.csv`` (one
row per student: points per exercise, total, maximum), ``gradebook_canvas.csv``
and ``gradebook_moodle.csv`` (to import into Canvas and Moodle),
``feedback/<student>.txt`` and ``class_report.html`` (pass rates, the mistakes
made and how often, a histogram of totals). Students are identified from the
names Canvas, Moodle and Colab give downloads, or by ``--roster``; ``--points``
sets the points per exercise (default 1). The command refuses, before grading
anything, a submission file that does not exist, a solutions folder without
notebooks, a roster or points file it cannot read, and an ``--output`` folder
that already holds reports (which an instructor may have edited) unless
``--force``. It exits 0 when the class was graded, whatever the students
scored, and 1 when nothing could be graded at all.

Written here rather than with nbgrader's or otter-grader's autograder: neither
replays the solution's check cells, which name the student's mistake, against
the student's own definitions. Kernels are run with nbclient.
"""

import ast
import copy
import json
import os
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from workshop.instructor.delivery import SETUP_TAG, check_calls

__all__ = ["ExerciseGrade", "SubmissionGrade", "cli_main", "expected_exercises", "grade", "grade_submission", "replay_check"]

DEFAULT_CELL_TIMEOUT = 120
_MARK = "WORKSHOP-GRADE "
PASS, FAIL, NOT_ATTEMPTED, NOT_GRADED = "pass", "fail", "not attempted", "not graded"


@dataclass
class ExerciseGrade:
    exercise: str
    checker: str
    status: str
    message: str


@dataclass
class SubmissionGrade:
    student: str
    file: str
    notebook: str
    status: str  # "graded", "graded with problems", "not a notebook", "unknown notebook", "failed to run"
    message: str
    exercises: list = field(default_factory=list)
    seconds: float = 0.0

    @property
    def passed(self):
        return sum(e.status == PASS for e in self.exercises)


def _root():
    candidate = Path(__file__).resolve().parent.parent
    return candidate if (candidate / "solutions").is_dir() else Path.cwd()


def _source(cell):
    return cell.source if isinstance(cell.source, str) else "".join(cell.source)


def expected_exercises(solution_nb):
    """[(checker, module, check cell source)] of a solution notebook, first occurrence of each checker."""
    found, seen = [], set()
    for cell in solution_nb.cells:
        if cell.cell_type != "code":
            continue
        source = _source(cell)
        calls = check_calls(source)
        if len(calls) != 1:  # a cell calling several checkers is replayed call by call below
            for module, checker in calls:
                if checker not in seen:
                    seen.add(checker)
                    line = next(l for l in source.splitlines() if f".{checker}(" in l)
                    found.append((checker, module, line.strip()))
            continue
        module, checker = calls[0]
        if checker not in seen:
            seen.add(checker)
            found.append((checker, module, source))
    return found


# --------------------------------------------------------------------------- #
# inside the kernel
# --------------------------------------------------------------------------- #
def replay_check(checker, source, namespace, extra=True):
    """Run a check cell's code in the student's namespace and print one ``WORKSHOP-GRADE`` JSON line.

    Called by the cells the grader appends to a submission; returns the verdict dict.
    """
    from workshop.checks import _core

    results = []
    original_finish, original_strict = _core._finish, _core._strict

    def finish(name, status, text, details, verbose, strict):
        result = original_finish(name, status, text, details, False, False)
        results.append(result)
        return result

    verdict = {"checker": checker}
    if "checks" not in namespace:  # the student's import cell deleted: the check still runs
        import workshop.checks

        namespace["checks"] = workshop.checks
    _core._finish, _core._strict = finish, (lambda strict: False)
    try:
        tree = ast.parse(source)
        exec(compile(tree, f"<check {checker}>", "exec"), namespace)  # noqa: S102 - the course's own check cell
    except NameError as error:
        verdict.update(status=NOT_ATTEMPTED, message=f"the exercise's code was not found ({error}); its cell was deleted or not run.")
    except Exception as error:  # a check cell that could not run counts against the submission, with the reason
        verdict.update(status=FAIL, message=f"the check could not run: {type(error).__name__}: {error}")
    finally:
        _core._finish, _core._strict = original_finish, original_strict
    if "status" not in verdict:
        if not results:
            verdict.update(status=FAIL, message="the check gave no verdict.")
        else:
            failed = [r for r in results if not r.passed]
            result = failed[0] if failed else results[-1]
            status = {"passed": PASS, "not_implemented": NOT_ATTEMPTED}.get(result.status, FAIL)
            verdict.update(status=status, message=result.message)
    if verdict["status"] == PASS and extra:
        verdict.update(_extra_cases(checker, namespace))
    print(_MARK + json.dumps(verdict), flush=True)
    return verdict


def _extra_cases(checker, namespace):
    from workshop.instructor import grading_extra

    run = grading_extra.EXTRA_CHECKS.get(checker)
    if run is None:
        return {"message": "public checks passed"}
    try:
        ok, message = run(namespace)
    except Exception as error:  # the student's code raised on an instructor case
        ok, message = False, f"raised {type(error).__name__}: {error}"
    if ok:
        return {"message": "public and instructor checks passed"}
    return {"status": FAIL, "message": f"public checks passed; instructor check failed: {message}"}


# --------------------------------------------------------------------------- #
# running one submission
# --------------------------------------------------------------------------- #
def _course_notebooks(solutions_dir):
    return {p.name: p for p in sorted(Path(solutions_dir).glob("*.ipynb"))}


def _identify(path, nb, course):
    """The solution notebook a submission belongs to: by file name, else by the checkers it calls."""
    for name in course:
        if path.name == name or path.name.startswith(name[: -len(".ipynb")]):
            return name
    prefix = re.match(r"(\d\d)[_-]", path.name)
    if prefix:
        matches = [n for n in course if n.startswith(prefix.group(1) + "_")]
        if len(matches) == 1:
            return matches[0]
    modules = {m for cell in nb.cells if cell.cell_type == "code" for m, _ in check_calls(_source(cell))}
    matches = [n for n in course if f"nb{n[:2]}" in modules]
    return matches[0] if len(matches) == 1 else None


def _student_name(path, notebook):
    """The student's name as the path says (Canvas, Moodle, Colab, folder): :func:`workshop.instructor.roster.student_name`."""
    from workshop.instructor.roster import student_name

    return student_name(path, notebook)


def _run_once(nb, cell_timeout, env, workdir):
    """One fresh kernel, top to bottom; returns the index of a cell that timed out, or None."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellTimeoutError

    state = {"cell": None}
    # nbclient makes (and so owns, times out and shuts down) the kernel manager; one handed
    # in as ``km=`` is a blocking one, whose cells never time out and whose kernel outlives the run.
    client = NotebookClient(
        nb,
        timeout=cell_timeout,
        allow_errors=True,
        record_timing=False,
        kernel_name="python3",
        kernel_manager_class=_current_env_kernel_manager_class(),
        on_cell_start=lambda cell, cell_index: state.update(cell=cell_index),
        resources={"metadata": {"path": str(workdir)}},
    )
    try:
        client.execute(env=env)
        return None
    except CellTimeoutError:
        return state["cell"]


def _current_env_kernel_manager_class():
    """An AsyncKernelManager whose ``python3`` is the interpreter running this code."""
    import ipykernel.kernelspec
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import AsyncKernelManager
    from traitlets import default

    class CurrentEnvKernelSpecManager(KernelSpecManager):
        def get_kernel_spec(self, kernel_name):
            return self.kernel_spec_class(resource_dir=ipykernel.kernelspec.RESOURCES, **ipykernel.kernelspec.get_kernel_dict())

    class CurrentEnvKernelManager(AsyncKernelManager):
        @default("kernel_spec_manager")
        def _kernel_spec_manager_default(self):
            return CurrentEnvKernelSpecManager(data_dir=self.data_dir)

    return CurrentEnvKernelManager


def _run(nb, cell_timeout, fast, workdir, max_timeouts=3):
    """Execute in a fresh kernel; return (executed notebook, [problem lines]).

    A cell that runs past ``cell_timeout`` is reported and replaced by a comment,
    and the notebook runs again from the top in a new kernel (interrupting a
    kernel is not reliable), up to ``max_timeouts`` times.
    """
    env = dict(os.environ)
    env["WORKSHOP_FAST"] = "1" if fast else "0"
    env["WORKSHOP_STRICT_CHECKS"] = "0"
    env.setdefault("MPLBACKEND", "Agg")
    problems = []
    original = nb
    for _ in range(max_timeouts + 1):
        attempt = copy.deepcopy(original)
        stuck = _run_once(attempt, cell_timeout, env, workdir)
        if stuck is None:
            break
        if original.cells[stuck].get("metadata", {}).get("workshop_grader"):
            problems.append(f"a grading cell timed out after {cell_timeout} s")
            break
        problems.append(f"cell {stuck + 1} timed out after {cell_timeout} s (skipped when grading)")
        original = copy.deepcopy(original)
        original.cells[stuck].source = f"# this cell ran past {cell_timeout} s and was skipped by the grader"
    else:
        raise RuntimeError(f"more than {max_timeouts} cells timed out")
    nb = attempt
    for index, cell in enumerate(nb.cells):
        if cell.get("metadata", {}).get("workshop_grader"):
            continue
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error" and output.get("ename") not in ("NotImplementedError", "CheckFailed"):
                problems.append(f"cell {index + 1} raised {output.get('ename')}: {_one_line(output.get('evalue', ''))}")
    return nb, problems


def _one_line(text, limit=160):
    text = " ".join(re.sub(r"\x1b\[[0-9;]*m", "", str(text)).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def grade_submission(path, solutions_dir=None, cell_timeout=DEFAULT_CELL_TIMEOUT, fast=True, extra=True):
    """Grade one submission; never raises for a bad submission (the result says what went wrong)."""
    path = Path(path)
    solutions_dir = Path(solutions_dir) if solutions_dir is not None else _root() / "solutions"
    course = _course_notebooks(solutions_dir)
    start = time.perf_counter()
    try:
        nb = nbformat.read(str(path), as_version=4)
        nbformat.validate(nb)
    except Exception as error:  # nbformat raises several unrelated types
        return SubmissionGrade(
            path.stem,
            str(path),
            "",
            "not a notebook",
            f"{path.name} is not a Jupyter notebook ({type(error).__name__}: {_one_line(error, 100)}); not graded.",
        )
    notebook = _identify(path, nb, course)
    if notebook is None:
        return SubmissionGrade(
            path.stem,
            str(path),
            "",
            "unknown notebook",
            f"{path.name} is not one of the course notebooks ({', '.join(course) or 'none found'}); not graded.",
        )
    student = _student_name(path, notebook)
    expected = expected_exercises(nbformat.read(str(course[notebook]), as_version=4))
    cells = []
    for cell in nb.cells:
        if cell.cell_type == "code" and SETUP_TAG in cell.get("metadata", {}).get("tags", []):
            continue  # the Colab installer: nothing to do here
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        cells.append(cell)
    for checker, _, source in expected:
        replay = nbformat.v4.new_code_cell(
            "from workshop.instructor.grading import replay_check as _workshop_replay_check\n"
            f"_workshop_replay_check({checker!r}, {source!r}, globals(), extra={bool(extra)!r})"
        )
        replay.metadata["workshop_grader"] = True
        cells.append(replay)
    nb.cells = cells
    result = SubmissionGrade(student, str(path), notebook, "graded", "")
    try:
        executed, problems = _run(nb, cell_timeout, fast, path.parent)
    except Exception as error:  # a kernel that died or would not start
        result.status = "failed to run"
        result.message = f"the notebook could not be run ({type(error).__name__}: {_one_line(error, 120)}); exercises not graded."
        executed, problems = nb, []
    verdicts = {}
    for cell in executed.cells:
        if not cell.get("metadata", {}).get("workshop_grader"):
            continue
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream":
                for line in output.get("text", "").splitlines():
                    if line.startswith(_MARK):
                        verdict = json.loads(line[len(_MARK) :])
                        verdicts[verdict["checker"]] = verdict
            elif output.get("output_type") == "error" and result.status == "graded":
                problems.append(f"a grading cell timed out or failed ({output.get('ename')})")
    for checker, _, _ in expected:
        exercise = checker.removeprefix("check_")
        verdict = verdicts.get(checker)
        if verdict is None:
            why = "the notebook could not be run" if result.status == "failed to run" else "its check did not finish (time limit?)"
            result.exercises.append(ExerciseGrade(exercise, checker, NOT_GRADED, why))
        else:
            result.exercises.append(ExerciseGrade(exercise, checker, verdict["status"], _one_line(verdict["message"], 300)))
    if problems and result.status == "graded":
        result.status = "graded with problems"
    if result.status != "failed to run":
        result.message = "; ".join(dict.fromkeys(problems)) or "ran without errors"
    result.seconds = round(time.perf_counter() - start, 1)
    return result


# --------------------------------------------------------------------------- #
# reports
# --------------------------------------------------------------------------- #
def _summary_line(result):
    if not result.exercises:
        return f"{result.student} ({Path(result.file).name}): {result.message}"
    counts = {s: sum(e.status == s for e in result.exercises) for s in (PASS, FAIL, NOT_ATTEMPTED, NOT_GRADED)}
    parts = [f"{counts[PASS]}/{len(result.exercises)} passed"]
    parts += [f"{n} {s}" for s, n in counts.items() if n and s != PASS]
    return f"{result.student} ({result.notebook}): " + ", ".join(parts) + f"; {result.status}: {result.message}"


def write_reports(results, out_dir, **options):
    """Write every report into ``out_dir`` (atomically; again after each submission is fine); return their paths.

    ``grades.csv``, ``grades.json`` and ``summary.txt`` come first. ``options``:
    ``roster``, ``points``, ``assignment`` (:func:`workshop.instructor.gradebook.write_all`).
    """
    from workshop.instructor.gradebook import write_all

    written, _ = write_all(results, out_dir, **options)
    return written


def grade(paths, out_dir, solutions_dir=None, cell_timeout=DEFAULT_CELL_TIMEOUT, fast=True, extra=True, stream=None, progress=None):
    """Grade every submission in turn (one failing never stops the others) and write the reports.

    Progress goes, one line as each submission starts and one as it ends, to
    ``progress`` (a function taking a line) if given, else to ``stream`` (default: stdout).
    """
    if progress is None:
        stream = stream or sys.stdout

        def progress(line):
            print(line, file=stream, flush=True)

    results = []
    for position, path in enumerate(paths, start=1):
        progress(f"[{position}/{len(paths)}] grading {path} ...")
        result = grade_submission(path, solutions_dir, cell_timeout, fast, extra)
        results.append(result)
        progress(f"[{position}/{len(paths)}] {_summary_line(result)} ({result.seconds:.0f} s)")
    written = write_reports(results, out_dir)
    progress(f"wrote {', '.join(str(p) for p in written)}")
    return results


REPORT_FILES = (
    "grades.csv",
    "grades.json",
    "summary.txt",
    "gradebook.csv",
    "gradebook_canvas.csv",
    "gradebook_moodle.csv",
    "class_report.html",
    "feedback",
)


def check_inputs(paths, out_dir, solutions_dir=None, force=False):
    """Refuse, before any grading, what would make the command fail or lose a file (``ValueError``).

    A submission that does not exist, a solutions folder without notebooks, an
    ``out_dir`` that is a file, and reports of an earlier grading in ``out_dir``
    (unless ``force``: they may hold an instructor's edits).
    """
    missing = [str(p) for p in paths if not Path(p).exists()]
    if missing:
        shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        raise ValueError(f"Expected submission notebooks. Received: {shown}: no such file")
    solutions = Path(solutions_dir) if solutions_dir is not None else _root() / "solutions"
    if not _course_notebooks(solutions):
        raise ValueError(f"Expected the course's solution notebooks in {solutions} (--solutions). Received: no *.ipynb there")
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ValueError(f"Expected --output to be a folder. Received: {out}, an existing file")
    existing = [name for name in REPORT_FILES if (out / name).exists()]
    if existing and not force:
        raise ValueError(
            f"{out} already holds the reports of an earlier grading ({', '.join(existing)}); "
            "choose another --output or pass --force to replace them"
        )


def _known_exercises(solutions_dir):
    """{(notebook, exercise)} of every solution notebook, for checking a ``--points`` file."""
    solutions = Path(solutions_dir) if solutions_dir is not None else _root() / "solutions"
    known = set()
    for name, path in _course_notebooks(solutions).items():
        for checker, _, _ in expected_exercises(nbformat.read(str(path), as_version=4)):
            known.add((name, checker.removeprefix("check_")))
    return known


def report_options(args):
    """``write_reports``'s options from parsed arguments; ValueError for a roster or points file that cannot be used."""
    from workshop.instructor import gradebook, roster

    roster_file, points_file = getattr(args, "roster", None), getattr(args, "points", None)
    return {
        "roster": roster.load_roster(roster_file) if roster_file else None,
        "points": gradebook.load_points(points_file, _known_exercises(args.solutions)) if points_file else None,
        "assignment": getattr(args, "assignment", None),
    }


def run_from_args(args, progress=None):
    """Run ``notebooks grade`` for parsed arguments; return the exit status.

    0 when the class was graded (whatever the students scored); 1, with one
    ``error:`` line on stderr, when not a single submission could be graded
    (none is a course notebook, or no kernel ran). Bad inputs raise ValueError
    before any grading. ``progress``, if given, gets the progress lines (else
    they go to stdout); the last line, on stdout, says how many were graded and
    where the reports are.
    """
    paths = [Path(p) for p in args.submissions]
    check_inputs(paths, args.output, args.solutions, force=getattr(args, "force", False))
    options = report_options(args)

    results = grade(paths, args.output, args.solutions, args.timeout, fast=not args.full, extra=not args.no_extra, progress=progress)
    from workshop.instructor.gradebook import write_all

    _, book = write_all(results, args.output, **options)  # again, with the roster and points
    for problem in book.problems:
        (progress or print)(f"note: {problem}")
    graded = [e for e in book.entries if e.graded]
    students = sum(1 for row in book.rows if any(e.graded for e in row.entries.values()))
    if not graded:
        print(
            f"error: none of the {len(results)} submission(s) could be graded (see {Path(args.output) / 'summary.txt'})",
            file=sys.stderr,
        )
        return 1
    print(
        f"graded {len(graded)} of {len(results)} submission(s), {students} student(s); reports in {args.output}: {', '.join(REPORT_FILES)}"
    )
    return 0


def cli_main(argv=None):
    """``python -m workshop.instructor.grading SUBMISSION... --output DIR`` (same as ``notebooks grade``)."""
    from workshop.instructor.cli import main

    argv = sys.argv[1:] if argv is None else list(argv)
    return main(["notebooks", "grade", *argv])


if __name__ == "__main__":
    sys.exit(cli_main())
