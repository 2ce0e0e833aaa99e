"""The chapters' exercises and their solutions, found cell by cell, folded for Jupyter, stripped for students.

The chapters write exercises and solutions with `sphinx-exercise <https://ebp-sphinx-exercise.readthedocs.io>`_
directives, so the website numbers them and puts each solution behind a toggle. A solution that runs code uses
the *gated* form, which lets real (executed) code cells sit between its start and end::

    ```{exercise}                 <- one Markdown cell (or exercise-start / exercise-end around code cells)
    :label: ex-forward-params
    How many parameters does ...?
    ```

    ```{solution-start} ex-forward-params      <- Markdown cell: opens the solution
    :class: dropdown
    ```
    The count is ...                            <- Markdown and code cells of the solution
    sum(W.size + b.size for W, b in params)     <- a code cell: nbval executes it, its output is the answer
    ```{solution-end}
    ```                                         <- Markdown cell: closes it

The rules the tests hold every chapter to (``tests/test_exercises.py``):

* every exercise has exactly one solution, gated, with at least one code cell, and the solution's last code cell
  prints something (the outcome the solution claims is printed, not typed);
* every cell of a solution carries the ``solution`` tag and is folded in Jupyter (``source_hidden``, and for code
  cells ``outputs_hidden``), so a student reading the notebook does not see it by accident:
  ``python -m nnlib_teach.exercises book/*.ipynb`` sets both;
* student notebooks (``nnlib_teach assign``) contain no cell of any solution.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

_FENCE = r"^[ \t]*(?:`{3,}|:{3,})"
EXERCISE_RE = re.compile(_FENCE + r"\{exercise(?:-start)?\}[^\n]*\n(?:[ \t]*:[a-z-]+:[^\n]*\n)*?[ \t]*:label:[ \t]*(\S+)",
                         re.MULTILINE)
SOLUTION_RE = re.compile(_FENCE + r"\{solution\}[ \t]+(\S+)", re.MULTILINE)
SOLUTION_START_RE = re.compile(_FENCE + r"\{solution-start\}[ \t]+(\S+)", re.MULTILINE)
SOLUTION_END_RE = re.compile(_FENCE + r"\{solution-end\}", re.MULTILINE)
TAG = "solution"
#: An older hand-made solution: a ````{admonition} Solution```` block inside a Markdown cell (the chapters that the
#: second errata issue converts still have some). Students must not get those either.
LEGACY_RE = re.compile(r"^(?P<fence>`{3,}|:{3,})\{admonition\}[ \t]*Solution\b.*?^(?P=fence)[ \t]*$\n?",
                       re.MULTILINE | re.DOTALL)


@dataclass
class Solution:
    """One solution: the exercise it answers and the indices of its cells (start and end markers included)."""

    label: str
    cells: list[int] = field(default_factory=list)
    gated: bool = True

    def code_cells(self, nb) -> list[int]:
        return [i for i in self.cells if nb.cells[i].cell_type == "code"]


def exercise_labels(nb) -> list[str]:
    """The label of every exercise in the notebook, in order."""
    return [m.group(1) for cell in nb.cells if cell.cell_type == "markdown"
            for m in EXERCISE_RE.finditer(cell.source)]


def solutions(nb) -> list[Solution]:
    """Every solution in the notebook, in order. Raises ValueError on an unclosed or nested gated solution."""
    found: list[Solution] = []
    current: Solution | None = None
    for i, cell in enumerate(nb.cells):
        text = cell.source if cell.cell_type == "markdown" else ""
        start, end = SOLUTION_START_RE.search(text), SOLUTION_END_RE.search(text)
        if start:
            if current is not None:
                raise ValueError(f"cell {i}: solution-start {start.group(1)!r} inside solution {current.label!r}")
            current = Solution(start.group(1))
        if current is not None:
            current.cells.append(i)
            if end:
                found.append(current)
                current = None
        elif end:
            raise ValueError(f"cell {i}: solution-end without a solution-start")
        elif text:
            found += [Solution(m.group(1), [i], gated=False) for m in SOLUTION_RE.finditer(text)]
    if current is not None:
        raise ValueError(f"solution {current.label!r} (from cell {current.cells[0]}) has no solution-end")
    return found


def solution_cells(nb) -> set[int]:
    """Indices of every cell that belongs to a solution."""
    return {i for s in solutions(nb) for i in s.cells}


def fold(nb) -> int:
    """Tag every solution cell ``solution`` and fold it in Jupyter (in place); returns how many cells changed."""
    changed = 0
    inside = solution_cells(nb)
    for i, cell in enumerate(nb.cells):
        before = (list(cell.metadata.get("tags", [])), dict(cell.metadata.get("jupyter", {})))
        tags = [t for t in cell.metadata.get("tags", []) if t != TAG]
        jupyter = dict(cell.metadata.get("jupyter", {}))
        if i in inside:
            tags.append(TAG)
            jupyter["source_hidden"] = True
            if cell.cell_type == "code":
                jupyter["outputs_hidden"] = True
        else:
            jupyter.pop("source_hidden", None)
            jupyter.pop("outputs_hidden", None)
        if tags:
            cell.metadata["tags"] = tags
        else:
            cell.metadata.pop("tags", None)
        if jupyter:
            cell.metadata["jupyter"] = jupyter
        else:
            cell.metadata.pop("jupyter", None)
        changed += (tags, jupyter) != before
    return changed


def strip(nb):
    """A copy of `nb` without any solution cell, nor any legacy solution admonition (the exercises stay)."""
    nb = nbformat.reads(nbformat.writes(nb), as_version=4)
    drop = solution_cells(nb)
    nb.cells = [cell for i, cell in enumerate(nb.cells) if i not in drop]
    for cell in nb.cells:
        if cell.cell_type == "markdown" and "{admonition}" in cell.source:
            cell.source = LEGACY_RE.sub("", cell.source)
    return nb


def main(argv=None) -> int:
    """``python -m nnlib_teach.exercises NOTEBOOK ...``: fold the solutions of each notebook, in place."""
    paths = [Path(p) for p in (sys.argv[1:] if argv is None else argv)]
    if not paths:
        print("usage: python -m nnlib_teach.exercises NOTEBOOK.ipynb ...", file=sys.stderr)
        return 2
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        changed = fold(nb)
        if changed:
            tmp = path.with_suffix(".ipynb.tmp")
            nbformat.write(nb, tmp)
            tmp.replace(path)
        print(f"{path}: {len(solutions(nb))} solutions, {changed} cells changed")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
