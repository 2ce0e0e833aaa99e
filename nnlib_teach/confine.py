"""What the student's process does to itself before it reads a line of the student's code (runs in the sandbox).

The grader starts the process; this code, still trusted, then takes away what the student's code must not have,
in an order that cannot be undone by an unprivileged process:

1. ``resource`` limits: CPU seconds, address space, file size, open files, processes, no core dumps;
2. when the process is root, a fresh, unused user id (inside bubblewrap, where the system is mounted read-only and
   nothing of the teacher's is visible) or, outside bubblewrap, no capabilities at all (empty bounding, inheritable,
   effective and permitted sets): root without capabilities can no longer raise a hard limit;
3. ``PR_SET_NO_NEW_PRIVS``: no set-uid program or file capability can give anything back;
4. outside bubblewrap, Landlock (Linux ≥ 5.13) when the kernel has it: read-only access to the Python installation,
   the libraries and the sandbox folder, write access to nothing but ``/dev/null``, no TCP, no abstract Unix
   sockets, no signals to processes outside the sandbox.

Linux only (the grader's other levels are for other systems). Uses ctypes for the three system calls that Python
does not wrap (capset, prctl, landlock); their constants are from the kernel's uapi headers.
"""

from __future__ import annotations

import ctypes
import os
import resource

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long
_libc.prctl.restype = ctypes.c_int

PR_SET_NO_NEW_PRIVS, PR_CAPBSET_DROP, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL = 38, 24, 47, 4
SYS_CAPSET = 126  # x86_64
SYS_LANDLOCK_CREATE_RULESET, SYS_LANDLOCK_ADD_RULE, SYS_LANDLOCK_RESTRICT_SELF = 444, 445, 446
LANDLOCK_CREATE_RULESET_VERSION = 1
LANDLOCK_RULE_PATH_BENEATH, LANDLOCK_RULE_NET_PORT = 1, 2

# Filesystem access rights by ABI version (include/uapi/linux/landlock.h)
FS_EXECUTE, FS_WRITE_FILE, FS_READ_FILE, FS_READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
FS_ALL_V1 = (1 << 13) - 1
FS_REFER, FS_TRUNCATE, FS_IOCTL_DEV = 1 << 13, 1 << 14, 1 << 15
NET_BIND_TCP, NET_CONNECT_TCP = 1 << 0, 1 << 1
SCOPE_ABSTRACT_UNIX_SOCKET, SCOPE_SIGNAL = 1 << 0, 1 << 1
READ = FS_EXECUTE | FS_READ_FILE | FS_READ_DIR


class ConfineError(RuntimeError):
    """A restriction could not be applied: the student's code must not run."""


def _check(result, what):
    if result < 0:
        err = ctypes.get_errno()
        raise ConfineError(f"{what}: {os.strerror(err)}")
    return result


def set_limits(limits: dict) -> None:
    """Apply resource limits, soft = hard (an unprivileged process can only lower them later)."""
    names = {"cpu": resource.RLIMIT_CPU, "address_space": resource.RLIMIT_AS, "file_size": resource.RLIMIT_FSIZE,
             "open_files": resource.RLIMIT_NOFILE, "processes": resource.RLIMIT_NPROC, "core": resource.RLIMIT_CORE}
    for key, value in limits.items():
        if value is None:
            continue
        which = names[key]
        if key == "cpu":  # SIGXCPU at the soft limit, SIGKILL a little later
            resource.setrlimit(which, (int(value), int(value) + 2))
        else:
            resource.setrlimit(which, (int(value), int(value)))


def drop_capabilities() -> None:
    """Empty every capability set of this process (it stays uid 0 but can no longer bypass anything)."""
    for cap in range(64):
        if _libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 and ctypes.get_errno() != 22:  # EINVAL: no such cap
            _check(-1, f"dropping capability {cap} from the bounding set")
    _libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)

    class Header(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

    class Data(ctypes.Structure):
        _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]

    header, data = Header(0x20080522, 0), (Data * 2)()
    _check(_libc.syscall(SYS_CAPSET, ctypes.byref(header), ctypes.byref(data)), "capset")


def switch_user(uid: int) -> None:
    """Become `uid` (and group `uid`, no supplementary groups): all capabilities go with root."""
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)
    if os.getresuid() != (uid, uid, uid):
        raise ConfineError("could not change user")


def no_new_privileges() -> None:
    _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "PR_SET_NO_NEW_PRIVS")


def landlock_abi() -> int:
    """The kernel's Landlock ABI version, 0 if it has none."""
    try:
        v = _libc.syscall(SYS_LANDLOCK_CREATE_RULESET, None, ctypes.c_size_t(0), LANDLOCK_CREATE_RULESET_VERSION)
    except OSError:
        return 0
    return max(int(v), 0)


