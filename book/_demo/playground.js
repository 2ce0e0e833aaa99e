/*
 * playground.js: the network playground (book/playground.md). Plain JavaScript and canvas, no libraries.
 *
 * Everything numerical is NNMath (nnmath.js, loaded first): the toy data (nnlib.data's definitions and seeds), the
 * network, its initialisation, the training step with L2, dropout and clipping, the optimisers and the schedules.
 * This file is the page: the controls, the URL, the pictures, and a loop that trains in small slices between
 * animation frames (at most SLICE_MS of training per frame) so that the page stays responsive.
 *
 * The whole state is in the URL's query string (keys = the controls' names below; only values that differ from the
 * defaults are written). `preset=NAME` starts from a preset (PRESETS), `hide=key1,key2` hides controls (their values
 * still apply; `presets` hides the list of presets), `pts=x_y_class~…` holds points you drew. On a page with hidden
 * controls the preset links keep them hidden and at this page's values (a teacher's fixed settings stay fixed).
 *
 * Drawing: the heat map (GRID² network evaluations) and the activation maps are recomputed only when the weights
 * have changed, and while training at most as often as keeps them to about a quarter of the time (HEAT_SHARE), so
 * that big networks still train fast; the points, the cursor and the curves are drawn over the stored image.
 *
 * Test hook, window.nnlibPlayground: ready (Promise), state() (the current settings), setState(partial) (apply and
 * reset), url() (the shareable URL), trainer() (the NNMath.Trainer in use), data() ({train, val} as plain arrays),
 * step(n) (n training steps now, synchronously), play(), pause(), measure(ms) (steps/s, frames/s and heat maps/s
 * while playing), counters() (frames and heat maps drawn so far), addPoint(x, y, cls).
 */
