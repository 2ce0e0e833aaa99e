"""Keep the chapters' solution markers (``### BEGIN SOLUTION`` / ``### END SOLUTION``) out of the website.

The markers tell ``python -m nnlib_teach assign`` which lines become blanks in the students' notebooks (see
``nnlib_teach/markers.py`` and the "For teachers" page). Readers of the book should see the clean code, so:

* every ``.ipynb`` is read through ``nnlib_teach.markers.read_notebook`` (myst-nb's ``nb_custom_formats``),
  which drops the marker lines before the notebook is executed and rendered;
* after the build, the ``.ipynb`` copies under ``_sources/`` (the "download .ipynb" button) are cleaned the
  same way.

The same reader builds a site without the exercises' solutions when ``hide_solutions: true`` (sphinx-exercise's
option) is set: it drops every solution cell (``nnlib_teach.exercises.strip``) before myst-nb parses the notebook.
sphinx-exercise 1.2.1's own ``hide_solutions`` cannot do that for gated solutions: it removes the
``solution-start`` node but leaves ``solution-end``, and the HTML writer then fails on an unknown node.
"""

from __future__ import annotations

from pathlib import Path

from sphinx.application import Sphinx
from sphinx.util import logging

logger = logging.getLogger(__name__)
READER = "nnlib_teach.markers.read_notebook"


def use_clean_reader(app: Sphinx, config) -> None:
    formats = dict(config.nb_custom_formats or {})
    formats[".ipynb"] = (READER, {"hide_solutions": bool(getattr(config, "hide_solutions", False))}, False)
    config.nb_custom_formats = formats


def clean_downloads(app: Sphinx, exception: Exception | None) -> None:
    if exception is not None or app.builder.format != "html":
        return
    from nnlib_teach.markers import clean_notebook_file

    sources = Path(app.outdir) / "_sources"
    cleaned = [p for p in sorted(sources.rglob("*.ipynb")) if clean_notebook_file(p)]
    logger.info("solution_markers: removed the markers from %d downloadable notebooks", len(cleaned))


def setup(app: Sphinx) -> dict:
    # Before myst-nb's own config-inited handler (priority 500) registers the custom formats.
    app.connect("config-inited", use_clean_reader, priority=400)
    app.connect("build-finished", clean_downloads)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
