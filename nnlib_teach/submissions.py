"""Finding the submissions and reading them without trusting them.

Layout: ``<submissions>/<student>/<chapter>.ipynb``. The student id is the folder's name, kept as it is (the CSV
writer escapes it). A notebook is read only if it is a regular file (not a symbolic link) of at most
``MAX_NOTEBOOK_BYTES``, valid UTF-8 JSON, nbformat 4, and valid against nbformat's schema; its implementation cells
(code cells starting with ``#| export``) are what is graded, at most ``MAX_CODE_BYTES`` of them. Anything else gives
that notebook a :class:`SubmissionError` whose message is the reason shown in the student's row and feedback.
"""

from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

MAX_NOTEBOOK_BYTES = 20 << 20
MAX_CODE_BYTES = 2 << 20
MAX_CELLS = 5000


class SubmissionError(ValueError):
    """A notebook that cannot be graded; the message says why, for the student."""


@dataclass
class Student:
    id: str
    folder: Path
    notebooks: dict = field(default_factory=dict)  # chapter -> path
    notes: list = field(default_factory=list)  # why something of theirs was not graded


def discover(root: Path, chapters_with_tests) -> list[Student]:
    """Every student folder under `root` (sorted by id), with the notebooks that have hidden tests."""
    students = []
    with os.scandir(root) as entries:
        for entry in sorted(entries, key=lambda e: e.name):
            if entry.name.startswith(".") or not entry.is_dir(follow_symlinks=True):
                continue
            student = Student(entry.name, Path(entry.path))
            students.append(student)
            if entry.is_symlink():
                student.notes.append("the folder is a symbolic link: not graded")
                continue
            try:
                files = sorted(os.scandir(entry.path), key=lambda e: e.name)
            except OSError as err:
                student.notes.append(f"the folder cannot be read: {err.strerror}")
                continue
            for f in files:
                if not f.name.endswith(".ipynb") or f.name.startswith("."):
                    continue
                chapter = f.name[:-len(".ipynb")]
                if chapter not in chapters_with_tests:
                    student.notes.append(f"{f.name}: no hidden tests for this chapter, not graded")
                    continue
                student.notebooks[chapter] = Path(f.path)
            if not student.notebooks and not student.notes:
                student.notes.append("no notebook to grade (expected <chapter>.ipynb files)")
    return students


def read_cells(path: Path) -> list[str]:
    """The sources of the notebook's `#| export` code cells, in order; SubmissionError if it cannot be graded."""
    import nbformat

    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as err:
        if err.errno == 40:  # ELOOP
            raise SubmissionError("the notebook is a symbolic link, not a file") from None
        raise SubmissionError(f"the notebook cannot be opened ({err.strerror})") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise SubmissionError("the notebook is not a regular file")
        if info.st_size > MAX_NOTEBOOK_BYTES:
            raise SubmissionError(f"the notebook is {info.st_size / 2**20:.0f} MiB, more than the "
                                  f"{MAX_NOTEBOOK_BYTES >> 20} MiB allowed (clear the outputs and save again)")
        with os.fdopen(fd, "rb", closefd=False) as f:
            data = f.read(MAX_NOTEBOOK_BYTES + 1)
    finally:
        os.close(fd)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise SubmissionError(f"not a notebook: the file is not UTF-8 text (byte {err.start})") from None
    try:
        raw = json.loads(text)
    except RecursionError:
        raise SubmissionError("not a notebook: the JSON is nested too deeply") from None
    except ValueError as err:
        raise SubmissionError(f"not a notebook: invalid JSON ({str(err)[:120]})") from None
    if not isinstance(raw, dict):
        raise SubmissionError("not a notebook: the JSON is not an object")
    major = raw.get("nbformat")
    if major != 4:
        raise SubmissionError(f"not an nbformat 4 notebook (nbformat is {major!r:.20}): open it in Jupyter and "
                              "save it again")
    if not isinstance(raw.get("cells"), list) or len(raw["cells"]) > MAX_CELLS:
        raise SubmissionError("not a valid notebook: 'cells' must be a list"
                              + (f" of at most {MAX_CELLS} cells" if isinstance(raw.get("cells"), list) else ""))
    try:
        nb = nbformat.from_dict(raw)
        nbformat.validate(nb)
    except RecursionError:
        raise SubmissionError("not a valid notebook: nested too deeply") from None
    except Exception as err:  # noqa: BLE001 - jsonschema's ValidationError and friends
        first = str(getattr(err, "message", err)).splitlines()[0][:200] if str(err) else type(err).__name__
        raise SubmissionError(f"not a valid nbformat 4 notebook: {first}") from None
    cells = []
    for cell in nb.cells:
        if cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        if isinstance(source, list):
            source = "".join(source)
        if source.lstrip().startswith("#| export"):
            cells.append(source)
    if sum(len(c) for c in cells) > MAX_CODE_BYTES:
        raise SubmissionError(f"the implementation cells hold more than {MAX_CODE_BYTES >> 20} MiB of code")
    return cells
