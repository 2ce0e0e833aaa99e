"""Chapters 6-10: the Model, optimisers, regularisation, schedules and clipping."""

import numpy as np
import pandas as pd
import pytest

from nnlib.clipping import ClipByGlobalNorm, ClipByValue
from nnlib.data import make_moons, minibatches
from nnlib.gradcheck import check_layer, numerical_gradient, relative_error
from nnlib.init import INITIALIZERS, get_initializer, he_normal, he_uniform, uniform, xavier_normal, xavier_uniform
from nnlib.layers import Dense
from nnlib.optimizers import Adam, Momentum, RMSProp
from nnlib.regularization import Dropout, EarlyStopping, L2
from nnlib.schedules import CosineDecay, ExponentialDecay, InverseTimeDecay, ReduceLROnPlateau, StepDecay
from nnlib.training import SGD, Callback, Model


def moons_model(seed=0, dtype=np.float32, dropout=0.0):
    model = Model(2, seed=seed, dtype=dtype).dense(16, "tanh", init=xavier_normal)
    if dropout:
        model.add(Dropout(dropout))
    return model.dense(2, None, init=xavier_normal)


X2, y2 = make_moons(200, noise=0.1, seed=0)


# --- optimisers against their formulas ---------------------------------------------------------------------------

def run(optimizer, grads):
    theta = np.array([1.0, -2.0])
    for g in grads:
        optimizer.step([theta], [np.array(g, dtype=float)])
    return theta


GRADS = [[0.5, -1.0], [0.3, 0.2], [-0.1, 0.4]]


def test_sgd_and_momentum_match_formulas():
    assert np.allclose(run(SGD(0.1), GRADS), np.array([1.0, -2.0]) - 0.1 * np.sum(GRADS, axis=0))
    theta, v = np.array([1.0, -2.0]), np.zeros(2)
    theta_n, v_n = theta.copy(), np.zeros(2)
    for g in map(np.array, GRADS):
        v = 0.9 * v + g
        theta = theta - 0.1 * v
        v_n = 0.9 * v_n + g
        theta_n = theta_n - 0.1 * (g + 0.9 * v_n)
    assert np.allclose(run(Momentum(0.1, 0.9), GRADS), theta)
    assert np.allclose(run(Momentum(0.1, 0.9, nesterov=True), GRADS), theta_n)


def test_rmsprop_and_adam_match_formulas():
    theta, s = np.array([1.0, -2.0]), np.zeros(2)
    for g in map(np.array, GRADS):
        s = 0.9 * s + 0.1 * g * g
        theta = theta - 0.01 * g / (np.sqrt(s) + 1e-8)
    assert np.allclose(run(RMSProp(0.01), GRADS), theta)
    theta, m, v = np.array([1.0, -2.0]), np.zeros(2), np.zeros(2)
    for t, g in enumerate(map(np.array, GRADS), start=1):
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g * g
        theta = theta - 0.01 * (m / (1 - 0.9 ** t)) / (np.sqrt(v / (1 - 0.999 ** t)) + 1e-8)
    assert np.allclose(run(Adam(0.01), GRADS), theta, rtol=0, atol=1e-15)


def test_adam_first_step_is_lr_per_coordinate():
    theta = run(Adam(0.01), [[1e-3, -50.0]])
    np.testing.assert_allclose(theta, [1.0 - 0.01, -2.0 + 0.01], rtol=1e-6)


@pytest.mark.parametrize("make", [lambda: SGD(0), lambda: Adam(beta1=1.0), lambda: Momentum(momentum=1.5)])
def test_optimizer_arguments_checked(make):
    with pytest.raises(ValueError):
        make()


# --- initialisers --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("init, variance", [(xavier_normal, 2 / 700), (xavier_uniform, 2 / 700),
                                            (he_normal, 2 / 400), (he_uniform, 2 / 400),
                                            (lambda a, b, r: uniform(a, b, r, limit=0.5), 1 / 12)])
def test_initializer_variances(init, variance):
    W = init(400, 300, np.random.default_rng(0))
    assert W.shape == (400, 300)
    assert abs(W.mean()) < 0.01 * np.sqrt(variance) * 10
    assert W.var() == pytest.approx(variance, rel=0.02)


def test_get_initializer():
    assert get_initializer("he") is he_normal and get_initializer(uniform) is uniform
    assert set(INITIALIZERS) >= {"he", "xavier", "uniform"}
    with pytest.raises(ValueError, match="unknown initialisation 'kaiming'"):
        get_initializer("kaiming")


# --- the model -----------------------------------------------------------------------------------------------------

