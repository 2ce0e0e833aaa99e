"""Hidden tests: loading them (in the grader's process only) and scoring one test against one student.

A hidden test file, ``<tests>/<chapter>.py``, defines ``test_<exercise>(ns)`` functions and optionally
``POINTS = {"<exercise>": points}`` (1 by default). ``ns`` is an ``rpc.Namespace``: ``ns["relu"]`` is the student's
function, called through the sandbox. A test earns its points when it returns; with cases, it earns the share of
the cases that passed::

    def test_softmax(ns):
        softmax = ns["softmax"]
        with ns.case("rows of random logits"):
            close(softmax(z), expected)
        with ns.case("logits of ±1e4 stay finite", weight=2):
            ...

An exception outside every case (a name the notebook does not define, a failure in the setup) scores the test 0,
so a test that stops early can never be worth more than one that ran to the end. Messages for the student are
built from the exception (the expected and actual values of an ``expect`` assertion, the student's own error and
the lines of *their* cells it went through); the test's source and the grader's traceback are never shown.
"""

from __future__ import annotations

import ast
import importlib.util
import threading
from dataclasses import dataclass, field
from pathlib import Path

from nnlib_teach.rpc import MissingName, Namespace, SandboxFailure, StudentError

_load_lock = threading.Lock()


@dataclass
class HiddenTests:
    chapter: str
    path: Path
    tests: list  # [(exercise, function)]
    points: dict

    def max_points(self, exercise: str) -> float:
        return float(self.points.get(exercise, 1))


def names(path: Path) -> list[str]:
    """Exercise names of a test file, without running it."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [n.name[5:] for n in tree.body if isinstance(n, ast.FunctionDef) and n.name.startswith("test_")]


def load(path: Path) -> HiddenTests:
    """Import a hidden test file (once per run; the module is not put in sys.modules)."""
    path = Path(path).resolve()
    with _load_lock:
        spec = importlib.util.spec_from_file_location(f"nnlib_teach_hidden_{path.stem}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    points = dict(getattr(module, "POINTS", {}) or {})
    tests = [(name[5:], fn) for name, fn in vars(module).items() if name.startswith("test_") and callable(fn)]
    unknown = set(points) - {e for e, _ in tests}
    if unknown:
        raise ValueError(f"{path}: POINTS names exercises without a test: {sorted(unknown)}")
    return HiddenTests(path.stem, path, tests, points)


@dataclass
class CaseResult:
    name: str
    weight: float
    passed: bool
    message: str = ""


@dataclass
class TestResult:
    exercise: str
    max_points: float
    points: float = 0.0
    message: str = ""
    cases: list = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.points >= self.max_points


def describe(err: BaseException) -> str:
    """The student-facing message of a failure (never the test's source)."""
    if isinstance(err, StudentError):
        out = f"your code raised {err.type_name}" + (f": {err.message}" if err.message else "")
        if err.student_traceback:
            out += "\n" + err.student_traceback.rstrip()
        return out
    if isinstance(err, (SandboxFailure, MissingName)):
        return str(err)
    if isinstance(err, AssertionError):
        text = str(err).strip()
        return text or "a check of the result failed"
    return f"{type(err).__name__}: {err}"[:2000]


def run(fn, exercise: str, max_points: float, conn, defined) -> TestResult:
    """Run one hidden test; score it by its cases (or all-or-nothing without cases)."""
    ns = Namespace(conn, defined, describe=describe)
    result = TestResult(exercise, max_points)
    try:
        fn(ns)
        escaped = None
    except Exception as err:  # noqa: BLE001 - any failure of the test is the student's result
        escaped = err
    result.cases = [CaseResult(c.name, c.weight, c.passed, c.message) for c in ns.cases]
    if escaped is not None:
        result.message = describe(escaped)
        result.points = 0.0
        return result
    if not result.cases:
        result.points = max_points
        return result
    total = sum(c.weight for c in result.cases)
    won = sum(c.weight for c in result.cases if c.passed)
    result.points = round(max_points * won / total, 4) if total > 0 else max_points
    failed = [c for c in result.cases if not c.passed]
    result.message = "\n".join(f"[{c.name}] {c.message}" for c in failed)
    return result


def failed_all(tests: HiddenTests, reason: str, done=()) -> list[TestResult]:
    """Zero-point results for every test not in `done`, all with the same reason."""
    return [TestResult(e, tests.max_points(e), 0.0, reason) for e, _ in tests.tests if e not in done]
