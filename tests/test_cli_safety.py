"""The command line never loses work (Chapter 13): tables of what a new user does wrong (bad paths, bad resumes) and
of what goes wrong during and after training (an error in an epoch, a full disk, Ctrl-C while a checkpoint, the model
or the history is written, or during --final-test), each with its exit status, its one-line message, and the old model
file intact (or the new one complete); plus resume, history, provenance, info and images."""
import json
import os
import signal
import struct
import subprocess
import sys
import time
import zlib

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from nnlib.cli import main
from nnlib.images import mnist_like, read_image
from nnlib.serialization import load_model, save_model
from nnlib.training import Model

needs_mnist = pytest.mark.skipif(not os.environ.get("NNLIB_DATA"), reason="needs MNIST (NNLIB_DATA)")
SMALL = ["--sizes", "784,16,10", "--dropout", "0.1", "--quiet", "--batch-size", "128"]


ONE_THREAD = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}  # tiny networks: threads only add contention


def cli(*args, env=None, timeout=120):
    return subprocess.run([sys.executable, "-m", "nnlib", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **ONE_THREAD, **(env or {})})


@pytest.fixture
def good_model(tmp_path):
    "An existing model file that a bad run must not touch."
    path = save_model(Model(784, seed=1).dense(16).dense(10, None), tmp_path / "m.npz")
    return path, path.read_bytes()


def read_only_folder(tmp_path):
    if os.geteuid() == 0:  # root writes through permissions: use a folder no one may create files in
        return "/sys"
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    return folder


CASES = [  # (name, arguments after `train`, message in the one-line error)
    ("output is a folder", ["--output", "{tmp}"], "--output {tmp}: is a folder"),
    ("output under a file", ["--output", "{model}/x.npz"], "is a file, not a folder"),
    ("output in a read-only folder", ["--output", "{ro}/m.npz"], "cannot write in the folder"),
    ("checkpoint in a read-only folder", ["--output", "{model}", "--checkpoint", "{ro}/c.npz"], "--checkpoint"),
    ("checkpoint is a folder", ["--output", "{model}", "--checkpoint", "{tmp}"], "--checkpoint {tmp}: is a folder"),
    ("history under a file", ["--output", "{model}", "--history", "{model}/h.csv"], "--history"),
    ("output and checkpoint the same", ["--output", "{model}", "--checkpoint", "{model}"], "must be different files"),
    ("resume from a plain model", ["--output", "{tmp}/new.npz", "--resume", "{model}"], "without training state"),
    ("resume from a missing file", ["--output", "{tmp}/new.npz", "--resume", "{tmp}/none.npz"], "No such file"),
]


@pytest.mark.parametrize("name, args, message", CASES, ids=[c[0] for c in CASES])
def test_bad_files_fail_before_training_in_one_line(tmp_path, good_model, name, args, message, capsys, monkeypatch):
    """Checked before MNIST is even looked for (NNLIB_DATA points at an empty folder): exit status 1, one line."""
    path, before = good_model
    fill = {"tmp": tmp_path, "model": path, "ro": read_only_folder(tmp_path)}
    monkeypatch.setenv("NNLIB_DATA", str(tmp_path / "no-mnist"))
    assert main(["train", *SMALL, *[a.format(**fill) for a in args]]) == 1
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message.format(**fill) in lines[0], lines
    assert "training on" not in err and "NNLIB_DATA" not in err  # before data, before training
    assert path.read_bytes() == before


def test_a_bad_output_is_one_line_from_the_shell_too(tmp_path, good_model):
    path, before = good_model
    result = cli("train", "--output", tmp_path, env={"NNLIB_DATA": str(tmp_path / "no-mnist")})
    assert result.returncode == 1 and result.stderr == f"error: --output {tmp_path}: is a folder; give a file name, " \
                                                       f"e.g. {tmp_path / 'mnist.npz'}\n"


