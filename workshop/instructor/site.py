"""The course website: ``python -m workshop site build [--solutions]`` and ``python -m workshop site serve``.

Two editions, built by Sphinx with MyST-NB from stored outputs (nothing is
re-executed) and the configuration in ``site/conf.py``:

- **the students' site** (the default): each page is the *student* notebook of
  ``notebooks/`` (exercises blank, hints in their collapsed ``<details>``), with
  the solution notebook's stored outputs copied into the code cells that give no
  answer away (:func:`student_page`): a cell whose source is the same in both
  notebooks, that is neither an exercise nor a check cell, and that uses nothing an
  exercise defines (directly or through a name computed from one), so the data
  figures and worked examples before the first exercise are shown. That analysis is
  a few dozen lines of :mod:`ast`, written here: no maintained library follows
  names from cell to cell of a notebook;
- **the instructor's site** (``--solutions``): each page is the executed solution
  notebook with all its outputs, and ``docs/`` (the instructor's guide, the
  developers' page, the command-line reference) is in the menu.

Neither shows the test markers (``# NBVAL_CHECK_OUTPUT`` lines are dropped).
:func:`build` first lays out a staging folder (a temporary folder of its own,
removed afterwards):

- a home page generated from ``site/home.md`` (its ``<!-- students -->`` and
  ``<!-- instructor -->`` blocks kept for their edition only): the course map (every
  ``solutions/*.ipynb``, found by glob, with the README's description where it
  has one), a timetable and the README's set-up instructions;
- one page per notebook whose first cell, after the title, is an "Open in Colab"
  badge pointing at the *student* notebook in ``notebooks/`` and a link that downloads
  it (the student notebooks are copied to ``<site>/notebooks/``);
- ``docs/`` (instructor's site only): a copy of the repository's ``docs/`` folder;
- ``alt_texts.json``: the alt text of every figure, keyed by the SHA-256 of its
  PNG (MyST-NB's file name for it), taken from the output's ``alt`` metadata
  (which :mod:`workshop.plots` writes) or, for a figure without one, described
  from the code cell that drew it;

then runs Sphinx into ``build/site`` (or ``--output``). An output folder that is
not empty is only written into when it holds a site built earlier (Sphinx's
``.buildinfo`` file is there); nothing else is ever deleted. MathJax 3 comes from the
``sphinx-mathjax-offline`` package, so the pages typeset math with no network.
"""

import ast
import base64
import functools
import hashlib
import http.server
import json
import re
import shutil
import sys
import tempfile
from pathlib import Path

from workshop.instructor import course

__all__ = ["SiteError", "build", "cli_main", "figure_alt_texts", "serve", "stage"]

DEFAULT_PORT = 8000
# Suggested plan: (session, notebook numbers). Notebooks not listed go in a last session.
TIMETABLE = (
    ("Day 1, morning", ("01", "02")),
    ("Day 1, afternoon", ("03", "04")),
    ("Day 2, morning", ("05",)),
    ("Day 2, afternoon", ("06", "07")),
    ("Day 3, morning", ("08", "09")),
    ("Day 3, afternoon", ("10",)),
)
_IMAGE_TYPES = ("image/png", "image/jpeg", "image/svg+xml")


class SiteError(RuntimeError):
    """The site cannot be staged or built (missing folder, Sphinx error)."""


def _root():
    candidate = Path(__file__).resolve().parent.parent
    return candidate if (candidate / "solutions").is_dir() else Path.cwd()


def _source(cell):
    return cell.source if isinstance(cell.source, str) else "".join(cell.source)


def notebook_title(nb, fallback):
    """The text of the first ``# `` heading of a notebook (its page title)."""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in _source(cell).splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return fallback


# --------------------------------------------------------------------------- #
# alt text
# --------------------------------------------------------------------------- #
def _describe_cell(source):
    """A short description of what a code cell draws, from its comments and calls."""
    comments = [
        line.strip().lstrip("#").strip()
        for line in source.splitlines()
        if line.strip().startswith("#") and not line.strip().startswith("#!") and "NBVAL" not in line and len(line.strip()) > 3
    ]
    titles = re.findall(r"""(?:set_title|suptitle|title)\(\s*(?:r|f)?["']([^"']+)["']""", source)
    calls = sorted(set(re.findall(r"\b(plot_\w+|imshow|hist|scatter|plot|bar)\(", source)))
    parts = []
    if titles:
        parts.append("titled " + "; ".join(f"'{t}'" for t in titles[:4]))
    if comments:
        parts.append(comments[0].rstrip("."))
    if calls:
        parts.append("drawn with " + ", ".join(calls[:4]))
    return ", ".join(parts)


