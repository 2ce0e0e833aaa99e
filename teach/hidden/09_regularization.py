"""Hidden tests for Chapter 9 (Regularisation). Each test_<exercise>(ns) receives the student's namespace."""
import numpy as np


def _model():
    from nnlib.layers import Dense, ReLU
    from nnlib.training import Model

    rng = np.random.default_rng(16)
    model = Model(4, seed=0, dtype=np.float64)
    model.add(Dense(4, 3, init=lambda a, b, r: rng.normal(size=(a, b)), dtype=np.float64)).add(ReLU())
    model.add(Dense(3, 2, init=lambda a, b, r: rng.normal(size=(a, b)), dtype=np.float64))
    return model


def test_l2_penalty(ns):
    model = _model()
    weights = [layer.params["W"] for layer in model.layers if "W" in layer.params]
    np.testing.assert_allclose(ns["L2"](0.01).penalty(model), 0.005 * sum(np.sum(W ** 2) for W in weights), rtol=1e-12)


def test_l2_gradients(ns):
    model = _model()
    dense = [layer for layer in model.layers if "W" in layer.params]
    for layer in dense:
        layer.grads["W"][...] = 0.5
        layer.grads["b"][...] = 0.5
    ns["L2"](0.01).on_gradients(model)
    for layer in dense:
        np.testing.assert_allclose(layer.grads["W"], 0.5 + 0.01 * layer.params["W"], rtol=1e-12)
        np.testing.assert_array_equal(layer.grads["b"], 0.5)  # biases are not decayed


def test_dropout_forward(ns):
    layer = ns["Dropout"](0.4, rng=np.random.default_rng(17))
    X = np.full((300, 400), 2.0)
    A = layer.forward(X)
    assert A.shape == X.shape and A.dtype == X.dtype
    np.testing.assert_allclose(np.mean(A == 0), 0.4, atol=0.01)
    np.testing.assert_allclose(np.unique(A), [0.0, 2.0 / 0.6], rtol=1e-12)
    A32 = ns["Dropout"](0.4, rng=np.random.default_rng(0)).forward(X.astype(np.float32))
    assert A32.dtype == np.float32, "float32 in, float32 out"
    layer.training = False
    np.testing.assert_array_equal(layer.forward(X), X)


def test_dropout_backward(ns):
    layer = ns["Dropout"](0.3, rng=np.random.default_rng(18))
    X = np.random.default_rng(19).normal(size=(50, 60))
    A = layer.forward(X)
    G = np.random.default_rng(20).normal(size=X.shape)
    np.testing.assert_allclose(layer.backward(G), G * (A / X), rtol=1e-10)  # the same mask, scaled the same
