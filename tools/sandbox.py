"""Confining a model-requested command: where it may write, whether it reaches the network, and
that none of its processes outlive it.

Three implementations behind one small protocol:
- `BubblewrapSandbox`: mount, PID, network and user namespaces (the preferred one).
- `LandlockSandbox`: for hosts where bwrap cannot start (Ubuntu 24.04 blocks unprivileged user
  namespaces); Landlock for the filesystem, seccomp for the network, no PID namespace.
- `NoSandbox`: only when the user asks for it.
`detect()` picks one and says why, for `backend-agent doctor`.
"""

from __future__ import annotations

import functools
import os
import pwd
import shutil
import stat
import subprocess
import sys
import tempfile
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

# Paths inside the workspace that code run later *outside* the sandbox would trust: a hook or a
# `core.hooksPath`/`core.fsmonitor` setting written by the model would run on the next commit.
DEFAULT_READONLY_INSIDE: tuple[str, ...] = (".git/hooks", ".git/config")
LAUNCHER = Path(__file__).with_name("_landlock_exec.py")
FORWARDER = Path(__file__).with_name("_tcp_forward.py")
# Set (to anything but "" or "0") to make `detect()` act as if bubblewrap were not installed:
# how CI tests the Landlock fallback on a machine that has bubblewrap.
HIDE_BWRAP_VAR = "BACKEND_AGENT_HIDE_BWRAP"
_PROBE_TIMEOUT = 15.0
# Kernel knobs in a fresh /proc that check file ownership rather than capabilities. As root the
# sandbox uid maps to host uid 0, so /proc/sys/kernel/core_pattern would be writable there: a
# host escape. bwrap's own cover of these is skipped when run as root, so cover them here.
_PROC_COVER = ("sys", "sysrq-trigger", "mtrr", "pressure")


class SandboxError(RuntimeError):
    """The requested sandbox cannot work here; the message is one line for the user."""


class Guard(Protocol):
    def restore(self) -> list[str]:
        """Undo changes to protected paths made during a command; one note per restored path."""
        ...


class Sandbox(Protocol):
    name: str
    # True when killing the wrapper process ends every descendant (a PID namespace), so the
    # runner need not hunt for processes that left its process group.
    contains_processes: bool
    # True when a command can reach a server on 127.0.0.1 (the test database's port).
    loopback_tcp: bool

    def wrap(self, argv: Sequence[str], workspace: Path) -> list[str]: ...

    def guard(self, workspace: Path) -> Guard:
        """Called before each command; `restore()` after it."""
        ...


class _NoGuard:
    def restore(self) -> list[str]:
        return []


NO_GUARD: Guard = _NoGuard()


def _uid_gid() -> tuple[int, int]:
    """A non-root identity inside the sandbox: root there would be a step closer to escaping."""
    if os.getuid() != 0:
        return os.getuid(), os.getgid()
    return 1000, 1000


