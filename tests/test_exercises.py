"""The chapters' exercises: each has a solution that is executed code, printing what it claims, folded in Jupyter.

The exercises use sphinx-exercise's directives (see nnlib_teach/exercises.py for the layout). nbval executes
every code cell of every chapter, solutions included, so a solution that crashes fails the suite; these tests
make sure that every solution *is* code, that it shows its outcome, and that nothing keeps nbval from running it.
They also hold the prose to "every number comes from a cell": results (percentages with decimals, seconds) are
glued in with myst-nb's `glue`, not typed.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from nnlib_teach.exercises import TAG, exercise_labels, solution_cells, solutions

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
#: The chapters held to these rules. The rest are converted by the second errata issue (chapters 7-13).
CHECKED = ["01_data", "02_forward", "03_activations", "04_losses", "05_backprop", "05b_gradient_check",
           "06_training", "07_initialization", "08_optimizers", "09_regularization", "10_schedules",
           "10b_clipping", "11_fast", "12_mnist", "13_command_line", "13b_own_digits", "checking"]
MIN_EXERCISES = {"checking": 2}
SKIPPING_TAGS = {"nbval-skip", "skip-execution", "raises-exception"}


def read(chapter: str):
    return nbformat.read(BOOK / f"{chapter}.ipynb", as_version=4)


def text_of(cell) -> str:
    return "".join(o.get("text", "") if o.output_type == "stream" else
                   "".join(o.get("data", {}).get("text/plain", "")) for o in cell.get("outputs", []))


@pytest.mark.parametrize("chapter", CHECKED)
def test_every_exercise_has_one_executed_solution(chapter):
    nb = read(chapter)
    labels = exercise_labels(nb)
    assert len(labels) >= MIN_EXERCISES.get(chapter, 3), f"{chapter}: {len(labels)} exercises, want at least 3"
    assert len(set(labels)) == len(labels), f"{chapter}: duplicate exercise labels {labels}"
    found = solutions(nb)
    answered = [s.label for s in found]
    assert sorted(answered) == sorted(labels), (
        f"{chapter}: exercises without a solution {sorted(set(labels) - set(answered))}, "
        f"solutions to no exercise {sorted(set(answered) - set(labels))}")
    for s in found:
        assert s.gated, f"{chapter}: the solution to {s.label} is a plain {{solution}} block; use solution-start/-end " \
                        "around code cells"
        code = s.code_cells(nb)
        assert code, f"{chapter}: the solution to {s.label} has no code cell"
        for i in code:
            tags = set(nb.cells[i].metadata.get("tags", []))
            assert not tags & SKIPPING_TAGS, f"{chapter}: solution {s.label} cell {i} is not executed: {tags}"
        assert text_of(nb.cells[code[-1]]).strip() or nb.cells[code[-1]].get("outputs"), (
            f"{chapter}: the last code cell of the solution to {s.label} prints nothing: print the outcome it claims")


@pytest.mark.parametrize("chapter", CHECKED)
def test_no_solution_outside_the_exercise_directives(chapter):
    for i, cell in enumerate(read(chapter).cells):
        if cell.cell_type == "markdown":
            assert not re.search(r"\{admonition\}\s*Solution", cell.source), (
                f"{chapter} cell {i}: a hand-made solution admonition; use sphinx-exercise's solution-start/-end")


@pytest.mark.parametrize("chapter", CHECKED)
def test_solutions_are_folded_in_jupyter(chapter):
    nb = read(chapter)
    inside = solution_cells(nb)
    for i, cell in enumerate(nb.cells):
        jupyter, tags = cell.metadata.get("jupyter", {}), cell.metadata.get("tags", [])
        if i in inside:
            assert jupyter.get("source_hidden") and TAG in tags, (
                f"{chapter} cell {i} belongs to a solution but is not folded: run "
                f"`python -m nnlib_teach.exercises book/{chapter}.ipynb`")
            if cell.cell_type == "code":
                assert jupyter.get("outputs_hidden"), f"{chapter} cell {i}: output of a solution not folded"
        else:
            assert TAG not in tags and not jupyter.get("source_hidden"), f"{chapter} cell {i}: folded, not a solution"


# --- numbers in prose come from cells ----------------------------------------------------------------------

#: A result typed into prose: a percentage with decimals, a duration, a memory size, a speed ratio.
TYPED_RESULT = re.compile(r"(?<![\w.])\d+\.\d+\s?%|(?<![\w.])\d+(?:\.\d+)?\s?(?:ms|s|MB|MiB|GB|GiB|kB|KiB)\b(?!-)"
                          r"|(?<![\w.])\d+\.\d+\s?×")
#: What is not prose: math, inline code, code blocks, roles such as {glue:text}`...` and {cite}`...`, links' targets.
NOT_PROSE = re.compile(r"```.*?```|\$\$.*?\$\$|\$[^$\n]*\$|\{[\w:-]+\}`[^`]*`|`[^`\n]*`|\]\([^)]*\)", re.DOTALL)


def typed_results(source: str) -> list[str]:
    prose = NOT_PROSE.sub(lambda m: " CITED " if m.group(0).startswith("{cite") else " ", source)
    # numbers quoted from the literature carry their citation in the same line
    return [m.group(0) for line in prose.splitlines() if " CITED " not in line for m in TYPED_RESULT.finditer(line)]


def test_typed_result_detector():
    assert typed_results("reaches 83.1% on the dev split") == ["83.1%"]
    assert typed_results("one epoch takes 43 s here") == ["43 s"]
    assert typed_results("reaches {glue:text}`acc:.1%` in $t = 3.5$ s") == []
    assert typed_results("`x.mean()` is 0.13; ```\n12.5%\n```") == []
    assert typed_results("about 1.25% error {cite}`srivastava2014`") == []


@pytest.mark.parametrize("chapter", CHECKED)
def test_no_typed_in_results(chapter):
    offenders = {i: hits for i, cell in enumerate(read(chapter).cells)
                 if cell.cell_type == "markdown" and (hits := typed_results(cell.source))}
    assert not offenders, (f"{chapter}: results typed into the prose (glue them from the cell that computes them "
                           f"with myst_nb.glue): {offenders}")


def test_hide_solutions_builds_a_site_without_solutions(tmp_path):
    """`hide_solutions: true` (documented on the For teachers page) with gated solutions: the book's reader drops
    them, since sphinx-exercise 1.2.1 alone fails on the orphaned solution-end node."""
    import subprocess
    import sys

    import yaml

    config = {"title": "t", "execute": {"execute_notebooks": "force"},
              "parse": {"myst_enable_extensions": ["colon_fence", "dollarmath"]},
              "sphinx": {"extra_extensions": ["sphinx_exercise"],
                         "local_extensions": {"solution_markers": str(BOOK / "_ext")},
                         "config": {"hide_solutions": True}}}
    (tmp_path / "_config.yml").write_text(yaml.safe_dump(config))
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: intro\nchapters:\n  - file: ch\n")
    (tmp_path / "intro.md").write_text("# Intro\n")
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                           "language": "python"}})
    nb.cells = [nbformat.v4.new_markdown_cell("# Ch\n\n```{exercise}\n:label: ex-t\nWhat is 6 * 7?\n```"),
                nbformat.v4.new_markdown_cell("```{solution-start} ex-t\n:class: dropdown\n```\nMultiply:"),
                nbformat.v4.new_code_cell("print('the answer', 6 * 7)"),
                nbformat.v4.new_markdown_cell("```{solution-end}\n```"),
                nbformat.v4.new_markdown_cell("After the exercise.")]
    nbformat.write(nb, tmp_path / "ch.ipynb")
    jb = Path(sys.executable).with_name("jupyter-book")
    proc = subprocess.run([str(jb), "build", str(tmp_path), "-W", "--all"], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    html = (tmp_path / "_build" / "html" / "ch.html").read_text(encoding="utf-8")
    assert "What is 6 * 7?" in html and "After the exercise." in html
    assert "the answer" not in html and "Multiply" not in html and "Solution" not in html