def interrupt_after(args, *, wait: float, env=None, sig=signal.SIGINT):
    "Start `train`, press Ctrl-C (or send `sig`) `wait` seconds after training began, return (status, stdout, stderr)."
    # A shell starts background jobs with SIGINT ignored, and Python keeps an ignored SIGINT ignored: give the child
    # the default action back, so that the test means the same however the test run itself was started.
    proc = subprocess.Popen([sys.executable, "-m", "nnlib", "train", *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, **(env or {})},
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        for line in proc.stderr:
            if line.startswith("training on"):
                break
        time.sleep(wait)
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    return proc.returncode, out, err


@needs_mnist
def test_ctrl_c_in_epoch_1_keeps_the_old_model(tmp_path, good_model):
    path, before = good_model
    status, out, err = interrupt_after(["--output", path, "--quiet", "--epochs", "5"], wait=0.3)  # Chapter 12's net
    assert status == 130
    last = err.strip().splitlines()[-1]
    assert "interrupted during epoch 1, before any epoch finished: nothing saved" in last and "left as it was" in last
    assert path.read_bytes() == before and not (tmp_path / "m.interrupted.npz").exists()
    assert "saved to" not in out and "Traceback" not in err


@needs_mnist
def test_ctrl_c_later_saves_beside_and_keeps_the_old_model(tmp_path, good_model):
    path, before = good_model
    status, out, err = interrupt_after([*SMALL, "--train-size", "3000", "--epochs", "100000", "--output", path,
                                        "--checkpoint", tmp_path / "c.npz", "--history", tmp_path / "h.csv"], wait=1.5,
                                       env=ONE_THREAD)
    assert status == 130
    last = err.strip().splitlines()[-1]
    assert f"{path} is left as it was; the model it kept is saved beside it, in {tmp_path / 'm.interrupted.npz'}" in last
    assert f"continue with --resume {tmp_path / 'c.npz'}" in last
    assert path.read_bytes() == before
    kept = load_model(tmp_path / "m.interrupted.npz")
    assert kept.provenance["stopped"].startswith(("interrupted during epoch", "interrupted after epoch"))
    assert len(pd.read_csv(tmp_path / "h.csv")) >= 1



@needs_mnist
def test_kill_exits_143_and_keeps_the_old_model(tmp_path, good_model):
    "SIGTERM is handled like Ctrl-C, with the shell's status for it, 128 + 15 (130 = 128 + 2 is SIGINT's)."
    path, before = good_model
    status, out, err = interrupt_after([*SMALL, "--train-size", "3000", "--epochs", "100000", "--output", path,
                                        "--checkpoint", tmp_path / "c.npz"], wait=1.5, env=ONE_THREAD, sig=signal.SIGTERM)
    assert status == 128 + signal.SIGTERM == 143
    last = err.strip().splitlines()[-1]
    assert f"{path} is left as it was; the model it kept is saved beside it, in {tmp_path / 'm.interrupted.npz'}" in last
    assert path.read_bytes() == before and "Traceback" not in err


def test_a_checkpoint_without_split_seed_resumes_with_the_split_it_had():
    "Before --split-seed the split was drawn with --seed: such a checkpoint keeps its split, and a typed one must match."
    import argparse
    from nnlib.cli import _parser, _resumed_args
    saved = {k: v for k, v in vars(_parser().parse_args(["train", "--seed", "2", "--validation", "100"])).items()
             if k not in ("command", "split_seed", "output")}
    state = argparse.Namespace(provenance={"options": saved})
    args = _parser().parse_args(["train", "--resume", "c.npz"])
    assert _resumed_args(args, state, given={"resume"}).split_seed == 2
    typed = _parser().parse_args(["train", "--resume", "c.npz", "--split-seed", "0"])
    with pytest.raises(ValueError, match="drop --split-seed"):
        _resumed_args(typed, state, given={"resume", "split_seed"})

@needs_mnist
def test_validation_history_provenance_resume(tmp_path):
    """train reports training and validation metrics and no test accuracy; --history writes the CSV; the model file
    records its provenance (info prints it); --resume after a kill gives the straight run's model bit for bit."""
    common = [*SMALL, "--train-size", "2000", "--validation", "1000", "--epochs", "4"]
    result = cli("train", *common, "--output", tmp_path / "s.npz", "--history", tmp_path / "s.csv")
    assert result.returncode == 0, result.stderr
    assert "validation loss" in result.stdout and "test accuracy" not in result.stdout
    history = pd.read_csv(tmp_path / "s.csv")
    assert list(history.columns) == ["epoch", "loss", "accuracy", "lr", "val_loss", "val_accuracy"]
    assert list(history["epoch"]) == [1, 2, 3, 4]
    assert oct(os.stat(tmp_path / "s.npz").st_mode & 0o777) == oct(0o666 & ~current_umask())

    info = cli("info", tmp_path / "s.npz").stdout
    for text in ("nnlib: ", "numpy: ", "seed: 0", "epochs: 4", "wall_time_s: ", "trained: ", "--lr 0.002",
                 "--train-size 2000", "train-images-idx3-ubyte.gz MD5 f68b3c2dcbeaaa9fbdd348bbdeb94873"):
        assert text in info, text

    # killed (SIGKILL: no chance to clean up) as soon as a checkpoint is on disk, then resumed: any epoch will do
    from nnlib.serialization import load_checkpoint
    proc = subprocess.Popen([sys.executable, "-m", "nnlib", "train", *common, "--output", str(tmp_path / "r.npz"),
                             "--checkpoint", str(tmp_path / "c.npz")], stderr=subprocess.DEVNULL,
                            env={**os.environ, **ONE_THREAD})
    try:
        while proc.poll() is None and not (tmp_path / "c.npz").exists():
            time.sleep(0.01)
        proc.kill()
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
    if (tmp_path / "r.npz").exists():
        pytest.skip("the run finished before it could be killed (machine too fast for this test)")
    assert load_checkpoint(tmp_path / "c.npz").epoch < 4
    result = cli("train", "--resume", tmp_path / "c.npz", "--output", tmp_path / "r.npz", "--history", tmp_path / "r.csv")
    assert result.returncode == 0, result.stderr
    for a, b in zip(load_model(tmp_path / "r.npz").get_weights(), load_model(tmp_path / "s.npz").get_weights()):
        assert np.array_equal(a, b)
    assert (tmp_path / "r.csv").read_text() == (tmp_path / "s.csv").read_text()
    changed = cli("train", "--resume", tmp_path / "c.npz", "--lr", "0.1", "--output", tmp_path / "x.npz")
    assert changed.returncode == 1 and "drop --lr" in changed.stderr


def current_umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_files_get_the_users_umask(tmp_path, umask):
    old = os.umask(umask)
    try:
        path = save_model(Model(4, seed=0).dense(3, None), tmp_path / "m.npz")
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask


def test_old_model_files_load_and_info_says_so(tmp_path, capsys):
    path = save_model(Model(6, seed=0).dense(5).dense(3, None), tmp_path / "new.npz")
    with np.load(path) as f:
        arrays = dict(f)
    meta = json.loads(str(arrays["meta"]))
    meta["version"] = 1
    del meta["provenance"]
    arrays["meta"] = np.array(json.dumps(meta))
    np.savez(tmp_path / "old.npz", **arrays)
    assert load_model(tmp_path / "old.npz").count_params() == 6 * 5 + 5 + 5 * 3 + 3
    assert main(["info", str(tmp_path / "old.npz")]) == 0
    assert "provenance: none recorded" in capsys.readouterr().out


def test_data_command_without_a_copy_stops_at_once_with_the_message(tmp_path):
    start = time.perf_counter()
    result = cli("data", env={"NNLIB_DATA": str(tmp_path)})
    assert result.returncode == 1 and time.perf_counter() - start < 10
    assert result.stderr.startswith("error: NNLIB_DATA is set to") and "Traceback" not in result.stderr


@needs_mnist
def test_data_command_verifies_the_files():
    result = cli("data")
    assert result.returncode == 0 and result.stdout.count("MD5 ok") == 4 and "MNIST is in" in result.stdout


# --- images ------------------------------------------------------------------------------------------------------
def seven():
    "A clear 7, dark ink on white paper, 8-bit."
    img = np.full((56, 56), 255, np.uint8)
    img[8:14, 10:46] = 0
    for row in range(14, 50):
        col = 46 - (row - 14) * 20 // 36
        img[row, col - 3:col + 3] = 0
    return img


def png_header_only(path, width, height):
    "A PNG whose header claims width × height 8-bit grey pixels (the pixel data is a stub)."
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 16)) +
                     chunk(b"IEND", b""))


