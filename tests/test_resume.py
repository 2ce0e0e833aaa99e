"""Resuming from a checkpoint is exact: 10 epochs in one go, and 5 epochs + SIGKILL + 5 resumed epochs, give the same
weights and history bit for bit, for the clear path (Model + Adam) and the fast path (FastModel + FastAdam, Chapter 11),
with dropout, a cosine schedule and early stopping's counters (Chapter 12's Checkpoint and load_checkpoint)."""
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from nnlib.serialization import load_checkpoint, load_model

SETUP = textwrap.dedent("""
    import sys, time
    import numpy as np
    from nnlib.fast import FastAdam, FastModel
    from nnlib.optimizers import Adam
    from nnlib.regularization import Dropout, EarlyStopping
    from nnlib.schedules import CosineDecay
    from nnlib.serialization import Checkpoint
    from nnlib.training import Callback, Model

    class Stall(Callback):
        "Says 'ready' and waits to be killed when epoch 6 begins, i.e. after the epoch-5 checkpoint is on disk."
        def __init__(self, armed):
            self._armed = armed
        def on_epoch_begin(self, model, epoch):
            if self._armed and epoch == 6:
                print("ready", flush=True)
                time.sleep(120)

    def data():
        rng = np.random.default_rng(0)
        X = rng.standard_normal((1200, 30)).astype(np.float32)
        y = (X[:, :3] @ np.array([1.0, -2.0, 0.5]) > 0).astype(np.int64) + (X[:, 3] > 0.5)
        return X[:1000], y[:1000], (X[1000:], y[1000:])

    def run(kind, checkpoint, armed, resume=None):
        cls, opt = {"clear": (Model, Adam), "fast": (FastModel, FastAdam)}[kind]
        model = cls(30, seed=7).dense(64)
        model.add(Dropout(0.3))
        model.dense(32).add(Dropout(0.2)).dense(3, None)
        X, y, val = data()
        callbacks = [CosineDecay(10), EarlyStopping(patience=100), Checkpoint(checkpoint, monitor=None), Stall(armed)]
        history = model.fit(X, y, epochs=10, batch_size=50, optimizer=opt(3e-3), validation_data=val,
                            callbacks=callbacks, verbose=False, resume=resume)
        return model, history
""")
namespace = {}
exec(SETUP, namespace)


@pytest.mark.parametrize("kind", ["clear", "fast"])
def test_killed_and_resumed_equals_straight(tmp_path, kind):
    straight, straight_history = namespace["run"](kind, tmp_path / "straight.npz", armed=False)

    checkpoint = tmp_path / "run.npz"
    script = SETUP + f"run({kind!r}, {str(checkpoint)!r}, armed=True)\n"
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready", "the training process died before epoch 6"
        proc.kill()                                    # SIGKILL: no handler, no clean-up, like a crash
        assert proc.wait(timeout=10) == -9
    finally:
        if proc.poll() is None:
            proc.kill()
    state = load_checkpoint(checkpoint)
    assert state.epoch == 5 and len(state.history) == 5

    resumed, resumed_history = namespace["run"](kind, tmp_path / "resumed.npz", armed=False, resume=state)
    assert list(resumed_history.index) == list(range(1, 11))
    assert resumed_history.equals(straight_history)    # every loss, accuracy, lr, val_* of all 10 epochs
    for a, b in zip(resumed.get_weights(), straight.get_weights()):
        assert np.array_equal(a, b)
    # the checkpoints at epoch 10 agree too: optimiser, callbacks and generators included
    for name in ("optimizer", "callbacks", "generators"):
        assert (load_checkpoint(tmp_path / "resumed.npz")._state[name] == load_checkpoint(tmp_path / "straight.npz")._state[name])


def test_resume_refuses_other_callbacks_or_optimizer(tmp_path):
    run = namespace["run"]
    run("clear", tmp_path / "c.npz", armed=False)
    state = load_checkpoint(tmp_path / "c.npz")
    model = namespace["Model"](30, seed=7).dense(64)
    model.add(namespace["Dropout"](0.3))
    model.dense(32).add(namespace["Dropout"](0.2)).dense(3, None)
    X, y, val = namespace["data"]()
    with pytest.raises(ValueError, match="written with callbacks"):
        model.fit(X, y, epochs=12, optimizer=namespace["Adam"](), callbacks=[], resume=state, verbose=False)
    with pytest.raises(ValueError, match="written with Adam, not SGD"):
        from nnlib.training import SGD
        cbs = [namespace["CosineDecay"](10), namespace["EarlyStopping"](100),
               namespace["Checkpoint"](tmp_path / "d.npz", None), namespace["Stall"](False)]
        model.fit(X, y, epochs=12, optimizer=SGD(0.1), callbacks=cbs, resume=state, verbose=False)
    with pytest.raises(ValueError, match="without training state"):
        from nnlib.serialization import save_model
        load_checkpoint(save_model(model, tmp_path / "plain.npz"))
    assert load_model(tmp_path / "c.npz").count_params() == model.count_params()  # a checkpoint is a model file


def test_state_is_restored_in_place():
    "capture_state / restore_state write into existing arrays (np.copyto), so views of them stay valid."
    from nnlib.serialization import capture_state, restore_state
    from nnlib.fast import FastAdam
    opt = FastAdam(1e-3)
    p, g = np.ones(4, np.float32), np.full(4, 0.5, np.float32)
    opt.step([p], [g])
    arrays = {}
    saved = capture_state(opt, "optimizer", arrays)
    m = opt.state[0][0]
    view = m[1:3]
    opt.step([p], [g])
    restore_state(opt, saved, arrays)
    assert opt.state[0][0] is m and np.array_equal(view, arrays["optimizer.state.0.0"][1:3]) and opt.t == 1
