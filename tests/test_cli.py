"""The command line (Chapter 13) and MNIST-style preprocessing."""
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from nnlib.cli import build_model, main, mnist_like, read_image


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
