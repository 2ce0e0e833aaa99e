"""Hidden tests for Chapter 5 (Backpropagation). Each test_<exercise>(ns) receives the student's namespace (rpc).

The layers live in the student's sandbox; the test sets their weights (so the expected values depend on nothing
the student's code chose) and compares the gradients with numerical ones computed here.
"""
import numpy as np

from nnlib.activations import relu, sigmoid, tanh  # the book's, in the grader's process
from nnlib.gradcheck import numerical_gradient as _numeric
from nnlib_teach.expect import close, gradient

POINTS = {"dense_backward_params": 2, "dense_backward_input": 1, "activation_backward": 1}


def _dense(ns):
    rng = np.random.default_rng(10)
    W, b = rng.normal(size=(5, 3)), rng.normal(size=3)
    X, G = rng.normal(size=(7, 5)), rng.normal(size=(7, 3))
    layer = ns["Dense"](5, 3, rng=1)
    layer.params = {"W": W.copy(), "b": b.copy()}
    Z = layer.forward(X.copy())
    close(Z, X @ W + b, "Dense.forward(X) with the weights set by the test (Z = XW + b)", rtol=1e-12)
    dX = layer.backward(G.copy())
    return layer, W, b, X, G, dX


def test_dense_backward_params(ns):
    layer, W, b, X, G, _ = _dense(ns)
    grads = layer.grads
    assert isinstance(grads, dict) and {"W", "b"} <= set(grads), "Dense.backward must fill layer.grads['W'] and ['b']"
    with ns.case("dL/dW"):
        gradient(grads["W"], _numeric(lambda w: np.sum((X @ w + b) * G), W.copy()), "dL/dW")
    with ns.case("dL/db"):
        gradient(grads["b"], _numeric(lambda c: np.sum((X @ W + c) * G), b.copy()), "dL/db")


def test_dense_backward_input(ns):
    _, W, b, X, G, dX = _dense(ns)
    gradient(dX, _numeric(lambda x: np.sum((x @ W + b) * G), X.copy()), "dL/dX, returned by Dense.backward")


def test_activation_backward(ns):
    rng = np.random.default_rng(11)
    Z, G = rng.normal(size=(4, 6)), rng.normal(size=(4, 6))
    Z[0, 0] = 1e-3  # keep away from ReLU's kink at the step size of the numerical gradient
    for cls, f in (("ReLU", relu), ("Sigmoid", sigmoid), ("Tanh", tanh)):
        with ns.case(f"{cls}.backward"):
            act = ns[cls]()
            act.forward(Z.copy())
            gradient(act.backward(G.copy()), _numeric(lambda z: np.sum(f(z) * G), Z.copy()), f"{cls}.backward")
