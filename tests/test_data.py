"""nnlib.data (Chapter 1): IDX parsing, the NNLIB_DATA/cache/download search, splits, one-hot, batches, toy data."""
import gzip
import os
import time

import numpy as np
import pytest

import nnlib.data as data
from conftest import idx_bytes, tiny_mnist
from nnlib.data import (class_means, load_mnist, make_circles, make_moons, make_spirals, minibatches, mnist_dir,
                        nearest_centroid, one_hot, parse_idx, read_idx, train_val_split)


# --- IDX format --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("code, array", [
    (0x08, np.arange(24, dtype=np.uint8).reshape(2, 3, 4)),
    (0x09, np.array([-128, -1, 0, 127], dtype=np.int8)),
    (0x0B, np.array([[-300, 2], [3, 30000]], dtype=np.int16)),
    (0x0C, np.array([-2**31, 2**31 - 1], dtype=np.int32)),
    (0x0D, np.array([1.5, -2.25, np.pi], dtype=np.float32)),
    (0x0E, np.array([[1e300], [-1e-300]], dtype=np.float64)),
])
def test_parse_idx_round_trips_every_type(code, array):
    out = parse_idx(idx_bytes(array, code))
    assert out.shape == array.shape and out.dtype.isnative
    np.testing.assert_array_equal(out, array)
    out[...] = 0  # a writable copy, not a view of the bytes


def test_read_idx_gzip_and_raw(tmp_path):
    array = np.arange(12, dtype=np.uint8).reshape(3, 4)
    (tmp_path / "a.idx").write_bytes(idx_bytes(array))
    (tmp_path / "a.idx.gz").write_bytes(gzip.compress(idx_bytes(array)))
    np.testing.assert_array_equal(read_idx(tmp_path / "a.idx"), array)
    np.testing.assert_array_equal(read_idx(tmp_path / "a.idx.gz"), array)


GOOD = idx_bytes(np.arange(24, dtype=np.uint8).reshape(2, 3, 4))


@pytest.mark.parametrize("raw, message", [
    (b"", "too short"),
    (b"\x00\x00\x08", "too short"),
    (b"\x01\x02\x08\x01" + GOOD[4:], "not an IDX file"),
    (GOOD[:2] + b"\x07" + GOOD[3:], "unknown IDX element type 0x07"),
    (b"\x00\x00\x08\x00", "0 dimensions"),
    (GOOD[:10], "truncated IDX header"),
    (GOOD[:-1], "truncated"),
    (GOOD[:16], "truncated"),
    (GOOD + b"\x00", "unexpected bytes"),
    (b"\x00\x00\x08\x03" + (2**31).to_bytes(4, "big") * 3, "truncated"),  # absurd shape, no huge allocation
])
def test_parse_idx_rejects_damage_with_a_clear_message(raw, message):
    with pytest.raises(ValueError, match=message) as info:
        parse_idx(raw, name="damaged.idx")
    assert "damaged.idx" in str(info.value)


