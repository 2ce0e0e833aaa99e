"""Two small fixes to what Jupyter Book 1 puts in every page, found by the browser tests (tests/test_browser.py).

1. **Duplicate inline script.** sphinx-thebe adds its configuration as an inline ``<script>`` declaring
   ``const THEBE_JS_URL = ...``; in a Jupyter Book 1 build it ends up in the page twice, and the second copy
   throws ``SyntaxError: Identifier 'THEBE_JS_URL' has already been declared`` in the console of every page.
   Here each page's script list is de-duplicated (same file or inline body, same attributes) just before
   the page is rendered.
2. **Empty colour mode.** pydata-sphinx-theme (under sphinx-book-theme) logs ``Got invalid theme mode: .
   Resetting to auto.`` on every page when ``html_context["default_mode"]`` is unset, as Jupyter Book leaves
   it. It is set to ``auto`` (follow the reader's system setting), which is what the theme falls back to.
"""

from __future__ import annotations

from sphinx.application import Sphinx


def default_mode(app: Sphinx, config) -> None:
    context = dict(config.html_context or {})
    context.setdefault("default_mode", "auto")
    config.html_context = context


def dedupe_scripts(app: Sphinx, pagename: str, templatename: str, context: dict, doctree) -> None:
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, unique = set(), []
    for script in scripts:
        # The copies differ in how "no file" is spelt (None or ""): compare what the <script> tag would contain.
        attributes = getattr(script, "attributes", {})
        filename = str(getattr(script, "filename", script) or "")
        key = (filename, tuple(sorted((k, str(v)) for k, v in attributes.items())))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    context["script_files"] = unique


def setup(app: Sphinx) -> dict:
    app.connect("config-inited", default_mode, priority=900)
    app.connect("html-page-context", dedupe_scripts, priority=900)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
