"""The grader's side of the boundary: proxies through which hidden tests use a student's code without running it.

A hidden test receives a :class:`Namespace`. ``ns["relu"]`` is a :class:`Remote`: calling it sends the arguments to
the student's sandboxed process as plain data (``plain.py``) and returns the result as plain data, so the test
compares plain arrays, in the grader's process, with the grader's numpy. Objects (a ``Dense`` layer, an ``Adam``
optimiser) stay in the student's process; the test holds a ``Remote`` handle and calls their methods or reads and
sets their attributes through it. Arrays the student's code changed in place (``optimizer.step(params, grads)``)
are copied back into the test's arrays after each call. A test's function passed as an argument (the ``f`` of a
numerical gradient) becomes a callback: the student's code may call it, with plain data only.

A ``Remote`` has no ``__eq__``, ``__array__``, ``__float__``, ``__len__`` or ``__bool__`` of the student's: used as a
number or an array it is an opaque object, so a comparison with it fails instead of lying. Nothing the student's
process prints is parsed.
"""

from __future__ import annotations

import contextlib
import itertools
import threading
import weakref

import numpy as np

from nnlib_teach import plain


class StudentError(Exception):
    """The student's code raised: carries their exception's type, message and the frames in their own cells."""

    def __init__(self, type_name: str, message: str, traceback: str = ""):
        super().__init__(f"{type_name}: {message}" if message else type_name)
        self.type_name, self.message, self.student_traceback = type_name, message, traceback


class SandboxFailure(Exception):
    """The student's process did not answer properly: it ended, timed out, or sent something malformed."""


class SandboxTimeout(SandboxFailure):
    pass


class GraderFailure(SandboxFailure):
    """The grader's own machinery failed (a sandbox could not be started): not the student's doing."""


class MissingName(KeyError):
    def __str__(self):
        return self.args[0]


class Connection:
    """Requests to one sandboxed process over two pipes, answered in order; serves its callbacks meanwhile."""

    def __init__(self, wfd: int, rfd: int, on_failure=None):
        self.wfd, self.rfd = wfd, rfd
        self.ids = itertools.count(1)
        self.callbacks: dict[int, object] = {}
        self._callback_ids: dict[int, int] = {}
        self.keys: dict[int, tuple] = {}  # id(array) -> (weakref, key): the same array keeps its identity there
        self._key_ids = itertools.count(1)
        self.deadline: float | None = None
        self.broken: str | None = None
        self.on_failure = on_failure  # called with the reason when the process fails (the sandbox kills it)
        self.lock = threading.RLock()
        self.calls = 0

    # --- encoding --------------------------------------------------------------------------------------
    def _encoder(self):
        def on_other(obj):
            if isinstance(obj, Remote):
                if object.__getattribute__(obj, "_conn") is not self:
                    raise plain.PlainError("a handle from another student's process")
                return {"$t": "handle", "id": object.__getattribute__(obj, "_id")}
            if callable(obj):
                cid = self._callback_ids.get(id(obj))
                if cid is None or self.callbacks.get(cid) is not obj:
                    cid = len(self.callbacks) + 1
                    self.callbacks[cid] = obj
                    self._callback_ids[id(obj)] = cid
                return {"$t": "callback", "id": cid}
            return None

        def on_array(a, node):
            known = self.keys.get(id(a))
            if known is not None and known[0]() is a:
                node["key"] = known[1]
                return
            key = next(self._key_ids)
            self.keys[id(a)] = (weakref.ref(a), key)
            node["key"] = key

        return plain.Encoder(on_other=on_other, on_array=on_array)

    def _decode(self, node, blobs):
        def on_handle(n):
            if type(n.get("id")) is not int or type(n.get("type")) is not str or type(n.get("call")) is not bool:
                raise plain.PlainError("malformed handle")
            return Remote(self, n["id"], n["type"][:80], n["call"])

        return plain.Decoder(blobs, on_handle=on_handle).decode(node)

    def _apply_changes(self, changes):
        """Copy arrays the student's code changed in place back into the grader's arrays (same shape and dtype)."""
        if type(changes) is not list:
            raise plain.PlainError("malformed list of changed arrays")
        live = {key: ref() for ref, key in self.keys.values()}
        for item in changes:
            if type(item) is not list or len(item) != 2 or type(item[0]) is not int or type(item[1]) is not np.ndarray:
                raise plain.PlainError("malformed changed array")
            target = live.get(item[0])
            if target is not None and target.shape == item[1].shape and target.dtype == item[1].dtype \
                    and target.flags.writeable:
                target[...] = item[1]

    # --- messages --------------------------------------------------------------------------------------
    def _fail(self, reason: str, cls=SandboxFailure):
        self.broken = reason
        if self.on_failure is not None:
            self.on_failure(reason)
        raise cls(reason)

    def _receive(self):
        try:
            return plain.receive(self.rfd, self.deadline)
        except plain.ChannelTimeout:
            self._fail("stopped: your code did not finish within the time limit", SandboxTimeout)
        except plain.ChannelClosed:
            self._fail("your code's process ended")
        except plain.PlainError as err:
            self._fail(f"your code's process sent a malformed message ({err})")
        except OSError as err:
            self._fail(f"the connection to your code's process failed ({err})")

    def request(self, op: str, args=None, **fields):
        """Send one request and wait for its answer, serving the student's callbacks meanwhile."""
        with self.lock:
            if self.broken:
                raise SandboxFailure(self.broken)
            rid = next(self.ids)
            self.calls += 1
            header, blobs = {"op": op, "id": rid, **fields}, []
            if args is not None:
                enc = self._encoder()
                header["args"] = enc.encode(args)
                blobs = enc.blobs
            try:
                plain.send(self.wfd, header, blobs)
            except OSError:
                self._fail("your code's process ended")
            while True:
                header, blobs = self._receive()
                if header.get("op") == "callback":
                    self._serve_callback(header, blobs)
                    continue
                if header.get("re") != rid or type(header.get("ok")) is not bool:
                    self._fail("your code's process answered out of turn")
                try:
                    body = self._decode(header.get("body"), blobs)
                    if type(body) is not list or len(body) != 2:
                        raise plain.PlainError("malformed answer")
                    self._apply_changes(body[1])
                except plain.PlainError as err:
                    self._fail(f"your code's process sent a malformed answer ({err})")
                if header["ok"]:
                    return body[0]
                error = header.get("error")
                if type(error) is not dict or not all(type(error.get(k)) is str for k in ("type", "message")):
                    self._fail("your code's process sent a malformed error")
                raise StudentError(error["type"][:100], error["message"][:2000],
                                   str(error.get("traceback") or "")[:4000])

    def _serve_callback(self, header, blobs):
        fn = self.callbacks.get(header.get("id")) if type(header.get("id")) is int else None
        try:
            if fn is None:
                raise plain.PlainError("unknown callback")
            args = self._decode(header.get("args"), blobs)
            if type(args) is not list or len(args) != 2 or type(args[0]) is not list or type(args[1]) is not dict \
                    or not all(type(k) is str for k in args[1]):
                raise plain.PlainError("malformed callback arguments")
        except plain.PlainError as err:
            self._fail(f"your code's process sent a malformed callback ({err})")
        try:
            value, ok, error = fn(*args[0], **args[1]), True, None
        except Exception as err:  # noqa: BLE001 - the grader's function failed on the student's input
            value, ok, error = None, False, type(err).__name__
        enc = self._encoder()
        try:
            node = enc.encode(value)
        except plain.PlainError:
            enc, node, ok, error = self._encoder(), None, False, "unencodable result"
        try:
            plain.send(self.wfd, {"reply": True, "ok": ok, "body": node, "error": error}, enc.blobs)
        except OSError:
            self._fail("your code's process ended")


