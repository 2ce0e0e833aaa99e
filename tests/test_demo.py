"""The "Draw a digit" page (book/draw_a_digit.md): the weights export and the page in a headless Chromium.

The exporter (book/_ext/digit_demo.py) is tested without a build; the rest runs against the built book, served
locally (fixtures in conftest.py). The page must predict what nnlib predicts in Python: on 200 MNIST test images
handed to its `window.nnlibDemo.predict` hook, on MNIST digits painted enlarged onto its canvas (which exercises the
crop/scale/centre preprocessing), and it must give an answer for a digit drawn with synthetic mouse strokes.

The agreement rates and the size of the weights asset are printed (run with -s) and written to
_build/test-artifacts/demo-metrics.json, next to screenshots of the page (draw_a_digit*.png).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import time
from pathlib import Path

import numpy as np
import pytest

from book_site import ARTIFACTS, ROOT, mnist_or_skip, recorded_metrics, watch

MODEL = Path("book") / "models" / "mnist-784-400-100-10.npz"  # relative to the built source tree
PAGE = "book/draw_a_digit.html"
N_INJECTED = 200          # MNIST test images given to predict() directly
N_PAINTED = 100           # MNIST test images painted onto the canvas
MIN_AGREEMENT = 0.99      # injected images: same class as nnlib in Python
MIN_PAINTED = 0.95        # painted images: same class as nnlib on the original 28×28 image
WAIT_MS = 20_000          # every browser wait has a timeout


def _extension():
    spec = importlib.util.spec_from_file_location("digit_demo", ROOT / "book" / "_ext" / "digit_demo.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def decode(manifest: dict, blob: bytes, entry: dict) -> np.ndarray:
    """One array of the weights blob, read as the page's script reads it (little-endian, offset, shape)."""
    dtype = {"float16": "<f2", "float32": "<f4"}[manifest["dtype"]]
    count = int(np.prod(entry["shape"]))
    assert entry["nbytes"] == count * np.dtype(dtype).itemsize
    return np.frombuffer(blob, dtype=dtype, count=count, offset=entry["offset"]).reshape(entry["shape"])


def forward_like_js(manifest: dict, blob: bytes, X: np.ndarray) -> np.ndarray:
    """The page's forward pass in NumPy: the exported layers in order, then a softmax on logits."""
    x = np.asarray(X, dtype=np.float64)
    for layer in manifest["layers"]:
        kind = layer["type"]
        if kind == "Dense":
            x = x @ decode(manifest, blob, layer["W"]).astype(np.float64) + decode(manifest, blob, layer["b"])
        elif kind == "ReLU":
            x = np.maximum(x, 0)
        elif kind == "Sigmoid":
            x = 1 / (1 + np.exp(-x))
        elif kind == "Tanh":
            x = np.tanh(x)
        elif kind == "Softmax":
            x = np.exp(x - x.max(axis=1, keepdims=True))
            x /= x.sum(axis=1, keepdims=True)
        else:
            raise AssertionError(f"unexpected layer type {kind}")
    if manifest["output"] == "logits":
        x = np.exp(x - x.max(axis=1, keepdims=True))
        x /= x.sum(axis=1, keepdims=True)
    return x


# --- the exporter, without a build ------------------------------------------------------------------------------

