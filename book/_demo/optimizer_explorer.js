/*
 * optimizer_explorer.js: paths of SGD, momentum, Nesterov, RMSProp and Adam on 2-D surfaces
 * (book/optimizer_explorer.md). The optimisers and surfaces are NNMath's (nnmath.js, loaded first): the same update
 * code that trains the playground's networks, so a path here is what nnlib.optimizers does on that surface
 * (tests/test_explorables.py checks it). Plain canvas, equal aspect ratio (the view is square in x and y).
 *
 * The state lives in the URL: surface, split (1 = one panel per optimiser, side by side, two panels a row), kappa,
 * steps, noise (s), seed, sx/sy (start), and per optimiser NAME=0 to switch it off, NAME_lr (η), momentum_mu,
 * nesterov_mu (μ), rmsprop_rho (ρ), adam_b1, adam_b2 (β1, β2), rmsprop_eps, adam_eps (ε); hide=key,… hides controls.
 * Test hook window.nnlibExplorer: ready, state(), setState(partial), paths() ({name: [[x, y], …]}), url(),
 * layout() (the panels of the last drawing, in canvas pixels).
 */
(function () {
  "use strict";

  const M = window.NNMath;
  const OPTS = [
    { name: "sgd", label: "SGD", colour: "#d2354a", hyper: [] },
    { name: "momentum", label: "Momentum", colour: "#2f6db5", hyper: [["mu", "momentum", "μ", 0, 0.99, 0.01]] },
    { name: "nesterov", label: "Nesterov", colour: "#3a9a45", hyper: [["mu", "momentum", "μ", 0, 0.99, 0.01]] },
    { name: "rmsprop", label: "RMSProp", colour: "#8c5bb0", hyper: [["rho", "rho", "ρ", 0, 0.999, 0.001], ["eps", "eps", "ε", 0, 1, "any"]] },
    { name: "adam", label: "Adam", colour: "#e8731c", hyper: [["b1", "beta1", "β1", 0, 0.99, 0.01], ["b2", "beta2", "β2", 0.9, 0.9999, 0.0001], ["eps", "eps", "ε", 0, 1, "any"]] },
  ];
  const LR = {
    valley: { sgd: 0.8, momentum: 0.2, nesterov: 0.2, rmsprop: 0.05, adam: 0.1 },
    rosenbrock: { sgd: 0.0015, momentum: 0.0003, nesterov: 0.0003, rmsprop: 0.005, adam: 0.05 },
    saddle: { sgd: 0.1, momentum: 0.05, nesterov: 0.05, rmsprop: 0.01, adam: 0.05 },
  };
  const STEPS = { valley: 150, rosenbrock: 600, saddle: 150 };
  const D = M.OPTIMIZER_DEFAULTS;  // nnlib's defaults (ε = 1e-8)
  const HYPER_DEF = { momentum_mu: D.momentum.momentum, nesterov_mu: D.nesterov.momentum, rmsprop_rho: D.rmsprop.rho,
    rmsprop_eps: D.rmsprop.eps, adam_b1: D.adam.beta1, adam_b2: D.adam.beta2, adam_eps: D.adam.eps };

  function defaults(surface = "valley") {
    const s = { surface, split: false, kappa: 10, steps: STEPS[surface], noise: 0, seed: 0, sx: M.SURFACES[surface].start[0], sy: M.SURFACES[surface].start[1] };
    for (const o of OPTS) { s[o.name] = true; s[`${o.name}_lr`] = LR[surface][o.name]; }
    return Object.assign(s, HYPER_DEF);
  }

  const fmt = (v) => (typeof v === "number" ? String(+v.toPrecision(6)) : String(v));
  let S, hide;
  const ui = {};

  function fromUrl(search) {
    const p = new URLSearchParams(search);
    const surface = M.SURFACES[p.get("surface")] ? p.get("surface") : "valley";
    const s = defaults(surface);
    for (const [k, v] of p) {
      if (!(k in s) || k === "surface") continue;
      if (typeof s[k] === "boolean") s[k] = v !== "0" && v !== "false";
      else if (Number.isFinite(Number(v))) s[k] = Number(v);
    }
    s.steps = Math.max(1, Math.min(2000, Math.round(s.steps)));
    s.kappa = Math.max(1, Math.min(1000, s.kappa));
    for (const k of ["rmsprop_eps", "adam_eps"]) if (!(s[k] >= 0 && s[k] <= 1)) s[k] = HYPER_DEF[k];
    return { state: s, hide: (p.get("hide") || "").split(",").filter(Boolean) };
  }

  function url() {
    const d = defaults(S.surface), p = new URLSearchParams();
    for (const [k, v] of Object.entries(S)) if (fmt(v) !== fmt(d[k]) || k === "surface") p.set(k, typeof v === "boolean" ? (v ? "1" : "0") : fmt(v));
    if (hide.length) p.set("hide", hide.join(","));
    return `${location.pathname}?${p}${location.hash}`;
  }

  function optimizerSpec(o) {
    const spec = { name: o.name, lr: S[`${o.name}_lr`] };
    for (const [short, key] of o.hyper) spec[key] = S[`${o.name}_${short}`];
    return spec;
  }

  function paths() {
    const out = {};
    for (const o of OPTS) {
      if (!S[o.name]) continue;
      out[o.name] = M.optimizerPath(S.surface, optimizerSpec(o), { start: [S.sx, S.sy], steps: S.steps, noise: S.noise, seed: S.seed, kappa: S.kappa });
    }
    return out;
  }

  // --- drawing ----------------------------------------------------------------------------------------------------
  function view() {
    const [x0, x1, y0, y1] = M.SURFACES[S.surface].view;
    const half = Math.max(x1 - x0, y1 - y0) / 2, cx = (x0 + x1) / 2, cy = (y0 + y1) / 2;
    return { x0: cx - half, x1: cx + half, y0: cy - half, y1: cy + half };  // square: equal aspect ratio
  }

  function shading(v, surf, prm) {  // the surface as a small image, log-shaded, with bands
    const N = 120, vals = new Float64Array(N * N);
    let lo = Infinity, hi = -Infinity;
    for (let r = 0; r < N; r++) for (let c = 0; c < N; c++) {
      const x = v.x0 + ((c + 0.5) / N) * (v.x1 - v.x0), y = v.y1 - ((r + 0.5) / N) * (v.y1 - v.y0);
      const f = surf.f(x, y, prm);
      vals[r * N + c] = f; lo = Math.min(lo, f); hi = Math.max(hi, f);
    }
    const small = document.createElement("canvas");
    small.width = small.height = N;
    const sctx = small.getContext("2d"), image = sctx.createImageData(N, N), levels = 14;
    for (let i = 0; i < N * N; i++) {
      const t = Math.log1p(vals[i] - lo) / Math.log1p(hi - lo || 1);   // log shading of f
      const g = 250 - 120 * t - (Math.floor(t * levels) % 2) * 10;
      image.data[4 * i] = g - 20; image.data[4 * i + 1] = g; image.data[4 * i + 2] = 255 - 60 * t; image.data[4 * i + 3] = 255;
    }
    sctx.putImageData(image, 0, 0);
    return small;
  }

  function draw() {
    const canvas = ui.canvas, v = view(), surf = M.SURFACES[S.surface], prm = { kappa: S.kappa };
    const all = paths(), shown = OPTS.filter((o) => all[o.name]), split = S.split && shown.length > 1;
    const size = split ? 240 : 480, cols = split ? 2 : 1, rows = split ? Math.ceil(shown.length / 2) : 1;
    if (canvas.width !== cols * size || canvas.height !== rows * size) { canvas.width = cols * size; canvas.height = rows * size; }
    const ctx = canvas.getContext("2d"), background = shading(v, surf, prm);
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    const panels = split ? shown.map((o, i) => ({ ox: (i % cols) * size, oy: Math.floor(i / cols) * size, list: [o] })) : [{ ox: 0, oy: 0, list: shown }];
    // what a click needs: where each panel is, in canvas pixels (the canvas may be drawn smaller on the page)
    ui.layout = { size, cols, rows, width: canvas.width, height: canvas.height, view: v,
      panels: panels.map(({ ox, oy, list }) => ({ ox, oy, names: list.map((o) => o.name) })) };
    for (const { ox, oy, list } of panels) {
      ctx.save();
      ctx.beginPath(); ctx.rect(ox, oy, size, size); ctx.clip();
      ctx.imageSmoothingEnabled = true;
      ctx.drawImage(background, ox, oy, size, size);
      const px = (x, y) => [ox + ((x - v.x0) / (v.x1 - v.x0)) * size, oy + ((v.y1 - y) / (v.y1 - v.y0)) * size];
      ctx.fillStyle = "#000"; ctx.font = "16px sans-serif";
      for (const m of surf.minima || [surf.minimum]) { const [mx, my] = px(...m); ctx.fillText("★", mx - 6, my + 6); }
      for (const o of list) {
        const path = all[o.name];
        ctx.strokeStyle = o.colour; ctx.lineWidth = 2; ctx.beginPath();
        path.forEach(([x, y], i) => { const [a, b] = px(x, y); if (i === 0) ctx.moveTo(a, b); else ctx.lineTo(a, b); });
        ctx.stroke();
        ctx.fillStyle = o.colour;
        for (const [x, y] of path) { const [a, b] = px(x, y); ctx.fillRect(a - 1.5, b - 1.5, 3, 3); }
      }
      const [sx, sy] = px(S.sx, S.sy);
      ctx.strokeStyle = "#000"; ctx.lineWidth = 2; ctx.beginPath(); ctx.arc(sx, sy, 5, 0, 2 * Math.PI); ctx.stroke();
      if (split) { ctx.fillStyle = list[0].colour; ctx.font = "bold 14px sans-serif"; ctx.fillText(list[0].label, ox + 8, oy + 20); ctx.strokeStyle = "#fff"; ctx.strokeRect(ox, oy, size, size); }
      ctx.restore();
    }
    const summary = shown.map((o) => {
      const path = all[o.name], [lx, ly] = path[path.length - 1], f = surf.f(lx, ly, prm);
      return `${o.label}: f = ${Number.isFinite(f) ? f.toExponential(2) : "diverged"} after ${path.length - 1} steps`;
    });
    ui.summary.textContent = summary.join(" · ") || "Switch on at least one optimiser.";
    canvas.setAttribute("aria-label", `${surf.label}: contour shading of the surface with the optimisers' paths from (${fmt(S.sx)}, ${fmt(S.sy)}). ${ui.summary.textContent}`);
    return all;
  }

  // --- controls ---------------------------------------------------------------------------------------------------
  let uid = 0;
  const el = (tag, props = {}, ...children) => {
    const e = document.createElement(tag);
    for (const [k, val] of Object.entries(props)) if (val !== undefined) e.setAttribute(k, val);
    e.append(...children);
    return e;
  };

  function slider(key, label, min, max, step, { log = false } = {}) {
    const id = `nnx-ex-${key}-${++uid}`;
    const input = el("input", { id, type: "range", min, max, step, name: key });
    const output = el("output", { for: id, class: "nnx-value" });
    const row = el("div", { class: "nnx-row", "data-key": key }, el("label", { for: id }, label), input, output);
    const set = () => { input.value = String(log ? Math.log10(S[key]) : S[key]); output.textContent = fmt(+S[key].toPrecision(3)); };
    input.addEventListener("input", () => { S[key] = log ? +(10 ** Number(input.value)).toPrecision(3) : Number(input.value); changed(); });
    ui.sync.push(set);
    ui.rows[key] = row;
    return row;
  }

  function numberBox(key, label, min, max, step) {  // a typed value (ε spans decades: a slider would not do)
    const id = `nnx-ex-${key}-${++uid}`;
    const input = el("input", { id, type: "number", min, max, step, name: key, class: "nnx-number" });
    const row = el("div", { class: "nnx-row", "data-key": key }, el("label", { for: id }, label), input);
    input.addEventListener("change", () => {
      const v = Number(input.value);
      S[key] = input.value !== "" && v >= min && v <= max ? v : HYPER_DEF[key];
      changed();
    });
    ui.sync.push(() => { input.value = fmt(S[key]); });
    ui.rows[key] = row;
    return row;
  }

  function splitBox() {
    const id = `nnx-ex-split-${++uid}`, box = el("input", { id, type: "checkbox", name: "split" });
    box.addEventListener("change", () => { S.split = box.checked; changed(); });
    ui.sync.push(() => { box.checked = !!S.split; });
    ui.rows.split = el("div", { class: "nnx-row", "data-key": "split" }, el("label", { for: id }, "Side by side (one panel each)"), box);
    return ui.rows.split;
  }

  function build(rootEl) {
    ui.sync = []; ui.rows = {};
    const sid = `nnx-ex-surface-${++uid}`;
    const surface = el("select", { id: sid, name: "surface" }, ...Object.entries(M.SURFACES).map(([k, s]) => el("option", { value: k }, s.label)));
    surface.addEventListener("change", () => { const keep = { noise: S.noise, seed: S.seed }; S = Object.assign(defaults(surface.value), keep); syncAll(); changed(); });
    ui.sync.push(() => { surface.value = S.surface; });
    ui.rows.surface = el("div", { class: "nnx-row nnx-row-wide", "data-key": "surface" }, el("label", { for: sid }, "Surface"), surface);
    const general = el("fieldset", { class: "nnx-group" }, el("legend", {}, "Surface and run"), ui.rows.surface,
      slider("kappa", "Condition number κ", 1, 100, 1), slider("steps", "Steps", 10, 1000, 10),
      slider("noise", "Gradient noise s", 0, 2, 0.01), slider("seed", "Noise seed", 0, 99, 1),
      slider("sx", "Start x", -3, 3, 0.05), slider("sy", "Start y", -3, 3, 0.05), splitBox());
    const groups = OPTS.map((o) => {
      const cid = `nnx-ex-on-${o.name}-${++uid}`;
      const box = el("input", { id: cid, type: "checkbox", name: o.name });
      box.addEventListener("change", () => { S[o.name] = box.checked; changed(); });
      ui.sync.push(() => { box.checked = !!S[o.name]; });
      const head = el("legend", { class: "nnx-opt-head" }, box, el("label", { for: cid }, el("span", { class: "nnx-swatch", style: `background:${o.colour}` }), ` ${o.label}`));
      const fs = el("fieldset", { class: "nnx-group", "data-key": o.name }, head,
        slider(`${o.name}_lr`, `${o.label} learning rate η`, -5, 0.5, 0.05, { log: true }),
        ...o.hyper.map(([short, , sym, min, max, step]) => (short === "eps" ? numberBox : slider)(`${o.name}_${short}`, `${o.label} ${sym}`, min, max, step)));
      ui.rows[o.name] = fs;
      return fs;
    });
    ui.canvas = el("canvas", { width: 480, height: 480, class: "nnx-surface", role: "img", tabindex: "0" });
    ui.canvas.addEventListener("click", (event) => {
      // page pixels → canvas pixels → the panel under the pointer (the layout draw() used) → surface coordinates
      const rect = ui.canvas.getBoundingClientRect(), L = ui.layout;
      if (!L || !(rect.width > 0 && rect.height > 0)) return;
      const cx = ((event.clientX - rect.left) / rect.width) * L.width, cy = ((event.clientY - rect.top) / rect.height) * L.height;
      const panel = L.panels.find((q) => cx >= q.ox && cx < q.ox + L.size && cy >= q.oy && cy < q.oy + L.size);
      if (!panel) return;  // the empty cell of an odd number of panels
      const v = L.view, fx = (cx - panel.ox) / L.size, fy = (cy - panel.oy) / L.size;
      S.sx = +(v.x0 + fx * (v.x1 - v.x0)).toFixed(3);
      S.sy = +(v.y1 - fy * (v.y1 - v.y0)).toFixed(3);
      syncAll(); changed();
    });
    ui.summary = el("p", { class: "nnx-stats", role: "status", "aria-live": "polite" });
    const legend = el("ul", { class: "nnx-legend", "aria-hidden": "true" }, ...OPTS.map((o) => el("li", {}, el("span", { class: "nnx-swatch", style: `background:${o.colour}` }), o.label)));
    rootEl.replaceChildren(el("div", { class: "nnx-ex-layout" }, el("div", { class: "nnx-figures" }, ui.canvas, legend, ui.summary),
      el("form", { class: "nnx-controls", "aria-label": "Explorer settings" }, general, ...groups)));
  }

  function syncAll() {
    ui.sync.forEach((f) => f());
    for (const [key, row] of Object.entries(ui.rows)) row.hidden = hide.includes(key) || (key === "kappa" && S.surface !== "valley");
  }

  let frame = 0;
  function changed() {
    ui.sync.forEach((f) => f());
    history.replaceState(null, "", url());
    if (!frame) frame = requestAnimationFrame(() => { frame = 0; draw(); });
  }

  const hook = {
    NNMath: M,
    state: () => ({ ...S }),
    setState(partial) {
      if (partial.surface && partial.surface !== S.surface && M.SURFACES[partial.surface]) {
        S = Object.assign(defaults(partial.surface), { noise: S.noise, seed: S.seed });
      }
      Object.assign(S, partial); syncAll(); history.replaceState(null, "", url()); draw(); return { ...S }; },
    paths,
    layout: () => JSON.parse(JSON.stringify(ui.layout)),
    url: () => location.href,
  };
  window.nnlibExplorer = hook;
  hook.ready = new Promise((resolve, reject) => {
    const go = () => {
      try {
        const rootEl = document.getElementById("nn-explorer");
        if (!rootEl) throw new Error("no element with id 'nn-explorer'");
        if (!M) throw new Error("nnmath.js must be loaded before optimizer_explorer.js");
        ({ state: S, hide } = fromUrl(location.search));
        build(rootEl);
        syncAll();
        draw();
        rootEl.classList.add("nnx-ready");
        resolve(true);
      } catch (error) {
        console.error("optimizer_explorer.js:", error);
        reject(error);
      }
    };
    if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", go); else go();
  });
  hook.ready.catch(() => {});
})();
