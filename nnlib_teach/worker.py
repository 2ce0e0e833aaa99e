"""The student's side of the boundary: runs inside the sandbox, never in the grader's process.

``python -I -S -B worker.py CONFIG CONTROL_FD`` starts a chapter's *zygote*: it sets ``sys.path`` to the Python
installation, the site packages and the sandbox's own ``nnlib`` (only the chapters before the graded one), imports
numpy and those modules, and then forks one child per student when the grader asks (over the Unix socket
``CONTROL_FD``, which carries the child's three pipe ends). The zygote itself never runs student code.

Each child takes a session, a PID namespace (and, inside bubblewrap, a private ``/tmp``), confines itself
(``confine.py``), and only then reads the student's implementation cells from its pipe, runs them, and answers the
grader's requests until told to stop: look up a name, call something, get or set an attribute, import from the
sandbox's ``nnlib``. Arguments arrive and results leave as plain data (``plain.py``); objects stay here and the
grader gets handles to them. After each call, the arrays the grader sent (in this call or an earlier one) that
changed are sent back, so in-place updates (an optimiser's step) reach the grader. Nothing this process prints is
read by the grader except as text for the student's feedback.
"""

from __future__ import annotations

import json
import os
import sys
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import confine  # noqa: E402

plain = None  # imported by main(), once sys.path reaches numpy

MAX_TRACEBACK = 4000


