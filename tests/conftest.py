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
