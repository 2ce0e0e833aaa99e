"""Resuming from a checkpoint is exact: 10 epochs in one go, and 5 epochs + SIGKILL + 5 resumed epochs, give the same
weights and history bit for bit, for the clear path (Model + Adam) and the fast path (FastModel + FastAdam, Chapter 11),
with dropout, a cosine schedule and early stopping's counters (Chapter 12's Checkpoint and load_checkpoint): the
optimiser's own arrays (Adam's m, v and t; momentum's velocities) included. A run that early stopping ended is finished:
resuming it is refused, as is resuming with other settings or from a damaged checkpoint."""
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
    from nnlib.optimizers import Adam, Momentum
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

    OPTIMIZERS = {"clear": (Model, lambda: Adam(3e-3)), "fast": (FastModel, lambda: FastAdam(3e-3)),
                  "momentum": (Model, lambda: Momentum(0.02, 0.9, nesterov=True))}

    def run(kind, checkpoint, armed, resume=None, patience=100, min_delta=0.0):
        cls, opt = OPTIMIZERS[kind]
        model = cls(30, seed=7).dense(64)
        model.add(Dropout(0.3))
        model.dense(32).add(Dropout(0.2)).dense(3, None)
        X, y, val = data()
        callbacks = [CosineDecay(10), EarlyStopping(patience=patience, min_delta=min_delta), Checkpoint(checkpoint, monitor=None), Stall(armed)]
        history = model.fit(X, y, epochs=10, batch_size=50, optimizer=opt(), validation_data=val,
                            callbacks=callbacks, verbose=False, resume=resume)
        return model, history