def figure_alt_texts(nb, notebook_label):
    """{SHA-256 of image bytes: alt text} for every figure output of a notebook.

    An output's own alt text (``metadata[mime]["alt"]``, written by
    :mod:`workshop.plots`) wins; otherwise the alt text says which cell drew the
    figure and what the cell's titles, first comment and plotting calls say.
    """
    texts = {}
    code_index = 0
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        code_index += 1
        figures = [
            (output, mime)
            for output in cell.get("outputs", [])
            if output.get("output_type") in ("display_data", "execute_result")
            for mime in _IMAGE_TYPES
            if mime in output.get("data", {})
        ]
        for number, (output, mime) in enumerate(figures, start=1):
            data = output["data"][mime]
            raw = data.encode("utf-8") if mime == "image/svg+xml" else base64.b64decode(data if isinstance(data, str) else "".join(data))
            alt = str(output.get("metadata", {}).get(mime, {}).get("alt", "")).strip()
            if not alt:
                what = _describe_cell(_source(cell))
                which = f"figure {number} of {len(figures)}" if len(figures) > 1 else "figure"
                alt = f"{notebook_label}: {which} from code cell {code_index}" + (f", {what}" if what else "")
            texts[hashlib.sha256(raw).hexdigest()] = _plain(alt)
    return texts


def _plain(text):
    """Alt text without TeX markup: ``$\\log\\sigma^2$`` reads ``log sigma^2``."""
    text = text.replace("$", "")
    text = re.sub(r"\\+([A-Za-z]+)", r"\1 ", text)
    text = text.replace("\\", "").replace("{", "").replace("}", "")
    return " ".join(text.split())


# --------------------------------------------------------------------------- #
# staging
# --------------------------------------------------------------------------- #
_DISPLAY_MATH = re.compile(r"\$\$(.+?)\$\$", re.DOTALL)


def join_display_math(source):
    """Put each ``$$...$$`` on one line, as Jupyter reads it (math before Markdown).

    Jupyter takes math out before parsing Markdown; MyST parses Markdown first, so a
    display equation continued on a line that starts with ``- `` (inside a list) would
    become a nested list item. Joining the equation's lines keeps it one piece.
    """
    return _DISPLAY_MATH.sub(lambda m: "$$" + " ".join(line.strip() for line in m.group(1).split("\n")) + "$$", source)


def launch_cell(notebook_name, repository=None, ref=None):
    """The Markdown cell put at the top of each page: Colab badge and student-notebook download."""
    import nbformat

    url = course.colab_url(notebook_name, repository, ref)
    html = (
        f'<p class="workshop-launch"><a class="workshop-colab" href="{url}">'
        f'<img src="_static/colab-badge.svg" alt="Open the student notebook in Colab"></a> '
        f'<a class="workshop-student" href="notebooks/{notebook_name}" download>'
        f"Download the student notebook ({notebook_name})</a></p>"
    )
    return nbformat.v4.new_markdown_cell(html)


def _readme_section(readme, heading):
    match = re.search(rf"^## {re.escape(heading)}\s*$(.*?)(?=^## |\Z)", readme, re.DOTALL | re.MULTILINE)
    return match.group(1).strip() if match else ""


def _readme_descriptions(readme):
    """{notebook stem: 'what you do' text} from the README's course map table."""
    found = {}
    for line in _readme_section(readme, "Course map").splitlines():
        match = re.match(r"\|\s*\d+\s*\|\s*\[[^\]]*\]\((?:solutions|notebooks)/([^)]+)\.ipynb\)\s*\|(.*)\|\s*$", line)
        if match:
            found[match.group(1)] = match.group(2).strip()
    return found


_BLOCK = "<!-- {0} -->(.*?)<!-- /{0} -->"


def edition_blocks(template, solutions):
    """``template`` with the ``<!-- instructor -->`` blocks kept for the instructor's site, the ``<!-- students -->`` ones otherwise."""
    keep, drop = ("instructor", "students") if solutions else ("students", "instructor")
    template = re.sub(_BLOCK.format(drop), "", template, flags=re.DOTALL)
    return re.sub(_BLOCK.format(keep), lambda m: m.group(1), template, flags=re.DOTALL)


