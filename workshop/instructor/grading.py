"""Grade submitted student notebooks: ``python -m workshop notebooks grade SUBMISSION.ipynb... --output DIR``.

Design: the student's code runs in its own kernel; every verdict is computed in
this process; only values cross between the two.

1. **Run.** Of a submission's code cells, only those the exercises need run
   (:func:`plan_cells`: cells that train, draw or run a check are skipped unless
   they bind a name an exercise's definition reads), in fast mode, in a
   :class:`~workshop.instructor.sandbox.Sandbox`: scrubbed environment, private
   folder, read-only package copy without :mod:`workshop.instructor`, resource
   limits, Linux namespaces where available, every process killed afterwards. A
   cell that errors is reported and the run goes on; a cell that runs past
   ``--timeout`` or kills the kernel is skipped and the kernel restarted with the
   cells that ran before it (:class:`_Runner`), so partial work is graded.
2. **Judge.** For each exercise of the solution notebook (found by the checker
   its check cell calls, ``checks.nb01.check_kl_divergence(kl_divergence)``),
   :func:`workshop.instructor.probes.run_exercise` runs that public checker *here*
   on a stand-in for the student's object: each call crosses to the kernel as a
   request, the student's code runs there, and the outputs come back as arrays
   (``.npz`` without pickle). References, named mistakes, statistical tolerances
   and the instructor-only cases (:mod:`workshop.instructor.grading_extra`) stay
   in this process. A call that runs past ``--call-timeout`` or kills the kernel
   makes that exercise ``not graded`` with the reason (the kernel is restarted
   for the others). So a moved, deleted or duplicated cell, printed text, saved
   outputs or a student's changes to ``workshop.checks`` do not change a grade.

Per exercise the verdict is ``pass``, ``fail``, ``not attempted`` (the stub's
``NotImplementedError``, or the exercise's code missing) or ``not graded``, with
the check's one-line message, and ``flags`` for the instructor (an answer that
calls the package's own implementation; the verdict is not changed). A file
that is not a notebook, an empty or non-Python notebook, a notebook that is not
one of the course's (or not ``--notebook``) gets one clear line, and the other
submissions are graded all the same. ``-j N`` grades N submissions at once
(threads, each driving its own kernel; checkers run one at a time).

Writes into ``--output``, again after each submission (so an interrupted run
keeps what it graded) (:mod:`workshop.instructor.gradebook`): ``grades.csv``
(one row per submission and exercise, with its points), ``grades.json``
(everything), ``summary.txt`` (one line per submission), ``gradebook.csv`` (one
row per student: points per exercise, total, maximum), ``gradebook_canvas.csv``
and ``gradebook_moodle.csv`` (to import into Canvas and Moodle),
``feedback/<student>.txt`` and ``class_report.html`` (pass rates, the mistakes
made and how often, a histogram of totals). Students are identified from the
names Canvas, Moodle and Colab give downloads, or by ``--roster``; ``--points``
sets the points per exercise (default 1). The command refuses, before grading
anything, a submission file that does not exist, a solutions folder without
notebooks, a roster or points file it cannot read, an ``--output`` that is a file or cannot
be written, and an ``--output`` folder
that already holds reports (which an instructor may have edited) unless
``--force``. It exits 0 when the class was graded, whatever the students
scored, and 1 when nothing could be graded at all.

Written here rather than with nbgrader's or otter-grader's autograder: both run
their tests inside the student's kernel, which is what this avoids, and neither
replays the solution's check cells, which name the student's mistake. Kernels
are IPython kernels driven with jupyter_client.
"""

import ast
import os
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from workshop.instructor.delivery import SETUP_TAG, check_calls

__all__ = [
    "ExerciseGrade",
    "Settings",
    "SubmissionGrade",
    "cli_main",
    "exercise_targets",
    "expected_exercises",
    "grade",
    "grade_submission",
    "plan_cells",
]

DEFAULT_CELL_TIMEOUT = 120
DEFAULT_CALL_TIMEOUT = 120  # one call of the student's code by a check (train_step's runs a short fit)
PASS, FAIL, NOT_ATTEMPTED, NOT_GRADED = "pass", "fail", "not attempted", "not graded"


