/*
 * digit_demo.js: the "Draw a digit" page of Neural Networks from Scratch (book/draw_a_digit.md).
 *
 * Plain JavaScript, no libraries, no server. The reader draws on a canvas; every animation frame in which the
 * drawing changed, the script
 *   1. reads the ink (the canvas's alpha channel, so the colours of the light and dark themes do not matter),
 *   2. prepares it the way MNIST digits were prepared (LeCun et al.), like nnlib.images.mnist_like (Chapter 13, Your own digits):
 *      crop to the ink (pixels above 0.1), scale so that the longer side is 20 pixels keeping the aspect ratio
 *      (area averaging, i.e. anti-aliased), and paste into a 28×28 field so that the centre of mass of the ink
 *      lands on pixel (14, 14); values in [0, 1], ink = 1, flattened row by row;
 *   3. runs Chapter 12's 784-400-100-10 network with the book's shared forward pass, NNMath.predictProba
 *      (book/_demo/nnmath.js, loaded by the page before this script): Dense layers Z = x W + b with W stored
 *      (n_in, n_out) row-major, ReLU (Sigmoid, Tanh and Softmax are supported too), then a softmax computed stably;
 *   4. shows the 28×28 image and the ten probabilities.
 *
 * The weights come from _static/demo/digit_demo_weights.js, written by book/_ext/digit_demo.py at the end of the
 * book build: a script that sets window.nnlibDemoWeights = {manifest (layer types, shapes, byte offsets, dtype),
 * base64 (little-endian float16)}. It is loaded with a <script> element next to this script, not with fetch(),
 * so that the page also works when the built site is opened from disk (browsers refuse fetch() of file:// URLs).
 *
 * Test hook (tests/test_demo.py), window.nnlibDemo:
 *   ready                   Promise: resolves with the manifest once the weights are loaded, rejects if they fail.
 *   predict(pixels)         784 numbers in [0, 1] (a 28×28 image, row by row, ink = 1) -> Float64Array(10) of
 *                           probabilities. Pure: does not touch the page. Throws before `ready` has resolved.
 *   preprocess(ink, w, h)   w*h numbers in [0, 1] (ink = 1, row by row) -> Float32Array(784) as in step 2,
 *                           or null if there is no ink.
 *   drawFromImage(pixels, {size = 28, scale = 8, x, y})
 *                           clears the drawing canvas, paints the size×size image onto it enlarged `scale` times
 *                           (smoothed) with its top-left corner at (x, y) (default: centred), updates the page
 *                           at once and returns `last`.
 *   clear()                 as the Clear button.
 *   last                    {probs: Float64Array(10) | null, pixels: Float32Array(784) | null, predicted: 0-9 | null}
 *                           for the drawing on the page, updated with the page.
 *   manifest                the weights manifest (null until loaded).
 */