def test_export_round_trip():
    from nnlib.layers import Dense, Softmax
    from nnlib.regularization import Dropout
    from nnlib.training import Model

    model = Model(6, seed=3)
    model.dense(5, "relu").add(Dropout(0.5)).dense(4, "tanh").dense(3, "sigmoid")
    model.add(Dense(3, 2, rng=1, dtype=np.float32)).add(Softmax())
    rng = np.random.default_rng(0)
    for layer in model.layers:  # biases are zero after initialisation: make them worth checking
        if "b" in layer.params:
            layer.params["b"][...] = rng.normal(0, 0.5, layer.params["b"].shape)

    manifest, blob = _extension().export_weights(model)

    assert manifest["format"] == "nnlib-demo-weights" and manifest["version"] == 1
    assert (manifest["dtype"], manifest["byteorder"]) == ("float16", "little")
    assert [layer["type"] for layer in manifest["layers"]] == \
        ["Dense", "ReLU", "Dense", "Tanh", "Dense", "Sigmoid", "Dense", "Softmax"]
    assert manifest["skipped"] == [model.layers[2].name] and "Dropout" in manifest["skipped"][0]
    assert (manifest["n_inputs"], manifest["n_outputs"], manifest["output"]) == (6, 2, "probabilities")
    assert manifest["nbytes"] == len(blob) == 2 * model.count_params()
    json.dumps(manifest)  # JSON-ready

    dense = [layer for layer in model.layers if "W" in layer.params]
    entries = [layer for layer in manifest["layers"] if layer["type"] == "Dense"]
    offset = 0
    for layer, entry in zip(dense, entries, strict=True):
        assert (entry["n_in"], entry["n_out"]) == layer.params["W"].shape
        for name in ("W", "b"):
            assert entry[name]["offset"] == offset  # packed one after the other, in order
            offset += entry[name]["nbytes"]
            value = layer.params[name]
            np.testing.assert_allclose(decode(manifest, blob, entry[name]), value, rtol=2**-11, atol=2**-24)
    assert offset == len(blob)

    X = rng.normal(size=(50, 6)).astype(np.float32)
    np.testing.assert_allclose(forward_like_js(manifest, blob, X), model.forward(X), atol=2e-3)


def test_export_refuses_what_it_cannot_run():
    from nnlib.layers import Layer
    from nnlib.training import Model

    digit_demo = _extension()

    class Mystery(Layer):
        def forward(self, X):
            return X

    model = Model(4).dense(3, "relu").add(Mystery())
    with pytest.raises(TypeError, match=r"Mystery.*Dense, ReLU, Sigmoid, Tanh, Softmax"):
        digit_demo.export_weights(model)

    big = Model(4).dense(3, None)
    big.layers[0].params["W"][0, 0] = 1e6  # float16 tops out at 65504
    with pytest.raises(ValueError, match="float16 cannot hold"):
        digit_demo.export_weights(big)
    manifest, blob = digit_demo.export_weights(big, dtype="float32")
    assert decode(manifest, blob, manifest["layers"][0]["W"])[0, 0] == 1e6


# --- the built page --------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def metrics():
    """What the closing note reports; printed by the tests and written to demo-metrics.json at the end."""
    with recorded_metrics("demo-metrics.json") as found:
        yield found


@pytest.fixture(scope="module")
def model_file(book_source):
    """The model file that Chapter 12 wrote during the build (in the build's copy of the sources)."""
    path = book_source / MODEL
    if not path.is_file():
        pytest.fail(f"{path} is missing: the book build executes Chapter 12, which writes it "
                    f"(or: python -m nnlib train --output {MODEL})", pytrace=False)
    return path


@pytest.fixture(scope="module")
def reference(model_file):
    """The model file the build exported, loaded by nnlib, and the MNIST test set (the tests that need it are
    skipped, with the reason, when MNIST is not available; they never download it)."""
    from nnlib.data import load_mnist
    from nnlib.serialization import load_model

    MODEL_FILE = model_file
    X, y = load_mnist("test", data_dir=mnist_or_skip())
    return load_model(MODEL_FILE), X, y