class Worker:
    def __init__(self, rfd: int, wfd: int):
        self.rfd, self.wfd = rfd, wfd
        self.objects: dict[int, object] = {}  # handle id -> object
        self.arrays: dict[int, object] = {}  # grader's array key -> the array here
        self.synced: dict[int, bytes] = {}  # key -> its bytes when last synced with the grader
        self.shapes: dict[int, tuple] = {}
        self.rngs: list = []
        self.namespace = {"__name__": "__submission__", "__builtins__": __builtins__}

    # --- encoding ----------------------------------------------------------------------------------------
    def _handle_node(self, obj):
        import numpy as np

        if isinstance(obj, np.ndarray):  # a subclass (masked array, matrix, one whose __eq__ lies): refused
            raise plain.PlainError(f"only numpy.ndarray itself crosses, not {type(obj).__name__}")
        if isinstance(obj, (int, float, complex, str, bytes, list, tuple, dict)):  # subclasses of plain types
            raise plain.PlainError(f"only plain {type(obj).__mro__[1].__name__} values cross, not a subclass "
                                   f"{type(obj).__name__}")
        hid = id(obj)
        self.objects[hid] = obj
        return {"$t": "handle", "id": hid, "type": type(obj).__name__[:80], "call": callable(obj)}

    def encode(self, value):
        enc = plain.Encoder(on_other=self._handle_node)
        try:
            node = enc.encode(value)
        except plain.PlainError:
            raise
        except RecursionError:
            raise plain.PlainError("nested too deeply") from None
        return node, enc.blobs

    def decode(self, node, blobs):
        self.rngs = []

        def on_array(a, n):
            key = n.get("key")
            if type(key) is not int:
                return a
            old = self.arrays.get(key)
            if old is not None and old.shape == a.shape and old.dtype == a.dtype:
                old[...] = a
                a = old
            self.arrays[key] = a
            self.synced[key] = a.tobytes()
            self.shapes[key] = (a.shape, a.dtype.str)
            return a

        def on_handle(n):
            if n.get("id") not in self.objects:
                raise plain.PlainError("unknown handle")
            return self.objects[n["id"]]

        def on_callback(n):
            cid = n.get("id")
            return lambda *args, **kwargs: self.callback(cid, args, kwargs)

        dec = plain.Decoder(blobs, on_handle=on_handle, on_callback=on_callback, on_array=on_array)
        value = dec.decode(node)
        return value

    def changed_arrays(self):
        """The grader's arrays that changed here since they were last synced: [[key, array], ...]."""
        out = []
        for key, a in self.arrays.items():
            if (a.shape, a.dtype.str) != self.shapes[key]:
                continue  # reshaped in place: it no longer fits the grader's array; the change is lost
            data = a.tobytes()
            if data != self.synced[key]:
                self.synced[key] = data
                out.append([key, a])
        return out

    # --- messages ----------------------------------------------------------------------------------------
    def send(self, header, blobs=()):
        plain.send(self.wfd, header, blobs)

    def reply(self, re, ok, value=None, error=None):
        """Answer request `re`: the value (or the error) and every grader's array that changed."""
        try:
            node, blobs = self.encode([value, self.changed_arrays()])
        except plain.PlainError as err:
            ok, error = False, self.describe(TypeError(f"the grader cannot accept this value: {err}"))
            node, blobs = self.encode([None, []])
        self.send({"re": re, "ok": ok, "body": node, "error": error}, blobs)

    @staticmethod
    def describe(err) -> dict:
        """The student's exception as plain text: type, message and the frames in their own cells."""
        frames = [f for f in traceback.extract_tb(err.__traceback__) if f.filename.startswith("<submitted cell")]
        try:
            message = str(err)
        except Exception:  # noqa: BLE001 - a student's exception whose __str__ raises
            message = "(the exception's message could not be shown)"
        return {"type": type(err).__name__[:100], "message": message[:2000],
                "traceback": "".join(traceback.format_list(frames))[-MAX_TRACEBACK:]}

    def callback(self, cid, args, kwargs):
        """Call a function of the grader's (e.g. the function a numerical gradient differentiates)."""
        node, blobs = self.encode([list(args), kwargs])
        self.send({"op": "callback", "id": cid, "args": node}, blobs)
        while True:
            header, blobs = plain.receive(self.rfd)
            if header.get("op"):
                self.serve_one(header, blobs)  # a nested request from the grader while it runs the callback
                continue
            if header.get("ok"):
                return self.decode(header["body"], blobs)
            raise RuntimeError(f"the grader's function raised {header.get('error') or 'an error'}")

    def serve_one(self, header, blobs):
        re, op = header.get("id"), header.get("op")
        try:
            if op == "lookup":
                name = header["name"]
                if name not in self.namespace:
                    raise NameError(f"your notebook does not define {name!r}")
                return self.reply(re, True, self.namespace[name])
            if op == "lib":
                import importlib

                module, _, attr = header["path"].rpartition(".")
                if not module.split(".")[0] == "nnlib":
                    raise ImportError("only the sandbox's nnlib can be imported this way")
                return self.reply(re, True, getattr(importlib.import_module(module), attr))
            args = self.decode(header.get("args", [[], {}]), blobs)
            target = args[0]
            if op == "call":
                return self.reply(re, True, target(*args[1], **args[2]))
            if op == "getattr":
                return self.reply(re, True, getattr(target, args[1]))
            if op == "setattr":
                setattr(target, args[1], args[2])
                return self.reply(re, True, None)
            raise ValueError(f"unknown request {op!r}")
        except plain.PlainError as err:
            return self.reply(re, False, error=self.describe(TypeError(f"refused by the sandbox: {err}")))
        except BaseException as err:  # noqa: BLE001 - the student's code raised (even SystemExit): the answer
            return self.reply(re, False, error=self.describe(err))

    def run_cells(self, cells):
        errors = []
        import linecache

        for i, source in enumerate(cells):
            name = f"<submitted cell {i + 1}>"
            linecache.cache[name] = (len(source), None, source.splitlines(True), name)  # lines in tracebacks
            try:
                exec(compile(source, name, "exec"), self.namespace)
            except BaseException as err:  # noqa: BLE001 - reported, the next cells still run
                frames = [f for f in traceback.extract_tb(err.__traceback__)
                          if f.filename.startswith("<submitted cell")]
                where = f", line {frames[-1].lineno}" if frames else ""
                try:
                    message = str(err)[:500]
                except Exception:  # noqa: BLE001
                    message = ""
                errors.append(f"cell {i + 1}{where}: {type(err).__name__}: {message}")
        return errors

    def serve(self):
        while True:
            try:
                header, blobs = plain.receive(self.rfd)
            except plain.ChannelClosed:
                return
            if header.get("op") == "bye":
                return
            self.serve_one(header, blobs)


def serve_student(config: dict, rfd: int, wfd: int) -> None:
    """In the student's process (already confined): run the cells, say ready, answer requests until told to stop."""
    worker = Worker(rfd, wfd)
    errors = worker.run_cells(config["cells"])
    defined = sorted(k for k in worker.namespace if not k.startswith("_"))[:1000]
    worker.send({"op": "ready", "cell_errors": errors, "defined": defined})
    worker.serve()


