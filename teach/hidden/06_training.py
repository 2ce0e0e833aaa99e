"""Hidden tests for Chapter 6 (Training). Each test_<exercise>(ns) receives the student's namespace (rpc)."""
import numpy as np

from nnlib_teach.expect import close


def test_sgd_update(ns):
    SGD = ns["SGD"]
    rng = np.random.default_rng(13)
    W, b = rng.normal(size=(3, 2)), rng.normal(size=2)
    gW, gb = rng.normal(size=(3, 2)), rng.normal(size=2)
    W0, b0, gW0, gb0 = W.copy(), b.copy(), gW.copy(), gb.copy()
    SGD(lr=0.05).step([W, b], [gW, gb])
    close(W, W0 - 0.05 * gW0, "W after one step (updated in place)", rtol=1e-12)
    close(b, b0 - 0.05 * gb0, "b after one step (updated in place)", rtol=1e-12)
