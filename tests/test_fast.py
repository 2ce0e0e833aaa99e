"""Chapter 11: the fast training path computes the same numbers as the clear one."""

import numpy as np
import pytest

from nnlib.clipping import ClipByGlobalNorm, ClipByValue
from nnlib.data import load_mnist, make_spirals, one_hot
from nnlib.fast import FastAdam, FastModel, FusedBlock, fused_blocks, matmul_floor
from nnlib.init import he_normal
from nnlib.layers import Dense, MSELoss, ReLU, Sigmoid
from nnlib.optimizers import Adam, Momentum, RMSProp
from nnlib.regularization import Dropout, L2
from nnlib.schedules import CosineDecay
from nnlib.serialization import load_model, save_model
from nnlib.training import SGD, Model

X3, y3 = make_spirals(600, classes=3, noise=0.2, seed=0)


def network(cls, dtype, *, seed=0, dropout=(0.3, 0.2), widths=(2, 32, 16, 3)):
    """Dense-ReLU-Dropout blocks, as in Chapter 12, on a small problem."""
    model = cls(widths[0], seed=seed, dtype=dtype)
    for n_in, n_out, p in zip(widths[:-2], widths[1:-1], dropout):
        model.add(Dense(n_in, n_out, rng=model.rng, init=he_normal)).add(ReLU())
        if p:
            model.add(Dropout(p))
    return model.dense(widths[-1], None, init=he_normal)


def train_both(dtype, *, X=X3, y=y3, make=network, clear_opt=lambda: Adam(1e-2), fast_opt=lambda: FastAdam(1e-2),
               callbacks=lambda: [], **fit):
    fit = {"epochs": 3, "batch_size": 64, "verbose": False} | fit
    clear, fast = make(Model, dtype), make(FastModel, dtype)
    h_clear = clear.fit(X.astype(dtype), y, optimizer=clear_opt(), callbacks=callbacks(), **fit)
    h_fast = fast.fit(X.astype(dtype), y, optimizer=fast_opt(), callbacks=callbacks(), **fit)
    return clear, fast, h_clear, h_fast


def assert_same_weights(a, b, atol=0.0):
    for i, (p, q) in enumerate(zip(a.parameters(), b.parameters())):
        assert p.dtype == q.dtype and p.shape == q.shape
        assert np.max(np.abs(p - q)) <= atol, f"parameter {i} differs by {np.max(np.abs(p - q))}"


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_fast_path_gives_the_clear_paths_weights(dtype):
    # 600 examples in batches of 64: the last batch has 24, so the buffers' partial views are exercised too
    clear, fast, h_clear, h_fast = train_both(dtype)
    assert_same_weights(clear, fast, atol=1e-12 if dtype == np.float64 else 0.0)
    assert_same_weights(clear, fast)  # in fact bit for bit: the same operations in the same order
    tol = 1e-12 if dtype == np.float64 else 1e-5
    assert np.allclose(h_clear["loss"], h_fast["loss"], rtol=tol, atol=0)
    assert (h_clear["accuracy"] == h_fast["accuracy"]).all()
    assert not np.array_equal(clear.parameters()[0], network(Model, dtype).parameters()[0])  # it did train


@pytest.mark.parametrize("name, make_callbacks", [
    ("L2 + clip by norm + cosine", lambda: [L2(1e-3), ClipByGlobalNorm(0.5), CosineDecay(3)]),
    ("clip by value", lambda: [ClipByValue(0.01)]),
])
def test_fast_path_with_gradient_callbacks(name, make_callbacks):
    clear, fast, _, _ = train_both(np.float64, callbacks=make_callbacks)
    assert_same_weights(clear, fast, atol=1e-12)


@pytest.mark.parametrize("clear_opt, fast_opt", [
    (lambda: SGD(0.1), lambda: SGD(0.1)),
    (lambda: Momentum(0.05, nesterov=True), lambda: Momentum(0.05, nesterov=True)),
    (lambda: RMSProp(1e-3), lambda: RMSProp(1e-3)),
    (lambda: Adam(1e-2), lambda: Adam(1e-2)),   # the clear Adam inside the fast model
])
def test_fast_model_with_every_optimizer(clear_opt, fast_opt):
    clear, fast, _, _ = train_both(np.float64, clear_opt=clear_opt, fast_opt=fast_opt)
    assert_same_weights(clear, fast, atol=1e-12)


