"""The class report, ``class_report.html``: what a class got right and which mistakes it made.

For each exercise: how many passed, failed, did not attempt it or could not be
graded, and the named mistakes with their counts ("the overall factor 1/2 is
missing: 14 of 60"), read from the checks' own messages (:func:`mistake`). Then a
histogram of the students' totals and the submissions that need a look.

One self-contained HTML file (the histogram is a base64 PNG with alt text; no
script, no network), with headings, table headers and captions, and dark text on
white. Written by hand with :mod:`html` rather than a template engine: one page,
a few tables.
"""

import base64
import html
import io
import re
import statistics
from collections import Counter

from workshop.instructor.gradebook import FAIL, NOT_ATTEMPTED, NOT_GRADED, PASS, _number

__all__ = ["histogram_png", "mistake", "render"]

_LABEL = re.compile(r"^\[[^\]]+\]\s+[\w.]+:\s*")
_NUMBER = re.compile(r"(?<![\w.])[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?(?![\w.])")
_INSTRUCTOR = "public checks passed; instructor check failed:"


def mistake(message):
    """The mistake a failed check's ``message`` names, the same text for every student who made it.

    The label and exercise (``[not quite] gaussian_kl:``), the case and the
    student's own line are dropped and the first sentence kept. A named mistake
    (``[not quite]``, the checks' known wrong variants) keeps its text as it is;
    in any other message the numbers, which differ from student to student,
    become ``#``.
    """
    text = " ".join(str(message).split())
    prefix = ""
    if text.startswith(_INSTRUCTOR):
        prefix, text = "instructor check: ", text[len(_INSTRUCTOR) :].strip()
    named = text.startswith("[not quite]")
    text = _LABEL.sub("", text)
    text = re.sub(r"^case \d+ of \d+, .*?\): ", "", text)  # "case 2 of 5, gaussian_kl(0.5, ...): expected ..."
    text = re.sub(r"\s*\(case \d+: .*\)\.?$", "", text)  # a named mistake's "(case 2: gaussian_kl(...))"
    text = re.sub(r"\s*\(at `[^`]*`\)", "", text)  # the student's line
    text = re.sub(r"\s+on case \d+: .*$", ".", text)
    text = re.split(r"(?<=[.!?])\s+(?=\S)", text, maxsplit=1)[0]
    if not named:
        text = _NUMBER.sub("#", text)
        text = re.sub(r"\[#(?:,\s*#)*\s*\]", "[...]", text)
    text = text.strip() or "no message"
    return prefix + text


def histogram_png(totals, maximum):
    """A PNG (bytes) of the histogram of ``totals`` between 0 and ``maximum``; ``(png, bins)`` with the counts per bin."""
    from matplotlib.figure import Figure

    whole = maximum <= 40 and all(float(t).is_integer() for t in totals)
    if whole:
        edges = [x - 0.5 for x in range(int(maximum) + 2)]
    else:
        step = maximum / 10 if maximum > 0 else 1
        edges = [i * step for i in range(11)]
    figure = Figure(figsize=(6.4, 3.2), dpi=100)
    axes = figure.subplots()
    counts, _, _ = axes.hist(totals, bins=edges, color="#1f4e79", edgecolor="black")
    axes.set_xlabel(f"total points (of {_number(maximum)})")
    axes.set_ylabel("students")
    axes.yaxis.get_major_locator().set_params(integer=True)
    if whole:
        axes.set_xticks(range(int(maximum) + 1))
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", metadata={"Software": None})
    if whole:
        bins = [(str(x), int(c)) for x, c in zip(range(int(maximum) + 1), counts)]
    else:
        bins = [(f"{edges[i]:g} to {edges[i + 1]:g}", int(c)) for i, c in enumerate(counts)]
    return buffer.getvalue(), bins


_STYLE = """
body { font-family: system-ui, sans-serif; color: #1a1a1a; background: #ffffff; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; line-height: 1.45; }
h1, h2, h3 { color: #0b2e4f; }
table { border-collapse: collapse; margin: 0.5rem 0 1.5rem; }
caption { text-align: left; font-weight: bold; padding-bottom: 0.3rem; }
th, td { border: 1px solid #5c5c5c; padding: 0.25rem 0.6rem; text-align: left; vertical-align: top; }
th { background: #e8eef5; }
td.number { text-align: right; font-variant-numeric: tabular-nums; }
img { max-width: 100%; height: auto; }
"""


def _e(text):
    return html.escape(str(text), quote=True)


def _table(caption, header, rows, numeric=()):
    lines = [
        f"<table>\n<caption>{_e(caption)}</caption>",
        "<thead><tr>" + "".join(f'<th scope="col">{_e(h)}</th>' for h in header) + "</tr></thead>",
        "<tbody>",
    ]
    for row in rows:
        cells = []
        for index, value in enumerate(row):
            if index == 0:
                cells.append(f'<th scope="row">{_e(value)}</th>')
            else:
                cells.append(f'<td class="number">{_e(value)}</td>' if index in numeric else f"<td>{_e(value)}</td>")
        lines.append("<tr>" + "".join(cells) + "</tr>")
    lines.append("</tbody>\n</table>")
    return "\n".join(lines)


