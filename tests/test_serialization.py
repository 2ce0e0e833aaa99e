"""Model files (Chapter 12): round trip, atomic writes, and refusal of tampered files."""
import json
import os
import subprocess
import sys
import zipfile

import numpy as np
import pytest

import nnlib.serialization as serialization
from nnlib.init import he_normal
from nnlib.layers import Dense, ReLU
from nnlib.regularization import Dropout
from nnlib.serialization import load_model, save_model
from nnlib.training import Model


def small_model(dtype=np.float32):
    model = Model(6, seed=1, dtype=dtype)
    model.add(Dense(6, 5, rng=model.rng, init=he_normal)).add(ReLU()).add(Dropout(0.3))
    return model.dense(4, "sigmoid", init=he_normal).dense(3, None, init=he_normal)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_round_trip(tmp_path, dtype):
    model = small_model(dtype)
    path = save_model(model, tmp_path / "m.npz")
    copy = load_model(path)
    assert [type(l).__name__ for l in copy.layers] == ["Dense", "ReLU", "Dropout", "Dense", "Sigmoid", "Dense"]
    assert copy.dtype == dtype and copy.layers[2].p == 0.3
    X = np.random.default_rng(0).normal(size=(10, 6)).astype(dtype)
    np.testing.assert_array_equal(copy.predict_proba(X), model.predict_proba(X))
    assert [p.name for p in tmp_path.iterdir()] == ["m.npz"]  # no temporary files left


def tamper(tmp_path, edit):
    path = save_model(small_model(), tmp_path / "m.npz")
    with np.load(path, allow_pickle=False) as f:
        arrays = dict(f)
    edit(arrays)
    bad = tmp_path / "bad.npz"
    np.savez(bad, **arrays)
    return bad


def set_meta(**changes):
    def edit(arrays):
        meta = json.loads(str(arrays["meta"]))
        meta.update(changes)
        arrays["meta"] = np.array(json.dumps(meta))
    return edit


@pytest.mark.parametrize("edit, message", [
    (lambda a: a.update({"layers.0.W": np.zeros((6, 4), np.float32)}), "'layers.0.W' has shape \\(6, 4\\).*needs \\(6, 5\\)"),
    (lambda a: a.pop("layers.3.b"), "missing array 'layers.3.b'"),
    (lambda a: a.update({"layers.9.W": np.zeros(2, np.float32)}), "unexpected arrays \\['layers.9.W'\\]"),
    (lambda a: a.update({"layers.0.b": np.zeros(5, np.float64)}), "dtype float64"),
    (lambda a: a.update({"layers.0.b": np.full(5, np.nan, np.float32)}), "NaN"),
    (lambda a: a.pop("meta"), "no 'meta'"),
    (lambda a: a.update({"meta": np.array("{not json")}), "not valid JSON"),
    (set_meta(format="something-else"), "expected 'nnlib-model'"),
    (set_meta(version=99), "version 99 is not supported"),
    (set_meta(layers=[{"type": "Conv2D"}]), "unknown type 'Conv2D'"),
    (set_meta(layers=[{"type": "Dense", "n_in": 6, "n_out": 5}, {"type": "Dense", "n_in": 4, "n_out": 3}]),
     "missing array 'layers.1.W'|inconsistent"),
    (set_meta(n_inputs=7), "inconsistent architecture"),
    (set_meta(loss="__import__('os')"), "unknown loss"),
    # metadata that names no valid model: every case a ValueError naming the file and the entry
    (set_meta(layers=[{"type": "Dense", "n_out": 5}]), "layer 0 \\(Dense\\): n_in must be a whole number"),
    (set_meta(layers=[{"type": "Dense", "n_in": "abc", "n_out": 5}]), "layer 0 \\(Dense\\): n_in .*'abc'"),
    (set_meta(layers=[{"type": "Dense", "n_in": 6, "n_out": 5}, {"type": "ReLU"}, {"type": "Dropout"}]),
     "layer 2 \\(Dropout\\): p must be a number, got None"),
    (set_meta(layers=[{"type": "Dense", "n_in": 6, "n_out": 5}, {"type": "ReLU"}, {"type": "Dropout", "p": 5}]),
     "layer 2 \\(Dropout\\): "),
    (set_meta(seed="x"), "seed 'x' is not a whole number"),
    (set_meta(n_inputs=None), "n_inputs must be a whole number"),
    (set_meta(dtype="object"), "dtype 'object' is not float32 or float64"),
    (set_meta(layers={"type": "Dense"}), "'layers' is a dict, not a list"),
    (set_meta(layers=[["Dense"]]), "layer 0 has unknown type None"),
])
def test_tampered_files_are_refused(tmp_path, edit, message):
    with pytest.raises(ValueError, match=message) as raised:
        load_model(tamper(tmp_path, edit))
    assert type(raised.value) is ValueError and str(raised.value).startswith(str(tmp_path / "bad.npz"))


