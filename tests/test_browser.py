"""The website in a real browser: Debian's Chromium, headless, driven by Playwright.

Every page in `_toc.yml` is opened from a local HTTP server over the build (fixtures in conftest.py)
and must: load without console errors, page errors or failed requests; have its math typeset by the
local MathJax (no TeX left raw, no MathJax errors); show every image; and link only to pages, anchors
and files that exist. Chapter pages must offer the .ipynb download and the Binder and Colab buttons
for their own notebook, and the search page must find the chapters.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from functools import lru_cache
from html.parser import HTMLParser
from urllib.parse import urldefrag, urlsplit

import pytest
import yaml

from book_site import ARTIFACTS, ROOT, toc_files, watch

PAGES = toc_files()
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
TIMEOUT_MS = 30_000


def notebook_pages() -> list[str]:
    return [f for f in PAGES if (ROOT / f).with_suffix(".ipynb").is_file()]


# --- helpers ---------------------------------------------------------------------------------------

class _Ids(HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in ("id", "name") and value:
                self.ids.add(value)


@lru_cache(maxsize=None)
def fetch(url: str) -> tuple[int, bytes, str]:
    """(status, body, content type) of a GET on the local server; cached across tests."""
    try:
        with urllib.request.urlopen(url, timeout=30) as resp:
            return resp.status, resp.read(), resp.headers.get("Content-Type", "")
    except urllib.error.HTTPError as err:
        return err.code, b"", ""


@lru_cache(maxsize=None)
def anchors(url: str) -> frozenset[str]:
    status, body, _ = fetch(url)
    parser = _Ids()
    parser.feed(body.decode("utf-8", errors="replace"))
    return frozenset(parser.ids)


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    pg.set_default_timeout(TIMEOUT_MS)
    yield pg
    context.close()


def open_page(page, site_url: str, name: str) -> list[str]:
    """Load `name` and wait for MathJax; returns the live list of the page's problems (see book_site.watch)."""
    problems = watch(page)
    page.goto(f"{site_url}/{name}.html", wait_until="load")
    # MathJax 3 loads asynchronously; wait until it has typeset the page (if the page loads it at all).
    page.wait_for_function("() => !document.querySelector('script[src*=\"mathjax\"]')"
                           " || (window.MathJax && MathJax.startup && MathJax.startup.promise)")
    page.evaluate("() => window.MathJax && MathJax.startup ? MathJax.startup.promise.then(() => true) : true")
    return problems


# --- every page, loaded once and inspected (the tests below assert on these reports) ---------------------

_REPORTS: dict[str, dict] = {}

INSPECT = """async () => {
    const article = document.querySelector('article');
    const math = [...document.querySelectorAll('article .math')];
    const text = (() => {
        const copy = article.cloneNode(true);
        copy.querySelectorAll('pre, code, mjx-container, .highlight, script').forEach(e => e.remove());
        return copy.innerText;
    })();
    const imgs = [...document.querySelectorAll('img')];
    imgs.forEach(i => { i.loading = 'eager'; });
    await Promise.all(imgs.map(i => i.complete ? null :
        new Promise(r => { i.addEventListener('load', r); i.addEventListener('error', r); })));
    return {
        title: document.title,
        math: math.length,
        typeset: document.querySelectorAll('article mjx-container').length,
        untypeset: math.filter(e => !e.querySelector('mjx-container')).map(e => e.textContent.slice(0, 60)),
        mathErrors: [...document.querySelectorAll('mjx-merror')].map(e => e.textContent.slice(0, 80)),
        // TeX that MathJax never saw: a lone $ (a lost delimiter), \\( \\[, a TeX command, ^{ or _{; and MyST
        // roles or directives that were not parsed ({glue:text}`x`, ```{exercise}).
        rawTeX: [...new Set([...text.matchAll(/\\$|\\\\[(\\[]|\\\\[A-Za-z]{2,}|[\\^_]\\{|\\{(?:glue|exercise|solution|cite|ref|eq)\\b[^}]*\\}/g)]
                  .map(m => text.slice(Math.max(0, m.index - 30), m.index + 30).replace(/\\s+/g, ' ')))],
        images: imgs.length,
        brokenImages: imgs.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.getAttribute('src').slice(0, 80)),
        links: [...document.querySelectorAll('a[href]')].map(a => a.href),
        resources: [
            ...[...document.querySelectorAll('link[href]')].filter(l => l.rel !== 'canonical').map(l => l.href),
            ...[...document.querySelectorAll('script[src], img[src]')].map(e => e.src),
        ],
    };
}"""


