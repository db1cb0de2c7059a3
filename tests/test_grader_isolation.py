"""The grader against submissions that attack it (notebook 01, the fastest): verdicts are computed outside the
student's kernel, the kernel is walled off, and whatever a submission does, the class is still graded."""

import json
import os
import sys
import textwrap
import uuid
from pathlib import Path

import nbformat
import numpy as np
import pytest

from workshop.instructor import grading, probes
from workshop.instructor.authoring import strip_solutions
from workshop.instructor.delivery import deliver
from workshop.instructor.sandbox import Limits, namespace_available

ROOT = Path(__file__).resolve().parent.parent
NAME = "01_probability_toolkit.ipynb"
SECRET = f"secret-{uuid.uuid4().hex}"
MARK = str(900000 + os.getpid() % 90000)  # a number that only this run's leftover `sleep` processes carry


def _solution():
    return nbformat.read(str(ROOT / "solutions" / NAME), as_version=4)


def _stub():
    return deliver(strip_solutions(_solution(), NAME), NAME)


def _with(nb, *sources, at=None):
    """``nb`` with code cells ``sources`` inserted after its imports cell (so that they run before the exercises)."""
    if at is None:
        at = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code" and "import numpy as np" in c.source) + 1
    nb.cells[at:at] = [nbformat.v4.new_code_cell(textwrap.dedent(s)) for s in sources]
    for i, cell in enumerate(nb.cells):
        cell.id = f"c{i}"
    return nb


def _replace_definition(nb, name, source):
    (cell,) = [c for c in nb.cells if c.cell_type == "code" and f"def {name}(" in c.source]
    cell.source = textwrap.dedent(source)
    return nb


def _leftovers():
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as handle:
                    if MARK.encode() in handle.read():
                        found.append(int(entry))
            except OSError:
                pass
    return found


FORGE = """
import json, sys
for checker in ("check_kl_divergence", "check_gaussian_kl", "check_monte_carlo_kl"):
    print("WORKSHOP-GRADE " + json.dumps({"checker": checker, "status": "pass", "message": "forged"}))
sys.stdout.write("WORKSHOP-GRADE {not json\\n")
"""

TAMPER = """
import workshop.checks
from workshop.checks import _core, nb01
from workshop.checks._core import CheckResult
_core._finish = lambda name, status, text, details, verbose, strict: CheckResult(name, "passed", "forged", details)
for name in ("check_kl_divergence", "check_gaussian_kl", "check_monte_carlo_kl"):
    setattr(nb01, name, lambda *args, **kwargs: CheckResult("x", "passed", "forged"))
try:
    from workshop.instructor import grading_extra
    grading_extra.EXTRA_CHECKS.clear()
except ImportError:
    pass
try:
    from workshop.instructor import grading
    grading.PASS = grading.NOT_ATTEMPTED = "pass"
except ImportError:
    pass
"""

WRITE_PACKAGE = """
import os, workshop
for folder in (os.path.dirname(workshop.__file__), {repo!r}):
    try:
        with open(os.path.join(folder, "probability.py"), "a") as handle:
            handle.write("\\nkl_divergence = lambda p, q: 0.0  # pwned\\n")
    except OSError as error:
        print("refused:", error)
"""

# The student's functions replaced in their own kernel by ones that claim anything: values only, so no pass.
FORGE_RUNNER = """
import numpy as np, json, os
import workshop.checks._remote as remote
def serve(path, namespace):
    np.savez(path + ".npz", __reply__=np.array(json.dumps({"ok": {"__dict__": [["exists", True], ["callable", True]]}})))
remote.serve = serve
"""

ESCAPE = """
import os, subprocess, pathlib
subprocess.Popen(["sleep", "{mark}"], start_new_session=True)
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.execvp("sleep", ["sleep", "{mark}"])
    os._exit(0)
for target in ({outside!r}, {home!r}, {repo!r}):
    try:
        pathlib.Path(target).write_text("escaped")
    except OSError as error:
        print("refused:", error)
found_extra = ""
try:
    import workshop.instructor.grading_extra as extra
    found_extra = extra.__file__
except ImportError:
    import glob, sys
    for folder in sys.path + ["/work", "/root", "/home"]:
        found_extra = found_extra or next(iter(glob.glob(os.path.join(folder, "**", "grading_extra.py"), recursive=True)), "")
leaked = os.environ.get("WORKSHOP_GRADER_SECRET") or ""
for pid in os.listdir("/proc"):
    try:
        leaked += open(f"/proc/{{pid}}/environ", "rb").read().decode("latin-1") if pid.isdigit() else ""
    except OSError:
        pass
"""