@pytest.fixture
def demo(browser, site_url):
    """A fresh page on the demo, with its weights loaded; console errors, page errors and failed requests
    are collected in page.problems."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    page.problems = watch(page)
    page.goto(f"{site_url}/{PAGE}", wait_until="load", timeout=WAIT_MS)
    page.wait_for_function("() => { const c = document.getElementById('digit-demo').classList;"
                           " return c.contains('digit-demo-loaded') || c.contains('digit-demo-failed'); }",
                           timeout=WAIT_MS)
    status = page.locator(".digit-demo-status").inner_text()
    assert page.evaluate("() => window.nnlibDemo.manifest !== null"), f"the weights did not load: {status}"
    yield page
    context.close()


def test_weights_asset(built_html, model_file, metrics):
    """The weights are a script (window.nnlibDemoWeights = {manifest, base64}), not a fetched file, so that the page
    also works opened from disk; they decode to the model's parameters as float16."""
    import base64

    from nnlib.serialization import load_model

    MODEL_FILE = model_file
    folder = built_html / "_static" / "demo"
    for name in ("digit_demo.js", "digit_demo.css", "nnmath.js", "digit_demo_weights.json", "digit_demo_weights.js"):
        assert (folder / name).is_file(), f"{folder / name} was not written by book/_ext/digit_demo.py"
    manifest = json.loads((folder / "digit_demo_weights.json").read_text(encoding="utf-8"))
    script = (folder / "digit_demo_weights.js").read_text(encoding="ascii")
    prefix = "window.nnlibDemoWeights = "
    payload = json.loads(script[script.index(prefix) + len(prefix):].strip().rstrip(";"))
    assert payload["manifest"] == manifest
    blob = base64.b64decode(payload["base64"])
    assert manifest["weights"] == "digit_demo_weights.js" and manifest["encoding"] == "base64"
    assert manifest["dtype"] == "float16" and manifest["nbytes"] == len(blob)
    assert len(blob) == 2 * 355_110, "784-400-100-10 has 355,110 parameters, 2 bytes each"
    assert manifest["source"]["sha256"] == hashlib.sha256(MODEL_FILE.read_bytes()).hexdigest(), \
        f"the site's weights do not come from {MODEL_FILE}"
    first = manifest["layers"][0]["W"]
    np.testing.assert_allclose(decode(manifest, blob, first), load_model(MODEL_FILE).layers[0].params["W"],
                               rtol=2**-11, atol=2**-24)
    manifest_bytes = (folder / "digit_demo_weights.json").stat().st_size
    script_bytes = (folder / "digit_demo_weights.js").stat().st_size
    metrics.update(weights_asset_bytes=len(blob), weights_script_bytes=script_bytes, manifest_bytes=manifest_bytes,
                   model_file_bytes=MODEL_FILE.stat().st_size, weights_dtype=manifest["dtype"])
    print(f"\ndemo weights asset: {len(blob):,} bytes (float16), {script_bytes:,} bytes as a base64 script, "
          f"+ {manifest_bytes:,} bytes of manifest; model file {MODEL_FILE.stat().st_size:,} bytes")


def test_injected_mnist_images_agree_with_python(demo, reference, metrics):
    model, X, y = reference
    X = X[:N_INJECTED]
    python = model.predict_proba(X)
    start = time.perf_counter()
    js = np.array(demo.evaluate("(images) => images.map((p) => Array.from(window.nnlibDemo.predict(p)))",
                                X.tolist()))
    elapsed = time.perf_counter() - start
    assert js.shape == (N_INJECTED, 10)
    np.testing.assert_allclose(js.sum(axis=1), 1, atol=1e-5)
    agreement = float(np.mean(js.argmax(axis=1) == python.argmax(axis=1)))
    max_diff = float(np.abs(js - python).max())
    metrics.update(injected_images=N_INJECTED, injected_agreement=agreement, injected_max_prob_diff=max_diff,
                   injected_js_accuracy=float(np.mean(js.argmax(axis=1) == y[:N_INJECTED])))
    print(f"\ndemo vs nnlib on {N_INJECTED} injected MNIST test images: {agreement:.1%} same class, "
          f"largest probability difference {max_diff:.2e} ({elapsed:.2f} s)")
    assert agreement >= MIN_AGREEMENT
    assert max_diff < 0.02, "float16 weights should move the probabilities by far less than this"


