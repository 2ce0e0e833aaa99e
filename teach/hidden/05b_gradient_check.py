"""Hidden tests for Chapter 5, Gradient checking. Each test_<exercise>(ns) receives the student's namespace (rpc).

The function whose gradient the student's numerical_gradient computes is the test's: the student's code calls it
back, with plain arrays, and the grader evaluates it.
"""
import numpy as np

from nnlib_teach.expect import array, close, equal, number


def test_numerical_gradient(ns):
    numerical_gradient = ns["numerical_gradient"]
    rng = np.random.default_rng(12)
    x = rng.normal(size=(3, 4))
    before = x.copy()
    g = numerical_gradient(lambda v: float(np.sum(np.sin(v) * v)), x)
    with ns.case("the gradient of Σ x sin x", weight=2):
        close(array(g, "the gradient", shape=x.shape), np.cos(before) * before + np.sin(before),
              "numerical_gradient", rtol=1e-7, atol=1e-9)
    with ns.case("x is restored exactly"):
        equal(x, before, "x after numerical_gradient (it must be restored exactly)")


def test_relative_error(ns):
    relative_error = ns["relative_error"]
    a, b = np.array([1.0, 2.0, 2.0]), np.array([1.0, 2.0, 2.3])
    with ns.case("‖a − b‖ / (‖a‖ + ‖b‖)", weight=2):
        close(number(relative_error(a, b)), 0.3 / (3.0 + np.linalg.norm(b)), "relative_error(a, b)", rtol=1e-12)
    with ns.case("0 when both are zero"):
        close(number(relative_error(np.zeros(4), np.zeros(4))), 0.0, "relative_error(0, 0)")
    with ns.case("scale-free"):
        close(number(relative_error(1e-20 * a, 1e-20 * b)), 0.3 / (3.0 + np.linalg.norm(b)),
              "relative_error(1e-20 a, 1e-20 b)", rtol=1e-12)
