"""Build student notebooks from solution notebooks, check them, run them.

``solutions/NN_name.ipynb`` is the single source of truth. Each student notebook
``notebooks/NN_name.ipynb`` is generated from it by :func:`build` and never edited
by hand; :func:`check` fails when the two folders drift apart or when solution
text leaks into the student version.

Exercise regions use nbgrader's markers. In a code cell::

    def kl_gaussians(mu1, log_var1, mu2, log_var2):
        \"\"\"KL(N(mu1, var1) || N(mu2, var2)), elementwise.\"\"\"
        # TODO: use the closed form derived above.
        ### BEGIN SOLUTION
        return 0.5 * (log_var2 - log_var1 + ...)
        ### END SOLUTION

becomes, in the student notebook::

    def kl_gaussians(mu1, log_var1, mu2, log_var2):
        \"\"\"KL(N(mu1, var1) || N(mu2, var2)), elementwise.\"\"\"
        # TODO: use the closed form derived above.
        # YOUR CODE HERE
        raise NotImplementedError("Exercise kl_gaussians: use the closed form derived above.")

The exercise is named after the nearest enclosing ``def`` (``Class.method`` for
methods); a region at the top level of a cell takes its name from a comment line
``# EXERCISE: name`` earlier in the same cell. In a Markdown cell, a written
answer sits between ``<!-- BEGIN SOLUTION -->`` and ``<!-- END SOLUTION -->``
lines and becomes ``**Your answer:** *(write your answer here)*``. Cells tagged
``solution-only`` are left out of the student notebook.

Command line (the lead wires it as ``python -m workshop notebooks ...``)::

    build                 write notebooks/ from solutions/ (all or nothing)
    check                 exit 1 and list the problems when anything is out of sync
    run [NAMES] [--fast]  execute solution notebooks in place, top to bottom
"""

import argparse
import ast
import copy
import json
import os
import re
import sys
import tempfile
import time
from pathlib import Path

import nbformat

__all__ = [
    "NotebookBuildError",
    "NotebookRunError",
    "build",
    "check",
    "cli_main",
    "run",
    "strip_solutions",
]

KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}
SOLUTION_ONLY_TAG = "solution-only"
CODE_STUB = "# YOUR CODE HERE"
DEFAULT_INSTRUCTION = "replace this line with your code (see the instructions above)."
MARKDOWN_STUB = "**Your answer:** *(write your answer here)*"
# Solution lines shorter than this (stripped) are too generic to count as a leak.
MIN_LEAK_LENGTH = 8

_CODE_BEGIN = re.compile(r"^\s*###\s*BEGIN SOLUTION\s*$")
_CODE_END = re.compile(r"^\s*###\s*END SOLUTION\s*$")
_MD_BEGIN = re.compile(r"^\s*<!--\s*BEGIN SOLUTION\s*-->\s*$")
_MD_END = re.compile(r"^\s*<!--\s*END SOLUTION\s*-->\s*$")
_MARKER_WORDS = re.compile(r"(BEGIN|END) SOLUTION")
_EXERCISE_COMMENT = re.compile(r"^\s*#\s*EXERCISE:\s*([A-Za-z_][\w.]*)\s*$")
_TODO_COMMENT = re.compile(r"^\s*#\s*TODO:?\s*(.+?)\s*$")
_DEF_LINE = re.compile(r"^(\s*)(?:async\s+)?def\s+([A-Za-z_]\w*)\s*\(")
_CLASS_LINE = re.compile(r"^(\s*)class\s+([A-Za-z_]\w*)\b")


class NotebookBuildError(ValueError):
    """A solution notebook whose exercise markers cannot be turned into a stub."""


class NotebookRunError(RuntimeError):
    """A solution notebook that failed while being executed."""


# --------------------------------------------------------------------------- #
# Locating the repository's folders
# --------------------------------------------------------------------------- #
def _repo_root():
    """The parent of the package when it holds solutions/, else the current directory."""
    candidate = Path(__file__).resolve().parent.parent
    if (candidate / "solutions").is_dir():
        return candidate
    return Path.cwd()


