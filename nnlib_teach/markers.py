"""The solution markers in the chapters, and the three places that must not show them.

A chapter marks the part of an implementation that a student writes with nbgrader's delimiters, inside an
``#| export`` cell, optionally followed by a hint for the student::

    def relu(z):
        \"\"\"ReLU(z) = max(z, 0), elementwise. Derived in Chapter 3.\"\"\"
        ### BEGIN SOLUTION hint: np.maximum compares elementwise with a number
        return np.maximum(z, 0)
        ### END SOLUTION

The marker lines are comments for teachers and tools. Readers and the library never see them:

* ``strip_solution_markers`` is an nbdev export processor (``export_procs`` in pyproject.toml), so
  ``nbdev-export`` writes ``nnlib/`` without them;
* ``read_notebook`` is the book's notebook reader (``nb_custom_formats`` in _config.yml), so the website
  shows and executes the clean code;
* ``clean_notebook_file`` rewrites the ``.ipynb`` copies the website offers for download.

``nnlib_teach.assign`` turns the marked regions into stubs for students.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
#: A marker line: optional indentation, the delimiter, then (for BEGIN) an optional `hint: ...`.
MARKER_RE = re.compile(r"^[ \t]*### (BEGIN|END) SOLUTION\b.*(\n|$)", re.MULTILINE)
HINT_RE = re.compile(r"### BEGIN SOLUTION\b[ \t]*(?:hint:)?[ \t]*(.*)$")


def strip_markers(source: str) -> str:
    """`source` without its solution marker lines (the solution itself stays), byte for byte otherwise."""
    out = MARKER_RE.sub("", source)
    if out.endswith("\n") and not source.endswith("\n"):  # the marker was the cell's last line
        out = out[:-1]
    return out


def hints(source: str) -> list[str]:
    """The hint of every BEGIN SOLUTION marker in `source`, in order ('' where there is none)."""
    return [HINT_RE.search(line).group(1).strip() for line in source.split("\n") if BEGIN in line]


def strip_solution_markers(cell) -> None:
    """nbdev export processor: remove the marker lines from a code cell before it is written to nnlib/."""
    if cell.cell_type == "code" and BEGIN in cell.source:
        cell.source = strip_markers(cell.source)


def clean(nb):
    """Remove the marker lines from every code cell of a notebook (in place); returns it."""
    for cell in nb.cells:
        if cell.cell_type == "code" and (BEGIN in cell.source or END in cell.source):
            cell.source = strip_markers(cell.source)
    return nb


def read_notebook(text: str, hide_solutions: bool = False):
    """myst-nb reader for .ipynb files: the notebook as nbformat reads it, minus the solution markers, and minus
    the exercises' solutions when `hide_solutions` (a site for a class that has not handed in yet)."""
    nb = clean(nbformat.reads(text, as_version=4))
    if hide_solutions:
        from nnlib_teach.exercises import strip

        nb = strip(nb)
    return nb


def clean_notebook_file(path) -> bool:
    """Rewrite the notebook at `path` without solution markers; returns whether it changed."""
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    if BEGIN not in text:
        return False
    nb = clean(nbformat.reads(text, as_version=4))
    path.write_text(nbformat.writes(nb), encoding="utf-8")
    return True
