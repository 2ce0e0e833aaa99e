"""Plain data across the trust boundary: the only form in which values travel between the grader and a student.

Both sides use this module (the student's sandbox gets a copy of it), but only the grader's side has to trust it:
everything it decodes comes from the student's process and is treated as hostile. A message is a small JSON
header plus raw ``.npy`` blobs (``numpy.lib.format``, pickle always refused). What can cross:

* ``None``, ``bool``, ``int`` (at most 64 bits), ``float`` (NaN and infinities included), ``complex``, ``str``;
* ``list``, ``tuple``, ``dict`` (keys: ``str``, ``int``, ``float``, ``bool`` or ``None``), nested at most
  ``MAX_DEPTH`` deep, ``MAX_ITEMS`` values in one message;
* numeric ``numpy.ndarray`` of the base class only (dtype kinds b, i, u, f, c; no object, structured or
  sub-array dtypes; at most ``MAX_ARRAY_BYTES``), numpy scalars of those dtypes, ``numpy.dtype`` values, and
  ``numpy.random.Generator`` (PCG64, by its state);
* references: ``handle`` (an object living in the student's process, used through ``rpc.Remote``), ``callback``
  (a function of the grader's that the student's code may call, with plain arguments) and ``ref`` (the same array
  twice in one message).

Everything else is refused with :class:`PlainError`. A decoded array is always a fresh base-class ``ndarray`` that
owns its memory: whatever the student's ``__eq__``, ``__array_ufunc__`` or ``__float__`` did, none of it survives.
"""

from __future__ import annotations

import io
import json
import math
import os
import select
import struct
import time

import numpy as np
import numpy.lib.format as npy

MAGIC = b"NNT1"
PREFIX = struct.Struct(">4sQQ")  # magic, header length, total blob length
MAX_HEADER = 4 << 20  # bytes of JSON in one message
MAX_ARRAY_BYTES = 64 << 20  # one array
MAX_MESSAGE = 160 << 20  # all blobs of one message
MAX_DEPTH = 32
MAX_ITEMS = 200_000
MAX_STR = 1 << 20  # characters in one string
MAX_BLOBS = 10_000
INT_LIMIT = 1 << 63
ARRAY_KINDS = "biufc"


class PlainError(ValueError):
    """A value that may not cross the boundary, or a message that is not well formed."""


class ChannelClosed(EOFError):
    """The other side closed its end of the channel (for the grader: the student's process is gone)."""


class ChannelTimeout(TimeoutError):
    """No complete message arrived before the deadline."""


# --- arrays --------------------------------------------------------------------------------------------------

def check_dtype(dtype) -> np.dtype:
    dtype = np.dtype(dtype)
    if dtype.kind not in ARRAY_KINDS or dtype.fields is not None or dtype.subdtype is not None or dtype.hasobject:
        raise PlainError(f"arrays must have a numeric dtype (bool, int, uint, float, complex), got {dtype}")
    return dtype


def array_to_bytes(a: np.ndarray) -> bytes:
    if type(a) is not np.ndarray:
        raise PlainError(f"only numpy.ndarray itself crosses, not {type(a).__name__}")
    check_dtype(a.dtype)
    if a.nbytes > MAX_ARRAY_BYTES:
        raise PlainError(f"array of {a.nbytes} bytes is larger than the limit of {MAX_ARRAY_BYTES}")
    out = io.BytesIO()
    npy.write_array(out, a, allow_pickle=False)
    return out.getvalue()