def _dirs(solutions_dir, notebooks_dir=None):
    root = _repo_root()
    solutions = Path(solutions_dir) if solutions_dir is not None else root / "solutions"
    notebooks = Path(notebooks_dir) if notebooks_dir is not None else root / "notebooks"
    return solutions, notebooks


def _solution_files(solutions_dir):
    if not solutions_dir.is_dir():
        raise NotebookBuildError(
            f"Expected a folder of solution notebooks. Received: {solutions_dir} does not exist."
        )
    return sorted(p for p in solutions_dir.glob("*.ipynb") if p.is_file())


# --------------------------------------------------------------------------- #
# Finding and replacing exercise regions
# --------------------------------------------------------------------------- #
def _where(filename, cell_index, line_index=None):
    text = f"{filename}, cell {cell_index + 1} (counting all cells from 1)"
    if line_index is not None:
        text += f", line {line_index + 1} of the cell"
    return text


def _indent(line):
    return len(line) - len(line.lstrip(" \t"))


def _function_spans(lines):
    """(first_line, last_line, body_indent_floor, qualified_name) for every def, via ast."""
    # IPython magics and shell escapes are not Python: blank them out so the
    # cell still parses (same line numbers, same indentation).
    cleaned = []
    for line in lines:
        stripped = line.lstrip()
        if stripped.startswith(("%", "!")):
            cleaned.append(line[: _indent(line)] + "pass")
        else:
            cleaned.append(line)
    try:
        tree = ast.parse("\n".join(cleaned))
    except SyntaxError:
        return None
    spans = []

    def visit(node, prefix):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                name = prefix + child.name
                spans.append((child.lineno - 1, child.end_lineno - 1, child.col_offset, name))
                visit(child, prefix)
            elif isinstance(child, ast.ClassDef):
                visit(child, prefix + child.name + ".")
            else:
                visit(child, prefix)

    visit(tree, "")
    return spans


def _enclosing_def_by_indentation(lines, begin):
    """Fallback when the cell does not parse: walk up to the nearest less-indented def."""
    limit = _indent(lines[begin])
    name = None
    for line in reversed(lines[:begin]):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        indent = _indent(line)
        if indent >= limit:
            continue
        match = _DEF_LINE.match(line)
        if match and name is None:
            name = match.group(2)
        elif name is not None:
            cls = _CLASS_LINE.match(line)
            if cls:
                return f"{cls.group(2)}.{name}"
        limit = indent
        if indent == 0:
            break
    return name


def _exercise_name(lines, begin, spans):
    """Name of the exercise a BEGIN marker on line ``begin`` belongs to, or None."""
    begin_indent = _indent(lines[begin])
    if spans is not None:
        inside = [
            span
            for span in spans
            if span[0] < begin <= span[1] and begin_indent > span[2]
        ]
        if inside:
            return max(inside, key=lambda span: span[0])[3]
    else:
        name = _enclosing_def_by_indentation(lines, begin)
        if name is not None:
            return name
    for line in reversed(lines[:begin]):
        match = _EXERCISE_COMMENT.match(line)
        if match:
            return match.group(1)
    return None


def _instruction(lines, begin, end):
    """The text of a ``# TODO:`` comment inside the region or just above it."""
    for line in lines[begin + 1 : end]:
        match = _TODO_COMMENT.match(line)
        if match:
            return match.group(1)
    for line in reversed(lines[:begin]):
        if not line.strip():
            continue
        match = _TODO_COMMENT.match(line)
        if match:
            return match.group(1)
        if not line.lstrip().startswith("#"):
            break
    return DEFAULT_INSTRUCTION


