"""The student edition (``python -m workshop release OUT``): no answers, pinned Colab, refusals."""

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from workshop.instructor import cli, course, release

ROOT = Path(__file__).resolve().parent.parent
REPOSITORY = "https://github.com/some-teacher/vae-student"
REF = "v2026.1"


@pytest.fixture(scope="module")
def edition(tmp_path_factory):
    out = tmp_path_factory.mktemp("edition") / "student"
    written = release.release(out, REPOSITORY, REF, root=ROOT, stream=open(os.devnull, "w"))
    files = {path.relative_to(out).as_posix(): path.read_bytes() for path in out.rglob("*") if path.is_file()}
    return out, written, files


def test_the_edition_holds_what_students_need_and_nothing_of_the_instructor(edition):
    out, written, files = edition
    assert sorted(files) == written
    names = {p.name for p in (ROOT / "solutions").glob("*.ipynb")}
    assert {name.split("/", 1)[1] for name in files if name.startswith("notebooks/")} == names
    for needed in ("README.md", "requirements.txt", "pyproject.toml", "LICENSE", "workshop/__init__.py", "workshop/checks/nb01.py"):
        assert needed in files, needed
    assert any(name.startswith("workshop/data/") and name.endswith(".npz") for name in files)
    assert any(name.startswith("workshop/pretrained/") and name.endswith(".npz") for name in files)
    assert not any(name.startswith(("solutions/", "workshop/instructor/", "docs/", "tests/")) for name in files)
    assert not any("grading_extra" in name or "__pycache__" in name for name in files)
    requirements = files["requirements.txt"].decode()
    assert "keras==" in requirements and "-e ." in requirements
    assert not any(tool in requirements for tool in ("pytest", "sphinx", "playwright", "nbval", "ruff"))
    assert b"workshop.instructor" not in files["pyproject.toml"]


def test_no_file_of_the_edition_gives_an_answer_away(edition):
    _, _, files = edition
    secrets = release.solution_secrets(ROOT / "solutions")
    assert len(secrets) > 100  # the scan looks for something
    assert release.answer_leaks(files, secrets) == []
    for name, data in files.items():
        assert b"BEGIN SOLUTION" not in data and b"END SOLUTION" not in data, name
    # Every notebook and text file, line by line, against every answer line of every solution notebook.
    for name, data in files.items():
        if name.endswith((".ipynb", ".md", ".txt", ".toml")):
            lines = {line.strip() for line in data.decode().replace("\\n", "\n").splitlines()}
            assert not lines & set(secrets), f"{name}: {sorted(lines & set(secrets))[:2]}"


def test_the_scan_finds_a_leaked_answer_a_marker_and_instructor_files(edition):
    _, _, files = edition
    secrets = release.solution_secrets(ROOT / "solutions")
    answer, source = next(iter(secrets.items()))
    nb = json.loads(files["notebooks/01_probability_toolkit.ipynb"])
    nb["cells"][3]["source"] = "x = 1\n" + answer + "\n"
    leaky = {
        **files,
        "notebooks/01_probability_toolkit.ipynb": json.dumps(nb).encode(),
        "README.md": b"# x\n### BEGIN SOLUTION\n",
        "workshop/instructor/grading_extra.py": b"",
    }
    found = release.answer_leaks(leaky, secrets)
    assert any(f"cell 4: the answer line {answer!r} of solutions/{source}" in problem for problem in found)
    assert "README.md: a solution marker (BEGIN SOLUTION)" in found
    assert "workshop/instructor/grading_extra.py: instructor-only material" in found


def test_a_leaking_edition_is_not_written(tmp_path, monkeypatch):
    original = release.edition_files

    def leaky(root, repository, ref):
        files = original(root, repository, ref)
        files["README.md"] += b"\n<!-- BEGIN SOLUTION -->\n"
        return files

    monkeypatch.setattr(release, "edition_files", leaky)
    with pytest.raises(release.ReleaseError, match="would give answers away .*README.md: a solution marker"):
        release.release(tmp_path / "out", REPOSITORY, REF, root=ROOT)
    assert not (tmp_path / "out").exists()
    assert list(tmp_path.iterdir()) == []  # no staging folder left behind


