"""Every backward pass against central differences, in float64: relative error < 1e-6 (Chapter 5)."""
import numpy as np
import pytest

from nnlib.activations import softmax
from nnlib.gradcheck import (check_layer, check_loss, largest_error, numerical_gradient, numerical_gradient_at,
                             relative_error)
from nnlib.layers import CrossEntropy, Dense, MSELoss, ReLU, Sigmoid, Softmax, SoftmaxCrossEntropy, Tanh

SHAPES = [(1, 1, 1), (1, 5, 3), (4, 3, 7), (16, 12, 10)]
TOL = 1e-6


def normal_init(n_in, n_out, rng):
    return rng.normal(0, 1, (n_in, n_out))


def away_from_zero(rng, shape):
    return rng.choice([-1.0, 1.0], shape) * rng.uniform(0.05, 3.0, shape)


@pytest.mark.parametrize("batch, n_in, n_out", SHAPES)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_dense(batch, n_in, n_out, seed):
    rng = np.random.default_rng(seed)
    layer = Dense(n_in, n_out, rng=rng, init=normal_init)
    layer.params["b"][:] = rng.normal(size=n_out)
    errors = check_layer(layer, rng.normal(size=(batch, n_in)), seed=seed)
    assert set(errors) == {"input", "W", "b"}
    assert max(errors.values()) < TOL, errors


@pytest.mark.parametrize("batch, n", [(1, 1), (3, 4), (8, 10)])
@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("make_layer, make_input", [
    (ReLU, away_from_zero),
    (Sigmoid, lambda rng, shape: 4 * rng.normal(size=shape)),
    (Tanh, lambda rng, shape: 2 * rng.normal(size=shape)),
    (Softmax, lambda rng, shape: 3 * rng.normal(size=shape)),
])
def test_activation_layers(make_layer, make_input, batch, n, seed):
    rng = np.random.default_rng(seed)
    errors = check_layer(make_layer(), make_input(rng, (batch, n)), seed=seed)
    assert errors["input"] < TOL, errors


@pytest.mark.parametrize("batch, k", [(1, 2), (5, 3), (16, 10)])
@pytest.mark.parametrize("seed", [0, 1])
def test_losses(batch, k, seed):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, k, batch)
    assert check_loss(MSELoss(), rng.normal(size=(batch, k)), rng.normal(size=(batch, k))) < TOL
    assert check_loss(CrossEntropy(), softmax(rng.normal(size=(batch, k))), labels) < TOL
    assert check_loss(SoftmaxCrossEntropy(), 5 * rng.normal(size=(batch, k)), labels) < TOL
    soft_targets = softmax(rng.normal(size=(batch, k)))
    assert check_loss(SoftmaxCrossEntropy(), rng.normal(size=(batch, k)), soft_targets) < TOL


def test_whole_network_every_parameter():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(6, 4)), rng.integers(0, 3, 6)
    net = [Dense(4, 5, rng=rng, init=normal_init), Tanh(), Dense(5, 5, rng=rng, init=normal_init), Sigmoid(),
           Dense(5, 3, rng=rng, init=normal_init)]
    loss = SoftmaxCrossEntropy()

    def total_loss(_):
        out = X
        for layer in net:
            out = layer.forward(out)
        return loss.forward(out, y)

    total_loss(None)
    grad = loss.backward()
    for layer in reversed(net):
        grad = layer.backward(grad)
    analytic = [{k: g.copy() for k, g in layer.grads.items()} for layer in net]
    for layer, grads in zip(net, analytic):
        for name, value in layer.params.items():
            assert relative_error(grads[name], numerical_gradient(total_loss, value)) < TOL, (layer, name)


def test_softmax_then_cross_entropy_equals_fused():
    rng = np.random.default_rng(0)
    Z, y = rng.normal(size=(7, 4)), rng.integers(0, 4, 7)
    s, ce, fused = Softmax(), CrossEntropy(), SoftmaxCrossEntropy()
    assert np.isclose(ce.forward(s.forward(Z), y), fused.forward(Z, y))
    np.testing.assert_allclose(s.backward(ce.backward()), fused.backward(), atol=1e-12)


# --- the checking tools themselves --------------------------------------------------------------------------------

def test_numerical_gradient_of_known_function():
    x = np.array([[1.0, -2.0], [0.5, 3.0]])
    grad = numerical_gradient(lambda v: float(np.sum(v ** 3)), x)
    np.testing.assert_allclose(grad, 3 * x ** 2, rtol=1e-8)
    np.testing.assert_array_equal(x, [[1.0, -2.0], [0.5, 3.0]])  # restored