LEAK_CHECK = """
def kl_divergence(p, q):
    if {secret!r} in leaked:
        raise RuntimeError("the instructor's environment leaked")
    p, q = np.asarray(p, dtype=float), np.asarray(q, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0) / q), 0.0)
    return np.sum(terms, axis=-1)
"""

FORK_BOMB = """
import os
children = 0
for _ in range(3000):
    try:
        pid = os.fork()
    except OSError:
        break
    if pid == 0:
        os.execvp("sleep", ["sleep", "{mark}"])
    children += 1
print(children, "children")
"""

EXTRA_CHECK = """
_monte_carlo_kl = monte_carlo_kl


def monte_carlo_kl(*args):
    if found_extra:
        raise RuntimeError("the instructor-only cases are readable: " + found_extra)
    return _monte_carlo_kl(*args)
"""

PACKAGE_CALLER = """
import workshop.probability
from workshop.probability import gaussian_kl as _finished


def kl_divergence(p, q):
    return workshop.probability.kl_divergence(p, q)


def gaussian_kl(mu1, log_var1, mu2, log_var2):
    return _finished(mu1, log_var1, mu2, log_var2)
"""


@pytest.fixture(scope="module")
def attacked(tmp_path_factory):
    base = tmp_path_factory.mktemp("attacks")
    outside = base / "outside" / "escaped.txt"
    outside.parent.mkdir()
    repo_target = ROOT / "workshop" / f"_escaped_{uuid.uuid4().hex}.txt"
    home_target = Path(os.path.expanduser("~")) / f".escaped_{uuid.uuid4().hex}"
    package_before = {p: p.read_bytes() for p in (ROOT / "workshop").rglob("*.py")}
    submissions = {
        "forger": _with(_stub(), FORGE, TAMPER, WRITE_PACKAGE.format(repo=str(ROOT / "workshop"))),
        "runner": _with(_stub(), FORGE_RUNNER),
        "escaper": _with(
            _replace_definition(
                _with(
                    _solution(),
                    ESCAPE.format(mark=MARK, outside=str(outside), home=str(home_target), repo=str(repo_target)),
                    "x = bytearray(64 * 2**30)",
                    "while True:\n    pass",
                ),
                "kl_divergence",
                LEAK_CHECK.format(secret=SECRET),
            ),
            EXTRA_CHECK,
            at=len(_solution().cells) + 3,
        ),
        "killer": _with(_solution(), "import os\nos._exit(3)", "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)"),
        "caller": _with(_solution(), PACKAGE_CALLER, at=len(_solution().cells)),
        "prober": _replace_definition(
            _replace_definition(
                _solution(), "gaussian_kl", "def gaussian_kl(mu1, log_var1, mu2, log_var2):\n    while True:\n        pass\n"
            ),
            "monte_carlo_kl",
            "def monte_carlo_kl(mu1, log_var1, mu2, log_var2, num_samples, rng):\n    import os\n    os._exit(1)\n",
        ),
    }
    if namespace_available() or os.geteuid() != 0:  # root without namespaces has no process limit: no fork bomb then
        submissions["forker"] = _with(_solution(), FORK_BOMB.format(mark=MARK))
    paths = []
    for student, nb in submissions.items():
        (base / student).mkdir()
        nbformat.write(nb, str(base / student / NAME))
        paths.append(base / student / NAME)
    os.environ["WORKSHOP_GRADER_SECRET"] = SECRET
    settings = grading.Settings(cell_timeout=10, call_timeout=10, limits=Limits(memory_mb=6144, processes=512))
    try:
        results = grading.grade(paths, base / "report", jobs=2, settings=settings, progress=lambda line: None)
    finally:
        del os.environ["WORKSHOP_GRADER_SECRET"]
        escaped = {p: p.exists() for p in (outside, repo_target, home_target)}
        for p in (repo_target, home_target):
            p.unlink(missing_ok=True)
        package_after = {p: p.read_bytes() for p in (ROOT / "workshop").rglob("*.py") if p in package_before}
    return {r.student: r for r in results}, escaped, package_before == package_after, base / "report"