def _python_string(text):
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _find_regions(lines, begin_pattern, end_pattern, wrong_patterns, kind, where):
    """Return [(begin_line, end_line)] for one cell, raising on malformed markers."""
    regions = []
    open_at = None
    for i, line in enumerate(lines):
        if begin_pattern.match(line):
            if open_at is not None:
                raise NotebookBuildError(
                    f"{where(i)}: nested BEGIN SOLUTION marker (the region opened on "
                    f"line {open_at + 1} of the cell is not closed yet)."
                )
            open_at = i
        elif end_pattern.match(line):
            if open_at is None:
                raise NotebookBuildError(f"{where(i)}: END SOLUTION marker without a BEGIN.")
            regions.append((open_at, i))
            open_at = None
        elif any(p.match(line) for p in wrong_patterns):
            other = "Markdown" if kind == "code" else "code"
            raise NotebookBuildError(
                f"{where(i)}: a {other} solution marker in a {kind} cell. Expected "
                + ("'### BEGIN SOLUTION' / '### END SOLUTION'" if kind == "code"
                   else "'<!-- BEGIN SOLUTION -->' / '<!-- END SOLUTION -->'")
                + f". Received: {line.strip()!r}"
            )
        elif _MARKER_WORDS.search(line):
            raise NotebookBuildError(
                f"{where(i)}: malformed solution marker; a marker must be alone on its "
                f"line. Received: {line.strip()!r}"
            )
    if open_at is not None:
        raise NotebookBuildError(
            f"{where(open_at)}: BEGIN SOLUTION marker without an END (unclosed region)."
        )
    return regions


def _strip_code_cell(source, where):
    lines = source.split("\n")
    regions = _find_regions(lines, _CODE_BEGIN, _CODE_END, (_MD_BEGIN, _MD_END), "code", where)
    if not regions:
        return source
    spans = _function_spans(lines)
    out = []
    previous_end = -1
    for begin, end in regions:
        name = _exercise_name(lines, begin, spans)
        if name is None:
            raise NotebookBuildError(
                f"{where(begin)}: a marker outside an exercise. Expected the region inside a "
                "function body, or a '# EXERCISE: name' comment earlier in the cell."
            )
        pad = lines[begin][: _indent(lines[begin])]
        message = f"Exercise {name}: {_instruction(lines, begin, end)}"
        out.extend(lines[previous_end + 1 : begin])
        out.append(pad + CODE_STUB)
        out.append(pad + f"raise NotImplementedError({_python_string(message)})")
        previous_end = end
    out.extend(lines[previous_end + 1 :])
    return "\n".join(out)


def _strip_markdown_cell(source, where):
    lines = source.split("\n")
    regions = _find_regions(lines, _MD_BEGIN, _MD_END, (_CODE_BEGIN, _CODE_END), "markdown", where)
    if not regions:
        return source
    out = []
    previous_end = -1
    for begin, end in regions:
        out.extend(lines[previous_end + 1 : begin])
        out.append(MARKDOWN_STUB)
        previous_end = end
    out.extend(lines[previous_end + 1 :])
    return "\n".join(out)


def _tags(cell):
    return list(cell.get("metadata", {}).get("tags", []))


def strip_solutions(nb, filename="<notebook>"):
    """Return the student version of a solution notebook (the input is not changed).

    Solution regions become stubs, cells tagged ``solution-only`` are dropped,
    every output and execution count is cleared, the kernelspec is set to
    ``python3`` and all metadata except cell ``tags`` (and the notebook's
    kernelspec and language name) is removed.

    Args:
        nb: a ``nbformat.NotebookNode`` (version 4).
        filename: the name used in error messages.

    Returns:
        A new ``NotebookNode``.

    Raises:
        NotebookBuildError: a nested, unclosed or unmatched marker, a marker
            outside an exercise, or a marker of the wrong kind for its cell.
    """
    nb = copy.deepcopy(nb)
    cells = []
    used_ids = set()
    for index, cell in enumerate(nb.cells):
        tags = _tags(cell)
        if SOLUTION_ONLY_TAG in tags:
            continue

        def where(line_index, _index=index):
            return _where(filename, _index, line_index)

        source = cell.source if isinstance(cell.source, str) else "".join(cell.source)
        if cell.cell_type == "code":
            source = _strip_code_cell(source, where)
            new = nbformat.v4.new_code_cell(source)
        elif cell.cell_type == "markdown":
            source = _strip_markdown_cell(source, where)
            new = nbformat.v4.new_markdown_cell(source)
            if cell.get("attachments"):
                new.attachments = cell.attachments
        else:
            new = nbformat.v4.new_raw_cell(source)
        if tags:
            new.metadata = nbformat.NotebookNode({"tags": tags})
        cell_id = cell.get("id")
        if not cell_id or cell_id in used_ids:
            cell_id = f"cell-{index}"
            while cell_id in used_ids:
                cell_id += "x"
        used_ids.add(cell_id)
        new.id = cell_id
        cells.append(new)
    student = nbformat.v4.new_notebook()
    student.nbformat, student.nbformat_minor = 4, 5
    student.cells = cells
    student.metadata = nbformat.NotebookNode(
        {
            "kernelspec": dict(KERNELSPEC),
            "language_info": {"name": nb.metadata.get("language_info", {}).get("name", "python")},
        }
    )
    return student