def test_fit_returns_history_and_learns():
    model = moons_model()
    history = model.fit(X2, y2, epochs=40, batch_size=16, optimizer=SGD(0.3), validation_data=(X2, y2), verbose=False)
    assert isinstance(history, pd.DataFrame) and list(history.index) == list(range(1, 41))
    assert {"loss", "accuracy", "lr", "val_loss", "val_accuracy"} <= set(history.columns)
    assert history["loss"].iloc[-1] < 0.5 * history["loss"].iloc[0]
    assert model.evaluate(X2, y2)["accuracy"] > 0.95
    assert model.predict(X2).shape == (200,)
    proba = model.predict_proba(X2)
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-5)


def test_minibatches_drop_last_keeps_only_full_batches():
    X, y = np.arange(50, dtype=float).reshape(25, 2), np.arange(25)
    for shuffle, rng in ((True, 0), (False, None)):
        kept = list(minibatches(X, y, 4, shuffle=shuffle, rng=rng, drop_last=True))
        every = list(minibatches(X, y, 4, shuffle=shuffle, rng=rng))
        assert [len(yb) for _, yb in kept] == [4] * 6 and [len(yb) for _, yb in every] == [4] * 6 + [1]
        for (Xa, ya), (Xb, yb) in zip(kept, every):  # the same order: only the ragged batch is left out
            np.testing.assert_array_equal(ya, yb)
            np.testing.assert_array_equal(Xa, Xb)
    assert len(list(minibatches(X, y, 5, rng=0, drop_last=True))) == 5  # 5 divides 25: nothing dropped
    with pytest.raises(ValueError, match=r"minibatches: drop_last=True with batch_size 26 > N = 25"):
        minibatches(X, y, 26, rng=0, drop_last=True)


def test_fit_drop_last_skips_the_ragged_batch():
    sizes = {}
    for drop_last in (False, True):
        model = moons_model(seed=3)
        history = model.fit(X2, y2, epochs=2, batch_size=64, optimizer=SGD(0.1), drop_last=drop_last, verbose=False)
        sizes[drop_last] = model.optimizer.t
        assert len(history) == 2 and np.all(np.isfinite(history["loss"]))
    assert sizes == {False: 2 * 4, True: 2 * 3}  # 200 = 3 × 64 + 8: the batch of 8 is skipped in each epoch
    # the same first steps: drop_last changes nothing but the skipped batch, so one epoch of 192 examples
    # with drop_last matches a run on the same 192-example batches written out by hand
    a, b = moons_model(seed=3), moons_model(seed=3)
    a.fit(X2, y2, epochs=1, batch_size=64, optimizer=SGD(0.1), drop_last=True, verbose=False)
    b.optimizer = SGD(0.1)
    for Xb, yb in minibatches(X2, y2, 64, rng=b.rng, drop_last=True):
        b.train_step(Xb, yb)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)
    with pytest.raises(ValueError, match=r"fit: drop_last=True with batch_size 256 > N = 200"):
        moons_model().fit(X2, y2, batch_size=256, drop_last=True, verbose=False)
    moons_model().fit(X2, y2, epochs=1, batch_size=256, verbose=False)  # without drop_last: one batch of 200


def test_fit_drop_last_history_averages_the_examples_trained_on():
    model = moons_model(seed=1)
    history = model.fit(X2, y2, epochs=1, batch_size=64, optimizer=SGD(1e-12), drop_last=True, verbose=False)
    # with a learning rate of 1e-12 the weights barely move: the epoch's loss is the mean over the 192 examples
    # of the three full batches, the same permutation as the model's generator drew
    fresh = moons_model(seed=1)
    idx = fresh.rng.permutation(len(X2))[:192]
    expected = fresh.evaluate(X2[idx], y2[idx])["loss"]
    assert history["loss"].iloc[0] == pytest.approx(expected, rel=1e-4)


def test_same_seed_bit_identical_weights_with_dropout():
    weights = []
    for _ in range(2):
        model = moons_model(seed=7, dropout=0.3)
        model.fit(X2, y2, epochs=5, batch_size=32, optimizer=Adam(0.01), verbose=False)
        weights.append(model.get_weights())
    for a, b in zip(*weights):
        assert np.array_equal(a, b)
    other = moons_model(seed=8, dropout=0.3)
    other.fit(X2, y2, epochs=5, batch_size=32, optimizer=Adam(0.01), verbose=False)
    assert not np.array_equal(other.get_weights()[0], weights[0][0])