def test_fast_path_one_hot_targets_no_shuffle_and_one_big_batch():
    for fit in ({"y": one_hot(y3, 3, dtype=np.float64)}, {"shuffle": False}, {"batch_size": 10_000}):
        clear, fast, h_clear, h_fast = train_both(np.float64, **fit)
        assert_same_weights(clear, fast, atol=1e-12)
        assert np.allclose(h_clear["loss"], h_fast["loss"], rtol=1e-12, atol=0)


def test_fast_path_on_mnist_float64():
    """The issue's check: Chapter 12's network on real data, float64, agreement to 1e-12 (in fact exact)."""
    X, y = load_mnist("train")
    X, y = X[:1500].astype(np.float64), y[:1500]
    make = lambda cls, dtype: network(cls, dtype, widths=(784, 400, 100, 10), dropout=(0.3, 0.3))  # noqa: E731
    clear, fast, h_clear, h_fast = train_both(np.float64, X=X, y=y, make=make, clear_opt=lambda: Adam(1e-3),
                                              fast_opt=lambda: FastAdam(1e-3), epochs=2, batch_size=256)
    assert_same_weights(clear, fast, atol=1e-12)
    assert np.allclose(h_clear["loss"], h_fast["loss"], rtol=1e-12, atol=0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fast_adam_is_adam_bit_for_bit(dtype):
    rng = np.random.default_rng(1)
    params = [rng.standard_normal((7, 5)).astype(dtype), rng.standard_normal(5).astype(dtype)]
    copies = [p.copy() for p in params]
    clear, fast = Adam(3e-2, beta1=0.8), FastAdam(3e-2, beta1=0.8)
    for step in range(60):
        grads = [(rng.standard_normal(p.shape) * 10.0 ** rng.integers(-4, 3)).astype(dtype) for p in params]
        clear.lr = fast.lr = 3e-2 / (1 + step)  # a schedule changes lr between steps
        clear.step(params, grads)
        fast.step(copies, grads)
    for p, q in zip(params, copies):
        assert np.array_equal(p, q)
    assert fast.t == clear.t == 60


@pytest.mark.parametrize("make", [
    lambda cls, dtype: cls(2, seed=0, dtype=dtype).dense(16, "sigmoid").dense(3, None),           # not ReLU
    lambda cls, dtype: cls(2, seed=0, dtype=dtype, loss=MSELoss()).dense(16).dense(3, None),      # not softmax-CE
    lambda cls, dtype: cls(2, seed=0, dtype=dtype).dense(16).dense(3, "relu"),                    # ReLU on the logits
    lambda cls, dtype: cls(2, seed=0, dtype=dtype).add(Dropout(0.2)).dense(3, None),             # starts with dropout
])
def test_networks_the_fast_path_does_not_cover_train_as_before(make):
    model = make(FastModel, np.float64)
    assert fused_blocks(model, 64) is None
    targets = one_hot(y3, 3, dtype=np.float64) if isinstance(model.loss, MSELoss) else y3
    clear, fast = make(Model, np.float64), make(FastModel, np.float64)
    clear.fit(X3, targets, epochs=2, batch_size=64, optimizer=SGD(0.1), verbose=False)
    fast.fit(X3, targets, epochs=2, batch_size=64, optimizer=SGD(0.1), verbose=False)
    assert_same_weights(clear, fast)


def test_fused_blocks_group_the_layers():
    model = network(FastModel, np.float32, widths=(784, 400, 100, 10), dropout=(0.3, 0.0))
    blocks = fused_blocks(model, 256)
    assert [type(b) for b in blocks] == [FusedBlock] * 3
    assert [(b.relu, b.dropout is not None) for b in blocks] == [(True, True), (True, False), (False, False)]
    assert blocks[0].out.shape == (256, 400) and blocks[0].out.dtype == np.float32
    assert fused_blocks(Model(3, seed=0).add(Sigmoid()), 8) is None


def test_fast_model_nan_loss_keeps_best_weights():
    model = network(FastModel, np.float32, dropout=(0.0, 0.0))
    model.fit(X3, y3, epochs=2, batch_size=32, optimizer=SGD(0.1), verbose=False)
    with pytest.warns(RuntimeWarning, match="the loss became (nan|inf) at epoch \\d+, batch \\d+"):
        with np.errstate(all="ignore"):
            history = model.fit(X3, y3, epochs=20, batch_size=32, optimizer=SGD(1e6), verbose=False)
    assert len(history) < 20
    assert all(np.isfinite(w).all() for w in model.get_weights())


def test_fast_model_rejects_bad_labels_before_training():
    model = network(FastModel, np.float32)
    before = model.get_weights()
    with pytest.raises(ValueError, match=r"labels must be in \[0, 3\).*got values from 0 to 3"):
        model.fit(X3, np.where(y3 == 2, 3, y3), epochs=1, verbose=False)
    with pytest.raises(TypeError, match="class labels must be integers"):
        model.fit(X3, y3.astype(np.float32), epochs=1, verbose=False)
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))


