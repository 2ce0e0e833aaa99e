"""One feedback file per student (Markdown): their points per chapter and exercise, and why each point was lost.

What a student sees: each exercise's points (partial credit per case), the failure message (the expected and the
actual values, or the relative error of a gradient), their own error with the lines of their cells it went
through, what went wrong while their cells ran, and the start of what their code printed. Never the hidden tests'
source, never the grader's traceback.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from nnlib_teach.report import write_atomic

SAFE_RE = re.compile(r"[^A-Za-z0-9._-]")


def filename(student: str) -> str:
    """A file name for the student's feedback: their id if it is a plain name, else a safe form plus a hash."""
    safe = SAFE_RE.sub("_", student)[:80].lstrip(".") or "student"
    if safe != student:
        safe += "-" + hashlib.sha256(student.encode("utf-8", "surrogateescape")).hexdigest()[:8]
    return safe + ".md"


def _line(text: str) -> str:
    """One line of Markdown text: no control characters, Markdown's special characters escaped."""
    text = "".join(ch if ch.isprintable() else " " for ch in str(text))
    return re.sub(r"([\\`*_{}\[\]<>()#+!|])", r"\\\1", text)


def _block(text: str) -> str:
    """A fenced block that its content cannot close."""
    text = "".join(ch if ch.isprintable() or ch in "\n\t" else "?" for ch in str(text))
    fence = "`" * max(3, 1 + max((len(m) for m in re.findall(r"`+", text)), default=0))
    return f"{fence}text\n{text.rstrip()}\n{fence}\n"


def _points(x: float) -> str:
    return f"{x:g}"


def render(student: str, chapters: list, notes: list, level: str, when: str) -> str:
    total = sum(t.points for ch in chapters for t in ch.tests)
    max_total = sum(t.max_points for ch in chapters for t in ch.tests)
    out = [f"# Feedback for {_line(student)}", "",
           f"Total: **{_points(total)} / {_points(max_total)}** · graded {when} · sandbox: {level}", ""]
    for note in notes:
        out += [f"- {_line(note)}"]
    if notes:
        out.append("")
    for ch in chapters:
        got = sum(t.points for t in ch.tests)
        most = sum(t.max_points for t in ch.tests)
        out += [f"## {_line(ch.chapter)}: {_points(got)} / {_points(most)}", ""]
        if ch.error:
            out += [f"**Not graded:** {_line(ch.error)}", ""]
        out += ["| exercise | points | |", "|---|---|---|"]
        for t in ch.tests:
            mark = "✓" if t.passed else ("partly" if t.points > 0 else "✗")
            out.append(f"| {_line(t.exercise)} | {_points(t.points)} / {_points(t.max_points)} | {mark} |")
        out.append("")
        for t in ch.tests:
            if t.passed:
                continue
            out += [f"### {_line(t.exercise)}", ""]
            if t.cases:
                won = [c for c in t.cases if c.passed]
                out.append(f"{len(won)} of {len(t.cases)} cases passed:")
                out.append("")
                for c in t.cases:
                    out.append(f"- {'✓' if c.passed else '✗'} {_line(c.name)}")
                out.append("")
            if t.message:
                out.append(_block(t.message))
        if ch.cell_errors:
            out += ["### While your implementation cells ran", ""]
            out += [_block("\n".join(ch.cell_errors))]
        if ch.output.strip():
            out += ["### What your code printed", ""]
            shown = ch.output[:8000]
            if len(ch.output) > len(shown):
                shown += f"\n… ({len(ch.output) - len(shown)} more characters not shown)"
            out += [_block(shown)]
    return "\n".join(out).rstrip() + "\n"


def write(folder: Path, student: str, chapters: list, notes: list, level: str, when: str) -> Path:
    path = Path(folder) / filename(student)
    write_atomic(path, render(student, chapters, notes, level, when))
    return path
