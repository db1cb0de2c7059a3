"""Time ``notebooks grade`` on a class of notebook-05 submissions and extrapolate to a class of 60.

Makes ``--copies`` submissions of notebook 05 (the student notebook with the
answers filled in from the solution, one planted mistake in every fourth so
that fails are timed too), grades them with ``-j --jobs`` and prints the wall
time, seconds per submission, and the extrapolation to ``--class-size``
submissions (wall time x class size / copies: grading is a queue of
independent submissions, so the time grows linearly once every job is busy).
Writes the numbers to ``--json`` when given.

Example (what benchmarks/README.md reports):
    MNIST_PATH=/path/to/mnist.npz python benchmarks/grading.py --copies 10 --jobs 2
"""

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

NAME = "05_vae_mnist.ipynb"


def submissions(folder, copies):
    """``copies`` filled-in student notebooks 05 (answers from the solution), every fourth with a planted mistake."""
    import nbformat

    from workshop.instructor.authoring import strip_solutions
    from workshop.instructor.delivery import deliver

    solution = nbformat.read(str(ROOT / "solutions" / NAME), as_version=4)
    student = deliver(strip_solutions(solution, NAME), NAME)
    answers = {}
    for cell in solution.cells:
        if cell.cell_type == "code" and "### BEGIN SOLUTION" in cell.source:
            first = next(line for line in cell.source.splitlines() if line.startswith(("def ", "class ")))
            answers[first] = cell.source
    paths = []
    for index in range(copies):
        nb = nbformat.from_dict(json.loads(json.dumps(student)))
        for cell in nb.cells:
            first = next((line for line in cell.source.splitlines() if line.startswith(("def ", "class "))), None)
            if cell.cell_type == "code" and first in answers:
                cell.source = answers[first]
                if index % 4 == 3 and first.startswith("def kl_to_standard_normal"):
                    cell.source = cell.source.replace("- 1.0", "", 1).replace("- 1", "", 1)
        path = Path(folder) / f"student{index:02d}" / NAME
        path.parent.mkdir()
        nbformat.write(nb, str(path))
        paths.append(path)
    return paths


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--copies", type=int, default=10)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--class-size", type=int, default=60)
    parser.add_argument("--json", metavar="FILE")
    args = parser.parse_args(argv)

    from workshop.instructor import grading

    with tempfile.TemporaryDirectory(prefix="grading-benchmark-") as folder:
        paths = submissions(folder, args.copies)
        load = [round(x, 2) for x in os.getloadavg()]
        start = time.perf_counter()
        cpu_start = os.times()
        results = grading.grade(paths, Path(folder) / "report", jobs=args.jobs, settings=grading.settings_from_args(args))
        wall = time.perf_counter() - start
        cpu_end = os.times()
    statuses = {}
    for result in results:
        for exercise in result.exercises:
            statuses[exercise.status] = statuses.get(exercise.status, 0) + 1
    numbers = {
        "copies": args.copies,
        "jobs": args.jobs,
        "cores": os.cpu_count(),
        "load_average_before": load,
        "wall_seconds": round(wall, 1),
        "wall_seconds_per_submission": round(wall / args.copies, 2),
        "median_submission_seconds": sorted(r.seconds for r in results)[len(results) // 2],
        "grader_cpu_seconds": round((cpu_end.user + cpu_end.system) - (cpu_start.user + cpu_start.system), 1),  # kernels not included
        "extrapolated_class_seconds": round(wall * args.class_size / args.copies, 0),
        "class_size": args.class_size,
        "verdicts": statuses,
        "isolation": sorted({r.isolation for r in results}),
    }
    print(json.dumps(numbers, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(numbers, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
