"""Hidden tests for Chapter 6 (Training). Each test_<exercise>(ns) receives the student's namespace."""
import numpy as np


def test_sgd_update(ns):
    SGD = ns["SGD"]
    rng = np.random.default_rng(13)
    W, b = rng.normal(size=(3, 2)), rng.normal(size=2)
    gW, gb = rng.normal(size=(3, 2)), rng.normal(size=2)
    W0, b0 = W.copy(), b.copy()
    SGD(lr=0.05).step([W, b], [gW, gb])
    np.testing.assert_allclose(W, W0 - 0.05 * gW, rtol=1e-12)  # the arrays themselves changed (in place)
    np.testing.assert_allclose(b, b0 - 0.05 * gb, rtol=1e-12)
