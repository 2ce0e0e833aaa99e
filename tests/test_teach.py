"""Classroom assignments: the solution markers, the student notebooks, the self-checks and the grader.

`python -m nnlib_teach assign` must turn every chapter with blanks (2 to 10b, 11 and 13b) into a student notebook whose blanks raise
NotImplementedError with a hint (a hint that holds a line of its solution is refused), that runs up to its first
self-check and stops there, and that contains neither a solution nor any hidden test. Submissions are graded
through the README's exact command (`python -m nnlib_teach grade submissions/ --out grades.csv`, relative paths,
from the course folder and from the repository root): one made by filling the stubs with the book's code gets
every point; one with planted bugs loses points in exactly the tests that catch them (partial credit per case);
an untouched student notebook gets nothing; every student gets a feedback file without the tests' source. The
attacks on the grader are in test_grader_attacks.py.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from nnlib_teach.assign import hint_leaks, student_notebook
from nnlib_teach.exercises import solution_cells, solutions, strip
from nnlib_teach.markers import BEGIN, END, strip_markers

ROOT = Path(__file__).resolve().parents[1]
BOOK, HIDDEN = ROOT / "book", ROOT / "teach" / "hidden"
CHAPTERS = ["02_forward", "03_activations", "04_losses", "05_backprop", "05b_gradient_check", "06_training",
            "07_initialization", "08_optimizers", "09_regularization", "10_schedules", "10b_clipping", "11_fast",
            "13b_own_digits"]
STUB_RE = re.compile(r"^(?P<indent>[ \t]*)raise NotImplementedError\((?P<hint>\"Exercise: .*\")\)$", re.MULTILINE)
REGION_RE = re.compile(r"^[ \t]*### BEGIN SOLUTION[^\n]*\n(?P<body>.*?)\n[ \t]*### END SOLUTION", re.MULTILINE | re.DOTALL)
#: The planted bugs: (chapter, solution line, buggy line, the one hidden test that must catch it).
BUGS = [
    ("03_activations", "return (z > 0).astype(z.dtype)", "return (z >= 0).astype(z.dtype)", "relu_grad"),
    ("03_activations", "e = np.exp(z - np.max(z, axis=axis, keepdims=True))", "e = np.exp(z)", "softmax"),
    ("08_optimizers", "m_hat = m / (1 - self.beta1 ** self.t)", "m_hat = m", "adam"),
    ("08_optimizers", "v_hat = v / (1 - self.beta2 ** self.t)", "v_hat = v", "adam"),
    ("10_schedules", "progress = min(epoch - 1, self.epochs) / self.epochs", "progress = (epoch - 1) / self.epochs",
     "cosine_decay"),
    ("11_fast", "np.divide(m, 1 - self.beta1 ** self.t, out=a)", "np.copyto(a, m)", "fast_adam"),
    ("13b_own_digits", "r_c = (small.sum(axis=1) @ np.arange(small.shape[0])) / mass", "r_c = (small.shape[0] - 1) / 2",
     "mnist_like"),
]


def read(path: Path):
    return nbformat.read(path, as_version=4)


def is_check(cell) -> bool:
    return cell.cell_type == "code" and "self-check" in cell.metadata.get("tags", [])


@pytest.fixture(scope="module")
def students(tmp_path_factory) -> Path:
    """Student notebooks of every chapter with blanks, made by the documented command."""
    out = tmp_path_factory.mktemp("student")
    proc = subprocess.run([sys.executable, "-m", "nnlib_teach", "assign", "--out", str(out)], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    for chapter in CHAPTERS:
        assert f"{chapter}.ipynb" in proc.stdout, f"assign did not report {chapter}: {proc.stdout}"
    return out


# --- the chapters (the teacher's version) -------------------------------------------------------------------

def test_markers_never_reach_nnlib():
    leaks = [p.name for p in (ROOT / "nnlib").glob("*.py") if "SOLUTION" in p.read_text(encoding="utf-8")]
    assert not leaks, f"solution markers exported into nnlib/: {leaks} (is export_procs set in pyproject.toml?)"


def test_strip_markers_leaves_the_code_byte_for_byte():
    marked = 'def f(x):\n    """Doc."""\n    ### BEGIN SOLUTION hint: add one\n    return x + 1\n    ### END SOLUTION'
    assert strip_markers(marked) == 'def f(x):\n    """Doc."""\n    return x + 1'
    assert strip_markers("x = 1\n") == "x = 1\n"


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_every_blank_is_followed_by_a_self_check(chapter):
    cells = read(BOOK / f"{chapter}.ipynb").cells
    marked = [i for i, c in enumerate(cells) if c.cell_type == "code" and BEGIN in c.source]
    assert marked, f"{chapter} has no solution regions"
    for i, j in zip(marked, marked[1:] + [len(cells)]):
        assert any(is_check(c) for c in cells[i + 1:j]), f"{chapter}: no self-check cell after the blank in cell {i}"
        assert cells[i].source.lstrip().startswith("#| export"), f"{chapter}: cell {i} has blanks but is not exported"
        assert cells[i].source.count(BEGIN) == cells[i].source.count(END)
    for cell in cells:
        if is_check(cell):
            assert "nnlib.checks" in cell.source or "check_" in cell.source, "a self-check calls nnlib.checks"


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_no_hint_contains_a_line_of_its_solution(chapter):
    """A hint guides: it never holds a line of its own region's solution (without whitespace, and without the
    line's `return` or assignment target)."""
    for i, cell in enumerate(read(BOOK / f"{chapter}.ipynb").cells):
        assert not hint_leaks(cell.source), f"{chapter}, cell {i}: {hint_leaks(cell.source)}"
        for match in REGION_RE.finditer(cell.source):
            hint = re.sub(r"\s+", "", match.group(0).split("\n")[0])
            for line in match.group("body").splitlines():
                squashed = re.sub(r"\s+", "", line)
                assert len(squashed) < 8 or squashed not in hint, f"{chapter}: the hint holds {line.strip()!r}"


