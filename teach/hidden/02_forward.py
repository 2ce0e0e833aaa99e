"""Hidden tests for Chapter 2 (Forward propagation). Each test_<exercise>(ns) receives the student's namespace."""
import numpy as np

POINTS = {"neuron": 1, "dense_forward": 2}


def test_neuron(ns):
    neuron = ns["neuron"]
    rng = np.random.default_rng(2)
    x, w, b = rng.normal(size=7), rng.normal(size=7), 0.3
    np.testing.assert_allclose(neuron(x, w, b), float(x @ w) + b, rtol=1e-12)
    assert np.ndim(neuron(x, w, b)) == 0, "a neuron's pre-activation is one number"


def test_dense_forward(ns):
    dense_forward = ns["dense_forward"]
    rng = np.random.default_rng(3)
    X, W, b = rng.normal(size=(6, 4)), rng.normal(size=(4, 3)), rng.normal(size=3)
    Z = dense_forward(X, W, b)
    assert Z.shape == (6, 3), f"shape {Z.shape}, expected (6, 3)"
    expected = np.array([[sum(X[n, i] * W[i, j] for i in range(4)) + b[j] for j in range(3)] for n in range(6)])
    np.testing.assert_allclose(Z, expected, rtol=1e-12)
    one = dense_forward(X[:1], W, b)
    assert one.shape == (1, 3), "a batch of one example keeps its batch axis"