def test_preprocessing_matches_mnist_like(demo, reference):
    """The page's preprocessing against Chapter 13's mnist_like (Your own digits), on MNIST digits enlarged and moved (nearest
    neighbour, built identically on both sides): same place, nearly the same pixels, same prediction."""
    from nnlib.images import mnist_like

    model, X, _ = reference
    rng = np.random.default_rng(0)
    cases = []
    for i in range(30):
        scale = int(rng.integers(3, 10))
        top, left = (int(v) for v in rng.integers(0, 280 - 28 * scale + 1, size=2))
        cases.append({"image": X[N_INJECTED + i].tolist(), "scale": scale, "top": top, "left": left})
    js = np.array(demo.evaluate("""(cases) => cases.map(({image, scale, top, left}) => {
        const big = new Float32Array(280 * 280);
        for (let r = 0; r < 28 * scale; r++)
          for (let c = 0; c < 28 * scale; c++)
            big[(top + r) * 280 + left + c] = image[Math.floor(r / scale) * 28 + Math.floor(c / scale)];
        return Array.from(window.nnlibDemo.preprocess(big, 280, 280));
      })""", cases))
    python = []
    for case in cases:
        big = np.zeros((280, 280))
        s = case["scale"]
        big[case["top"]:case["top"] + 28 * s, case["left"]:case["left"] + 28 * s] = \
            np.kron(np.reshape(case["image"], (28, 28)), np.ones((s, s)))
        python.append(mnist_like(big))
    python = np.array(python)

    def centre(images):
        img = images.reshape(-1, 28, 28)
        mass = img.sum(axis=(1, 2))
        return np.stack([img.sum(axis=2) @ np.arange(28), img.sum(axis=1) @ np.arange(28)], axis=1) / mass[:, None]

    print(f"\npreprocessing vs mnist_like: mean |difference| {np.abs(js - python).mean():.4f}, centres differ by "
          f"{np.abs(centre(js) - centre(python)).max():.2f} px at most")
    assert np.all(js >= 0) and np.all(js <= 1)
    assert np.abs(centre(js) - 14).max() <= 0.5 + 1e-6, "centre of mass not moved to (14, 14)"
    assert np.abs(centre(js) - centre(python)).max() < 0.1
    assert np.abs(js - python).mean() < 0.015, "area averaging and Lanczos should give nearly the same pixels"
    same = np.mean(model.predict(js.astype(np.float32)) == model.predict(python))
    assert same >= 0.9, f"only {same:.0%} of the preprocessed digits get mnist_like's prediction"

    # A black-and-white shape, 2.7 times wider than 20 pixels: only anti-aliased scaling gives mnist_like's greys.
    rows, cols = np.mgrid[:280, :280]
    radius = np.hypot(rows - 130.3, (cols - 150.7) * 1.3)
    ring = ((radius > 62) & (radius < 95)).astype(np.float64)
    js_ring = np.array(demo.evaluate("(ink) => Array.from(nnlibDemo.preprocess(ink, 280, 280))", ring.ravel().tolist()))
    python_ring = mnist_like(ring)
    assert np.abs(js_ring - python_ring).mean() < 0.01 and np.abs(js_ring - python_ring).max() < 0.2
    assert demo.evaluate("() => nnlibDemo.preprocess(new Float32Array(280 * 280), 280, 280)") is None


def test_painted_mnist_digits(demo, reference, metrics):
    """MNIST digits painted enlarged (smoothed) at random places on the canvas, through preprocessing and network."""
    model, X, y = reference
    images = X[N_INJECTED:N_INJECTED + N_PAINTED]
    python = model.predict(images)
    rng = np.random.default_rng(1)
    cases = []
    for image in images:
        scale = int(rng.integers(5, 10))
        x, y0 = (int(v) for v in rng.integers(0, 280 - 28 * scale + 1, size=2))
        cases.append({"image": image.tolist(), "scale": scale, "x": x, "y": y0})
    js = np.array(demo.evaluate("""(cases) => cases.map(({image, scale, x, y}) =>
        window.nnlibDemo.drawFromImage(image, {scale, x, y}).predicted)""", cases))
    agreement = float(np.mean(js == python))
    accuracy = float(np.mean(js == y[N_INJECTED:N_INJECTED + N_PAINTED]))
    metrics.update(painted_images=N_PAINTED, painted_agreement=agreement, painted_accuracy=accuracy)
    print(f"\ndemo on {N_PAINTED} MNIST test digits painted onto the canvas: {agreement:.1%} same class as nnlib on "
          f"the original images, {accuracy:.1%} correct")
    assert agreement >= MIN_PAINTED