def test_images_are_read_by_their_actual_range(tmp_path):
    grey = seven()
    reference = read_image_of(tmp_path, "8bit.png", Image.fromarray(grey))
    variants = {
        "16bit.png": Image.fromarray(grey.astype(np.uint16) * 257),                  # mode I;16
        "1bit.png": Image.fromarray(grey > 127),                                       # mode 1
        "palette.png": Image.fromarray(grey).convert("P"),
        "rgba.png": Image.fromarray(np.stack([grey] * 3 + [np.full_like(grey, 255)], axis=-1)),
        "float.tif": Image.fromarray(grey.astype(np.float32) / 255),                  # mode F, in [0, 1]
        "float255.tif": Image.fromarray(grey.astype(np.float32)),                     # mode F, in [0, 255]
    }
    for name, img in variants.items():
        x = read_image_of(tmp_path, name, img)
        assert np.abs(x - reference).max() < 0.02, name
        assert np.abs(mnist_like(x) - mnist_like(reference)).max() < 0.05, name
    transparent = np.zeros((56, 56, 4), np.uint8)  # fully transparent: white paper, i.e. blank
    with pytest.raises(ValueError, match="blank"):
        mnist_like(read_image_of(tmp_path, "clear.png", Image.fromarray(transparent)))


def read_image_of(tmp_path, name, img):
    img.save(tmp_path / name)
    return read_image(tmp_path / name)


