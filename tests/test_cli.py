"""The command line (Chapter 13) and MNIST-style preprocessing (Chapter 13, Your own digits)."""
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from nnlib.cli import build_model, main
from nnlib.images import mnist_like, read_image


def test_mnist_like_centres_by_mass_and_scales_to_20():
    img = np.zeros((200, 150))
    img[20:120, 10:40] = 1.0            # a tall bar in the top-left corner
    x = mnist_like(img).reshape(28, 28)
    rows, cols = np.nonzero(x > 0.05)
    assert rows.max() - rows.min() + 1 in (20, 21)       # longer side scaled to 20 px
    mass = x.sum()
    assert abs((x.sum(axis=1) @ np.arange(28)) / mass - 14) < 1
    assert abs((x.sum(axis=0) @ np.arange(28)) / mass - 14) < 1
    assert x.min() >= 0 and x.max() <= 1


def test_mnist_like_inverts_dark_ink_on_white():
    img = np.ones((60, 60))
    img[20:40, 25:35] = 0.0
    x = mnist_like(img)
    assert x.reshape(28, 28)[14, 14] > 0.5 and x.reshape(28, 28)[0, 0] == 0
    with pytest.raises(ValueError, match="blank"):
        mnist_like(np.ones((40, 40)))


def test_read_image_checks_size(tmp_path):
    Image.fromarray(np.zeros((10, 10), np.uint8)).save(tmp_path / "small.png")
    with pytest.raises(ValueError, match="at least 28×28"):
        read_image(tmp_path / "small.png")
    (tmp_path / "broken.png").write_bytes(b"not a png")
    with pytest.raises(ValueError, match="cannot read"):
        read_image(tmp_path / "broken.png")


def spoilt_seven(shape=(140, 120)):
    "A blocky 7, dark ink on white paper, off centre (the figure of Your own digits, without MNIST)."
    paper = np.ones(shape)
    paper[10:22, 40:100] = 0.0                      # the bar
    for r in range(22, 110):                         # the slanted stroke
        c = int(100 - (r - 22) * 0.45)
        paper[r, c - 6:c + 6] = 0.0
    return paper


def test_mnist_like_removes_grey_paper_and_uneven_light():
    "A photo of the page, L(r, c)·R: grey paper, the light falling off across it: the same input as the clean page."
    page = spoilt_seven()
    rows, cols = np.indices(page.shape)
    for light in (np.full(page.shape, 0.45), 0.3 + 0.5 * cols / cols.max(), 0.9 - 0.5 * rows / rows.max()):
        photo = page * light
        assert np.abs(mnist_like(photo) - mnist_like(page)).max() < 1e-4
    noisy = np.clip(page * (0.3 + 0.5 * cols / cols.max()) + np.random.default_rng(0).normal(0, 0.02, page.shape), 0, 1)
    assert np.abs(mnist_like(noisy) - mnist_like(page)).mean() < 0.01
    x = mnist_like(noisy).reshape(28, 28)
    assert x[:2].max() < 0.2 and x[:, :2].max() < 0.2     # no paper counted as ink at the edges


def test_mnist_like_paper_plane_ignores_ink_on_the_border():
    page = spoilt_seven()
    page[0, 30:60] = 0.0                                   # a stroke that runs off the top edge
    assert np.abs(mnist_like(page * 0.6) - mnist_like(page)).max() < 1e-4


def test_mnist_like_scales_arrays_by_their_type_and_keeps_fine_grey_levels():
    page = spoilt_seven()
    reference = mnist_like(page)
    for array in (np.round(page * 255).astype(np.uint8), np.round(page * 65535).astype(np.uint16),
                  page * 255, page.astype(bool)):
        assert np.abs(mnist_like(array) - reference).max() < 1e-4, array.dtype
    grey = np.zeros((60, 60))
    grey[10:50, 10:50] = 0.3                               # 40×40 → 20×20: a constant stays that constant
    assert abs(mnist_like(grey).max() - 0.3) < 1e-5        # no rounding to 8 bits (0.3·255 = 76.5)
    with pytest.raises(ValueError, match="values from 0 to 1000"):
        mnist_like(np.array([[0, 1000]] * 30))
    with pytest.raises(ValueError, match="NaN"):
        mnist_like(np.full((30, 30), np.nan))
    with pytest.raises(ValueError, match="2-D"):
        mnist_like(np.zeros((3, 30, 30)))


