"""Grade a folder of submitted notebooks with hidden tests, on every core, without trusting the students' code.

``python -m nnlib_teach grade submissions/ --out grades.csv``. Layout: ``submissions/<student>/<chapter>.ipynb``;
hidden tests: ``<tests>/<chapter>.py`` (``hidden.py``). The trust boundary:

* the grader's process reads the notebooks (``submissions.py``), holds the hidden tests, runs them and computes
  every score; it never executes a line of a student's code;
* each student's implementation cells (the ``#| export`` cells) run in a fresh sandboxed process per chapter
  (``sandbox.py``, ``confine.py``, ``worker.py``) that can import only the chapters before the graded one;
* a test calls the student's functions and objects through proxies (``rpc.py``): arguments and results cross as
  plain data (``plain.py``: JSON and ``.npy``, never pickle), comparisons happen here, on plain arrays; nothing
  the student's process prints is read as a result.

Students are graded in parallel (``--jobs``, default: every core). Each test has a time limit (``--test-timeout``),
each notebook a total one (``--timeout``); a test that kills the student's process costs that test, and the next
one starts a fresh process. Outputs, always written for every student, atomically (``report.py``):

* ``<out>``: one row per student, one column per chapter and exercise, ``total``, ``max_total``, ``graded``
  (yes/no) and ``notes`` (why something was not graded);
* ``<out stem>_details.csv``: one row per student, chapter and exercise, with points and the failure message;
* ``<out stem>_feedback/<student>.md``: the student's feedback file (``feedback.py``).

The exit status is 0 when every student's every notebook was graded, 1 when some could not be (the reasons are in
the CSV), 2 when there was nothing to grade.
"""

from __future__ import annotations

import concurrent.futures as futures
import os
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from nnlib_teach import feedback, hidden, report
from nnlib_teach.sandbox import Limits, Runtime, Sandbox, choose_level
from nnlib_teach.rpc import GraderFailure, SandboxFailure
from nnlib_teach.submissions import SubmissionError, discover, read_cells

ROOT = Path(__file__).resolve().parents[1]
TESTS = ROOT / "teach" / "hidden"
TIMEOUT = 300  # seconds per notebook
TEST_TIMEOUT = 60  # seconds per hidden test
STARTUP_TIMEOUT = 120  # seconds for the implementation cells to run
MAX_STARTS = 4  # fresh processes per notebook (the first, then one after each test that killed it)
OUTPUT_KEPT = 64 << 10  # characters of the student's printed output kept for the feedback


@dataclass
class ChapterResult:
    student: str
    chapter: str
    tests: list = field(default_factory=list)  # hidden.TestResult
    cell_errors: list = field(default_factory=list)
    error: str = ""  # why the notebook was not graded at all ("" if it was)
    output: str = ""
    seconds: float = 0.0

    @property
    def graded(self) -> bool:
        return not self.error


@dataclass
class Run:
    details: pd.DataFrame
    scores: pd.DataFrame
    level: str
    students: int
    notebooks: int
    seconds: float
    jobs: int
    complete: bool
    out: Path
    details_path: Path
    feedback_dir: Path

    @property
    def exit_status(self) -> int:
        if self.students == 0:
            return 2
        return 0 if self.complete else 1


def grade_notebook(runtime: Runtime, student: str, chapter: str, path: Path, tests: hidden.HiddenTests,
                   timeout: float = TIMEOUT, test_timeout: float = TEST_TIMEOUT) -> ChapterResult:
    """Run every hidden test of `chapter` against one student's notebook."""
    start = time.monotonic()
    result = ChapterResult(student, chapter)
    try:
        cells = read_cells(path)
    except SubmissionError as err:
        result.error = str(err)
        result.tests = hidden.failed_all(tests, f"not graded: {err}")
        return result
    deadline = start + timeout
    outputs, sandbox, ready, starts = [], None, None, 0
    try:
        for exercise, fn in tests.tests:
            if sandbox is None or sandbox.conn.broken:
                if sandbox is not None:
                    outputs.append(sandbox.close())
                    sandbox = None
                left = deadline - time.monotonic()
                if starts >= MAX_STARTS or left < 1:
                    why = "not run: the time limit for this notebook was reached" if left < 1 else \
                        "not run: your code's process was stopped too many times"
                    result.tests += hidden.failed_all(tests, why, {t.exercise for t in result.tests})
                    break
                starts += 1
                sandbox = Sandbox(runtime, chapter, cells, timeout=timeout)
                try:
                    ready = sandbox.start(min(left, STARTUP_TIMEOUT))
                except GraderFailure as err:
                    outputs.append(sandbox.close())
                    sandbox = None
                    result.error = str(err)
                    result.tests += hidden.failed_all(tests, f"not graded: {err}", {t.exercise for t in result.tests})
                    break
                except SandboxFailure as err:
                    outputs.append(sandbox.close())
                    sandbox = None
                    reason = str(err)
                    if "within the time limit" in reason:
                        reason = f"your implementation cells did not finish within {min(left, STARTUP_TIMEOUT):g} s"
                    result.cell_errors.append(reason)
                    result.tests += hidden.failed_all(tests, reason, {t.exercise for t in result.tests})
                    break
                if starts == 1:
                    result.cell_errors = ready["cell_errors"]
            sandbox.conn.deadline = min(deadline, time.monotonic() + test_timeout)
            outcome = hidden.run(fn, exercise, tests.max_points(exercise), sandbox.conn, ready["defined"])
            if ready["cell_errors"] and not outcome.passed:
                outcome.message += f"\n(while your cells ran: {'; '.join(ready['cell_errors'])[:600]})"
            result.tests.append(outcome)
    finally:
        if sandbox is not None:
            outputs.append(sandbox.close())
    result.output = "\n".join(o for o in outputs if o.strip())[:OUTPUT_KEPT]
    result.seconds = time.monotonic() - start
    return result