@pytest.mark.parametrize("width, height", [(8000, 8000), (14000, 14000)])
def test_huge_images_are_refused_before_decoding(tmp_path, width, height):
    path = tmp_path / "huge.png"
    png_header_only(path, width, height)
    with pytest.raises(ValueError, match="--max-pixels"):
        read_image(path)
    model = save_model(Model(784, seed=0).dense(10, None), tmp_path / "m.npz")
    if width == 14000:  # the case of the issue, from the shell: one line, no Pillow traceback
        result = cli("predict", model, path)
        assert result.returncode == 1 and len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert "--max-pixels" in result.stderr and "--max-pixels" in cli("predict", "--help").stdout


@needs_mnist
def test_predict_16_bit_png_as_8_bit(tmp_path, capsys):
    from nnlib.data import load_mnist
    from nnlib.optimizers import Adam
    X, y = load_mnist("test")
    model = Model(784, seed=0).dense(32).dense(10, None)
    model.fit(X[1000:6000], y[1000:6000], epochs=2, optimizer=Adam(3e-3), verbose=False)
    save_model(model, tmp_path / "m.npz")
    digit = np.asarray(Image.fromarray((255 - X[0].reshape(28, 28) * 255).astype(np.uint8)).resize((84, 84)))
    Image.fromarray(digit).save(tmp_path / "d8.png")
    Image.fromarray(digit.astype(np.uint16) * 257).save(tmp_path / "d16.png")   # the same picture, 16-bit
    outs = []
    for name in ("d8.png", "d16.png"):
        assert main(["predict", str(tmp_path / "m.npz"), str(tmp_path / name)]) == 0
        outs.append(capsys.readouterr().out)
    assert outs[0] == outs[1] and f"prediction: {y[0]}" in outs[0]


