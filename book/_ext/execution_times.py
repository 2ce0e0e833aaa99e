"""Record how long each chapter took to execute in this build: ``_build/html/_static/execution-times.json``.

myst-nb measures every notebook it executes (``execute_notebooks: force``) and shows the numbers in the
``{nb-exec-table}`` directive (the introduction's "How long each chapter takes" table). This extension writes the
same numbers as JSON, with the machine's core count, so ``tests/test_book_build.py`` can hold every chapter to the
book's budget of two minutes.
"""

from __future__ import annotations

import json
import os
import platform
from datetime import datetime, timezone
from pathlib import Path

from sphinx.application import Sphinx


def write_times(app: Sphinx, exception: Exception | None) -> None:
    if exception is not None or app.builder.format != "html":
        return
    from myst_nb.sphinx_ import NbMetadataCollector

    chapters = {}
    for docname in sorted(app.env.found_docs):
        data = NbMetadataCollector.get_exec_data(app.env, docname)
        if data:
            chapters[docname] = {"seconds": round(float(data["runtime"]), 2), "succeeded": bool(data["succeeded"])}
    record = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "processor": platform.processor() or platform.machine(),
                    "blas_threads": os.environ.get("OPENBLAS_NUM_THREADS", "default")},
        "chapters": chapters,
    }
    target = Path(app.outdir) / "_static" / "execution-times.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(record, indent=1), encoding="utf-8")
    tmp.replace(target)


def setup(app: Sphinx) -> dict:
    app.connect("build-finished", write_times)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
