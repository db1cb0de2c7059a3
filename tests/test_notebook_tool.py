"""Tests for workshop.instructor.authoring (the notebook tool): build, check and the command line, on synthetic notebooks."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from workshop.instructor import authoring as tool
from workshop.instructor.authoring.execute import _select
from workshop.instructor.authoring.files import solution_files
from workshop.instructor.cli import main as _main

ROOT = Path(__file__).resolve().parent.parent


def _cli(argv):
    """``python -m workshop notebooks ARGV...``, in this process."""
    return _main(["notebooks", *argv])


KL_CELL = '''import numpy as np


def kl_gaussians(mu, log_var):
    """KL(N(mu, exp(log_var)) || N(0, 1)), elementwise."""
    # TODO: use the closed form derived above.
    ### BEGIN SOLUTION
    variance_term = np.exp(log_var) + mu**2
    return 0.5 * (variance_term - 1.0 - log_var)
    ### END SOLUTION


class Sampling:
    def call(self, inputs):
        ### BEGIN SOLUTION
        z_mean, z_log_var = inputs
        return z_mean + np.exp(0.5 * z_log_var) * 1.2345
        ### END SOLUTION
'''

TOP_LEVEL_CELL = """%matplotlib inline
# EXERCISE: posterior_mean
### BEGIN SOLUTION
posterior_mean = (prior_precision * 0.0 + data_sum) / 7.5
### END SOLUTION
print(posterior_mean)"""

ANSWER_CELL = """**Question.** Why is the KL never negative?