def test_read_image_applies_the_exif_orientation(tmp_path):
    "A phone stores the sensor's pixels and an orientation tag; read_image returns the picture upright."
    upright = np.round(spoilt_seven() * 255).astype(np.uint8)
    for tag, stored in ((6, np.rot90(upright, 1)), (8, np.rot90(upright, -1)), (3, np.rot90(upright, 2)),
                        (2, upright[:, ::-1]), (1, upright)):
        exif = Image.Exif()
        exif[0x0112] = tag
        Image.fromarray(np.ascontiguousarray(stored)).save(tmp_path / f"o{tag}.jpg", quality=95, exif=exif)
        got = read_image(tmp_path / f"o{tag}.jpg")
        assert got.shape == upright.shape, tag
        assert np.abs(got - upright / 255).mean() < 0.02, tag


def test_build_model_matches_chapter_11_construction():
    from nnlib.init import he_normal
    from nnlib.layers import Dense, ReLU
    from nnlib.regularization import Dropout
    from nnlib.training import Model
    by_hand = Model(784, seed=0)
    for (n_in, n_out), p in zip(((784, 400), (400, 100)), (0.2, 0.2)):
        by_hand.add(Dense(n_in, n_out, rng=by_hand.rng, init=he_normal)).add(ReLU()).add(Dropout(p))
    by_hand.dense(10, None, init=he_normal)
    cli = build_model([784, 400, 100, 10], dropout=[0.2, 0.2], seed=0)
    assert [l.name for l in cli.layers] == [l.name for l in by_hand.layers]
    for a, b in zip(cli.get_weights(), by_hand.get_weights()):
        assert np.array_equal(a, b)
    assert cli.layers[2].rng.random() == by_hand.layers[2].rng.random()  # same dropout stream
    with pytest.raises(ValueError, match="2 probabilities for 1 hidden layers"):
        build_model([784, 10, 10], dropout=[0.1, 0.2])


@pytest.mark.parametrize("sizes", [[784, 10], [784, 16, 10], [784, 64, 32, 16, 10]])
def test_the_default_dropout_fits_any_number_of_hidden_layers(sizes):
    "The default --dropout is one value, for every hidden layer: it works for one hidden layer as for three."
    from nnlib.cli import _parser
    from nnlib.regularization import Dropout
    args = _parser().parse_args(["train", "--sizes", ",".join(map(str, sizes))])
    model = build_model(args.sizes, dropout=args.dropout)
    assert [l.p for l in model.layers if isinstance(l, Dropout)] == [0.3] * (len(sizes) - 2)


def test_help_lists_every_option_with_default():
    out = subprocess.run([sys.executable, "-m", "nnlib", "train", "--help"], capture_output=True, text=True).stdout
    for option in ("--sizes", "--activation", "--init", "--dropout", "--optimizer", "--lr", "--beta1", "--l2", "--schedule",
                   "--clip-norm", "--early-stopping", "--epochs", "--batch-size", "--seed", "--output", "--quiet"):
        assert option in out
    assert "default: 55" in out and "default: adam" in out and "default: cosine" in out
    assert "--split-seed" in out and "default: None" not in out
    assert "η0·γ^⌊(e−1)/Δ⌋" in out and "η0·γ^(e−1)" in out and "η0/(1 + d·(e−1))" in out