def _stroke(page, canvas, points, steps=8):
    """Press, drag through `points` (canvas pixels, 280×280) and release."""
    box = canvas.bounding_box()
    to_page = lambda p: (box["x"] + p[0] * box["width"] / 280, box["y"] + p[1] * box["height"] / 280)
    page.mouse.move(*to_page(points[0]))
    page.mouse.down()
    for p in points[1:]:
        page.mouse.move(*to_page(p), steps=steps)
    page.mouse.up()


def _bars(page):
    return page.eval_on_selector_all(".digit-demo-bar", "rows => rows.map(r => [r.querySelector"
                                     "('.digit-demo-bar-fill').style.width, r.querySelector('.digit-demo-bar-value')"
                                     ".textContent, r.classList.contains('digit-demo-predicted')])")


def test_mouse_strokes_get_a_prediction(demo, metrics):
    page, canvas = demo, demo.locator(".digit-demo-canvas")
    empty = _bars(page)
    assert len(empty) == 10 and all(width in ("0%", "0.0%") and not hit for width, _, hit in empty), empty
    assert page.locator(".digit-demo-digit").inner_text() == "?"

    _stroke(page, canvas, [(80, 70), (200, 70), (130, 230)])  # a 7: the bar, then the stem
    page.wait_for_function("() => window.nnlibDemo.last.probs !== null", timeout=WAIT_MS)
    last = page.evaluate("() => ({probs: Array.from(nnlibDemo.last.probs), pixels: Array.from(nnlibDemo.last.pixels),"
                         " predicted: nnlibDemo.last.predicted})")
    probs, pixels = np.array(last["probs"]), np.array(last["pixels"]).reshape(28, 28)
    assert abs(probs.sum() - 1) < 1e-5 and last["predicted"] == int(probs.argmax())
    shown = page.locator(".digit-demo-digit").inner_text()
    assert shown == str(last["predicted"])
    bars = _bars(page)
    assert bars != empty and [hit for _, _, hit in bars].count(True) == 1 and bars[last["predicted"]][2]
    assert bars[last["predicted"]][1] == f"{100 * probs.max():.1f}%"

    # The 28×28 image has ink, inside a 20-pixel box, centred by mass; and the preview canvas shows it.
    assert pixels.max() > 0.9 and pixels.sum() > 20
    rows, cols = np.nonzero(pixels > 0.1)
    assert max(rows.max() - rows.min(), cols.max() - cols.min()) + 1 <= 21
    centre = np.array([pixels.sum(axis=1) @ np.arange(28), pixels.sum(axis=0) @ np.arange(28)]) / pixels.sum()
    assert np.abs(centre - 14).max() <= 0.5 + 1e-6, centre
    preview_ink = page.evaluate("() => { const c = document.querySelector('.digit-demo-input');"
                                " const d = c.getContext('2d').getImageData(0, 0, 28, 28).data; let s = 0;"
                                " for (let i = 3; i < d.length; i += 4) s += d[i]; return s / 255; }")
    assert abs(preview_ink - pixels.sum()) < 0.01 * pixels.sum() + 1
    metrics.update(mouse_seven_predicted=last["predicted"], mouse_seven_probability=float(probs.max()))
    print(f"\nsynthetic mouse '7': predicted {last['predicted']} ({probs.max():.1%})")
    assert last["predicted"] == 7, f"a plain 7 drawn with the mouse was read as {last['predicted']}: {probs.round(3)}"

    page.locator(".digit-demo-clear").click()
    assert page.evaluate("() => nnlibDemo.last.probs === null && nnlibDemo.last.pixels === null")
    assert _bars(page) == empty

    _stroke(page, canvas, [(140, 40), (140, 240)])  # a 1
    page.wait_for_function("() => window.nnlibDemo.last.predicted !== null", timeout=WAIT_MS)
    assert page.evaluate("() => nnlibDemo.last.predicted") == 1