<!-- BEGIN SOLUTION -->
Jensen's inequality applied to the concave logarithm gives the bound.
<!-- END SOLUTION -->"""


def _solution_notebook(executed=True, extra_cells=()):
    nb = new_notebook()
    cells = [
        new_markdown_cell("# 01. A toy notebook\n\nSome prose."),
        new_code_cell(KL_CELL, metadata={"tags": ["exercise"], "collapsed": False}),
        new_code_cell("prior_precision, data_sum = 1.0, 3.0"),
        new_code_cell(TOP_LEVEL_CELL, metadata={"scrolled": True}),
        new_markdown_cell(ANSWER_CELL),
        new_code_cell("print('instructor only: grading notes')", metadata={"tags": ["solution-only"]}),
        new_code_cell(""),
        *extra_cells,
    ]
    count = 0
    for cell in cells:
        if cell.cell_type == "code" and cell.source.strip() and executed:
            count += 1
            cell.execution_count = count
            cell.outputs = [new_output("stream", name="stdout", text=f"out {count}\n")]
    nb.cells = cells
    nb.metadata = {
        "kernelspec": {"name": "my-env", "display_name": "My env", "language": "python"},
        "language_info": {"name": "python", "version": "3.12.1", "mimetype": "text/x-python"},
        "widgets": {"noise": 1},
    }
    return nb


def _write(nb, path):
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))
    return path


def _tidy(nb):
    """The solution notebook as an instructor commits it: python3 kernel, no editor metadata.

    (``notebooks check`` rejects other kernels and stray metadata; the build's stripping of
    them is tested on :func:`_solution_notebook` itself.)
    """
    nb.metadata = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}, "language_info": {"name": "python"}}
    for cell in nb.cells:
        cell.metadata = {k: v for k, v in cell.metadata.items() if k == "tags"}
    return nb


@pytest.fixture
def repo(tmp_path):
    solutions, notebooks = tmp_path / "solutions", tmp_path / "notebooks"
    _write(_tidy(_solution_notebook()), solutions / "01_toy.ipynb")
    _write(_tidy(_solution_notebook()), solutions / "02_other.ipynb")
    return solutions, notebooks


def _code(student, index):
    return student.cells[index].source


# --------------------------------------------------------------------------- #
# strip_solutions
# --------------------------------------------------------------------------- #
def test_function_region_becomes_a_named_stub_at_the_marker_indentation():
    student = tool.strip_solutions(_solution_notebook())
    source = _code(student, 1)
    assert "variance_term" not in source and "1.2345" not in source
    assert "SOLUTION" not in source
    assert '    # YOUR CODE HERE\n    raise NotImplementedError("Exercise kl_gaussians: use the closed form derived above.")' in source
    assert '        raise NotImplementedError("Exercise Sampling.call: ' in source
    # The stub raises when called, not when the cell runs.
    namespace = {}
    exec(source, namespace)
    with pytest.raises(NotImplementedError, match="Exercise kl_gaussians"):
        namespace["kl_gaussians"](0.0, 0.0)
    with pytest.raises(NotImplementedError, match="Exercise Sampling.call"):
        namespace["Sampling"]().call((0.0, 0.0))


def test_top_level_region_uses_the_exercise_comment_and_default_instruction():
    student = tool.strip_solutions(_solution_notebook())
    source = _code(student, 3)
    assert source.splitlines() == [
        "%matplotlib inline",
        "# EXERCISE: posterior_mean",
        "# YOUR CODE HERE",
        'raise NotImplementedError("Exercise posterior_mean: replace this line with your code (see the instructions above).")',
        "print(posterior_mean)",
    ]


def test_markdown_answer_is_replaced_and_solution_only_cells_are_dropped():
    solution = _solution_notebook()
    student = tool.strip_solutions(solution)
    assert len(student.cells) == len(solution.cells) - 1
    assert all("instructor only" not in cell.source for cell in student.cells)
    answer = student.cells[4].source
    assert "Jensen" not in answer and "BEGIN" not in answer
    assert tool.MARKDOWN_STUB in answer
    assert answer.startswith("**Question.**")


def test_student_notebook_is_clean_and_input_is_not_modified():
    solution = _solution_notebook()
    before = json.dumps(solution, sort_keys=True)
    student = tool.strip_solutions(solution)
    assert json.dumps(solution, sort_keys=True) == before
    assert dict(student.metadata) == {
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python"},
    }
    for cell in student.cells:
        assert set(cell.metadata) <= {"tags"}
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None
    assert student.cells[1].metadata == {"tags": ["exercise"]}
    nbformat.validate(student)


@pytest.mark.parametrize(
    "source, cell_type, expected",
    [
        ("def f():\n    ### BEGIN SOLUTION\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION\n", "code", "nested"),
        ("def f():\n    return 1\n    ### END SOLUTION\n", "code", "without a BEGIN"),
        ("def f():\n    ### BEGIN SOLUTION\n    return 1\n", "code", "unclosed"),
        ("### BEGIN SOLUTION\nx = 1\n### END SOLUTION\n", "code", "outside an exercise"),
        ("def f():\n    <!-- BEGIN SOLUTION -->\n    return 1\n", "code", "Markdown solution marker"),
        ("Text\n### BEGIN SOLUTION\nanswer\n### END SOLUTION\n", "markdown", "code solution marker"),
        ("def f():\n    return 1  # BEGIN SOLUTION\n", "code", "malformed"),
    ],
)
def test_marker_errors_name_the_file_and_cell(source, cell_type, expected):
    nb = new_notebook()
    maker = new_code_cell if cell_type == "code" else new_markdown_cell
    nb.cells = [new_markdown_cell("title"), maker(source)]
    with pytest.raises(tool.NotebookBuildError, match=expected) as info:
        tool.strip_solutions(nb, filename="solutions/09_bad.ipynb")
    assert "solutions/09_bad.ipynb, cell 2 (counting all cells from 1)" in str(info.value)
    assert isinstance(info.value, ValueError)


def test_multiline_signature_and_nested_block_are_named_after_the_function():
    source = (
        "def elbo(\n    x,\n    logits,\n):\n    total = 0\n    for row in x:\n"
        "        ### BEGIN SOLUTION\n        total += row\n        ### END SOLUTION\n    return total\n"
    )
    nb = new_notebook()
    nb.cells = [new_code_cell(source)]
    stub = tool.strip_solutions(nb).cells[0].source
    assert '        raise NotImplementedError("Exercise elbo: ' in stub
    compile(stub, "<stub>", "exec")


# --------------------------------------------------------------------------- #
# build
# --------------------------------------------------------------------------- #
def test_build_writes_every_notebook_deterministically(repo):
    solutions, notebooks = repo
    written = tool.build(solutions, notebooks)
    assert [p.name for p in written] == ["01_toy.ipynb", "02_other.ipynb"]
    first = (notebooks / "01_toy.ipynb").read_bytes()
    assert first.endswith(b"}\n")
    os.utime(notebooks / "01_toy.ipynb", (0, 0))
    tool.build(solutions, notebooks)
    assert (notebooks / "01_toy.ipynb").read_bytes() == first
    # A rewrite from scratch gives the same bytes too.
    (notebooks / "01_toy.ipynb").unlink()
    tool.build(solutions, notebooks)
    assert (notebooks / "01_toy.ipynb").read_bytes() == first
    assert tool.check(solutions, notebooks) == []


def test_failed_build_leaves_every_existing_file_untouched(repo):
    solutions, notebooks = repo
    tool.build(solutions, notebooks)
    before = {p.name: p.read_bytes() for p in notebooks.iterdir()}
    # 01 changes legitimately, 02 gets a broken marker: nothing may be written.
    changed = _solution_notebook()
    changed.cells[0].source = "# 01. A changed title"
    _write(changed, solutions / "01_toy.ipynb")
    _write(_solution_notebook(extra_cells=[new_code_cell("### BEGIN SOLUTION\nx = 1\n")]), solutions / "02_other.ipynb")
    with pytest.raises(tool.NotebookBuildError, match="02_other.ipynb, cell 8"):
        tool.build(solutions, notebooks)
    assert {p.name: p.read_bytes() for p in notebooks.iterdir()} == before


# --------------------------------------------------------------------------- #
# check
# --------------------------------------------------------------------------- #
def _problems_after(repo, mutate):
    """What ``check`` reports after ``mutate``, less the stale text twins that any solution edit causes."""
    solutions, notebooks = repo
    tool.build(solutions, notebooks)
    mutate(solutions, notebooks)
    return [p for p in tool.check(solutions, notebooks) if "the text twin of" not in p and "out of sync with" not in p]


def test_check_reports_a_foreign_kernel_stray_metadata_and_a_stale_twin(repo):
    solutions, notebooks = repo
    tool.build(solutions, notebooks)
    assert tool.check(solutions, notebooks) == []
    _write(_solution_notebook(), solutions / "02_other.ipynb")  # kernel "my-env", widgets, collapsed, scrolled
    problems = tool.check(solutions, notebooks)
    assert any("kernelspec must be 'python3'" in p for p in problems)
    assert any("stray notebook metadata ['widgets']" in p for p in problems)
    assert any("stray cell metadata ['collapsed']" in p for p in problems)
    assert any("02_other.py: out of sync with 02_other.ipynb" in p for p in problems)


def test_check_reports_a_stale_student_notebook(repo):
    def edit_solution(solutions, notebooks):
        nb = _tidy(_solution_notebook())
        nb.cells[0].source = "# 01. A new title"
        _write(nb, solutions / "01_toy.ipynb")

    problems = _problems_after(repo, edit_solution)
    assert len(problems) == 1 and "01_toy.ipynb: differs" in problems[0]
    assert "cell 3 differs" in problems[0]  # after the Colab badge and set-up cells


def test_check_reports_missing_and_extra_notebooks(repo):
    def shuffle(solutions, notebooks):
        (notebooks / "02_other.ipynb").rename(notebooks / "03_orphan.ipynb")

    problems = _problems_after(repo, shuffle)
    assert any("02_other.ipynb: missing" in p for p in problems)
    assert any("03_orphan.ipynb: has no solution notebook" in p for p in problems)


def test_check_reports_leaked_solution_text_and_markers(repo):
    def leak(solutions, notebooks):
        nb = nbformat.read(str(notebooks / "01_toy.ipynb"), as_version=4)
        nb.cells[2].source += "\n    variance_term = np.exp(log_var) + mu**2"
        nb.cells[4].source += "\n<!-- END SOLUTION -->"
        nbformat.write(nb, str(notebooks / "01_toy.ipynb"))

    problems = _problems_after(repo, leak)
    assert any("cell 3: contains solution text: 'variance_term" in p for p in problems)
    assert any("contains a solution marker" in p for p in problems)


def test_check_reports_outputs_in_a_student_notebook(repo):
    def add_output(solutions, notebooks):
        nb = nbformat.read(str(notebooks / "01_toy.ipynb"), as_version=4)
        nb.cells[4].execution_count = 3  # the solution's cell 3, after the Colab badge and set-up cells
        nbformat.write(nb, str(notebooks / "01_toy.ipynb"))

    problems = _problems_after(repo, add_output)
    assert any("cell 5: has outputs or an execution count" in p for p in problems)


@pytest.mark.parametrize("counts", [[1, 2, 4], [2, 1, 3], [1, None, 2], [1, 2, 2]])
def test_check_reports_a_solution_not_run_top_to_bottom(repo, counts):
    def scramble(solutions, notebooks):
        nb = nbformat.read(str(solutions / "01_toy.ipynb"), as_version=4)
        code = [c for c in nb.cells if c.cell_type == "code" and c.source.strip()]
        for cell, count in zip(code, counts + [len(code)]):
            cell.execution_count = count
        _write(nb, solutions / "01_toy.ipynb")

    problems = _problems_after(repo, scramble)
    assert len(problems) == 1 and "not executed top to bottom" in problems[0]


def test_check_reports_a_solution_without_outputs(repo):
    def unexecute(solutions, notebooks):
        _write(_solution_notebook(executed=False), solutions / "01_toy.ipynb")

    problems = _problems_after(repo, unexecute)
    assert any("not executed top to bottom" in p for p in problems)
    assert any("no outputs at all" in p for p in problems)


def test_check_reports_a_broken_marker_instead_of_crashing(repo):
    def break_marker(solutions, notebooks):
        _write(_solution_notebook(extra_cells=[new_code_cell("### END SOLUTION")]), solutions / "02_other.ipynb")

    problems = _problems_after(repo, break_marker)
    assert any("END SOLUTION marker without a BEGIN" in p for p in problems)


# --------------------------------------------------------------------------- #
# command line and run
# --------------------------------------------------------------------------- #
def test_cli_build_and_check_exit_codes(repo, capsys):
    solutions, notebooks = repo
    dirs = ["--solutions", str(solutions), "--notebooks", str(notebooks)]
    assert _cli(["check", *dirs]) == 1
    assert _cli(["build", *dirs]) == 0
    assert _cli(["check", *dirs]) == 0
    _write(_solution_notebook(extra_cells=[new_code_cell("### END SOLUTION")]), solutions / "02_other.ipynb")
    capsys.readouterr()
    assert _cli(["build", *dirs]) == 1  # a failure, not a usage error
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err


def test_cli_usage_errors_are_one_line(capsys):
    assert _cli(["frobnicate"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1


def test_run_rejects_unknown_names_without_touching_files(repo, capsys):
    solutions, _ = repo
    before = (solutions / "01_toy.ipynb").read_bytes()
    assert _cli(["run", "07", "--solutions", str(solutions)]) == 1
    assert "matches no solution notebook" in capsys.readouterr().err
    assert (solutions / "01_toy.ipynb").read_bytes() == before


def test_run_selects_by_number_name_or_file(repo):
    paths = solution_files(repo[0])
    for name in ["02", "02_other", "02_other.ipynb", "solutions/02_other.ipynb"]:
        assert [p.name for p in _select([name], paths)] == ["02_other.ipynb"]


def _runnable(fail):
    nb = new_notebook()
    nb.cells = [
        new_code_cell("import os\nprint(os.environ['WORKSHOP_FAST'], os.path.basename(os.getcwd()))"),
        new_code_cell("1 / 0" if fail else "print('done')"),
    ]
    return nb


def test_run_executes_in_place_and_leaves_a_failing_notebook_alone(tmp_path):
    solutions = tmp_path / "solutions"
    good = _write(_runnable(fail=False), solutions / "01_good.ipynb")
    bad = _write(_runnable(fail=True), solutions / "02_bad.ipynb")
    bad_before = bad.read_bytes()
    lines = []

    class Stream:
        def write(self, text):
            lines.append(text)

        def flush(self):
            pass

    tool.run(["01"], solutions, fast=True, timeout=120, stream=Stream())
    nb = nbformat.read(str(good), as_version=4)
    assert [c.execution_count for c in nb.cells] == [1, 2]
    assert nb.cells[0].outputs[0].text == "1 solutions\n"
    assert "[1/1] 01_good.ipynb ..." in "".join(lines) and "ok in" in "".join(lines)
    with pytest.raises(tool.NotebookRunError, match=r"02_bad.ipynb, cell 2 .*ZeroDivisionError"):
        tool.run(["02_bad"], solutions, fast=False, timeout=120, stream=Stream())
    assert bad.read_bytes() == bad_before


# --------------------------------------------------------------------------- #
# the real repository
# --------------------------------------------------------------------------- #
def test_committed_notebooks_are_in_sync():
    solutions, notebooks = ROOT / "solutions", ROOT / "notebooks"
    if not any(solutions.glob("*.ipynb")):
        pytest.skip("solutions/ has no notebooks yet")
    problems = tool.check(solutions, notebooks)
    assert problems == [], "\n".join(problems)


def test_progress_bar_redraws_collapse_to_what_a_terminal_shows():
    # Regression: `run` stored every redraw of Keras's progress bar (7,929 outputs, 5 MB for notebook 05).
    from nbformat.v4 import new_output

    from workshop.instructor.authoring import collapse_progress_output, render_terminal

    assert render_terminal("1/3 [==>.]\r2/3 [===>]\r3/3 [====] done\nnext") == "3/3 [====] done\nnext"
    assert render_terminal("abc\x08\x08xy") == "axy"
    outputs = [
        new_output("stream", name="stdout", text="Epoch 1/1\n"),
        new_output("stream", name="stdout", text="\r1/2 [=>.]"),
        new_output("stream", name="stdout", text="\r2/2 [==] loss: 1.0\n"),
        new_output("stream", name="stderr", text="warn\n"),
        new_output("execute_result", data={"text/plain": "3"}, execution_count=1),
    ]
    collapsed = collapse_progress_output(outputs)
    assert [o["output_type"] for o in collapsed] == ["stream", "stream", "execute_result"]
    assert collapsed[0]["text"] == "Epoch 1/1\n2/2 [==] loss: 1.0\n"
    assert outputs[0]["text"] == "Epoch 1/1\n"  # the input list is not modified


def test_built_notebooks_are_world_readable(tmp_path):
    import stat

    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    from workshop.instructor import authoring as notebooks

    solutions, students = tmp_path / "s", tmp_path / "n"
    solutions.mkdir()
    nbformat.write(new_notebook(cells=[new_code_cell("x = 1")]), solutions / "01_a.ipynb")
    notebooks.build(solutions, students)
    assert stat.S_IMODE((students / "01_a.ipynb").stat().st_mode) == 0o644


# --------------------------------------------------------------------------- #
# issue 11, failure 1: a cell that never ends
# --------------------------------------------------------------------------- #
def _endless(tmp_path):
    """A solution notebook whose first cell writes the kernel's pid, the second loops forever."""
    pid_file = tmp_path / "kernel.pid"
    nb = new_notebook()
    nb.cells = [
        new_code_cell(f"import os\nopen({str(pid_file)!r}, 'w').write(str(os.getpid()))"),
        new_code_cell("while True:\n    pass"),
    ]
    path = _write(nb, tmp_path / "solutions" / "01_endless.ipynb")
    return path, pid_file