(function () {
  "use strict";

  const M = window.NNMath;
  const SLICE_MS = 8;   // training time per animation frame (the rest of the frame draws)
  const GRID = 50;      // heat-map resolution (GRID × GRID network evaluations per heat map)
  const HEAT_SHARE = 0.25;  // while playing, recompute the heat map when that keeps it to ≤ this share of the time
  const COLOURS = ["#e8731c", "#2f6db5", "#3a9a45", "#d2354a", "#8c5bb0"];

  const OPTIMIZERS = [["sgd", "SGD"], ["momentum", "Momentum"], ["nesterov", "Nesterov momentum"], ["rmsprop", "RMSProp"], ["adam", "Adam"]];
  // key, label, kind, default, options
  const CONTROLS = [
    { group: "Data" },
    { key: "data", label: "Data set", kind: "select", def: "moons", options: [["moons", "Two moons"], ["circles", "Circles"], ["spirals", "Spirals"], ["custom", "Your own points"]] },
    { key: "classes", label: "Classes (spirals, your points)", kind: "number", def: 3, min: 2, max: 5, step: 1 },
    { key: "n", label: "Points", kind: "range", def: 400, min: 50, max: 1000, step: 10 },
    { key: "noise", label: "Noise", kind: "range", def: 0.15, min: 0, max: 0.6, step: 0.01 },
    { key: "dseed", label: "Data seed", kind: "number", def: 0, min: 0, max: 999999, step: 1 },
    { key: "val", label: "Validation share", kind: "range", def: 0.2, min: 0.1, max: 0.5, step: 0.05 },
    { key: "pen", label: "Class of a new point (click the map)", kind: "select", def: 0, options: [[0, "0"], [1, "1"], [2, "2"], [3, "3"], [4, "4"]], noReset: true },
    { key: "clear", label: "Clear points", kind: "button" },
    { group: "Network" },
    { key: "layers", label: "Hidden layers", kind: "layers", def: "8,8" },
    { key: "act", label: "Activation", kind: "select", def: "relu", options: [["relu", "ReLU"], ["tanh", "tanh"], ["sigmoid", "sigmoid"]] },
    { key: "init", label: "Initialisation", kind: "select", def: "he", options: [["uniform", "uniform ±0.05"], ["xavier", "Xavier (normal)"], ["he", "He (normal)"]] },
    { key: "dropout", label: "Dropout rate p", kind: "range", def: 0, min: 0, max: 0.8, step: 0.05 },
    { group: "Training" },
    { key: "optimizer", label: "Optimiser", kind: "select", def: "adam", options: OPTIMIZERS },
    { key: "lr", label: "Learning rate η", kind: "number", def: 0.01, min: 0.00001, max: 10, step: "any", live: true },
    { key: "momentum", label: "Momentum μ", kind: "range", def: 0.9, min: 0, max: 0.99, step: 0.01, live: true, when: (s) => s.optimizer === "momentum" || s.optimizer === "nesterov" },
    { key: "rho", label: "RMSProp ρ", kind: "range", def: 0.9, min: 0, max: 0.999, step: 0.001, live: true, when: (s) => s.optimizer === "rmsprop" },
    { key: "beta1", label: "Adam β1", kind: "range", def: 0.9, min: 0, max: 0.99, step: 0.01, live: true, when: (s) => s.optimizer === "adam" },
    { key: "beta2", label: "Adam β2", kind: "range", def: 0.999, min: 0.9, max: 0.9999, step: 0.0001, live: true, when: (s) => s.optimizer === "adam" },
    { key: "eps", label: "ε in the denominator", kind: "number", def: M.OPTIMIZER_DEFAULTS.adam.eps, min: 0, max: 1, step: "any", live: true, when: (s) => s.optimizer === "rmsprop" || s.optimizer === "adam" },
    { key: "batch", label: "Batch size", kind: "number", def: 32, min: 1, max: 1000, step: 1 },
    { key: "l2", label: "L2 λ", kind: "number", def: 0, min: 0, max: 1, step: "any", live: true },
    { key: "schedule", label: "Schedule", kind: "select", def: "none", options: [["none", "constant"], ["step", "step decay"], ["cosine", "cosine decay"]] },
    { key: "every", label: "Step decay: every (epochs)", kind: "number", def: 20, min: 1, max: 1000, step: 1, when: (s) => s.schedule === "step" },
    { key: "factor", label: "Step decay: factor γ", kind: "range", def: 0.5, min: 0.05, max: 1, step: 0.05, when: (s) => s.schedule === "step" },
    { key: "epochs", label: "Cosine: epochs E", kind: "number", def: 100, min: 1, max: 10000, step: 1, when: (s) => s.schedule === "cosine" },
    { key: "clip", label: "Clip global norm at τ (0 = off)", kind: "number", def: 0, min: 0, max: 1000, step: "any", live: true },
    { key: "seed", label: "Seed (weights, batches, dropout)", kind: "number", def: 0, min: 0, max: 999999, step: 1 },
    { group: "Show" },
    { key: "units", label: "Each unit's activation map (small networks)", kind: "checkbox", def: false, noReset: true },
  ];
  const BY_KEY = Object.fromEntries(CONTROLS.filter((c) => c.key).map((c) => [c.key, c]));

  const PRESETS = {
    "dead-relu": { title: "The dead-ReLU setting", data: "moons", layers: "8,8", act: "relu", init: "he", optimizer: "sgd", lr: 3, batch: 16, seed: 1 },
    "adam-vs-sgd": { title: "Adam vs SGD on spirals (switch the optimiser)", data: "spirals", classes: 3, noise: 0.1, n: 600, layers: "16,16", act: "relu", optimizer: "adam", lr: 0.01, batch: 32 },
    "noisy-moons-dropout": { title: "Dropout on noisy moons", data: "moons", noise: 0.35, n: 200, val: 0.5, layers: "32,32", dropout: 0.5, optimizer: "adam", lr: 0.003, batch: 16 },
    "tiny-init-tanh": { title: "tanh with a tiny uniform initialisation", data: "circles", noise: 0.1, layers: "8,8,8", act: "tanh", init: "uniform", optimizer: "sgd", lr: 0.5 },
    "cosine-clip": { title: "Momentum with a cosine schedule and clipping", data: "spirals", classes: 4, noise: 0.1, n: 800, layers: "24,24", optimizer: "nesterov", lr: 0.05, schedule: "cosine", epochs: 150, clip: 1 },
  };

  // --- state and URL -----------------------------------------------------------------------------------------------
  const defaults = () => Object.fromEntries(CONTROLS.filter((c) => c.key && c.kind !== "button").map((c) => [c.key, c.def]));

  function coerce(key, text) {
    const c = BY_KEY[key];
    if (!c) return undefined;
    if (c.kind === "checkbox") return text === "1" || text === "true" || text === true;
    if (c.kind === "number" || c.kind === "range") {
      const v = Number(text);
      if (!Number.isFinite(v)) return c.def;
      return c.step === 1 ? Math.round(v) : v;
    }
    if (c.kind === "select") {
      const found = c.options.find(([value]) => String(value) === String(text));
      return found ? found[0] : c.def;
    }
    if (c.kind === "layers") {
      const widths = String(text).split(",").filter((w) => w !== "").map((w) => Math.max(1, Math.min(64, Math.round(Number(w)) || 1)));
      return widths.slice(0, 6).join(",");
    }
    return text;
  }

  function parsePoints(text) {
    if (!text) return [];
    return text.split("~").map((p) => p.split("_").map(Number)).filter((p) => p.length === 3 && p.every(Number.isFinite))
      .map(([x, y, c]) => [x, y, Math.max(0, Math.min(4, Math.round(c)))]);
  }

  function stateFromUrl(search) {
    const params = new URLSearchParams(search), state = defaults();
    const preset = PRESETS[params.get("preset")];
    if (preset) for (const [k, v] of Object.entries(preset)) if (k in state) state[k] = coerce(k, v);
    for (const [k, v] of params) if (k in state) state[k] = coerce(k, v);
    return {
      state,
      hide: (params.get("hide") || "").split(",").map((s) => s.trim()).filter(Boolean),
      points: parsePoints(params.get("pts")),
      preset: preset ? params.get("preset") : null,
    };
  }

  const fmt = (v) => (typeof v === "number" ? String(+v.toPrecision(6)) : String(v));

  function urlFor(state, hide, points) {
    const d = defaults(), params = new URLSearchParams();
    for (const [k, v] of Object.entries(state)) if (fmt(v) !== fmt(d[k])) params.set(k, typeof v === "boolean" ? (v ? "1" : "0") : fmt(v));
    if (state.data === "custom" && points.length) params.set("pts", points.map(([x, y, c]) => `${x.toFixed(3)}_${y.toFixed(3)}_${c}`).join("~"));
    if (hide.length) params.set("hide", hide.join(","));
    const query = params.toString();
    return location.pathname + (query ? `?${query}` : "") + location.hash;
  }

  // --- the model --------------------------------------------------------------------------------------------------
  let S, hide, points;                // settings, hidden controls, drawn points [[x, y, class]]
  let dataset, split, trainer, view;  // current data, {train, val}, NNMath.Trainer, heat-map domain
  let playing = false, frameCount = 0, stepCount = 0, dirty = true, renderMs = 0, trainMs = 0;
  const ui = {};

  function makeData() {
    const n = S.n;
    if (S.data === "moons") return M.makeMoons(n, { noise: S.noise, seed: S.dseed });
    if (S.data === "circles") return M.makeCircles(n, { noise: S.noise, seed: S.dseed });
    if (S.data === "spirals") return M.makeSpirals(n, { classes: S.classes, noise: S.noise, seed: S.dseed });
    const X = new Float64Array(2 * points.length), y = new Int32Array(points.length);
    points.forEach(([px, py, c], i) => { X[2 * i] = px; X[2 * i + 1] = py; y[i] = Math.min(c, S.classes - 1); });
    return { X, y, n: points.length, classes: S.classes };
  }

  function classesOf() { return S.data === "moons" || S.data === "circles" ? 2 : S.classes; }

  function trainerConfig() {
    const hyper = { sgd: {}, momentum: { momentum: S.momentum }, nesterov: { momentum: S.momentum }, rmsprop: { rho: S.rho, eps: S.eps },
      adam: { beta1: S.beta1, beta2: S.beta2, eps: S.eps } }[S.optimizer];
    return {
      sizes: [2, ...S.layers.split(",").map(Number), classesOf()],
      activation: S.act, init: S.init, dropout: S.dropout, seed: S.seed,
      optimizer: { name: S.optimizer, lr: S.lr, ...hyper },
      batchSize: Math.max(1, Math.round(S.batch)), l2: S.l2, clip: S.clip,
      schedule: { type: S.schedule, every: S.every, factor: S.factor, epochs: S.epochs },
    };
  }

  function computeView(data) {
    let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
    for (let i = 0; i < data.n; i++) {
      x0 = Math.min(x0, data.X[2 * i]); x1 = Math.max(x1, data.X[2 * i]);
      y0 = Math.min(y0, data.X[2 * i + 1]); y1 = Math.max(y1, data.X[2 * i + 1]);
    }
    if (!(x1 > x0)) { x0 = -1; x1 = 1; y0 = -1; y1 = 1; }
    const cx = (x0 + x1) / 2, cy = (y0 + y1) / 2, half = Math.max(1, 0.58 * Math.max(x1 - x0, y1 - y0));
    return { x0: cx - half, x1: cx + half, y0: cy - half, y1: cy + half };  // square: equal aspect ratio
  }

  function reset() {
    dataset = makeData();
    const k = classesOf();
    if (dataset.n >= 4) {
      try { split = M.trainValSplit(dataset, S.val, S.dseed); } catch (e) { split = { train: dataset, val: null }; }
    } else {
      split = { train: dataset, val: null };
    }
    split.train.classes = k;
    if (S.data !== "custom" || !view) view = computeView(dataset);
    if (S.data === "custom" && points.length === 0) view = { x0: -1.5, x1: 1.5, y0: -1.5, y1: 1.5 };
    trainer = split.train.n > 0 ? new M.Trainer(trainerConfig(), split.train, split.val) : null;
    dirty = true;
    updateStats();
    drawCurves();
  }

  function applyLive(key) {
    if (!trainer) return;
    const c = trainer.config;
    if (key === "lr") { trainer.lr0 = S.lr; trainer.optimizer.lr = M.scheduleLr(c.schedule, S.lr, Math.max(1, trainer.epoch)); }
    else if (key === "l2") c.l2 = S.l2;
    else if (key === "clip") c.clip = S.clip;
    else if (key in trainer.optimizer.hyper) trainer.optimizer.hyper[key] = S[key];
  }

  // --- controls ---------------------------------------------------------------------------------------------------
  let uid = 0;
  const el = (tag, props = {}, ...children) => {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(props)) {
      if (k === "class") e.className = v; else if (k.startsWith("on")) e.addEventListener(k.slice(2), v); else if (v !== undefined) e.setAttribute(k, v);
    }
    e.append(...children);
    return e;
  };

  function buildControls(panel) {
    let fieldset = null;
    for (const c of CONTROLS) {
      if (c.group) {
        fieldset = el("fieldset", { class: "nnx-group" }, el("legend", {}, c.group));
        panel.appendChild(fieldset);
        continue;
      }
      const id = `nnx-pg-${c.key}-${++uid}`;
      const row = el("div", { class: "nnx-row", "data-key": c.key });
      let input;
      if (c.kind === "button") {
        input = el("button", { type: "button", id, class: "nnx-button" }, c.label);
        input.addEventListener("click", () => { points = []; if (S.data !== "custom") S.data = "custom"; view = null; changed("data"); });
        row.append(input);
      } else if (c.kind === "layers") {
        row.classList.add("nnx-layers");
        const list = el("div", { class: "nnx-layer-list", role: "group", "aria-labelledby": id + "-label" });
        const add = el("button", { type: "button", class: "nnx-button" }, "Add layer");
        const remove = el("button", { type: "button", class: "nnx-button" }, "Remove layer");
        add.addEventListener("click", () => { const w = S.layers.split(","); if (w.length < 6) { w.push(w[w.length - 1] || "4"); S.layers = w.join(","); renderLayers(); changed("layers"); } });
        remove.addEventListener("click", () => { const w = S.layers.split(","); if (w.length > 1) { w.pop(); S.layers = w.join(","); renderLayers(); changed("layers"); } });
        row.append(el("span", { class: "nnx-label", id: id + "-label" }, c.label), list, el("div", { class: "nnx-layer-buttons" }, add, remove));
        ui.layerList = list;
        ui.layerButtons = { add, remove };
      } else {
        const label = el("label", { for: id }, c.label);
        if (c.kind === "select") {
          input = el("select", { id, name: c.key });
          for (const [value, text] of c.options) input.appendChild(el("option", { value }, text));
        } else if (c.kind === "checkbox") {
          input = el("input", { id, name: c.key, type: "checkbox" });
        } else {
          input = el("input", { id, name: c.key, type: c.kind, min: c.min, max: c.max, step: c.step });
        }
        const output = c.kind === "range" ? el("output", { for: id, class: "nnx-value" }) : null;
        input.addEventListener(c.kind === "number" ? "change" : "input", () => {
          let v = c.kind === "checkbox" ? input.checked : input.value.trim() === "" ? c.def : coerce(c.key, input.value);
          if ((c.kind === "number") && c.min !== undefined) v = Math.min(c.max, Math.max(c.min, v));
          if (c.key === "lr" && !(v > 0)) v = c.def;
          S[c.key] = v;
          if (output) output.textContent = fmt(v);
          changed(c.key);
        });
        row.append(label, input);
        if (output) row.append(output);
        ui[`output_${c.key}`] = output;
      }
      ui[`input_${c.key}`] = input;
      ui[`row_${c.key}`] = row;
      fieldset.appendChild(row);
    }
  }

  function renderLayers() {
    const widths = S.layers.split(",");
    ui.layerList.replaceChildren(...widths.map((w, i) => {
      const id = `nnx-pg-width-${i}-${++uid}`;
      const input = el("input", { id, type: "number", min: 1, max: 64, step: 1, value: w, class: "nnx-width" });
      input.addEventListener("change", () => {
        const ws = S.layers.split(",");
        ws[i] = String(Math.max(1, Math.min(64, Math.round(Number(input.value)) || 1)));
        input.value = ws[i];
        S.layers = ws.join(",");
        changed("layers");
      });
      return el("span", { class: "nnx-width-box" }, el("label", { for: id }, `Layer ${i + 1} width`), input);
    }));
    ui.layerButtons.add.disabled = widths.length >= 6;
    ui.layerButtons.remove.disabled = widths.length <= 1;
  }

  function syncControls() {
    for (const c of CONTROLS) {
      if (!c.key || c.kind === "button" || c.kind === "layers") continue;
      const input = ui[`input_${c.key}`];
      if (c.kind === "checkbox") input.checked = !!S[c.key]; else input.value = String(S[c.key]);
      if (ui[`output_${c.key}`]) ui[`output_${c.key}`].textContent = fmt(S[c.key]);
    }
    renderLayers();
    for (const c of CONTROLS) {
      if (!c.key) continue;
      const row = ui[`row_${c.key}`];
      const hidden = hide.includes(c.key) || (c.when && !c.when(S)) ||
        ((c.key === "classes") && !(S.data === "spirals" || S.data === "custom")) || (c.key === "noise" && S.data === "custom") ||
        (c.key === "n" && S.data === "custom");
      row.hidden = !!hidden;
    }
    renderPresets();
    const pen = ui.input_pen;
    [...pen.options].forEach((o, i) => { o.hidden = o.disabled = i >= classesOf(); });
    if (S.pen >= classesOf()) { S.pen = 0; pen.value = "0"; }
  }

  function renderPresets() {  // links that keep this page's hide= and the values of the hidden controls
    const keep = new URLSearchParams();
    for (const key of hide) if (key in S) keep.set(key, typeof S[key] === "boolean" ? (S[key] ? "1" : "0") : fmt(S[key]));
    if (hide.length) keep.set("hide", hide.join(","));
    const tail = keep.toString() ? `&${keep}` : "";
    ui.presets.hidden = hide.includes("presets");
    ui.presets.replaceChildren("Presets: ", ...Object.entries(PRESETS).flatMap(([name, p], i) => [
      i ? " · " : "", el("a", { href: `?preset=${name}${tail}` }, p.title)]));
  }

  function changed(key) {
    const c = BY_KEY[key];
    if (key === "units") heat.trainer = null;  // draw (or hide) the activation maps now
    if (c && c.live) applyLive(key);
    else if (!(c && c.noReset)) reset();
    syncControls();
    dirty = true;
    history.replaceState(null, "", urlFor(S, hide, points));
  }

  // --- pictures ----------------------------------------------------------------------------------------------------
  const rgb = (hex) => [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
  const PALE = COLOURS.map((c) => rgb(c).map((v) => 255 - 0.55 * (255 - v)));

  function gridInputs() {
    const X = new Float64Array(2 * GRID * GRID);
    for (let r = 0; r < GRID; r++) {
      for (let c = 0; c < GRID; c++) {
        X[2 * (r * GRID + c)] = view.x0 + ((c + 0.5) / GRID) * (view.x1 - view.x0);
        X[2 * (r * GRID + c) + 1] = view.y1 - ((r + 0.5) / GRID) * (view.y1 - view.y0);
      }
    }
    return X;
  }

  // What the stored heat map shows: the trainer, its step count and the view it was computed for.
  const heat = { trainer: null, steps: -1, view: null, at: -Infinity, cost: 0 };
  const heatStale = () => heat.trainer !== trainer || (trainer && heat.steps !== trainer.steps) || heat.view !== view;

  function computeHeatmap() {  // the network on GRID × GRID points → the small canvas (then scaled up by drawMap)
    if (!trainer) return;
    const k = classesOf(), P = M.predictProba(trainer.layers, gridInputs(), GRID * GRID, 2);
    const image = ui.smallCtx.createImageData(GRID, GRID);
    for (let i = 0; i < GRID * GRID; i++) {
      let r = 0, g = 0, b = 0;
      for (let j = 0; j < k; j++) { const p = P[i * k + j]; r += p * PALE[j][0]; g += p * PALE[j][1]; b += p * PALE[j][2]; }
      if (!Number.isFinite(r)) r = g = b = 200;
      image.data[4 * i] = r; image.data[4 * i + 1] = g; image.data[4 * i + 2] = b; image.data[4 * i + 3] = 255;
    }
    ui.smallCtx.putImageData(image, 0, 0);
  }

  function drawMap() {  // the stored heat map, the points and the cursor
    const ctx = ui.mapCtx, W = ui.map.width, H = ui.map.height;
    ctx.clearRect(0, 0, W, H);
    if (trainer) {
      ctx.imageSmoothingEnabled = true;
      ctx.drawImage(ui.small, 0, 0, W, H);
    }
    const toPx = (x, y) => [((x - view.x0) / (view.x1 - view.x0)) * W, ((view.y1 - y) / (view.y1 - view.y0)) * H];
    const dot = (X, y, n, hollow) => {  // one path per class: a few draw calls, not two per point
      const radius = hollow ? 3.6 : 3.4;
      for (let k = 0; k < COLOURS.length; k++) {
        ctx.beginPath();
        let any = false;
        for (let i = 0; i < n; i++) {
          if (y[i] !== k) continue;
          const [px, py] = toPx(X[2 * i], X[2 * i + 1]);
          ctx.moveTo(px + radius, py);
          ctx.arc(px, py, radius, 0, 2 * Math.PI);
          any = true;
        }
        if (!any) continue;
        ctx.lineWidth = hollow ? 2 : 1;
        ctx.fillStyle = hollow ? "#fff" : COLOURS[k];
        ctx.strokeStyle = hollow ? COLOURS[k] : "#fff";
        ctx.fill();
        ctx.stroke();
      }
    };
    if (split) { dot(split.train.X, split.train.y, split.train.n, false); if (split.val) dot(split.val.X, split.val.y, split.val.n, true); }
    if (ui.cursor) {
      const [cx, cy] = toPx(ui.cursor[0], ui.cursor[1]);
      ctx.strokeStyle = "#000"; ctx.lineWidth = 1.5;
      ctx.beginPath(); ctx.moveTo(cx - 8, cy); ctx.lineTo(cx + 8, cy); ctx.moveTo(cx, cy - 8); ctx.lineTo(cx, cy + 8); ctx.stroke();
    }
  }

  function drawUnits() {
    const box = ui.units;
    const widths = S.layers.split(",").map(Number), total = widths.reduce((a, b) => a + b, 0);
    if (!S.units || !trainer || total > 48) {
      box.hidden = !S.units;
      if (S.units && total > 48) { box.replaceChildren(el("p", {}, "Activation maps are shown for networks with at most 48 hidden units.")); ui.unitCanvases = null; }
      return;
    }
    box.hidden = false;
    const N = 24, X = new Float64Array(2 * N * N);
    for (let r = 0; r < N; r++) for (let c = 0; c < N; c++) {
      X[2 * (r * N + c)] = view.x0 + ((c + 0.5) / N) * (view.x1 - view.x0);
      X[2 * (r * N + c) + 1] = view.y1 - ((r + 0.5) / N) * (view.y1 - view.y0);
    }
    const maps = [];
    let A = X, w = 2;
    for (const layer of trainer.layers) {
      const res = M.forward([layer], A, N * N, { width: w });
      A = res.out; w = res.width;
      if (["ReLU", "Tanh", "Sigmoid"].includes(layer.type)) maps.push({ A, w });
    }
    if (!ui.unitCanvases || ui.unitCanvases.key !== S.layers) {
      ui.unitCanvases = { key: S.layers, list: [] };
      box.replaceChildren(el("p", { class: "nnx-units-title" }, "Each hidden unit's activation over the plane (light: low, dark: high)"),
        ...maps.map(({ w: width }, l) => el("div", { class: "nnx-unit-layer" },
          el("span", { class: "nnx-unit-name" }, `Layer ${l + 1} (${width} unit${width === 1 ? "" : "s"})`),
          el("div", { class: "nnx-unit-grid" }, ...Array.from({ length: width }, (_, j) => {
            const c = el("canvas", { width: N, height: N, class: "nnx-unit", role: "img", "aria-label": `Activation of unit ${j + 1} of hidden layer ${l + 1} over the plane` });
            ui.unitCanvases.list.push(c);
            return c;
          })))));
    }
    let idx = 0;
    for (const { A: act, w: width } of maps) {
      for (let j = 0; j < width; j++) {
        const canvas = ui.unitCanvases.list[idx++], ctx = canvas.getContext("2d"), image = ctx.createImageData(N, N);
        let lo = Infinity, hi = -Infinity;
        for (let i = 0; i < N * N; i++) { lo = Math.min(lo, act[i * width + j]); hi = Math.max(hi, act[i * width + j]); }
        const span = hi - lo || 1;
        for (let i = 0; i < N * N; i++) {
          const t = (act[i * width + j] - lo) / span, v = 255 - Math.round(200 * t);
          image.data[4 * i] = v; image.data[4 * i + 1] = v; image.data[4 * i + 2] = 255 - Math.round(120 * t); image.data[4 * i + 3] = 255;
        }
        ctx.putImageData(image, 0, 0);
      }
    }
  }

  function drawCurves() {  // loss and accuracy per epoch: axis labels, legend above the plot area
    const h = trainer ? trainer.history : [];
    const plots = [
      { canvas: ui.loss, series: [["loss", "training", "#2f6db5"], ["val_loss", "validation", "#e8731c"]], axis: "cross-entropy loss" },
      { canvas: ui.acc, series: [["accuracy", "training", "#2f6db5"], ["val_accuracy", "validation", "#e8731c"]], axis: "accuracy", range: [0, 1] },
    ];
    for (const { canvas, series, range, axis } of plots) {
      const ctx = canvas.getContext("2d"), W = canvas.width, H = canvas.height;
      const left = 48, right = 8, top = 22, bottom = 28, pw = W - left - right, ph = H - top - bottom;
      ctx.clearRect(0, 0, W, H);
      ctx.font = "11px sans-serif"; ctx.lineWidth = 1; ctx.strokeStyle = "#bbb";
      ctx.strokeRect(left, top, pw, ph);
      let lo = range ? range[0] : Infinity, hi = range ? range[1] : -Infinity;
      if (!range) for (const row of h) for (const [k] of series) if (Number.isFinite(row[k])) { lo = Math.min(lo, row[k]); hi = Math.max(hi, row[k]); }
      if (!(hi > lo)) { lo = 0; hi = 1; }
      if (!range) lo = 0;
      // y axis: ticks at lo, the middle and hi, and the quantity (rotated)
      ctx.fillStyle = "#555"; ctx.textAlign = "right"; ctx.textBaseline = "middle";
      for (const f of [0, 0.5, 1]) {
        const v = lo + f * (hi - lo), y = top + (1 - f) * ph;
        ctx.fillText(fmt(+v.toPrecision(2)), left - 4, y);
        if (f === 0.5) { ctx.strokeStyle = "#eee"; ctx.beginPath(); ctx.moveTo(left + 1, y); ctx.lineTo(left + pw - 1, y); ctx.stroke(); }
      }
      ctx.save(); ctx.translate(11, top + ph / 2); ctx.rotate(-Math.PI / 2); ctx.textAlign = "center"; ctx.fillText(axis, 0, 0); ctx.restore();
      // x axis: epochs 1 … E
      const n = Math.max(2, h.length);
      ctx.textBaseline = "top"; ctx.textAlign = "left"; ctx.fillText("1", left, top + ph + 3);
      ctx.textAlign = "right"; ctx.fillText(String(Math.max(1, h.length)), left + pw, top + ph + 3);
      ctx.textAlign = "center"; ctx.fillText("epoch", left + pw / 2, top + ph + 14);
      // legend: above the plot area, never over the curves
      ctx.textAlign = "left"; ctx.textBaseline = "middle";
      let lx = left;
      for (const [, label, colour] of series) {
        ctx.strokeStyle = colour; ctx.lineWidth = 2.5; ctx.beginPath(); ctx.moveTo(lx, 11); ctx.lineTo(lx + 16, 11); ctx.stroke();
        ctx.fillStyle = "#333"; ctx.fillText(label, lx + 20, 11);
        lx += 28 + ctx.measureText(label).width;
      }
      for (const [k, , colour] of series) {
        ctx.strokeStyle = colour; ctx.lineWidth = 1.8; ctx.beginPath();
        h.forEach((row, i) => {
          const x = left + (i / (n - 1)) * pw, y = top + (1 - (row[k] - lo) / (hi - lo)) * ph;
          if (i === 0) ctx.moveTo(x, y); else ctx.lineTo(x, y);
        });
        ctx.stroke();
      }
      const last = h[h.length - 1];
      canvas.setAttribute("aria-label", `${axis} per epoch` + (last ? `: training ${fmt(+last[series[0][0]].toPrecision(3))}` +
        (last[series[1][0]] !== undefined ? `, validation ${fmt(+last[series[1][0]].toPrecision(3))}` : "") : ": no epoch yet"));
    }
  }

  function updateStats() {
    if (!trainer) { ui.stats.textContent = "Add some points (click the map) to train."; return; }
    const last = trainer.history[trainer.history.length - 1];
    const parts = [`epoch ${trainer.history.length}`, `step ${trainer.steps}`, `learning rate ${fmt(+trainer.optimizer.lr.toPrecision(4))}`];
    if (last) {
      parts.push(`training loss ${last.loss.toFixed(4)}, accuracy ${(100 * last.accuracy).toFixed(1)}%`);
      if (last.val_loss !== undefined) parts.push(`validation loss ${last.val_loss.toFixed(4)}, accuracy ${(100 * last.val_accuracy).toFixed(1)}%`);
    }
    if (trainer.failed) parts.push(`stopped: ${trainer.failed}`);
    ui.stats.textContent = parts.join(" · ");
  }

  // --- the loop ----------------------------------------------------------------------------------------------------
  let lastEpochs = -1, heatCount = 0;
  function render() {
    const now = performance.now();
    // recompute the heat map (and the unit maps) only for new weights; while playing, only as often as keeps
    // that to about HEAT_SHARE of the time (small networks: every frame; big ones: every few frames)
    if (heatStale() && (!playing || now - heat.at >= heat.cost / HEAT_SHARE)) {
      computeHeatmap();
      drawUnits();
      const cost = performance.now() - now;
      heat.cost = heat.trainer === trainer ? 0.7 * heat.cost + 0.3 * cost : cost;
      Object.assign(heat, { trainer, steps: trainer ? trainer.steps : -1, view, at: now });
      heatCount++;
    }
    drawMap();
    updateStats();
    if (trainer && trainer.history.length !== lastEpochs) { lastEpochs = trainer.history.length; drawCurves(); }
    dirty = heatStale();  // a heat map put off while playing is drawn on a later frame, also after a pause
  }

  function trainSlice() {
    const start = performance.now();
    do {
      if (!trainer || trainer.failed) { setPlaying(false); break; }
      trainer.step();
      stepCount++;
    } while (performance.now() - start < SLICE_MS);
    trainMs += performance.now() - start;
    dirty = true;
  }

  function tick() {
    if (playing) trainSlice();
    if (dirty) { const t0 = performance.now(); render(); renderMs += performance.now() - t0; frameCount++; }
    requestAnimationFrame(tick);
  }

  function setPlaying(on) {
    playing = on && !!trainer && !trainer.failed;
    ui.play.textContent = playing ? "Pause" : "Play";
    ui.play.setAttribute("aria-pressed", String(playing));
  }

  // --- drawing points -------------------------------------------------------------------------------------------
  function addPoint(x, y, cls) {
    if (S.data !== "custom") {
      points = Array.from({ length: dataset.n }, (_, i) => [dataset.X[2 * i], dataset.X[2 * i + 1], dataset.y[i]]);
      if (S.data === "moons" || S.data === "circles") S.classes = 2;
      S.data = "custom";
    }
    points.push([x, y, Math.min(cls, S.classes - 1)]);
    changed("data");
  }

  function setUpMap() {
    const map = ui.map;
    const toData = (event) => {
      const rect = map.getBoundingClientRect();
      return [view.x0 + ((event.clientX - rect.left) / rect.width) * (view.x1 - view.x0),
        view.y1 - ((event.clientY - rect.top) / rect.height) * (view.y1 - view.y0)];
    };
    map.addEventListener("click", (event) => { const [x, y] = toData(event); addPoint(x, y, Number(S.pen)); });
    map.addEventListener("keydown", (event) => {
      const step = (view.x1 - view.x0) / 40;
      if (!ui.cursor) ui.cursor = [(view.x0 + view.x1) / 2, (view.y0 + view.y1) / 2];
      const moves = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, step], ArrowDown: [0, -step] };
      if (moves[event.key]) { ui.cursor[0] += moves[event.key][0]; ui.cursor[1] += moves[event.key][1]; dirty = true; event.preventDefault(); }
      else if (event.key === "Enter" || event.key === " ") { addPoint(ui.cursor[0], ui.cursor[1], Number(S.pen)); event.preventDefault(); }
    });
    map.addEventListener("focus", () => { if (!ui.cursor) ui.cursor = [(view.x0 + view.x1) / 2, (view.y0 + view.y1) / 2]; dirty = true; });
    map.addEventListener("blur", () => { ui.cursor = null; dirty = true; });
  }

  // --- page ----------------------------------------------------------------------------------------------------
  function start(rootEl) {
    ({ state: S, hide, points } = stateFromUrl(location.search));
    const panel = el("form", { class: "nnx-controls", "aria-label": "Playground settings", onsubmit: (e) => e.preventDefault() });
    buildControls(panel);
    ui.play = el("button", { type: "button", class: "nnx-button nnx-primary", "aria-pressed": "false" }, "Play");
    const stepButton = el("button", { type: "button", class: "nnx-button" }, "Step");
    const resetButton = el("button", { type: "button", class: "nnx-button" }, "Reset");
    ui.play.addEventListener("click", () => setPlaying(!playing));
    stepButton.addEventListener("click", () => { setPlaying(false); if (trainer) trainer.step(); dirty = true; });
    resetButton.addEventListener("click", () => { reset(); dirty = true; });
    ui.stats = el("p", { class: "nnx-stats", role: "status", "aria-live": "off" });
    ui.map = el("canvas", { width: 420, height: 420, class: "nnx-map", tabindex: "0", role: "img",
      "aria-label": "Decision regions of the network over the plane, with the training points (filled) and the validation points (rings). Click, or press Enter, to add a point of the selected class; arrow keys move the cursor." });
    ui.mapCtx = ui.map.getContext("2d");
    ui.small = el("canvas", { width: GRID, height: GRID });
    ui.smallCtx = ui.small.getContext("2d", { willReadFrequently: true });
    ui.loss = el("canvas", { width: 420, height: 160, class: "nnx-curve", role: "img" });
    ui.acc = el("canvas", { width: 420, height: 160, class: "nnx-curve", role: "img" });
    ui.units = el("div", { class: "nnx-units", hidden: "" });
    const presets = ui.presets = el("p", { class: "nnx-presets" });
    rootEl.replaceChildren(
      el("div", { class: "nnx-buttons" }, ui.play, stepButton, resetButton),
      ui.stats,
      el("div", { class: "nnx-layout" },
        el("div", { class: "nnx-figures" }, ui.map, ui.loss, ui.acc, ui.units),
        panel),
      presets);
    setUpMap();
    syncControls();
    reset();
    rootEl.classList.add("nnx-ready");
    requestAnimationFrame(tick);
  }

  const hook = {
    NNMath: M, PRESETS,
    state: () => ({ ...S }),
    hidden: () => [...hide],
    setState(partial) { for (const [k, v] of Object.entries(partial)) if (k in S) S[k] = coerce(k, v); reset(); syncControls(); history.replaceState(null, "", urlFor(S, hide, points)); return { ...S }; },
    url: () => location.href,
    trainer: () => trainer,
    data: () => ({
      all: { X: Array.from(dataset.X), y: Array.from(dataset.y) },
      train: { X: Array.from(split.train.X), y: Array.from(split.train.y) },
      val: split.val ? { X: Array.from(split.val.X), y: Array.from(split.val.y) } : null,
    }),
    step(n = 1) { const losses = []; for (let i = 0; i < n; i++) losses.push(trainer.step().loss); dirty = true; return losses; },
    play: () => setPlaying(true), pause: () => setPlaying(false),
    playing: () => playing,
    counters: () => ({ frames: frameCount, heatMaps: heatCount, steps: stepCount }),
    addPoint: (x, y, c) => addPoint(x, y, c),
    points: () => points.map((p) => [...p]),
    async measure(ms = 2000) {
      const s0 = stepCount, f0 = frameCount, h0 = heatCount, t0 = performance.now(), r0 = renderMs, m0 = trainMs;
      setPlaying(true);
      await new Promise((r) => setTimeout(r, ms));
      setPlaying(false);
      const seconds = (performance.now() - t0) / 1000;
      const frames = frameCount - f0;
      return { stepsPerSecond: (stepCount - s0) / seconds, framesPerSecond: frames / seconds, heatMapsPerSecond: (heatCount - h0) / seconds,
        renderMsPerFrame: (renderMs - r0) / Math.max(1, frames), trainMsPerFrame: (trainMs - m0) / Math.max(1, frames) };
    },
  };
  window.nnlibPlayground = hook;
  hook.ready = new Promise((resolve, reject) => {
    const go = () => {
      try {
        const rootEl = document.getElementById("nn-playground");
        if (!rootEl) throw new Error("no element with id 'nn-playground'");
        if (!M) throw new Error("nnmath.js must be loaded before playground.js");
        start(rootEl);
        resolve(true);
      } catch (error) {
        console.error("playground.js:", error);
        reject(error);
      }
    };
    if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", go); else go();
  });
})();
