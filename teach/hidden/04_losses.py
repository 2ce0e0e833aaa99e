"""Hidden tests for Chapter 4 (Losses). Each test_<exercise>(ns) receives the student's namespace."""
import numpy as np

from nnlib.gradcheck import numerical_gradient as _numeric  # the book's, not the student's


def test_mse(ns):
    mse = ns["mse"]
    rng = np.random.default_rng(6)
    a, b = rng.normal(size=(8, 3)), rng.normal(size=(8, 3))
    np.testing.assert_allclose(mse(a, b), 0.5 * np.sum((a - b) ** 2) / 8, rtol=1e-12)
    assert mse(a, a) == 0

def test_mse_grad(ns):
    mse, mse_grad = ns["mse"], ns["mse_grad"]
    rng = np.random.default_rng(7)
    a, b = rng.normal(size=(5, 2)), rng.normal(size=(5, 2))
    np.testing.assert_allclose(mse_grad(a, b), _numeric(lambda v: mse(v, b), a.copy()), rtol=1e-6, atol=1e-9)

def test_logsumexp(ns):
    logsumexp = ns["logsumexp"]
    rng = np.random.default_rng(8)
    z = rng.normal(size=(4, 5))
    np.testing.assert_allclose(logsumexp(z), np.log(np.exp(z).sum(axis=1)), rtol=1e-12)
    np.testing.assert_allclose(logsumexp(z, axis=0), np.log(np.exp(z).sum(axis=0)), rtol=1e-12)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        np.testing.assert_allclose(logsumexp(np.array([1e4, 1e4])), 1e4 + np.log(2), rtol=1e-12)
        np.testing.assert_allclose(logsumexp(np.array([-1e4, -1e4])), -1e4 + np.log(2), rtol=1e-12)
    assert logsumexp(z, keepdims=True).shape == (4, 1)

def test_softmax_cross_entropy_grad(ns):
    loss, grad = ns["softmax_cross_entropy"], ns["softmax_cross_entropy_grad"]
    rng = np.random.default_rng(9)
    z, y = rng.normal(size=(6, 4)), np.array([0, 1, 2, 3, 1, 0])
    np.testing.assert_allclose(grad(z, y), _numeric(lambda v: loss(v, y), z.copy()), rtol=1e-6, atol=1e-9)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        g = grad(np.array([[1e4, -1e4, 0.0]]), np.array([1]))
    np.testing.assert_allclose(g, [[1.0, -1.0, 0.0]], atol=1e-12)