def _gone(pid, within=10.0):
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    return False


def _start_run(tmp_path, *extra):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.Popen(
        [sys.executable, "-m", "workshop", "notebooks", "run", "01", "--solutions", str(tmp_path / "solutions"), *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
    )


def _finish(process, timeout):
    try:
        return process.communicate(timeout=timeout)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


def test_run_times_out_an_endless_cell_and_shuts_its_kernel_down(tmp_path):
    path, pid_file = _endless(tmp_path)
    before = path.read_bytes()
    process = _start_run(tmp_path, "--timeout", "3")
    deadline = time.monotonic() + 120  # the kernel's start-up, on a loaded machine
    while not pid_file.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert pid_file.exists(), process.communicate()
    started = time.monotonic()
    _, stderr = _finish(process, timeout=30)
    assert time.monotonic() - started < 3 + 15  # the timeout plus a few seconds
    assert process.returncode == 1
    lines = stderr.strip().splitlines()
    assert lines[-1].startswith("error: ") and "01_endless.ipynb, cell 2" in lines[-1] and "timed out" in lines[-1], stderr
    assert not [line for line in lines if line.startswith("error: ")][:-1]
    assert _gone(int(pid_file.read_text())), "the kernel is still running"
    assert path.read_bytes() == before


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_run_stops_on_sigterm_and_sigint_and_shuts_its_kernel_down(tmp_path, signum):
    _, pid_file = _endless(tmp_path)
    process = _start_run(tmp_path)  # the default timeout: half an hour
    deadline = time.monotonic() + 120
    while not pid_file.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert pid_file.exists(), process.communicate()
    time.sleep(0.5)  # inside the endless cell
    process.send_signal(signum)
    _, stderr = _finish(process, timeout=30)
    assert process.returncode == 128 + signum, stderr
    assert stderr.strip().splitlines()[-1].startswith("error: ")
    assert _gone(int(pid_file.read_text())), "the kernel is still running"


def test_run_refuses_a_timeout_that_is_not_positive(repo):
    for timeout in (0, -1):
        with pytest.raises(ValueError, match="timeout"):
            tool.run(["01"], repo[0], timeout=timeout)
