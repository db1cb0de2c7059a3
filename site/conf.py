"""Sphinx configuration of the course website (``python -m workshop site build``).

The pages are the executed solution notebooks, rendered by MyST-NB from their stored
outputs (``nb_execution_mode = "off"``: nothing is re-run). Math is typeset in the
browser by a MathJax 3 copy shipped on PyPI (``sphinx-mathjax-offline``), so the
site works without network. ``workshop.instructor.site`` copies this file into a staging folder
next to the notebooks and a generated home page before calling Sphinx.
"""

import json
import os
from pathlib import Path

project = "VAE Workshop"
author = "VAE Workshop contributors"
copyright = "VAE Workshop contributors; MNIST by LeCun, Cortes and Burges (CC BY-SA 3.0)"

extensions = [
    "myst_nb",
    "sphinx-mathjax-offline",  # copies MathJax into _static/mathjax and points mathjax_path at it
]

# ---------------------------------------------------------------- notebooks
nb_execution_mode = "off"  # stored outputs only
nb_output_stderr = "remove"  # TensorFlow's and Keras's log lines are not course content
nb_merge_streams = True
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "html_image"]
myst_dmath_double_inline = True
myst_heading_anchors = 3
suppress_warnings = ["mystnb.unknown_mime_type", "myst.header"]
exclude_patterns = ["_build", "extra", "**.ipynb_checkpoints"]
source_suffix = {".md": "myst-nb", ".ipynb": "myst-nb"}

# ---------------------------------------------------------------- HTML
html_theme = "sphinx_book_theme"
html_title = "VAE Workshop"
html_static_path = ["_static"]
templates_path = ["_templates"]  # search-button-field.html: the search button's name holds its visible text
html_css_files = ["workshop.css"]  # long equations scroll on narrow screens; see the file
html_favicon = "_static/favicon.svg"  # without one, browsers log a 404 for /favicon.ico
html_extra_path = ["extra"]  # extra/notebooks/*.ipynb -> <site>/notebooks/*.ipynb
html_copy_source = False
html_show_sourcelink = False
html_last_updated_fmt = None
html_theme_options = {
    "use_download_button": False,  # the page source is the solution notebook
    "use_fullscreen_button": False,
    "use_repository_button": False,
    "home_page_in_toc": True,
    "show_toc_level": 2,
}
html_context = {"default_mode": "light"}  # figures have white backgrounds; also avoids an empty-mode console error
mathjax3_config = {"tex": {"tags": "ams"}}


# ---------------------------------------------------------------- alt text
def _load_alt_texts(app):
    path = Path(app.srcdir) / "alt_texts.json"
    app.env.workshop_alt_texts = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def _apply_alt_texts(app, doctree):
    """Give each notebook image the alt text recorded for its PNG (MyST-NB names images by their SHA-256)."""
    from docutils import nodes

    texts = getattr(app.env, "workshop_alt_texts", None)
    if texts is None:
        _load_alt_texts(app)
        texts = app.env.workshop_alt_texts
    for image in doctree.findall(nodes.image):
        stem = os.path.splitext(os.path.basename(image.get("uri", "")))[0]
        if stem in texts and not image.get("alt"):
            image["alt"] = texts[stem]


def setup(app):
    app.connect("builder-inited", _load_alt_texts)
    app.connect("doctree-read", _apply_alt_texts)