def _dumps(nb):
    """Stable JSON text for a notebook (nbformat's layout, sorted keys, trailing newline)."""
    text = nbformat.writes(nb, version=4)
    return text if text.endswith("\n") else text + "\n"


def _write_atomic(path, text):
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
        # mkstemp makes the file private (0600); give it the usual mode for a shared repository.
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _read(path):
    try:
        return nbformat.read(str(path), as_version=4)
    except Exception as error:  # nbformat raises several unrelated types
        raise NotebookBuildError(f"{path}: not a readable notebook ({error}).") from None


def _build_in_memory(solutions_dir):
    """{file name: student JSON text} for every solution notebook, or raise."""
    built = {}
    for path in _solution_files(solutions_dir):
        built[path.name] = _dumps(strip_solutions(_read(path), filename=str(path)))
    return built


def build(solutions_dir=None, notebooks_dir=None):
    """Write every student notebook from its solution notebook, all or nothing.

    Every notebook is built in memory first, so a marker error anywhere leaves
    ``notebooks_dir`` untouched; then each file is written through a temporary
    file and ``os.replace``. Rebuilding gives byte-identical files.

    Args:
        solutions_dir: folder of solution notebooks (default: ``<repo>/solutions``).
        notebooks_dir: folder for student notebooks (default: ``<repo>/notebooks``).

    Returns:
        The list of written paths, sorted.

    Raises:
        NotebookBuildError: a malformed marker, naming file and cell.
    """
    solutions, notebooks = _dirs(solutions_dir, notebooks_dir)
    built = _build_in_memory(solutions)
    notebooks.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in built.items():
        target = notebooks / name
        if not target.exists() or target.read_text(encoding="utf-8") != text:
            _write_atomic(target, text)
        written.append(target)
    return written


# --------------------------------------------------------------------------- #
# check
# --------------------------------------------------------------------------- #
def _cell_source(cell):
    return cell.source if isinstance(cell.source, str) else "".join(cell.source)


def _secret_lines(nb):
    """Non-trivial lines that exist only inside solution regions or solution-only cells."""
    inside, outside = set(), set()
    for cell in nb.cells:
        lines = [line.strip() for line in _cell_source(cell).split("\n")]
        if SOLUTION_ONLY_TAG in _tags(cell):
            inside.update(lines)
            continue
        if cell.cell_type == "code":
            begin, end = _CODE_BEGIN, _CODE_END
        elif cell.cell_type == "markdown":
            begin, end = _MD_BEGIN, _MD_END
        else:
            outside.update(lines)
            continue
        in_region = False
        for raw, line in zip(_cell_source(cell).split("\n"), lines):
            if begin.match(raw):
                in_region = True
            elif end.match(raw):
                in_region = False
            else:
                (inside if in_region else outside).add(line)
    return {line for line in inside - outside if len(line) >= MIN_LEAK_LENGTH}


def _is_executable(cell):
    return (
        cell.cell_type == "code"
        and _cell_source(cell).strip() != ""
        and "skip-execution" not in _tags(cell)
    )


