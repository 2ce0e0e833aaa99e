"""Shared test helpers: tiny IDX files written by the tests themselves (MNIST itself is never needed here)."""
import gzip
import hashlib
import http.server
import threading
from pathlib import Path

import numpy as np
import pytest

import nnlib.data as data


def idx_bytes(array, code=0x08):
    """The bytes of an IDX file holding `array` (big-endian elements)."""
    array = np.asarray(array)
    header = bytes([0, 0, code, array.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    return header + array.astype(data.IDX_TYPES[code]).tobytes()


def tiny_mnist(folder: Path, n_train=6, n_test=4, gz=True, seed=0):
    """Write four tiny MNIST-format files into `folder`; returns {key: (filename, md5, bytes)}."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    files = {}
    for split, n in (("train", n_train), ("test", n_test)):
        for kind, array in (("images", rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)),
                            ("labels", rng.integers(0, 10, n, dtype=np.uint8))):
            key = f"{split}-{kind}"
            name = data.MNIST_FILES[key][0]
            raw = idx_bytes(array)
            blob = gzip.compress(raw) if gz else raw
            path = folder / (name if gz else name[:-3])
            path.write_bytes(blob)
            files[key] = (name, hashlib.md5(blob).hexdigest(), blob, array)
    return files


@pytest.fixture
def isolated_env(monkeypatch, tmp_path):
    """No NNLIB_DATA, and a cache under tmp_path."""
    monkeypatch.delenv("NNLIB_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path


class _Handler(http.server.BaseHTTPRequestHandler):
    routes = {}  # path -> (status, body, advertised_length)

    def do_GET(self):
        status, body, length = self.routes.get(self.path, (404, b"not found", None))
        self.send_response(status)
        self.send_header("Content-Length", str(length if length is not None else len(body)))
        self.end_headers()
        self.wfile.write(body)  # if length > len(body), the client sees the connection close early

    def log_message(self, *args):
        pass


@pytest.fixture
def http_server():
    """A loopback HTTP server; set `server.routes[path] = (status, body, advertised_length)`."""
    handler = type("Handler", (_Handler,), {"routes": {}})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    server.routes = handler.routes
    server.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def closed_port_url():
    """A loopback URL on which nothing listens (connection refused at once)."""
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return f"http://127.0.0.1:{port}/"


# --- The built book, served locally, and a headless browser (test_book_build.py, test_browser.py, test_demo.py) ---

_BUILD = {}


def _book_build_wanted() -> bool:
    import os
    return os.environ.get("NNLIB_SKIP_BOOK_BUILD") != "1" and not os.environ.get("NNLIB_BOOK_HTML")


def pytest_collection_finish(session):
    """Start the book build in the background as soon as we know a selected test needs it.

    The build executes every chapter, as nbval does: run side by side (nbval's items come first, see
    testpaths in pyproject.toml), the two take one core and one BLAS thread each instead of queuing.
    """
    import os
    import tempfile
    from book_site import Build

    if not _book_build_wanted() or "build" in _BUILD:
        return
    if not any("built_html" in getattr(item, "fixturenames", ()) for item in session.items):
        return
    notebooks = any(".ipynb" in item.nodeid for item in session.items)
    if notebooks:  # nbval's kernels inherit this: one BLAS thread each, beside the build's
        os.environ.update(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    _BUILD["build"] = Build(Path(tempfile.mkdtemp(prefix="nnlib-book-")), single_threaded=notebooks)


def pytest_sessionfinish(session, exitstatus):
    """Remove the background build's copy of the sources and its output after a green run (kept for a look
    at build.log otherwise)."""
    import shutil

    build = _BUILD.get("build")
    if build is None:
        return
    unused = build.proc.poll() is None  # e.g. the session stopped early (-x) before a test needed the book
    if unused:
        build.proc.kill()
        build.proc.wait()
    if unused or exitstatus == 0:
        shutil.rmtree(build.source.parent, ignore_errors=True)


@pytest.fixture(scope="session")
def built_html(tmp_path_factory):
    """The book's HTML, built once per session with warnings as errors and every notebook executed.

    NNLIB_SKIP_BOOK_BUILD=1 skips the tests that need it; NNLIB_BOOK_HTML=path/to/_build/html reuses
    an existing build (quick local iterations only: CI always builds).
    """
    import os
    from book_site import Build

    if os.environ.get("NNLIB_SKIP_BOOK_BUILD") == "1":
        pytest.skip("NNLIB_SKIP_BOOK_BUILD=1")
    existing = os.environ.get("NNLIB_BOOK_HTML")
    if existing:
        return Path(existing).resolve()
    if "build" not in _BUILD:
        _BUILD["build"] = Build(tmp_path_factory.mktemp("book_build"))
    return _BUILD["build"].wait()


@pytest.fixture(scope="session")
def book_source(built_html):
    """The source tree that was built (a copy of the repository; the repository itself with NNLIB_BOOK_HTML)."""
    from book_site import ROOT

    build = _BUILD.get("build")
    return build.source if build is not None else ROOT


@pytest.fixture(scope="session")
def site_url(built_html):
    """Base URL of a local HTTP server over the built HTML (pages fetch assets, so file:// will not do)."""
    from book_site import serve

    server, url = serve(built_html)
    yield url
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium, headless, driven by Playwright (never a downloaded browser)."""
    from book_site import CHROMIUM, CHROMIUM_ARGS

    from playwright import sync_api  # requirements-dev.txt; a missing package must fail, not skip

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} not found: install Debian's chromium (apt-get install -y chromium), "
                    "as .ci/run does, or point NNLIB_CHROMIUM at a Chromium binary", pytrace=False)
    with sync_api.sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True, timeout=60_000)
        yield chromium
        chromium.close()
