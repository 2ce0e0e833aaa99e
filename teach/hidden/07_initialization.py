"""Hidden tests for Chapter 7 (Initialisation). Each test_<exercise>(ns) receives the student's namespace."""
import numpy as np


def test_xavier_uniform(ns):
    W = ns["xavier_uniform"](200, 600, np.random.default_rng(14))
    limit = np.sqrt(6 / 800)
    assert W.shape == (200, 600)
    assert np.abs(W).max() <= limit and np.abs(W).max() > 0.99 * limit, "uniform on ±√(6/(n_in + n_out))"
    np.testing.assert_allclose(W.var(), 2 / 800, rtol=0.03)
    a = ns["xavier_uniform"](5, 5, np.random.default_rng(1))
    np.testing.assert_array_equal(a, ns["xavier_uniform"](5, 5, np.random.default_rng(1)))  # only the rng is random


def test_he_normal(ns):
    W = ns["he_normal"](500, 200, np.random.default_rng(15))
    assert W.shape == (500, 200)
    np.testing.assert_allclose(W.var(), 2 / 500, rtol=0.03)
    np.testing.assert_allclose(W.mean(), 0.0, atol=0.002)
    assert np.abs(W).max() > 3 * np.sqrt(2 / 500), "a normal distribution has tails (is this uniform?)"
