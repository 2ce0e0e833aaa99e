"""A learner's mistakes get errors that teach and lose nothing; random bytes never crash the readers; the numerics
hold for any inputs hypothesis can find (issue 7)."""
import gzip
import struct
import subprocess
import sys
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from nnlib.activations import sigmoid, softmax
from nnlib.data import parse_idx, read_idx
from nnlib.fast import FastModel
from nnlib.gradcheck import check_layer, check_loss
from nnlib.layers import CrossEntropy, Dense, MSELoss, ReLU, Sigmoid, Softmax, SoftmaxCrossEntropy, Tanh
from nnlib.losses import softmax_cross_entropy
from nnlib.regularization import Dropout
from nnlib.serialization import Checkpoint, load_model, save_model
from nnlib.training import SGD, Callback, Model

rng0 = np.random.default_rng(0)
X5 = rng0.random((5, 784), dtype=np.float32)
Y5 = np.array([0, 1, 2, 3, 4])


def small_model(cls=Model):
    return cls(784, seed=0).dense(16, "relu").dense(10, None)


def with_value(value, row=2):
    X = X5.copy()
    X[row, 7] = value
    return X


def backward_after_forward(layer, input_shape, grad_shape):
    layer.forward(np.zeros(input_shape, np.float32))
    return layer.backward(np.zeros(grad_shape, np.float32))


def fit(model, X=X5, y=Y5, **kwargs):
    return model.fit(X, y, epochs=1, batch_size=2, optimizer=SGD(0.1), verbose=False, **kwargs)


