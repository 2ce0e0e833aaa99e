"""The ``nnlib`` a sandbox can import: only the modules of the chapters before the one being graded.

A chapter's export cells import what earlier chapters built (Chapter 8's optimisers import ``nnlib.training``), so
the student's process needs those modules; but the graded chapter's own module is the reference solution, and so
is every later one (a later module may re-export an earlier chapter's function). Each generated module says which
notebook it comes from (nbdev's ``File to edit: ../book/<chapter>.ipynb`` line); a module is kept when its chapter
sorts before the graded one in book order, and when every ``nnlib`` module it imports is kept too (``checks``,
from the page "Checking your work", comes with the gradient check of Chapter 5).
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

SOURCE_RE = re.compile(r"File to edit: \.\./book/([^/\s]+)\.ipynb")
IMPORT_RE = re.compile(r"^\s*from \.(\w+) import|^\s*from nnlib\.(\w+) import|^\s*import nnlib\.(\w+)", re.MULTILINE)
NEVER = {"__main__", "_modidx", "cli"}


def chapter_key(stem: str):
    """Book order: '05_backprop' < '05b_gradient_check' < '06_training' < '10_schedules' < '10b_clipping'."""
    m = re.match(r"(\d+)([a-z]?)_", stem)
    return (int(m.group(1)), m.group(2)) if m else None


def modules(package: Path) -> dict[str, tuple[str | None, set[str]]]:
    """{module: (its chapter or None, the nnlib modules it imports)} for a generated nnlib package."""
    out = {}
    for path in sorted(package.glob("*.py")):
        if path.stem in NEVER or path.stem == "__init__":
            continue
        text = path.read_text(encoding="utf-8")
        m = SOURCE_RE.search(text[:500])
        deps = {next(g for g in groups if g) for groups in IMPORT_RE.findall(text)}
        out[path.stem] = (m.group(1) if m else None, deps - {path.stem})
    return out


def allowed(package: Path, chapter: str) -> list[str]:
    """The modules of `package` a student graded on `chapter` may import."""
    graded = chapter_key(chapter)
    table = modules(package)
    keep: dict[str, bool] = {}

    def ok(name, seen=()):
        if name in keep:
            return keep[name]
        if name not in table or name in seen:
            return False
        source, deps = table[name]
        key = chapter_key(source) if source else None
        if source and key is None and not deps:
            result = False  # an unnumbered page with no dependency: nothing says where it belongs
        elif key is not None and (graded is None or not key < graded):
            result = False
        else:
            result = all(ok(d, seen + (name,)) for d in deps)
        keep[name] = result
        return result

    return [name for name in table if ok(name)]


def build(package: Path, chapter: str, dest: Path) -> list[str]:
    """Write `dest/nnlib/` with the allowed modules of `package` (and its __init__); returns their names."""
    target = dest / "nnlib"
    target.mkdir(parents=True, exist_ok=True)
    names = allowed(package, chapter)
    init = package / "__init__.py"
    if init.is_file():
        shutil.copyfile(init, target / "__init__.py")
    else:
        (target / "__init__.py").write_text("", encoding="utf-8")
    for name in names:
        shutil.copyfile(package / f"{name}.py", target / f"{name}.py")
    return names
