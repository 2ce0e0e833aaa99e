"""Hidden tests for Chapter 5, Gradient checking. Each test_<exercise>(ns) receives the student's namespace."""
import numpy as np


def test_numerical_gradient(ns):
    numerical_gradient = ns["numerical_gradient"]
    rng = np.random.default_rng(12)
    x = rng.normal(size=(3, 4))
    before = x.copy()
    g = numerical_gradient(lambda v: float(np.sum(np.sin(v) * v)), x)
    np.testing.assert_allclose(g, np.cos(before) * before + np.sin(before), rtol=1e-7, atol=1e-9)
    np.testing.assert_array_equal(x, before)  # x is restored exactly
    assert g.shape == x.shape


def test_relative_error(ns):
    relative_error = ns["relative_error"]
    a, b = np.array([1.0, 2.0, 2.0]), np.array([1.0, 2.0, 2.3])
    np.testing.assert_allclose(relative_error(a, b), 0.3 / (3.0 + np.linalg.norm(b)), rtol=1e-12)
    assert relative_error(np.zeros(4), np.zeros(4)) == 0.0
    np.testing.assert_allclose(relative_error(1e-20 * a, 1e-20 * b), relative_error(a, b), rtol=1e-12)