def landlock(read_paths, write_files=()) -> int:
    """Restrict this process and its children: read-only beneath `read_paths`, read-write on `write_files` (e.g.
    /dev/null), no other file access, no TCP, and (ABI ≥ 6) no signals or abstract sockets beyond the sandbox.
    Returns the ABI version used. Needs PR_SET_NO_NEW_PRIVS (or CAP_SYS_ADMIN)."""
    abi = landlock_abi()
    if abi < 1:
        raise ConfineError("this kernel has no Landlock")
    fs = FS_ALL_V1 | (FS_REFER if abi >= 2 else 0) | (FS_TRUNCATE if abi >= 3 else 0) | \
        (FS_IOCTL_DEV if abi >= 5 else 0)
    net = (NET_BIND_TCP | NET_CONNECT_TCP) if abi >= 4 else 0
    scoped = (SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL) if abi >= 6 else 0

    class Ruleset(ctypes.Structure):
        _fields_ = [("handled_access_fs", ctypes.c_uint64), ("handled_access_net", ctypes.c_uint64),
                    ("scoped", ctypes.c_uint64)]

    class PathBeneath(ctypes.Structure):
        _pack_ = 1
        _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]

    attr = Ruleset(fs, net, scoped)
    size = ctypes.sizeof(Ruleset) if abi >= 6 else (16 if abi >= 4 else 8)
    ruleset = _check(_libc.syscall(SYS_LANDLOCK_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(size), 0),
                     "landlock_create_ruleset")
    try:
        file_rights = FS_EXECUTE | FS_READ_FILE | FS_WRITE_FILE | (FS_TRUNCATE if abi >= 3 else 0)
        for path, rights in [(p, READ) for p in read_paths] + [(p, file_rights) for p in write_files]:
            try:
                fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
            except OSError:
                continue  # a path this system does not have
            try:
                if not os.path.isdir(path):
                    rights &= FS_EXECUTE | FS_READ_FILE | FS_WRITE_FILE | FS_TRUNCATE | FS_IOCTL_DEV
                rule = PathBeneath(rights & fs, fd)
                _check(_libc.syscall(SYS_LANDLOCK_ADD_RULE, ruleset, LANDLOCK_RULE_PATH_BENEATH,
                                     ctypes.byref(rule), 0), f"landlock_add_rule {path}")
            finally:
                os.close(fd)
        _check(_libc.syscall(SYS_LANDLOCK_RESTRICT_SELF, ruleset, 0), "landlock_restrict_self")
    finally:
        os.close(ruleset)
    return abi


CLONE_NEWNS, CLONE_NEWPID, CLONE_NEWIPC = 0x00020000, 0x20000000, 0x08000000
MS_NOSUID, MS_NODEV, MS_REC, MS_PRIVATE = 2, 4, 1 << 14, 1 << 18


PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """SIGKILL this process when its parent ends (the zygote with the grader, a student with the zygote)."""
    _libc.prctl(PR_SET_PDEATHSIG, 9, 0, 0, 0)


def new_pid_namespace() -> bool:
    """Put this process's future children in a new PID namespace (and IPC namespace); False if not permitted.
    When the namespace's first process ends, the kernel kills every process left in it."""
    if _libc.unshare(CLONE_NEWPID | CLONE_NEWIPC) == 0:
        return True
    return _libc.unshare(CLONE_NEWPID) == 0


def private_tmp(size: int) -> None:
    """A mount namespace of this process's own, with an empty tmpfs of `size` bytes on /tmp (needs root)."""
    _check(_libc.unshare(CLONE_NEWNS), "unshare(CLONE_NEWNS)")
    _check(_libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None), "making / private")
    _check(_libc.mount(b"tmpfs", b"/tmp", b"tmpfs", MS_NOSUID | MS_NODEV, f"size={size},mode=1777".encode()),
           "mounting /tmp")
    os.chdir("/tmp")  # the working folder: the new, empty /tmp


def confine(settings: dict) -> dict:
    """Apply everything `settings` asks for, in the safe order; returns what was applied (for the report)."""
    applied = {}
    set_limits(settings.get("limits", {}))
    applied["limits"] = True
    if os.geteuid() == 0:
        uid = settings.get("uid")
        if uid is not None:
            switch_user(int(uid))
            applied["uid"] = int(uid)
        else:
            drop_capabilities()
            applied["capabilities"] = "none"
    no_new_privileges()
    ll = settings.get("landlock")
    if ll:
        applied["landlock"] = landlock(ll["read"], ll.get("write", ()))
    return applied