def report(browser, site_url: str, name: str) -> dict:
    """Open `name` once per session (MathJax finished, images loaded) and return what the tests check."""
    if name not in _REPORTS:
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        try:
            problems = open_page(page, site_url, name)
            result = page.evaluate(INSPECT)
            result["problems"] = problems
        finally:
            context.close()
        _REPORTS[name] = result
    return _REPORTS[name]


@pytest.mark.parametrize("name", PAGES)
def test_page_loads_without_errors(browser, site_url, name):
    r = report(browser, site_url, name)
    assert r["title"], f"{name}: empty <title>"
    assert not r["problems"], f"{name}: " + "; ".join(r["problems"][:10])


@pytest.mark.parametrize("name", PAGES)
def test_math_is_typeset(browser, site_url, name):
    r = report(browser, site_url, name)
    assert not r["untypeset"], f"{name}: {len(r['untypeset'])} math elements not typeset: {r['untypeset'][:5]}"
    assert not r["mathErrors"], f"{name}: MathJax errors: {r['mathErrors'][:5]}"
    assert not r["rawTeX"], f"{name}: raw TeX left in the text: {r['rawTeX']}"


def test_raw_tex_detector_sees_what_mathjax_missed(browser):
    """The check above, on a page with each kind of leftover: a lost $, a TeX command, ^{, an unparsed role."""
    context = browser.new_context()
    try:
        page = context.new_page()
        page.set_content("<article><p>(/(1 + 10^{-5}e)$ is 1</p><p>the \\frac of it</p>"
                         "<p>{glue:text}`acc` here</p><pre>$ in code is fine</pre><code>x_{1}</code>"
                         "<p>plain prose, 5 + 3 = 8</p></article>")
        found = page.evaluate(INSPECT)["rawTeX"]
    finally:
        context.close()
    joined = " | ".join(found)
    for leftover in ("e)$ is", "\\frac", "10^{", "{glue:text}"):
        assert leftover in joined, (leftover, found)
    assert "in code" not in joined and "x_{1}" not in joined and "5 + 3" not in joined


def test_derivation_chapters_have_plenty_of_math(browser, site_url):
    counts = {name: report(browser, site_url, name)["typeset"]
              for name in ("book/02_forward", "book/05_backprop", "book/08_optimizers")}
    assert all(n >= 20 for n in counts.values()), f"too little typeset math: {counts}"


@pytest.mark.parametrize("name", PAGES)
def test_images_load(browser, site_url, name):
    r = report(browser, site_url, name)
    assert not r["brokenImages"], f"{name}: images that did not load: {r['brokenImages']}"


def test_chapters_have_figures(browser, site_url):
    counts = {name: report(browser, site_url, name)["images"] for name in ("book/06_training", "book/12_mnist")}
    assert all(n >= 3 for n in counts.values()), f"expected figures in the training chapters: {counts}"


@pytest.mark.parametrize("name", PAGES)
def test_internal_links_resolve(browser, site_url, name):
    r = report(browser, site_url, name)
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(site_url))
    local = sorted({ref for ref in r["links"] + r["resources"] if ref.startswith(origin)})
    assert local, f"{name}: no internal links at all?"
    problems = []
    for ref in local:
        target, fragment = urldefrag(ref)
        status, _, _ = fetch(target)
        if status != 200:
            problems.append(f"{ref} -> HTTP {status}")
        elif fragment and target.endswith(".html") and fragment not in anchors(target):
            problems.append(f"{ref} -> no element with id {fragment!r}")
    assert not problems, f"{name}: broken internal links:\n" + "\n".join(problems[:20])


# --- chapters: download and launch buttons -------------------------------------------------------------

