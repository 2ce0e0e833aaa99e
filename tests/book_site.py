"""The built website, for the tests that check it: the build itself, a local HTTP server, a headless Chromium.

`build_book(out)` runs `jupyter-book build <repo> --path-output <out> -W --keep-going --all`, the way
`make book` does (every warning is an error, every notebook is executed), and fails the test with
the warnings it printed. The fixtures in conftest.py build once per session and share the result.
"""

from __future__ import annotations

import functools
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


def build_book(out: Path) -> Path:
    """Build the book into `out`/_build/html (or fail the calling test with the build's warnings)."""
    log = out / "build.log"
    env = dict(os.environ)
    env.pop("NNLIB_MATHJAX", None)  # the tests check the default: MathJax served locally
    cmd = jupyter_book_command() + ["build", str(ROOT), "--path-output", str(out), "-W", "--keep-going", "--all"]
    start = time.monotonic()
    with log.open("w", encoding="utf-8") as fh:
        try:
            code = subprocess.run(cmd, cwd=ROOT, env=env, stdout=fh, stderr=subprocess.STDOUT,
                                  timeout=BUILD_TIMEOUT).returncode
        except subprocess.TimeoutExpired:
            code = "timeout"
    elapsed = time.monotonic() - start
    if code != 0:
        lines = ANSI_RE.sub("", log.read_text(encoding="utf-8", errors="replace")).splitlines()
        warnings = [line for line in lines if PROBLEM_RE.search(line) and not NOISE_RE.search(line)]
        pytest.fail(
            f"`{' '.join(cmd)}` failed (exit {code}) after {elapsed:.0f} s; full log: {log}\n"
            "--- warnings/errors (-W makes every warning fatal) ---\n"
            + "\n".join(warnings[:40])
            + "\n--- last lines ---\n"
            + "\n".join(lines[-60:]),
            pytrace=False,
        )
    html = out / "_build" / "html"
    assert html.is_dir(), f"no HTML output in {html}"
    return html


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def serve(directory: Path):
    """Serve `directory` on a free loopback port in a daemon thread; returns (server, base_url)."""
    handler = functools.partial(QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"
