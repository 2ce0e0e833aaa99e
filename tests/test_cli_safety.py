"""The command line never loses work (Chapter 13): a table of what a new user does wrong or what goes wrong, each with
its exit status, its one-line message, and the old model file intact; plus resume, history, provenance, images."""
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

from nnlib.cli import main, mnist_like, read_image
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


def interrupt_after(args, *, wait: float, env=None):
    "Start `train`, press Ctrl-C `wait` seconds after training began, return (status, stdout, stderr)."
    proc = subprocess.Popen([sys.executable, "-m", "nnlib", "train", *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, **(env or {})})
    try:
        for line in proc.stderr:
            if line.startswith("training on"):
                break
        time.sleep(wait)
        proc.send_signal(signal.SIGINT)
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
    assert kept.provenance["stopped"].startswith("interrupted during epoch")
    assert len(pd.read_csv(tmp_path / "h.csv")) >= 1


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