def test_the_notebooks_are_notebooks_folder_with_the_badge_and_install_pinned_to_the_edition(edition):
    out, _, _ = edition
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        ours = nbformat.read(str(path), as_version=4)
        theirs = nbformat.read(str(out / "notebooks" / path.name), as_version=4)
        assert theirs.cells[2:] == ours.cells[2:], path.name
        assert theirs.metadata == ours.metadata
        badge, setup = theirs.cells[0].source, theirs.cells[1].source
        assert f"({course.colab_url(path.name, REPOSITORY, REF)})" in badge
        assert "github/some-teacher/vae-student/blob/v2026.1/notebooks/" + path.name in badge
        assert f"'workshop @ git+{REPOSITORY}.git@{REF}'" in setup
        assert course.COURSE_REPOSITORY not in badge + setup and "/main/" not in badge


def test_the_readme_links_the_student_notebooks_and_colab_and_no_instructor_material(edition):
    _, _, files = edition
    readme = files["README.md"].decode()
    for path in (ROOT / "solutions").glob("*.ipynb"):
        assert f"](notebooks/{path.name})" in readme
        assert course.colab_url(path.name, REPOSITORY, REF) in readme
    assert "solutions/" not in readme and "instructor-guide" not in readme and "## Tests" not in readme
    assert "## Quick start" in readme and "pip install -r requirements.txt" in readme and "## Licence" in readme


