"""The grader against students who want marks they did not earn: a table of attacks, one student each.

Every attacker starts from the untouched student notebook of Chapter 2 (its blanks raise NotImplementedError, so it
is worth 0) and adds one implementation cell (or hands in a malformed file). The whole class, attackers and honest
classmates together, is graded in one run per sandbox level, through the README's command. For every attack:

* the attacker gets no more than the untouched notebook (0 points), or, for a malformed notebook, a row that says
  why it was not graded;
* the honest classmates (``alice_honest`` and the students with formula-like names) keep full marks;
* no file outside the sandbox changes (classmates' notebooks, the private tests, a canary, ``grades.csv`` after the
  grader has exited), and no process of the sandbox outlives the run;
* the run completes, with a row for every student, and exit status 1 (some notebooks could not be graded).

Levels: ``bwrap`` (when bubblewrap works here), ``process`` (Landlock when the kernel has it) and ``process-plain``
(no bubblewrap, no Landlock: only the attacks that level claims to stop). ``NNLIB_TEACH_SANDBOX=process`` (bubblewrap
hidden) or ``=bwrap`` limits the run to that level.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import json
import os
import re
import secrets
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest

from nnlib_teach.assign import student_notebook
from nnlib_teach.sandbox import find_bwrap

ROOT = Path(__file__).resolve().parents[1]
CHAPTER = "02_forward"
FULL = 3.0  # 02_forward: neuron 1 + dense_forward 2
MARK = secrets.token_hex(6)
SLEEP = f"31.{int(MARK[:6], 16) % 100000:05d}"  # a distinctive `sleep` argument for the orphan
STUB_RE = re.compile(r"^[ \t]*raise NotImplementedError\(\"Exercise: .*\"\)$", re.MULTILINE)
REGION_RE = re.compile(r"^[ \t]*### BEGIN SOLUTION[^\n]*\n(?P<body>.*?)\n[ \t]*### END SOLUTION", re.MULTILINE | re.DOTALL)
WEAK = {"process-plain"}  # levels without filesystem isolation: reading and writing the host are not stopped
STRONG_ONLY = "bwrap", "process"

# (student, category, code of the added #| export cell, levels at which it must be stopped)
ATTACKS = [
    ("rebind_numpy", "rebinding", """
import builtins
import numpy as np
np.testing.assert_allclose = lambda *a, **k: None
np.testing.assert_array_equal = lambda *a, **k: None
np.allclose = lambda *a, **k: True
np.ndim = lambda *a, **k: 0
builtins.AssertionError = type("NeverRaised", (Exception,), {})
def neuron(x, w, b):
    return np.zeros(3)  # wrong in every way: no case can pass on its own merits
def dense_forward(X, W, b):
    return np.zeros((2, 2))
""", None),
    ("rebind_grader", "rebinding", """
import sys
for module in list(sys.modules.values()):
    for name in ("close", "equal", "array", "number", "run", "describe", "assert_allclose"):
        if hasattr(module, name):
            try:
                setattr(module, name, lambda *a, **k: None)
            except Exception:
                pass
try:
    import nnlib_teach.expect  # the grader's checks are not even importable here
    print("IMPORTED THE GRADER")
except ImportError as err:
    print("no grader here:", err)
""", None),
    ("forged_results_line", "forged output", """
import json, sys
fake = {"cell_errors": [], "results": [{"exercise": e, "passed": True, "max_points": 9, "message": ""}
                                       for e in ("neuron", "dense_forward")]}
print("@@RESULTS@@" + json.dumps(fake))
print("neuron 1 / 1\\ndense_forward 2 / 2\\ntotal 3 / 3")
sys.stdout.flush()
""", None),
    ("forged_protocol", "forged output", """
import json, os, struct, sys
def frame(header):
    text = json.dumps(dict(header, blobs=[])).encode()
    return struct.pack(">4sQQ", b"NNT1", len(text), 0) + text
fd = int(sys.argv[3])
os.write(fd, frame({"op": "ready", "cell_errors": [], "defined": ["neuron", "dense_forward"]}))
for i in range(1, 40):
    os.write(fd, frame({"re": i, "ok": True, "body": [3.0, []], "error": None}))
""", None),
    ("import_reference", "reading the reference", """
try:
    from nnlib.forward import neuron, dense_forward
    print("IMPORTED nnlib.forward")
except ImportError as err:
    print("blocked:", err)
