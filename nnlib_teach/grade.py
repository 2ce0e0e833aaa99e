"""Grade a folder of submitted notebooks with hidden tests, and write the scores as CSV.

Layout: ``submissions/<student>/<chapter>.ipynb`` (e.g. ``submissions/ada/03_activations.ipynb``), and one
file of hidden tests per chapter, ``<tests>/<chapter>.py`` (the book's are in ``teach/hidden/``; keep your own
out of anything students can see). A hidden test file defines functions ``test_<exercise>(ns)`` that receive the
student's namespace (a dict of what their notebook defined) and raise on failure, and may define
``POINTS = {"<exercise>": points}`` (1 point by default).

For each notebook the grader runs, in a fresh Python process with a time limit, the chapter's ``#| export``
cells (the implementations: that is what is graded; the experiments and figures around them are not run),
then every hidden test, each on its own, so that one failure costs only its own points. A cell that raises
(a blank left as ``NotImplementedError``, a syntax error) is reported, and the tests that needed it fail.

Output: ``<out>.csv`` with one row per student and one column per chapter/exercise plus the total (pandas), and
``<out>_details.csv`` with one row per student, chapter and exercise, with the failure message.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pandas as pd

TIMEOUT = 300  # seconds per notebook

# Runs in the child process: argv = [notebook code cells as JSON file, hidden test file]; prints JSON results.
RUNNER = r'''
import importlib.util, json, sys, traceback
cells = json.load(open(sys.argv[1], encoding="utf-8"))
ns = {"__name__": "__submission__"}
cell_errors = []
for i, src in enumerate(cells):
    try:
        exec(compile(src, f"<submitted cell {i + 1}>", "exec"), ns)
    except BaseException as err:
        cell_errors.append(f"cell {i + 1}: {type(err).__name__}: {err}")
spec = importlib.util.spec_from_file_location("hidden_tests", sys.argv[2])
tests = importlib.util.module_from_spec(spec)
spec.loader.exec_module(tests)
points = getattr(tests, "POINTS", {})
results = []
for name in [n for n in vars(tests) if n.startswith("test_") and callable(getattr(tests, n))]:
    exercise = name[len("test_"):]
    try:
        getattr(tests, name)(dict(ns))
        ok, message = True, ""
    except BaseException as err:
        ok, message = False, f"{type(err).__name__}: {err}".strip()[:500]
    results.append({"exercise": exercise, "passed": ok, "max_points": float(points.get(exercise, 1)),
                    "message": message})
print("@@RESULTS@@" + json.dumps({"cell_errors": cell_errors, "results": results}))
'''


def implementation_cells(nb) -> list[str]:
    """The sources of the notebook's `#| export` code cells, in order."""
    return [c.source for c in nb.cells if c.cell_type == "code" and c.source.lstrip().startswith("#| export")]


def run_hidden_tests(notebook: Path, tests: Path, timeout: int = TIMEOUT) -> dict:
    """Run `tests` against the implementations in `notebook`; returns {"cell_errors": [...], "results": [...]}."""
    nb = nbformat.read(notebook, as_version=4)
    cells_file = notebook.parent / f".{notebook.stem}.cells.json"
    try:
        cells_file.write_text(json.dumps(implementation_cells(nb)), encoding="utf-8")
        env = dict(os.environ, MPLBACKEND="Agg")
        proc = subprocess.run([sys.executable, "-c", RUNNER, str(cells_file), str(tests)], capture_output=True,
                              text=True, timeout=timeout, env=env, cwd=notebook.parent)
    except subprocess.TimeoutExpired:
        return {"cell_errors": [f"stopped after {timeout} s"], "results": None}
    finally:
        cells_file.unlink(missing_ok=True)
    marker = proc.stdout.rfind("@@RESULTS@@")
    if marker < 0:
        return {"cell_errors": [f"the grader crashed: {proc.stderr.strip()[-500:]}"], "results": None}
    return json.loads(proc.stdout[marker + len("@@RESULTS@@"):])


def test_names(tests: Path) -> list[str]:
    """Exercise names in a hidden test file, without running it (for notebooks that could not be graded)."""
    import ast

    tree = ast.parse(tests.read_text(encoding="utf-8"))
    return [n.name[5:] for n in tree.body if isinstance(n, ast.FunctionDef) and n.name.startswith("test_")]


def grade(submissions, tests_dir, out="grades.csv", timeout: int = TIMEOUT) -> pd.DataFrame:
    """Grade every `<student>/<chapter>.ipynb` under `submissions`; write `out` and `<out>_details.csv`."""
    submissions, tests_dir, out = Path(submissions), Path(tests_dir), Path(out)
    rows = []
    for notebook in sorted(submissions.glob("*/*.ipynb")):
        student, chapter = notebook.parent.name, notebook.stem
        tests = tests_dir / f"{chapter}.py"
        if not tests.is_file():
            print(f"skipped {notebook}: no hidden tests {tests}", file=sys.stderr)
            continue
        try:
            outcome = run_hidden_tests(notebook, tests, timeout)
        except (nbformat.reader.NotJSONError, ValueError, OSError) as err:
            outcome = {"cell_errors": [f"not a readable notebook: {err}"], "results": None}
        errors = "; ".join(outcome["cell_errors"])
        results = outcome["results"] or [{"exercise": e, "passed": False, "max_points": 1.0, "message": errors}
                                         for e in test_names(tests)]
        for r in results:
            message = r["message"]
            if not r["passed"] and errors and errors not in message:
                message = f"{message} (while running the notebook: {errors})"
            rows.append({"student": student, "chapter": chapter, "exercise": r["exercise"],
                         "points": r["max_points"] if r["passed"] else 0.0, "max_points": r["max_points"],
                         "passed": r["passed"], "message": message})
    details = pd.DataFrame(rows, columns=["student", "chapter", "exercise", "points", "max_points", "passed",
                                          "message"])
    scores = details.assign(item=details.chapter + ":" + details.exercise).pivot_table(
        index="student", columns="item", values="points", aggfunc="sum", sort=False)
    scores["total"] = scores.sum(axis=1)
    scores["max_total"] = details.groupby("student").max_points.sum()
    out.parent.mkdir(parents=True, exist_ok=True)
    scores.to_csv(out)
    details.to_csv(out.with_name(out.stem + "_details.csv"), index=False)
    return details
