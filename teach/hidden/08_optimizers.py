"""Hidden tests for Chapter 8 (Optimisers). Each test_<exercise>(ns) receives the student's namespace (rpc).

The optimiser lives in the student's sandbox; the parameter array is the test's, updated in place by each step
(the sandbox sends the changed array back after every call).
"""
import numpy as np

from nnlib_teach.expect import close


def _run(opt, grads, start):
    theta = np.array(start, dtype=float)
    path = []
    for g in grads:
        opt.step([theta], [np.array(g, dtype=float)])
        path.append(theta.copy())
    return np.array(path)


GRADS = [[0.5, -1.0], [0.25, 2.0], [-1.0, 0.5], [0.0, 0.1]]


def test_momentum(ns):
    for nesterov in (False, True):
        with ns.case(f"four steps, nesterov={nesterov}"):
            path = _run(ns["Momentum"](lr=0.1, momentum=0.8, nesterov=nesterov), GRADS, [1.0, -1.0])
            theta, v, expected = np.array([1.0, -1.0]), np.zeros(2), []
            for g in np.array(GRADS):
                v = 0.8 * v + g
                theta = theta - 0.1 * (g + 0.8 * v if nesterov else v)
                expected.append(theta)
            close(path, expected, f"θ after each step (nesterov={nesterov})", rtol=1e-12)


def test_rmsprop(ns):
    path = _run(ns["RMSProp"](lr=0.01, rho=0.8, eps=1e-8), GRADS, [1.0, -1.0])
    theta, s, expected = np.array([1.0, -1.0]), np.zeros(2), []
    for g in np.array(GRADS):
        s = 0.8 * s + 0.2 * g * g
        theta = theta - 0.01 * g / (np.sqrt(s) + 1e-8)
        expected.append(theta)
    close(path, expected, "θ after each step", rtol=1e-10)


def test_adam(ns):
    path = _run(ns["Adam"](lr=0.01, beta1=0.9, beta2=0.99, eps=1e-8), GRADS, [1.0, -1.0])
    theta, m, v, expected = np.array([1.0, -1.0]), np.zeros(2), np.zeros(2), []
    for t, g in enumerate(np.array(GRADS), start=1):
        m = 0.9 * m + 0.1 * g
        v = 0.99 * v + 0.01 * g * g
        theta = theta - 0.01 * (m / (1 - 0.9 ** t)) / (np.sqrt(v / (1 - 0.99 ** t)) + 1e-8)
        expected.append(theta)
    close(path, expected, "θ after each step", rtol=1e-10)