""")
namespace = {}
exec(SETUP, namespace)


def optimizer_arrays(optimizer):
    "Every array the optimiser keeps (Adam's m and v, FastAdam's scratch too, momentum's velocities), in order."
    for i in sorted(optimizer.state):
        entry = optimizer.state[i]
        yield from entry if isinstance(entry, tuple) else (entry,)


def without_wall_time(callbacks):
    "The callbacks' saved state, except Checkpoint's wall time (a measurement, different in every run)."
    return [{**c, "state": {k: v for k, v in c["state"].items() if k != "wall_time_s"}} for c in callbacks]


@pytest.mark.parametrize("kind", ["clear", "fast", "momentum"])
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
    # the optimiser's own state, bit for bit: step count t, Adam's m and v (FastAdam: and its buffers), velocities
    assert resumed.optimizer.t == straight.optimizer.t == 10 * 20 and resumed.optimizer.lr == straight.optimizer.lr
    pairs = list(zip(optimizer_arrays(resumed.optimizer), optimizer_arrays(straight.optimizer), strict=True))
    assert len(pairs) == len(straight.parameters()) * {"clear": 2, "fast": 4, "momentum": 1}[kind]
    for a, b in pairs:
        assert a.dtype == b.dtype and np.array_equal(a, b)
    # the checkpoints at epoch 10 agree too: optimiser, callbacks and generators included
    resumed_state, straight_state = (load_checkpoint(tmp_path / f)._state for f in ("resumed.npz", "straight.npz"))
    for name in ("optimizer", "generators", "network"):
        assert resumed_state[name] == straight_state[name]
    assert without_wall_time(resumed_state["callbacks"]) == without_wall_time(straight_state["callbacks"])
    with np.load(tmp_path / "resumed.npz") as r, np.load(tmp_path / "straight.npz") as s:
        assert sorted(r.files) == sorted(s.files) and all(np.array_equal(r[k], s[k]) for k in r.files if k != "meta")
    # the wall time is cumulative: the resumed file counts the first 5 epochs too
    first_five = state.provenance["wall_time_s"]
    assert state.provenance["epochs"] == 5 and load_checkpoint(tmp_path / "resumed.npz").provenance["wall_time_s"] >= first_five


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


def test_a_run_that_early_stopping_ended_is_not_resumed(tmp_path):
    "min_delta=1 stops the run at epoch 2; the checkpoint records it, and resuming it is refused in one line."
    model, history = namespace["run"]("clear", tmp_path / "es.npz", armed=False, patience=1, min_delta=1.0)
    assert len(history) == 2 and model.stop_training and not model.failed
    assert model.stop_reason == f"EarlyStopping stopped training after epoch {len(history)}"
    state = load_checkpoint(tmp_path / "es.npz")
    assert state.epoch == len(history) and state.stopped == model.stop_reason
    with pytest.raises(ValueError, match=r"es.npz: that run ended after epoch \d+ \(EarlyStopping stopped training.*"
                                         r"it is finished, there is nothing to resume"):
        namespace["run"]("clear", tmp_path / "again.npz", armed=False, patience=1, min_delta=1.0, resume=state)


def fresh_model(dtype=np.float32, p=0.3, seed=7):
    model = namespace["Model"](30, seed=seed, dtype=dtype).dense(64)
    model.add(namespace["Dropout"](p))
    return model.dense(32).add(namespace["Dropout"](0.2)).dense(3, None)


def callbacks_for(tmp_path, patience=100, monitor=None):
    return [namespace["CosineDecay"](10), namespace["EarlyStopping"](patience=patience),
            namespace["Checkpoint"](tmp_path / "d.npz", monitor), namespace["Stall"](False)]


@pytest.mark.parametrize("change, message", [
    (dict(dtype=np.float64), "the network's dtype is float64 here, float32 in the checkpoint"),
    (dict(seed=8), "the network's seed is 8 here, 7 in the checkpoint"),
    (dict(p=0.4), r"layer 3 \(Dropout\): p is 0.4 here, 0.3 in the checkpoint"),
    (dict(patience=5), r"callback 2 \(EarlyStopping\): patience is 5 here, 100 in the checkpoint"),
    (dict(monitor="loss"), r"callback 3 \(Checkpoint\): monitor is 'loss' here, None in the checkpoint"),
    (dict(beta1=0.8), r"the optimiser \(Adam\): beta1 is 0.8 here, 0.9 in the checkpoint"),
])
def test_resume_refuses_other_settings_naming_the_first(tmp_path, change, message):
    namespace["run"]("clear", tmp_path / "c.npz", armed=False)
    state = load_checkpoint(tmp_path / "c.npz")
    model = fresh_model(**{k: v for k, v in change.items() if k in ("dtype", "p", "seed")})
    callbacks = callbacks_for(tmp_path, **{k: v for k, v in change.items() if k in ("patience", "monitor")})
    X, y, val = namespace["data"]()
    with pytest.raises(ValueError, match=message):
        model.fit(X, y, epochs=12, optimizer=namespace["Adam"](3e-3, beta1=change.get("beta1", 0.9)),
                  validation_data=val, callbacks=callbacks, resume=state, verbose=False)


def test_resume_restores_state_never_settings(tmp_path):
    "A callback's settings come from its constructor; only its state (counters, best value) comes from the file."
    namespace["run"]("clear", tmp_path / "c.npz", armed=False)
    saved = load_checkpoint(tmp_path / "c.npz")._state["callbacks"][1]
    assert saved["settings"] == {"patience": 100, "monitor": "val_loss", "min_delta": 0.0,
                                 "restore_best_weights": True, "mode": "min"}
    assert "patience" not in saved["state"] and {"best", "wait", "best_epoch"} <= set(saved["state"])


def damage(tmp_path, edit):
    "A copy of a good checkpoint, its training state edited by `edit(state, arrays)`; loadable as an archive."
    import json
    namespace["run"]("clear", tmp_path / "c.npz", armed=False)
    with np.load(tmp_path / "c.npz") as f:
        arrays = dict(f)
    meta = json.loads(str(arrays["meta"]))
    edit(meta["training_state"], arrays)
    arrays["meta"] = np.array(json.dumps(meta))
    np.savez(tmp_path / "bad.npz", **arrays)
    return tmp_path / "bad.npz"



@pytest.mark.parametrize("edit, message", [
    (lambda s, a: s.pop("optimizer"), "entry 'optimizer' is missing"),
    (lambda s, a: s.pop("generators"), "entry 'generators' is missing"),
    (lambda s, a: s.update(epoch="5"), "'epoch' is not a int"),
    (lambda s, a: s["history"].pop(), "'history' does not hold epochs 1 to 10"),
    (lambda s, a: s["callbacks"][1].pop("state"), r"'callbacks\[1\]' has no type or no state"),
    (lambda s, a: s["optimizer"]["state"]["state"]["$dict"][0][1]["$tuple"][0].update({"$array": "nowhere"}),
     "'optimizer' refers to the array 'state.nowhere', which is missing"),
])
def test_a_damaged_checkpoint_is_one_clear_error(tmp_path, edit, message):
    bad = damage(tmp_path, edit)
    with pytest.raises(ValueError, match=f"bad.npz: damaged checkpoint: the training state's {message}"):
        load_checkpoint(bad)


def test_optimizer_state_of_the_wrong_shape_is_refused_on_resume(tmp_path):
    def shrink(state, arrays):
        name = state["optimizer"]["state"]["state"]["$dict"][0][1]["$tuple"][0]["$array"]
        arrays[f"state.{name}"] = arrays[f"state.{name}"][:5]
        state["arrays"][name] = [list(arrays[f"state.{name}"].shape), arrays[f"state.{name}"].dtype.str]
    state = load_checkpoint(damage(tmp_path, shrink))
    X, y, val = namespace["data"]()
    with pytest.raises(ValueError, match=r"the optimiser's state for parameter 0 has shape \(5, 64\) \(\(30, 64\) "
                                         r"expected\): a damaged checkpoint"):
        fresh_model().fit(X, y, epochs=12, optimizer=namespace["Adam"](3e-3), validation_data=val,
                          callbacks=callbacks_for(tmp_path), resume=state, verbose=False)


def test_resume_refuses_a_schedule_started_from_another_rate(tmp_path):
    "A schedule's η_0 is the optimiser's lr when training starts: resuming with another lr is another run (Chapter 12)."
    namespace["run"]("clear", tmp_path / "c.npz", armed=False)
    state = load_checkpoint(tmp_path / "c.npz")
    X, y, val = namespace["data"]()
    with pytest.raises(ValueError, match=r"initial learning rate η_0 is 0\.001 here .* 0\.003 in the checkpoint"):
        fresh_model().fit(X, y, epochs=12, optimizer=namespace["Adam"](1e-3), validation_data=val,
                          callbacks=callbacks_for(tmp_path), resume=state, verbose=False)