# --- the table of mistakes --------------------------------------------------------------------------------------------
# (what the learner did, the mistake as a function of a fresh model, the exception, what the message must contain)
MISTAKES = [
    ("input of the wrong width", lambda m: m.predict(np.zeros((5, 785), np.float32)), ValueError,
     ["layer 1 (Dense(784→16))", "(N, 784)", "(5, 785)"]),
    ("images not flattened", lambda m: m.predict(np.zeros((5, 28, 28), np.float32)), ValueError,
     ["layer 1 (Dense(784→16))", "(5, 28, 28)", "X.reshape(len(X), -1)"]),
    ("one example without a batch axis", lambda m: m.predict(np.zeros(784, np.float32)), ValueError,
     ["layer 1 (Dense(784→16))", "(784,)", "X[None, :]"]),
    ("integer pixels", lambda m: m.predict(np.zeros((5, 784), np.uint8)), TypeError,
     ["floating point", "uint8", "X.astype(np.float32) / 255"]),
    ("a NaN pixel", lambda m: fit(m, with_value(np.nan)), ValueError,
     ["NaN or infinity", "1 of 5 rows", "row 2", "np.nan_to_num"]),
    ("an infinite pixel", lambda m: m.evaluate(with_value(np.inf, row=4), Y5), ValueError,
     ["NaN or infinity", "row 4"]),
    ("an empty batch", lambda m: m.predict(np.zeros((0, 784), np.float32)), ValueError,
     ["empty batch", "(0, 784)", "at least one example"]),
    ("labels of the wrong length", lambda m: fit(m, y=Y5[:3]), ValueError,
     ["5 inputs", "labels of shape (3,)", "one label"]),
    ("a label out of range", lambda m: fit(m, y=np.array([0, 1, 2, 3, 10])), ValueError,
     ["10 classes", "layer 3 (Dense(16→10))", "[0, 10)", "from 0 to 10"]),
    ("a negative label", lambda m: fit(m, y=np.array([0, -1, 2, 3, 4])), ValueError,
     ["[0, 10)", "from -1 to 4"]),
    ("labels as floats", lambda m: fit(m, y=Y5.astype(float)), TypeError,
     ["integers", "float64", "y.astype(np.int64)"]),
    ("one-hot targets of the wrong width", lambda m: fit(m, y=np.eye(9)[Y5]), ValueError,
     ["(5, 9)", "10 outputs", "layer 3 (Dense(16→10))", "(5, 10)"]),
    ("labels as a matrix of one column", lambda m: fit(m, y=Y5[:, None]), ValueError,
     ["(5, 1)", "labels of shape (5,)"]),
    ("NaN in the targets", lambda m: fit(m, y=np.where(np.eye(10)[Y5] == 1, np.nan, 0.0)), ValueError,
     ["targets contain NaN"]),
    ("validation data of the wrong width", lambda m: fit(m, validation_data=(np.zeros((3, 783)), [0, 1, 2])),
     ValueError, ["layer 1 (Dense(784→16))", "(3, 783)"]),
    ("validation labels out of range", lambda m: fit(m, validation_data=(X5[:3], [0, 1, 12])), ValueError,
     ["[0, 10)", "from 0 to 12"]),
    ("a batch size of 0", lambda m: m.fit(X5, Y5, batch_size=0, verbose=False), ValueError,
     ["batch_size", "at least 1"]),
    ("a model with no layers", lambda m: type(m)(784).predict(X5), ValueError, ["no layers", "model.dense"]),
    ("fitting a model with no layers", lambda m: fit(type(m)(784)), ValueError, ["no layers"]),
    ("a layer that does not fit", lambda m: Model(784).dense(16).add(Dense(20, 10)), ValueError,
     ["layer 3 (Dense(20→10))", "takes 20 inputs", "outputs 16"]),
    ("something that is not a layer", lambda m: Model(784).add(np.zeros(3)), TypeError,
     ["layer 1", "expected an nnlib Layer", "ndarray"]),
    ("an unknown activation", lambda m: Model(784).dense(16, "softplus"), ValueError, ["'softplus'", "relu"]),
    ("a negative learning rate", lambda m: SGD(-0.1), ValueError, ["learning rate must be positive", "-0.1"]),
    ("dropout with p = 1", lambda m: Dropout(1.0), ValueError, ["[0, 1)", "got 1.0"]),
    ("a dense layer called on the wrong width", lambda m: Dense(4, 3, rng=0).forward(np.zeros((2, 5))), ValueError,
     ["Dense(4→3)", "(batch, 4)", "(2, 5)"]),
    ("backward before forward", lambda m: Dense(4, 3, rng=0).backward(np.zeros((2, 3))), RuntimeError,
     ["Dense(4→3)", "backward() called before forward()"]),
    ("a gradient of the wrong shape", lambda m: backward_after_forward(m.layers[0], (2, 784), (2, 3)), ValueError,
     ["layer 1 (Dense(784→16))", "gradient of shape (2, 3)", "(2, 16)"]),
    ("a loss given logits of one row", lambda m: softmax_cross_entropy(np.zeros(10), np.array([1])), ValueError,
     ["shape (N, K)", "(10,)"]),
]


@pytest.mark.parametrize("cls", [Model, FastModel])
@pytest.mark.parametrize("what, mistake, error, phrases", MISTAKES, ids=[m[0] for m in MISTAKES])
def test_mistakes_get_errors_that_teach(what, mistake, error, phrases, cls):
    model = small_model(cls)
    before = model.get_weights()
    with pytest.raises(error) as info:
        mistake(model)
    message = str(info.value)
    for phrase in phrases:
        assert phrase in message, f"{what}: {phrase!r} missing from the message {message!r}"
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights())), f"{what}: the model changed"