def _home_page(template, readme, pages):
    descriptions = _readme_descriptions(readme)
    rows = ["| # | notebook | what you do |", "|---|---|---|"]
    for stem, title in pages:
        number = stem.split("_", 1)[0]
        short = re.sub(r"^\s*\d+\s*[·.:-]\s*", "", title)
        rows.append(f"| {number} | [{short}]({stem}.ipynb) | {descriptions.get(stem, '')} |")
    by_number = {stem.split("_", 1)[0]: (stem, title) for stem, title in pages}
    table = ["| session | notebooks |", "|---|---|"]
    placed = set()
    for session, numbers in TIMETABLE:
        present = [n for n in numbers if n in by_number]
        if present:
            table.append(f"| {session} | " + ", ".join(f"[{n}]({by_number[n][0]}.ipynb)" for n in present) + " |")
            placed.update(present)
    rest = [n for n in sorted(by_number) if n not in placed]
    if rest:
        table.append("| further sessions | " + ", ".join(f"[{n}]({by_number[n][0]}.ipynb)" for n in rest) + " |")
    setup = _readme_section(readme, "Quick start")  # local set-up, Colab and working offline
    return (
        template.replace("{{course_map}}", "\n".join(rows))
        .replace("{{timetable}}", "\n".join(table))
        .replace("{{setup}}", setup)
        .replace("{{toctree}}", "\n".join(stem for stem, _ in pages))
    )


def drop_test_markers(source):
    """A code cell's source without its nbval comment lines (``# NBVAL_CHECK_OUTPUT``): test plumbing, not course content."""
    from workshop.instructor.delivery import NBVAL_LINE

    return NBVAL_LINE.sub("", source)


def _parse(source):
    """The ast of a cell, its IPython magics and shell escapes blanked out; None when it does not parse."""
    lines = [
        line[: len(line) - len(line.lstrip())] + "pass" if line.lstrip().startswith(("%", "!")) else line for line in source.split("\n")
    ]
    try:
        return ast.parse("\n".join(lines))
    except SyntaxError:
        return None


def _names(tree):
    """(names the cell reads, names it binds at its top level or changes there through a method call or an item assignment).

    Names local to a function or class body are not bindings of the cell (a call such as ``np.sum`` inside an
    exercise's body changes nothing), and the caller leaves imported modules out of the changed names.
    """
    read = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)}
    bound, changed = set(), set()
    pending = list(tree.body)
    while pending:
        node = pending.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            bound.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
            continue
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            bound.add(node.id)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Name):
            changed.add(node.func.value.id)  # model.fit(...) changes model
        elif isinstance(node, (ast.Attribute, ast.Subscript)) and isinstance(node.ctx, ast.Store) and isinstance(node.value, ast.Name):
            changed.add(node.value.id)  # results["x"] = ... changes results
        if not isinstance(node, ast.Lambda):
            pending.extend(ast.iter_child_nodes(node))
    return read, bound, changed


def _loop_names(statement):
    """Names a statement binds as loop, comprehension or ``with`` targets (read after being rebound there)."""
    found = set()
    for node in ast.walk(statement):
        targets = []
        if isinstance(node, (ast.For, ast.AsyncFor, ast.comprehension)):
            targets = [node.target]
        elif isinstance(node, ast.withitem) and node.optional_vars is not None:
            targets = [node.optional_vars]
        for target in targets:
            found |= {name.id for name in ast.walk(target) if isinstance(name, ast.Name)}
    return found


def student_page(student, solution):
    """The students' page of a notebook: ``student`` with the ``solution``'s outputs where they give nothing away.

    A code cell gets the outputs of the solution cell with the same id when its source is the same in both
    (nbval marker lines aside),
    it is not an exercise (a ``NotImplementedError`` stub) or a check cell (it calls ``checks.nbNN``), and no
    statement of it reads a name that an exercise cell binds, nor one bound by a statement that did (followed
    through the notebook statement by statement; a method call such as ``model.fit(...)`` counts as binding
    ``model``; a name rebound from clean values is clean again). A cell that does not parse gets no outputs. The Colab badge and set-up cells are dropped (the page has its own launch cell).
    """
    import copy

    from workshop.instructor.delivery import BADGE_TAG, SETUP_TAG, check_calls

    page = copy.deepcopy(student)
    by_id = {cell.get("id"): cell for cell in solution.cells if cell.cell_type == "code"}
    tainted = set()
    modules = set()  # names bound by an import: np.random.seed(...) is not an answer
    cells = []
    for cell in page.cells:
        if {BADGE_TAG, SETUP_TAG} & set(cell.get("metadata", {}).get("tags", [])):
            continue
        cells.append(cell)
        if cell.cell_type != "code":
            continue
        source = _source(cell)
        tree = _parse(source)
        if tree is not None:
            modules |= {
                alias.asname or alias.name.split(".")[0]
                for node in ast.walk(tree)
                if isinstance(node, (ast.Import, ast.ImportFrom))
                for alias in node.names
            }
        answer = "raise NotImplementedError" in source or bool(check_calls(source)) or tree is None
        for statement in tree.body if tree is not None else []:
            read, bound, changed = _names(ast.Module(body=[statement], type_ignores=[]))
            if answer or (read - _loop_names(statement)) & tainted:
                answer = True
                tainted |= bound | (changed - modules)
            else:
                tainted -= bound  # rebound from values that owe nothing to an exercise
        if answer:
            continue
        match = by_id.get(cell.get("id"))
        if match is not None and drop_test_markers(_source(match)) == drop_test_markers(source):
            cell.outputs = [output for output in copy.deepcopy(match.get("outputs", [])) if output.get("output_type") != "error"]
            cell.execution_count = match.get("execution_count")
    page.cells = cells
    return page