def test_model_building_errors():
    model = Model(784)
    with pytest.raises(ValueError, match="no layers"):
        model.predict(np.zeros((1, 784), np.float32))
    model.dense(100)
    with pytest.raises(ValueError, match="layer 3 \\(Dense\\(50→10\\)\\) takes 50 inputs, but the previous layer outputs 100"):
        model.add(Dense(50, 10))
    with pytest.raises(ValueError, match="unknown activation 'gelu'"):
        model.dense(10, "gelu")
    with pytest.raises(ValueError, match="shape \\(N, 784\\)"):
        model.predict(np.zeros((3, 28, 28), np.float32))
    with pytest.raises(TypeError, match="astype\\(np.float32\\) / 255"):
        model.predict(np.zeros((3, 784), np.uint8))
    with pytest.raises(ValueError, match="NaN"):
        model.predict(np.full((3, 784), np.nan, np.float32))


def test_nan_loss_stops_and_keeps_best_weights():
    model = Model(2, seed=0).dense(64, "relu", init=he_normal).dense(64, "relu", init=he_normal).dense(2, None, init=he_normal)
    model.fit(X2, y2, epochs=3, batch_size=32, optimizer=SGD(0.1), verbose=False)
    good = model.get_weights()
    with pytest.warns(RuntimeWarning, match="the loss became (nan|inf) at epoch \\d+, batch \\d+"):
        with np.errstate(all="ignore"):
            history = model.fit(X2, y2, epochs=20, batch_size=32, optimizer=SGD(1e6), verbose=False)
    assert all(np.isfinite(w).all() for w in model.get_weights())
    assert len(history) < 20
    if len(history) == 0:  # diverged in the first epoch: back to the weights from before this fit
        for a, b in zip(model.get_weights(), good):
            assert np.array_equal(a, b)


def test_keyboard_interrupt_returns_history_and_best_weights():
    class Interrupt(Callback):
        def on_epoch_end(self, model, epoch, logs):
            if epoch == 3:
                raise KeyboardInterrupt
    model = moons_model()
    with pytest.warns(RuntimeWarning, match="interrupted"):
        history = model.fit(X2, y2, epochs=10, batch_size=32, optimizer=SGD(0.1), callbacks=[Interrupt()], verbose=False)
    assert len(history) == 3


# --- regularisation --------------------------------------------------------------------------------------------------

def test_dropout_statistics_and_modes():
    layer = Dropout(0.25, rng=np.random.default_rng(0))
    X = np.ones((2000, 50), dtype=np.float32)
    A = layer.forward(X)
    assert A.dtype == np.float32
    assert np.mean(A == 0) == pytest.approx(0.25, abs=0.01)
    assert A.mean() == pytest.approx(1.0, abs=0.01)
    np.testing.assert_array_equal(layer.backward(np.ones_like(X)), A)  # dA ⊙ M / (1 - p)
    layer.training = False
    assert layer.forward(X) is X
    with pytest.raises(ValueError, match="\\[0, 1\\)"):
        Dropout(1.0)


def test_dropout_gradient_check():
    class Fixed(Dropout):
        def forward(self, X):
            self.rng = np.random.default_rng(3)
            return super().forward(X)
    assert check_layer(Fixed(0.4), np.random.default_rng(0).normal(size=(5, 7)))["input"] < 1e-6


def test_l2_gradient_matches_penalty():
    model = moons_model(dtype=np.float64)
    reg = L2(0.1)
    W = model.layers[0].params["W"]
    model.layers[0].grads["W"] = np.zeros_like(W)
    model.layers[2].grads["W"] = np.zeros_like(model.layers[2].params["W"])
    reg.on_gradients(model)
    numeric = numerical_gradient(lambda _: reg.penalty(model), W)
    assert relative_error(model.layers[0].grads["W"], numeric) < 1e-6


def test_early_stopping_restores_best_weights():
    class FakeLosses(Callback):
        values = [1.0, 0.5, 0.7, 0.8, 0.9, 1.0]
        def on_epoch_end(self, model, epoch, logs):
            logs["val_loss"] = self.values[epoch - 1]
            if epoch == 2:
                self.saved = model.get_weights()
    fake, stopper = FakeLosses(), EarlyStopping(patience=2)
    model = moons_model()
    history = model.fit(X2, y2, epochs=6, batch_size=32, optimizer=SGD(0.1), callbacks=[fake, stopper], verbose=False)
    assert stopper.best_epoch == 2 and stopper.stopped_epoch == 4 and len(history) == 4
    for a, b in zip(model.get_weights(), fake.saved):
        assert np.array_equal(a, b)
    with pytest.raises(KeyError, match="validation_data"):
        moons_model().fit(X2, y2, epochs=1, callbacks=[EarlyStopping()], verbose=False)


# --- schedules and clipping ------------------------------------------------------------------------------------------

class _Holder:
    class optimizer:
        lr = 0.1