def test_assign_refuses_a_hint_that_gives_the_answer():
    nb = read(BOOK / "07_initialization.ipynb")
    cell = next(c for c in nb.cells if "def xavier_uniform" in c.source)
    begin = next(line for line in cell.source.splitlines() if "BEGIN SOLUTION" in line)
    cell.source = cell.source.replace(begin, begin + ": rng.uniform(-limit, limit, (n_in, n_out))", 1)
    with pytest.raises(ValueError, match="gives away its solution line"):
        student_notebook(nb)


# --- the student notebooks ------------------------------------------------------------------------------------

@pytest.mark.parametrize("chapter", CHAPTERS)
def test_student_notebook_has_stubs_and_nothing_else_of_the_solution(students, chapter):
    teacher, student = strip(read(BOOK / f"{chapter}.ipynb")), read(students / f"{chapter}.ipynb")
    assert [c.get("id") for c in student.cells] == [c.get("id") for c in teacher.cells], "cells were added or lost"
    regions = sum(c.source.count(BEGIN) for c in teacher.cells)
    stubs = sum(len(STUB_RE.findall(c.source)) for c in student.cells)
    assert stubs == regions == student.metadata["nnlib_teach"]["blanks"], (stubs, regions)
    text = nbformat.writes(student)
    assert "SOLUTION" not in text
    for cell in student.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, "outputs must be cleared"
    for t_cell, s_cell in zip(teacher.cells, student.cells):
        outside = REGION_RE.sub("", t_cell.source)  # e.g. he_uniform's own `return rng.uniform(...)` is no blank
        for match in REGION_RE.finditer(t_cell.source):
            for line in match.group("body").splitlines():
                if len(line.strip()) > 12 and line not in outside:
                    assert line not in s_cell.source, f"solution line left in the student notebook: {line.strip()}"
    for hint in (m.group("hint") for c in student.cells for m in STUB_RE.finditer(c.source)):
        assert len(json.loads(hint)) > len("Exercise: ") + 10, f"a stub without a real hint: {hint}"


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_no_exercise_solution_reaches_a_student_notebook(students, chapter):
    teacher, student = read(BOOK / f"{chapter}.ipynb"), read(students / f"{chapter}.ipynb")
    inside = solution_cells(teacher)
    outside = "\n".join(c.source for i, c in enumerate(teacher.cells) if i not in inside)
    lines = {line.strip() for i in inside for line in teacher.cells[i].source.splitlines()}
    distinctive = [line for line in lines if len(line) > 15 and line not in outside]
    assert not inside or distinctive, f"{chapter}: its solutions have no distinctive line to look for"
    text = "\n".join(c.source for c in student.cells)
    leaked = [line for line in distinctive if line in text]
    assert not leaked, f"{chapter}: solution text in the student notebook: {leaked[:3]}"
    assert "solution-start" not in text and "solution-end" not in text
    assert not re.search(r"\{admonition\}\s*Solution", text), f"{chapter}: a legacy solution admonition was kept"
    assert student.metadata["nnlib_teach"]["solutions_removed"] == len(solutions(teacher))


