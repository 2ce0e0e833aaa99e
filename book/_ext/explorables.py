"""Copy the explorables' scripts and style sheet (the playground and the optimiser explorer) into the build.

``book/playground.md`` and ``book/optimizer_explorer.md`` are plain Markdown pages with a ``{raw} html`` block that
loads ``../_static/demo/nnmath.js`` (the book's mathematics in JavaScript, shared with the Draw-a-digit page) and
the page's own script. This extension copies those files from ``book/_demo/`` into the *build's* ``_static/demo/``
at the end of an HTML build, as ``digit_demo.py`` does for the digit demo. They are deliberately not in a source
``_static/`` folder: Jupyter Book 1 injects every ``.js`` file found there into every page.

Nothing is fetched at run time (the data are generated in the page), so the pages work offline and from disk.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from sphinx.application import Sphinx
from sphinx.errors import ExtensionError
from sphinx.util import logging

logger = logging.getLogger(__name__)

TARGET = "demo"
SOURCES = ("_demo/nnmath.js", "_demo/explorables.css", "_demo/playground.js", "_demo/optimizer_explorer.js")


def copy_assets(app: Sphinx, exception: Exception | None) -> None:
    if exception is not None or app.builder.format != "html":
        return
    dest = Path(app.outdir) / "_static" / TARGET
    dest.mkdir(parents=True, exist_ok=True)
    here = Path(__file__).resolve().parents[1]
    for rel in SOURCES:
        src = here / rel
        if not src.is_file():
            raise ExtensionError(f"explorables: {src} is missing; the playground and the optimiser explorer need it")
        shutil.copy2(src, dest / src.name)
    logger.info("explorables: copied %d files into %s", len(SOURCES), dest)


def setup(app: Sphinx) -> dict:
    app.connect("build-finished", copy_assets)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