def _execution_problems(path, nb):
    """Problems when a solution notebook was not run top to bottom on a fresh kernel."""
    counts = [cell.get("execution_count") for cell in nb.cells if _is_executable(cell)]
    problems = []
    if counts != list(range(1, len(counts) + 1)):
        first = next(i for i, c in enumerate(counts + [None]) if c != i + 1)
        found = counts[first] if first < len(counts) else "nothing"
        problems.append(
            f"{path}: not executed top to bottom on a fresh kernel: the execution counts of "
            f"the non-empty code cells must be 1..{len(counts)}; code cell {first + 1} has "
            f"{found}. Run `python -m workshop notebooks run {path.stem}`."
        )
    if not any(cell.get("outputs") for cell in nb.cells if cell.cell_type == "code"):
        problems.append(f"{path}: has no outputs at all; run it before committing.")
    return problems


def _first_difference(built, committed):
    cells_a, cells_b = built.get("cells", []), committed.get("cells", [])
    for i, (a, b) in enumerate(zip(cells_a, cells_b)):
        if a != b:
            return f"cell {i + 1} differs"
    if len(cells_a) != len(cells_b):
        return f"{len(cells_b)} cells instead of {len(cells_a)}"
    return "notebook metadata differs"


def check(solutions_dir=None, notebooks_dir=None):
    """List every way the committed notebooks are out of sync or leak solutions.

    Args:
        solutions_dir: folder of solution notebooks (default: ``<repo>/solutions``).
        notebooks_dir: folder of student notebooks (default: ``<repo>/notebooks``).

    Returns:
        A list of problems, one readable sentence each; empty when all is well.
    """
    solutions, notebooks = _dirs(solutions_dir, notebooks_dir)
    problems = []
    solution_paths = _solution_files(solutions)
    names = {p.name for p in solution_paths}
    student_paths = sorted(notebooks.glob("*.ipynb")) if notebooks.is_dir() else []
    for extra in student_paths:
        if extra.name not in names:
            problems.append(f"{extra}: has no solution notebook {solutions / extra.name}; delete it.")
    hint = "run `python -m workshop notebooks build`"
    for path in solution_paths:
        try:
            nb = _read(path)
            expected_text = _dumps(strip_solutions(nb, filename=str(path)))
        except NotebookBuildError as error:
            problems.append(str(error))
            continue
        problems.extend(_execution_problems(path, nb))
        target = notebooks / path.name
        if not target.exists():
            problems.append(f"{target}: missing; {hint}.")
            continue
        text = target.read_text(encoding="utf-8")
        try:
            committed = json.loads(text)
        except ValueError:
            problems.append(f"{target}: not valid JSON; {hint}.")
            continue
        expected = json.loads(expected_text)
        if committed != expected:
            problems.append(
                f"{target}: differs from a fresh build of {path} "
                f"({_first_difference(expected, committed)}); {hint}."
            )
        if _MARKER_WORDS.search(text):
            problems.append(f"{target}: contains a solution marker (BEGIN/END SOLUTION).")
        secrets = _secret_lines(nb)
        for index, cell in enumerate(committed.get("cells", [])):
            source = cell.get("source", "")
            source = source if isinstance(source, str) else "".join(source)
            leaked = sorted({line.strip() for line in source.split("\n")} & secrets)
            if leaked:
                problems.append(
                    f"{target}, cell {index + 1}: contains solution text: {leaked[0]!r}."
                )
            if cell.get("cell_type") == "code" and (
                cell.get("outputs") or cell.get("execution_count") is not None
            ):
                problems.append(
                    f"{target}, cell {index + 1}: has outputs or an execution count; {hint}."
                )
    return problems


# --------------------------------------------------------------------------- #
# run
# --------------------------------------------------------------------------- #
def _select(names, solution_paths):
    if not names:
        return list(solution_paths)
    selected = []
    for raw in names:
        name = Path(raw).name
        stem = name[: -len(".ipynb")] if name.endswith(".ipynb") else name
        matches = [p for p in solution_paths if p.stem == stem]
        if not matches:
            matches = [p for p in solution_paths if p.stem.split("_", 1)[0] == stem]
        if len(matches) != 1:
            available = ", ".join(p.stem for p in solution_paths) or "none"
            what = "matches no" if not matches else "matches more than one"
            raise NotebookRunError(
                f"Expected a notebook number, name or file name. Received: {raw!r}, which "
                f"{what} solution notebook (available: {available})."
            )
        if matches[0] not in selected:
            selected.append(matches[0])
    return selected


