"""Kernelspec and metadata hygiene, and the jupytext percent-format twins (workshop.instructor.nbci)."""

import shutil
from pathlib import Path

import nbformat

from workshop.instructor import nbci

ROOT = Path(__file__).resolve().parent.parent
NAME = "01_probability_toolkit.ipynb"


def test_the_committed_notebooks_have_the_python3_kernel_and_no_stray_metadata():
    for folder, student in (("solutions", False), ("notebooks", True)):
        for path in sorted((ROOT / folder).glob("*.ipynb")):
            assert nbci.metadata_problems(path, nbformat.read(str(path), as_version=4), student) == []


def test_a_wrong_kernel_and_stray_metadata_are_named():
    nb = nbformat.read(str(ROOT / "solutions" / NAME), as_version=4)
    nb.metadata.kernelspec = {"name": "ir", "language": "R", "display_name": "R"}
    nb.metadata["colab"] = {"provenance": []}
    nb.cells[2].metadata["scrolled"] = True
    nb.cells[3].metadata["nbgrader"] = {"grade": False}
    found = nbci.metadata_problems("x.ipynb", nb)
    assert found[0] == "x.ipynb: kernelspec must be 'python3' (Python). Received: name='ir', language='R'."
    assert "stray notebook metadata ['colab']" in found[1]
    assert found[2].startswith("x.ipynb, cell 3: stray cell metadata ['scrolled']")
    assert found[3].startswith("x.ipynb, cell 4: stray cell metadata ['nbgrader']")
    assert nbci.metadata_problems("x.ipynb", nb, student=True) == found  # student notebooks carry no nbgrader block either


def test_percent_scripts_are_written_checked_and_round_trip(tmp_path):
    solutions = tmp_path / "solutions"
    solutions.mkdir()
    shutil.copy(ROOT / "solutions" / NAME, solutions / NAME)
    twin = solutions / "01_probability_toolkit.py"
    assert nbci.script_problems(solutions) == [f"{twin}: missing (the text twin of {NAME}); {nbci.HINT}."]
    assert nbci.sync_scripts(solutions) == [twin]
    assert nbci.script_problems(solutions) == [] and nbci.sync_scripts(solutions) == []
    text = twin.read_text()
    assert "# %% [markdown]" in text and "### BEGIN SOLUTION" in text and "image/png" not in text
    import jupytext

    back = jupytext.reads(text, fmt="py:percent")
    original = nbformat.read(str(solutions / NAME), as_version=4)
    assert [c.source for c in back.cells] == [c.source for c in original.cells]
    nb = nbformat.read(str(solutions / NAME), as_version=4)
    nb.cells[1].source += "\nprint('edited')"
    nbformat.write(nb, str(solutions / NAME))
    assert nbci.script_problems(solutions) == [f"{twin}: out of sync with {NAME}; {nbci.HINT}."]
    (solutions / "99_orphan.py").write_text("# %%\n")
    assert any("99_orphan.py: has no notebook" in p for p in nbci.script_problems(solutions))


def test_pytest_runs_notebooks_with_a_per_cell_timeout():
    text = (ROOT / "pyproject.toml").read_text()
    assert "--nbval-cell-timeout=" in text
    seconds = int(text.split("--nbval-cell-timeout=")[1].split()[0].strip('"'))
    assert 60 <= seconds <= 600