def _kept(book):
    """The submissions that count (superseded files and files that could not be graded at all left out)."""
    return [entry for row in book.rows for entry in row.entries.values()]


def exercise_counts(book, notebook):
    """[(exercise, points, Counter of statuses, Counter of mistakes)] for ``notebook``'s counted submissions."""
    entries = [e for e in _kept(book) if e.result.notebook == notebook]
    found = []
    for position, (exercise, points) in enumerate(book.exercises[notebook]):
        statuses, mistakes = Counter(), Counter()
        for entry in entries:
            grade = entry.result.exercises[position]
            statuses[grade.status] += 1
            if grade.status == FAIL:
                mistakes[mistake(grade.message)] += 1
        found.append((exercise, points, statuses, mistakes))
    return found


def render(book, graded_at):
    """``class_report.html`` for a :class:`workshop.instructor.gradebook.Gradebook`, as text."""
    title = "Class report: " + (", ".join(nb.removesuffix(".ipynb") for nb in book.notebooks) or "no notebook graded")
    kept = _kept(book)
    graded_rows = [row for row in book.rows if any(e.graded for e in row.entries.values())]
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        '<head>\n<meta charset="utf-8">\n<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(title)}</title>\n<style>{_STYLE}</style>\n</head>",
        "<body>\n<main>",
        f"<h1>{_e(title)}</h1>",
        f"<p>Graded {_e(graded_at)}: {len(book.entries)} file(s) handed in, {len(kept)} counted, "
        f"{len(graded_rows)} student(s) with a grade, {sum(1 for r in book.rows if 'no submission' in r.notes)} "
        "on the roster without a submission.</p>",
    ]
    maximum = book.maximum()
    parts.append("<h2>Totals</h2>")
    if graded_rows and maximum > 0:
        totals = [row.total for row in graded_rows]
        png, bins = histogram_png(totals, maximum)
        spoken = "; ".join(f"{count} scored {label}" for label, count in bins if count)
        alt = (
            f"Histogram of the total points of {len(totals)} students, out of {_number(maximum)}: {spoken}. "
            f"Median {_number(statistics.median(totals))}."
        )
        parts.append(f'<img src="data:image/png;base64,{base64.b64encode(png).decode("ascii")}" alt="{_e(alt)}" width="640" height="320">')
        parts.append(
            _table(
                "Totals in points, over the students with a grade",
                ["statistic", "points"],
                [
                    ("students graded", len(totals)),
                    ("maximum possible", _number(maximum)),
                    ("mean", f"{statistics.fmean(totals):.2f}"),
                    ("median", _number(statistics.median(totals))),
                    ("lowest", _number(min(totals))),
                    ("highest", _number(max(totals))),
                ],
                numeric=(1,),
            )
        )
    else:
        parts.append("<p>No student has a grade yet.</p>")
    for notebook in book.notebooks:
        counts = exercise_counts(book, notebook)
        parts.append(f"<h2>{_e(notebook)}</h2>")
        rows = []
        for exercise, points, statuses, _ in counts:
            judged = statuses[PASS] + statuses[FAIL] + statuses[NOT_ATTEMPTED]
            rate = f"{100 * statuses[PASS] / judged:.0f}% ({statuses[PASS]} of {judged})" if judged else "none graded"
            rows.append((exercise, _number(points), statuses[PASS], statuses[FAIL], statuses[NOT_ATTEMPTED], statuses[NOT_GRADED], rate))
        parts.append(
            _table(
                f"Exercises of {notebook}: the pass rate is among the submissions graded on the exercise",
                ["exercise", "points", "passed", "failed", "not attempted", "not graded", "pass rate"],
                rows,
                numeric=(1, 2, 3, 4, 5),
            )
        )
        for exercise, _, statuses, mistakes in counts:
            if not mistakes:
                continue
            judged = statuses[PASS] + statuses[FAIL] + statuses[NOT_ATTEMPTED]
            parts.append(f"<h3>Mistakes in {_e(exercise)}</h3>")
            parts.append(
                _table(
                    f"Failed checks of {exercise}, grouped by the mistake the check names (of {judged} submissions graded)",
                    ["mistake", "students"],
                    [(text, f"{count} of {judged}") for text, count in sorted(mistakes.items(), key=lambda kv: (-kv[1], kv[0]))],
                    numeric=(1,),
                )
            )
    review = [(row.name, "; ".join(row.notes)) for row in book.rows if row.notes]
    parts.append("<h2>Needs a look</h2>")
    if review or book.problems:
        if review:
            parts.append(_table("Students with notes", ["student", "notes"], review))
        if book.problems:
            parts.append("<ul>" + "".join(f"<li>{_e(p)}</li>" for p in book.problems) + "</ul>")
    else:
        parts.append("<p>Nothing: every file was graded and counted.</p>")
    parts.append("</main>\n</body>\n</html>\n")
    return "\n".join(parts)