@pytest.mark.parametrize("cls", [Model, FastModel])
def test_learning_rate_100_stops_at_the_first_nan_and_keeps_the_best_weights(cls):
    # regression with MSE on tanh features: at learning rate 100 each step multiplies the output weights' error by
    # hundreds, so the loss overflows within a few batches (with softmax-CE the stable loss would stay finite)
    X, y = rng0.random((300, 784), dtype=np.float32), np.eye(10, dtype=np.float32)[rng0.integers(0, 10, 300)]
    model = cls(784, seed=0, loss=MSELoss()).dense(16, "tanh").dense(10, None)
    history = model.fit(X, y, epochs=2, batch_size=32, optimizer=SGD(0.01), verbose=False)
    best = model.get_weights()
    with pytest.warns(RuntimeWarning, match=r"the loss became (nan|inf) at epoch (\d+), batch (\d+)\. The model keeps"):
        with np.errstate(all="ignore"):
            later = model.fit(X, y, epochs=5, batch_size=32, optimizer=SGD(100.0), verbose=False)
    assert len(history) == 2 and len(later) < 5
    weights = model.get_weights()
    assert all(np.isfinite(w).all() for w in weights)
    if len(later) == 0:  # diverged in the first epoch of this fit: back to the weights it started from
        assert all(np.array_equal(a, b) for a, b in zip(best, weights))


def test_predicting_with_an_untrained_model_is_allowed():
    """Accepted, not rejected: an untrained network is a valid function (Chapters 2 and 6 use one as a baseline)."""
    p = small_model().predict_proba(X5)
    assert p.shape == (5, 10) and np.allclose(p.sum(axis=1), 1, rtol=1e-5)


# --- readers under random bytes ----------------------------------------------------------------------------------------
def idx_bytes(array: np.ndarray) -> bytes:
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(np.uint8).tobytes()


VALID_IDX = idx_bytes(np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4))


def only_value_errors(call, data):
    try:
        call(data)
    except ValueError:
        pass


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=64))
def test_parse_idx_random_bytes(raw):
    only_value_errors(lambda b: parse_idx(b, "random.idx"), raw)


@settings(max_examples=400, deadline=None)
@given(st.data())
def test_parse_idx_mutated_valid_files(data):
    raw = bytearray(VALID_IDX)
    for _ in range(data.draw(st.integers(1, 4))):
        kind = data.draw(st.sampled_from(["flip", "cut", "grow"]))
        if kind == "flip" and raw:
            i = data.draw(st.integers(0, len(raw) - 1))
            raw[i] = data.draw(st.integers(0, 255))
        elif kind == "cut":
            raw = raw[:data.draw(st.integers(0, len(raw)))]
        else:
            raw += data.draw(st.binary(min_size=1, max_size=8))
    only_value_errors(lambda b: parse_idx(bytes(b), "mutated.idx"), raw)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.binary(max_size=80), compress=st.booleans())
def test_read_idx_random_files(tmp_path, raw, compress):
    path = tmp_path / ("random.idx.gz" if compress else "random.idx")
    path.write_bytes(gzip.compress(raw) if compress else raw)
    only_value_errors(read_idx, path)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.binary(min_size=1, max_size=120))
def test_gzip_magic_then_anything(tmp_path, raw):
    path = tmp_path / "broken.idx.gz"
    path.write_bytes(b"\x1f\x8b" + raw)  # the gzip magic number, then anything
    only_value_errors(read_idx, path)


def mutations(raw: bytes, rng, n: int):
    """n damaged copies of raw: bytes overwritten, cut short, cut in the middle, or grown."""
    for _ in range(n):
        data = bytearray(raw)
        kind = rng.integers(4)
        if kind == 0:
            for i in rng.integers(0, len(data), rng.integers(1, 8)):
                data[i] = rng.integers(256)
        elif kind == 1:
            data = data[:rng.integers(0, len(data))]
        elif kind == 2:
            i = rng.integers(0, len(data))
            data = data[:i] + data[i + rng.integers(1, 64):]
        else:
            data += rng.bytes(rng.integers(1, 64))
        yield bytes(data)


