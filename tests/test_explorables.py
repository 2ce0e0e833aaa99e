"""The explorables (book/playground.md, book/optimizer_explorer.md) and their shared JavaScript mathematics
(book/_demo/nnmath.js), in a headless Chromium, against nnlib in Python.

* Random numbers and data: the page's NumPy-compatible default_rng (SeedSequence → PCG64, random, normal by the
  ziggurat, permutation) and make_moons / make_circles / make_spirals give nnlib.data's numbers for the same seeds.
* Training: through the playground's test hook, its trainer runs 50 steps from the page's own settings (every
  setting given, BASE); nnlib's Model.fit (float64) runs from the same seed, which gives the same initial weights and
  batch order (the generator is NumPy's); each optimiser (ε included), and L2, clipping (which must clip: the
  gradient norm exceeds τ on most steps, the same steps on both sides), step/cosine schedules and dropout, must
  agree to 1e-9 relative.
* Dropout on its own: inverted scaling and the drop rate, statistically. Optimiser explorer: its paths against
  nnlib.optimizers stepping on the same surfaces with the same gradient noise.
* The pages: every control labelled and usable by keyboard, the URL round-trips (hide=, preset=; preset links keep
  hide=), a click in any side-by-side panel of the explorer sets the start there, no console errors, phone width,
  and every interactive page (Draw a digit too) also opened from disk (file://).
* Speed (printed, not asserted): training steps/s, frames/s and heat maps/s for 2-16-16-3 on 400 points and for a
  2-(64×6)-3 network; the heat map is not recomputed when only the cursor moves.

Agreement figures and speeds go to _build/test-artifacts/explorables-metrics.json, beside screenshots.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from book_site import ARTIFACTS, recorded_metrics, watch

PLAYGROUND, EXPLORER, DIGIT = "book/playground.html", "book/optimizer_explorer.html", "book/draw_a_digit.html"
WAIT_MS = 20_000
RTOL = 1e-9
STEPS = 50


@pytest.fixture(scope="module")
def metrics():
    with recorded_metrics("explorables-metrics.json") as found:
        yield found


def _open(browser, url, hook, *, viewport=None):
    context = browser.new_context(viewport=viewport or {"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    page.problems = watch(page)
    page.goto(url, wait_until="load", timeout=WAIT_MS)
    page.wait_for_function(f"() => window.{hook} && window.{hook}.ready", timeout=WAIT_MS)
    page.evaluate(f"() => window.{hook}.ready")
    return context, page


@pytest.fixture(scope="module")
def playground(browser, site_url):
    context, page = _open(browser, f"{site_url}/{PLAYGROUND}", "nnlibPlayground")
    yield page
    context.close()


@pytest.fixture(scope="module")
def explorer(browser, site_url):
    context, page = _open(browser, f"{site_url}/{EXPLORER}", "nnlibExplorer")
    yield page
    context.close()


# --- random numbers and data -------------------------------------------------------------------------------------

def test_generator_matches_numpy(playground):
    seeds = [0, 1, 7, 42, 2**40 + 3]
    js = playground.evaluate("""(seeds) => seeds.map((seed) => {
        const G = nnlibPlayground.NNMath.Generator;
        const a = new G(seed), b = new G(seed), c = new G(seed), d = new G(seed);
        return {random: Array.from({length: 50}, () => a.random()),
                normal: Array.from({length: 3000}, () => b.normal(0.5, 2)),
                perm: [Array.from(c.permutation(10)), Array.from(c.permutation(1000))],
                int63: d.integers63().toString()}; })""", seeds)
    worst = 0.0
    for seed, got in zip(seeds, js):
        rng = np.random.default_rng(seed)
        assert got["random"] == rng.random(50).tolist(), f"seed {seed}: random() differs"
        normal = np.random.default_rng(seed).normal(0.5, 2, 3000)
        worst = max(worst, float(np.max(np.abs(np.array(got["normal"]) - normal) / np.maximum(1, np.abs(normal)))))
        rng = np.random.default_rng(seed)
        assert got["perm"] == [rng.permutation(10).tolist(), rng.permutation(1000).tolist()], f"seed {seed}"
        assert int(got["int63"]) == int(np.random.default_rng(seed).integers(2**63))
    print(f"\nziggurat normals vs NumPy: largest difference {worst:.1e}")
    assert worst < 1e-12


DATA_CASES = [
    ("moons", {"n": 200, "noise": 0.1, "seed": 0}), ("moons", {"n": 301, "noise": 0.3, "seed": 5}),
    ("circles", {"n": 200, "noise": 0.05, "seed": 1}), ("circles", {"n": 99, "noise": 0.2, "factor": 0.3, "seed": 9}),
    ("spirals", {"n": 300, "classes": 2, "noise": 0.2, "seed": 0}), ("spirals", {"n": 301, "classes": 3, "noise": 0.1, "seed": 3}),
    ("spirals", {"n": 500, "classes": 4, "noise": 0.3, "seed": 11}), ("spirals", {"n": 250, "classes": 5, "noise": 0.0, "seed": 2}),
]


def test_toy_data_match_nnlib(playground):
    """Same seed, same points: the page's make_moons/make_circles/make_spirals against nnlib.data's."""
    from nnlib import data

    got = playground.evaluate("""(cases) => cases.map(([kind, o]) => {
        const M = nnlibPlayground.NNMath, {n, ...rest} = o;
        const d = {moons: M.makeMoons, circles: M.makeCircles, spirals: M.makeSpirals}[kind](n, rest);
        return {X: Array.from(d.X), y: Array.from(d.y)}; })""", DATA_CASES)
    for (kind, kwargs), js in zip(DATA_CASES, got):
        kwargs = dict(kwargs)
        X, y = getattr(data, f"make_{kind}")(kwargs.pop("n"), **kwargs)
        np.testing.assert_array_equal(np.array(js["y"]), y, err_msg=f"{kind} {kwargs}")
        # nnlib returns float32 coordinates, the page float32-rounded float64: equal but for a last-ulp cos/sin
        np.testing.assert_allclose(np.array(js["X"]).reshape(-1, 2), X, rtol=0, atol=1e-7, err_msg=f"{kind} {kwargs}")


def test_playground_data_and_split_match_nnlib(playground):
    from nnlib import data

    playground.evaluate("() => nnlibPlayground.setState({data: 'spirals', classes: 4, n: 350, noise: 0.25, dseed: 17, val: 0.3})")
    got = playground.evaluate("() => nnlibPlayground.data()")
    X, y = data.make_spirals(350, classes=4, noise=0.25, seed=17)
    X_tr, X_val, y_tr, y_val = data.train_val_split(X, y, val_size=0.3, seed=17)
    np.testing.assert_array_equal(np.array(got["all"]["X"]).reshape(-1, 2), X.astype(np.float64))
    np.testing.assert_array_equal(np.array(got["train"]["X"]).reshape(-1, 2), X_tr)
    np.testing.assert_array_equal(np.array(got["val"]["y"]), y_val)
    np.testing.assert_array_equal(np.array(got["train"]["y"]), y_tr)


# --- training: the playground's trainer against nnlib ------------------------------------------------------------

#: Every training setting of the playground, so that each case below is independent of the one before it
#: (setState keeps what it is not given). test_base_covers_every_setting keeps this list complete.
BASE = {"data": "moons", "classes": 3, "n": 400, "noise": 0.15, "dseed": 1, "val": 0.2, "batch": 32, "layers": "8,8",
        "act": "relu", "init": "he", "dropout": 0, "optimizer": "sgd", "lr": 0.1, "momentum": 0.9, "rho": 0.9,
        "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "l2": 0, "clip": 0, "schedule": "none", "every": 20, "factor": 0.5,
        "epochs": 100, "seed": 0}
NOT_TRAINING = {"pen", "units"}  # the class of a drawn point, the activation maps: they change no number
CASES = {
    "sgd": {**BASE, "optimizer": "sgd", "lr": 0.3},
    "momentum": {**BASE, "optimizer": "momentum", "lr": 0.05, "momentum": 0.9, "act": "tanh", "init": "xavier"},
    "nesterov": {**BASE, "optimizer": "nesterov", "lr": 0.05, "momentum": 0.8},
    "rmsprop+eps": {**BASE, "optimizer": "rmsprop", "lr": 0.01, "rho": 0.95, "eps": 1e-3, "act": "sigmoid",
                    "init": "xavier"},
    "adam+eps": {**BASE, "optimizer": "adam", "lr": 0.02, "beta1": 0.85, "beta2": 0.99, "eps": 1e-4},
    # τ = 0.3 and 0.05 are below most of these runs' gradient norms: the test checks that clipping happened
    "adam+l2+clip+cosine": {**BASE, "optimizer": "adam", "lr": 0.03, "l2": 0.001, "clip": 0.3, "schedule": "cosine",
                            "epochs": 5, "data": "spirals", "classes": 3, "layers": "16,16", "act": "tanh"},
    "sgd+l2+clip+step": {**BASE, "optimizer": "sgd", "lr": 0.5, "l2": 0.01, "clip": 0.05, "schedule": "step",
                         "every": 2, "factor": 0.5, "data": "circles", "init": "uniform"},
    "nesterov+dropout": {**BASE, "optimizer": "nesterov", "lr": 0.05, "momentum": 0.9, "dropout": 0.25,
                         "layers": "16,12", "seed": 3},
}


def _nnlib_run(state, train, val, steps):
    """nnlib's Model.fit in float64 with the playground's settings; returns initial weights, per-step losses, weights,
    the history and the gradient norms ClipByGlobalNorm saw (None without clipping)."""
    from nnlib import init as inits
    from nnlib.clipping import ClipByGlobalNorm
    from nnlib.optimizers import SGD, Adam, Momentum, RMSProp
    from nnlib.regularization import L2, Dropout
    from nnlib.schedules import CosineDecay, StepDecay
    from nnlib.training import Model

    init = {"he": inits.he_normal, "xavier": inits.xavier_normal, "uniform": inits.uniform}[state["init"]]
    classes = 2 if state["data"] in ("moons", "circles") else state["classes"]
    model = Model(2, seed=state["seed"], dtype=np.float64)
    for width in map(int, state["layers"].split(",")):
        model.dense(width, state["act"], init=init)
        if state["dropout"] > 0:
            model.add(Dropout(state["dropout"]))
    model.dense(classes, None, init=init)
    initial = model.get_weights()
    name = state["optimizer"]
    optimizer = {"sgd": lambda: SGD(state["lr"]),
                 "momentum": lambda: Momentum(state["lr"], state["momentum"]),
                 "nesterov": lambda: Momentum(state["lr"], state["momentum"], nesterov=True),
                 "rmsprop": lambda: RMSProp(state["lr"], state["rho"], state["eps"]),
                 "adam": lambda: Adam(state["lr"], state["beta1"], state["beta2"], state["eps"])}[name]()
    callbacks, clip = [], None
    if state["l2"] > 0:
        callbacks.append(L2(state["l2"]))
    if state["clip"] > 0:
        clip = ClipByGlobalNorm(state["clip"])
        callbacks.append(clip)
    if state["schedule"] == "step":
        callbacks.append(StepDecay(state["every"], state["factor"]))
    elif state["schedule"] == "cosine":
        callbacks.append(CosineDecay(state["epochs"]))
    X, y = np.array(train["X"]).reshape(-1, 2), np.array(train["y"], dtype=np.int64)
    Xv, yv = np.array(val["X"]).reshape(-1, 2), np.array(val["y"], dtype=np.int64)
    per_epoch = math.ceil(len(X) / state["batch"])
    assert steps % per_epoch == 0, "choose the sizes so that the steps make whole epochs"
    losses, step = [], model.train_step

    def recording(Xb, yb, cbs=()):
        loss, correct = step(Xb, yb, cbs)
        losses.append(loss)
        return loss, correct

    model.train_step = recording
    history = model.fit(X, y, epochs=steps // per_epoch, batch_size=state["batch"], optimizer=optimizer,
                        validation_data=(Xv, yv), callbacks=callbacks, verbose=False)
    return initial, np.array(losses), model.get_weights(), history, (np.array(clip.norms) if clip else None)


def _rel(a, b):
    a, b = np.ravel(a), np.ravel(b)
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-300))


def test_base_covers_every_setting(playground):
    """BASE sets every setting that changes the training, so no case inherits anything from the one before."""
    settings = set(playground.evaluate("() => nnlibPlayground.state()"))
    assert settings - NOT_TRAINING - set(BASE) == set(), "add these settings to BASE"
    assert set(BASE) <= settings


@pytest.mark.parametrize("case", list(CASES))
def test_trainer_agrees_with_nnlib(playground, metrics, case):
    state = playground.evaluate("(s) => nnlibPlayground.setState(s)", CASES[case])
    assert {k: state[k] for k in BASE} == CASES[case], f"{case}: the page did not take every setting"
    js = playground.evaluate("""(steps) => {
        const pg = nnlibPlayground, t = pg.trainer(), initial = t.weights();
        const losses = pg.step(steps);
        return {initial, losses, weights: t.weights(), data: pg.data(), history: t.history,
                lrs: t.history.map((h) => h.lr), hyper: t.optimizer.hyper, clip: t.clipStats}; }""", STEPS)
    initial, losses, weights, history, norms = _nnlib_run(state, js["data"]["train"], js["data"]["val"], STEPS)
    if state["optimizer"] in ("rmsprop", "adam"):
        assert js["hyper"]["eps"] == state["eps"], f"{case}: ε did not reach the page's optimiser"
    if state["clip"] > 0:  # clipping must have happened, on both sides, on the same steps
        tau, clipped = state["clip"], int(np.sum(norms > state["clip"]))
        assert len(norms) == STEPS and js["clip"]["steps"] == STEPS
        assert clipped >= STEPS // 2, f"{case}: τ = {tau} clipped only {clipped} of {STEPS} steps in nnlib"
        assert js["clip"]["clipped"] == clipped, f"{case}: the page clipped {js['clip']['clipped']} steps, nnlib {clipped}"
        assert js["clip"]["largest"] == pytest.approx(float(norms.max()), rel=RTOL)
        metrics.setdefault("clipping", {})[case] = {"tau": tau, "clipped_steps": clipped, "steps": STEPS,
                                                    "largest_norm": float(norms.max())}
        print(f"\n{case}: ‖g‖ > τ = {tau} on {clipped} of {STEPS} steps (largest ‖g‖ {norms.max():.3f})", end="")
    init_rel = max(_rel(a, b) for a, b in zip(js["initial"], initial, strict=True))
    assert init_rel == 0.0 or init_rel < 1e-15, f"{case}: initial weights differ from Model(seed) ({init_rel:.1e})"
    loss_rel = float(np.max(np.abs(np.array(js["losses"]) - losses) / np.abs(losses)))
    weight_rel = max(_rel(a, b) for a, b in zip(js["weights"], weights, strict=True))
    val_rel = float(np.max(np.abs(np.array([h["val_loss"] for h in js["history"]]) - history["val_loss"].to_numpy())
                           / history["val_loss"].to_numpy()))
    np.testing.assert_allclose(js["lrs"], history["lr"].to_numpy(), rtol=1e-15)
    metrics.setdefault("trainer_vs_nnlib", {})[case] = {"loss_rel": loss_rel, "weight_rel": weight_rel,
                                                        "val_loss_rel": val_rel}
    print(f"\n{case}: {STEPS} steps, losses agree to {loss_rel:.1e}, weights to {weight_rel:.1e} (relative), "
          f"validation loss to {val_rel:.1e}; final loss {losses[-1]:.4f}")
    assert loss_rel < RTOL and weight_rel < RTOL and val_rel < RTOL


def test_dropout_is_inverted_and_drops_at_rate_p(playground, metrics):
    n = 200_000
    for p in (0.1, 0.5, 0.8):
        got = playground.evaluate("""([n, p]) => {
            const M = nnlibPlayground.NNMath, ones = new Float64Array(n).fill(1);
            const {out, mask} = M.dropout(ones, p, 123);
            let zeros = 0, kept = new Set(), sum = 0;
            for (const v of out) { if (v === 0) zeros++; else kept.add(v); sum += v; }
            const evalOut = M.forward([{type: 'Dropout', p, rng: new M.Generator(1)}], ones, n, {training: false, width: 1}).out;
            const layer = {type: 'Dropout', p, rng: new M.Generator(5)};
            const fw = M.forward([layer], ones, n, {training: true, keep: true, width: 1});
            const back = M.backward([layer], fw.cache, new Float64Array(n).fill(2), n);
            return {zeros, kept: [...kept], mean: sum / n, evalIdentity: evalOut.every((v) => v === 1),
                    sameMask: fw.out.every((v, i) => v === 0 ? true : v === 1 / (1 - p))}; }""", [n, p])
        rate, sigma = got["zeros"] / n, math.sqrt(p * (1 - p) / n)
        assert abs(rate - p) < 5 * sigma, f"p={p}: dropped {rate:.4f} of the units"
        assert got["kept"] == [1 / (1 - p)], f"p={p}: kept units should be scaled by 1/(1 - p), got {got['kept'][:3]}"
        assert abs(got["mean"] - 1) < 5 * sigma / (1 - p), "inverted dropout keeps the expected activation"
        assert got["evalIdentity"] and got["sameMask"]
        metrics.setdefault("dropout_rates", {})[str(p)] = rate
    print(f"\ndropout rates measured on {n:,} units: {metrics['dropout_rates']}")


# --- optimiser explorer against nnlib.optimizers -------------------------------------------------------------------

def _grad(surface, x, y, kappa):
    if surface == "valley":
        return np.array([x / kappa, y])
    if surface == "rosenbrock":
        return np.array([-2 * (1 - x) - 400 * x * (y - x * x), 200 * (y - x * x)])
    return np.array([x, -y + y ** 3])


def _python_path(surface, name, state):
    from nnlib.optimizers import SGD, Adam, Momentum, RMSProp

    lr = state[f"{name}_lr"]
    opt = {"sgd": lambda: SGD(lr), "momentum": lambda: Momentum(lr, state["momentum_mu"]),
           "nesterov": lambda: Momentum(lr, state["nesterov_mu"], nesterov=True),
           "rmsprop": lambda: RMSProp(lr, state["rmsprop_rho"], state["rmsprop_eps"]),
           "adam": lambda: Adam(lr, state["adam_b1"], state["adam_b2"], state["adam_eps"])}[name]()
    theta, rng = np.array([state["sx"], state["sy"]], dtype=np.float64), np.random.default_rng(state["seed"])
    path = [theta.copy()]
    for _ in range(state["steps"]):
        grad = _grad(surface, theta[0], theta[1], state["kappa"]) + rng.normal(0, state["noise"], 2)
        opt.step([theta], [grad])
        path.append(theta.copy())
        if not np.all(np.isfinite(theta)) or np.abs(theta).max() > 1e6:
            break
    return np.array(path)


@pytest.mark.parametrize("surface, extra", [("valley", {"kappa": 25}), ("rosenbrock", {"steps": 300}),
                                            ("saddle", {"noise": 0.05, "seed": 4}), ("valley", {"noise": 0.3, "kappa": 5}),
                                            ("valley", {"rmsprop_eps": 0.05, "adam_eps": 0.02})])
def test_explorer_paths_match_nnlib_optimizers(explorer, metrics, surface, extra):
    explorer.evaluate("(s) => nnlibExplorer.setState(s)", {"surface": surface})
    # the surface's own defaults (learning rates, start) first, then the case's changes
    state = explorer.evaluate("([surface, extra]) => { nnlibExplorer.setState({surface}); return nnlibExplorer.setState(extra); }",
                              [surface, extra])
    paths = explorer.evaluate("() => nnlibExplorer.paths()")
    assert set(paths) == {"sgd", "momentum", "nesterov", "rmsprop", "adam"}
    worst = 0.0
    for name, got in paths.items():
        expected = _python_path(surface, name, state)
        got = np.array(got)
        assert got.shape == expected.shape, (name, got.shape, expected.shape)
        rel = float(np.max(np.abs(got - expected)) / max(1.0, float(np.abs(expected).max())))
        worst = max(worst, rel)
        assert rel < RTOL, f"{surface}, {name}: path differs from nnlib by {rel:.1e}"
        if f"{name}_eps" in extra:  # ε must matter here, or the case would not test it
            default = _python_path(surface, name, {**state, f"{name}_eps": 1e-8})
            assert np.abs(default[-1] - expected[-1]).max() > 1e-3, f"{name}: ε = {extra[f'{name}_eps']} changes nothing"
    metrics.setdefault("explorer_vs_nnlib", {})[f"{surface}{extra}"] = worst
    print(f"\nexplorer {surface} {extra}: paths of 5 optimisers agree with nnlib.optimizers to {worst:.1e}")


# --- the pages ---------------------------------------------------------------------------------------------------

#: [text width, room] of each select's longest option (text + 28 px for the arrow must fit in the select's box)
SELECT_ROOM = """(root) => [...document.querySelectorAll(root + ' select')].filter((s) => s.offsetParent).map((s) => {
    const ctx = document.createElement('canvas').getContext('2d'); ctx.font = getComputedStyle(s).font;
    return [s.name, Math.max(...[...s.options].map((o) => ctx.measureText(o.text).width)) + 28, s.clientWidth]; })"""

UNLABELLED = """(root) => [...document.querySelectorAll(root + ' input, ' + root + ' select, ' + root + ' button')]
    .filter((e) => !(e.labels && e.labels.length) && !e.getAttribute('aria-label') && !e.textContent.trim())
    .map((e) => e.outerHTML.slice(0, 80))"""


def test_playground_controls_keyboard_and_url(playground, browser, site_url):
    page = playground
    page.evaluate("() => nnlibPlayground.setState({data: 'moons', n: 400, noise: 0.15, layers: '8,8', optimizer: 'adam',"
                  " lr: 0.01, dropout: 0, l2: 0, clip: 0, schedule: 'none', seed: 0, dseed: 0, batch: 32})")
    assert page.evaluate(UNLABELLED, "#nn-playground") == []
    # keyboard only: the optimiser select, a range slider, then Play and Pause
    eps_shown = "() => !document.querySelector('#nn-playground .nnx-row[data-key=eps]').hidden"
    assert page.evaluate(eps_shown) and page.evaluate("() => nnlibPlayground.state().eps") == 1e-8  # nnlib's default
    page.focus("#nn-playground select[name=optimizer]")
    page.keyboard.press("ArrowUp")  # adam -> rmsprop
    assert page.evaluate("() => nnlibPlayground.state().optimizer") == "rmsprop"
    assert page.evaluate(eps_shown)
    page.fill("#nn-playground input[name=eps]", "0.001")  # typed, then Tab: a live change, applied without a reset
    page.keyboard.press("Tab")
    assert page.evaluate("() => [nnlibPlayground.state().eps, nnlibPlayground.trainer().optimizer.hyper.eps]") == [1e-3, 1e-3]
    assert "eps=0.001" in page.evaluate("() => location.search")
    page.evaluate("() => nnlibPlayground.setState({optimizer: 'momentum'})")
    assert not page.evaluate(eps_shown), "ε is shown only for RMSProp and Adam"
    page.evaluate("() => nnlibPlayground.setState({optimizer: 'rmsprop', eps: 1e-8})")
    page.focus("#nn-playground input[name=noise]")
    page.keyboard.press("ArrowRight")
    assert abs(page.evaluate("() => nnlibPlayground.state().noise") - 0.16) < 1e-9
    page.focus("#nn-playground .nnx-primary")
    page.keyboard.press("Enter")
    page.wait_for_function("() => nnlibPlayground.trainer().steps > 5")
    page.keyboard.press("Space")
    assert not page.evaluate("() => nnlibPlayground.playing()")
    # add a layer with the keyboard, set its width
    page.focus("text=Add layer")
    page.keyboard.press("Enter")
    assert page.evaluate("() => nnlibPlayground.state().layers") == "8,8,8"
    # a point added with the keyboard on the map: the data set becomes "custom"
    page.focus("#nn-playground canvas.nnx-map")
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("Enter")
    state = page.evaluate("() => nnlibPlayground.state()")
    assert state["data"] == "custom" and len(page.evaluate("() => nnlibPlayground.points()")) == 401

    # the URL round-trips, custom points included
    url = page.evaluate("() => nnlibPlayground.url()")
    context, again = _open(browser, url, "nnlibPlayground")
    try:
        assert again.evaluate("() => nnlibPlayground.state()") == state
        np.testing.assert_allclose(again.evaluate("() => nnlibPlayground.points()"),
                                   page.evaluate("() => nnlibPlayground.points()"), atol=6e-4)
        assert not again.problems, again.problems
    finally:
        context.close()

    # hide= hides controls (their values still apply); preset= sets a whole configuration
    context, hidden = _open(browser, f"{site_url}/{PLAYGROUND}?preset=dead-relu&hide=optimizer,lr", "nnlibPlayground")
    try:
        visible = hidden.evaluate("() => Object.fromEntries(['optimizer', 'lr', 'batch'].map((k) => [k,"
                                  " !document.querySelector(`#nn-playground .nnx-row[data-key=${k}]`).hidden]))")
        assert visible == {"optimizer": False, "lr": False, "batch": True}
        s = hidden.evaluate("() => nnlibPlayground.state()")
        assert (s["optimizer"], s["lr"], s["batch"]) == ("sgd", 3, 16)
        hidden.evaluate("() => nnlibPlayground.setState({batch: 20})")
        assert "hide=optimizer%2Clr" in hidden.evaluate("() => location.search") or \
            "hide=optimizer,lr" in hidden.evaluate("() => decodeURIComponent(location.search)")
        # the preset links keep the restriction: the hidden controls stay hidden, at this page's values
        links = hidden.evaluate("() => [...document.querySelectorAll('#nn-playground .nnx-presets a')]"
                                ".map((a) => Object.fromEntries(new URLSearchParams(new URL(a.href).search)))")
        assert len(links) == len(hidden.evaluate("() => Object.keys(nnlibPlayground.PRESETS)"))
        assert all((q["hide"], q["optimizer"], q["lr"]) == ("optimizer,lr", "sgd", "3") for q in links), links
        hidden.click("#nn-playground .nnx-presets a[href*='preset=adam-vs-sgd']")
        hidden.wait_for_function("() => location.search.includes('adam-vs-sgd') && window.nnlibPlayground")
        hidden.evaluate("() => nnlibPlayground.ready")
        s = hidden.evaluate("() => nnlibPlayground.state()")
        assert (s["data"], s["layers"], s["optimizer"], s["lr"]) == ("spirals", "16,16", "sgd", 3)
        assert hidden.evaluate("() => nnlibPlayground.hidden()") == ["optimizer", "lr"]
        assert hidden.evaluate("() => ['optimizer', 'lr'].every((k) =>"
                               " document.querySelector(`#nn-playground .nnx-row[data-key=${k}]`).hidden)")
        assert not hidden.problems, hidden.problems
    finally:
        context.close()
    # hide=presets hides the list of presets (a page restricted to one experiment)
    context, bare = _open(browser, f"{site_url}/{PLAYGROUND}?hide=presets,optimizer", "nnlibPlayground")
    try:
        assert bare.evaluate("() => document.querySelector('#nn-playground .nnx-presets').hidden")
        assert not bare.locator("#nn-playground .nnx-presets").is_visible()
        assert not bare.problems, bare.problems
    finally:
        context.close()
    assert not page.problems, page.problems


def test_presets_train(browser, site_url):
    """Each preset link loads and trains a few steps without errors (the dead-ReLU one kills units)."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        page.set_default_timeout(WAIT_MS)
        problems = watch(page)
        page.goto(f"{site_url}/{PLAYGROUND}", wait_until="load")
        page.evaluate("() => nnlibPlayground.ready")
        presets = page.evaluate("() => Object.keys(nnlibPlayground.PRESETS)")
        assert len(presets) >= 3
        for name in presets:
            page.goto(f"{site_url}/{PLAYGROUND}?preset={name}", wait_until="load")
            page.evaluate("() => nnlibPlayground.ready")
            losses = page.evaluate("() => nnlibPlayground.step(30)")
            assert len(losses) == 30, name
        page.goto(f"{site_url}/{PLAYGROUND}?preset=dead-relu", wait_until="load")
        page.evaluate("() => nnlibPlayground.ready")
        dead = page.evaluate("""() => { const pg = nnlibPlayground; pg.step(200); const t = pg.trainer();
            const M = pg.NNMath, d = pg.data().train, X = Float64Array.from(d.X), n = d.y.length;
            const first = M.forward(t.layers.slice(0, 2), X, n, {width: 2});
            let dead = 0; for (let j = 0; j < first.width; j++) { let alive = false;
              for (let i = 0; i < n; i++) if (first.out[i * first.width + j] > 0) { alive = true; break; }
              if (!alive) dead++; } return dead; }""")
        print(f"\ndead-ReLU preset: {dead} of 8 first-layer units dead after 200 steps")
        assert dead >= 1
        assert not problems, problems
    finally:
        context.close()