def _statuses(result):
    return {e.exercise: e.status for e in result.exercises}


def test_forged_verdict_lines_and_a_replaced_checker_do_not_pass_untouched_stubs(attacked):
    results, _, package_unchanged, _ = attacked
    forger = results["forger"]
    assert _statuses(forger) == dict.fromkeys(["kl_divergence", "gaussian_kl", "monte_carlo_kl"], "not attempted"), forger
    assert package_unchanged  # the submission's writes into the package did not reach the grader's copy
    assert any("assigns _core._finish" in flag for flag in forger.flags), forger.flags
    assert any("imports workshop.checks._remote" in flag for flag in results["runner"].flags), results["runner"].flags
    assert not results["caller"].flags and not results["killer"].flags


def test_a_replaced_runner_in_the_kernel_can_forge_values_but_not_verdicts(attacked):
    results, *_ = attacked
    assert all(status != "pass" for status in _statuses(results["runner"]).values()), results["runner"]


def test_leaks_escapes_hogs_and_loops_do_not_reach_the_instructor_or_the_grades(attacked):
    results, escaped, _, _ = attacked
    escaper = results["escaper"]
    statuses = _statuses(escaper)
    assert statuses["kl_divergence"] == statuses["gaussian_kl"] == "pass", escaper  # no secret leaked
    if escaper.isolation == "namespace":  # plain isolation cannot hide the instructor's files from the same user
        assert statuses["monte_carlo_kl"] == "pass", escaper
    assert "ran past 10 s" in escaper.message and escaper.status == "graded with problems", escaper.message
    assert "MemoryError" in escaper.message, escaper.message
    assert not _leftovers(), "a process the submission started is still running"
    if escaper.isolation == "namespace":
        assert not any(escaped.values()), escaped
    else:
        assert escaper.isolation == "plain"


def test_a_submission_that_kills_its_kernel_is_graded_on_what_it_defined(attacked):
    results, *_ = attacked
    killer = results["killer"]
    assert _statuses(killer) == dict.fromkeys(["kl_divergence", "gaussian_kl", "monte_carlo_kl"], "pass"), killer
    assert killer.message.count("killed the kernel") == 2, killer.message


def test_answers_that_call_the_package_are_flagged_not_failed(attacked):
    results, *_ = attacked
    caller = results["caller"]
    flags = {e.exercise: e.flags for e in caller.exercises}
    assert _statuses(caller)["kl_divergence"] == "pass"
    assert flags["kl_divergence"] == ["kl_divergence calls the package's own workshop.probability.kl_divergence"]
    assert flags["gaussian_kl"] == ["gaussian_kl calls the package's own workshop.probability.gaussian_kl"]
    assert flags["monte_carlo_kl"] == []
    assert all(not e.flags for r in results.values() if r.student != "caller" for e in r.exercises)


def test_a_check_call_that_hangs_or_kills_the_kernel_is_not_graded_and_the_rest_is(attacked):
    results, *_ = attacked
    prober = results["prober"]
    grades = {e.exercise: e for e in prober.exercises}
    assert grades["kl_divergence"].status == "pass"
    assert grades["gaussian_kl"].status == "not graded" and "10 s limit" in grades["gaussian_kl"].message
    assert grades["monte_carlo_kl"].status == "not graded" and "died" in grades["monte_carlo_kl"].message


def test_a_fork_bomb_is_held_by_the_process_limit_and_ended_with_its_kernel(attacked):
    results, *_ = attacked
    if "forker" not in results:
        pytest.skip("running as root without namespaces: no process limit")
    forker = results["forker"]
    assert forker.status in ("graded", "graded with problems") and len(forker.exercises) == 3, forker
    assert not _leftovers()
    assert _statuses(results["caller"])["kl_divergence"] == "pass"  # graded at the same time, not starved


def test_reports_hold_every_submission(attacked):
    results, _, _, out = attacked
    graded = json.loads((out / "grades.json").read_text(encoding="utf-8"))
    assert sorted(r["student"] for r in graded) == sorted(results)
    caller = next(line for line in (out / "summary.txt").read_text(encoding="utf-8").splitlines() if line.startswith("caller "))
    assert "for the instructor: kl_divergence calls the package's own workshop.probability.kl_divergence" in caller