# --- more paths that are refused before training ------------------------------------------------------------------
MORE_CASES = [  # (name, arguments after `train`, message in the one-line error)
    ("output empty", ["--output", ""], "--output: the path is empty"),
    ("checkpoint empty", ["--output", "{model}", "--checkpoint", ""], "--checkpoint: the path is empty"),
    ("history ends with /", ["--output", "{model}", "--history", "{tmp}/runs/"], "ends with '/', so it names a folder"),
    ("history is a folder", ["--output", "{model}", "--history", "{tmp}"], "--history {tmp}: is a folder"),
    ("output a link to a folder", ["--output", "{tmp}/link-to-folder"], "is a folder"),
    ("output and history one file via a link", ["--output", "{model}", "--history", "{tmp}/link-to-model"],
     "must be different files"),
]


@pytest.mark.parametrize("name, args, message", MORE_CASES, ids=[c[0] for c in MORE_CASES])
def test_more_bad_paths_fail_before_training(tmp_path, good_model, name, args, message, capsys, monkeypatch):
    path, before = good_model
    (tmp_path / "link-to-folder").symlink_to(tmp_path)
    (tmp_path / "link-to-model").symlink_to(path)
    fill = {"tmp": tmp_path, "model": path}
    monkeypatch.setenv("NNLIB_DATA", str(tmp_path / "no-mnist"))
    assert main(["train", *SMALL, *[a.format(**fill) for a in args]]) == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message.format(**fill) in lines[0], lines
    assert path.read_bytes() == before


# --- resuming: refused in one line, before any data is read --------------------------------------------------------
OPTIONS = {"sizes": [784, 16, 10], "activation": "relu", "init": "he", "dropout": [0.1], "dtype": "float32",
           "optimizer": "adam", "lr": 0.01, "momentum": 0.9, "beta1": 0.9, "beta2": 0.999, "rho": 0.9, "eps": 1e-08,
           "l2": 0.0, "schedule": "none", "decay": 1e-05, "factor": 0.5, "step_every": 10, "patience": 3,
           "clip_norm": None, "clip_value": None, "early_stopping": None, "validation": 0, "train_size": 100,
           "epochs": 5, "batch_size": 128, "seed": 0}


def cli_checkpoint(tmp_path, *, stop=False):
    "A checkpoint as `train` writes it (its options in the provenance), from 2 epochs on random data; or an ended one."
    from nnlib.regularization import EarlyStopping
    from nnlib.serialization import Checkpoint
    from nnlib.training import Callback

    class Stop(Callback):
        def on_epoch_end(self, model, epoch, logs):
            return stop and epoch == 2

    rng = np.random.default_rng(0)
    X, y = rng.random((100, 784), dtype=np.float32), rng.integers(0, 10, 100)
    model = Model(784, seed=0).dense(16).dense(10, None)
    path = tmp_path / "c.npz"
    model.fit(X, y, epochs=2 if not stop else 5, callbacks=[Stop(), Checkpoint(path, monitor=None, provenance={
        "options": OPTIONS, "data": {"train-images-idx3-ubyte.gz": "0" * 32}})], verbose=False)
    return path


RESUME_CASES = [  # (name, extra arguments, the checkpoint: "cli" / "stopped" / "damaged", message)
    ("an option typed with its default value", ["--lr", "0.002"], "cli", "drop --lr"),
    ("an option typed with another value", ["--epochs", "9"], "cli", "drop --epochs"),
    ("a run that ended by itself", [], "stopped", "that run ended after epoch 2 (Stop stopped training after epoch 2)"),
    ("a damaged checkpoint", [], "damaged", "damaged checkpoint: the training state's entry 'optimizer' is missing"),
]