def _with_launch_cell(nb, name, repository=None, ref=None):
    """Put the launch cell right after the page title (which must stay the first heading)."""
    import nbformat

    position = 1 if nb.cells and nb.cells[0].cell_type == "markdown" and _source(nb.cells[0]).lstrip().startswith("# ") else 0
    if position:
        first = _source(nb.cells[0])
        heading, _, rest = first.lstrip().partition("\n")
        nb.cells[0].source = heading
        extra = [launch_cell(name, repository, ref)]
        if rest.strip():
            extra.append(nbformat.v4.new_markdown_cell(rest))
        nb.cells[1:1] = extra
    else:
        nb.cells.insert(0, launch_cell(name, repository, ref))
    return nb


def _read(path):
    import nbformat

    try:
        return nbformat.read(str(path), as_version=4)
    except Exception as error:  # nbformat raises several unrelated types
        raise SiteError(f"{path}: not a readable notebook ({error}).") from None


def stage(staging, root=None, progress=None, solutions=False, repository=None, ref=None):
    """Lay out the Sphinx source folder ``staging`` from the repository at ``root``.

    ``staging`` is replaced if it exists: give a folder of your own (:func:`build`
    uses a new temporary one). ``progress``, if given, is called with one line per
    notebook staged. ``solutions`` stages the instructor's site (solution notebooks
    and ``docs/``) instead of the students'. ``repository`` and ``ref`` are where the
    Colab buttons point (default: :mod:`workshop.instructor.course`'s).

    Returns the list of (notebook stem, title) pages, in course order.
    """
    import nbformat

    say = progress or (lambda message: None)
    root = Path(root) if root is not None else _root()
    solutions_dir, notebooks, site = root / "solutions", root / "notebooks", root / "site"
    paths = sorted(solutions_dir.glob("*.ipynb")) if solutions_dir.is_dir() else []
    if not paths:
        raise SiteError(f"Expected executed notebooks in {solutions_dir}. Received: no *.ipynb there.")
    if not (site / "conf.py").is_file():
        raise SiteError(f"Expected the site configuration {site / 'conf.py'}. Received: no such file.")
    staging = Path(staging)
    if staging.exists():
        shutil.rmtree(staging)
    shutil.copytree(site, staging, ignore=shutil.ignore_patterns("__pycache__", "home.md"))
    if solutions and (root / "docs").is_dir():  # the instructor's guide and the other docs/*.md become pages (home.md's toctree)
        shutil.copytree(root / "docs", staging / "docs")
    (staging / "extra" / "notebooks").mkdir(parents=True)
    pages, alt_texts = [], {}
    for path in paths:
        solution = _read(path)
        title = notebook_title(solution, path.stem)
        student_path = notebooks / path.name
        if not student_path.is_file():
            raise SiteError(f"{student_path}: missing; run `python -m workshop notebooks build` first.")
        student = _read(student_path)
        if repository or ref:
            from workshop.instructor.delivery import deliver

            nbformat.write(deliver(student, path.name, repository, ref), str(staging / "extra" / "notebooks" / path.name))
        else:
            shutil.copy2(student_path, staging / "extra" / "notebooks" / path.name)
        nb = solution if solutions else student_page(student, solution)
        alt_texts.update(figure_alt_texts(nb, title))
        for cell in nb.cells:
            if cell.cell_type == "markdown":
                cell.source = join_display_math(_source(cell))
            elif cell.cell_type == "code":
                cell.source = drop_test_markers(_source(cell))
        nbformat.write(_with_launch_cell(nb, path.name, repository, ref), str(staging / path.name))
        pages.append((path.stem, title))
        say(f"site: staged {path.name} ({len(pages)}/{len(paths)})")
    (staging / "alt_texts.json").write_text(json.dumps(alt_texts, indent=1, sort_keys=True), encoding="utf-8")
    readme = (root / "README.md").read_text(encoding="utf-8") if (root / "README.md").is_file() else ""
    template = edition_blocks((site / "home.md").read_text(encoding="utf-8"), solutions)
    (staging / "index.md").write_text(_home_page(template, readme, pages), encoding="utf-8")
    return pages


