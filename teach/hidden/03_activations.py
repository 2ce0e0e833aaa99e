"""Hidden tests for Chapter 3 (Activations). Each test_<exercise>(ns) receives the student's namespace."""
import numpy as np


def test_relu(ns):
    relu = ns["relu"]
    z = np.array([[-3.0, 0.0, 2.5], [1e-300, -1e-300, 7.0]])
    np.testing.assert_array_equal(relu(z), [[0.0, 0.0, 2.5], [1e-300, 0.0, 7.0]])
    assert relu(z.astype(np.float32)).dtype == np.float32, "relu must keep float32"


def test_relu_grad(ns):
    relu_grad = ns["relu_grad"]
    z = np.array([-1.0, -1e-12, 0.0, 1e-12, 4.0])
    np.testing.assert_array_equal(relu_grad(z), [0.0, 0.0, 0.0, 1.0, 1.0])  # 0 at the kink, by convention
    assert relu_grad(z.astype(np.float32)).dtype == np.float32, "relu_grad must keep float32"


def test_sigmoid(ns):
    sigmoid = ns["sigmoid"]
    z = np.linspace(-30, 30, 61)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        np.testing.assert_allclose(sigmoid(z), 1 / (1 + np.exp(-z)), rtol=1e-12, atol=1e-300)
        extreme = sigmoid(np.array([-1e5, -800.0, 800.0, 1e5]))
    np.testing.assert_allclose(extreme, [0.0, 0.0, 1.0, 1.0], atol=1e-300)


def test_softmax(ns):
    softmax = ns["softmax"]
    rng = np.random.default_rng(4)
    z = rng.normal(size=(5, 7))
    e = np.exp(z)
    np.testing.assert_allclose(softmax(z), e / e.sum(axis=1, keepdims=True), rtol=1e-12)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        big = softmax(np.array([[1e4, -1e4, 1e4 - 1.0], [-1e4, -1e4, -1e4]]))
    assert np.all(np.isfinite(big)), "softmax must be finite for logits of ±1e4 (subtract the maximum)"
    np.testing.assert_allclose(big.sum(axis=1), [1.0, 1.0], rtol=1e-12)
    np.testing.assert_allclose(big[1], [1 / 3] * 3, rtol=1e-12)
    np.testing.assert_allclose(softmax(z.T, axis=0), softmax(z).T, rtol=1e-12)


def test_softmax_vjp(ns):
    softmax_vjp = ns["softmax_vjp"]
    rng = np.random.default_rng(5)
    z, g = rng.normal(size=(3, 6)), rng.normal(size=(3, 6))
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    expected = np.stack([gi @ (np.diag(pi) - np.outer(pi, pi)) for pi, gi in zip(p, g)])
    np.testing.assert_allclose(softmax_vjp(p, g), expected, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(softmax_vjp(p.T, g.T, axis=0), expected.T, rtol=1e-10, atol=1e-14)