def array_from_bytes(blob: bytes) -> np.ndarray:
    """Decode one .npy blob, checking its header (dtype, shape, size) before reading any data."""
    f = io.BytesIO(blob)
    try:
        version = npy.read_magic(f)
        reader = npy.read_array_header_1_0 if version == (1, 0) else npy.read_array_header_2_0
        if version not in ((1, 0), (2, 0), (3, 0)):
            raise PlainError(f"unsupported .npy version {version}")
        if version == (3, 0):
            reader = npy.read_array_header_2_0
        shape, fortran, dtype = reader(f, max_header_size=2000)
    except PlainError:
        raise
    except Exception as err:  # noqa: BLE001 - any malformed header
        raise PlainError(f"malformed array: {type(err).__name__}: {err}") from None
    dtype = check_dtype(dtype)
    if not isinstance(shape, tuple) or len(shape) > 32 or not all(type(n) is int and n >= 0 for n in shape):
        raise PlainError(f"malformed array shape {shape!r}")
    count = math.prod(shape)
    data = blob[f.tell():]
    if count * dtype.itemsize > MAX_ARRAY_BYTES or len(data) != count * dtype.itemsize:
        raise PlainError(f"array data of {len(data)} bytes does not match shape {shape} and dtype {dtype}")
    a = np.frombuffer(data, dtype=dtype, count=count).reshape(shape, order="F" if fortran else "C")
    return np.array(a, copy=True, order="K")  # own, writable memory


# --- values --------------------------------------------------------------------------------------------------

class Encoder:
    """Turns a value into a JSON-able tree plus blobs. `on_other(obj)` may return a node for values that are not
    plain (a handle or a callback), or raise PlainError; `on_array(a, node)` may add fields to an array's node."""

    def __init__(self, on_other=None, on_array=None):
        self.blobs: list[bytes] = []
        self.items = 0
        self.on_other, self.on_array = on_other, on_array
        self._seen: dict[int, int] = {}  # id(array) -> index of its first node, for "ref"
        self.arrays: list[np.ndarray] = []

    def encode(self, value, depth: int = 0):
        self.items += 1
        if self.items > MAX_ITEMS:
            raise PlainError(f"more than {MAX_ITEMS} values in one message")
        if depth > MAX_DEPTH:
            raise PlainError(f"nested deeper than {MAX_DEPTH} levels")
        if value is None or type(value) is bool:
            return value
        if type(value) is int:
            if not -INT_LIMIT <= value < INT_LIMIT:
                raise PlainError("integers must fit in 64 bits")
            return value
        if type(value) is float:
            if math.isfinite(value):
                return value
            return {"$t": "float", "v": repr(value)}
        if type(value) is complex:
            return {"$t": "complex", "v": [self.encode(value.real, depth + 1), self.encode(value.imag, depth + 1)]}
        if type(value) is str:
            if len(value) > MAX_STR:
                raise PlainError(f"string of {len(value)} characters is longer than {MAX_STR}")
            return value
        if type(value) is np.ndarray:
            if id(value) in self._seen:
                return {"$t": "ref", "i": self._seen[id(value)]}
            self._seen[id(value)] = len(self.arrays)
            node = {"$t": "nd", "b": self._blob(array_to_bytes(value)), "i": len(self.arrays)}
            self.arrays.append(value)
            if self.on_array is not None:
                self.on_array(value, node)
            return node
        if isinstance(value, np.generic) and type(value) is not np.object_ and np.dtype(type(value)).kind in ARRAY_KINDS:
            return {"$t": "np", "b": self._blob(array_to_bytes(np.asarray(value)))}
        if isinstance(value, np.ndarray):  # a subclass: a masked array, a matrix, one whose == lies
            raise PlainError(f"only numpy.ndarray itself crosses, not {type(value).__name__}")
        if type(value) is list:
            return [self.encode(v, depth + 1) for v in value]
        if type(value) is tuple:
            return {"$t": "tuple", "v": [self.encode(v, depth + 1) for v in value]}
        if type(value) is dict:
            pairs = []
            for k, v in value.items():
                if k is not None and type(k) not in (str, int, float, bool):
                    raise PlainError(f"dictionary keys must be str, int, float, bool or None, not {type(k).__name__}")
                pairs.append([self.encode(k, depth + 1), self.encode(v, depth + 1)])
            return {"$t": "dict", "v": pairs}
        if isinstance(value, np.dtype) or (isinstance(value, type) and issubclass(value, np.generic)):
            return {"$t": "dtype", "v": check_dtype(value).str}
        if type(value) is np.random.Generator and type(value.bit_generator) is np.random.PCG64:
            st = value.bit_generator.state
            return {"$t": "rng", "state": f"{st['state']['state']:x}", "inc": f"{st['state']['inc']:x}",
                    "has_uint32": int(st["has_uint32"]), "uinteger": int(st["uinteger"])}
        if self.on_other is not None:
            node = self.on_other(value)
            if node is not None:
                return node
        raise PlainError(f"a {type(value).__module__}.{type(value).__qualname__} cannot cross to the grader")

    def _blob(self, data: bytes) -> int:
        if len(self.blobs) >= MAX_BLOBS:
            raise PlainError(f"more than {MAX_BLOBS} arrays in one message")
        self.blobs.append(data)
        return len(self.blobs) - 1