# --------------------------------------------------------------------------- #
# pieces, without a kernel
# --------------------------------------------------------------------------- #
def test_a_reply_is_read_without_pickle_and_never_through_a_link(tmp_path):
    good = tmp_path / "good.npz"
    np.savez(good, a0=np.arange(3.0), __reply__=np.array(json.dumps({"ok": {"__tuple__": [{"__array__": "a0"}, 2]}})))
    value = probes.read_reply(str(good))
    assert isinstance(value, tuple) and value[1] == 2 and np.array_equal(value[0], np.arange(3.0))
    pickled = tmp_path / "pickled.npz"
    np.savez(pickled, a0=np.array([object()], dtype=object), __reply__=np.array(json.dumps({"ok": {"__array__": "a0"}})))
    with pytest.raises(probes.ProbeAborted, match="could not be read"):
        probes.read_reply(str(pickled))
    link = tmp_path / "link.npz"
    link.symlink_to(good)
    with pytest.raises(OSError):
        probes.read_reply(str(link))
    fifo = tmp_path / "fifo.npz"
    os.mkfifo(fifo)
    with pytest.raises(probes.ProbeAborted, match="not a plain file"):
        probes.read_reply(str(fifo))  # returns at once: a pipe nobody writes to must not block the grader
    bomb = tmp_path / "bomb.npz"
    np.savez_compressed(bomb, a0=np.zeros(2**24), __reply__=np.array(json.dumps({"ok": None})))
    with pytest.raises(probes.ProbeAborted, match="could not be read"):
        probes.read_reply(str(bomb), limit=2**20)  # small on disk, large once unpacked
    error = tmp_path / "error.npz"
    np.savez(error, __reply__=np.array(json.dumps({"error": {"type": "NotImplementedError", "builtin": True, "message": "todo"}})))
    failed = probes.read_reply(str(error))
    assert isinstance(failed.error, NotImplementedError) and str(failed.error) == "todo"


def test_only_cells_that_the_exercises_need_are_run():
    sources = [
        "import numpy as np\nfrom workshop import plots",
        "SCALE = 2.0",
        "x_train = np.load('big.npz')",
        "history = model.fit(x_train)",  # trains: skipped
        "plots.plot_history(history)",  # draws, and reads what a skipped cell made: skipped
        "def helper(a):\n    return SCALE * a",
        "def answer(a, b):\n    local = helper(a)\n    return np.sum(local + b)",
        "checks.nb01.check_answer(answer)",  # a check cell: skipped
        "trained = model.fit(np.zeros(3))\nTABLE = {1: 2}",  # trains, but binds what the next exercise reads: kept
        "def second(a):\n    return TABLE[a]",
        "print('after the last exercise')",
    ]
    assert grading.plan_cells(sources, ["answer", "second"]) == [0, 1, 2, 5, 6, 8, 9]
    tagged = [[], [], [grading.SKIP_TAG], [], [], [], [], [], [], [], []]
    assert 2 not in grading.plan_cells(sources, ["answer", "second"], tagged)


def test_the_exercise_targets_of_every_solution_are_what_the_checks_are_called_with():
    targets = {
        t for path in sorted((ROOT / "solutions").glob("*.ipynb")) for t in grading.exercise_targets(nbformat.read(str(path), as_version=4))
    }
    assert len(targets) == 31
    assert ("check_train_step", "nb05", "StudentVAE") in targets and ("check_sampling_layer", "nb04", "Sampling") in targets


def test_the_solutions_are_not_flagged():
    for path in sorted((ROOT / "solutions").glob("*.ipynb")):
        nb = nbformat.read(str(path), as_version=4)
        sources = [c.source for c in nb.cells if c.cell_type == "code"]
        for _, _, target in grading.exercise_targets(nb):
            assert probes.find_flags(sources, target) == [], (path.name, target)


def test_no_solution_is_flagged_for_reaching_into_the_checks():
    for path in sorted((ROOT / "solutions").glob("*.ipynb")):
        nb = nbformat.read(str(path), as_version=4)
        assert probes.tampering_flags([c.source for c in nb.cells if c.cell_type == "code"]) == [], path.name


