"""Student versions of the chapters: the derivations stay, the marked implementations become blanks.

For each chapter that has solution markers (``### BEGIN SOLUTION`` / ``### END SOLUTION``, see ``markers.py``),
nbgrader's own preprocessors, run through the nbconvert API (no course folder, no database), make the student
notebook:

1. ``ClearSolutions`` replaces every marked region with a stub that raises ``NotImplementedError``; the stub's
   message is the hint written on the region's BEGIN line;
2. ``ClearHiddenTests`` removes any ``### BEGIN HIDDEN TESTS`` region (the book's hidden tests live outside
   the chapters, in teach/hidden/, but a teacher may add some to a chapter);
3. ``ClearOutput`` removes every output, so nothing of the solution shows through a figure or a printout.

Before that, every cell of every end-of-chapter solution (sphinx-exercise's ``solution-start`` ...
``solution-end``, see ``exercises.py``) is removed; the exercises themselves stay.

A hint guides and never gives the answer: ``assign`` refuses a chapter in which a hint contains a line of its own
region's solution (compared without whitespace, and also without the line's ``return`` or assignment target, so
``rng.uniform(-limit, limit, (n_in, n_out))`` in a hint is caught when the solution returns it).

Cells keep their ids, and the notebook's metadata records the chapter and the number of blanks. Self-check
cells (which call ``nnlib.checks``) stay: run top to bottom, a fresh student notebook stops at the first check
after the first blank, with the hint. Everything the chapter imports from earlier chapters still comes from
``nnlib``; what the chapter itself defines is the student's code, because no chapter imports its own module.

Needs nbgrader (``pip install -r requirements-teach.txt``).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat

from nnlib_teach.exercises import solutions, strip
from nnlib_teach.markers import BEGIN, hints

BOOK = Path(__file__).resolve().parents[1] / "book"
PLACEHOLDER = "__NNLIB_TEACH_HINT__"
STUB = f"raise NotImplementedError({PLACEHOLDER})"
DEFAULT_HINT = "write this part: the derivation above gives the formula"


REGION_RE = re.compile(r"^[ \t]*### BEGIN SOLUTION\b[ \t]*(?:hint:)?(?P<hint>[^\n]*)\n(?P<body>.*?)\n[ \t]*### END SOLUTION",
                       re.MULTILINE | re.DOTALL)
_TARGET_RE = re.compile(r"^(?:return|yield)\s+|^[\w.\[\]\"', ]+?\s*(?:[-+*/@%]|//|\*\*)?=(?!=)\s*")
MIN_LEAK = 6  # characters (without whitespace) that a solution line must have to count


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def hint_leaks(source: str) -> list[tuple[str, str]]:
    """(hint, solution line) for every hint in `source` that contains a line of its own region's solution."""
    leaks = []
    for m in REGION_RE.finditer(source):
        hint = _squash(m.group("hint"))
        for line in m.group("body").splitlines():
            code = line.split("#")[0].strip() if "#" in line and "'" not in line and '"' not in line else line.strip()
            for form in {_squash(code), _squash(_TARGET_RE.sub("", code))}:
                if len(form) >= MIN_LEAK and form in hint:
                    leaks.append((m.group("hint").strip(), line.strip()))
                    break
    return leaks


def _preprocessors():
    try:
        from nbgrader.preprocessors import ClearHiddenTests, ClearOutput, ClearSolutions
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise SystemExit("nnlib_teach assign needs nbgrader: pip install -r requirements-teach.txt") from err
    return [ClearSolutions(code_stub={"python": STUB}, enforce_metadata=False),
            ClearHiddenTests(enforce_metadata=False), ClearOutput()]


def chapters_with_blanks(book: Path = BOOK) -> list[Path]:
    """The chapter notebooks that contain at least one solution region, in book order."""
    return [p for p in sorted(book.glob("*.ipynb")) if BEGIN in p.read_text(encoding="utf-8")]


def find_chapters(selection, book: Path = BOOK) -> list[Path]:
    """Resolve '3', '03', '03_activations' or '03_activations.ipynb' to chapter notebooks (all if empty)."""
    available = chapters_with_blanks(book)
    if not selection:
        return available
    chosen = []
    for item in selection:
        key = Path(str(item)).stem
        matches = [p for p in available if p.stem == key or p.stem.split("_")[0] in (key, key.zfill(2))]
        if not matches:
            names = ", ".join(p.stem for p in available)
            raise SystemExit(f"no chapter with blanks matches {item!r}; chapters with blanks: {names}")
        chosen += [p for p in matches if p not in chosen]
    return chosen


def student_notebook(nb):
    """The student version of a chapter notebook (a new notebook; `nb` is not modified)."""
    removed = len(solutions(nb))
    for i, cell in enumerate(nb.cells):
        leaks = hint_leaks(cell.source) if cell.cell_type == "code" else []
        if leaks:
            hint, line = leaks[0]
            raise ValueError(f"cell {i}: the hint {hint!r} gives away its solution line {line!r}; "
                             "a hint must guide, not contain the answer's code")
    nb = strip(nb)  # a copy without the end-of-chapter solutions (the exercises stay)
    region_hints = {i: hints(cell.source) for i, cell in enumerate(nb.cells) if cell.cell_type == "code"}
    resources = {}
    for preprocessor in _preprocessors():
        nb, resources = preprocessor.preprocess(nb, resources)
    blanks = 0
    for i, cell in enumerate(nb.cells):
        for hint in region_hints.get(i, []):
            if PLACEHOLDER not in cell.source:
                raise RuntimeError(f"cell {i}: a solution region was not replaced by a stub")
            message = json.dumps(f"Exercise: {hint or DEFAULT_HINT}", ensure_ascii=False)
            cell.source = cell.source.replace(PLACEHOLDER, message, 1)
            blanks += 1
        if PLACEHOLDER in cell.source:
            raise RuntimeError(f"cell {i}: a stub without a solution region")
    nb.metadata["nnlib_teach"] = {"student_version": True, "blanks": blanks, "solutions_removed": removed}
    return nb


def assign(selection=(), out_dir="student", book: Path = BOOK) -> list[tuple[Path, int]]:
    """Write the student notebooks of the chosen chapters (all with blanks if none) into `out_dir`."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for path in find_chapters(selection, book):
        nb = student_notebook(nbformat.read(path, as_version=4))
        nb.metadata["nnlib_teach"]["chapter"] = path.stem
        target = out / path.name
        tmp = target.with_suffix(".ipynb.tmp")
        nbformat.write(nb, tmp)
        tmp.replace(target)
        written.append((target, nb.metadata["nnlib_teach"]["blanks"]))
    return written