def _frames(results: list[ChapterResult], students) -> tuple[pd.DataFrame, pd.DataFrame]:
    rows = []
    for r in results:
        for t in r.tests:
            rows.append({"student": r.student, "chapter": r.chapter, "exercise": t.exercise, "points": t.points,
                         "max_points": t.max_points, "passed": t.passed, "message": t.message})
    details = pd.DataFrame(rows, columns=["student", "chapter", "exercise", "points", "max_points", "passed",
                                          "message"])
    items = list(dict.fromkeys(f"{c}:{e}" for c, e in zip(details.chapter, details.exercise)))
    ids = [s.id for s in students]
    scores = pd.DataFrame(0.0, index=pd.Index(ids, name="student", dtype=object), columns=items)
    for row in details.itertuples():
        scores.loc[row.student, f"{row.chapter}:{row.exercise}"] = row.points
    scores["total"] = details.groupby("student").points.sum().reindex(ids, fill_value=0.0)
    scores["max_total"] = details.groupby("student").max_points.sum().reindex(ids, fill_value=0.0)
    by_student = {s.id: [r for r in results if r.student == s.id] for s in students}
    scores["graded"] = ["yes" if not s.notes and all(r.graded for r in by_student[s.id]) else "no"
                        for s in students]
    scores["notes"] = ["; ".join(s.notes + [f"{r.chapter}: {r.error}" for r in by_student[s.id] if r.error])
                       for s in students]
    return details, scores


def grade(submissions, tests_dir=TESTS, out="grades.csv", timeout: float = TIMEOUT, *, jobs: int | None = None,
          sandbox: str | None = None, feedback_dir=None, test_timeout: float = TEST_TIMEOUT,
          limits: Limits | None = None, progress=None) -> Run:
    """Grade every ``<student>/<chapter>.ipynb`` under `submissions`; write the CSVs and the feedback files."""
    started = time.monotonic()
    submissions, tests_dir, out = Path(submissions).resolve(), Path(tests_dir).resolve(), Path(out).resolve()
    if not submissions.is_dir():
        raise FileNotFoundError(f"no folder {submissions}")
    details_path = out.with_name(out.stem + "_details.csv")
    feedback_dir = Path(feedback_dir).resolve() if feedback_dir else out.with_name(out.stem + "_feedback")
    tests = {p.stem: hidden.load(p) for p in sorted(tests_dir.glob("*.py")) if not p.name.startswith("_")}
    students = discover(submissions, set(tests))
    level, bwrap = choose_level(sandbox)
    limits = limits or Limits(cpu=int(timeout) + 5)
    jobs = jobs or len(os.sched_getaffinity(0))
    runtime = Runtime(level, bwrap, limits)
    work = [(s.id, chapter, path) for s in students for chapter, path in s.notebooks.items()]
    results: list[ChapterResult] = []
    lock = threading.Lock()
    try:
        with futures.ThreadPoolExecutor(max_workers=max(1, jobs), thread_name_prefix="grade") as pool:
            pending = {pool.submit(grade_notebook, runtime, sid, ch, path, tests[ch], timeout, test_timeout):
                       (sid, ch) for sid, ch, path in work}
            for done in futures.as_completed(pending):
                sid, ch = pending[done]
                try:
                    r = done.result()
                except Exception as err:  # noqa: BLE001 - a bug of the grader must not lose the class's results
                    r = ChapterResult(sid, ch, error=f"the grader failed on this notebook ({type(err).__name__}: "
                                                     f"{err})")
                    r.tests = hidden.failed_all(tests[ch], r.error)
                with lock:
                    results.append(r)
                if progress:
                    progress(r)
    finally:
        runtime.close()
    order = {s.id: i for i, s in enumerate(students)}
    results.sort(key=lambda r: (order[r.student], r.chapter))
    details, scores = _frames(results, students)
    report.write_csv(scores, out)
    report.write_csv(details, details_path, index=False)
    when = datetime.now(timezone.utc).astimezone().strftime("%Y-%m-%d %H:%M")
    for s in students:
        feedback.write(feedback_dir, s.id, [r for r in results if r.student == s.id], s.notes, level, when)
    complete = all(not s.notes for s in students) and all(r.graded for r in results)
    return Run(details, scores, level, len(students), len(work), time.monotonic() - started, jobs, complete,
               out, details_path, feedback_dir)


def main_summary(run: Run, stream=sys.stdout) -> None:
    """What the CLI prints: one line per student, then where the files are and how the run went."""
    for student, row in run.scores.iterrows():
        name = "".join(ch if ch.isprintable() else "?" for ch in str(student))
        flag = "" if row.graded == "yes" else f"  (not all graded: {row.notes})"
        print(f"{name}: {row.total:g} / {row.max_total:g}{flag}", file=stream)
    print(f"graded {run.notebooks} notebooks of {run.students} students in {run.seconds:.1f} s "
          f"({run.jobs} in parallel, sandbox: {run.level})", file=stream)
    print(f"wrote {run.out}, {run.details_path} and {run.feedback_dir}/", file=stream)
