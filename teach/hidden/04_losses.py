"""Hidden tests for Chapter 4 (Losses). Each test_<exercise>(ns) receives the student's namespace (rpc)."""
import numpy as np

from nnlib.gradcheck import numerical_gradient as _numeric  # the book's, in the grader's process
from nnlib_teach.expect import close, gradient, number


def _mse(a, b):
    return 0.5 * np.sum((a - b) ** 2) / len(a)


def test_mse(ns):
    mse = ns["mse"]
    rng = np.random.default_rng(6)
    a, b = rng.normal(size=(8, 3)), rng.normal(size=(8, 3))
    with ns.case("½ Σ (a − b)² / N"):
        close(number(mse(a, b), "mse(a, b)"), _mse(a, b), "mse(a, b)", rtol=1e-12)
    with ns.case("zero for equal arrays"):
        close(number(mse(a, a.copy()), "mse(a, a)"), 0.0, "mse(a, a)")


def test_mse_grad(ns):
    mse_grad = ns["mse_grad"]
    rng = np.random.default_rng(7)
    a, b = rng.normal(size=(5, 2)), rng.normal(size=(5, 2))
    expected = _numeric(lambda v: _mse(v, b), a.copy())
    gradient(mse_grad(a, b), expected, "mse_grad(a, b)")


def test_logsumexp(ns):
    logsumexp = ns["logsumexp"]
    rng = np.random.default_rng(8)
    z = rng.normal(size=(4, 5))
    with ns.case("rows and columns", weight=2):
        close(logsumexp(z), np.log(np.exp(z).sum(axis=1)), "logsumexp(z)", rtol=1e-12)
        close(logsumexp(z, axis=0), np.log(np.exp(z).sum(axis=0)), "logsumexp(z, axis=0)", rtol=1e-12)
    with ns.case("no overflow or underflow at ±1e4"):
        close(number(logsumexp(np.array([1e4, 1e4])), "logsumexp([1e4, 1e4])"), 1e4 + np.log(2),
              "logsumexp([1e4, 1e4])", rtol=1e-12)
        close(number(logsumexp(np.array([-1e4, -1e4])), "logsumexp([-1e4, -1e4])"), -1e4 + np.log(2),
              "logsumexp([-1e4, -1e4])", rtol=1e-12)
    with ns.case("keepdims=True keeps the axis"):
        got = logsumexp(z, keepdims=True)
        assert np.shape(got) == (4, 1), f"logsumexp(z, keepdims=True) must have shape (4, 1), got {np.shape(got)}"


def _softmax_ce(z, y):
    z = z - z.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return -np.mean(logp[np.arange(len(y)), y])


def test_softmax_cross_entropy_grad(ns):
    grad = ns["softmax_cross_entropy_grad"]
    rng = np.random.default_rng(9)
    z, y = rng.normal(size=(6, 4)), np.array([0, 1, 2, 3, 1, 0])
    with ns.case("against the numerical gradient", weight=2):
        gradient(grad(z, y), _numeric(lambda v: _softmax_ce(v, y), z.copy()), "softmax_cross_entropy_grad")
    with ns.case("logits of ±1e4 stay finite"):
        close(grad(np.array([[1e4, -1e4, 0.0]]), np.array([1])), [[1.0, -1.0, 0.0]],
              "softmax_cross_entropy_grad at logits ±1e4", atol=1e-12)