def student(control_fds, settings: dict, rfd: int, wfd: int, out_fd: int) -> None:
    """The zygote's child for one student: its own session and, where it can, its own PID (and mount) namespace,
    whose first process only reaps; the student's process under it confines itself, then reads its cells."""
    for fd in control_fds:
        os.close(fd)
    confine.die_with_parent()
    os.setsid()
    os.dup2(out_fd, 1)
    os.dup2(out_fd, 2)
    os.close(out_fd)
    os.environ["NNLIB_TEACH_TOKEN"] = settings.get("token", "")
    if settings.get("private_tmp"):
        confine.private_tmp(int(settings.get("tmp_size", 16 << 20)))
    if confine.new_pid_namespace():
        if os.fork() != 0:  # this process stays outside; its child is pid 1 of the new namespace
            _, status = os.waitpid(-1, 0)
            os._exit(os.WEXITSTATUS(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status))
        confine.die_with_parent()  # pid 1 of the namespace: when it goes, everything in the namespace goes
        pid = os.fork()  # pid 1 only reaps: the student's code runs as pid 2, with ordinary signal semantics
        if pid != 0:
            while True:
                try:
                    done, status = os.waitpid(-1, 0)
                except ChildProcessError:
                    os._exit(0)
                if done == pid:  # the student's process ended: leaving kills the whole namespace
                    os._exit(os.WEXITSTATUS(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status))
    try:
        confine.confine(settings.get("confine", {}))
        header, blobs = plain.receive(rfd)
        serve_student(header["config"], rfd, wfd)
    except BaseException:  # noqa: BLE001 - whatever happened, this process must not return into the zygote's loop
        try:
            traceback.print_exc()
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(70)
    try:
        sys.stdout.flush()
    finally:
        os._exit(0)


def zygote(config: dict, control: int) -> None:
    """A chapter's template process: numpy and the chapter's allowed nnlib modules are imported once, then every
    student is a fork of it (fresh, with nothing of another student's). Requests come over the `control` Unix
    socket, each with the student's three pipe ends; the zygote answers with the child's pid and, later, its exit
    status. It runs no student code itself and ends when the grader closes the socket."""
    import importlib
    import socket
    import threading

    confine.die_with_parent()
    for name in config.get("preload", []):
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - a module that cannot be preloaded is imported by the student later
            pass
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET, fileno=control)
    lock = threading.Lock()
    children: dict[int, int] = {}  # pid -> request id

    def tell(message):
        with lock:
            sock.send(json.dumps(message).encode())

    def reap():
        while True:
            try:
                pid, status = os.waitpid(-1, 0)
            except ChildProcessError:
                if stop.wait(0.05):
                    return
                continue
            with lock:
                rid = children.pop(pid, None)
            if rid is not None:
                tell({"exited": rid, "status": os.waitstatus_to_exitcode(status)})

    stop = threading.Event()
    threading.Thread(target=reap, daemon=True).start()
    while True:
        try:
            data, fds, _, _ = socket.recv_fds(sock, 1 << 16, 3)
        except OSError:
            break
        if not data:
            break
        request = json.loads(data)
        if request.get("op") == "kill":  # the child's process group: it and pid 1 of its namespace
            for kill in (os.killpg, os.kill):
                try:
                    kill(request["pid"], 9)
                except OSError:
                    pass
            continue
        if len(fds) != 3:
            for fd in fds:
                os.close(fd)
            continue
        with lock:
            pid = os.fork()
            if pid == 0:
                student((control,), request["settings"], *fds)
            children[pid] = request["id"]
        for fd in fds:
            os.close(fd)
        tell({"spawned": request["id"], "pid": pid})
    stop.set()
    os._exit(0)


def main(argv):
    config, control = json.loads(argv[1]), int(argv[2])
    for path in config.get("sys_path", []):
        sys.path.append(path)
    sys.path.insert(0, config["lib"])
    global plain
    import plain as _plain  # numpy with it: imported before the student's code, the grader's arrays need it

    plain = _plain
    sys.path.remove(HERE)
    zygote(config, control)


if __name__ == "__main__":
    main(sys.argv)