def test_truncated_gzip_names_the_file(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(GOOD)[:-12])
    with pytest.raises(ValueError, match="corrupt or truncated gzip") as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_corrupt_gzip_names_the_file(tmp_path):
    blob = bytearray(gzip.compress(GOOD * 50))
    blob[len(blob) // 2] ^= 0xFF
    blob[len(blob) // 2 + 1] ^= 0xFF
    path = tmp_path / "x.gz"
    path.write_bytes(bytes(blob))
    with pytest.raises(ValueError, match=str(path).replace("\\", "\\\\")):
        read_idx(path)


def test_truncated_payload_inside_valid_gzip(tmp_path):
    path = tmp_path / "short.gz"
    path.write_bytes(gzip.compress(GOOD[:-5]))
    with pytest.raises(ValueError, match="truncated: the header promises shape \\(2, 3, 4\\)"):
        read_idx(path)


# --- load_mnist on tiny files ------------------------------------------------------------------------------------

@pytest.mark.parametrize("gz", [True, False])
def test_load_mnist_tiny(tmp_path, gz):
    files = tiny_mnist(tmp_path / "m", gz=gz)
    X, y = load_mnist("train", data_dir=tmp_path / "m")
    assert X.shape == (6, 784) and X.dtype == np.float32
    assert y.shape == (6,) and y.dtype == np.int64
    np.testing.assert_allclose(X, files["train-images"][3].reshape(6, 784) / 255, rtol=1e-6)
    np.testing.assert_array_equal(y, files["train-labels"][3])
    assert 0 <= X.min() and X.max() <= 1
    Xt, yt = load_mnist("test", data_dir=tmp_path / "m")
    assert Xt.shape == (4, 784) and yt.shape == (4,)


def test_load_mnist_rejects_mismatched_files(tmp_path):
    folder = tmp_path / "m"
    tiny_mnist(folder)
    (folder / "train-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_bytes(np.zeros(5, np.uint8))))
    with pytest.raises(ValueError, match="6 images but .* 5 labels"):
        load_mnist("train", data_dir=folder)
    (folder / "train-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_bytes(np.full(6, 10, np.uint8))))
    with pytest.raises(ValueError, match="label 10 is out of range"):
        load_mnist("train", data_dir=folder)
    (folder / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(idx_bytes(np.zeros((6, 27, 28), np.uint8))))
    with pytest.raises(ValueError, match="shape \\(N, 28, 28\\)"):
        load_mnist("train", data_dir=folder)
    with pytest.raises(ValueError, match="split must be"):
        load_mnist("validation", data_dir=folder)


# --- where the files come from -----------------------------------------------------------------------------------

def test_nnlib_data_takes_precedence(isolated_env, monkeypatch):
    tiny_mnist(isolated_env / "shared")
    monkeypatch.setenv("NNLIB_DATA", str(isolated_env / "shared"))
    assert mnist_dir() == isolated_env / "shared"
    assert load_mnist("test")[0].shape == (4, 784)


def test_nnlib_data_without_files_says_so(isolated_env, monkeypatch):
    (isolated_env / "empty").mkdir()
    monkeypatch.setenv("NNLIB_DATA", str(isolated_env / "empty"))
    with pytest.raises(FileNotFoundError, match="NNLIB_DATA is set to .*empty.*lacks train-images-idx3-ubyte.gz"):
        mnist_dir()


def test_cache_respects_xdg_cache_home(isolated_env, monkeypatch):
    assert data.cache_dir() == isolated_env / "cache" / "nnlib" / "mnist"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(isolated_env / "home"))
    assert data.cache_dir() == isolated_env / "home" / ".cache" / "nnlib" / "mnist"


def test_cache_is_used_without_network(isolated_env, monkeypatch, closed_port_url):
    tiny_mnist(data.cache_dir())
    monkeypatch.setattr(data, "MNIST_MIRRORS", (closed_port_url,))
    assert load_mnist("train")[0].shape == (6, 784)


def _serve(http_server, monkeypatch, files, prefix="/good/"):
    monkeypatch.setattr(data, "MNIST_FILES", {k: (name, md5) for k, (name, md5, _, _) in files.items()})
    for name, md5, blob, _ in files.values():
        http_server.routes[prefix + name] = (200, blob, None)


def test_download_tries_mirrors_in_turn_and_verifies(isolated_env, monkeypatch, http_server, closed_port_url, tmp_path):
    files = tiny_mnist(tmp_path / "source")
    _serve(http_server, monkeypatch, files)
    name = files["train-images"][0]
    http_server.routes["/corrupt/" + name] = (200, b"garbage", None)  # wrong MD5 on the second mirror
    monkeypatch.setattr(data, "MNIST_MIRRORS", (closed_port_url, http_server.url + "/missing/",
                                                http_server.url + "/corrupt/", http_server.url + "/good/"))
    folder = mnist_dir(progress=False)
    assert folder == data.cache_dir()
    assert sorted(p.name for p in folder.iterdir()) == sorted(f[0] for f in files.values())  # no temp files left
    X, y = load_mnist("train")
    np.testing.assert_array_equal(y, files["train-labels"][3])


def test_offline_without_copy_fails_fast_with_instructions(isolated_env, monkeypatch, closed_port_url):
    monkeypatch.setattr(data, "MNIST_MIRRORS", (closed_port_url, closed_port_url + "other/"))
    start = time.monotonic()
    with pytest.raises(FileNotFoundError) as info:
        load_mnist("train")
    assert time.monotonic() - start < 10
    message = str(info.value)
    for expected in ("Could not find or download MNIST", "NNLIB_DATA", str(data.cache_dir()),
                     "train-images-idx3-ubyte.gz", closed_port_url, "f68b3c2dcbeaaa9fbdd348bbdeb94873"):
        assert expected in message
    assert not data.cache_dir().exists() or not any(data.cache_dir().iterdir())


def test_download_off_explains(isolated_env):
    with pytest.raises(FileNotFoundError, match="downloading is off"):
        load_mnist("train", download=False)


def test_interrupted_download_leaves_nothing(isolated_env, monkeypatch, http_server, tmp_path):
    """The server promises 10,000 bytes and hangs up after 100: no partial file may appear in the cache."""
    files = tiny_mnist(tmp_path / "source")
    monkeypatch.setattr(data, "MNIST_FILES", {k: (n, m) for k, (n, m, _, _) in files.items()})
    for name, md5, blob, _ in files.values():
        http_server.routes["/cut/" + name] = (200, blob[:100], 10_000)
    monkeypatch.setattr(data, "MNIST_MIRRORS", (http_server.url + "/cut/",))
    with pytest.raises(FileNotFoundError, match="every mirror failed"):
        mnist_dir(progress=False)
    leftovers = list(data.cache_dir().iterdir()) if data.cache_dir().exists() else []
    assert leftovers == []


def test_keyboard_interrupt_mid_download_keeps_the_old_file(tmp_path, monkeypatch):
    dest = tmp_path / "file.gz"
    dest.write_bytes(b"previous complete version")

    class Response:
        headers = {"Content-Length": "1000"}
        calls = 0

        def read(self, n):
            Response.calls += 1
            if Response.calls > 1:
                raise KeyboardInterrupt
            return b"x" * 100

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    monkeypatch.setattr(data.urllib.request, "urlopen", lambda url, timeout: Response())
    with pytest.raises(KeyboardInterrupt):
        data.download("http://example.invalid/file.gz", dest, progress=False)
    assert dest.read_bytes() == b"previous complete version"
    assert [p.name for p in tmp_path.iterdir()] == ["file.gz"]


def test_md5_mismatch_is_not_installed(tmp_path, http_server):
    http_server.routes["/f"] = (200, b"hello", None)
    with pytest.raises(ValueError, match="MD5 mismatch"):
        data.download(http_server.url + "/f", tmp_path / "f", md5="0" * 32, progress=False)
    assert list(tmp_path.iterdir()) == []
    data.download(http_server.url + "/f", tmp_path / "f", md5="5d41402abc4b2a76b9719d911017c592", progress=False)
    assert (tmp_path / "f").read_bytes() == b"hello"


# --- the real MNIST (CI sets NNLIB_DATA) -------------------------------------------------------------------------

@pytest.mark.skipif(not os.environ.get("NNLIB_DATA"), reason="NNLIB_DATA not set")
def test_real_mnist_matches_published_counts():
    X, y = load_mnist("train")
    Xt, yt = load_mnist("test")
    assert X.shape == (60000, 784) and Xt.shape == (10000, 784)
    assert np.bincount(y).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    assert np.bincount(yt).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert abs(X.mean() - 0.1307) < 1e-4 and abs(X.std() - 0.3081) < 1e-4


# --- helpers -----------------------------------------------------------------------------------------------------

def test_train_val_split_is_seeded_and_disjoint():
    X, y = np.arange(100).reshape(50, 2), np.arange(50)
    a = train_val_split(X, y, val_size=10, seed=3)
    b = train_val_split(X, y, val_size=10, seed=3)
    c = train_val_split(X, y, val_size=0.2, seed=4)
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)
    assert len(a[1]) == 10 and len(c[1]) == 10
    assert not np.array_equal(a[3], c[3])
    assert sorted(np.concatenate([a[2], a[3]]).tolist()) == list(range(50))
    np.testing.assert_array_equal(a[0][:, 0] // 2, a[2])  # rows stay paired with their labels
    with pytest.raises(ValueError, match="train_val_split: val_size=50 leaves no examples"):
        train_val_split(X, y, val_size=50)
    with pytest.raises(ValueError, match=r"train_val_split: X has 50 examples but y has 49 .*\(50, 2\).*\(49,\)"):
        train_val_split(X, y[:-1])


def test_one_hot():
    np.testing.assert_array_equal(one_hot(np.array([2, 0]), 3), [[0, 0, 1], [1, 0, 0]])
    assert one_hot(np.array([1]), 10).dtype == np.float32
    with pytest.raises(ValueError, match="label 10 is out of range \\[0, 10\\)"):
        one_hot(np.array([1, 10]))
    with pytest.raises(ValueError, match="label -1"):
        one_hot(np.array([-1]))
    with pytest.raises(TypeError, match="must be integers"):
        one_hot(np.array([1.0, 2.0]))
    with pytest.raises(ValueError, match="shape \\(N,\\)"):
        one_hot(np.zeros((2, 2), dtype=int))


@pytest.mark.parametrize("batch_size", [1, 7, 32, 100, 1000])
def test_minibatches_cover_every_example_once(batch_size):
    X, y = np.arange(200).reshape(100, 2), np.arange(100)
    batches = list(minibatches(X, y, batch_size, rng=0))
    seen = np.concatenate([yb for _, yb in batches])
    assert sorted(seen.tolist()) == list(range(100))
    assert all(np.array_equal(xb[:, 0] // 2, yb) for xb, yb in batches)
    assert all(len(yb) == batch_size for _, yb in batches[:-1])
    again = np.concatenate([yb for _, yb in minibatches(X, y, batch_size, rng=0)])
    np.testing.assert_array_equal(seen, again)
    if batch_size < 100:
        assert not np.array_equal(seen, np.arange(100))  # shuffled
    unshuffled = np.concatenate([yb for _, yb in minibatches(X, y, batch_size, shuffle=False)])
    np.testing.assert_array_equal(unshuffled, np.arange(100))


def test_minibatches_checks_its_arguments_at_the_call():
    """The errors come from the call itself, before any batch is requested, and name the function."""
    X, y = np.zeros((10, 2)), np.zeros(10, int)
    with pytest.raises(ValueError, match=r"minibatches: X has 10 examples but y has 9 .*\(10, 2\).*\(9,\)"):
        minibatches(X, y[:-1], 4, rng=0)
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="minibatches: batch_size must be a positive integer"):
            minibatches(X, y, bad, rng=0)
    with pytest.raises(ValueError, match="minibatches: shuffle=True needs rng"):
        minibatches(X, y, 4)
    assert len(list(minibatches(X, y, np.int64(4), shuffle=False))) == 3   # no rng needed without shuffling


def test_minibatches_one_generator_gives_a_new_order_each_call():
    X, y = np.arange(100).reshape(50, 2), np.arange(50)
    rng = np.random.default_rng(0)
    first, second = ([yb for _, yb in minibatches(X, y, 50, rng=rng)][0] for _ in range(2))
    assert not np.array_equal(first, second)
    again = np.random.default_rng(0)
    np.testing.assert_array_equal(first, next(minibatches(X, y, 50, rng=again))[1])


@pytest.mark.parametrize("make, n, classes", [(make_moons, 101, 2), (make_circles, 100, 2), (make_spirals, 300, 3)])
def test_toy_datasets(make, n, classes):
    X, y = make(n, seed=1)
    assert X.shape == (n, 2) and X.dtype == np.float32 and y.shape == (n,)
    assert set(np.unique(y).tolist()) == set(range(classes))
    assert max(np.bincount(y)) - min(np.bincount(y)) <= 1
    X2, y2 = make(n, seed=1)
    np.testing.assert_array_equal(X, X2)
    assert not np.array_equal(X, make(n, seed=2)[0])


def test_circles_have_two_radii():
    X, y = make_circles(400, noise=0.0, factor=0.3)
    r = np.linalg.norm(X, axis=1)
    np.testing.assert_allclose(r[y == 0], 1, atol=1e-6)
    np.testing.assert_allclose(r[y == 1], 0.3, atol=1e-6)


# --- the nearest-centroid baseline ------------------------------------------------------------------------------

def test_class_means_and_nearest_centroid_match_the_definitions():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(300, 5)).astype(np.float32), rng.integers(0, 4, 300)
    means = class_means(X, y, 4)
    assert means.shape == (4, 5)
    np.testing.assert_allclose(means, [X[y == k].mean(axis=0) for k in range(4)], rtol=1e-5, atol=1e-6)
    X_new = rng.normal(size=(50, 5))
    distances = ((X_new[:, None, :] - means[None, :, :]) ** 2).sum(axis=2)   # ||x_n - x̄_k||², N × K
    np.testing.assert_array_equal(nearest_centroid(X_new, means), distances.argmin(axis=1))
    assert np.mean(nearest_centroid(means, means) == np.arange(4)) == 1  # each centroid is nearest to itself


def test_nearest_centroid_boundary_on_separable_data():
    X, y = np.array([[-2.0, 0], [-1, 0], [1, 0], [2, 0]]), np.array([0, 0, 1, 1])
    means = class_means(X, y, 2)
    np.testing.assert_array_equal(nearest_centroid(np.array([[-0.1, 5], [0.1, -5]]), means), [0, 1])


@pytest.mark.parametrize("call, message", [
    (lambda: class_means(np.zeros((4, 3)), np.zeros(5, int)), r"class_means: .*\(4, 3\).*\(5,\)"),
    (lambda: class_means(np.zeros(4), np.zeros(4, int)), "class_means: X must have shape"),
    (lambda: class_means(np.zeros((4, 3)), np.array([0, 0, 2, 2]), 3), "class 1 has no examples"),
    (lambda: class_means(np.zeros((4, 3)), np.array([0, 1, 2, 3]), 3), r"class_means: labels must be in \[0, 3\)"),
    (lambda: class_means(np.zeros((2, 3)), np.array([-1, 0]), 2), r"class_means: .*from -1 to 0"),
    (lambda: nearest_centroid(np.zeros((4, 3)), np.zeros((2, 5))), r"nearest_centroid: .*\(4, 3\).*\(2, 5\)"),
])
def test_centroid_errors_name_the_function_and_the_shapes(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_class_means_rejects_float_labels():
    with pytest.raises(TypeError, match="class_means: labels must be integers"):
        class_means(np.zeros((2, 3)), np.array([0.0, 1.0]), 2)
