"""Serve MathJax 3 from the built site instead of a CDN, so the book renders math offline.

MathJax 3.2.2 comes from the PyPI package ``django-static-mathjax`` (listed in requirements.txt;
it has no dependencies and ships the ``es5/`` distribution). After the HTML build this extension
copies only what the ``tex-mml-chtml`` component needs into the *build's* ``_static/mathjax/``:

* ``tex-mml-chtml.js`` (the combined component that Sphinx loads by default from the CDN),
* ``output/chtml/fonts/woff-v2/`` (the CHTML fonts),
* ``input/tex/extensions/`` and ``input/mml/`` (loaded on demand by ``autoload``/``\\require``),
* ``ui/`` and ``a11y/`` (loaded on demand by the right-click menu).

The 3.9 MB of speech-rule maps (``sre/mathmaps``) are left out. The files are deliberately *not*
put in the source ``_static/`` folder: Jupyter Book 1 injects every ``.js`` file found there into
every page. MathJax computes its root from the URL of its own script, so keeping the directory
layout below ``_static/mathjax/`` is enough for the fonts and extensions to resolve.

Set ``NNLIB_MATHJAX=cdn`` to keep Sphinx's default CDN URL instead (e.g. for a published site).
"""

from __future__ import annotations

import os
import shutil
from importlib import metadata
from pathlib import Path

from sphinx.application import Sphinx
from sphinx.errors import ExtensionError
from sphinx.util import logging

logger = logging.getLogger(__name__)

#: Where the files end up, relative to the build's ``_static/`` directory.
TARGET = "mathjax"
#: The component Sphinx loads by default (TeX + MathML input, CommonHTML output).
COMPONENT = "tex-mml-chtml.js"
#: What the component may load at run time, relative to MathJax's ``es5/`` root.
NEEDED = [
    COMPONENT,
    "output/chtml/fonts/woff-v2",
    "input/tex/extensions",
    "input/mml",
    "ui",
    "a11y",
]


def use_cdn() -> bool:
    return os.environ.get("NNLIB_MATHJAX", "local").strip().lower() == "cdn"


def mathjax_source() -> Path:
    """The ``es5/`` directory of the installed django-static-mathjax package."""
    try:
        dist = metadata.distribution("django-static-mathjax")
    except metadata.PackageNotFoundError as exc:
        raise ExtensionError(
            "offline_mathjax: the package 'django-static-mathjax' is not installed "
            "(pip install -r requirements.txt), or set NNLIB_MATHJAX=cdn to use the CDN"
        ) from exc
    es5 = Path(dist.locate_file("mathjax/static/mathjax/es5"))
    if not (es5 / COMPONENT).is_file():
        raise ExtensionError(f"offline_mathjax: {es5 / COMPONENT} not found")
    return es5


def set_mathjax_path(app: Sphinx, config) -> None:
    if use_cdn():
        logger.info("offline_mathjax: NNLIB_MATHJAX=cdn, loading MathJax from %s", config.mathjax_path)
        return
    mathjax_source()  # fail early, before any notebook is executed
    # A relative mathjax_path is resolved against the build's _static/ directory.
    config.mathjax_path = f"{TARGET}/{COMPONENT}"


def copy_mathjax(app: Sphinx, exception: Exception | None) -> None:
    if exception is not None or use_cdn() or app.builder.format != "html":
        return
    src = mathjax_source()
    dest = Path(app.outdir) / "_static" / TARGET
    for rel in NEEDED:
        s, d = src / rel, dest / rel
        if s.is_dir():
            shutil.copytree(s, d, dirs_exist_ok=True)
        elif s.is_file():
            d.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(s, d)
        else:
            raise ExtensionError(f"offline_mathjax: {s} is missing from django-static-mathjax")
    logger.info("offline_mathjax: copied MathJax to %s", dest)


def setup(app: Sphinx) -> dict:
    # Priority > 500 so it runs after Jupyter Book/Sphinx have filled in their defaults.
    app.connect("config-inited", set_mathjax_path, priority=900)
    app.connect("build-finished", copy_mathjax)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
