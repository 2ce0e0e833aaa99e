"""Hidden tests for Chapter 13, Your own digits. Each test_<exercise>(ns) receives the student's namespace (rpc).

The student's `mnist_like` is called on images the test draws (plain arrays); the test measures what comes back
with its own arithmetic: the shape, the range, and where the ink's centre of mass lies.
"""
import numpy as np

from nnlib_teach.expect import array, close, true

GRID = np.arange(28)


def _centre(image):
    image = image.reshape(28, 28).astype(np.float64)
    return [image.sum(axis=1) @ GRID / image.sum(), image.sum(axis=0) @ GRID / image.sum()]


def _ell(flip=False):
    "A lopsided L of black ink on white paper, 60×60 (mirrored left-right with flip): its centre of mass is not its box's"
    scan = np.ones((60, 60))
    scan[5:35, 30:36] = 0
    scan[29:35, 30:52] = 0
    return scan[:, ::-1].copy() if flip else scan


def test_mnist_like(ns):
    mnist_like = ns["mnist_like"]
    with ns.case("an off-centre bar: 784 values in [0, 1], its centre of mass at (14, 14) ± 0.5 px"):
        scan = np.ones((50, 80))
        scan[30:46, 4:12] = 0
        seen = array(mnist_like(scan), "mnist_like's output")
        true(seen.shape == (784,), f"mnist_like must return 784 values, got shape {seen.shape}")
        true(bool(seen.min() >= 0 and seen.max() <= 1), "every value must lie in [0, 1]")
        close(_centre(seen), [14, 14], "the ink's centre of mass (row, column)", rtol=0, atol=0.5)
    with ns.case("a lopsided L: the centre of mass, not the bounding box's centre, at (14, 14)", weight=2):
        close(_centre(array(mnist_like(_ell()))), [14, 14], "the L's centre of mass (row, column)", rtol=0, atol=0.5)
    with ns.case("the mirrored L, as 8-bit pixels: centre of mass at (14, 14)"):
        scan = np.round(255 * _ell(flip=True)).astype(np.uint8)
        close(_centre(array(mnist_like(scan))), [14, 14], "the mirrored L's centre of mass (row, column)",
              rtol=0, atol=0.5)