@dataclass
class ExerciseGrade:
    exercise: str
    checker: str
    status: str
    message: str
    flags: list = field(default_factory=list)  # for the instructor, e.g. "calls the package's own ..."; verdict unchanged


@dataclass
class SubmissionGrade:
    student: str
    file: str
    notebook: str
    status: str  # "graded", "graded with problems", "not a notebook", "unknown notebook", "failed to run"
    message: str
    exercises: list = field(default_factory=list)
    seconds: float = 0.0
    isolation: str = ""  # how the kernel was walled off: "namespace" or "plain" (see workshop.instructor.sandbox)
    flags: list = field(default_factory=list)  # for the instructor: code that reaches into the check machinery

    @property
    def passed(self):
        return sum(e.status == PASS for e in self.exercises)


def _root():
    candidate = Path(__file__).resolve().parents[2]  # workshop/instructor/grading.py -> the repository
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
# which cells to run
# --------------------------------------------------------------------------- #
SKIP_TAG = "workshop-skip-grading"
KEEP_TAG = "workshop-keep-grading"
# Calls that train, draw or print summaries: a cell making one is not run when grading unless it
# defines a name an exercise needs (or carries KEEP_TAG).
_EXPENSIVE_CALLS = {"fit", "evaluate", "predict", "summary", "show", "imshow", "savefig", "subplots", "figure", "display"}
_EXPENSIVE_PREFIXES = ("plt.", "plots.", "training.", "pretrained.")


def exercise_targets(solution_nb):
    """[(checker, check module, name the check is called with)] of a solution notebook, in order, once each."""
    found, seen = [], set()
    for cell in solution_nb.cells:
        if cell.cell_type != "code":
            continue
        try:
            tree = _parse(_source(cell))
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr.startswith("check_")):
                continue
            module = node.func.value
            if not (isinstance(module, ast.Attribute) and re.fullmatch(r"nb\d\d", module.attr)):
                continue
            if node.args and isinstance(node.args[0], ast.Name) and node.func.attr not in seen:
                seen.add(node.func.attr)
                found.append((node.func.attr, module.attr, node.args[0].id))
    return found


def _parse(source):
    from workshop.instructor.probes import parse

    return parse(source)


def _bound_and_used(source):
    """(names a cell binds at its top level, names it reads anywhere, dotted names of the calls it makes) or None."""
    try:
        tree = _parse(source)
    except SyntaxError:
        return None
    bound, used, calls = set(), set(), set()

    def top(node):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
            return
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                bound.add(alias.asname or alias.name.split(".")[0])
            return
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            bound.add(node.id)
        for child in ast.iter_child_nodes(node):
            if not isinstance(child, ast.Lambda):
                top(child)

    for statement in tree.body:
        top(statement)
    used = _free_names(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            parts, func = [], node.func
            while isinstance(func, ast.Attribute):
                parts.append(func.attr)
                func = func.value
            if isinstance(func, ast.Name):
                parts.append(func.id)
            calls.add(".".join(reversed(parts)))
    return bound, used, calls


def _free_names(tree):
    """Names a piece of code reads from outside: in a function, its own arguments and assignments are not counted."""
    free = set()

    def visit(node, local):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            arguments = node.args
            inner = {a.arg for a in (*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs)}
            inner |= {a.arg for a in (arguments.vararg, arguments.kwarg) if a is not None}
            body = node.body if isinstance(node.body, list) else [node.body]
            for child in body:
                for sub in ast.walk(child):
                    if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store):
                        inner.add(sub.id)
                    elif isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                        inner.add(sub.name)
                    elif isinstance(sub, (ast.Import, ast.ImportFrom)):
                        inner.update(a.asname or a.name.split(".")[0] for a in sub.names)
            for default in (*arguments.defaults, *arguments.kw_defaults):
                if default is not None:
                    visit(default, local)
            for decorator in getattr(node, "decorator_list", ()):
                visit(decorator, local)
            for child in body:
                visit(child, local | inner)
            return
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id not in local:
            free.add(node.id)
        for child in ast.iter_child_nodes(node):
            visit(child, local)

    visit(tree, frozenset())
    return free