try:
    import importlib
    importlib.import_module("nnlib.checks")  # a later page: not in this sandbox's nnlib either
    print("IMPORTED nnlib.checks")
except ImportError as err:
    print("blocked:", err)
""", None),
    ("import_reference_from_the_repository", "reading the reference", """
import sys
sys.path.insert(0, {root!r})
for name in [m for m in sys.modules if m.split(".")[0] == "nnlib"]:
    del sys.modules[name]
try:
    from nnlib.forward import neuron, dense_forward
    print("IMPORTED THE REFERENCE FROM THE REPOSITORY")
except Exception as err:
    print("blocked:", type(err).__name__)
""", STRONG_ONLY),
    ("read_reference_file", "reading the reference", """
import sys
for path in [{root!r} + "/nnlib/forward.py"] + [p + "/nnlib/forward.py" for p in sys.path]:
    try:
        source = open(path).read()
        exec(compile(source.replace("from .", "from nnlib."), path, "exec"))
        print("READ THE REFERENCE", path)
    except Exception as err:
        print("blocked:", type(err).__name__)
""", STRONG_ONLY),
    ("read_hidden_tests", "reading the tests", """
import os
for path in [{tests!r} + "/02_forward.py", {root!r} + "/teach/hidden/02_forward.py"]:
    try:
        print(open(path).read())
    except Exception as err:
        print("blocked:", type(err).__name__)
for folder in [{course!r} + "/submissions", {course!r}]:
    try:
        print(os.listdir(folder))
    except Exception as err:
        print("blocked:", type(err).__name__)
""", STRONG_ONLY),
    ("write_outside", "writing outside the folder", """
import os
for path in [{course!r} + "/submissions/alice_honest/02_forward.ipynb", {course!r} + "/grades.csv",
             {tests!r} + "/02_forward.py", {canary!r}, {course!r} + "/planted_by_attacker", "/tmp/planted_" + {mark!r}]:
    try:
        with open(path, "a") as f:
            f.write("pwned")
        print("WROTE", path)
    except Exception as err:
        print("blocked:", type(err).__name__)
try:
    open("planted_in_cwd", "w").write("x")
except Exception as err:
    print("blocked:", type(err).__name__)
""", STRONG_ONLY),
    ("orphans_and_late_writes", "orphan processes", """
import os, subprocess
subprocess.Popen(["sleep", {sleep!r}], start_new_session=True)
pid = os.fork()
if pid == 0:
    os.setsid()
    if os.fork() == 0:
        script = "while true; do sleep 0.3; echo pwned >> " + {canary!r} + "; echo pwned >> " + {course!r} + "/grades.csv; done"
        os.execv("/bin/sh", ["/bin/sh", "-c", script, "attack-" + {mark!r}])
    os._exit(0)
os.waitpid(pid, 0)
""", None),
    ("kill_the_grader", "orphan processes", """
