"""Bad input gets a clear error that names the layer and both shapes (Chapters 2, 4, 5)."""
import numpy as np
import pytest

from nnlib.forward import dense_forward
from nnlib.layers import Dense, ReLU, SoftmaxCrossEntropy
from nnlib.losses import cross_entropy, mse, softmax_cross_entropy


def test_dense_forward_names_layer_and_shapes():
    W, b = np.zeros((784, 10)), np.zeros(10)
    with pytest.raises(ValueError) as info:
        dense_forward(np.zeros((5, 28, 28)), W, b, layer="layer 1 (Dense 784→10)")
    message = str(info.value)
    assert "layer 1 (Dense 784→10)" in message and "(batch, 784)" in message and "(5, 28, 28)" in message
    with pytest.raises(ValueError, match="x\\[None, :\\]"):
        dense_forward(np.zeros(784), W, b)
    with pytest.raises(ValueError, match="bias of shape \\(9,\\)"):
        dense_forward(np.zeros((2, 784)), W, np.zeros(9))


def test_dense_layer_errors():
    layer = Dense(4, 3, rng=0)
    with pytest.raises(RuntimeError, match="Dense\\(4→3\\): backward\\(\\) called before forward\\(\\)"):
        layer.backward(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="Dense\\(4→3\\).*\\(batch, 4\\).*\\(2, 5\\)"):
        layer.forward(np.zeros((2, 5)))
    layer.forward(np.zeros((2, 4)))
    with pytest.raises(ValueError, match="gradient of shape \\(2, 4\\).*output \\(2, 3\\)"):
        layer.backward(np.zeros((2, 4)))
    relu = ReLU(name="hidden ReLU")
    relu.forward(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="hidden ReLU"):
        relu.backward(np.zeros((3, 3)))


def test_loss_label_errors():
    z = np.zeros((3, 10))
    with pytest.raises(ValueError, match="labels must be in \\[0, 10\\).*got values from 0 to 10"):
        softmax_cross_entropy(z, np.array([0, 3, 10]))
    with pytest.raises(ValueError, match="-1"):
        softmax_cross_entropy(z, np.array([0, -1, 2]))
    with pytest.raises(ValueError, match="2 labels for a batch of 3"):
        softmax_cross_entropy(z, np.array([0, 1]))
    with pytest.raises(TypeError, match="integers"):
        cross_entropy(np.full((3, 10), 0.1), np.array([0.0, 1.0, 2.0]))
    with pytest.raises(ValueError, match="targets of shape \\(3, 9\\) do not match outputs of shape \\(3, 10\\)"):
        softmax_cross_entropy(z, np.zeros((3, 9)))
    with pytest.raises(ValueError, match="shape \\(N, K\\)"):
        softmax_cross_entropy(np.zeros(10), np.array([1]))
    with pytest.raises(ValueError, match="predictions of shape \\(3, 2\\) and targets of shape \\(3, 1\\)"):
        mse(np.zeros((3, 2)), np.zeros((3, 1)))
    with pytest.raises(RuntimeError, match="before forward"):
        SoftmaxCrossEntropy().backward()