class BubblewrapSandbox:
    """Whole filesystem read-only, the workspace writable (minus its git hooks and config), a
    private /tmp, no network unless asked, all capabilities dropped, its own PID namespace.

    As root, `--cap-drop ALL` and `--unshare-user` are what stop `mount -o remount,rw /`. The
    sandbox uid then maps to host uid 0, so whatever checks only file ownership is dangerous:
    the fresh /proc's sysctls (`kernel.core_pattern`!) are covered read-only here."""

    name = "bubblewrap"
    contains_processes = True
    loopback_tcp = True

    def __init__(
        self,
        network: bool = False,
        writable: Sequence[Path] = (),
        readonly_inside: Sequence[str] = DEFAULT_READONLY_INSIDE,
        bwrap: str = "bwrap",
        visible: Sequence[Path] = (),
        forward: tuple[int, Path] | None = None,
        hidden: Sequence[Path] = (),
    ) -> None:
        self.network = network
        self.writable = tuple(Path(p) for p in writable)
        self.readonly_inside = tuple(readonly_inside)
        self.bwrap = bwrap
        # Read-only inside although under the private /tmp: a venv with the interpreter and
        # the tools the checks run, wherever it is installed.
        self.visible = _under_tmp([*visible, *([FORWARDER] if forward else [])])
        # (port, unix socket): 127.0.0.1:port inside the sandbox's own network namespace leads
        # to the socket. With the host's network the server's own port is reached directly.
        self.forward = None if network else forward
        # Covered by an empty directory (or file) inside, after the binds above: what commands
        # must not read, such as an eval suite's hidden tests and reference solutions.
        self.hidden = tuple(Path(p).resolve() for p in hidden if Path(p).exists())
        self.uid, self.gid = _uid_gid()
        self._identity: list[str] | None = None

    def wrap(self, argv: Sequence[str], workspace: Path) -> list[str]:
        ws = Path(workspace).resolve()
        args = [self.bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
        for name in _PROC_COVER:
            if Path("/proc", name).exists():
                args += ["--ro-bind", f"/proc/{name}", f"/proc/{name}"]
        args += ["--tmpfs", "/tmp"]  # before any bind under /tmp, or it would hide it
        args += ["--perms", "0700", "--dir", "/tmp/.run"]  # XDG_RUNTIME_DIR must be private
        for path in self.visible:
            args += ["--ro-bind", str(path), str(path)]
        for path in self.hidden:
            cover = ["--tmpfs"] if path.is_dir() else ["--ro-bind", "/dev/null"]
            args += [*cover, str(path)]
        args += self._identity_binds()
        for path in self.writable:
            if path.exists():
                args += ["--bind", str(path.resolve()), str(path.resolve())]
        args += ["--bind", str(ws), str(ws)]
        git_dir = ws / ".git"
        if git_dir.is_dir() and not (git_dir / "hooks").exists():
            # An absent hooks dir would be writable; an empty one bound read-only is not.
            (git_dir / "hooks").mkdir(exist_ok=True)
        for rel in self.readonly_inside:
            inner = ws / rel
            if inner.exists():
                args += ["--ro-bind", str(inner), str(inner)]
        args += ["--unshare-all"]
        if self.network:
            args += ["--share-net"]
        args += ["--unshare-user", "--disable-userns"]
        args += ["--uid", str(self.uid), "--gid", str(self.gid), "--cap-drop", "ALL"]
        args += ["--die-with-parent", "--new-session"]
        args += ["--setenv", "HOME", "/tmp", "--setenv", "TMPDIR", "/tmp"]
        args += ["--setenv", "XDG_RUNTIME_DIR", "/tmp/.run"]
        if self.forward is not None:
            port, socket_path = self.forward
            forwarder = [sys.executable, "-I", "-S", str(FORWARDER), str(port), str(socket_path)]
            argv = [*forwarder, "--", *argv]
        args += ["--chdir", str(ws), "--", *argv]
        return args

    def guard(self, workspace: Path) -> Guard:
        return NO_GUARD

    def _identity_binds(self) -> list[str]:
        """Give the sandbox uid a passwd/group entry when the host has none: initdb, getpass
        and ssh-less git all look the user up and fail on an unknown uid."""
        if self._identity is not None:
            return self._identity
        self._identity = []
        try:
            pwd.getpwuid(self.uid)
            return self._identity
        except KeyError:
            pass
        state = Path(tempfile.mkdtemp(prefix="backend-agent-ids-"))
        weakref.finalize(self, shutil.rmtree, state, True)
        for name, line in (
            ("passwd", f"agent:x:{self.uid}:{self.gid}:agent:/tmp:/bin/sh\n"),
            ("group", f"agent:x:{self.gid}:\n"),
        ):
            try:
                original = Path("/etc", name).read_text()
            except OSError:
                original = ""
            if original and not original.endswith("\n"):
                original += "\n"
            (state / name).write_text(original + line)
            self._identity += ["--ro-bind", str(state / name), f"/etc/{name}"]
        return self._identity


class LandlockSandbox:
    """Fallback without namespaces: Landlock lets the command read everything but write only the
    workspace, a private temp dir, /dev/null and /dev/shm (shared with the host: multiprocessing
    and PostgreSQL need it); seccomp refuses AF_INET/AF_INET6 sockets (so loopback TCP too:
    a test database must listen on a Unix socket, as pgserver does).

    Landlock cannot carve a read-only hole in a writable tree, so the protected paths inside the
    workspace (.git/hooks, .git/config) are snapshotted before each command and put back after
    it. Without a PID namespace the runner has to find stray processes itself."""

    name = "landlock"
    contains_processes = False

    @property
    def loopback_tcp(self) -> bool:
        return self.net_filter in ("allow", "none")

    def __init__(
        self,
        network: bool = False,
        writable: Sequence[Path] = (),
        readonly_inside: Sequence[str] = DEFAULT_READONLY_INSIDE,
    ) -> None:
        self.network = network
        self.writable = tuple(Path(p) for p in writable)
        self.readonly_inside = tuple(readonly_inside)
        self.net_filter = "allow" if network else _network_filter()
        self._tmp: Path | None = None

    @property
    def tmp_dir(self) -> Path:
        if self._tmp is None:
            self._tmp = Path(tempfile.mkdtemp(prefix="backend-agent-sbx-"))
            weakref.finalize(self, shutil.rmtree, self._tmp, True)
        return self._tmp

    def wrap(self, argv: Sequence[str], workspace: Path) -> list[str]:
        # -I: neither the workspace (cwd) nor tools/ (which holds a `secrets.py`) on sys.path;
        # -S: no `site` (slow .pth files), the launcher is told where its two packages live.
        args = [sys.executable, "-I", "-S", str(LAUNCHER)]
        args += ["--workspace", str(Path(workspace).resolve()), "--tmp", str(self.tmp_dir)]
        args += ["--net", self.net_filter]
        for lib in _launcher_libs():
            args += ["--lib", lib]
        for path in self.writable:
            args += ["--writable", str(path)]
        return [*args, "--", *argv]

    def guard(self, workspace: Path) -> Guard:
        return Snapshot(Path(workspace).resolve(), self.readonly_inside)

    def describe(self) -> str:
        abi = landlock_abi()
        net = {
            "allow": "network allowed",
            "seccomp": "seccomp",
            "landlock-tcp": "TCP blocked by Landlock (UDP not restricted: no pyseccomp)",
            "none": "network NOT restricted (no pyseccomp, Landlock ABI < 4)",
        }[self.net_filter]
        return f"Landlock ABI {abi} + {net}"


class NoSandbox:
    """No confinement at all; the runner still kills the command's process group on timeout."""

    name = "off"
    contains_processes = False
    loopback_tcp = True

    def wrap(self, argv: Sequence[str], workspace: Path) -> list[str]:
        return list(argv)

    def guard(self, workspace: Path) -> Guard:
        return NO_GUARD


# --- protected paths for sandboxes that cannot make them read-only ---------------------------

_SNAPSHOT_LIMIT = 16 * 1024 * 1024


@dataclass(frozen=True)
class _Entry:
    kind: str  # "file" | "dir" | "link"
    mode: int
    data: bytes = b""


def _capture(path: Path, budget: list[int]) -> dict[str, _Entry] | None:
    """Everything at and below `path` (not following symlinks); None when over the budget."""
    found: dict[str, _Entry] = {}
    stack = [path]
    while stack:
        current = stack.pop()
        try:
            st = current.lstat()
        except FileNotFoundError:
            continue
        rel = os.path.relpath(current, path)
        mode = stat.S_IMODE(st.st_mode)
        if stat.S_ISLNK(st.st_mode):
            found[rel] = _Entry("link", mode, os.fsencode(os.readlink(current)))
        elif stat.S_ISDIR(st.st_mode):
            found[rel] = _Entry("dir", mode)
            stack.extend(current.iterdir())
        elif stat.S_ISREG(st.st_mode):
            budget[0] -= st.st_size
            if budget[0] < 0:
                return None
            found[rel] = _Entry("file", mode, current.read_bytes())
    return found


def _remove(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()


def _rebuild(path: Path, entries: dict[str, _Entry]) -> None:
    _remove(path)
    order = sorted(entries, key=lambda r: (r != ".", r.count(os.sep), r))
    for rel in order:
        entry = entries[rel]
        target = path if rel == "." else path / rel
        if entry.kind == "dir":
            target.mkdir()
        elif entry.kind == "link":
            os.symlink(os.fsdecode(entry.data), target)
        else:
            target.write_bytes(entry.data)
            os.chmod(target, entry.mode)
    for rel in reversed(order):  # directory modes last: a read-only dir would refuse children
        if entries[rel].kind == "dir":
            os.chmod(path if rel == "." else path / rel, entries[rel].mode)


class Snapshot:
    """Contents of protected paths before a command, to put back what the command changed."""

    def __init__(self, root: Path, relative: Sequence[str]) -> None:
        self._saved: list[tuple[str, Path, dict[str, _Entry]]] = []
        budget = [_SNAPSHOT_LIMIT]
        for rel in relative:
            entries = _capture(root / rel, budget)
            if entries is not None:  # over the budget: not protected (documented weakness)
                self._saved.append((rel, root / rel, entries))

    def restore(self) -> list[str]:
        notes = []
        for rel, path, before in self._saved:
            if _capture(path, [_SNAPSHOT_LIMIT]) == before:
                continue
            _rebuild(path, before)
            notes.append(f"[sandbox: {rel} is read-only; the command's changes to it were undone]")
        return notes


# --- detection -------------------------------------------------------------------------------


def landlock_abi() -> int:
    """The kernel's Landlock ABI version; raises SandboxError when unusable."""
    try:
        import landlock
    except ImportError as exc:
        raise SandboxError("the `landlock` Python package is not installed") from exc
    try:
        return int(landlock.landlock_abi_version())
    except OSError as exc:
        raise SandboxError(f"Landlock is not available: {exc.strerror or exc}") from exc


@functools.cache
def _launcher_libs() -> tuple[str, ...]:
    """The directories holding `landlock` and `pyseccomp`, for the launcher's sys.path."""
    import importlib.util

    found: list[str] = []
    for name in ("landlock", "pyseccomp"):
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            continue
        origin = Path(spec.origin)
        top = origin.parent.parent if origin.name == "__init__.py" else origin.parent
        if str(top) not in found:
            found.append(str(top))
    return tuple(found)


@functools.cache
def _network_filter() -> str:
    try:
        import pyseccomp  # noqa: F401
    except (ImportError, OSError):
        pass
    else:
        return "seccomp"
    try:
        return "landlock-tcp" if landlock_abi() >= 4 else "none"
    except SandboxError:
        return "none"


def _under_tmp(paths: Sequence[Path]) -> tuple[Path, ...]:
    """The existing paths that the sandbox's private /tmp would hide, outermost only."""
    found = sorted({Path(os.path.realpath(p)) for p in paths if Path(p).exists()})
    found = [p for p in found if p.is_relative_to("/tmp") and p != Path("/tmp")]
    return tuple(p for p in found if not any(p != q and p.is_relative_to(q) for q in found))


def _first_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else "no error message"


def _run_probe(argv: list[str]) -> tuple[bool, str]:
    try:
        done = subprocess.run(
            argv,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=_PROBE_TIMEOUT,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, str(exc)
    if done.returncode != 0:
        return False, _first_line(done.stderr + done.stdout)
    return True, ""


def probe_bwrap(bwrap: str = "bwrap") -> tuple[bool, str]:
    """(works, version or error) from really running the full profile once per process."""
    if os.environ.get(HIDE_BWRAP_VAR, "") not in ("", "0"):
        return False, f"{bwrap} not found"  # as if not installed: see HIDE_BWRAP_VAR
    return _probe_bwrap(bwrap)


@functools.cache
def _probe_bwrap(bwrap: str) -> tuple[bool, str]:
    if shutil.which(bwrap) is None:
        return False, f"{bwrap} not found"
    try:
        version = subprocess.run(
            [bwrap, "--version"], capture_output=True, text=True, timeout=_PROBE_TIMEOUT
        ).stdout.strip()
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, str(exc)
    with tempfile.TemporaryDirectory(prefix="backend-agent-probe-") as tmp:
        ok, error = _run_probe(BubblewrapSandbox(bwrap=bwrap).wrap(["true"], Path(tmp)))
    return (True, version or "bubblewrap") if ok else (False, error)


@functools.cache
def probe_landlock() -> tuple[bool, str]:
    """(works, "ABI n" or error) from really running the launcher once per process."""
    try:
        abi = landlock_abi()
    except SandboxError as exc:
        return False, str(exc)
    with tempfile.TemporaryDirectory(prefix="backend-agent-probe-") as tmp:
        sandbox = LandlockSandbox()
        ok, error = _run_probe(sandbox.wrap(["true"], Path(tmp)))
    return (True, f"ABI {abi}") if ok else (False, error)


def detect(
    network: bool = False,
    mode: str = "auto",
    writable: Sequence[Path] = (),
    readonly_inside: Sequence[str] = DEFAULT_READONLY_INSIDE,
    bwrap: str = "bwrap",
    visible: Sequence[Path] = (),
    forward: tuple[int, Path] | None = None,
    hidden: Sequence[Path] = (),
) -> tuple[Sandbox, str]:
    """The sandbox to use and one line saying why. An explicit mode that cannot work raises
    `SandboxError`; "auto" tries bubblewrap for real, then Landlock, and never silently runs
    unconfined."""
    if mode == "off":
        return NoSandbox(), "sandbox off (asked for): commands run unconfined"
    if mode not in ("auto", "bwrap", "landlock"):
        raise SandboxError(f"unknown sandbox mode {mode!r}; use auto, bwrap, landlock or off")
    bwrap_error = ""
    if mode in ("auto", "bwrap"):
        ok, info = probe_bwrap(bwrap)
        if ok:
            net = ", network allowed" if network else ""
            return (
                BubblewrapSandbox(
                    network, writable, readonly_inside, bwrap, visible, forward, hidden
                ),
                f"{info}: works{net}",
            )
        if mode == "bwrap":
            raise SandboxError(f"bubblewrap cannot start: {info}")
        bwrap_error = f"bubblewrap failed: {info}; "
    ok, info = probe_landlock()
    if not ok:
        raise SandboxError(
            f"{bwrap_error}Landlock failed: {info}; no sandbox available (use mode 'off' to run "
            "commands unconfined)"
        )
    sandbox = LandlockSandbox(network, writable, readonly_inside)
    return sandbox, f"{bwrap_error}using {sandbox.describe()}"
