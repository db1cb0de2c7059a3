"""``python -m workshop`` in a student edition: :mod:`workshop.instructor.release` copies this file there as ``workshop/__main__.py``.

The student edition leaves the instructor's tools (``workshop/instructor/``: training,
the notebook tool, grading, the site) out, so it has no commands; this says so and
where to start, instead of failing with an ImportError.
"""

import sys

USAGE = "usage: python -m workshop [--help]"
MESSAGE = f"""{USAGE}

VAE Workshop, student edition. The `workshop` package is the library the notebooks import
(`from workshop import VAE, load_mnist, ...`); it has no commands. Open the notebooks with

    jupyter lab notebooks/

and start with 01_probability_toolkit.ipynb. The instructor's tools (training, building and
grading notebooks, the course website) are not part of this edition."""


def main(argv=None):
    """Print what the edition is (``--help`` or no argument: status 0); anything else is a usage error (2)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] not in ("-h", "--help"):
        print(USAGE, file=sys.stderr)
        print(f"error: the student edition has no commands. Received: {argv[0]!r}", file=sys.stderr)
        return 2
    print(MESSAGE)
    return 0


if __name__ == "__main__":
    sys.exit(main())