class Remote:
    """A handle on an object that lives in the student's process (a function, a class, an instance)."""

    __slots__ = ("_conn", "_id", "_type", "_callable", "__weakref__")

    def __init__(self, conn: Connection, hid: int, type_name: str, is_callable: bool):
        object.__setattr__(self, "_conn", conn)
        object.__setattr__(self, "_id", hid)
        object.__setattr__(self, "_type", type_name)
        object.__setattr__(self, "_callable", is_callable)

    def __call__(self, *args, **kwargs):
        if not object.__getattribute__(self, "_callable"):
            raise TypeError(f"the student's {object.__getattribute__(self, '_type')} object is not callable")
        return object.__getattribute__(self, "_conn").request("call", [self, list(args), kwargs])

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)  # numpy's __array__, __array_interface__…: never forwarded
        return object.__getattribute__(self, "_conn").request("getattr", [self, name])

    def __setattr__(self, name, value):
        if name.startswith("_"):
            raise AttributeError(name)
        object.__getattribute__(self, "_conn").request("setattr", [self, name, value])

    def __repr__(self):
        return f"<the student's {object.__getattribute__(self, '_type')}>"

    __hash__ = object.__hash__

    def __eq__(self, other):
        return self is other

    def __bool__(self):
        return True


class Case:
    """One scored case of a hidden test (see Namespace.case)."""

    def __init__(self, name: str, weight: float):
        self.name, self.weight, self.passed, self.message = name, float(weight), False, ""


class Namespace:
    """What a hidden test receives: the student's names (``ns["relu"]``), the sandbox's nnlib (``ns.lib``), and
    scored cases (``with ns.case("..."):``) for partial credit."""

    def __init__(self, conn: Connection, defined=(), describe=None):
        self._conn, self.defined, self.cases = conn, set(defined), []
        self._describe = describe

    def __getitem__(self, name: str):
        if name not in self.defined:
            raise MissingName(f"your notebook does not define {name!r}")
        return self._conn.request("lookup", name=name)

    def __contains__(self, name):
        return name in self.defined

    def get(self, name, default=None):
        return self[name] if name in self.defined else default

    def lib(self, dotted: str):
        """Something from the sandbox's own nnlib (earlier chapters only), e.g. ns.lib("nnlib.training.Model")."""
        if not dotted.startswith("nnlib."):
            raise ValueError("ns.lib imports from nnlib only")
        return self._conn.request("lib", path=dotted)

    @contextlib.contextmanager
    def case(self, name: str, weight: float = 1.0):
        """A scored part of the test: its failure costs only its own share of the exercise's points."""
        case = Case(name, weight)
        self.cases.append(case)
        try:
            yield case
            case.passed = True
        except SandboxFailure as err:
            case.message = self._describe(err) if self._describe else str(err)
        except Exception as err:  # noqa: BLE001 - a failed case; the next case still runs
            case.message = self._describe(err) if self._describe else str(err)