def plan_cells(sources, targets, tags=None):
    """Indices of the cells to run when grading: what defines the exercises and what they need.

    A cell is skipped when it only trains, draws or runs a check (its calls: ``fit``,
    ``plt.*``, ``plots.*``, ``checks.nbNN.check_*`` ...) or carries ``SKIP_TAG``, unless it binds a
    name that an exercise's definition (or a cell it needs) reads, or carries ``KEEP_TAG``.
    Cells after the last one that binds a needed name are not run. A cell that does not parse is run
    (its error is reported).
    """
    tags = tags or [()] * len(sources)
    facts = [_bound_and_used(s) for s in sources]
    needed = set(targets)
    changed = True
    while changed:
        changed = False
        for fact in facts:
            if fact and fact[0] & needed and not fact[1] <= needed:
                needed |= fact[1]
                changed = True
    last = max((i for i, f in enumerate(facts) if f is None or f[0] & needed), default=-1)
    plan, missing = [], set()  # missing: names only skipped cells bind
    for index, (fact, cell_tags) in enumerate(zip(facts, tags)):
        if index > last:
            break
        if fact is None or KEEP_TAG in cell_tags or fact[0] & needed:
            plan.append(index)
            if fact:
                missing -= fact[0]
            continue
        calls = fact[2]
        expensive = SKIP_TAG in cell_tags or any(
            c.rsplit(".", 1)[-1] in _EXPENSIVE_CALLS
            or c.startswith(_EXPENSIVE_PREFIXES)
            or ".check_" in c
            or "train" in c.rsplit(".", 1)[-1]
            for c in calls
        )
        if expensive or fact[1] & missing:  # also a cell that reads what a skipped cell made: it would only fail
            missing |= fact[0]
        else:
            plan.append(index)
            missing -= fact[0]
    return plan


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