@pytest.mark.parametrize("name", notebook_pages())
def test_download_and_launch_buttons(browser, site_url, name):
    hrefs = report(browser, site_url, name)["links"]
    repo = urlsplit(CONFIG["repository"]["url"]).path.strip("/")  # org/name
    branch = CONFIG["repository"]["branch"]
    binder = CONFIG["launch_buttons"]["binderhub_url"].rstrip("/")
    colab = CONFIG["launch_buttons"]["colab_url"].rstrip("/")
    expected = {
        "Binder": f"{binder}/v2/gh/{repo}/{branch}?urlpath=lab/tree/{name}.ipynb",
        "Colab": f"{colab}/github/{repo}/blob/{branch}/{name}.ipynb",
    }
    for what, url in expected.items():
        assert url in hrefs, f"{name}: no {what} button to {url}; launch links: " + str(
            [h for h in hrefs if "binder" in h or "colab" in h])

    downloads = [h for h in hrefs if h.endswith(f"_sources/{name}.ipynb")]
    assert downloads, f"{name}: no .ipynb download link"
    status, body, _ = fetch(downloads[0])
    assert status == 200, f"{name}: download link {downloads[0]} -> HTTP {status}"
    nb = json.loads(body)
    assert nb["nbformat"] == 4 and nb["cells"], f"{name}: the download is not a notebook"
    assert any("import nnlib" in "".join(c["source"]) for c in nb["cells"]), (
        f"{name}: the downloaded notebook never imports nnlib (is it the chapter?)")


def test_notebooks_install_nnlib_from_the_configured_repository():
    """On Colab nothing is installed: each chapter's first code cells must pip-install nnlib from the
    repository that the launch buttons point at (and do nothing where nnlib is already importable)."""
    url = CONFIG["repository"]["url"].rstrip("/")
    wanted = f'"nnlib @ git+{url}@{CONFIG["repository"]["branch"]}"'
    problems = []
    for name in notebook_pages():
        cells = json.loads((ROOT / f"{name}.ipynb").read_text(encoding="utf-8"))["cells"]
        code = ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]
        first_import = next(i for i, src in enumerate(code) if re.search(r"^\s*(from|import) nnlib", src, re.M))
        install = code[first_import]
        if wanted not in install or "except ModuleNotFoundError" not in install:
            problems.append(f"{name}: the first cell importing nnlib does not install {wanted} when missing")
    assert not problems, "\n".join(problems)


# --- search -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("query, page_name", [("backpropagation", "book/05_backprop"),
                                              ("Xavier", "book/07_initialization"),
                                              ("dropout", "book/09_regularization")])
def test_search_finds_the_chapter(page, site_url, query, page_name):
    problems = watch(page)
    page.goto(f"{site_url}/search.html?q={query}", wait_until="load")
    page.wait_for_function("() => document.querySelectorAll('#search-results li, ul.search li').length > 0")
    results = page.evaluate("() => [...document.querySelectorAll('#search-results li a, ul.search li a')]"
                            ".map(a => a.href)")
    assert any(f"/{page_name}.html" in r for r in results), f"search {query!r}: {page_name} not in {results[:10]}"
    assert not problems, "; ".join(problems)


def test_search_box_is_on_every_page(page, site_url):
    open_page(page, site_url, PAGES[1])
    # sphinx-book-theme: the search button opens a dialog whose form submits to search.html
    action = page.evaluate("() => { const f = document.querySelector('form.bd-search, form[action*=\"search\"]');"
                           " return f ? f.action : null; }")
    assert action and action.endswith("/search.html"), f"no search form posting to search.html (found {action})"


# --- favicon and logo -----------------------------------------------------------------------------------

def test_favicon_and_logo(page, site_url):
    open_page(page, site_url, PAGES[1])
    icons = page.evaluate("() => [...document.querySelectorAll('link[rel~=\"icon\"]')].map(l => l.href)")
    assert icons, "no <link rel=icon>"
    status, body, ctype = fetch(icons[0])
    assert status == 200 and body[:8] == b"\x89PNG\r\n\x1a\n", f"favicon {icons[0]}: HTTP {status}, {ctype}"
    logo = page.evaluate("() => { const i = document.querySelector('.navbar-brand img, img.logo__image');"
                         " return i ? [i.naturalWidth, i.currentSrc] : null; }")
    assert logo and logo[0] > 0, f"logo missing or not loaded: {logo}"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "chapter_page.png"))