def test_the_notebooks_run_from_the_edition_alone(edition, tmp_path):
    """The first cells of notebook 01 (Colab set-up, switches, imports, a computed example) run with only OUT on the path."""
    out, _, _ = edition
    nb = nbformat.read(str(out / "notebooks" / "01_probability_toolkit.ipynb"), as_version=4)
    code = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        if "NotImplementedError" in cell.source:
            break
        code.append(cell.source)
    assert len(code) >= 4
    script = (
        "import workshop\nprint('FROM', workshop.__file__)\n"
        + "\n".join(f"exec({source!r})" for source in code)
        + f"\nprint('RAN', {len(code)})\n"
    )
    env = {**os.environ, "PYTHONPATH": str(out), "MPLBACKEND": "Agg", "WORKSHOP_FAST": "1"}
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"FROM {out / 'workshop' / '__init__.py'}" in done.stdout
    assert f"RAN {len(code)}" in done.stdout
    helped = subprocess.run(
        [sys.executable, "-m", "workshop", "--help"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert helped.returncode == 0 and "student edition" in helped.stdout, helped.stderr
    wrong = subprocess.run([sys.executable, "-m", "workshop", "train"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert wrong.returncode == 2 and "error: the student edition has no commands. Received: 'train'" in wrong.stderr


# --------------------------------------------------------------------------- #
# arguments and the output folder
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize(
    ("repository", "ref", "message"),
    [
        (REPOSITORY, None, "Expected --ref TAG_OR_COMMIT"),
        (REPOSITORY, "main", "Expected --ref to pin a tag or a commit. Received: 'main', a branch"),
        (REPOSITORY, "v1 --x", "Expected --ref to be a git tag, branch or commit name. Received: 'v1 --x'"),
        (None, REF, "Expected --repository https://github.com/OWNER/NAME .* Received: neither"),
        ("https://gitlab.com/a/b", REF, "Expected --repository https://github.com/OWNER/NAME. Received: 'https://gitlab.com/a/b'"),
        (course.COURSE_REPOSITORY, REF, "the course repository of workshop/instructor/course.py, which holds solutions/"),
    ],
)
def test_bad_arguments_are_refused_before_anything_is_written(tmp_path, repository, ref, message):
    with pytest.raises(release.ReleaseError, match=message):
        release.release(tmp_path / "out", repository, ref, root=ROOT)
    assert not (tmp_path / "out").exists()


def test_a_branch_is_accepted_only_when_asked(tmp_path):
    assert release.check_pin(REPOSITORY, "main", allow_branch=True) == (REPOSITORY, "main")
    assert release.check_pin(REPOSITORY + ".git", None, allow_branch=True) == (REPOSITORY, "main")
    assert release.check_pin("git@github.com:some-teacher/vae-student.git", "3f2c1d0") == (REPOSITORY, "3f2c1d0")


def test_the_repository_comes_from_outs_git_origin(tmp_path):
    out = tmp_path / "student"
    subprocess.run(["git", "init", "-q", str(out)], check=True)
    subprocess.run(["git", "-C", str(out), "remote", "add", "origin", "git@github.com:someone/course-2026.git"], check=True)
    release.release(out, ref="v1", root=ROOT, stream=open(os.devnull, "w"))
    manifest = json.loads((out / release.MANIFEST).read_text())
    assert manifest["repository"] == "https://github.com/someone/course-2026" and manifest["ref"] == "v1"
    assert "github/someone/course-2026/blob/v1/notebooks/" in (out / "notebooks" / "05_vae_mnist.ipynb").read_text()
    assert (out / ".git").is_dir()


def test_an_output_folder_with_other_files_is_refused_and_kept(tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "thesis.tex").write_text("precious")
    with pytest.raises(release.ReleaseError, match="Received: .*mine, which holds other files; choose another folder"):
        release.release(out, REPOSITORY, REF, root=ROOT)
    assert [p.name for p in out.iterdir()] == ["thesis.tex"]
    with pytest.raises(release.ReleaseError, match="an existing file"):
        release.release(out / "thesis.tex", REPOSITORY, REF, root=ROOT)


def test_an_earlier_release_is_replaced_only_with_force_and_files_it_did_not_write_are_kept(tmp_path):
    out = tmp_path / "student"
    quiet = open(os.devnull, "w")
    release.release(out, REPOSITORY, "v1", root=ROOT, stream=quiet)
    (out / "notebooks" / "my_notes.md").write_text("mine")
    (out / "workshop" / "stale.py").write_text("")
    manifest = json.loads((out / release.MANIFEST).read_text())
    manifest["files"].append("workshop/stale.py")  # as if an earlier release had written it
    (out / release.MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(release.ReleaseError, match="holds an earlier student edition; pass --force"):
        release.release(out, REPOSITORY, "v2", root=ROOT)
    release.release(out, REPOSITORY, "v2", root=ROOT, force=True, stream=quiet)
    assert json.loads((out / release.MANIFEST).read_text())["ref"] == "v2"
    assert "/blob/v2/" in (out / "notebooks" / "01_probability_toolkit.ipynb").read_text()
    assert (out / "notebooks" / "my_notes.md").read_text() == "mine"
    assert not (out / "workshop" / "stale.py").exists()


def test_force_never_overwrites_a_file_the_earlier_release_did_not_write(tmp_path):
    out = tmp_path / "student"
    release.release(out, REPOSITORY, "v1", root=ROOT, stream=open(os.devnull, "w"))
    manifest = json.loads((out / release.MANIFEST).read_text())
    manifest["files"].remove("LICENSE")  # LICENSE is now the user's own file
    (out / release.MANIFEST).write_text(json.dumps(manifest))
    (out / "LICENSE").write_text("my licence")
    with pytest.raises(release.ReleaseError, match="LICENSE: exists and is not part of the earlier release"):
        release.release(out, REPOSITORY, "v2", root=ROOT, force=True)
    assert (out / "LICENSE").read_text() == "my licence"
    assert "/blob/v1/" in (out / "notebooks" / "01_probability_toolkit.ipynb").read_text()


def test_the_command_line_reports_one_error_line(tmp_path, capsys):
    assert cli.main(["release", str(tmp_path / "out"), "--repository", REPOSITORY, "--ref", "main"]) == cli.FAILURE
    err = capsys.readouterr().err
    assert err.startswith("error: expected --ref to pin a tag or a commit") and err.count("\n") == 1
    assert cli.main(["release", str(tmp_path / "out"), "--repository", REPOSITORY, "--ref", REF]) == 0
    assert "wrote the student edition into" in capsys.readouterr().out
