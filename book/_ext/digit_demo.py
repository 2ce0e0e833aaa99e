"""Export Chapter 12's trained network for the "Draw a digit" page, which runs it in the reader's browser.

The page ``book/draw_a_digit.md`` holds a drawing canvas and a small script (``book/_demo/digit_demo.js``) that
preprocesses the drawing like MNIST and runs the 784-400-100-10 network in plain JavaScript: no server, no library.
The script needs the weights. After the HTML build, this extension loads the model file that Chapter 12 wrote
(``book/models/mnist-784-400-100-10.npz``, read only through ``nnlib.serialization.load_model``, which refuses
pickles and checks every array) and writes into the *build's* ``_static/demo/``:

* ``digit_demo_weights.js``: a script that sets ``window.nnlibDemoWeights = {manifest, base64}``: the weights of
  every Dense layer, ``W`` (shape ``(n_in, n_out)``, row-major) then ``b``, as little-endian IEEE float16, one array
  after the other, base64-encoded; and the manifest (below). A script, not a ``fetch``: browsers refuse to fetch
  files from a site opened from disk (``file://``), but they run its scripts, so the page works offline either way.
* ``digit_demo_weights.json``: the same manifest on its own (for tools): the layer types in order, each array's
  shape, byte offset and length, the dtype, the size of the weights and the sha256 of the ``.npz`` they came from;
* ``digit_demo.js``, ``digit_demo.css`` and ``nnmath.js`` (the forward pass, shared with the other "Try it" pages),
  copied from ``book/_demo/``.

Why float16 in base64: the network has 355,110 parameters. As float32 that is 1.4 MB, as decimal numbers in JSON
several MB. Float16 halves the float32 size (710 kB; 947 kB in base64, which a typed array reads after one
``atob``, without parsing numbers). Its 11-bit significand
changes each weight by at most 0.05% of its value (less than 3e-8 for the tiniest weights); the errors are
independent and barely move the ten outputs, so the predicted class agrees with nnlib in Python on essentially
every MNIST test image (all 10,000 when this was written; tests/test_demo.py measures it). The script turns the
weights into Float32Arrays once and computes in ordinary JavaScript numbers. The manifest keeps the format
self-describing, so the script checks what it got instead of assuming it.

Dropout layers are the identity at inference and are left out; Dense, ReLU, Sigmoid, Tanh and Softmax are
exported; any other layer raises an error that names it. The script applies a softmax to the last layer's outputs
(the logits) unless the network already ends with a Softmax layer.

The files are deliberately *not* put in a source ``_static/`` folder: Jupyter Book 1 injects every ``.js`` file found
there into every page. The page loads ``../_static/demo/digit_demo.js`` itself.

The model file is written while the book builds (Chapter 12 is executed), so it is looked for only at the end of the
build. ``export_weights(model)`` is pure and returns ``(manifest, blob)``, for tests that need no build.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
from sphinx.application import Sphinx
from sphinx.errors import ExtensionError
from sphinx.util import logging

logger = logging.getLogger(__name__)

#: Where the files end up, relative to the build's ``_static/`` directory.
TARGET = "demo"
#: The model file, relative to the book's source directory (the repository root); Chapter 12 writes it.
MODEL = "book/models/mnist-784-400-100-10.npz"
#: The page's script and style sheet, relative to this file's folder's parent (``book/``).
SOURCES = ("_demo/digit_demo.js", "_demo/digit_demo.css", "_demo/nnmath.js")
#: Names of the exported asset in ``_static/demo/``.
MANIFEST_NAME, SCRIPT_NAME = "digit_demo_weights.json", "digit_demo_weights.js"
FORMAT, VERSION = "nnlib-demo-weights", 1
#: Layers that the browser runs as they are; Dropout is skipped (identity at inference).
ELEMENTWISE = ("ReLU", "Sigmoid", "Tanh", "Softmax")
SKIPPED = ("Dropout",)


def export_weights(model, *, dtype: str = "float16") -> tuple[dict, bytes]:
    """The manifest (a JSON-ready dict) and the little-endian weight bytes of an nnlib ``Model``.

    Walks ``model.layers``: Dense layers contribute ``W`` (n_in, n_out) and ``b`` (n_out,), in that order, as
    ``dtype`` ("float16" or "float32"); ReLU/Sigmoid/Tanh/Softmax are listed by type; Dropout is left out.
    Raises ``TypeError`` for any other layer and ``ValueError`` for weights that the dtype cannot hold.
    """
    np_dtype = np.dtype(dtype).newbyteorder("<")
    if np_dtype.name not in ("float16", "float32"):
        raise ValueError(f"export_weights: dtype must be 'float16' or 'float32', got {dtype!r}")
    layers, chunks, skipped, offset = [], [], [], 0
    width = int(model.n_inputs)
    for layer in model.layers:
        kind = type(layer).__name__
        if kind in SKIPPED:
            skipped.append(layer.name)
            continue
        if kind in ELEMENTWISE:
            layers.append({"type": kind})
            continue
        if kind != "Dense":
            raise TypeError(f"export_weights: {layer.name} is a {kind}; the browser demo can run only "
                            f"Dense, {', '.join(ELEMENTWISE)} and {', '.join(SKIPPED)} (skipped) layers")
        W, b = np.asarray(layer.params["W"]), np.asarray(layer.params["b"])
        if W.ndim != 2 or W.shape[0] != width or b.shape != (W.shape[1],):
            raise ValueError(f"export_weights: {layer.name} has W of shape {W.shape} and b of shape {b.shape}; "
                             f"expected ({width}, n_out) and (n_out,)")
        entry = {"type": "Dense", "n_in": int(W.shape[0]), "n_out": int(W.shape[1])}
        for name, value in (("W", W), ("b", b)):
            with np.errstate(over="ignore"):  # checked just below, with a better message
                stored = np.ascontiguousarray(value, dtype=np_dtype)
            if not np.isfinite(stored).all():
                raise ValueError(f"export_weights: {layer.name}'s {name} has values that {np_dtype.name} cannot "
                                 f"hold (largest magnitude {np.abs(value).max():.3g}); export as float32")
            raw = stored.tobytes()
            entry[name] = {"offset": offset, "nbytes": len(raw), "shape": list(value.shape)}
            chunks.append(raw)
            offset += len(raw)
        layers.append(entry)
        width = int(W.shape[1])
    if not any(layer["type"] == "Dense" for layer in layers):
        raise ValueError("export_weights: the model has no Dense layer, so there is nothing to export")
    manifest = {
        "format": FORMAT,
        "version": VERSION,
        "dtype": np_dtype.name,
        "byteorder": "little",
        "n_inputs": int(model.n_inputs),
        "n_outputs": width,
        "output": "probabilities" if layers[-1]["type"] == "Softmax" else "logits",
        "nbytes": offset,
        "layers": layers,
        "skipped": skipped,
    }
    return manifest, b"".join(chunks)


def weights_script(manifest: dict, blob: bytes) -> str:
    """The text of ``digit_demo_weights.js``: ``window.nnlibDemoWeights = {"manifest": ..., "base64": ...};``."""
    payload = json.dumps({"manifest": manifest, "base64": base64.b64encode(blob).decode("ascii")},
                         separators=(",", ":"))
    return ("// Generated by book/_ext/digit_demo.py from Chapter 12's model; read by digit_demo.js.\n"
            f"window.nnlibDemoWeights = {payload};\n")


def write_asset(model_path: Path, dest: Path) -> tuple[Path, Path]:
    """Load ``model_path`` with nnlib and write the manifest and the weights script into ``dest``; returns both."""
    from nnlib.serialization import load_model  # the build's Python has nnlib (pip install -e .)

    try:
        model = load_model(model_path)
    except ValueError as err:  # load_model names the file and the problem
        raise ExtensionError(f"digit_demo: {err}; rebuild the book so that Chapter 12 writes it again") from None
    manifest, blob = export_weights(model)
    manifest["weights"] = SCRIPT_NAME
    manifest["encoding"] = "base64"
    manifest["source"] = {"file": model_path.name, "sha256": hashlib.sha256(model_path.read_bytes()).hexdigest()}
    dest.mkdir(parents=True, exist_ok=True)
    script_path, manifest_path = dest / SCRIPT_NAME, dest / MANIFEST_NAME
    script_path.write_text(weights_script(manifest, blob), encoding="ascii")
    manifest_path.write_text(json.dumps(manifest, separators=(",", ":")), encoding="utf-8")
    return manifest_path, script_path


def build_demo(app: Sphinx, exception: Exception | None) -> None:
    if exception is not None or app.builder.format != "html":
        return
    model_path = Path(app.srcdir) / app.config.digit_demo_model
    if not model_path.is_file():
        raise ExtensionError(
            f"digit_demo: the model file {model_path} is missing. The full book build executes Chapter 12 "
            f"(book/12_mnist.ipynb), which writes it; or train it with "
            f"`python -m nnlib train --output {app.config.digit_demo_model}` and build again"
        )
    dest = Path(app.outdir) / "_static" / TARGET
    here = Path(__file__).resolve().parents[1]
    for rel in SOURCES:
        src = here / rel
        if not src.is_file():
            raise ExtensionError(f"digit_demo: {src} is missing; the Draw a digit page needs it (restore it from git)")
        dest.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dest / src.name)
    manifest_path, script_path = write_asset(model_path, dest)
    logger.info("digit_demo: wrote %s (%s bytes) and %s",
                script_path, f"{script_path.stat().st_size:,}", manifest_path.name)


def setup(app: Sphinx) -> dict:
    app.add_config_value("digit_demo_model", MODEL, "html", types=[str])
    app.connect("build-finished", build_demo)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
