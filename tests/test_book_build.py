"""Build the whole book the way CI/`make book` does and check the HTML it produces.

The build runs `jupyter-book build . -W --keep-going --all` in a subprocess (every warning is an
error; notebooks are executed), into a temporary `--path-output`, so the working tree's `_build/`
is left alone. Then the HTML is checked: one page per `_toc.yml` entry, MathJax served from the
site's own `_static/mathjax/` (never a CDN) with its fonts present, and math actually marked up.

The build itself is the session fixture `built_html` (tests/conftest.py, tests/book_site.py), shared with
the browser tests. Set NNLIB_SKIP_BOOK_BUILD=1 to skip everything that needs it, or NNLIB_BOOK_HTML=path/to/html
to check an existing build during quick local iterations.
"""

from __future__ import annotations

import html
import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from book_site import toc_files

ROOT = Path(__file__).resolve().parents[1]
MATHJAX_COMPONENT = "_static/mathjax/tex-mml-chtml.js"
FONTS_DIR = "output/chtml/fonts/woff-v2"  # relative to MathJax's root (the script's directory)
CDN_RE = re.compile(r"cdn\.jsdelivr|https?://[^\"'\s>]*mathjax", re.IGNORECASE)
SCRIPT_SRC_RE = re.compile(r"<script\b[^>]*\bsrc=\"([^\"]*)\"", re.IGNORECASE)
# What Sphinx emits for math: \( \) inline, \[ \] display, inside spans/divs of class "math".
MATH_RE = re.compile(r'class="math notranslate nohighlight"|\\\(|\\\[')

def read(path: Path) -> str:
    return path.read_text(encoding="utf-8", errors="replace")


def test_toc_lists_pages():
    files = toc_files()
    assert len(files) >= 2, files
    for f in files:
        assert any((ROOT / f).with_suffix(ext).is_file() for ext in (".md", ".ipynb")), (
            f"_toc.yml lists {f}, but neither {f}.md nor {f}.ipynb exists"
        )


def test_every_toc_page_is_built(built_html):
    missing = [f for f in toc_files() if not (built_html / f"{f}.html").is_file()]
    assert not missing, f"pages in _toc.yml without HTML output: {missing}"


def test_no_mathjax_from_a_cdn(built_html):
    offenders = {}
    for page in sorted(built_html.rglob("*.html")):
        hits = sorted(set(CDN_RE.findall(read(page))))
        if hits:
            offenders[str(page.relative_to(built_html))] = hits
    assert not offenders, f"pages referring to a CDN: {offenders}"


def test_local_mathjax_and_fonts_exist(built_html):
    script = built_html / MATHJAX_COMPONENT
    assert script.is_file() and script.stat().st_size > 100_000, f"missing or tiny {script}"
    text = read(script)
    assert f"\"{FONTS_DIR}\"" in text, "MathJax no longer loads its fonts from " + FONTS_DIR
    fonts = script.parent / FONTS_DIR
    woffs = {p.name for p in fonts.glob("*.woff")}
    for name in ("MathJax_Main-Regular.woff", "MathJax_Math-Italic.woff", "MathJax_Size1-Regular.woff"):
        assert name in woffs, f"{name} missing from {fonts}"
    assert (script.parent / "input/tex/extensions").is_dir(), "TeX extensions missing"
    # Nothing MathJax-related may sit in the *source* _static/ (Jupyter Book would inject it).
    assert not list(ROOT.glob("_static/**/tex-*.js")), "MathJax files in the source _static/"


def mathjax_scripts(page_html: str) -> list[str]:
    return [src for src in SCRIPT_SRC_RE.findall(page_html) if "mathjax" in src.lower()
            or "tex-mml-chtml" in src or "tex-chtml" in src]