def _one_line(text, limit=160):
    text = " ".join(re.sub(r"\x1b\[[0-9;]*m", "", str(text)).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass
class Settings:
    """How submissions are run; see ``notebooks grade --help``."""

    cell_timeout: float = DEFAULT_CELL_TIMEOUT
    call_timeout: float = DEFAULT_CALL_TIMEOUT
    fast: bool = True
    extra: bool = True
    isolation: str = "auto"  # "auto", "namespace" or "plain"
    limits: object = None  # sandbox.Limits
    hidden: tuple = ()  # folders the kernel must not see (submissions, reports)
    threads: int = 0  # TensorFlow / OpenMP threads per kernel, 0: their default
    notebook: str = ""  # the assignment: a submission of another notebook is not graded
    max_restarts: int = 3
    seed: int = None  # of the instructor's random cases; None: a new one per grading run
    snapshot: object = None  # sandbox.PackageSnapshot the kernels' package copies come from; None: taken by grade()


class _Runner:
    """Runs a submission's planned cells in a sandbox; restarts it and skips a cell that hangs or kills the kernel."""

    def __init__(self, sandbox, sources, plan, settings):
        self.sandbox, self.sources, self.plan, self.settings = sandbox, sources, plan, settings
        self.ran, self.culprits, self.problems, self.restarts = [], set(), [], 0

    def run(self):
        self.sandbox.start()
        self._run(self.plan)

    def _run(self, indices):
        for index in indices:
            if index in self.culprits:
                continue
            outcome = self.sandbox.execute(self.sources[index], self.settings.cell_timeout)
            if outcome.status in ("timeout", "dead"):
                what = f"ran past {self.settings.cell_timeout:g} s" if outcome.status == "timeout" else "killed the kernel"
                self.problems.append(f"cell {index + 1} {what} (skipped when grading)")
                self.culprits.add(index)
                self.recover()
                continue
            if outcome.status == "error" and outcome.ename not in ("NotImplementedError", "CheckFailed"):
                self.problems.append(f"cell {index + 1} raised {outcome.ename}: {_one_line(outcome.evalue)}")
            self.ran.append(index)

    def recover(self):
        """A fresh kernel with every cell that ran so far run again (a cell that fails this time is dropped too)."""
        if self.restarts >= self.settings.max_restarts:
            raise RuntimeError(f"the kernel had to be restarted more than {self.settings.max_restarts} times")
        self.restarts += 1
        self.sandbox.start()
        ran, self.ran = self.ran, []
        problems = len(self.problems)
        self._run(ran)
        del self.problems[problems:]  # the same errors again


def _status_of(check_status):
    return {"passed": PASS, "not_implemented": NOT_ATTEMPTED, "missing": NOT_ATTEMPTED}.get(check_status, FAIL)


def _not_graded_result(path, status, message, notebook=""):
    return SubmissionGrade(_student_name(path, notebook) if notebook else path.stem, str(path), notebook, status, message)


def _read(path, course, settings):
    """(notebook, solution name) or a SubmissionGrade saying why it is not graded."""
    try:
        if path.stat().st_size > 64 * 1024 * 1024:
            raise ValueError("larger than 64 MB")
        nb = nbformat.read(str(path), as_version=4)
        nbformat.validate(nb)
    except Exception as error:  # nbformat raises several unrelated types
        return None, _not_graded_result(
            path, "not a notebook", f"{path.name} is not a Jupyter notebook ({type(error).__name__}: {_one_line(error, 100)}); not graded."
        )
    if not any(cell.cell_type == "code" and _source(cell).strip() for cell in nb.cells):
        return None, _not_graded_result(path, "empty notebook", f"{path.name} has no code; not graded.")
    kernel = nb.metadata.get("kernelspec", {}) or {}
    language = str(kernel.get("language") or nb.metadata.get("language_info", {}).get("name") or "python")
    if language.lower() != "python":
        return None, _not_graded_result(
            path,
            "wrong kernel",
            f"{path.name} is a {language} notebook (kernel {kernel.get('name', '?')}); the course's are Python; not graded.",
        )
    notebook = _identify(path, nb, course)
    if notebook is None:
        return None, _not_graded_result(
            path, "unknown notebook", f"{path.name} is not one of the course notebooks ({', '.join(course) or 'none found'}); not graded."
        )
    if settings.notebook and notebook != settings.notebook:
        return None, _not_graded_result(
            path, "another assignment", f"{path.name} is {notebook}, not the assignment {settings.notebook}; not graded.", notebook
        )
    return nb, notebook


def grade_submission(path, solutions_dir=None, cell_timeout=DEFAULT_CELL_TIMEOUT, fast=True, extra=True, settings=None):
    """Grade one submission; never raises for a bad submission (the result says what went wrong).

    The submission's needed cells (:func:`plan_cells`) run in a :class:`~workshop.instructor.sandbox.Sandbox`;
    each exercise is then judged in this process by :func:`workshop.instructor.probes.run_exercise`.
    """
    from workshop.instructor import probes
    from workshop.instructor.sandbox import Sandbox

    if settings is None:
        settings = Settings(cell_timeout=cell_timeout, fast=fast, extra=extra)
    path = Path(path)
    solutions_dir = Path(solutions_dir) if solutions_dir is not None else _root() / "solutions"
    course = _course_notebooks(solutions_dir)
    start = time.perf_counter()
    nb, notebook = _read(path, course, settings)
    if nb is None:
        notebook.seconds = round(time.perf_counter() - start, 1)
        return notebook
    targets = exercise_targets(nbformat.read(str(course[notebook]), as_version=4))
    cells = [c for c in nb.cells if c.cell_type == "code" and SETUP_TAG not in c.get("metadata", {}).get("tags", [])]
    sources = [_source(c) for c in cells]
    plan = plan_cells(sources, [t for _, _, t in targets], [c.get("metadata", {}).get("tags", []) for c in cells])
    result = SubmissionGrade(_student_name(path, notebook), str(path), notebook, "graded", "")
    result.flags = probes.tampering_flags(sources)
    problems = []
    sandbox = None
    try:
        sandbox = Sandbox(
            settings.limits, settings.isolation, settings.fast, settings.hidden, settings.threads or None, snapshot=settings.snapshot
        )
        result.isolation = sandbox.isolation
        runner = _Runner(sandbox, sources, plan, settings)
        session = probes.Session(sandbox, settings.call_timeout)
        try:
            runner.run()
            problems += runner.problems
        except Exception as error:  # the kernel would not start, or kept dying
            problems += runner.problems
            result.status = "failed to run"
            result.message = f"the notebook could not be run ({type(error).__name__}: {_one_line(error, 120)}); exercises not graded."
        for checker, module, target in targets:
            exercise = checker.removeprefix("check_")
            flags = probes.find_flags(sources, target)
            if result.status == "failed to run":
                result.exercises.append(ExerciseGrade(exercise, checker, NOT_GRADED, "the notebook could not be run", flags))
                continue
            try:
                if not sandbox.alive():
                    runner.recover()
                status, message = probes.run_exercise(session, checker, module, target, extra=settings.extra)
                grade_ = ExerciseGrade(exercise, checker, _status_of(status), _one_line(message, 300), flags)
            except probes.ProbeAborted as error:
                grade_ = ExerciseGrade(exercise, checker, NOT_GRADED, _one_line(f"not graded: {error}", 300), flags)
                problems.append(f"checking {exercise}: {error}")
            except Exception as error:  # the grader's own failure on this exercise: say so, go on
                grade_ = ExerciseGrade(
                    exercise, checker, NOT_GRADED, _one_line(f"the grader failed: {type(error).__name__}: {error}", 300), flags
                )
                problems.append(f"checking {exercise}: the grader failed ({type(error).__name__})")
            result.exercises.append(grade_)
        if not sandbox.package_intact():
            problems.append("the package copy was changed during the run (it was thrown away)")
    except Exception as error:  # the sandbox could not be prepared
        result.status = "failed to run"
        result.message = f"the notebook could not be run ({type(error).__name__}: {_one_line(error, 120)}); exercises not graded."
    finally:
        if sandbox is not None:
            sandbox.close()
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


def _printable(text):
    """A name for a progress line: control characters (a newline in a file name) shown escaped."""
    return "".join(c if c.isprintable() else ascii(c)[1:-1] for c in str(text))


def grade(
    paths,
    out_dir,
    solutions_dir=None,
    cell_timeout=DEFAULT_CELL_TIMEOUT,
    fast=True,
    extra=True,
    stream=None,
    progress=None,
    jobs=1,
    settings=None,
    report_options=None,
):
    """Grade every submission (one failing never stops the others), ``jobs`` at a time, and write the reports.

    The reports are rewritten after each submission, so an interrupted run keeps what it
    graded. Progress goes, one line as each submission starts and one as it ends
    (``[k/N]``: k is the submission's position when it starts, the number finished when it ends), to ``progress`` (a function taking a line) if
    given, else to ``stream`` (default: stdout). ``settings`` (:class:`Settings`) overrides
    ``cell_timeout``, ``fast`` and ``extra``; ``report_options`` go to :func:`write_reports`
    (roster, points, assignment).
    """
    import concurrent.futures
    import threading

    if progress is None:
        stream = stream or sys.stdout

        def progress(line):
            print(line, file=stream, flush=True)

    if settings is None:
        settings = Settings(cell_timeout=cell_timeout, fast=fast, extra=extra)
    if not settings.hidden:
        settings.hidden = tuple(sorted({str(Path(p).resolve().parent) for p in paths} | {str(Path(out_dir).resolve())}))
    paths = list(paths)
    total = len(paths)
    if settings.snapshot is None:
        from workshop.instructor.sandbox import PackageSnapshot

        settings.snapshot = PackageSnapshot()
    if settings.extra:
        import secrets

        from workshop.instructor import grading_extra

        if settings.seed is None:
            settings.seed = secrets.randbits(31)
        grading_extra.set_seed(settings.seed)
        progress(f"instructor cases drawn with seed {settings.seed}")
    results = [None] * total
    lock = threading.Lock()
    finished = [0]

    def one(position, path):
        progress(f"[{position + 1}/{total}] grading {_printable(path)} ...")
        try:
            result = grade_submission(path, solutions_dir, settings=settings)
        except Exception as error:  # a grader bug must not stop the class
            result = _not_graded_result(
                Path(path), "failed to run", f"the grader failed on this submission ({type(error).__name__}: {_one_line(error, 120)})"
            )
        with lock:
            # Only a kernel under plain isolation can reach the installed package; elsewhere a change is the instructor's.
            changed = settings.snapshot.restore() if result.isolation == "plain" else []
            if changed:  # only possible with plain isolation: the kernel ran as the instructor's user
                shown = ", ".join(changed[:3]) + (f" and {len(changed) - 3} more" if len(changed) > 3 else "")
                result.message = "; ".join(
                    m
                    for m in (
                        result.message if result.message != "ran without errors" else "",
                        f"changed the installed package ({shown}; restored)",
                    )
                    if m
                )
                if result.status == "graded":
                    result.status = "graded with problems"
            results[position] = result
            finished[0] += 1
            progress(f"[{finished[0]}/{total}] {_printable(_summary_line(result))} ({result.seconds:.0f} s)")
            write_reports([r for r in results if r is not None], out_dir, **(report_options or {}))
        return result

    if jobs <= 1:
        for position, path in enumerate(paths):
            one(position, path)
    else:
        with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
            for future in [pool.submit(one, position, path) for position, path in enumerate(paths)]:
                future.result()
    written = write_reports(results, out_dir, **(report_options or {}))
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
    existing_parent = next(p for p in (out, *out.absolute().parents) if p.exists())
    if not existing_parent.is_dir() or not os.access(existing_parent, os.W_OK | os.X_OK):
        raise ValueError(f"Expected --output to be a folder that can be written. Received: {out} ({existing_parent} is not writable)")
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


def settings_from_args(args):
    """:class:`Settings` from parsed ``notebooks grade`` arguments (missing ones take their defaults)."""
    from workshop.instructor.sandbox import Limits, namespace_available

    if getattr(args, "isolation", None) == "namespace" and not namespace_available():
        raise ValueError("Expected Linux mount and PID namespaces for --isolation namespace. Received: `unshare` does not work here")
    limits = Limits()
    if getattr(args, "memory", None):
        limits.memory_mb = int(args.memory)
    jobs = getattr(args, "jobs", 1) or 1
    return Settings(
        cell_timeout=getattr(args, "timeout", None) or DEFAULT_CELL_TIMEOUT,
        call_timeout=getattr(args, "call_timeout", None) or DEFAULT_CALL_TIMEOUT,
        fast=not getattr(args, "full", False),
        extra=not getattr(args, "no_extra", False),
        isolation=getattr(args, "isolation", None) or "auto",
        limits=limits,
        threads=max(1, (os.cpu_count() or 1) // jobs) if jobs > 1 else 0,
        notebook=_assignment(getattr(args, "notebook", None), getattr(args, "solutions", None)),
    )


def _assignment(name, solutions_dir):
    """The solution notebook that ``--notebook`` names (``05``, ``05_vae_mnist``, ``05_vae_mnist.ipynb``), or ""."""
    if not name:
        return ""
    course = _course_notebooks(Path(solutions_dir) if solutions_dir else _root() / "solutions")
    matches = [n for n in course if n == name or n[: -len(".ipynb")] == name or n.startswith(f"{name}_")]
    if len(matches) != 1:
        raise ValueError(f"Expected --notebook to name one course notebook ({', '.join(course)}). Received: {name!r}")
    return matches[0]


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

    results = grade(
        paths,
        args.output,
        args.solutions,
        progress=progress,
        jobs=getattr(args, "jobs", 1) or 1,
        settings=settings_from_args(args),
        report_options=options,
    )
    from workshop.instructor.gradebook import write_all

    _, book = write_all(results, args.output, **options)  # again: the problems of the whole class
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