def test_explorer_controls_keyboard_and_url(explorer, browser):
    page = explorer
    page.evaluate("() => nnlibExplorer.setState({surface: 'saddle'}) && nnlibExplorer.setState({surface: 'valley', steps: 150, noise: 0, seed: 0})")
    assert page.evaluate(UNLABELLED, "#nn-explorer") == []
    room = page.evaluate(SELECT_ROOM, "#nn-explorer")
    assert room and all(need <= width for _, need, width in room), f"a select is too narrow for its text: {room}"
    page.focus("#nn-explorer select[name=surface]")
    page.keyboard.press("ArrowDown")  # valley -> rosenbrock
    assert page.evaluate("() => nnlibExplorer.state().surface") == "rosenbrock"
    page.focus("#nn-explorer input[name=adam_lr]")
    page.keyboard.press("ArrowLeft")
    page.focus("#nn-explorer input[name=sgd]")
    page.keyboard.press("Space")
    state = page.evaluate("() => nnlibExplorer.state()")
    assert state["sgd"] is False and abs(state["adam_lr"] - 0.0446) < 1e-3
    assert "sgd" not in page.evaluate("() => nnlibExplorer.paths()")
    ratio = page.evaluate("() => { const c = document.querySelector('#nn-explorer canvas'); const r = c.getBoundingClientRect();"
                          " return [c.width / c.height, r.width / r.height]; }")
    assert ratio[0] == 1 and abs(ratio[1] - 1) < 0.01, "equal aspect ratio: the plot must be square"
    # side by side: one square panel per optimiser (4 switched on: 2 × 2)
    page.focus("#nn-explorer input[name=split]")
    page.keyboard.press("Space")
    assert page.evaluate("() => { const c = document.querySelector('#nn-explorer canvas'); return [c.width, c.height]; }") == [480, 480]
    page.evaluate("() => nnlibExplorer.setState({sgd: true})")
    assert page.evaluate("() => { const c = document.querySelector('#nn-explorer canvas'); return [c.width, c.height]; }") == [480, 720]
    page.evaluate("() => nnlibExplorer.setState({sgd: false, split: false})")
    context, again = _open(browser, page.evaluate("() => nnlibExplorer.url()") + "&hide=noise", "nnlibExplorer")
    try:
        assert again.evaluate("() => nnlibExplorer.state()") == state
        assert again.evaluate("() => document.querySelector('#nn-explorer [data-key=noise]').hidden")
        assert not again.problems, again.problems
    finally:
        context.close()
    assert not page.problems, page.problems


