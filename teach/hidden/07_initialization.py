"""Hidden tests for Chapter 7 (Initialisation). Each test_<exercise>(ns) receives the student's namespace (rpc)."""
import numpy as np

from nnlib_teach.expect import array, close, equal


def test_xavier_uniform(ns):
    xavier_uniform = ns["xavier_uniform"]
    limit = np.sqrt(6 / 800)
    with ns.case("shape, range ±√(6/(n_in + n_out)) and variance 2/(n_in + n_out)", weight=2):
        W = array(xavier_uniform(200, 600, np.random.default_rng(14)), "xavier_uniform(200, 600)", shape=(200, 600))
        assert np.abs(W).max() <= limit and np.abs(W).max() > 0.99 * limit, \
            f"values must fill ±√(6/(n_in + n_out)) = ±{limit:.4f}; got max |W| = {np.abs(W).max():.4f}"
        close(W.var(), 2 / 800, "the variance", rtol=0.03)
    with ns.case("only the generator passed in is random"):
        a = array(xavier_uniform(5, 5, np.random.default_rng(1)), "xavier_uniform(5, 5)")
        equal(xavier_uniform(5, 5, np.random.default_rng(1)), a, "a second draw from the same seed")


def test_he_normal(ns):
    W = array(ns["he_normal"](500, 200, np.random.default_rng(15)), "he_normal(500, 200)", shape=(500, 200))
    with ns.case("variance 2/n_in", weight=2):
        close(W.var(), 2 / 500, "the variance", rtol=0.03)
    with ns.case("mean 0"):
        close(W.mean(), 0.0, "the mean", atol=0.002)
    with ns.case("a normal distribution (it has tails)"):
        assert np.abs(W).max() > 3 * np.sqrt(2 / 500), "a normal distribution has tails (is this uniform?)"
