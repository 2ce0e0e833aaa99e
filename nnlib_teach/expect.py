"""Assertions for hidden tests, with messages meant for the student: what was expected and what came out.

They run in the grader's process on plain values (what ``rpc.Remote`` calls return). None of them shows the test's
source; a gradient comparison gives the relative error ‖a − b‖ / (‖a‖ + ‖b‖), the measure the book uses.
"""

from __future__ import annotations

import numpy as np

from nnlib_teach.rpc import Remote


def _show(value, limit: int = 6) -> str:
    a = np.asarray(value)
    if a.ndim == 0:
        return f"{a.item():.6g}" if a.dtype.kind == "f" else repr(a.item())
    flat = a.ravel()
    head = np.array2string(flat[:limit], precision=6, separator=", ")
    return head + (f" … ({a.size} values, shape {a.shape})" if a.size > limit else f" (shape {a.shape})")


def array(value, what: str = "the result", dtype=None, shape=None) -> np.ndarray:
    """`value` itself if it is a numpy array (not an object of the student's, not a list), else AssertionError."""
    if type(value) is not np.ndarray:
        got = repr(value) if isinstance(value, Remote) else f"a {type(value).__name__}"
        raise AssertionError(f"{what} must be a numpy array, got {got}")
    if shape is not None and value.shape != tuple(shape):
        raise AssertionError(f"{what}: expected shape {tuple(shape)}, got shape {value.shape}")
    if dtype is not None and value.dtype != np.dtype(dtype):
        raise AssertionError(f"{what}: expected dtype {np.dtype(dtype)}, got {value.dtype}")
    return value


def number(value, what: str = "the result") -> float:
    """`value` as a float if it is a real number (Python or numpy scalar, or a 0-d array)."""
    if type(value) in (int, float) or (isinstance(value, np.generic) and np.dtype(type(value)).kind in "iuf") \
            or (type(value) is np.ndarray and value.ndim == 0 and value.dtype.kind in "iuf"):
        return float(value)
    got = repr(value) if isinstance(value, Remote) else f"a {type(value).__name__}"
    raise AssertionError(f"{what} must be a number, got {got}")


def _numbers(value, what):
    """A list or tuple of plain numbers (or of arrays) as an array; anything of the student's is refused."""
    def ok(v):
        if type(v) in (list, tuple):
            return all(ok(x) for x in v)
        return type(v) in (int, float, bool) or type(v) is np.ndarray or \
            (isinstance(v, np.generic) and np.dtype(type(v)).kind in "biuf")
    if not ok(value):
        raise AssertionError(f"{what} must hold numbers only")
    try:
        return np.array(value, dtype=np.float64)
    except ValueError:
        raise AssertionError(f"{what} is a ragged list") from None


def close(got, expected, what: str = "the result", rtol: float = 1e-10, atol: float = 0.0):
    """Elementwise |got − expected| ≤ atol + rtol·|expected|, same shape. `got`: an array, a number, or (where
    `expected` is a sequence) a list of numbers."""
    e = np.asarray(expected)
    if e.ndim and type(got) in (list, tuple):
        g = _numbers(got, what)
    else:
        g = array(got, what) if e.ndim else np.asarray(number(got, what))
    if g.shape != e.shape:
        raise AssertionError(f"{what}: expected shape {e.shape}, got shape {g.shape}\n"
                             f"  expected {_show(e)}\n  got      {_show(g)}")
    g64, e64 = g.astype(np.complex128 if g.dtype.kind == "c" else np.float64), e.astype(np.float64)
    bad = ~(np.abs(g64 - e64) <= atol + rtol * np.abs(e64))
    bad &= ~(np.isnan(g64) & np.isnan(e64))
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0]) if bad.ndim else ()
        diff = np.abs(g64 - e64)[bad]
        scale = np.abs(e64)[bad]
        largest = f"largest difference {np.max(diff):.3g}"
        if np.all(scale > 0) and np.all(np.isfinite(diff)):
            largest += f", relative {np.max(diff / scale):.3g}"
        raise AssertionError(f"{what}: {int(bad.sum())} of {bad.size} values differ ({largest}); "
                             f"at index {where}: expected {e64[where]:.8g}, got {g64[where]:.8g}\n"
                             f"  expected {_show(e)}\n  got      {_show(g)}")


def equal(got, expected, what: str = "the result"):
    close(got, expected, what, rtol=0.0, atol=0.0)


def gradient(got, expected, what: str = "the gradient", tol: float = 1e-6):
    """A gradient against a numerical one: relative error ‖a − b‖ / (‖a‖ + ‖b‖) below `tol`."""
    e = np.asarray(expected, dtype=np.float64)
    g = array(got, what)
    if g.shape != e.shape:
        raise AssertionError(f"{what}: must have shape {e.shape} (the shape of its input), got {g.shape}")
    g = g.astype(np.float64)
    denom = np.linalg.norm(g) + np.linalg.norm(e)
    err = 0.0 if denom == 0 else float(np.linalg.norm(g - e) / denom)
    if not err < tol:
        raise AssertionError(f"{what}: relative error {err:.2e} against the numerical gradient (must be below "
                             f"{tol:.0e})\n  numerical {_show(e)}\n  yours     {_show(g)}")


def true(condition, message: str):
    """`condition` must be a real bool (a comparison made here), never an object of the student's."""
    if type(condition) not in (bool, np.bool_) or not condition:
        raise AssertionError(message)
