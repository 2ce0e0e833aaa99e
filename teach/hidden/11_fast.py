"""Hidden tests for Chapter 11 (Making it fast). Each test_<exercise>(ns) receives the student's namespace (rpc).

The optimisers live in the student's sandbox; the parameter arrays are the test's, updated in place by each step (the
sandbox sends the changed arrays back after every call). The reference for "bit for bit" is the sandbox's own
Chapter 8 `Adam`, run on copies of the same arrays.
"""
import numpy as np

from nnlib_teach.expect import close, equal

GRADS = [[0.5, -1.0, 0.0], [0.25, 2.0, -0.5], [-1.0, 0.5, 3.0], [0.0, 0.1, -0.2]]


def _path(opt, grads, start, dtype):
    theta = np.array(start, dtype=dtype)
    path = []
    for g in grads:
        opt.step([theta], [np.array(g, dtype=dtype)])
        path.append(theta.copy())
    return np.array(path)


def test_fast_adam(ns):
    with ns.case("four steps against Adam's formulas (float64)", weight=2):
        path = _path(ns["FastAdam"](lr=0.01, beta1=0.9, beta2=0.99, eps=1e-8), GRADS, [1.0, -1.0, 0.5], np.float64)
        theta, m, v, expected = np.array([1.0, -1.0, 0.5]), np.zeros(3), np.zeros(3), []
        for t, g in enumerate(np.array(GRADS), start=1):
            m = 0.9 * m + 0.1 * g
            v = 0.99 * v + 0.01 * g * g
            theta = theta - 0.01 * (m / (1 - 0.9 ** t)) / (np.sqrt(v / (1 - 0.99 ** t)) + 1e-8)
            expected.append(theta)
        close(path, expected, "θ after each step", rtol=1e-12)
    with ns.case("the same numbers as Chapter 8's Adam, bit for bit (float32)"):
        fast = _path(ns["FastAdam"](lr=0.05), GRADS, [1.0, -1.0, 0.5], np.float32)
        clear = _path(ns.lib("nnlib.optimizers.Adam")(lr=0.05), GRADS, [1.0, -1.0, 0.5], np.float32)
        equal(fast, clear, "θ after each step, FastAdam against Adam (np.array_equal)")
