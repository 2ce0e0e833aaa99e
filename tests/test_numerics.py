"""Stability: softmax, log-sum-exp, cross-entropy and sigmoid stay finite and correct for logits of ±1e4."""
import numpy as np
import pytest

from nnlib.activations import relu, relu_grad, sigmoid, sigmoid_grad, softmax, softmax_jacobian, softmax_vjp, tanh_grad
from nnlib.losses import (cross_entropy, log_softmax, logsumexp, mse, softmax_cross_entropy,
                          softmax_cross_entropy_grad)

EXTREME = np.array([[1e4, 0.0, -1e4],
                    [-1e4, -1e4, -1e4],
                    [1e4, 1e4, -1e4],
                    [-1e4, 1e4 - 1, 1e4]])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_softmax_extreme_logits(dtype):
    z = EXTREME.astype(dtype)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        p = softmax(z)
    assert p.dtype == dtype and np.all(np.isfinite(p))
    np.testing.assert_allclose(p.sum(axis=1), 1, rtol=1e-6)
    np.testing.assert_allclose(p[0], [1, 0, 0])
    np.testing.assert_allclose(p[1], [1 / 3] * 3, rtol=1e-6)
    np.testing.assert_allclose(p[2], [0.5, 0.5, 0])
    np.testing.assert_allclose(p[3], [0, 1 / (1 + np.e), np.e / (1 + np.e)], rtol=1e-5)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_cross_entropy_extreme_logits(dtype):
    z = EXTREME.astype(dtype)
    y = np.array([2, 0, 0, 2])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        log_p = log_softmax(z)
        loss = softmax_cross_entropy(z, y)
        grad = softmax_cross_entropy_grad(z, y)
    assert np.all(np.isfinite(log_p)) and np.isfinite(loss) and np.all(np.isfinite(grad))
    # per-example losses: 2e4, log 3, log 2, log(1 + e^-1); their mean:
    expected = (2e4 + np.log(3) + np.log(2) + np.log1p(np.exp(-1))) / 4
    assert loss == pytest.approx(expected, rel=1e-6)
    np.testing.assert_allclose(grad, (softmax(z) - np.eye(3)[y]) / 4, atol=1e-7)


def test_logsumexp_matches_naive_where_naive_works():
    z = np.random.default_rng(0).normal(size=(5, 7)) * 10
    np.testing.assert_allclose(logsumexp(z), np.log(np.exp(z).sum(axis=1)), rtol=1e-12)
    assert logsumexp(z, keepdims=True).shape == (5, 1)
    assert logsumexp(np.array([1e4, 1e4])) == pytest.approx(1e4 + np.log(2))


def test_sigmoid_never_overflows():
    z = np.array([-1e4, -800.0, -50.0, 0.0, 50.0, 800.0, 1e4])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        s = sigmoid(z)
        ds = sigmoid_grad(z)
    np.testing.assert_allclose(s, [0, 0, 1 / (1 + np.exp(50)), 0.5, 1 / (1 + np.exp(-50)), 1, 1])
    assert np.all(ds >= 0) and ds[3] == 0.25
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        assert np.all(np.isfinite(sigmoid(np.array([-1e4, 1e4], dtype=np.float32))))


def test_activation_derivative_values():
    z = np.array([-2.0, 0.0, 3.0])
    np.testing.assert_array_equal(relu(z), [0, 0, 3])
    np.testing.assert_array_equal(relu_grad(z), [0, 0, 1])  # subgradient 0 at the kink
    np.testing.assert_allclose(tanh_grad(np.array([0.0])), [1.0])


def test_softmax_jacobian_and_vjp():
    p = softmax(np.array([0.3, -1.0, 2.0]))
    J = softmax_jacobian(p)
    np.testing.assert_allclose(J, J.T)
    np.testing.assert_allclose(J.sum(axis=0), 0, atol=1e-15)
    g = np.array([0.5, -1.0, 2.0])
    np.testing.assert_allclose(softmax_vjp(p, g), g @ J)
    with pytest.raises(ValueError, match="shape \\(K,\\)"):
        softmax_jacobian(np.ones((2, 2)))


def test_cross_entropy_of_probabilities_clips_zero():
    p = np.array([[1.0, 0.0]])
    assert np.isfinite(cross_entropy(p, np.array([1])))
    assert cross_entropy(np.full((2, 4), 0.25), np.array([0, 3])) == pytest.approx(np.log(4))
    assert mse(np.zeros((2, 3)), np.ones((2, 3))) == pytest.approx(1.5)
