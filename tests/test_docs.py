"""The documents agree with each other, with the notebooks and with the tools they describe.

README.md (students, and what the website's home page reads), docs/instructor-guide.md,
docs/developers.md, site/home.md and LICENSE. Nothing here runs a notebook or builds the site.
"""

import re
import shlex
from pathlib import Path

import pytest

from workshop.instructor import course, site

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
GUIDE = ROOT / "docs" / "instructor-guide.md"
DEVELOPERS = ROOT / "docs" / "developers.md"
GRADING = ROOT / "docs" / "grading-guide.md"
HOME = ROOT / "site" / "home.md"
# Linked from the README and the guides, written separately: may not exist yet.
PENDING = set()  # links to files that are still to be written


def _text(path):
    return path.read_text(encoding="utf-8")


def _section(text, heading):
    match = re.search(rf"^#+ {re.escape(heading)}\s*$(.*?)(?=^#+ |\Z)", text, re.DOTALL | re.MULTILINE)
    assert match, f"no section {heading!r}"
    return match.group(1)


def _table_rows(text):
    """The cells of every Markdown table row in ``text`` (header and rule rows included)."""
    return [[cell.strip() for cell in re.split(r"(?<!\\)\|", line.strip())[1:-1]] for line in text.splitlines() if line.startswith("|")]


def _stems():
    return sorted(p.stem for p in (ROOT / "solutions").glob("*.ipynb"))


# --------------------------------------------------------------------------- #
# licence
# --------------------------------------------------------------------------- #
def _pyproject_license():
    text = _text(ROOT / "pyproject.toml")
    try:
        import tomllib
    except ImportError:  # Python 3.10
        match = re.search(r'^license\s*=\s*\{\s*text\s*=\s*"([^"]+)"', text, re.MULTILINE)
        return match.group(1) if match else None
    license = tomllib.loads(text)["project"]["license"]
    return license.get("text") if isinstance(license, dict) else license


def test_license_file_is_the_mit_licence_that_pyproject_names():
    assert _pyproject_license() == "MIT"
    text = _text(ROOT / "LICENSE")
    assert text.splitlines()[0] == "MIT License"
    assert "Copyright (c) 2026 VAE Workshop contributors" in text
    for sentence in (
        "Permission is hereby granted, free of charge, to any person obtaining a copy",
        "The above copyright notice and this permission notice shall be included in all",
        'THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR',
    ):
        assert sentence in text


# --------------------------------------------------------------------------- #
# README
# --------------------------------------------------------------------------- #
def test_readme_course_map_links_every_student_notebook():
    rows = _table_rows(_section(_text(README), "Course map"))
    linked = [re.search(r"\]\(([^)]+)\)", row[1]).group(1) for row in rows if re.fullmatch(r"\d\d", row[0])]
    assert linked == [f"notebooks/{stem}.ipynb" for stem in _stems()]
    assert all((ROOT / link).is_file() for link in linked)


def test_readme_keeps_what_the_website_reads():
    readme = _text(README)
    quick_start = _section(readme, "Quick start")
    assert "pip install -r requirements.txt" in quick_start and "jupyter lab notebooks/" in quick_start
    assert "Colab" in quick_start and "MNIST_PATH" in quick_start
    assert set(site._readme_descriptions(readme)) == set(_stems())
    assert "## MNIST licence and attribution" in readme and "CC BY-SA 3.0" in readme


@pytest.mark.parametrize("path", [README, GUIDE, DEVELOPERS, GRADING], ids=lambda p: p.name)
def test_relative_links_resolve(path):
    text = re.sub(r"```.*?```", "", _text(path), flags=re.DOTALL)
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", target):
            continue
        file, _, anchor = target.partition("#")
        resolved = (path.parent / file).resolve() if file else path
        if resolved in PENDING:
            continue
        assert resolved.exists(), f"{path.name}: link to {target} does not resolve"
        if anchor and resolved.suffix == ".md":
            slugs = {_slug(h) for h in re.findall(r"^#+ (.+)$", _text(resolved), re.MULTILINE)}
            assert anchor in slugs, f"{path.name}: no heading #{anchor} in {file or path.name}"