BUILD_MARKER = ".buildinfo"  # what Sphinx's HTML builder writes at the top of every site it builds


def check_output_folder(out):
    """Refuse an output folder that is not empty and holds no site built earlier (``SiteError``)."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise SiteError(f"Expected --output to be a folder. Received: {out}, an existing file.")
    if out.is_dir() and any(out.iterdir()) and not (out / BUILD_MARKER).is_file():
        raise SiteError(
            f"Expected --output to be a new or empty folder, or a site built earlier (with {BUILD_MARKER}). "
            f"Received: {out}, which holds other files; choose another --output."
        )


def build(out_dir=None, root=None, stream=None, progress=None, solutions=False, repository=None, ref=None):
    """Build the site into ``out_dir`` (default ``<repo>/build/site``); return its path.

    The students' site, or with ``solutions`` the instructor's; ``repository`` and ``ref``
    are where its Colab buttons point (see :func:`stage`).

    The Sphinx sources and doctrees go into a temporary folder made for this build
    and removed afterwards, so no folder of the user's is deleted or written into,
    except ``out_dir``, which must be new, empty or a site built earlier
    (:func:`check_output_folder`). ``progress``, if given, is called with one line
    per step (each notebook staged, Sphinx started and done); ``stream`` gets the
    final summary line (default: ``sys.stdout``).
    """
    stream = stream or sys.stdout
    say = progress or (lambda message: None)
    root = Path(root) if root is not None else _root()
    out = Path(out_dir) if out_dir is not None else root / "build" / "site"
    check_output_folder(out)
    with tempfile.TemporaryDirectory(prefix="workshop-site-") as scratch:
        staging = Path(scratch) / "src"
        edition = "instructor's site, from solutions/" if solutions else "students' site, from notebooks/"
        say(f"site: staging the {edition} ...")
        pages = stage(staging, root, progress=say, solutions=solutions, repository=repository, ref=ref)
        from sphinx.cmd.build import build_main

        say(f"site: running Sphinx on {len(pages)} page(s) and the home page (about a minute) ...")
        status = build_main(["-b", "html", "-q", "-d", str(Path(scratch) / "doctrees"), str(staging), str(out)])
    if status != 0:
        raise SiteError(f"Sphinx failed (exit status {status}); see the messages above.")
    say(f"site: Sphinx done; {out / 'index.html'} is the home page")
    which = "the instructor's site (solutions)" if solutions else "the students' site (no answers)"
    print(f"built {which}: {len(pages)} notebook page(s) and the home page into {out}", file=stream)
    return out


# --------------------------------------------------------------------------- #
# serve
# --------------------------------------------------------------------------- #
class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


def make_server(directory, port=DEFAULT_PORT, host="127.0.0.1", quiet=False):
    """An HTTP server for ``directory`` (port 0 picks a free one); call ``serve_forever``."""
    directory = Path(directory)
    if not (directory / "index.html").is_file():
        raise SiteError(f"Expected a built site with index.html in {directory}; run `python -m workshop site build`.")
    handler = functools.partial(_QuietHandler if quiet else http.server.SimpleHTTPRequestHandler, directory=str(directory))
    return http.server.ThreadingHTTPServer((host, port), handler)


def serve(directory=None, port=DEFAULT_PORT, host="127.0.0.1", stream=None):
    """Serve the built site until interrupted."""
    stream = stream or sys.stdout
    directory = Path(directory) if directory is not None else _root() / "build" / "site"
    server = make_server(directory, port, host)
    print(f"serving {directory} at http://{host}:{server.server_address[1]}/ (Ctrl-C stops)", file=stream, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


# --------------------------------------------------------------------------- #
# command line
# --------------------------------------------------------------------------- #
def cli_main(argv=None):
    """``python -m workshop site ARGV...``; returns the exit status (see :func:`workshop.instructor.cli.main`)."""
    from workshop.instructor.cli import main

    argv = sys.argv[1:] if argv is None else list(argv)
    return main(["site", *argv])