(function () {
  "use strict";

  const SIZE = 28;        // MNIST images are 28×28 ...
  const BOX = 20;         // ... with the digit scaled into 20×20 ...
  const CENTRE = 14;      // ... and its centre of mass at pixel (14, 14)
  const THRESHOLD = 0.1;  // ink above this defines the bounding box (as nnlib.images.mnist_like)
  const BRUSH = 0.08;     // brush diameter as a fraction of the canvas width: about MNIST's stroke width
  const FORMAT = "nnlib-demo-weights";

  const script = document.currentScript;
  const base = script && script.src ? script.src : document.baseURI;
  const weightsUrl = new URL("digit_demo_weights.js", base).href;

  // --- the network --------------------------------------------------------------------------------------------

  let network = null;  // {manifest, layers: [{type, nIn, nOut, W, b}]}

  // float16 bits -> number, for all 65,536 bit patterns at once (decoding 355,110 weights is then a lookup each).
  function halfTable() {
    const table = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) {
      const sign = h & 0x8000 ? -1 : 1, exponent = (h >> 10) & 0x1f, fraction = h & 0x3ff;
      let value;
      if (exponent === 0) value = fraction * Math.pow(2, -24);                         // zero, subnormal
      else if (exponent === 31) value = fraction ? NaN : Infinity;
      else value = (1 + fraction / 1024) * Math.pow(2, exponent - 15);
      table[h] = sign * value;
    }
    return table;
  }

  function readArray(buffer, manifest, entry, expected, what) {
    const count = expected.reduce((a, b) => a * b, 1);
    if (!entry || JSON.stringify(entry.shape) !== JSON.stringify(expected)) {
      throw new Error(`${what}: the manifest gives shape ${entry && JSON.stringify(entry.shape)}, expected ${JSON.stringify(expected)}`);
    }
    const width = manifest.dtype === "float16" ? 2 : 4;
    if (entry.nbytes !== count * width || entry.offset < 0 || entry.offset + entry.nbytes > buffer.byteLength) {
      throw new Error(`${what}: bytes ${entry.offset}..${entry.offset + entry.nbytes} do not fit the ${buffer.byteLength}-byte weights file`);
    }
    const view = new DataView(buffer, entry.offset, entry.nbytes);
    const out = new Float32Array(count);
    if (width === 2) {
      const table = readArray.table || (readArray.table = halfTable());
      for (let i = 0; i < count; i++) out[i] = table[view.getUint16(2 * i, true)];
    } else {
      for (let i = 0; i < count; i++) out[i] = view.getFloat32(4 * i, true);
    }
    return out;
  }

  function buildNetwork(manifest, buffer) {
    if (manifest.format !== FORMAT || manifest.version !== 1) {
      throw new Error(`unexpected weights manifest format ${manifest.format} version ${manifest.version}`);
    }
    if (manifest.byteorder !== "little" || (manifest.dtype !== "float16" && manifest.dtype !== "float32")) {
      throw new Error(`unsupported weights: ${manifest.dtype}, ${manifest.byteorder}-endian`);
    }
    if (buffer.byteLength !== manifest.nbytes) {
      throw new Error(`the weights file has ${buffer.byteLength} bytes, the manifest says ${manifest.nbytes}`);
    }
    if (manifest.n_inputs !== SIZE * SIZE) throw new Error(`the network takes ${manifest.n_inputs} inputs, not 784`);
    let width = manifest.n_inputs;
    const layers = manifest.layers.map((spec, i) => {
      const what = `layer ${i} (${spec.type})`;
      if (spec.type === "Dense") {
        if (spec.n_in !== width) throw new Error(`${what} takes ${spec.n_in} inputs, the previous layer gives ${width}`);
        const layer = {
          type: "Dense", nIn: spec.n_in, nOut: spec.n_out,
          W: readArray(buffer, manifest, spec.W, [spec.n_in, spec.n_out], what + " W"),
          b: readArray(buffer, manifest, spec.b, [spec.n_out], what + " b"),
        };
        width = spec.n_out;
        return layer;
      }
      if (["ReLU", "Sigmoid", "Tanh", "Softmax"].includes(spec.type)) return { type: spec.type };
      throw new Error(`${what}: this page cannot run a ${spec.type} layer`);
    });
    if (width !== 10) throw new Error(`the network has ${width} outputs, not 10`);
    return { manifest, layers };
  }

  function forward(pixels) {
    if (!network) throw new Error("the weights are not loaded yet: await nnlibDemo.ready first");
    if (!pixels || pixels.length !== SIZE * SIZE) {
      throw new TypeError(`predict expects 784 numbers (a 28×28 image), got ${pixels && pixels.length}`);
    }
    const x = Float64Array.from(pixels);
    for (let i = 0; i < x.length; i++) {
      if (!Number.isFinite(x[i])) throw new TypeError(`predict: pixel ${i} is ${pixels[i]}, not a number`);
    }
    return window.NNMath.predictProba(network.layers, x, 1, SIZE * SIZE);  // the book's one forward pass
  }

  // --- preprocessing, like MNIST ------------------------------------------------------------------------------

  // Area averaging from n source pixels to m: for each output pixel, the source pixels it covers and how much.
  function areaWeights(n, m) {
    const step = n / m, out = [];
    for (let k = 0; k < m; k++) {
      const lo = k * step, hi = (k + 1) * step, first = Math.floor(lo), weights = [];
      for (let i = first; i < Math.min(n, Math.ceil(hi)); i++) {
        weights.push((Math.min(hi, i + 1) - Math.max(lo, i)) / step);
      }
      out.push({ first, weights });
    }
    return out;
  }

  function preprocess(ink, width, height) {
    if (!ink || ink.length !== width * height) throw new TypeError(`preprocess expects ${width}×${height} values`);
    let top = height, bottom = -1, left = width, right = -1;
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        if (ink[y * width + x] > THRESHOLD) {
          if (y < top) top = y;
          if (y > bottom) bottom = y;
          if (x < left) left = x;
          if (x > right) right = x;
        }
      }
    }
    if (bottom < 0) return null;
    const w = right - left + 1, h = bottom - top + 1, scale = BOX / Math.max(w, h);
    const outW = Math.max(1, Math.round(w * scale)), outH = Math.max(1, Math.round(h * scale));
    const wx = areaWeights(w, outW), wy = areaWeights(h, outH);
    const rows = new Float64Array(h * outW);     // horizontal pass: h rows of outW
    for (let y = 0; y < h; y++) {
      const src = (top + y) * width + left;
      for (let k = 0; k < outW; k++) {
        const { first, weights } = wx[k];
        let s = 0;
        for (let t = 0; t < weights.length; t++) s += weights[t] * ink[src + first + t];
        rows[y * outW + k] = s;
      }
    }
    const small = new Float64Array(outH * outW);  // vertical pass
    let mass = 0, rowMoment = 0, colMoment = 0;
    for (let r = 0; r < outH; r++) {
      const { first, weights } = wy[r];
      for (let k = 0; k < outW; k++) {
        let s = 0;
        for (let t = 0; t < weights.length; t++) s += weights[t] * rows[(first + t) * outW + k];
        s = Math.min(1, Math.max(0, s));
        small[r * outW + k] = s;
        mass += s; rowMoment += s * r; colMoment += s * k;
      }
    }
    const pixels = new Float32Array(SIZE * SIZE);
    if (mass === 0) return pixels;
    const clamp = (v, hi) => Math.min(hi, Math.max(0, v));
    const top28 = clamp(Math.round(CENTRE - rowMoment / mass), SIZE - outH);
    const left28 = clamp(Math.round(CENTRE - colMoment / mass), SIZE - outW);
    for (let r = 0; r < outH; r++) {
      for (let k = 0; k < outW; k++) pixels[(top28 + r) * SIZE + left28 + k] = small[r * outW + k];
    }
    return pixels;
  }

  // --- the page -----------------------------------------------------------------------------------------------

  const last = { probs: null, pixels: null, predicted: null };
  const hook = { ready: null, predict: forward, preprocess, drawFromImage, clear, last, manifest: null };
  window.nnlibDemo = hook;

  let ui = null;

  function setStatus(text) {
    if (ui) ui.status.textContent = text;
  }

  function inkColour() {
    return getComputedStyle(ui.canvas).color || "#000";
  }

  function readInk() {
    const { width, height } = ui.canvas;
    const data = ui.ctx.getImageData(0, 0, width, height).data, ink = new Float32Array(width * height);
    for (let i = 0; i < ink.length; i++) ink[i] = data[4 * i + 3] / 255;
    return ink;
  }

  function drawPreview(pixels) {
    const ctx = ui.previewCtx, image = ctx.createImageData(SIZE, SIZE);
    ctx.clearRect(0, 0, SIZE, SIZE);
    if (!pixels) return;
    ctx.fillStyle = inkColour();
    ctx.fillRect(0, 0, 1, 1);
    const [r, g, b] = ctx.getImageData(0, 0, 1, 1).data;  // the ink colour as RGB, whatever its CSS syntax
    for (let i = 0; i < SIZE * SIZE; i++) {
      image.data.set([r, g, b, Math.round(255 * pixels[i])], 4 * i);
    }
    ctx.putImageData(image, 0, 0);
  }

  function drawBars(probs) {
    const best = probs ? probs.indexOf(Math.max(...probs)) : -1;
    ui.bars.forEach((bar, digit) => {
      const p = probs ? probs[digit] : 0;
      bar.fill.style.width = `${(100 * p).toFixed(1)}%`;
      bar.value.textContent = probs ? `${(100 * p).toFixed(1)}%` : "–";
      bar.row.classList.toggle("digit-demo-predicted", digit === best);
    });
    ui.digit.textContent = probs ? String(best) : "?";
    ui.confidence.textContent = probs ? `${(100 * probs[best]).toFixed(1)}%` : "";
  }

  function update() {
    ui.frame = 0;
    const pixels = preprocess(readInk(), ui.canvas.width, ui.canvas.height);
    const probs = pixels && network ? forward(pixels) : null;
    last.pixels = pixels;
    last.probs = probs;
    last.predicted = probs ? probs.indexOf(Math.max(...probs)) : null;
    drawPreview(pixels);
    drawBars(probs);
    return last;
  }

  function scheduleUpdate() {
    if (!ui.frame) ui.frame = requestAnimationFrame(update);
  }

  function announce() {
    if (!network) return;
    if (last.predicted === null) setStatus("The canvas is empty: draw a digit.");
    else setStatus(`The network reads a ${last.predicted} (${(100 * last.probs[last.predicted]).toFixed(1)}%).`);
  }

  function needPage(what) {
    if (!ui) throw new Error(`${what}: the page has no drawing canvas (yet)`);
  }

  function clear() {
    needPage("clear");
    ui.ctx.clearRect(0, 0, ui.canvas.width, ui.canvas.height);
    if (ui.frame) cancelAnimationFrame(ui.frame);
    update();
    announce();
    return last;
  }

  function drawFromImage(pixels, options = {}) {
    const size = options.size || SIZE, scale = options.scale || 8, side = size * scale;
    needPage("drawFromImage");
    if (!pixels || pixels.length !== size * size) throw new TypeError(`drawFromImage expects ${size * size} values`);
    const { width, height } = ui.canvas;
    const x = options.x ?? Math.round((width - side) / 2), y = options.y ?? Math.round((height - side) / 2);
    const small = document.createElement("canvas");
    small.width = small.height = size;
    const sctx = small.getContext("2d"), image = sctx.createImageData(size, size);
    for (let i = 0; i < size * size; i++) image.data[4 * i + 3] = Math.round(255 * Math.min(1, Math.max(0, pixels[i])));
    sctx.putImageData(image, 0, 0);
    const ctx = ui.ctx;
    ctx.clearRect(0, 0, width, height);
    ctx.save();
    ctx.imageSmoothingEnabled = true;
    ctx.imageSmoothingQuality = "high";
    ctx.drawImage(small, x, y, side, side);
    ctx.globalCompositeOperation = "source-in";  // give the painted alpha the ink colour
    ctx.fillStyle = inkColour();
    ctx.fillRect(0, 0, width, height);
    ctx.restore();
    if (ui.frame) cancelAnimationFrame(ui.frame);
    update();
    announce();
    return last;
  }

  function recolour() {  // the theme changed: repaint the ink in the new colour, keeping its alpha
    const ctx = ui.ctx;
    ctx.save();
    ctx.globalCompositeOperation = "source-in";
    ctx.fillStyle = inkColour();
    ctx.fillRect(0, 0, ui.canvas.width, ui.canvas.height);
    ctx.restore();
    drawPreview(last.pixels);
  }

  function setUpDrawing() {
    const canvas = ui.canvas, ctx = ui.ctx;
    let stroke = null;  // {id, x, y} while a pointer draws

    const point = (event) => {
      const rect = canvas.getBoundingClientRect();
      return {
        x: ((event.clientX - rect.left) * canvas.width) / rect.width,
        y: ((event.clientY - rect.top) * canvas.height) / rect.height,
      };
    };
    const segment = (from, to) => {
      ctx.beginPath();
      ctx.moveTo(from.x, from.y);
      ctx.lineTo(to.x, to.y);
      ctx.stroke();
    };

    canvas.addEventListener("pointerdown", (event) => {
      if (stroke || (event.pointerType === "mouse" && event.button !== 0)) return;
      event.preventDefault();
      canvas.setPointerCapture(event.pointerId);
      ctx.strokeStyle = inkColour();
      ctx.lineWidth = BRUSH * canvas.width;
      ctx.lineCap = ctx.lineJoin = "round";
      const p = point(event);
      stroke = { id: event.pointerId, ...p };
      segment(p, { x: p.x + 0.01, y: p.y });  // a dot for a click without movement
      scheduleUpdate();
    });
    canvas.addEventListener("pointermove", (event) => {
      if (!stroke || event.pointerId !== stroke.id) return;
      event.preventDefault();
      const events = event.getCoalescedEvents ? event.getCoalescedEvents() : [];
      for (const e of events.length ? events : [event]) {
        const p = point(e);
        segment(stroke, p);
        stroke.x = p.x;
        stroke.y = p.y;
      }
      scheduleUpdate();
    });
    const end = (event) => {
      if (!stroke || event.pointerId !== stroke.id) return;
      stroke = null;
      if (ui.frame) cancelAnimationFrame(ui.frame);
      update();
      announce();
    };
    canvas.addEventListener("pointerup", end);
    canvas.addEventListener("pointercancel", end);
    canvas.addEventListener("lostpointercapture", end);
    ui.clearButton.addEventListener("click", clear);
    new MutationObserver(recolour).observe(document.documentElement, { attributes: true, attributeFilter: ["data-theme"] });
  }

  function setUpPage(root) {
    const $ = (selector) => root.querySelector(selector);
    ui = {
      root,
      canvas: $(".digit-demo-canvas"),
      preview: $(".digit-demo-input"),
      clearButton: $(".digit-demo-clear"),
      status: $(".digit-demo-status"),
      digit: $(".digit-demo-digit"),
      confidence: $(".digit-demo-confidence"),
      frame: 0,
      bars: [],
    };
    ui.ctx = ui.canvas.getContext("2d", { willReadFrequently: true });
    ui.previewCtx = ui.preview.getContext("2d", { willReadFrequently: true });
    const list = $(".digit-demo-bars");
    for (let digit = 0; digit < 10; digit++) {
      const row = document.createElement("li"), label = document.createElement("span");
      const track = document.createElement("span"), fill = document.createElement("span");
      const value = document.createElement("span");
      row.className = "digit-demo-bar";
      label.className = "digit-demo-bar-label";
      label.textContent = String(digit);
      track.className = "digit-demo-bar-track";
      track.setAttribute("aria-hidden", "true");
      fill.className = "digit-demo-bar-fill";
      value.className = "digit-demo-bar-value";
      track.appendChild(fill);
      row.append(label, track, value);
      list.appendChild(row);
      ui.bars.push({ row, fill, value });
    }
    drawBars(null);
    setUpDrawing();
  }

  function loadScript(url) {  // a <script> element works from file:// too, where fetch() is refused
    return new Promise((resolve, reject) => {
      const element = document.createElement("script");
      element.src = url;
      element.async = true;
      element.onload = () => resolve();
      element.onerror = () => reject(new Error(`${url} could not be loaded`));
      document.head.appendChild(element);
    });
  }

  function decodeBase64(text) {
    const binary = atob(text), bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    return bytes.buffer;
  }

  async function loadNetwork() {
    if (!window.NNMath) throw new Error("nnmath.js is missing: the page must load it before digit_demo.js");
    if (!window.nnlibDemoWeights) await loadScript(weightsUrl);
    const asset = window.nnlibDemoWeights;
    if (!asset || !asset.manifest || typeof asset.base64 !== "string") {
      throw new Error(`${weightsUrl} did not define window.nnlibDemoWeights = {manifest, base64}`);
    }
    network = buildNetwork(asset.manifest, decodeBase64(asset.base64));
    hook.manifest = asset.manifest;
    return asset.manifest;
  }

  let resolveReady, rejectReady;
  hook.ready = new Promise((resolve, reject) => { resolveReady = resolve; rejectReady = reject; });
  hook.ready.catch(() => {});  // a failure is reported once, below, not again as an unhandled rejection

  function start() {
    const root = document.getElementById("digit-demo");
    if (!root) {
      const error = new Error("no element with id 'digit-demo' on this page");
      console.error("digit_demo.js:", error);
      rejectReady(error);
      return;
    }
    setUpPage(root);
    loadNetwork().then(
      (manifest) => {
        root.classList.add("digit-demo-loaded");
        update();
        if (last.predicted === null) setStatus("Ready: draw a digit in the box.");
        else announce();
        resolveReady(manifest);
      },
      (error) => {
        setStatus(`The network could not be loaded: ${error.message}`);
        root.classList.add("digit-demo-failed");
        console.error("digit_demo.js:", error);
        rejectReady(error);
      },
    );
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