def test_explorer_click_in_any_panel_sets_the_start(explorer):
    """Side by side with 5 optimisers the panels form a 2 × 3 grid: a click in the 3rd panel (first column, second
    row) sets the start at the surface point under the pointer, in that panel's own coordinates."""
    page = explorer
    page.evaluate("() => nnlibExplorer.setState({surface: 'rosenbrock'}) && nnlibExplorer.setState({sgd: true,"
                  " momentum: true, nesterov: true, rmsprop: true, adam: true, split: true, steps: 50})")
    layout = page.evaluate("() => nnlibExplorer.layout()")
    assert (layout["cols"], layout["rows"], len(layout["panels"])) == (2, 3, 5)
    canvas = page.locator("#nn-explorer canvas")
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    scale = box["width"] / layout["width"]  # page pixels per canvas pixel (the canvas is drawn smaller)
    v, size = layout["view"], layout["size"]

    def click(panel, fx, fy):
        q = layout["panels"][panel]
        page.mouse.click(box["x"] + (q["ox"] + fx * size) * scale, box["y"] + (q["oy"] + fy * size) * scale)
        return page.evaluate("() => nnlibExplorer.state()")

    tolerance = 1.5 * (v["x1"] - v["x0"]) / (size * scale)  # a pixel and a half of the panel, in surface units
    for panel, (fx, fy) in [(2, (0.25, 0.7)), (4, (0.8, 0.3)), (1, (0.5, 0.5))]:
        assert layout["panels"][panel]["names"] == [["sgd", "momentum", "nesterov", "rmsprop", "adam"][panel]]
        state = click(panel, fx, fy)
        expected = (v["x0"] + fx * (v["x1"] - v["x0"]), v["y1"] - fy * (v["y1"] - v["y0"]))
        assert abs(state["sx"] - expected[0]) < tolerance and abs(state["sy"] - expected[1]) < tolerance, \
            f"panel {panel + 1}: start ({state['sx']}, {state['sy']}), expected about {expected}"
        search = page.evaluate("() => Object.fromEntries(new URLSearchParams(location.search))")
        assert float(search["sx"]) == state["sx"] and float(search["sy"]) == state["sy"], search
        paths = page.evaluate("() => nnlibExplorer.paths()")
        assert all(path[0] == [state["sx"], state["sy"]] for path in paths.values())
    before = page.evaluate("() => nnlibExplorer.state()")
    page.mouse.click(box["x"] + 1.5 * size * scale, box["y"] + 2.5 * size * scale)  # the empty 6th cell
    assert page.evaluate("() => nnlibExplorer.state()") == before
    # one panel: the whole canvas
    page.evaluate("() => nnlibExplorer.setState({split: false, steps: 150})")
    layout = page.evaluate("() => nnlibExplorer.layout()")
    box = canvas.bounding_box()
    scale, v, size = box["width"] / layout["width"], layout["view"], layout["size"]
    assert (layout["cols"], layout["rows"], size) == (1, 1, layout["width"])
    state = click(0, 0.1, 0.9)
    tolerance = 1.5 * (v["x1"] - v["x0"]) / (size * scale)
    assert abs(state["sx"] - (v["x0"] + 0.1 * (v["x1"] - v["x0"]))) < tolerance
    assert abs(state["sy"] - (v["y1"] - 0.9 * (v["y1"] - v["y0"]))) < tolerance
    assert not page.problems, page.problems