def test_no_hidden_test_text_in_student_files(students):
    texts = {p.name: p.read_text(encoding="utf-8") for p in students.glob("*.ipynb")}
    assert len(texts) >= len(CHAPTERS)
    for tests in sorted(HIDDEN.glob("*.py")):
        lines = [line.strip() for line in tests.read_text(encoding="utf-8").splitlines()]
        # the tests themselves: their names and their assertions (setup lines like `rng = ...` are common prose)
        distinctive = [line for line in lines if line.startswith("def test_")
                       or (len(line) > 25 and ("assert" in line or "np.testing" in line))]
        assert distinctive, tests
        for name, text in texts.items():
            for line in distinctive:
                assert json.dumps(line)[1:-1] not in text, f"{name} contains hidden test text from {tests.name}: {line}"


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_student_notebook_runs_to_its_first_self_check_and_fails_there(students, chapter):
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = read(students / f"{chapter}.ipynb")
    first_check = next(i for i, c in enumerate(nb.cells) if is_check(c))
    client = NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(BOOK)}})
    with pytest.raises(CellExecutionError) as failure:
        client.execute()
    assert "NotImplementedError" in str(failure.value) and "Exercise: " in str(failure.value), str(failure.value)[-800:]
    errors = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"
              and any(o.output_type == "error" for o in c.get("outputs", []))]
    assert errors == [first_check], f"expected the first error in the first self-check (cell {first_check}), got {errors}"
    ran = [i for i, c in enumerate(nb.cells[:first_check]) if c.cell_type == "code" and c.source.strip()]
    assert all(nb.cells[i].execution_count for i in ran), "every cell before the first check must have run"


# --- grading ---------------------------------------------------------------------------------------------------

def fill(student_nb, teacher_nb, bugs=()):
    """The student notebook with each stub replaced by the book's solution (optionally with planted bugs)."""
    nb = nbformat.reads(nbformat.writes(student_nb), as_version=4)  # a deep copy
    for s_cell, t_cell in zip(nb.cells, teacher_nb.cells):
        bodies = [m.group("body") for m in REGION_RE.finditer(t_cell.source)]
        stubs = list(STUB_RE.finditer(s_cell.source))
        assert len(bodies) == len(stubs)
        for body, stub in zip(reversed(bodies), reversed(stubs)):
            s_cell.source = s_cell.source[:stub.start()] + body + s_cell.source[stub.end():]
    for solution, buggy in bugs:
        hits = [c for c in nb.cells if solution in c.source]
        assert len(hits) == 1, solution
        hits[0].source = hits[0].source.replace(solution, buggy)
    return nb


README_GRADE = ["-m", "nnlib_teach", "grade", "submissions/", "--out", "grades.csv"]  # the README's exact command


