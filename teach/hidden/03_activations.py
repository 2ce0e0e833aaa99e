"""Hidden tests for Chapter 3 (Activations). Each test_<exercise>(ns) receives the student's namespace (rpc)."""
import numpy as np

from nnlib_teach.expect import array, close, equal


def test_relu(ns):
    relu = ns["relu"]
    z = np.array([[-3.0, 0.0, 2.5], [1e-300, -1e-300, 7.0]])
    with ns.case("values, tiny ones included", weight=2):
        equal(array(relu(z), "relu(z)", shape=z.shape), [[0.0, 0.0, 2.5], [1e-300, 0.0, 7.0]], "relu(z)")
    with ns.case("float32 stays float32"):
        array(relu(z.astype(np.float32)), "relu of a float32 array", dtype=np.float32)


def test_relu_grad(ns):
    relu_grad = ns["relu_grad"]
    z = np.array([-1.0, -1e-12, 0.0, 1e-12, 4.0])
    with ns.case("0 below and at the kink, 1 above", weight=2):
        equal(array(relu_grad(z), "relu_grad(z)"), [0.0, 0.0, 0.0, 1.0, 1.0], "relu_grad(z) (0 at z = 0)")
    with ns.case("float32 stays float32"):
        array(relu_grad(z.astype(np.float32)), "relu_grad of a float32 array", dtype=np.float32)


def test_sigmoid(ns):
    sigmoid = ns["sigmoid"]
    z = np.linspace(-30, 30, 61)
    with ns.case("values on [-30, 30]", weight=2):
        close(sigmoid(z), 1 / (1 + np.exp(-z)), "sigmoid(z)", rtol=1e-12, atol=1e-300)
    with ns.case("no overflow for |z| up to 1e5 (the output is exactly 0 or 1, and finite)"):
        extreme = array(sigmoid(np.array([-1e5, -800.0, 800.0, 1e5])), "sigmoid of ±800, ±1e5")
        close(extreme, [0.0, 0.0, 1.0, 1.0], "sigmoid of ±800, ±1e5", atol=1e-300)


def test_softmax(ns):
    softmax = ns["softmax"]
    rng = np.random.default_rng(4)
    z = rng.normal(size=(5, 7))
    e = np.exp(z)
    with ns.case("rows of random logits", weight=2):
        close(softmax(z), e / e.sum(axis=1, keepdims=True), "softmax(z)", rtol=1e-12)
    with ns.case("logits of ±1e4 stay finite (subtract the maximum)", weight=2):
        big = array(softmax(np.array([[1e4, -1e4, 1e4 - 1.0], [-1e4, -1e4, -1e4]])), "softmax of ±1e4")
        assert np.all(np.isfinite(big)), "softmax must be finite for logits of ±1e4 (subtract the maximum)"
        close(big.sum(axis=1), [1.0, 1.0], "the rows' sums", rtol=1e-12)
        close(big[1], [1 / 3] * 3, "softmax of three equal logits", rtol=1e-12)
    with ns.case("axis=0 works on columns"):
        close(softmax(z.T, axis=0), (e / e.sum(axis=1, keepdims=True)).T, "softmax(z.T, axis=0)", rtol=1e-12)


def test_softmax_vjp(ns):
    softmax_vjp = ns["softmax_vjp"]
    rng = np.random.default_rng(5)
    z, g = rng.normal(size=(3, 6)), rng.normal(size=(3, 6))
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    expected = np.stack([gi @ (np.diag(pi) - np.outer(pi, pi)) for pi, gi in zip(p, g)])
    with ns.case("rows", weight=2):
        close(softmax_vjp(p, g), expected, "softmax_vjp(p, g)", rtol=1e-10, atol=1e-14)
    with ns.case("axis=0"):
        close(softmax_vjp(p.T, g.T, axis=0), expected.T, "softmax_vjp(p.T, g.T, axis=0)", rtol=1e-10, atol=1e-14)
