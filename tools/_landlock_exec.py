"""Restrict this process with Landlock (and seccomp), then exec the command.

Run as `python -I -S tools/_landlock_exec.py --workspace WS --tmp DIR --net MODE [--lib DIR]
-- argv...`; `--lib` names where `landlock`/`pyseccomp` live, since -S skips `site` (which
costs ~40 ms here through .pth files).
Landlock and seccomp are inherited across fork and exec and cannot be lifted, even by root, so
every process the command starts stays confined. Stand-alone on purpose: it is run by path in
isolated mode, so it imports nothing from this project (whose `tools/secrets.py` would shadow
the standard library module) and nothing from the workspace.

Exit status 126 with a message on stderr when the restrictions cannot be applied: the command
never runs unconfined by accident.
"""

from __future__ import annotations

import ctypes
import errno
import os
import sys

_CREATE_RULESET, _RESTRICT_SELF = 444, 446  # same number on every architecture
_NET_BIND_TCP, _NET_CONNECT_TCP = 1 << 0, 1 << 1
_SCOPE_ABSTRACT_UNIX_SOCKET, _SCOPE_SIGNAL = 1 << 0, 1 << 1
_AF_INET, _AF_INET6 = 2, 10  # Linux values; importing `socket` costs ~10 ms


class _RulesetAttr(ctypes.Structure):
    _fields_ = [
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),
        ("scoped", ctypes.c_uint64),
    ]


def _restrict_filesystem(workspace: str, tmp: str, writable: list[str]) -> int:
    from landlock import FSAccess, Ruleset, landlock_abi_version

    abi = int(landlock_abi_version())
    handled = FSAccess.all()
    ruleset = Ruleset(restrict_rules=handled)
    read = (
        FSAccess.READ_FILE | FSAccess.READ_DIR | FSAccess.EXECUTE | FSAccess.IOCTL_DEV
    ) & handled
    ruleset.allow("/", rules=read)
    # /dev/shm is shared with the host, but POSIX semaphores (multiprocessing) and PostgreSQL's
    # dynamic shared memory need it; without a mount namespace there is no private one.
    for path in (workspace, tmp, "/dev/shm", *writable):
        if os.path.isdir(path):
            ruleset.allow(path, rules=handled)
    ruleset.allow("/dev/null", rules=FSAccess.all_file() & handled)
    ruleset.apply()
    return abi


def _restrict_extras(abi: int, block_tcp: bool) -> None:
    """A second Landlock layer the package cannot express: TCP (ABI 4+), and scoping (ABI 6+)
    so the command can neither signal processes outside it nor reach abstract Unix sockets."""
    attr = _RulesetAttr()
    size = ctypes.sizeof(_RulesetAttr)
    if abi >= 6:
        attr.scoped = _SCOPE_ABSTRACT_UNIX_SOCKET | _SCOPE_SIGNAL
    elif abi >= 4:
        size = 16
    else:
        return
    if block_tcp:
        attr.handled_access_net = _NET_BIND_TCP | _NET_CONNECT_TCP
    if not attr.scoped and not attr.handled_access_net:
        return
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    fd = libc.syscall(_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(size), 0)
    if fd < 0:
        raise OSError(ctypes.get_errno(), "landlock_create_ruleset (net/scope)")
    try:
        if libc.syscall(_RESTRICT_SELF, ctypes.c_int(fd), 0) != 0:
            raise OSError(ctypes.get_errno(), "landlock_restrict_self (net/scope)")
    finally:
        os.close(fd)


def _block_inet() -> None:
    import pyseccomp

    refuse = pyseccomp.ERRNO(errno.EACCES)
    flt = pyseccomp.SyscallFilter(pyseccomp.ALLOW)
    for family in (_AF_INET, _AF_INET6):
        flt.add_rule(refuse, "socket", pyseccomp.Arg(0, pyseccomp.EQ, family))
    # io_uring can open sockets without the socket() syscall.
    flt.add_rule(pyseccomp.ERRNO(errno.ENOSYS), "io_uring_setup")
    flt.load()


def _parse(args: list[str]) -> tuple[dict[str, list[str]], list[str]]:
    """`--name value` pairs up to `--`, then the command (argparse alone costs ~8 ms)."""
    opts: dict[str, list[str]] = {"workspace": [], "tmp": [], "net": [], "lib": [], "writable": []}
    i = 0
    while i < len(args) and args[i] != "--":
        name = args[i].removeprefix("--")
        if name not in opts or i + 1 >= len(args):
            raise SystemExit(f"_landlock_exec: bad argument {args[i]!r}")
        opts[name].append(args[i + 1])
        i += 2
    argv = args[i + 1 :]
    if not argv or len(opts["workspace"]) != 1 or len(opts["tmp"]) != 1:
        raise SystemExit("usage: _landlock_exec --workspace WS --tmp DIR [--net MODE] -- argv...")
    return opts, argv


def main(args: list[str]) -> int:
    opts, argv = _parse(args)
    workspace, tmp = opts["workspace"][0], opts["tmp"][0]
    net = opts["net"][-1] if opts["net"] else "allow"
    sys.path[:0] = opts["lib"]
    try:
        abi = _restrict_filesystem(workspace, tmp, opts["writable"])
        _restrict_extras(abi, block_tcp=net in ("seccomp", "landlock-tcp"))
        if net == "seccomp":
            _block_inet()
    except Exception as exc:
        print(f"sandbox: cannot restrict the command: {exc}", file=sys.stderr)
        return 126
    for name in ("HOME", "TMPDIR", "TMP", "TEMP", "XDG_RUNTIME_DIR"):
        os.environ[name] = tmp
    try:
        os.execvp(argv[0], argv)
    except OSError as exc:
        print(f"sandbox: cannot run {argv[0]}: {exc.strerror}", file=sys.stderr)
        return 127 if exc.errno == errno.ENOENT else 126


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