def test_each_schedule_formula_in_the_help_is_the_schedules():
    "The formulas of --schedule's help, index by index, against nnlib.schedules, with the defaults of --factor/--decay."
    from nnlib.cli import FACTORS, _callbacks, _parser
    from nnlib.schedules import CosineDecay, ExponentialDecay, InverseTimeDecay, StepDecay
    for schedule, cls in (("step", StepDecay), ("exponential", ExponentialDecay), ("inverse-time", InverseTimeDecay),
                          ("cosine", CosineDecay)):
        args = _parser().parse_args(["train", "--schedule", schedule, "--epochs", "20", "--lr", "0.1"])
        args.factor = FACTORS.get(schedule) if args.factor is None else args.factor
        (made,) = [c for c in _callbacks(args, False, {}) if isinstance(c, cls)]
        made.initial_lr = eta0 = 0.1
        g, d, D, E = args.factor, args.decay, args.step_every, args.epochs
        formula = {"step": lambda e: eta0 * g ** ((e - 1) // D), "exponential": lambda e: eta0 * g ** (e - 1),
                   "inverse-time": lambda e: eta0 / (1 + d * (e - 1)),
                   "cosine": lambda e: 0.5 * eta0 * (1 + np.cos(np.pi * (e - 1) / E))}[schedule]
        for e in range(1, E + 1):
            assert np.isclose(made.lr_at(e), formula(e)), (schedule, e)
    assert FACTORS["exponential"] == 0.95 and FACTORS["step"] == 0.5
    args = _parser().parse_args(["train", "--schedule", "inverse-time"])
    assert 1 + args.decay * (11 - 1) == 2                  # "with 0.1, epoch 11 runs at η0/2"


@pytest.mark.skipif(not os.environ.get("NNLIB_DATA"), reason="needs MNIST (NNLIB_DATA)")
def test_split_seed_fixes_the_validation_set_whatever_the_seed(tmp_path, capsys, monkeypatch):
    import nnlib.cli as cli_module
    splits = []
    real = cli_module.train_val_split
    monkeypatch.setattr(cli_module, "train_val_split", lambda *a, **k: splits.append(k["seed"]) or real(*a, **k))
    small = ["--sizes", "784,8,10", "--epochs", "1", "--train-size", "500", "--validation", "500", "--quiet"]
    for seed in ("0", "1"):
        assert main(["train", *small, "--seed", seed, "--output", str(tmp_path / f"s{seed}.npz")]) == 0
    assert main(["train", *small, "--split-seed", "3", "--output", str(tmp_path / "s3.npz")]) == 0
    assert splits == [0, 0, 3]
    err = capsys.readouterr().err
    assert "(500 for validation)" in err
    assert main(["info", str(tmp_path / "s3.npz")]) == 0
    out = capsys.readouterr().out
    assert "split_seed: 3" in out and "--split-seed 3" in out and "trained as a FastModel" in out
    assert main(["train", *small, "--validation", "10000", "--train-size", "100", "--output", str(tmp_path / "v.npz")]) == 0
    assert "(10,000 for validation)" in capsys.readouterr().err


@pytest.mark.skipif(not os.environ.get("NNLIB_DATA"), reason="needs MNIST (NNLIB_DATA)")
def test_train_evaluate_predict_end_to_end(tmp_path, capsys):
    model_path = tmp_path / "m.npz"
    assert main(["train", "--sizes", "784,32,10", "--dropout", "0.1", "--epochs", "2", "--quiet", "--validation", "5000",
                 "--early-stopping", "3", "--clip-norm", "10", "--l2", "1e-5", "--output", str(model_path),
                 "--final-test"]) == 0
    out = capsys.readouterr().out
    assert "validation loss" in out
    accuracy = float(out.split("final test accuracy (the once-only evaluation): ")[1].split()[0])
    assert accuracy > 0.85
    assert main(["evaluate", str(model_path)]) == 0
    assert f"test accuracy: {accuracy:.4f}" in capsys.readouterr().out
    from nnlib.data import load_mnist
    X_test, y_test = load_mnist("test")
    digit = X_test[0].reshape(28, 28)
    Image.fromarray((255 - digit * 255).astype(np.uint8)).resize((84, 84)).save(tmp_path / "d.png")
    assert main(["predict", str(model_path), str(tmp_path / "d.png")]) == 0
    assert f"prediction: {y_test[0]}" in capsys.readouterr().out


def test_errors_are_one_line_messages(tmp_path, capsys):
    assert main(["evaluate", str(tmp_path / "none.npz")]) == 1
    assert "error:" in capsys.readouterr().err
    with pytest.raises(SystemExit, match="validation"):
        main(["train", "--early-stopping", "3", "--epochs", "1", "--output", str(tmp_path / "x.npz")])
