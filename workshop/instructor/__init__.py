"""The instructor's tools: nothing in here is imported by a notebook.

The package has three parts, one per audience:

- ``workshop/*.py`` (top level): **the students' library**, what the notebooks
  import (``from workshop import VAE, load_mnist``, ``workshop.losses``,
  ``workshop.plots`` ...), with the data sample and pretrained models it loads;
- ``workshop/checks/``: **the check cells' support**, one module per notebook
  (``workshop.checks.nb05``) on top of a shared core (``_core``);
- ``workshop/instructor/``: **this folder, the instructor's tools**: the command
  line (``python -m workshop ...``: :mod:`.cli`), training and its settings
  (:mod:`.training`, :mod:`.config`, :mod:`.presets`, :mod:`.distribute`),
  export of pretrained models (:mod:`.export`), the notebook tool
  (:mod:`.authoring`, :mod:`.nbci`, :mod:`.delivery`), grading (:mod:`.grading`,
  with its instructor-only cases in :mod:`.grading_extra`) and the course site
  (:mod:`.site`, :mod:`.course`). A student edition can leave this folder out.

Imports point one way only: the instructor's tools use the library and the
checks; neither of them imports from here.
"""