def test_relative_error():
    assert relative_error(np.zeros(3), np.zeros(3)) == 0
    assert relative_error(np.ones(3), -np.ones(3)) == 1
    assert relative_error([1e-9, 0], [1e-9, 0]) == 0
    with pytest.raises(ValueError, match="shapes"):
        relative_error(np.ones(2), np.ones(3))


def test_check_layer_catches_planted_bugs():
    class WrongReLU(ReLU):
        def backward(self, dA):
            return dA * (self._cached(dA) >= -1.0)          # passes gradient for -1 < z < 0 too

    class NoBiasGrad(Dense):
        def backward(self, dZ):
            out = super().backward(dZ)
            self.grads["b"] = dZ.mean(axis=0)
            return out

    rng = np.random.default_rng(0)
    assert check_layer(WrongReLU(), away_from_zero(rng, (5, 6)))["input"] > 1e-2
    assert check_layer(NoBiasGrad(3, 2, rng=0, init=normal_init), rng.normal(size=(4, 3)))["b"] > 1e-2


def test_gradient_checks_refuse_float32():
    with pytest.raises(TypeError, match="float64"):
        check_layer(ReLU(), np.ones((2, 2), dtype=np.float32))
    with pytest.raises(TypeError, match="float64"):
        numerical_gradient(lambda v: 0.0, np.ones(2, dtype=np.float32))
    with pytest.raises(TypeError, match="float64"):
        check_loss(MSELoss(), np.ones((2, 2), dtype=np.float32), np.ones((2, 2)))
    with pytest.raises(TypeError, match="float64"):
        numerical_gradient_at(lambda v: 0.0, np.ones(2, dtype=np.float32), [(0,)])


def test_numerical_gradient_at_matches_the_full_gradient():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(4, 5))
    before = x.copy()
    f = lambda v: float(np.sum(np.sin(v) * v))
    indices = [(0, 0), (3, 4), (2, 1)]
    full = numerical_gradient(f, x)
    np.testing.assert_allclose(numerical_gradient_at(f, x, indices), [full[i] for i in indices], rtol=1e-12)
    np.testing.assert_array_equal(x, before)


def test_h_is_the_step():
    x = np.array([0.3, -1.2])
    f = lambda v: float(np.sum(np.exp(v)))
    np.testing.assert_array_equal(numerical_gradient(f, x, 1e-4), numerical_gradient(f, x, h=1e-4))
    np.testing.assert_allclose(numerical_gradient(f, x, h=1e-4), np.exp(x), rtol=1e-7)
    layer = Sigmoid()
    Z = np.random.default_rng(0).normal(size=(3, 4))
    assert check_layer(layer, Z, h=1e-5)["input"] < 1e-8


def test_largest_error_finds_the_one_wrong_entry():
    rng = np.random.default_rng(4)
    a = rng.normal(size=(300, 5))
    b = a.copy()
    b[-1] *= 2.0                                        # one row wrong
    error, where = largest_error(a, b)
    assert where[0] == 299 and error > 0.1
    assert relative_error(a, b) < error                 # the norm dilutes it, the largest error does not
    assert largest_error(np.zeros(3), np.zeros(3)) == (0.0, (0,))
    with pytest.raises(ValueError, match="shapes"):
        largest_error(np.ones(2), np.ones(3))


def test_check_layer_with_a_sample_of_entries():
    rng = np.random.default_rng(5)
    layer = Dense(60, 40, rng=rng, init=normal_init)
    errors = check_layer(layer, rng.normal(size=(3, 60)), sample=25)
    assert set(errors) == {"input", "W", "b"} and max(errors.values()) < TOL

    class NoBiasGrad(Dense):
        def backward(self, dZ):
            out = super().backward(dZ)
            self.grads["b"] = 0 * dZ.sum(axis=0)
            return out

    assert check_layer(NoBiasGrad(60, 40, rng=0, init=normal_init), rng.normal(size=(3, 60)), sample=25)["b"] > 0.5


def test_check_layer_of_a_first_layer_skips_the_input():
    layer = Dense(3, 2, rng=0, init=normal_init)
    layer.input_grad = False
    errors = check_layer(layer, np.random.default_rng(6).normal(size=(4, 3)))
    assert set(errors) == {"W", "b"} and max(errors.values()) < TOL