import os, signal
def parent(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(next(line.split()[1] for line in f if line.startswith("PPid:")))
try:
    pid = parent("self")
    while pid > 1:  # up the chain of ancestors only: the zygote, then the grader
        os.kill(pid, signal.SIGKILL)
        print("KILLED an ancestor", pid)
        pid = parent(pid)
except Exception as err:
    print("blocked:", type(err).__name__)
""", STRONG_ONLY),
    ("masked_array", "lying arrays", """
import numpy as np
def neuron(x, w, b):
    return np.ma.masked_all(())
def dense_forward(X, W, b):
    return np.ma.masked_all((len(X), W.shape[1]))
""", None),
    ("lying_subclass", "lying arrays", """
import numpy as np
class Liar(np.ndarray):
    def __eq__(self, other):
        return np.ones(np.shape(other), bool)
    __ne__ = lambda self, other: np.zeros(np.shape(other), bool)
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        return np.zeros(np.broadcast_shapes(*(np.shape(i) for i in inputs)))
    def __float__(self):
        return 0.0
def dense_forward(X, W, b):
    return np.zeros((len(X), W.shape[1])).view(Liar)
def neuron(x, w, b):
    return np.zeros(()).view(Liar)
""", None),
    ("lying_object", "lying arrays", """
import numpy as np
class Anything(float):
    def __eq__(self, other): return True
    def __sub__(self, other): return 0.0
    __rsub__ = __sub__
    def __abs__(self): return 0.0
    def __le__(self, other): return True
    def __lt__(self, other): return True
class Shape:
    shape, dtype, ndim = (6, 3), np.dtype(float), 2
    def __array__(self, dtype=None, copy=None): return np.full((6, 3), np.nan)
    def __eq__(self, other): return True
    def __getattr__(self, name): return lambda *a, **k: True
def neuron(x, w, b):
    return Anything(0.0)
def dense_forward(X, W, b):
    return Shape()
""", None),
    ("memory", "limits", """
big = bytearray(8 << 30)
def neuron(x, w, b):
    return bytearray(16 << 30)
""", None),
    ("cpu", "limits", """
def neuron(x, w, b):
    while True:
        pass
def dense_forward(X, W, b):
    x = 0
    while True:
        x += 1
""", None),
    ("output_flood", "limits", """
import sys
chunk = "x" * (1 << 20)
for _ in range(200):
    sys.stdout.write(chunk)
""", None),
    ("fork_bomb", "limits", """
import os, time
children = 0
for _ in range(60):
    try:
        if os.fork() == 0:
            time.sleep(30)
            os._exit(0)
        children += 1
    except OSError as err:
        print("fork refused after", children, type(err).__name__)
        break
""", None),
    ("big_files", "limits", """
import os
for path in ["/tmp/big_" + {mark!r}, "big_in_cwd"]:
    try:
        with open(path, "wb") as f:
            for _ in range(64):
                f.write(b"\\0" * (1 << 20))
        print("WROTE 64 MiB to", path)
    except BaseException as err:
        print("stopped:", type(err).__name__)
    finally:
        try:
            os.unlink(path)
        except OSError:
            pass
""", None),
    ("huge_results", "limits", """
import numpy as np
def neuron(x, w, b):
    nested = []
    for _ in range(5000):
        nested = [nested]
    return nested
def dense_forward(X, W, b):
    return np.zeros((12_000_000,))
""", None),
    ("crash", "limits", """
import ctypes, os
def neuron(x, w, b):
    ctypes.string_at(0)
def dense_forward(X, W, b):
    os._exit(3)
""", None),
]

# (student, file contents or a callable(path), words the reason must contain)
MALFORMED = [
    ("bad_not_json", b"this is not a notebook", "invalid JSON"),
    ("bad_not_utf8", b"\xff\xfe{\x00}", "UTF-8"),
    ("bad_nbformat3", json.dumps({"nbformat": 3, "nbformat_minor": 0, "metadata": {}, "worksheets": []}).encode(),
     "nbformat 4"),
    ("bad_schema", json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {},
                               "cells": [{"cell_type": "code", "source": 42}]}).encode(), "valid nbformat 4"),
    ("bad_cells", json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": {"a": 1}}).encode(),
     "cells"),
    ("bad_deep", b"[" * 200_000 + b"]" * 200_000, "nested too deeply"),
    ("bad_huge", lambda p: p.write_bytes(b'{"nbformat": 4, "x": "' + b"a" * (21 << 20) + b'"}'), "MiB"),
    ("bad_top_level_list", b"[]", "not an object"),
    ("bad_empty", b"", "invalid JSON"),
    ("bad_symlink", lambda p: p.symlink_to(p.parents[2] / "private_tests" / "02_forward.py"), "symbolic link"),
    ("bad_directory", lambda p: p.mkdir(), "not a regular file"),
]
FORMULA_NAMES = ['=HYPERLINK("evil.example","click")', "+1+1", "-2+3", "@SUM(1,1)", "\tTAB", "\rCR",
                 "comma, and\nnewline"]


def levels():
    forced = os.environ.get("NNLIB_TEACH_SANDBOX", "").lower()
    out = []
    if forced in ("", "auto", "bwrap") and find_bwrap():
        out.append("bwrap")
    if forced in ("", "auto", "process"):
        out += ["process", "process-plain"]
    return out


def fill(student_nb, teacher_nb):
    nb = nbformat.reads(nbformat.writes(student_nb), as_version=4)
    for s_cell, t_cell in zip(nb.cells, teacher_nb.cells):
        bodies = [m.group("body") for m in REGION_RE.finditer(t_cell.source)]
        stubs = list(STUB_RE.finditer(s_cell.source))
        for body, stub in zip(reversed(bodies), reversed(stubs)):
            s_cell.source = s_cell.source[:stub.start()] + body + s_cell.source[stub.end():]
    return nb


def snapshot(*roots) -> dict:
    out = {}
    for root in roots:
        root = Path(root)
        paths = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file() and not p.is_symlink())
        for p in paths:
            out[str(p)] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def marked_processes() -> list[str]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                cmd = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if f"attack-{MARK}" in cmd or f"sleep {SLEEP}" in cmd:
                found.append(f"{entry}: {cmd}")
    return found


_runs: dict = {}


def graded_run(level: str, tmp_path_factory) -> dict:
    if level in _runs:
        return _runs[level]
    course = tmp_path_factory.mktemp(f"attacks-{level}")
    subs, tests = course / "submissions", course / "private_tests"
    tests.mkdir()
    (tests / "02_forward.py").write_bytes((ROOT / "teach" / "hidden" / "02_forward.py").read_bytes())
    canary = course.parent / f"canary-{level}-{MARK}.txt"
    canary.write_text("untouched\n")
    teacher = nbformat.read(ROOT / "book" / f"{CHAPTER}.ipynb", as_version=4)
    blank = student_notebook(teacher)
    honest = fill(blank, __import__("nnlib_teach.exercises", fromlist=["strip"]).strip(teacher))
    names = {"course": str(course), "tests": str(tests), "root": str(ROOT), "canary": str(canary), "mark": MARK,
             "sleep": SLEEP}
    wanted = {name for name, _, _, stopped_at in ATTACKS if level not in WEAK or stopped_at is None}
    for name, _, code, _ in ATTACKS:
        if name not in wanted:
            continue
        nb = nbformat.reads(nbformat.writes(blank), as_version=4)
        code = re.sub(r"\{(\w+)!r\}", lambda m: repr(names[m.group(1)]), code.strip())  # {course!r} etc.
        nb.cells.append(nbformat.v4.new_code_cell("#| export\n" + code))
        (subs / name).mkdir(parents=True)
        nbformat.write(nb, subs / name / f"{CHAPTER}.ipynb")
    for name, content, _ in MALFORMED:
        (subs / name).mkdir(parents=True)
        path = subs / name / f"{CHAPTER}.ipynb"
        content(path) if callable(content) else path.write_bytes(content)
    for name in ["alice_honest", *FORMULA_NAMES]:
        (subs / name).mkdir(parents=True)
        nbformat.write(honest, subs / name / f"{CHAPTER}.ipynb")
    watched = [subs / "alice_honest", tests, canary, ROOT / "teach" / "hidden"]
    before = snapshot(*watched)
    env = dict(os.environ, NNLIB_TEACH_SANDBOX="process" if level.startswith("process") else level)
    if level == "process-plain":
        env["NNLIB_TEACH_LANDLOCK"] = "0"
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "nnlib_teach", "grade", "submissions/", "--out", "grades.csv",
                           "--tests", "private_tests", "--test-timeout", "4", "--timeout", "40", "--quiet"],
                          cwd=course, env=env, capture_output=True, text=True, timeout=600)
    seconds = time.monotonic() - started
    grades_text = (course / "grades.csv").read_text(encoding="utf-8") if (course / "grades.csv").exists() else None
    alive = marked_processes()
    time.sleep(1.0)  # a writer that survived would show up now
    run = {"proc": proc, "course": course, "seconds": seconds, "before": before, "after": snapshot(*watched),
           "grades_text": grades_text, "grades_later": (course / "grades.csv").read_text(encoding="utf-8"),
           "alive": alive, "alive_later": marked_processes(), "canary": canary.read_text(), "wanted": wanted,
           "course_files": sorted(str(p.relative_to(course)) for p in course.iterdir())}
    if grades_text is not None:
        run["scores"] = pd.read_csv(course / "grades.csv", index_col="student", keep_default_na=False)
        run["details"] = pd.read_csv(course / "grades_details.csv", keep_default_na=False)
    _runs[level] = run
    return run


@pytest.fixture(params=levels())
def run(request, tmp_path_factory):
    return request.param, graded_run(request.param, tmp_path_factory)


def test_the_run_completes_with_a_row_for_everyone(run):
    level, r = run
    assert r["proc"].returncode == 1, r["proc"].stdout[-3000:] + r["proc"].stderr[-3000:]  # malformed ones: 1
    assert r["grades_text"] is not None, "grades.csv was not written"
    expected = len(r["wanted"]) + len(MALFORMED) + 1 + len(FORMULA_NAMES)
    assert len(r["scores"]) == expected
    shown = re.search(r"sandbox: (\S+)\)", r["proc"].stdout).group(1)
    assert shown == {"bwrap": "bwrap", "process-plain": "process"}.get(level, shown), shown
    assert level != "process" or shown.startswith("process")
    print(f"{level}: {expected} students graded in {r['seconds']:.1f} s")


@pytest.mark.parametrize("name,category,stopped_at", [(a[0], a[1], a[3]) for a in ATTACKS],
                         ids=[f"{a[1]}:{a[0]}" for a in ATTACKS])
def test_an_attack_earns_nothing(run, name, category, stopped_at):
    level, r = run
    if name not in r["wanted"]:
        pytest.skip(f"{level} does not claim to stop {category} ({name})")
    scores = r["scores"]
    assert scores.loc[name, "total"] == 0, f"{name} ({category}) scored at {level}: " + \
        r["details"][r["details"].student == name].to_string()
    assert scores.loc[name, "graded"] == "yes", scores.loc[name, "notes"]
    feedback = (r["course"] / "grades_feedback" / f"{name}.md").read_text(encoding="utf-8")
    for leak in ("def test_dense_forward", "IMPORTED", "READ THE REFERENCE", "alice_honest",
                 "KILLED"):
        assert leak not in feedback, f"{name} at {level}: {leak!r} in the feedback"


def test_honest_classmates_keep_full_marks(run):
    level, r = run
    scores = r["scores"]
    assert scores.loc["alice_honest", "total"] == FULL
    for name in FORMULA_NAMES:
        escaped = "'" + name if name[0] in "=+-@\t\r" else name
        assert scores.loc[escaped, "total"] == FULL, f"{name!r} at {level}"


def test_no_file_outside_the_sandbox_changes_and_nothing_outlives_the_run(run):
    level, r = run
    assert r["before"] == r["after"], "files changed: " + str(
        {k for k in set(r["before"]) | set(r["after"]) if r["before"].get(k) != r["after"].get(k)})
    assert r["canary"] == "untouched\n"
    assert r["grades_text"] == r["grades_later"], "grades.csv changed after the grader exited"
    assert not r["alive"] and not r["alive_later"], r["alive"] + r["alive_later"]
    assert set(r["course_files"]) == {"submissions", "private_tests", "grades.csv", "grades_details.csv",
                                      "grades_feedback"}, r["course_files"]
    assert not list(Path("/tmp").glob(f"planted_{MARK}*")) and not list(Path("/tmp").glob(f"big_{MARK}*"))


@pytest.mark.parametrize("name,content,reason", MALFORMED, ids=[m[0] for m in MALFORMED])
def test_a_malformed_notebook_gets_a_reason_not_a_crash(run, name, content, reason):
    level, r = run
    row = r["scores"].loc[name]
    assert row.graded == "no" and row.total == 0
    assert reason in row.notes, row.notes
    feedback = (r["course"] / "grades_feedback" / f"{name}.md").read_text(encoding="utf-8")
    assert "Not graded" in feedback and "def test_" not in feedback


def test_csv_cells_that_look_like_formulas_are_escaped(run):
    level, r = run
    for path in (r["course"] / "grades.csv", r["course"] / "grades_details.csv"):
        with open(path, newline="", encoding="utf-8") as f:
            for row in csv.reader(f):
                for cell in row:
                    assert not cell.startswith(("=", "+", "@", "\t", "\r")), f"{path.name}: {cell!r}"
                    assert not cell.startswith("-") or re.fullmatch(r"-[\d.e+-]+", cell), f"{path.name}: {cell!r}"
    ids = set(r["scores"].index)
    assert "'=HYPERLINK(\"evil.example\",\"click\")" in ids and "'\rCR" in ids and "comma, and\nnewline" in ids


def test_limits_are_reported_to_the_student(run):
    level, r = run
    details = r["details"].set_index(["student", "exercise"])
    assert "time limit" in details.loc[("cpu", "neuron"), "message"]
    flood = (r["course"] / "grades_feedback" / "output_flood.md").read_text(encoding="utf-8")
    assert "more bytes of output not kept" in flood and len(flood) < 200_000
    assert "cannot accept" in details.loc[("huge_results", "dense_forward"), "message"]
    assert "only numpy.ndarray itself" in details.loc[("lying_subclass", "dense_forward"), "message"]


@pytest.mark.parametrize("level", [lv for lv in levels() if lv != "process-plain"])
def test_nothing_outlives_a_grader_killed_mid_run(level, tmp_path):
    """Even `kill -9` of the grader in the middle of a student's test leaves none of the student's processes."""
    mark = f"41.{secrets.randbelow(10**5):05d}"
    (tmp_path / "submissions" / "eve").mkdir(parents=True)
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_code_cell(
        f"#| export\nimport subprocess, time\nsubprocess.Popen(['sleep', '{mark}'], start_new_session=True)\n"
        "def neuron(x, w, b):\n    time.sleep(100)\n"))
    nbformat.write(nb, tmp_path / "submissions" / "eve" / f"{CHAPTER}.ipynb")
    grader = subprocess.Popen([sys.executable, "-m", "nnlib_teach", "grade", "submissions/", "--out", "grades.csv",
                               "--sandbox", "process" if level.startswith("process") else level], cwd=tmp_path,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def alive():
        found = []
        for entry in os.listdir("/proc"):
            try:
                if entry.isdigit() and mark.encode() in Path(f"/proc/{entry}/cmdline").read_bytes():
                    found.append(entry)
            except OSError:
                pass
        return found

    deadline = time.monotonic() + 60
    while not alive() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert alive(), "the student's process never started"
    time.sleep(0.5)
    grader.kill()
    grader.wait()
    deadline = time.monotonic() + 5
    while alive() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(), f"left running after the grader was killed: {alive()}"


def _npy(array, allow_pickle=False) -> bytes:
    import io

    out = io.BytesIO()
    np.lib.format.write_array(out, array, allow_pickle=allow_pickle)
    return out.getvalue()


@pytest.mark.parametrize("node,blobs,why", [
    ({"$t": "nd", "b": 0}, [_npy(np.array([object()], dtype=object), allow_pickle=True)], "numeric dtype"),
    ({"$t": "nd", "b": 0}, [_npy(np.zeros(2, dtype=[("a", "f8"), ("b", "i4")]))], "numeric dtype"),
    ({"$t": "nd", "b": 0}, [_npy(np.zeros(4))[:-8]], "does not match"),
    ({"$t": "nd", "b": 0}, [_npy(np.zeros(4)).replace(b"(4,)", b"(10**12,)")], "malformed"),
    ({"$t": "nd", "b": 0}, [_npy(np.zeros(4)).replace(b"'<f8'", b"'<U8'")], "numeric dtype"),
    ({"$t": "pickle", "v": "gASV"}, [], "not accepted"),
    ({"$t": "handle", "id": 1}, [], "not accepted"),
    (1 << 70, [], "64 bits"),
    ({"$t": "float", "v": "1e999999"}, [], "malformed float"),
    (functools.reduce(lambda inner, _: [inner], range(100), 0), [], "nested deeper"),
    ({"$t": "dict", "v": [[[1, 2], 3]]}, [], "keys"),
    ({"$t": "np", "b": 0}, [_npy(np.zeros(3))], "shape ()"),
], ids=["object-pickle", "structured", "truncated", "huge-shape", "unicode", "unknown-kind", "handle-not-here",
        "big-int", "bad-float", "deep", "list-key", "scalar-shape"])
def test_plain_data_refuses_what_could_lie_or_hurt(node, blobs, why):
    """What the grader decodes from a student's process: only numeric base-class arrays and plain values."""
    from nnlib_teach import plain

    with pytest.raises(plain.PlainError, match=why):
        plain.Decoder(blobs).decode(node)


def test_plain_data_round_trip_and_subclasses_refused():
    from nnlib_teach import plain

    value = {"a": [1, 2.5, float("nan"), None, True, "x", (3, 4j)], 7: np.arange(6, dtype=np.float32).reshape(2, 3),
             "s": np.float32(1.5), "d": np.dtype("int16"), "rng": np.random.default_rng(3)}
    enc = plain.Encoder()
    back = plain.Decoder(enc.blobs).decode(json.loads(json.dumps(enc.encode(value), allow_nan=False)))
    assert back["a"][:2] == [1, 2.5] and np.isnan(back["a"][2]) and back["a"][6] == (3, 4j)
    assert type(back[7]) is np.ndarray and back[7].dtype == np.float32 and back[7].tolist() == value[7].tolist()
    assert type(back["s"]) is np.float32 and back["d"] == np.dtype("int16")
    assert back["rng"].random() == np.random.default_rng(3).random()
    for liar in (np.ma.masked_all(3), np.zeros(3).view(type("Sub", (np.ndarray,), {}))):
        with pytest.raises(plain.PlainError, match="numpy.ndarray itself"):
            plain.Encoder().encode(liar)
