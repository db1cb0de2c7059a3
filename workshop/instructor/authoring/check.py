"""Check that notebooks/ is exactly the build of solutions/, leaks nothing, and that solutions are executed."""

import json

from workshop.instructor.authoring.files import NotebookFileError, dumps, folders, read, solution_files
from workshop.instructor.authoring.markers import (
    _CODE_BEGIN,
    _CODE_END,
    _MARKER_WORDS,
    _MD_BEGIN,
    _MD_END,
    MIN_LEAK_LENGTH,
    SOLUTION_ONLY_TAG,
    NotebookBuildError,
    cell_source,
    strip_solutions,
    tags,
)
from workshop.instructor.delivery import deliver


def solution_lines(nb):
    """(lines inside solution regions or solution-only cells, lines outside them), each a set of stripped lines."""
    inside, outside = set(), set()
    for cell in nb.cells:
        lines = [line.strip() for line in cell_source(cell).split("\n")]
        if SOLUTION_ONLY_TAG in tags(cell):
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
        for raw, line in zip(cell_source(cell).split("\n"), lines):
            if begin.match(raw):
                in_region = True
            elif end.match(raw):
                in_region = False
            else:
                (inside if in_region else outside).add(line)
    return inside, outside


def secret_lines(*notebooks):
    """Non-trivial lines (stripped) that exist only inside the solution regions of ``notebooks``: the answers.

    A line shown outside a solution region in any of the notebooks (``with tf.GradientTape() as tape:``,
    say) is not a secret.
    """
    inside, outside = set(), set()
    for nb in notebooks:
        cell_inside, cell_outside = solution_lines(nb)
        inside |= cell_inside
        outside |= cell_outside
    return {line for line in inside - outside if len(line) >= MIN_LEAK_LENGTH}


def _is_executable(cell):
    return cell.cell_type == "code" and cell_source(cell).strip() != "" and "skip-execution" not in tags(cell)


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
    solutions, notebooks = folders(solutions_dir, notebooks_dir)
    problems = []
    solution_paths = solution_files(solutions)
    names = {p.name for p in solution_paths}
    student_paths = sorted(notebooks.glob("*.ipynb")) if notebooks.is_dir() else []
    for extra in student_paths:
        if extra.name not in names:
            problems.append(f"{extra}: has no solution notebook {solutions / extra.name}; delete it.")
    hint = "run `python -m workshop notebooks build`"
    for path in solution_paths:
        try:
            nb = read(path)
            expected_text = dumps(deliver(strip_solutions(nb, filename=str(path)), path.name))
        except (NotebookBuildError, NotebookFileError) as error:
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
            problems.append(f"{target}: differs from a fresh build of {path} ({_first_difference(expected, committed)}); {hint}.")
        if _MARKER_WORDS.search(text):
            problems.append(f"{target}: contains a solution marker (BEGIN/END SOLUTION).")
        secrets = secret_lines(nb)
        for index, cell in enumerate(committed.get("cells", [])):
            source = cell.get("source", "")
            source = source if isinstance(source, str) else "".join(source)
            leaked = sorted({line.strip() for line in source.split("\n")} & secrets)
            if leaked:
                problems.append(f"{target}, cell {index + 1}: contains solution text: {leaked[0]!r}.")
            if cell.get("cell_type") == "code" and (cell.get("outputs") or cell.get("execution_count") is not None):
                problems.append(f"{target}, cell {index + 1}: has outputs or an execution count; {hint}.")
    from workshop.instructor import nbci

    problems.extend(nbci.problems(solutions, notebooks))
    return problems