def test_fuzz_idx_reader_and_model_loader(tmp_path):
    """A short seeded fuzz run: 1,500 damaged gzipped IDX files and 600 damaged model files. Only ValueError may
    come out, and no single file may take more than a second (no hang)."""
    rng = np.random.default_rng(7)
    idx = gzip.compress(idx_bytes(rng.integers(0, 256, (20, 28, 28)).astype(np.uint8)))
    model_file = tmp_path / "model.npz"
    save_model(small_model(), model_file)
    targets = [(idx, "data.idx.gz", read_idx, 1500), (model_file.read_bytes(), "model.npz", load_model, 600)]
    for raw, name, reader, n in targets:
        path = tmp_path / f"fuzz-{name}"
        for case, data in enumerate(mutations(raw, rng, n)):
            path.write_bytes(data)
            start = time.perf_counter()
            try:
                reader(path)
            except ValueError:
                pass
            except Exception as err:  # pragma: no cover - the test fails with the case that broke
                pytest.fail(f"{reader.__name__} case {case}: {type(err).__name__}: {err}")
            assert time.perf_counter() - start < 1.0, f"{reader.__name__} case {case} took too long"


# --- numerics for any inputs -------------------------------------------------------------------------------------------
logits = hnp.arrays(dtype=st.sampled_from([np.float32, np.float64]),
                    shape=hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=12),
                    elements=st.floats(-1e4, 1e4, width=32))


@settings(max_examples=200, deadline=None)
@given(logits)
def test_softmax_rows_sum_to_one_and_cross_entropy_is_finite(z):
    labels = np.arange(len(z)) % z.shape[1]
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        p = softmax(z)
        loss = softmax_cross_entropy(z, labels)
    assert p.dtype == z.dtype and np.all((p >= 0) & (p <= 1))
    np.testing.assert_allclose(p.sum(axis=1), 1, rtol=1e-5 if z.dtype == np.float32 else 1e-12)
    assert np.isfinite(loss) and loss >= 0


@settings(max_examples=200, deadline=None)
@given(hnp.arrays(dtype=st.sampled_from([np.float32, np.float64]), shape=hnp.array_shapes(max_dims=2, max_side=20),
                  elements=st.floats(-1e4, 1e4, width=32)))
def test_sigmoid_never_overflows(z):
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        s = sigmoid(z)
    assert s.dtype == z.dtype and np.all((s >= 0) & (s <= 1))


@settings(max_examples=60, deadline=None)
@given(batch=st.integers(1, 5), n_in=st.integers(1, 6), n_out=st.integers(1, 6), seed=st.integers(0, 2**32 - 1))
def test_every_layer_passes_the_gradient_check(batch, n_in, n_out, seed):
    rng = np.random.default_rng(seed)
    dense = Dense(n_in, n_out, rng=rng, init=lambda a, b, r: r.normal(0, 1, (a, b)))
    dense.params["b"][:] = rng.normal(size=n_out)
    assert max(check_layer(dense, rng.normal(size=(batch, n_in)), seed=seed).values()) < 1e-6
    away_from_zero = rng.choice([-1.0, 1.0], (batch, n_out)) * rng.uniform(0.05, 3.0, (batch, n_out))
    for layer, X in ((ReLU(), away_from_zero), (Sigmoid(), 2 * rng.normal(size=(batch, n_out))),
                     (Tanh(), 2 * rng.normal(size=(batch, n_out))), (Softmax(), 3 * rng.normal(size=(batch, n_out)))):
        assert check_layer(layer, X, seed=seed)["input"] < 1e-6, type(layer).__name__
    class SameMask(Dropout):  # the check calls forward many times: redraw the same mask each time
        def forward(self, X):
            self.rng = np.random.default_rng(seed)
            return super().forward(X)
    assert check_layer(SameMask(0.5), rng.normal(size=(batch, n_out)), seed=seed)["input"] < 1e-6
    labels = rng.integers(0, n_out, batch)
    # logits of scale 3, as for Softmax: at scale 5 a batch can have gradients ~1e-8, all rounding noise
    assert check_loss(SoftmaxCrossEntropy(), 3 * rng.normal(size=(batch, n_out)), labels) < 1e-6
    assert check_loss(CrossEntropy(), softmax(rng.normal(size=(batch, n_out))), labels) < 1e-6
    assert check_loss(MSELoss(), rng.normal(size=(batch, n_out)), rng.normal(size=(batch, n_out))) < 1e-6