def test_speed(playground, metrics):
    """2-16-16-3 on 400 training points, then a 2-(64×6)-3 network: steps per second while playing, frames per second
    and heat maps per second (the heat map is recomputed only for new weights, and for a big network not on every
    frame, so that drawing does not take the training's time)."""
    page = playground
    page.evaluate("() => nnlibPlayground.setState({data: 'spirals', classes: 3, n: 500, val: 0.2, layers: '16,16',"
                  " optimizer: 'adam', lr: 0.01, batch: 32, units: false})")
    assert page.evaluate("() => nnlibPlayground.data().train.y.length") == 400
    speed = page.evaluate("() => nnlibPlayground.measure(2000)")
    js_step = page.evaluate("""() => { const t = nnlibPlayground.trainer(); const t0 = performance.now();
        let n = 0; while (performance.now() - t0 < 500) { t.step(); n++; } return n / ((performance.now() - t0) / 1000); }""")
    page.evaluate("() => nnlibPlayground.setState({layers: '64,64,64,64,64,64'})")
    big = page.evaluate("() => nnlibPlayground.measure(2000)")
    metrics["speed"] = {**speed, "stepsPerSecondFlatOut": js_step, "big_64x6": big}
    for name, m in (("2-16-16-3", speed), ("2-(64×6)-3", big)):
        share = m["renderMsPerFrame"] / max(1e-9, m["renderMsPerFrame"] + m["trainMsPerFrame"])
        print(f"\nplayground speed, {name}, 400 points, batch 32: {m['stepsPerSecond']:.0f} steps/s while playing at "
              f"{m['framesPerSecond']:.1f} frames/s and {m['heatMapsPerSecond']:.1f} heat maps/s "
              f"({m['trainMsPerFrame']:.1f} ms training + {m['renderMsPerFrame']:.1f} ms drawing per frame, "
              f"drawing {share:.0%} of the time)", end="")
        assert m["framesPerSecond"] > 0 and m["stepsPerSecond"] > 0 and 0 < m["heatMapsPerSecond"] <= m["framesPerSecond"] + 1
    print(f"; 2-16-16-3 flat out {js_step:.0f} steps/s")

    # paused: moving the map's cursor redraws the points and the cursor, not the heat map; a step redraws it once
    page.evaluate("() => nnlibPlayground.setState({layers: '16,16'})")
    page.wait_for_timeout(200)
    before = page.evaluate("() => nnlibPlayground.counters()")
    page.focus("#nn-playground canvas.nnx-map")
    for _ in range(5):
        page.keyboard.press("ArrowRight")
    page.wait_for_timeout(200)
    moved = page.evaluate("() => nnlibPlayground.counters()")
    assert moved["frames"] > before["frames"] and moved["heatMaps"] == before["heatMaps"], (before, moved)
    page.evaluate("() => nnlibPlayground.step(1)")
    page.wait_for_timeout(200)
    stepped = page.evaluate("() => nnlibPlayground.counters()")
    assert stepped["heatMaps"] == moved["heatMaps"] + 1, (moved, stepped)
    page.wait_for_timeout(200)
    assert page.evaluate("() => nnlibPlayground.counters()")["frames"] == stepped["frames"], "idle, yet redrawing"
    page.evaluate("() => document.activeElement.blur()")
    assert not page.problems, page.problems