def test_page_has_no_console_errors_and_screenshots(demo, site_url, browser):
    page = demo
    _stroke(page, page.locator(".digit-demo-canvas"), [(95, 95), (130, 60), (180, 75), (175, 130), (100, 220),
                                                       (200, 220)])  # a 2
    page.wait_for_function("() => window.nnlibDemo.last.predicted !== null", timeout=WAIT_MS)
    page.wait_for_timeout(100)  # let the status line settle before the screenshot
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=ARTIFACTS / "draw_a_digit.png", full_page=True)
    predicted = page.evaluate("() => nnlibDemo.last.predicted")

    # The dark theme repaints the ink in its own colour; what the network sees must not change.
    ink_colour = "() => getComputedStyle(document.querySelector('.digit-demo-canvas')).color"
    light = page.evaluate(ink_colour)
    page.evaluate("() => { document.documentElement.dataset.theme = 'dark'; document.documentElement.dataset.mode = 'dark'; }")
    page.wait_for_timeout(100)
    assert page.evaluate(ink_colour) != light, "the canvas ink should follow the dark theme"
    again = page.evaluate("""() => { const c = document.querySelector('.digit-demo-canvas');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        const ink = new Float32Array(c.width * c.height).map((_, i) => d[4 * i + 3] / 255);
        const pixels = nnlibDemo.preprocess(ink, c.width, c.height);
        return {same: pixels.every((v, i) => v === nnlibDemo.last.pixels[i]),
                predicted: Array.from(nnlibDemo.predict(pixels)).reduce((b, v, i, a) => v > a[b] ? i : b, 0)}; }""")
    assert again == {"same": True, "predicted": predicted}
    page.locator("#digit-demo").screenshot(path=ARTIFACTS / "draw_a_digit-dark.png")

    # A phone: nothing wider than the screen, the drawing area fits.
    phone = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2, has_touch=True)
    try:
        small = phone.new_page()
        small.set_default_timeout(WAIT_MS)
        errors = []
        small.on("console", lambda msg: msg.type == "error" and errors.append(msg.text))
        small.on("pageerror", lambda err: errors.append(str(err)))
        small.goto(f"{site_url}/{PAGE}", wait_until="load", timeout=WAIT_MS)
        small.wait_for_function("() => document.getElementById('digit-demo').classList.contains('digit-demo-loaded')",
                                timeout=WAIT_MS)
        small.evaluate("() => document.getElementById('digit-demo').scrollIntoView()")
        width = small.evaluate("() => document.documentElement.scrollWidth")
        box = small.locator(".digit-demo-canvas").bounding_box()
        small.screenshot(path=ARTIFACTS / "draw_a_digit-phone.png")
        assert width <= 390, f"the page is {width} px wide on a 390 px screen"
        assert box["width"] >= 200 and box["x"] >= 0 and box["x"] + box["width"] <= 390
        assert not errors, errors
    finally:
        phone.close()

    assert not page.problems, "\n".join(page.problems)


def test_demo_uses_the_shared_forward_pass(demo):
    """One JavaScript forward pass for the whole book: the demo's predict() is NNMath.predictProba (nnmath.js),
    the code that the playground trains with and that tests/test_explorables.py checks against nnlib."""
    calls = demo.evaluate("""() => { const original = NNMath.predictProba; let calls = 0;
        NNMath.predictProba = (...args) => { calls++; return original(...args); };
        try { nnlibDemo.predict(new Array(784).fill(0.5)); } finally { NNMath.predictProba = original; }
        return calls; }""")
    assert calls == 1
    source = (ROOT / "book" / "_demo" / "digit_demo.js").read_text(encoding="utf-8")
    assert "Math.exp" not in source and "+= xi *" not in source, "digit_demo.js has its own forward pass again"
