"""The built website, for the tests that check it: the build itself, a local HTTP server, a headless Chromium.

`Build(workdir)` copies the sources into `workdir` and runs `jupyter-book build <copy> -W --keep-going --all`
there in the background, the way `make book` does (every warning is an error, every notebook is executed);
`wait()` returns the HTML folder or fails the test with the warnings the build printed. conftest.py starts
one build per session, as soon as it sees that a collected test needs it, so that it runs while nbval
re-executes the chapters.
"""

from __future__ import annotations

import contextlib
import functools
import json
import http.server
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
BUILD_TIMEOUT = 3600  # seconds for the whole build (notebooks run with a 600 s cell timeout)
ANSI_RE = re.compile(r"\x1b\[[0-9;]*m")
PROBLEM_RE = re.compile(r"WARNING|ERROR|CRITICAL|Error:|Traceback")
NOISE_RE = re.compile(r"IPKernelApp\] WARNING|WARNING: Location '")

#: Debian's Chromium (installed by .ci/run when missing). A browser is never downloaded.
CHROMIUM = os.environ.get("NNLIB_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run",
]
#: Screenshots and other things worth looking at after a run.
ARTIFACTS = ROOT / "_build" / "test-artifacts"


@contextlib.contextmanager
def recorded_metrics(filename: str):
    """A dict that tests fill with the figures a closing note reports (agreement, speed); written as JSON to
    ARTIFACTS/filename, with the time, when the block ends, if anything was recorded."""
    found = {}
    yield found
    if found:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        found["written"] = time.strftime("%Y-%m-%d %H:%M:%S")
        (ARTIFACTS / filename).write_text(json.dumps(found, indent=2) + "\n", encoding="utf-8")


def mnist_or_skip() -> Path:
    """The folder holding MNIST, or skip the calling test with the reason, never downloading (NNLIB_DATA unset and
    nothing in the cache). A NNLIB_DATA that points at a folder without the files is a mistake: that fails."""
    from nnlib.data import cache_dir, mnist_dir

    try:
        return mnist_dir(download_missing=False)
    except FileNotFoundError as err:
        if os.environ.get("NNLIB_DATA"):
            pytest.fail(str(err), pytrace=False)
        pytest.skip(f"MNIST is not available: NNLIB_DATA is not set and the cache {cache_dir()} lacks the files "
                    "(set NNLIB_DATA=/path/to/mnist, or run `python -m nnlib data` once to download them)")


def toc_files(toc_path: Path = ROOT / "_toc.yml") -> list[str]:
    """Every `file:` (and the root) in a jb-book _toc.yml, in order, without extension."""
    toc = yaml.safe_load(toc_path.read_text(encoding="utf-8"))
    files = [toc["root"]]

    def walk(node):
        if isinstance(node, dict):
            if "file" in node:
                files.append(node["file"])
            for key in ("parts", "chapters", "sections", "entries", "subtrees"):
                walk(node.get(key))
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(toc)
    return [re.sub(r"\.(md|ipynb)$", "", f) for f in files]


def jupyter_book_command() -> list[str]:
    exe = Path(sys.executable).with_name("jupyter-book")
    if exe.exists():
        return [str(exe)]
    found = shutil.which("jupyter-book")
    if found:
        return [found]
    return [sys.executable, "-c", "from jupyter_book.cli.main import main; main()"]


#: Not copied into the build's source tree (outputs, environments, models the chapters write).
SKIP_COPY = {".git", "_build", ".venv", "venv", "__pycache__", ".pytest_cache", ".hypothesis", ".ipynb_checkpoints",
             "student", "models"}


def copy_sources(dest: Path) -> Path:
    """Copy the book's sources (not outputs) into `dest`, so a build there writes its models and outputs there."""
    def ignore(folder, names):
        return [n for n in names if n in SKIP_COPY or n.endswith(".egg-info")]

    shutil.copytree(ROOT, dest, ignore=ignore)
    return dest


class Build:
    """A `jupyter-book build` running in the background on a copy of the sources (see conftest.py).

    The build works on a copy so that Chapter 12's model files and the executed notebooks of this build never
    mix with those of nbval, which may be executing the same chapters at the same time in the working tree.
    """

    def __init__(self, workdir: Path, *, single_threaded: bool = False):
        self.source = copy_sources(workdir / "src")
        self.out = workdir / "out"
        self.log = workdir / "build.log"
        env = dict(os.environ)
        env.pop("NNLIB_MATHJAX", None)  # the tests check the default: MathJax served locally
        if single_threaded:  # two processes on two cores: one BLAS thread each instead of four
            env.update(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
        self.cmd = jupyter_book_command() + ["build", str(self.source), "--path-output", str(self.out), "-W",
                                             "--keep-going", "--all"]
        self.start = time.monotonic()
        self._fh = self.log.open("w", encoding="utf-8")
        self.proc = subprocess.Popen(self.cmd, cwd=self.source, env=env, stdout=self._fh, stderr=subprocess.STDOUT)

    def wait(self) -> Path:
        """The built HTML folder, once the build has finished (or fail the calling test with its warnings)."""
        try:
            code = self.proc.wait(timeout=max(1, BUILD_TIMEOUT - (time.monotonic() - self.start)))
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = "timeout"
        self._fh.close()
        elapsed = time.monotonic() - self.start
        if code != 0:
            lines = ANSI_RE.sub("", self.log.read_text(encoding="utf-8", errors="replace")).splitlines()
            warnings = [line for line in lines if PROBLEM_RE.search(line) and not NOISE_RE.search(line)]
            pytest.fail(
                f"`{' '.join(self.cmd)}` failed (exit {code}) after {elapsed:.0f} s; full log: {self.log}\n"
                "--- warnings/errors (-W makes every warning fatal) ---\n"
                + "\n".join(warnings[:40])
                + "\n--- last lines ---\n"
                + "\n".join(lines[-60:]),
                pytrace=False,
            )
        html = self.out / "_build" / "html"
        assert html.is_dir(), f"no HTML output in {html}"
        return html


def watch(page) -> list[str]:
    """Collect a page's console errors, uncaught exceptions, failed requests and HTTP errors (>= 400) into the
    returned list, as they happen. A request cancelled because the page navigated on (net::ERR_ABORTED, e.g. the
    favicon of a page a test leaves at once) is not a problem; a missing file is (HTTP 404)."""
    problems: list[str] = []
    page.on("console", lambda msg: msg.type == "error" and problems.append(f"console: {msg.text}"))
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    page.on("requestfailed", lambda req: "ERR_ABORTED" not in str(req.failure)
            and problems.append(f"request failed: {req.url} ({req.failure})"))
    page.on("response", lambda resp: resp.status >= 400 and problems.append(f"HTTP {resp.status}: {resp.url}"))
    return problems


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def serve(directory: Path):
    """Serve `directory` on a free loopback port in a daemon thread; returns (server, base_url)."""
    handler = functools.partial(QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"