class Decoder:
    """Turns a JSON tree plus blobs back into values. `on_handle(node)` and `on_callback(node)` build the values
    for references; without them, references are refused."""

    def __init__(self, blobs, on_handle=None, on_callback=None, on_array=None):
        self.blobs, self.items = blobs, 0
        self.on_handle, self.on_callback, self.on_array = on_handle, on_callback, on_array
        self.arrays: list[np.ndarray] = []

    def decode(self, node, depth: int = 0):
        self.items += 1
        if self.items > MAX_ITEMS:
            raise PlainError(f"more than {MAX_ITEMS} values in one message")
        if depth > MAX_DEPTH:
            raise PlainError(f"nested deeper than {MAX_DEPTH} levels")
        if node is None or type(node) in (bool, str):
            if type(node) is str and len(node) > MAX_STR:
                raise PlainError("string too long")
            return node
        if type(node) is int:
            if not -INT_LIMIT <= node < INT_LIMIT:
                raise PlainError("integers must fit in 64 bits")
            return node
        if type(node) is float:
            return node
        if type(node) is list:
            return [self.decode(v, depth + 1) for v in node]
        if type(node) is not dict or type(node.get("$t")) is not str:
            raise PlainError(f"malformed value node of type {type(node).__name__}")
        kind = node["$t"]
        if kind == "float":
            if node.get("v") not in ("nan", "inf", "-inf"):
                raise PlainError("malformed float")
            return float(node["v"])
        if kind == "complex":
            re, im = self._pair(node, depth)
            if type(re) not in (int, float) or type(im) not in (int, float):
                raise PlainError("malformed complex")
            return complex(re, im)
        if kind == "tuple":
            return tuple(self.decode(v, depth + 1) for v in self._list(node))
        if kind == "dict":
            out = {}
            for pair in self._list(node):
                if type(pair) is not list or len(pair) != 2:
                    raise PlainError("malformed dictionary item")
                key = self.decode(pair[0], depth + 1)
                if key is not None and type(key) not in (str, int, float, bool):
                    raise PlainError("dictionary keys must be plain scalars")
                out[key] = self.decode(pair[1], depth + 1)
            return out
        if kind == "nd":
            a = array_from_bytes(self._blob(node))
            self.arrays.append(a)
            if self.on_array is not None:
                a = self.on_array(a, node)
            return a
        if kind == "ref":
            i = node.get("i")
            if type(i) is not int or not 0 <= i < len(self.arrays):
                raise PlainError("malformed array reference")
            return self.arrays[i]
        if kind == "np":
            a = array_from_bytes(self._blob(node))
            if a.ndim != 0:
                raise PlainError("a numpy scalar must have shape ()")
            return a[()]
        if kind == "dtype":
            try:
                return check_dtype(node.get("v") if type(node.get("v")) is str else None)
            except TypeError as err:
                raise PlainError(f"malformed dtype: {err}") from None
        if kind == "rng":
            try:
                if not all(type(node.get(k)) is str and len(node[k]) <= 40 for k in ("state", "inc")) or \
                        not all(type(node.get(k)) is int for k in ("has_uint32", "uinteger")):
                    raise ValueError("fields")
                bits = np.random.PCG64()
                bits.state = {"bit_generator": "PCG64", "has_uint32": node["has_uint32"], "uinteger": node["uinteger"],
                              "state": {"state": int(node["state"], 16), "inc": int(node["inc"], 16)}}
            except Exception as err:  # noqa: BLE001 - numpy validates the state
                raise PlainError(f"malformed random generator state: {err}") from None
            return np.random.Generator(bits)
        if kind == "handle" and self.on_handle is not None:
            return self.on_handle(node)
        if kind == "callback" and self.on_callback is not None:
            return self.on_callback(node)
        raise PlainError(f"a value of kind {kind!r} is not accepted here")

    def _list(self, node):
        v = node.get("v")
        if type(v) is not list:
            raise PlainError("malformed sequence")
        return v

    def _pair(self, node, depth):
        v = self._list(node)
        if len(v) != 2:
            raise PlainError("malformed pair")
        return self.decode(v[0], depth + 1), self.decode(v[1], depth + 1)

    def _blob(self, node) -> bytes:
        b = node.get("b")
        if type(b) is not int or not 0 <= b < len(self.blobs):
            raise PlainError("malformed array node")
        return self.blobs[b]