def test_math_pages_load_local_mathjax(built_html):
    pages_with_math = []
    problems = []
    for f in toc_files():
        page = built_html / f"{f}.html"
        if not page.is_file():
            continue  # reported by test_every_toc_page_is_built
        html = read(page)
        if not MATH_RE.search(html):
            continue
        pages_with_math.append(f)
        scripts = mathjax_scripts(html)
        if len(scripts) != 1:
            problems.append(f"{f}: expected one MathJax <script>, found {scripts}")
            continue
        src = urlsplit(scripts[0]).path  # drop Sphinx's ?v=checksum
        target = (page.parent / src).resolve()
        if not target.is_file() or target != (built_html / MATHJAX_COMPONENT).resolve():
            problems.append(f"{f}: MathJax src {scripts[0]!r} does not resolve to {MATHJAX_COMPONENT}")
            continue
        # MathJax takes its root from the script URL: the fonts must resolve from there.
        if not any((target.parent / FONTS_DIR).glob("*.woff")):
            problems.append(f"{f}: no fonts at {target.parent / FONTS_DIR}")
    assert not problems, "\n".join(problems)
    chapters = toc_files()[1:]
    assert any(f in pages_with_math for f in chapters), (
        "no chapter page contains MathJax math markup (\\( \\) or class=\"math\"): "
        "is dollarmath enabled and is math rendered?"
    )


def test_math_is_not_left_as_raw_dollars(built_html):
    """`$$`-delimited display math must have been converted by dollarmath."""
    leftovers = []
    for f in toc_files():
        page = built_html / f"{f}.html"
        if page.is_file():
            body = read(page).split('<article class="bd-article"', 1)[-1]
            # outside <pre>/<code> blocks, a literal $$ means the math was not parsed
            body = re.sub(r"<(pre|code)\b.*?</\1>", "", body, flags=re.DOTALL)
            if "$$" in body:
                leftovers.append(f)
    assert not leftovers, f"raw $$ math left in: {leftovers}"


def test_solution_markers_are_not_on_the_website(built_html):
    """The chapters' ### BEGIN/END SOLUTION lines (for student versions) never show: not in the chapter pages,
    not in the .ipynb downloads (book/_ext/solution_markers.py). The teachers' page shows them on purpose."""
    notebooks = [f for f in toc_files() if (ROOT / f).with_suffix(".ipynb").is_file()]
    pages = [built_html / f"{f}.html" for f in notebooks] + sorted((built_html / "_sources").rglob("*.ipynb"))
    assert len(pages) > len(notebooks), "no .ipynb downloads in _sources/"
    leaks = [str(p.relative_to(built_html)) for p in pages if "BEGIN SOLUTION" in read(p)]
    assert not leaks, f"solution markers on the website: {leaks}"
    chapter = html.unescape(re.sub(r"<[^>]+>", "", read(built_html / "book" / "03_activations.html")))
    assert "np.maximum(z, 0)" in chapter, "the solution code itself must stay in the book"


# --- every chapter within the time budget ------------------------------------------------------------------

BUDGET_S = 120  # "every notebook runs top to bottom on a fresh kernel in <= 2 minutes on 2 cores"
#: Over budget today, to be brought under it by the second errata issue (chapters 7-13). The times are measured in
#: the test run's build, which gives each notebook one core and one BLAS thread (nbval runs beside it): stricter than
#: a chapter alone on 2 cores.
KNOWN_SLOW = {}


def execution_times(built_html) -> dict:
    import json

    return json.loads((built_html / "_static" / "execution-times.json").read_text(encoding="utf-8"))


def test_execution_times_are_recorded_for_every_chapter(built_html):
    chapters = execution_times(built_html)["chapters"]
    notebooks = [f for f in toc_files() if (ROOT / f).with_suffix(".ipynb").is_file()]
    assert sorted(chapters) == sorted(notebooks), set(notebooks) ^ set(chapters)
    assert all(c["succeeded"] for c in chapters.values()), chapters
    intro = read(built_html / "book" / "intro.html")
    assert all(f"{n.split('/')[-1]}" in intro for n in notebooks), "the intro's execution table lists every chapter"


@pytest.mark.parametrize("chapter", [f for f in toc_files() if (ROOT / f).with_suffix(".ipynb").is_file()])
def test_chapter_runs_within_two_minutes(built_html, chapter, request):
    if chapter in KNOWN_SLOW:
        request.applymarker(pytest.mark.xfail(reason=KNOWN_SLOW[chapter], strict=False))
    record = execution_times(built_html)
    seconds = record["chapters"][chapter]["seconds"]
    assert seconds <= BUDGET_S, f"{chapter} took {seconds:.0f} s to execute ({record['machine']}); the budget is 2 min"
