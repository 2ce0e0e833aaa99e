"""Hidden tests for Chapter 9 (Regularisation). Each test_<exercise>(ns) receives the student's namespace (rpc).

The model is built in the student's sandbox from its own nnlib (Chapters 5 and 6, never Chapter 9's module), with
weights and gradients set by the test, so every expected value is computed here from the test's own arrays.
"""
import numpy as np

from nnlib_teach.expect import array, close, equal, number

_rng = np.random.default_rng(16)
WEIGHTS = [_rng.normal(size=(4, 3)), _rng.normal(size=3), _rng.normal(size=(3, 2)), _rng.normal(size=2)]


def _model(ns):
    Model, Dense, ReLU = ns.lib("nnlib.training.Model"), ns.lib("nnlib.layers.Dense"), ns.lib("nnlib.layers.ReLU")
    model = Model(4, seed=0, dtype=np.float64)
    model.add(Dense(4, 3, dtype=np.float64)).add(ReLU()).add(Dense(3, 2, dtype=np.float64))
    model.set_weights([w.copy() for w in WEIGHTS])
    return model


def test_l2_penalty(ns):
    model = _model(ns)
    expected = 0.005 * sum(np.sum(W ** 2) for W in WEIGHTS[::2])
    close(number(ns["L2"](0.01).penalty(model), "L2(0.01).penalty(model)"), expected, "the penalty (λ/2) Σ‖W‖²",
          rtol=1e-12)


def test_l2_gradients(ns):
    model = _model(ns)
    dense = [layer for layer in model.layers if "W" in layer.params]
    for layer in dense:
        params = layer.params
        layer.grads = {name: np.full(p.shape, 0.5) for name, p in params.items()}
    ns["L2"](0.01).on_gradients(model)
    for i, (layer, W) in enumerate(zip(dense, WEIGHTS[::2]), start=1):
        grads = layer.grads
        with ns.case(f"dense layer {i}: weights decay by λW", weight=2):
            close(grads["W"], 0.5 + 0.01 * W, f"layer {i}'s weight gradient after on_gradients", rtol=1e-12)
        with ns.case(f"dense layer {i}: the biases are not decayed"):
            equal(grads["b"], np.full(grads["b"].shape, 0.5), f"layer {i}'s bias gradient after on_gradients")


def test_dropout_forward(ns):
    X = np.full((300, 400), 2.0)
    layer = ns["Dropout"](0.4, rng=np.random.default_rng(17))
    with ns.case("drops a fraction p and scales the rest by 1/(1 − p)", weight=2):
        A = array(layer.forward(X), "Dropout.forward(X)", shape=X.shape, dtype=X.dtype)
        close(np.mean(A == 0), 0.4, "the fraction of zeros", atol=0.01)
        close(np.unique(A), [0.0, 2.0 / 0.6], "the distinct values of the output", rtol=1e-12)
    with ns.case("float32 in, float32 out"):
        array(ns["Dropout"](0.4, rng=np.random.default_rng(0)).forward(X.astype(np.float32)), "the output",
              dtype=np.float32)
    with ns.case("the identity in evaluation mode"):
        layer.training = False
        equal(layer.forward(X), X, "Dropout.forward(X) with training = False")


def test_dropout_backward(ns):
    layer = ns["Dropout"](0.3, rng=np.random.default_rng(18))
    X = np.random.default_rng(19).normal(size=(50, 60))
    A = array(layer.forward(X), "Dropout.forward(X)", shape=X.shape)
    assert 0.2 < np.mean(A == 0) < 0.4, "forward must drop about 30% of the units for this test to mean anything"
    G = np.random.default_rng(20).normal(size=X.shape)
    close(layer.backward(G), G * (A / X), "Dropout.backward(G): the same mask, scaled the same", rtol=1e-10)