def test_fast_model_is_reproducible_and_saves_like_a_model(tmp_path):
    a, b = network(FastModel, np.float32, seed=5), network(FastModel, np.float32, seed=5)
    for m in (a, b):
        m.fit(X3, y3, epochs=2, batch_size=64, optimizer=FastAdam(1e-2), verbose=False)
    assert_same_weights(a, b)
    loaded = load_model(save_model(a, tmp_path / "fast.npz"))
    assert np.array_equal(loaded.predict_proba(X3), a.predict_proba(X3))


def test_matmul_floor_runs_on_finite_numbers():
    X = np.random.default_rng(0).random((1000, 784), dtype=np.float32)
    with np.errstate(all="raise"):  # no overflow or NaN in the products being timed
        seconds = matmul_floor(X, [784, 400, 100, 10], batch_size=256)
    assert 0 < seconds < 60


def test_fast_step_allocates_almost_nothing():
    """What Chapter 11 keeps the fused blocks and FastAdam for, besides time: a step allocates (and frees) almost no
    memory, where the clear step allocates every activation, mask and Adam temporary afresh (tracemalloc)."""
    import tracemalloc
    rng = np.random.default_rng(0)
    X, y = rng.random((1024, 784), dtype=np.float32), rng.integers(0, 10, 1024)

    def step_peak(cls, optimizer):
        model = network(cls, np.float32, widths=(784, 400, 100, 10), dropout=(0.3, 0.3))
        model.fit(X, y, epochs=1, batch_size=256, optimizer=optimizer, verbose=False)  # buffers and Adam's state
        tracemalloc.start()
        try:
            peaks = []
            for _ in range(3):
                before = tracemalloc.get_traced_memory()[0]
                tracemalloc.reset_peak()
                model.train_step(X[:256], y[:256])
                peaks.append(tracemalloc.get_traced_memory()[1] - before)
        finally:
            tracemalloc.stop()
        return np.median(peaks)

    clear, fast = step_peak(Model, Adam(1e-3)), step_peak(FastModel, FastAdam(1e-3))
    assert clear > 2 * 355_110 * 4  # at least two float32 temporaries of the size of all parameters
    assert fast < 0.02 * clear, (fast, clear)


def test_fast_train_step_with_a_larger_batch_than_fit_had():
    """Finding 15: a batch larger than the last fit's buffers gets buffers of its size, and the same numbers as
    the clear step; a batch of the wrong width gets an error that names FastModel, the layer and both shapes."""
    clear, fast, _, _ = train_both(np.float64, batch_size=16, epochs=1)
    for model in (clear, fast):
        model.optimizer = Adam(1e-2)
    Xb, yb = X3[:64].astype(np.float64), y3[:64]
    loss_clear, correct_clear = clear.train_step(Xb, yb)
    loss_fast, correct_fast = fast.train_step(Xb, yb)
    assert correct_clear == correct_fast and np.isclose(loss_clear, loss_fast, rtol=1e-12)
    assert_same_weights(clear, fast, atol=1e-12)
    with pytest.raises(ValueError, match=r"FastModel: .* expects a batch of shape \(N, 2\), got shape \(64, 3\)"):
        fast.train_step(np.zeros((64, 3)), yb)
