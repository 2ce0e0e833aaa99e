"""Hidden tests for Chapter 2 (Forward propagation).

Each test_<exercise>(ns) receives an nnlib_teach.rpc.Namespace: ns["neuron"] is the student's function, run in
their sandbox; results come back as plain data and are compared here (nnlib_teach.expect).
"""
import numpy as np

from nnlib_teach.expect import array, close, number

POINTS = {"neuron": 1, "dense_forward": 2}


def test_neuron(ns):
    neuron = ns["neuron"]
    rng = np.random.default_rng(2)
    x, w, b = rng.normal(size=7), rng.normal(size=7), 0.3
    with ns.case("z = w·x + b for a random neuron"):
        close(number(neuron(x, w, b), "a neuron's pre-activation"), float(x @ w) + b, rtol=1e-12)
    with ns.case("one number, not an array"):
        assert np.ndim(neuron(x, w, b)) == 0, "a neuron's pre-activation is one number (np.ndim 0)"


def test_dense_forward(ns):
    dense_forward = ns["dense_forward"]
    rng = np.random.default_rng(3)
    X, W, b = rng.normal(size=(6, 4)), rng.normal(size=(4, 3)), rng.normal(size=3)
    expected = np.array([[sum(X[n, i] * W[i, j] for i in range(4)) + b[j] for j in range(3)] for n in range(6)])
    with ns.case("a batch of 6 examples", weight=2):
        close(array(dense_forward(X, W, b), "Z", shape=(6, 3)), expected, "Z = XW + b", rtol=1e-12)
    with ns.case("a batch of one example keeps its batch axis"):
        array(dense_forward(X[:1], W, b), "Z for one example", shape=(1, 3))