@pytest.mark.parametrize("name, hook", [(PLAYGROUND, "nnlibPlayground"), (EXPLORER, "nnlibExplorer")])
def test_phone_width(browser, site_url, name, hook):
    context, page = _open(browser, f"{site_url}/{name}", hook,
                          viewport={"width": 390, "height": 844})
    try:
        page.wait_for_timeout(300)
        width = page.evaluate("() => document.documentElement.scrollWidth")
        root = "#nn-playground" if hook == "nnlibPlayground" else "#nn-explorer"
        box = page.locator(f"{root} canvas").first.bounding_box()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=ARTIFACTS / f"{name.split('/')[-1][:-5]}-phone.png", full_page=True)
        assert width <= 390, f"{name} is {width} px wide on a 390 px screen"
        if hook == "nnlibExplorer":  # the surface names are long: the select must show them whole
            assert all(need <= room for _, need, room in page.evaluate(SELECT_ROOM, root)), page.evaluate(SELECT_ROOM, root)
        assert box["width"] >= 300 and box["x"] >= 0 and box["x"] + box["width"] <= 390
        assert not page.problems, page.problems
    finally:
        context.close()


def test_screenshots(playground, explorer):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    playground.evaluate("() => nnlibPlayground.setState({data: 'spirals', classes: 3, n: 400, noise: 0.15, val: 0.2,"
                        " layers: '8,8', act: 'relu', init: 'he', dropout: 0, optimizer: 'adam', lr: 0.02, beta1: 0.9,"
                        " beta2: 0.999, batch: 32, l2: 0, clip: 0, schedule: 'none', seed: 0, units: true})")
    playground.evaluate("() => nnlibPlayground.step(1000)")
    for page in (playground, explorer):  # no focus ring, no "skip to main content" link in the pictures
        page.evaluate("() => { document.activeElement && document.activeElement.blur(); window.scrollTo(0, 0); }")
    playground.wait_for_timeout(200)
    playground.screenshot(path=ARTIFACTS / "playground.png", full_page=True)
    explorer.evaluate("() => nnlibExplorer.setState({surface: 'rosenbrock'})")
    explorer.screenshot(path=ARTIFACTS / "optimizer_explorer.png", full_page=True)
    assert not playground.problems and not explorer.problems, playground.problems + explorer.problems