@pytest.mark.parametrize("schedule, expected", [
    (StepDecay(2, 0.5), [0.1, 0.1, 0.05, 0.05, 0.025]),
    (ExponentialDecay(0.5), [0.1, 0.05, 0.025, 0.0125, 0.00625]),
    (InverseTimeDecay(1.0), [0.1, 0.05, 0.1 / 3, 0.025, 0.02]),
    (CosineDecay(4), [0.1, 0.1 * (1 + np.cos(np.pi / 4)) / 2, 0.05, 0.1 * (1 + np.cos(3 * np.pi / 4)) / 2, 0.0]),
])
def test_schedules(schedule, expected):
    schedule.on_train_begin(_Holder)
    np.testing.assert_allclose([schedule.lr_at(e) for e in range(1, 6)], expected, atol=1e-12)


def test_schedule_drives_the_optimizer_during_fit():
    history = moons_model().fit(X2, y2, epochs=4, optimizer=SGD(0.2), callbacks=[StepDecay(1, 0.5)], verbose=False)
    np.testing.assert_allclose(history["lr"], [0.2, 0.1, 0.05, 0.025])


def test_reduce_on_plateau():
    cb, model = ReduceLROnPlateau(0.5, patience=2), moons_model()
    model.optimizer = SGD(1.0)
    cb.on_train_begin(model)
    for epoch, loss in enumerate([1.0, 0.9, 0.95, 0.95, 0.95, 0.95], start=1):
        cb.on_epoch_end(model, epoch, {"val_loss": loss})
    assert model.optimizer.lr == 0.25


@pytest.mark.parametrize("make, match", [
    (lambda: StepDecay(2, factor="0.5"), "StepDecay: factor"),
    (lambda: StepDecay(2.0), "StepDecay: every"),
    (lambda: ExponentialDecay(True), "ExponentialDecay: factor"),
    (lambda: InverseTimeDecay(float("nan")), "InverseTimeDecay: decay"),
    (lambda: CosineDecay(0), "CosineDecay: epochs"),
    (lambda: ReduceLROnPlateau(factor="0.5"), "ReduceLROnPlateau: factor"),
    (lambda: ReduceLROnPlateau(patience="2"), "ReduceLROnPlateau: patience"),
    (lambda: ReduceLROnPlateau(patience=True), "ReduceLROnPlateau: patience"),
    (lambda: ReduceLROnPlateau(patience=0), "ReduceLROnPlateau: patience"),
    (lambda: ReduceLROnPlateau(monitor="val_los"), "ReduceLROnPlateau: monitor"),
    (lambda: ReduceLROnPlateau(mode="up"), "ReduceLROnPlateau: mode"),
])
def test_schedule_arguments_are_checked_when_built(make, match):
    "Chapter 10: a wrong type or range fails at construction, naming the class and the argument."
    with pytest.raises(ValueError, match=match):
        make()


@pytest.mark.parametrize("schedule", [CosineDecay(4, min_lr=0.5), ReduceLROnPlateau(min_lr=0.5)])
def test_min_lr_above_the_starting_rate_is_refused(schedule):
    "A min_lr above η_0 would raise the rate; it is refused when training starts (η_0 = 0.1 here)."
    with pytest.raises(ValueError, match="min_lr must not exceed"):
        schedule.on_train_begin(_Holder)


def test_reduce_on_plateau_patience_1_reduces_at_the_first_epoch_without_improvement():
    cb, model = ReduceLROnPlateau(0.5, patience=1), moons_model()
    model.optimizer = SGD(1.0)
    cb.on_train_begin(model)
    rates = []
    for epoch, loss in enumerate([1.0, 1.0, 0.9, 0.9], start=1):
        cb.on_epoch_end(model, epoch, {"val_loss": loss})
        rates.append(model.optimizer.lr)
    assert rates == [1.0, 0.5, 0.5, 0.25]


def test_clipping():
    model = moons_model(dtype=np.float64)
    model.fit(X2, y2, epochs=1, optimizer=SGD(0.1), verbose=False)
    for layer in model.layers:
        for name in layer.params:
            layer.grads[name] = np.full_like(layer.params[name], 3.0)
    ClipByValue(1.0).on_gradients(model)
    assert all(np.all(g == 1.0) for g in model.gradients())
    clip = ClipByGlobalNorm(2.0)
    clip.on_gradients(model)
    total = np.sqrt(sum(np.sum(g * g) for g in model.gradients()))
    assert total == pytest.approx(2.0) and clip.norms[-1] > 2.0
    assert len({float(g.ravel()[0]) for g in model.gradients()}) == 1  # same factor everywhere: direction kept