@pytest.mark.parametrize("name, extra, kind, message", RESUME_CASES, ids=[c[0] for c in RESUME_CASES])
def test_resume_refusals_are_one_line(tmp_path, good_model, name, extra, kind, message, capsys, monkeypatch):
    path, before = good_model
    checkpoint = cli_checkpoint(tmp_path, stop=kind == "stopped")
    if kind == "damaged":
        with np.load(checkpoint) as f:
            arrays = dict(f)
        meta = json.loads(str(arrays["meta"]))
        del meta["training_state"]["optimizer"]
        arrays["meta"] = np.array(json.dumps(meta))
        np.savez(checkpoint, **arrays)
    checkpoint_bytes = checkpoint.read_bytes()
    monkeypatch.setenv("NNLIB_DATA", str(tmp_path / "no-mnist"))
    assert main(["train", "--resume", str(checkpoint), "--output", str(path), "--quiet", *extra]) == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], lines
    assert path.read_bytes() == before and checkpoint.read_bytes() == checkpoint_bytes


def test_typed_options_are_found_even_with_default_values():
    from nnlib.cli import _given_options
    assert _given_options(["train", "--lr", "0.002", "--quiet", "--sizes", "784,400,100,10"]) == {"lr", "quiet", "sizes"}
    assert _given_options(["train"]) == set()


@needs_mnist
def test_resume_refuses_other_data(tmp_path, good_model, capsys):
    path, before = good_model
    assert main(["train", "--resume", str(cli_checkpoint(tmp_path)), "--output", str(path), "--quiet"]) == 1
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith("error: --resume") and "the data differ from the checkpoint's: train-images-idx3-ubyte.gz" in last
    assert path.read_bytes() == before


# --- what goes wrong during and after training: exit status, the one line, the old file intact ----------------------
TINY = [*SMALL, "--train-size", "600", "--epochs", "3"]  # 5 batches an epoch