# --- from disk (file://) -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("name, hook", [(PLAYGROUND, "nnlibPlayground"), (EXPLORER, "nnlibExplorer"),
                                        (DIGIT, "nnlibDemo")])
def test_interactive_pages_work_from_file(browser, built_html, name, hook):
    """Opened from disk, as a reader who downloaded the site would: browsers refuse fetch() there."""
    url = (built_html / name).resolve().as_uri()
    context, page = _open(browser, url + ("?preset=adam-vs-sgd" if hook == "nnlibPlayground" else ""), hook)
    try:
        if hook == "nnlibDemo":
            probs = page.evaluate("() => Array.from(nnlibDemo.predict(new Array(784).fill(0).map((_, i) =>"
                                  " (i % 28 > 12 && i % 28 < 16 && i > 100 && i < 700) ? 1 : 0)))")
            assert abs(sum(probs) - 1) < 1e-9
            status = page.locator(".digit-demo-status").inner_text()
            assert "could not be loaded" not in status, status
        elif hook == "nnlibPlayground":
            assert page.evaluate("() => nnlibPlayground.state().data") == "spirals"
            assert len(page.evaluate("() => nnlibPlayground.step(10)")) == 10
            page.evaluate("() => nnlibPlayground.setState({lr: 0.02})")
            assert "lr=0.02" in page.evaluate("() => location.search")
        else:
            assert len(page.evaluate("() => nnlibExplorer.paths()")) == 5
        assert not page.problems, page.problems
    finally:
        context.close()
