"""Writing the results: CSV files a spreadsheet can open safely, always complete, always written atomically.

Text cells that start with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return get a leading ``'`` (OWASP's rule
against CSV formula injection): a student folder named ``=HYPERLINK(...)`` is shown as text, not run. Every file is
written to a temporary file beside its target and renamed over it, so a reader never sees half a file and an
interrupted run leaves the previous one intact.
"""

from __future__ import annotations

import csv
import os
import tempfile
from pathlib import Path

import pandas as pd

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def escape(value):
    """OWASP: a text cell that a spreadsheet would read as a formula starts with a quote."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def escape_frame(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    frame.columns = [escape(c) for c in frame.columns]
    if frame.index.dtype == object:
        frame.index = pd.Index([escape(v) for v in frame.index], name=frame.index.name)
    for col in frame.columns:
        if frame[col].dtype == object or pd.api.types.is_string_dtype(frame[col]):
            frame[col] = frame[col].map(escape)
    return frame


def write_atomic(path: Path, text: str) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def write_csv(frame: pd.DataFrame, path: Path, index: bool = True) -> None:
    """Every text cell quoted (a student id may hold a comma, a newline or a carriage return), formulas escaped."""
    text = escape_frame(frame).to_csv(index=index, lineterminator="\n", quoting=csv.QUOTE_NONNUMERIC)
    write_atomic(path, text)