def test_a_train_step_that_hands_over_to_the_package_is_flagged():
    source = "class StudentVAE(workshop.VAE):\n    def train_step(self, data):\n        return super().train_step(data)\n"
    assert probes.find_flags([source], "StudentVAE") == ["StudentVAE calls the package's own super().train_step"]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="process checks read /proc")
def test_the_sandbox_environment_holds_none_of_the_instructors_variables(monkeypatch):
    from workshop.instructor.sandbox import Sandbox

    monkeypatch.setenv("WORKSHOP_GRADER_SECRET", SECRET)
    with Sandbox(isolation="plain") as sandbox:
        env = sandbox.environment()
        assert "WORKSHOP_GRADER_SECRET" not in env and SECRET not in json.dumps(env)
        assert set(env) <= {
            "PATH",
            "HOME",
            "LANG",
            "MPLBACKEND",
            "WORKSHOP_FAST",
            "WORKSHOP_STRICT_CHECKS",
            "PYTHONPATH",
            "PYTHONDONTWRITEBYTECODE",
            "TF_CPP_MIN_LOG_LEVEL",
            "PYTHONNOUSERSITE",
            "MPLCONFIGDIR",
            "TMPDIR",
            "WORKSHOP_GRADE_RUN",
            "MNIST_PATH",
        }
        assert not (Path(env["PYTHONPATH"]) / "workshop" / "instructor").exists()
        stage = sandbox.stage
    assert not stage.exists()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="namespaces are Linux's")
def test_an_allowed_file_under_tmp_stays_visible_behind_the_private_tmp(tmp_path, monkeypatch):
    # A checkout under /tmp (CI's clone, with its .venv) was hidden by the kernel's private /tmp: no kernel started.
    from workshop.instructor.sandbox import Sandbox, namespace_available

    if not namespace_available():
        pytest.skip("no Linux namespaces here")
    mnist = tmp_path / "mnist.npz"
    mnist.write_bytes(b"under /tmp")
    (tmp_path / "beside.txt").write_text("not for the kernel")
    monkeypatch.setenv("MNIST_PATH", str(mnist))
    with Sandbox(isolation="namespace", preload="") as sandbox:
        sandbox.start()
        code = "import os\nassert open(os.environ['MNIST_PATH'], 'rb').read() == b'under /tmp'\nassert os.listdir(os.path.dirname(os.environ['MNIST_PATH'])) == ['mnist.npz']"
        outcome = sandbox.execute(code, timeout=60)
    assert outcome.status == "ok", outcome


def test_the_grade_command_refuses_an_output_that_is_a_file_or_under_one(tmp_path, capsys):
    from workshop.instructor.cli import main

    submission = tmp_path / NAME
    nbformat.write(_solution(), str(submission))
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    for out in (blocker, blocker / "reports"):
        assert main(["notebooks", "grade", str(submission), "--output", str(out)]) == 1
        assert "error:" in capsys.readouterr().err
    assert not (blocker.is_dir() or (tmp_path / "reports").exists())


def test_instructor_cases_are_drawn_per_run_and_catch_answers_memorised_from_the_public_cases():
    from workshop import probability
    from workshop.checks import nb01
    from workshop.instructor import grading_extra

    memory = {np.asarray(p).tobytes() + np.asarray(q).tobytes(): probability.kl_divergence(p, q) for p, q in nb01.KL_CASES}

    def memorised(p, q):  # the public answers, looked up; zeros elsewhere
        return memory.get(np.asarray(p).tobytes() + np.asarray(q).tobytes(), np.zeros(np.shape(p)[:-1]))

    assert nb01.check_kl_divergence(memorised, verbose=False, strict=False).passed
    run = grading_extra.EXTRA_CHECKS["check_kl_divergence"]
    seen = []

    def honest(p, q):
        seen.append(np.asarray(p).copy())
        return probability.kl_divergence(p, q)

    try:
        for seed in (1, 2):
            grading_extra.set_seed(seed)
            ok, message = run({"kl_divergence": memorised})
            assert not ok and "kl_divergence on a (3, 4, 6) batch" in message, message
            assert run({"kl_divergence": honest})[0]
    finally:
        grading_extra.set_seed(2024)
    assert not np.array_equal(seen[0], seen[2])  # another seed, other inputs