# --- interruptions and checkpoints -------------------------------------------------------------------------------------
@pytest.mark.parametrize("cls", [Model, FastModel])
def test_ctrl_c_mid_epoch_returns_the_history_so_far_and_the_best_weights(cls):
    X, y = rng0.random((200, 784), dtype=np.float32), rng0.integers(0, 10, 200)

    class CtrlC(Callback):
        "Presses Ctrl-C in the middle of epoch 3, after some of its steps were taken."
        def on_train_begin(self, model):
            self.steps, self.weights = 0, {}
        def on_gradients(self, model):
            self.steps += 1
            if self.steps == 2 * 7 + 3:  # 7 batches per epoch
                raise KeyboardInterrupt
        def on_epoch_end(self, model, epoch, logs):
            self.weights[epoch] = (logs["loss"], model.get_weights())

    ctrl_c = CtrlC()
    model = small_model(cls)
    with pytest.warns(RuntimeWarning, match="interrupted during epoch 3"):
        history = model.fit(X, y, epochs=10, batch_size=32, optimizer=SGD(0.05), callbacks=[ctrl_c], verbose=False)
    assert list(history.index) == [1, 2]
    best_epoch = min(ctrl_c.weights, key=lambda e: ctrl_c.weights[e][0])
    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), ctrl_c.weights[best_epoch][1]))


def test_checkpoint_saves_only_improvements(tmp_path):
    X, y = rng0.random((200, 784), dtype=np.float32), rng0.integers(0, 10, 200)
    path = tmp_path / "best.npz"
    checkpoint = Checkpoint(path, monitor="val_accuracy")
    model = small_model(FastModel)
    history = model.fit(X, y, epochs=6, batch_size=32, optimizer=SGD(0.05), validation_data=(X[:50], y[:50]),
                        callbacks=[checkpoint], verbose=False)
    best = history["val_accuracy"].cummax()
    improved = [e for e in history.index if e == 1 or best[e] > best[e - 1]]
    assert checkpoint.saved_epochs == improved
    assert load_model(path).evaluate(X[:50], y[:50])["accuracy"] == pytest.approx(history["val_accuracy"].max())
    with pytest.raises(KeyError, match="no 'val_loss' in the history.*validation_data"):
        small_model().fit(X, y, epochs=1, callbacks=[Checkpoint(path, monitor="val_loss")], verbose=False)


def test_killed_during_training_the_checkpoint_is_a_complete_model(tmp_path):
    """Kill a real training process at an arbitrary moment: the checkpoint on disk loads, whole."""
    path = tmp_path / "checkpoint.npz"
    script = ("import numpy as np\n"
              "from nnlib.fast import FastAdam, FastModel\n"
              "from nnlib.serialization import Checkpoint\n"
              "from nnlib.training import Callback\n"
              "class Ready(Callback):\n"
              "    def on_epoch_end(self, model, epoch, logs):\n"
              "        print(epoch, flush=True)\n"
              "rng = np.random.default_rng(0)\n"
              "X, y = rng.random((512, 784), dtype=np.float32), rng.integers(0, 10, 512)\n"
              "m = FastModel(784, seed=0).dense(400).dense(100).dense(10, None)\n"
              f"m.fit(X, y, epochs=100000, batch_size=64, optimizer=FastAdam(1e-4),\n"
              f"      callbacks=[Checkpoint({str(path)!r}), Ready()], verbose=False)\n")
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "1"  # the first checkpoint is written
        time.sleep(1.5)                                # then somewhere in the middle of later epochs and saves
    finally:
        proc.kill()
        proc.wait()
    model = load_model(path)
    assert model.count_params() == 784 * 400 + 400 + 400 * 100 + 100 + 100 * 10 + 10
    # nothing else but, at most, the temporary file of the save that was cut short
    assert all(p.name == "checkpoint.npz" or p.name.startswith(".checkpoint.npz.") for p in tmp_path.iterdir())