@pytest.fixture(scope="module")
def graded(students, tmp_path_factory):
    """Grade, with the README's exact command (relative paths, run from the folder that holds submissions/), four
    students: the book itself, a correct and a buggy submission made by filling the stubs, and an untouched student
    notebook (two chapters)."""
    here = tmp_path_factory.mktemp("course")
    subs = here / "submissions"
    for who in ("teacher", "alice", "bob", "carol"):
        (subs / who).mkdir(parents=True)
    for chapter in CHAPTERS:
        teacher, student = strip(read(BOOK / f"{chapter}.ipynb")), read(students / f"{chapter}.ipynb")
        shutil.copy(BOOK / f"{chapter}.ipynb", subs / "teacher")
        nbformat.write(fill(student, teacher), subs / "alice" / f"{chapter}.ipynb")
        bugs = [(good, bad) for ch, good, bad, _ in BUGS if ch == chapter]
        nbformat.write(fill(student, teacher, bugs), subs / "bob" / f"{chapter}.ipynb")
    for chapter in ("03_activations", "08_optimizers"):
        shutil.copy(students / f"{chapter}.ipynb", subs / "carol")
    proc = subprocess.run([sys.executable, *README_GRADE], cwd=here, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return (pd.read_csv(here / "grades.csv", index_col="student"), pd.read_csv(here / "grades_details.csv"),
            proc.stdout, here)


def test_book_and_filled_submission_pass_every_hidden_test(graded):
    scores, details, *_ = graded
    for who in ("teacher", "alice"):
        failed = details[(details.student == who) & ~details.passed]
        assert failed.empty, f"{who} failed: " + failed[["chapter", "exercise", "message"]].to_string()
        assert scores.loc[who, "total"] == scores.loc[who, "max_total"] > 0
    tested = set(details[details.student == "alice"].chapter)
    assert tested == set(CHAPTERS), f"chapters without hidden tests: {set(CHAPTERS) - tested}"


def test_planted_bugs_fail_exactly_their_tests(graded):
    scores, details, *_ = graded
    failed = details[(details.student == "bob") & ~details.passed]
    expected = {(ch, test) for ch, _, _, test in BUGS}
    assert set(zip(failed.chapter, failed.exercise)) == expected, failed[["chapter", "exercise", "message"]].to_string()
    lost = (failed.max_points - failed.points).sum()
    assert 0 < lost <= failed.max_points.sum()
    assert scores.loc["bob", "total"] == pytest.approx(scores.loc["bob", "max_total"] - lost)
    softmax = failed[failed.exercise == "softmax"].iloc[0]
    assert 0 < softmax.points < softmax.max_points, "partial credit: the unstable softmax still passes its other cases"
    assert "logits of ±1e4" in softmax.message


def test_untouched_student_notebook_scores_zero(graded):
    scores, details, *_ = graded
    carol = details[details.student == "carol"]
    assert set(carol.chapter) == {"03_activations", "08_optimizers"} and not carol.passed.any()
    assert carol.message.str.contains("NotImplementedError").all()
    assert scores.loc["carol", "total"] == 0


def test_scores_csv_has_one_column_per_exercise(graded):
    scores, details, stdout, _ = graded
    items = {f"{c}:{e}" for c, e in zip(details.chapter, details.exercise)}
    assert items <= set(scores.columns) and {"total", "max_total", "graded", "notes"} <= set(scores.columns)
    assert set(scores.index) == {"teacher", "alice", "bob", "carol"}
    assert (scores.graded == "yes").all()
    assert "alice:" in stdout and "grades.csv" in stdout and "sandbox: " in stdout


def test_one_feedback_file_per_student_without_the_tests(graded):
    scores, details, _, here = graded
    files = {p.stem: p.read_text(encoding="utf-8") for p in (here / "grades_feedback").glob("*.md")}
    assert set(files) == set(scores.index)
    bob = files["bob"]
    assert "softmax" in bob and "logits of ±1e4" in bob and "expected" in bob
    assert "relu_grad" in bob and "Total: **" in bob
    for tests in HIDDEN.glob("*.py"):
        for line in tests.read_text(encoding="utf-8").splitlines():
            line = line.strip()
            if line.startswith(("def ", "close(", "gradient(", "with ns.case")) and len(line) > 20:
                assert line not in bob, f"hidden test source in the feedback: {line}"
    carol = files["carol"]
    assert "NotImplementedError" in carol and "Exercise: " in carol


def test_readme_command_from_the_repository_root(graded, tmp_path):
    """The same command run from the repository root, with paths relative to it."""
    here = graded[3]
    for who in ("alice", "carol"):
        (tmp_path / "submissions" / who).mkdir(parents=True)
        shutil.copy(here / "submissions" / who / "03_activations.ipynb", tmp_path / "submissions" / who)
    rel = os.path.relpath(tmp_path, ROOT)
    proc = subprocess.run([sys.executable, "-m", "nnlib_teach", "grade", f"{rel}/submissions/", "--out",
                           f"{rel}/grades.csv"], cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    scores = pd.read_csv(tmp_path / "grades.csv", index_col="student")
    assert scores.loc["alice", "total"] == scores.loc["alice", "max_total"] > 0
    assert scores.loc["carol", "total"] == 0
    assert (tmp_path / "grades_feedback" / "alice.md").is_file()


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_a_chapter_never_imports_its_own_module(chapter):
    """What makes a student notebook run the student's code: the chapter defines its module's functions in its
    own cells and uses those; only earlier chapters' modules come from nnlib."""
    cells = [c.source for c in read(BOOK / f"{chapter}.ipynb").cells if c.cell_type == "code"]
    own = next(re.search(r"#\| default_exp (\w+)", src).group(1) for src in cells if "#| default_exp" in src)
    pattern = re.compile(rf"^\s*(from nnlib\.{own} import|from nnlib import .*\b{own}\b|import nnlib\.{own}\b)", re.M)
    offenders = [src.splitlines()[0] for src in cells if pattern.search(src)]
    assert not offenders, f"{chapter} imports nnlib.{own}, so a student's own code would be bypassed: {offenders}"