def _current_env_kernel_manager():
    """A KernelManager whose ``python3`` is the interpreter running this code."""
    import ipykernel.kernelspec
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager

    class CurrentEnvKernelSpecManager(KernelSpecManager):
        def get_kernel_spec(self, kernel_name):
            return self.kernel_spec_class(
                resource_dir=ipykernel.kernelspec.RESOURCES,
                **ipykernel.kernelspec.get_kernel_dict(),
            )

    return KernelManager(kernel_name="python3", kernel_spec_manager=CurrentEnvKernelSpecManager())


def _last_line(text):
    lines = [line for line in str(text).strip().splitlines() if line.strip()]
    return re.sub(r"\x1b\[[0-9;]*m", "", lines[-1]) if lines else "unknown error"


def _execute(path, fast, timeout):
    """Execute one notebook on a fresh kernel; return it or raise NotebookRunError."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = _read(path)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    state = {"cell": None}

    def on_cell_execute(cell, cell_index):
        state["cell"] = cell_index

    env = dict(os.environ)
    env["WORKSHOP_FAST"] = "1" if fast else "0"
    env["WORKSHOP_STRICT_CHECKS"] = "1"
    env.pop("MPLBACKEND", None)  # let ipykernel pick the inline backend so figures are kept
    client = NotebookClient(
        nb,
        timeout=timeout,
        km=_current_env_kernel_manager(),
        record_timing=False,
        on_cell_execute=on_cell_execute,
        resources={"metadata": {"path": str(path.parent)}},
    )
    try:
        client.execute(env=env)
    except CellExecutionError as error:
        cell = "?" if state["cell"] is None else state["cell"] + 1
        detail = f"{error.ename}: {error.evalue}" if error.ename else _last_line(error)
        raise NotebookRunError(
            f"{path}, cell {cell} (counting all cells from 1) failed: {_last_line(detail)}"
        ) from None
    except Exception as error:  # timeouts, a dead kernel, a kernel that will not start
        cell = "?" if state["cell"] is None else state["cell"] + 1
        raise NotebookRunError(
            f"{path}, cell {cell} (counting all cells from 1) failed: "
            f"{type(error).__name__}: {_last_line(error)}"
        ) from None
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = collapse_progress_output(cell.outputs)
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    return nb


def render_terminal(text):
    """What a terminal shows for ``text``: a carriage return restarts the line, a backspace erases a character.

    Keras's progress bar redraws itself this way; kept raw, one training cell stores
    thousands of intermediate bars.
    """
    lines = []
    for line in text.split("\n"):
        shown = []
        for ch in line:
            if ch == "\x08":
                if shown:
                    shown.pop()
            elif ch == "\r":
                shown = []
            else:
                shown.append(ch)
        lines.append("".join(shown))
    return "\n".join(lines)


def collapse_progress_output(outputs):
    """Merge consecutive stream outputs of the same name and keep only what a terminal would show."""
    merged = []
    for output in outputs:
        if (
            output.get("output_type") == "stream"
            and merged
            and merged[-1].get("output_type") == "stream"
            and merged[-1].get("name") == output.get("name")
        ):
            merged[-1]["text"] += output["text"]
        else:
            merged.append(copy.deepcopy(output))
    for output in merged:
        if output.get("output_type") == "stream" and ("\r" in output["text"] or "\x08" in output["text"]):
            output["text"] = render_terminal(output["text"])
    return merged


def run(names=None, solutions_dir=None, fast=False, timeout=1800, stream=None):
    """Execute solution notebooks in place, top to bottom, each on a fresh kernel.

    The kernel is ``python3`` from the current environment, its working directory
    is the solutions folder, and ``WORKSHOP_FAST`` is ``0`` (``1`` with ``fast``).
    A notebook is written back only when every cell ran without error, so a
    failure leaves the file as it was. Run :func:`build` afterwards.

    Args:
        names: notebooks to run: ``"05"``, ``"05_vae_mnist"`` or a file name;
            None runs them all in order.
        solutions_dir: folder of solution notebooks (default: ``<repo>/solutions``).
        fast: run in fast mode (for a quick smoke test).
        timeout: seconds allowed per cell.
        stream: where progress lines go (default: ``sys.stdout``).

    Returns:
        The list of executed paths.

    Raises:
        NotebookRunError: an unknown name, or a cell that failed (naming the
            notebook, the cell and the error's last line).
    """
    stream = stream or sys.stdout
    solutions, _ = _dirs(solutions_dir)
    selected = _select(names, _solution_files(solutions))
    done = []
    for position, path in enumerate(selected, start=1):
        print(f"[{position}/{len(selected)}] {path.name} ...", end=" ", file=stream, flush=True)
        start = time.perf_counter()
        try:
            nb = _execute(path, fast=fast, timeout=timeout)
        except NotebookRunError:
            print("FAILED", file=stream, flush=True)
            raise
        _write_atomic(path, _dumps(nb))
        print(f"ok in {time.perf_counter() - start:.1f} s", file=stream, flush=True)
        done.append(path)
    if done:
        print("Now run `python -m workshop notebooks build` to refresh notebooks/.", file=stream)
    return done


# --------------------------------------------------------------------------- #
# command line
# --------------------------------------------------------------------------- #
class _UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise _UsageError(message)


def _parser():
    common = _Parser(add_help=False)
    common.add_argument("--solutions", metavar="DIR", help="solution notebooks (default: <repo>/solutions)")
    common.add_argument("--notebooks", metavar="DIR", help="student notebooks (default: <repo>/notebooks)")
    parser = _Parser(
        prog="python -m workshop notebooks",
        description="Build, check and run the course notebooks.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    commands.add_parser("build", parents=[common], help="write notebooks/ from solutions/")
    commands.add_parser(
        "check", parents=[common], help="fail when notebooks/ and solutions/ are out of sync"
    )
    run_parser = commands.add_parser(
        "run", parents=[common], help="execute solution notebooks in place (full settings)"
    )
    run_parser.add_argument("names", nargs="*", metavar="NAMES", help="e.g. 05, 05_vae_mnist")
    run_parser.add_argument("--fast", action="store_true", help="run with WORKSHOP_FAST=1")
    run_parser.add_argument("--timeout", type=int, default=1800, help="seconds per cell")
    from workshop import grading  # issue 10 hook: `notebooks grade` (workshop/grading.py)

    grading.add_arguments(commands.add_parser("grade", help="grade submitted student notebooks (CSV, JSON, summary)"))
    return parser


def cli_main(argv=None):
    """Entry point for ``python -m workshop notebooks``; returns the exit status.

    0 on success, 1 when ``check`` finds problems, 2 on any error (one line on
    stderr, no traceback).
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        args = _parser().parse_args(argv)
    except _UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except SystemExit as exit_:  # --help
        return exit_.code if isinstance(exit_.code, int) else 0
    try:
        if args.command == "grade":  # issue 10 hook
            from workshop import grading

            return grading.run_from_args(args)
        if args.command == "build":
            written = build(args.solutions, args.notebooks)
            for path in written:
                print(f"wrote {path}")
            print(f"{len(written)} student notebook(s) built.")
            return 0
        if args.command == "check":
            problems = check(args.solutions, args.notebooks)
            for problem in problems:
                print(problem)
            if problems:
                print(f"{len(problems)} problem(s) found.", file=sys.stderr)
                return 1
            print("notebooks/ is in sync with solutions/.")
            return 0
        run(args.names, args.solutions, fast=args.fast, timeout=args.timeout)
        return 0
    except (NotebookBuildError, NotebookRunError, OSError) as error:
        message = " ".join(str(error).split())
        print(f"error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 2