def test_pickle_payload_is_refused_without_running(tmp_path):
    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    arrays = {"meta": np.array([Payload()], dtype=object)}
    bad = tmp_path / "evil.npz"
    np.savez(bad, **arrays)
    with pytest.raises(ValueError, match="not a readable nnlib model file"):
        load_model(bad)
    assert not marker.exists()


def test_truncated_and_garbage_files(tmp_path):
    path = save_model(small_model(), tmp_path / "m.npz")
    data = path.read_bytes()
    (tmp_path / "cut.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="cut.npz"):
        load_model(tmp_path / "cut.npz")
    (tmp_path / "junk.npz").write_bytes(os.urandom(500))
    with pytest.raises(ValueError, match="not a model file"):
        load_model(tmp_path / "junk.npz")
    with pytest.raises(FileNotFoundError):
        load_model(tmp_path / "missing.npz")


def test_failed_save_keeps_previous_file(tmp_path, monkeypatch):
    path = save_model(small_model(), tmp_path / "m.npz")
    before = path.read_bytes()

    def explode(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(serialization.np, "savez", explode)
    with pytest.raises(KeyboardInterrupt):
        save_model(small_model(), path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.npz"]


def test_killed_while_saving_leaves_a_valid_file(tmp_path):
    """Kill a real process that saves in a loop: the file on disk is always a complete, loadable model."""
    path = tmp_path / "m.npz"
    save_model(small_model(), path)
    script = (f"import numpy as np\nfrom nnlib.serialization import save_model\nfrom nnlib.training import Model\n"
              f"m = Model(784, seed=0).dense(400).dense(100).dense(10, None)\n"
              f"print('ready', flush=True)\n"
              f"while True:\n    save_model(m, {str(path)!r})\n")
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        import time
        time.sleep(1.0)
    finally:
        proc.kill()
        proc.wait()
    model = load_model(path)  # must be complete: either the small model or a full large one
    assert zipfile.is_zipfile(path)
    assert model.n_inputs in (6, 784)


def test_atomic_write_errors_name_the_file(tmp_path):
    from nnlib.serialization import atomic_write

    def disk_full(f):
        raise OSError(28, "No space left on device")
    with pytest.raises(OSError, match=f"cannot write {tmp_path / 'x.npz'}: No space left on device") as info:
        atomic_write(tmp_path / "x.npz", disk_full)
    assert info.value.errno == 28 and list(tmp_path.iterdir()) == []


def test_atomic_write_through_a_link_replaces_its_target(tmp_path):
    from nnlib.serialization import atomic_write
    target = tmp_path / "real.npz"
    target.write_bytes(b"old")
    (tmp_path / "link.npz").symlink_to(target)
    assert atomic_write(tmp_path / "link.npz", lambda f: f.write(b"new")) == target
    assert (tmp_path / "link.npz").is_symlink() and target.read_bytes() == b"new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.npz", "real.npz"]  # no temporary file left