def _slug(heading):
    """GitHub's (and MyST's) anchor of a heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


# --------------------------------------------------------------------------- #
# student times, the plans and machine times
# --------------------------------------------------------------------------- #
def _stated_minutes():
    """{number: minutes} as each student notebook states it in its introduction."""
    found = {}
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        match = re.search(r"\*\*Time:\*\* about (\d+) minutes", _text(path))
        if match:
            found[path.name[:2]] = int(match.group(1))
    return found


def _readme_minutes():
    rows = _table_rows(_section(_text(README), "Course map"))
    return {row[0]: int(re.search(r"about (\d+) minutes$", row[2]).group(1)) for row in rows if re.fullmatch(r"\d\d", row[0])}


def test_student_times_agree_across_notebooks_readme_guide_and_site():
    stated, readme = _stated_minutes(), _readme_minutes()
    assert len(stated) >= 8 and set(readme) == {stem[:2] for stem in _stems()}
    assert {number: readme[number] for number in stated} == stated, "the README's course map differs from the notebooks"
    guide = _text(GUIDE)
    timetable = {row[0]: row[2] for row in _table_rows(_section(guide, "Timetables")) if re.fullmatch(r"\d\d", row[0])}
    assert timetable == {number: f"{minutes} min" for number, minutes in readme.items()}
    term = {row[1][:2]: row[3] for row in _table_rows(_section(guide, "A ten-week term")) if row[0].isdigit()}
    assert term == timetable
    low, high = min(readme.values()), max(readme.values())
    sitting = f"{low} to {high} minutes"
    assert sitting in _text(HOME) and sitting in guide and "30 to 60" not in _text(HOME)


def test_the_guides_three_day_plan_is_the_one_the_website_shows():
    readme = _readme_minutes()
    rows = [row for row in _table_rows(_section(_text(GUIDE), "A three-day workshop")) if row[0].startswith("Day")]
    plan = tuple((row[0], tuple(n.strip() for n in row[1].split(","))) for row in rows)
    assert plan == site.TIMETABLE
    for row, (_, numbers) in zip(rows, plan):
        assert row[2] == f"{sum(readme[n] for n in numbers)} min", row


def test_every_notebook_has_a_machine_time_measured_one_way():
    rows = [row for row in _table_rows(_section(_text(GUIDE), "Timetables")) if re.fullmatch(r"\d\d", row[0])]
    assert [row[0] for row in rows] == [stem[:2] for stem in _stems()]
    for row in rows:  # seconds of idle wall time, nothing else (no CPU seconds, no times under load)
        assert re.fullmatch(r"\d+ s", row[3]), f"notebook {row[0]}: machine time {row[3]!r} is not idle wall seconds"
    assert "idle wall-clock time" in _text(GUIDE) and "2 x86-64 CPU cores" in _text(GUIDE)


# --------------------------------------------------------------------------- #
# what the guide tells instructors to change, and the commands it shows
# --------------------------------------------------------------------------- #
def test_the_guide_names_the_one_place_the_course_repository_is_set():
    section = _section(_text(GUIDE), "Before the term: set up the course repository")
    assert "workshop/instructor/course.py" in section
    for name in ("COURSE_REPOSITORY", "COURSE_BRANCH"):
        assert name in section and hasattr(course, name)
    assert "tag" in section
    assert "instructor/course.py" in _text(README)


def _documented_commands():
    """Every ``python -m workshop ...`` line in a bash block of the README and docs/*.md, as argv."""
    commands = []
    for path in [README, *sorted((ROOT / "docs").glob("*.md"))]:
        for block in re.findall(r"```bash\n(.*?)```", _text(path), re.DOTALL):
            for line in block.replace("\\\n", " ").splitlines():
                match = re.search(r"\bpython -m workshop\s+(.*)$", line)
                if match:
                    commands.append(pytest.param(shlex.split(match.group(1), comments=True), id=f"{path.name}: {match.group(1)[:60]}"))
    return commands


@pytest.mark.parametrize("argv", _documented_commands())
def test_documented_commands_parse(argv):
    from workshop.instructor import cli
    from workshop.instructor.presets import preset_from_argv

    args = cli.build_parser(preset_from_argv(argv)).parse_args(argv)  # site's jobs are in the one parser too
    assert args.command == argv[0]