# --- messages ------------------------------------------------------------------------------------------------

def pack(header: dict, blobs: list[bytes]) -> bytes:
    header = dict(header, blobs=[len(b) for b in blobs])
    text = json.dumps(header, allow_nan=False, separators=(",", ":")).encode()
    total = sum(len(b) for b in blobs)
    if len(text) > MAX_HEADER or total > MAX_MESSAGE:
        raise PlainError(f"message too large ({len(text)} header bytes, {total} array bytes)")
    return PREFIX.pack(MAGIC, len(text), total) + text + b"".join(blobs)


def send(fd: int, header: dict, blobs: list[bytes] = ()) -> None:
    data = memoryview(pack(header, list(blobs)))
    while data:
        n = os.write(fd, data)
        data = data[n:]


def _read_exact(fd: int, n: int, deadline: float | None) -> bytes:
    chunks, left = [], n
    while left:
        if deadline is not None:
            wait = deadline - time.monotonic()
            if wait <= 0 or not select.select([fd], [], [], wait)[0]:
                raise ChannelTimeout("no answer in time")
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            raise ChannelClosed("the other side closed the channel")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def receive(fd: int, deadline: float | None = None) -> tuple[dict, list[bytes]]:
    """One message: (header, blobs). Raises PlainError on anything malformed, before reading an oversized part."""
    magic, header_len, total = PREFIX.unpack(_read_exact(fd, PREFIX.size, deadline))
    if magic != MAGIC or header_len > MAX_HEADER or total > MAX_MESSAGE:
        raise PlainError("malformed message (bad magic or oversized)")
    try:
        header = json.loads(_read_exact(fd, header_len, deadline), parse_constant=_no_constant)
    except (ValueError, RecursionError, UnicodeDecodeError) as err:
        raise PlainError(f"malformed message header: {type(err).__name__}") from None
    sizes = header.get("blobs") if type(header) is dict else None
    if type(sizes) is not list or len(sizes) > MAX_BLOBS or not all(type(s) is int and s >= 0 for s in sizes) \
            or sum(sizes) != total:
        raise PlainError("malformed message (blob sizes)")
    data = _read_exact(fd, total, deadline)
    blobs, at = [], 0
    for s in sizes:
        blobs.append(data[at:at + s])
        at += s
    return header, blobs


def _no_constant(name):
    raise ValueError(f"{name} is not JSON")
