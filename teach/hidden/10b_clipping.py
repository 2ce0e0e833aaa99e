"""Hidden tests for Chapter 10, Gradient clipping. Each test_<exercise>(ns) receives the student's namespace (rpc).

The model is built in the student's sandbox from its own nnlib (Chapters 5 and 6); the test sets its gradients,
lets the student's ClipByGlobalNorm clip them in place, reads them back and compares them with its own arithmetic.
"""
import numpy as np

from nnlib_teach.expect import close

GRADS = [np.array([[3.0, 0.0, -4.0], [1.0, 2.0, 2.0]]), np.array([0.5, -0.5, 1.0]),
         np.array([[12.0], [0.0], [-3.0]]), np.array([2.0])]
NORM = float(np.sqrt(sum(np.sum(g * g) for g in GRADS)))


def _model(ns, scale=1.0):
    Model, Dense = ns.lib("nnlib.training.Model"), ns.lib("nnlib.layers.Dense")
    model = Model(2, seed=0, dtype=np.float64)
    model.add(Dense(2, 3, dtype=np.float64)).add(Dense(3, 1, dtype=np.float64))
    grads = iter([g * scale for g in GRADS])
    for layer in model.layers:
        layer.grads = {name: next(grads) for name in layer.params}
    return model


def test_clip_by_global_norm(ns):
    with ns.case("above max_norm: every gradient scaled by max_norm / ‖g‖, in place", weight=2):
        model, clip = _model(ns), ns["ClipByGlobalNorm"](max_norm=NORM / 4)
        clip.on_gradients(model)
        got = model.gradients()
        assert isinstance(got, list) and len(got) == 4, "the model's gradients must still be four arrays"
        for i, (g, g0) in enumerate(zip(got, GRADS)):
            close(g, g0 / 4, f"gradient {i + 1} after clipping to a quarter of its global norm", rtol=1e-12)
    with ns.case("the norm before clipping is recorded in .norms"):
        close(clip.norms, [NORM], "ClipByGlobalNorm.norms after one call", rtol=1e-12)
    with ns.case("below max_norm: nothing changes"):
        model, clip = _model(ns, scale=0.1), ns["ClipByGlobalNorm"](max_norm=NORM)
        clip.on_gradients(model)
        for i, (g, g0) in enumerate(zip(model.gradients(), GRADS)):
            close(g, 0.1 * g0, f"gradient {i + 1} when the global norm is already below max_norm", rtol=1e-12)
        close(clip.norms, [0.1 * NORM], "ClipByGlobalNorm.norms", rtol=1e-12)