def fail_on_call(n, error):
    "A replacement for FastModel.train_step that raises `error` on its n-th call (the first batch of epoch n // 5 + 1)."
    from nnlib.fast import FastModel
    original, calls = FastModel.train_step, []

    def train_step(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == n:
            raise error
        return original(self, *args, **kwargs)
    return train_step


def raising_on_call(function, error, *, calls=1):
    "`function`, except that call number `calls` raises `error` instead (before anything is written)."
    count = []

    def wrapper(*args, **kwargs):
        count.append(1)
        if len(count) == calls:
            raise error
        return function(*args, **kwargs)
    return wrapper


def real_then(function, error):
    "`function`, then `error`: an interrupt that comes just after the work is done."
    def wrapper(*args, **kwargs):
        function(*args, **kwargs)
        raise error
    return wrapper


def _patch(monkeypatch, what):
    import nnlib.cli as cli_module
    import nnlib.serialization as serialization
    from nnlib.fast import FastModel
    if what == "memory error in epoch 2":
        monkeypatch.setattr(FastModel, "train_step", fail_on_call(6, MemoryError("cannot allocate 1.2 GB")))
    elif what == "disk full writing the epoch-2 checkpoint":
        monkeypatch.setattr(serialization, "save_model", raising_on_call(serialization.save_model,
                                                                    OSError(28, "No space left on device"), calls=2))
    elif what == "Ctrl-C while saving the epoch-2 checkpoint":
        monkeypatch.setattr(serialization, "save_model", raising_on_call(serialization.save_model, KeyboardInterrupt(), calls=2))
    elif what == "Ctrl-C while saving the model":
        monkeypatch.setattr(cli_module, "save_model", raising_on_call(cli_module.save_model, KeyboardInterrupt()))
    elif what == "disk full saving the model":
        monkeypatch.setattr(cli_module, "save_model", raising_on_call(cli_module.save_model, OSError(28, "No space left")))
    elif what == "Ctrl-C just after the model is in place":
        monkeypatch.setattr(cli_module, "save_model", real_then(cli_module.save_model, KeyboardInterrupt()))
    elif what == "disk full writing the history":
        monkeypatch.setattr(cli_module, "write_history", raising_on_call(cli_module.write_history, OSError(28, "No space")))
    elif what == "Ctrl-C during --final-test":
        monkeypatch.setattr(cli_module, "load_mnist", raising_on_call(cli_module.load_mnist, KeyboardInterrupt(), calls=2))


RUN_CASES = [  # (what happens, exit status, text of the last line, which file holds the model afterwards)
    ("memory error in epoch 2", 1, "error: training failed during epoch 2 (MemoryError: cannot allocate 1.2 GB): "
     "{model} is left as it was; the model it kept is saved beside it, in {tmp}/m.failed.npz; continue with --resume "
     "{tmp}/c.npz (it holds epoch 1)", "m.failed.npz"),
    ("disk full writing the epoch-2 checkpoint", 1, "error: training failed during epoch 2 (OSError: [Errno 28] No "
     "space left on device): {model} is left as it was; the model it kept is saved beside it, in {tmp}/m.failed.npz",
     "m.failed.npz"),
    ("Ctrl-C while saving the epoch-2 checkpoint", 130, "interrupted after epoch 2, while the callbacks finished it "
     "(e.g. saving a checkpoint): {model} is left as it was; the model it kept is saved beside it, in "
     "{tmp}/m.interrupted.npz; continue with --resume {tmp}/c.npz (it holds epoch 1)", "m.interrupted.npz"),
    ("Ctrl-C while saving the model", 130, "saving the model interrupted: {model} is left as it was; the model it "
     "kept is saved beside it, in {tmp}/m.interrupted.npz", "m.interrupted.npz"),
    ("disk full saving the model", 1, "saving the model failed ([Errno 28] No space left): {model} is left as it "
     "was; the model it kept is saved beside it, in {tmp}/m.failed.npz", "m.failed.npz"),
    ("Ctrl-C just after the model is in place", 0, "saved to {model}", "m.npz"),
    ("disk full writing the history", 1, "writing the history failed ([Errno 28] No space): {tmp}/h.csv is left as "
     "it was; the model is saved to {model}", "m.npz"),
    ("Ctrl-C during --final-test", 130, "interrupted during --final-test: no test accuracy; the model is saved to "
     "{model}", "m.npz"),
]


@needs_mnist
@pytest.mark.parametrize("what, status, message, holder", RUN_CASES, ids=[c[0] for c in RUN_CASES])
def test_nothing_that_goes_wrong_costs_a_model(tmp_path, good_model, what, status, message, holder, capsys,
                                                monkeypatch):
    path, before = good_model
    _patch(monkeypatch, what)
    args = [*TINY, "--output", str(path), "--checkpoint", str(tmp_path / "c.npz"), "--history", str(tmp_path / "h.csv")]
    assert main(["train", *args, *(["--final-test"] if "final-test" in what else [])]) == status
    out, err = capsys.readouterr()
    last = out if status == 0 else err.strip().splitlines()[-1]   # after a success: stdout, with the history line
    assert message.format(tmp=tmp_path, model=path) in last, last
    assert "Traceback" not in err
    kept = load_model(tmp_path / holder)                      # a complete model file, wherever the model is
    assert kept.count_params() == 784 * 16 + 16 + 16 * 10 + 10
    if holder != "m.npz":
        assert path.read_bytes() == before                    # the old file is intact
        assert kept.provenance["stopped"]
    else:
        assert path.read_bytes() != before and kept.provenance["epochs"] == 3


@needs_mnist
def test_ctrl_c_in_the_first_epoch_of_a_resumed_run_says_what_the_checkpoint_holds(tmp_path, good_model, capsys,
                                                                                   monkeypatch):
    from nnlib.fast import FastModel
    path, before = good_model
    args = [*TINY, "--output", str(path), "--checkpoint", str(tmp_path / "c.npz")]
    with monkeypatch.context() as m:
        m.setattr(FastModel, "train_step", fail_on_call(6, KeyboardInterrupt()))   # epoch 2, first batch
        assert main(["train", *args]) == 130
    capsys.readouterr()
    (tmp_path / "m.interrupted.npz").unlink()  # the first run's epoch 1, saved beside
    monkeypatch.setattr(FastModel, "train_step", fail_on_call(1, KeyboardInterrupt()))
    assert main(["train", "--resume", str(tmp_path / "c.npz"), "--output", str(path)]) == 130
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert (f"interrupted during epoch 2, before it finished: nothing new to save (the checkpoint {tmp_path / 'c.npz'} "
            f"still holds the 1 epoch trained so far); {path} is left as it was") in last, last
    assert path.read_bytes() == before and not (tmp_path / "m.interrupted.npz").exists()


@needs_mnist
def test_an_output_that_is_a_link_is_written_at_its_target(tmp_path, good_model, capsys):
    path, before = good_model
    link = tmp_path / "latest.npz"
    link.symlink_to(path)
    assert main(["train", *TINY, "--epochs", "1", "--output", str(link)]) == 0
    assert link.is_symlink() and link.resolve() == path and path.read_bytes() != before
    assert load_model(link).provenance["epochs"] == 1


@needs_mnist
def test_wall_time_and_epochs_add_up_across_a_resume(tmp_path):
    from nnlib.fast import FastModel
    from nnlib.serialization import load_checkpoint
    args = [*TINY, "--output", str(tmp_path / "m.npz"), "--checkpoint", str(tmp_path / "c.npz")]
    with pytest.MonkeyPatch.context() as m:
        m.setattr(FastModel, "train_step", fail_on_call(11, KeyboardInterrupt()))   # epoch 3, first batch
        assert main(["train", *args]) == 130
    first = load_checkpoint(tmp_path / "c.npz").provenance
    assert first["epochs"] == 2 and first["wall_time_s"] >= 0
    assert main(["train", "--resume", str(tmp_path / "c.npz"), "--output", str(tmp_path / "m.npz")]) == 0
    final = load_model(tmp_path / "m.npz").provenance
    assert final["epochs"] == 3 and final["wall_time_s"] >= first["wall_time_s"]


def test_info_prints_options_that_are_zero_or_false(tmp_path, capsys):
    path = save_model(Model(4, seed=0).dense(3, None), tmp_path / "m.npz",
                      provenance={"options": {"l2": 0.0, "validation": 0, "clip_norm": None, "lr": 0.002}})
    assert main(["info", str(path)]) == 0
    line = next(l for l in capsys.readouterr().out.splitlines() if l.startswith("options:"))
    assert line == "options: --l2 0.0 --validation 0 --lr 0.002"


def test_32_bit_images_holding_8_bit_values_read_by_their_range(tmp_path):
    grey = seven()
    reference = read_image_of(tmp_path, "8bit.png", Image.fromarray(grey))
    x = read_image_of(tmp_path, "int32.tif", Image.fromarray(grey.astype(np.int32)))       # mode I, values 0…255
    assert Image.open(tmp_path / "int32.tif").mode == "I" and np.abs(x - reference).max() < 1e-9
    x16 = read_image_of(tmp_path, "int32-16.tif", Image.fromarray(grey.astype(np.int32) * 257))  # mode I, 0…65535
    assert np.abs(x16 - reference).max() < 1e-9


def test_max_pixels_above_pillows_own_limit_is_ours(tmp_path, monkeypatch):
    "Pillow refuses images of more than 2 × MAX_IMAGE_PIXELS itself; --max-pixels above that is still what decides."
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)      # Pillow's bomb error from 2,000 pixels
    Image.fromarray(seven()).resize((100, 100)).save(tmp_path / "big.png")  # 10,000 pixels
    assert read_image(tmp_path / "big.png", max_pixels=50_000).shape == (100, 100)
    with pytest.raises(ValueError, match="10,000 pixels, more than the limit of 5,000 \\(--max-pixels\\)"):
        read_image(tmp_path / "big.png", max_pixels=5_000)
    assert Image.MAX_IMAGE_PIXELS == 1000                    # put back
