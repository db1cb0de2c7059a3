"""Exercise markers: find solution regions in a solution notebook and replace them by stubs.

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

Written here rather than with nbgrader's ``ClearSolutions`` preprocessor (same
markers): the stubs here name the exercise and its task, which the check cells
report, Markdown answers get a prompt, and nbgrader is not a course dependency.
"""

import ast
import copy
import re

import nbformat

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
        inside = [span for span in spans if span[0] < begin <= span[1] and begin_indent > span[2]]
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
                    f"{where(i)}: nested BEGIN SOLUTION marker (the region opened on line {open_at + 1} of the cell is not closed yet)."
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
                + ("'### BEGIN SOLUTION' / '### END SOLUTION'" if kind == "code" else "'<!-- BEGIN SOLUTION -->' / '<!-- END SOLUTION -->'")
                + f". Received: {line.strip()!r}"
            )
        elif _MARKER_WORDS.search(line):
            raise NotebookBuildError(
                f"{where(i)}: malformed solution marker; a marker must be alone on its line. Received: {line.strip()!r}"
            )
    if open_at is not None:
        raise NotebookBuildError(f"{where(open_at)}: BEGIN SOLUTION marker without an END (unclosed region).")
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


def tags(cell):
    """The tags of a cell (a list, maybe empty)."""
    return list(cell.get("metadata", {}).get("tags", []))


def cell_source(cell):
    """A cell's source as one string (nbformat allows a list of lines too)."""
    return cell.source if isinstance(cell.source, str) else "".join(cell.source)


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
        cell_tags = tags(cell)
        if SOLUTION_ONLY_TAG in cell_tags:
            continue

        def where(line_index, _index=index):
            return _where(filename, _index, line_index)

        source = cell_source(cell)
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
        if cell_tags:
            new.metadata = nbformat.NotebookNode({"tags": cell_tags})
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
