"""Hidden tests for Chapter 5 (Backpropagation). Each test_<exercise>(ns) receives the student's namespace."""
import numpy as np

from nnlib.gradcheck import numerical_gradient as _numeric  # the book's, not the student's

POINTS = {"dense_backward_params": 2, "dense_backward_input": 1, "activation_backward": 1}


def _dense(ns):
    rng = np.random.default_rng(10)
    layer = ns["Dense"](5, 3, rng=1)
    X, G = rng.normal(size=(7, 5)), rng.normal(size=(7, 3))
    layer.forward(X)
    dX = layer.backward(G)
    return layer, X, G, dX


def test_dense_backward_params(ns):
    layer, X, G, _ = _dense(ns)
    W, b = layer.params["W"].copy(), layer.params["b"].copy()
    np.testing.assert_allclose(layer.grads["W"], _numeric(lambda w: np.sum((X @ w + b) * G), W), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(layer.grads["b"], _numeric(lambda c: np.sum((X @ W + c) * G), b), rtol=1e-6, atol=1e-9)


def test_dense_backward_input(ns):
    layer, X, G, dX = _dense(ns)
    W, b = layer.params["W"], layer.params["b"]
    assert dX is not None and dX.shape == X.shape, f"dL/dX must have the shape of X {X.shape}"
    np.testing.assert_allclose(dX, _numeric(lambda x: np.sum((x @ W + b) * G), X.copy()), rtol=1e-6, atol=1e-9)


def test_activation_backward(ns):
    rng = np.random.default_rng(11)
    Z, G = rng.normal(size=(4, 6)), rng.normal(size=(4, 6))
    Z[0, 0] = 1e-3  # keep away from ReLU's kink at the step size of the numerical gradient
    for cls in ("ReLU", "Sigmoid", "Tanh"):
        act = ns[cls]()
        act.forward(Z)
        dZ = act.backward(G)
        expected = _numeric(lambda z: np.sum(act.function(z) * G), Z.copy())
        np.testing.assert_allclose(dZ, expected, rtol=1e-6, atol=1e-9, err_msg=f"{cls}.backward")
