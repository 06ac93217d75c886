"""Running one shell command: sandboxed, time-limited, with output capped while it is read."""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import subprocess
import sys
import time
import uuid
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from tools._reaper import MARKER_VAR, kill_cgroup, kill_marked
from tools.templating import render_block

if TYPE_CHECKING:
    from tools.sandbox import Sandbox
    from tools.secrets import Redactor


@dataclass(frozen=True)
class CommandResult:
    command: str
    exit_code: int | None  # None when the command was killed on timeout
    output: str  # stdout and stderr interleaved as they came, capped to head + tail
    timed_out: bool = False
    duration: float = 0.0
    omitted_bytes: int = 0  # how much of the middle was dropped by the cap


class Executor(Protocol):
    def run(self, command: str, cwd: Path, timeout: float) -> CommandResult: ...


# Every process of a command inherits MARKER_VAR; it is how stray processes are found when no
# PID namespace contains them.
REAPER = Path(__file__).with_name("_reaper.py")
_CHUNK = 64 * 1024
_POLL = 0.1  # how often a silent command is checked for having exited
_LINGER = 0.2  # output still accepted from background processes after the command exited
_DRAIN = 0.5  # reading what is left after a kill
MESSAGES = "process_messages.md"


def _say(message: str, **context: Any) -> str:
    """A note from `templates/process_messages.md`, where every word of it lives."""
    return render_block(MESSAGES, message, **context)


class _CappedOutput:
    """Keeps the first `half` bytes and a rolling last `half` bytes: memory stays bounded
    however much the command prints."""

    def __init__(self, limit: int) -> None:
        self.half = max(limit // 2, 1)
        self.head = bytearray()
        self.tail = bytearray()
        self.total = 0

    def feed(self, data: bytes) -> None:
        self.total += len(data)
        room = self.half - len(self.head)
        if room > 0:
            self.head += data[:room]
            data = data[room:]
        if data:
            self.tail += data
            if len(self.tail) > 2 * self.half:
                del self.tail[: len(self.tail) - self.half]

    def render(self) -> tuple[str, int]:
        tail = bytes(self.tail[-self.half :])
        omitted = self.total - len(self.head) - len(tail)
        if omitted <= 0:
            return (bytes(self.head) + tail).decode("utf-8", "replace"), 0
        head = _cut_incomplete_end(bytes(self.head)).decode("utf-8", "replace")
        rest = _cut_partial_start(tail).decode("utf-8", "replace")
        sep = "" if head.endswith("\n") else "\n"
        return f"{head}{sep}{_say('omitted', omitted=omitted)}\n{rest}", omitted


def _cut_incomplete_end(data: bytes) -> bytes:
    """Drop a UTF-8 sequence cut short by the cap, rather than show a replacement character."""
    for back in range(1, min(4, len(data)) + 1):
        byte = data[-back]
        if byte < 0x80:
            return data
        if byte >= 0xC0:  # lead byte: is its sequence complete?
            need = 2 if byte < 0xE0 else 3 if byte < 0xF0 else 4
            return data if back >= need else data[:-back]
    return data


def _cut_partial_start(data: bytes) -> bytes:
    skip = 0
    while skip < min(3, len(data)) and 0x80 <= data[skip] < 0xC0:
        skip += 1
    return data[skip:]


def _exit_code(returncode: int) -> int:
    """Shell convention: killed by signal N reads as 128+N, as the model knows it from bash."""
    return 128 - returncode if returncode < 0 else returncode


def _own_pids_cgroup() -> tuple[Path, int] | None:
    """This process's cgroup directory in a hierarchy with the pids controller, and the cgroup
    version (1 or 2); None when there is none mounted."""
    v1_mount = v2_mount = None
    with open("/proc/self/mounts") as fh:
        for line in fh:
            fields = line.split()
            if len(fields) < 4:
                continue
            if fields[2] == "cgroup" and "pids" in fields[3].split(","):
                v1_mount = Path(fields[1])
            elif fields[2] == "cgroup2" and v2_mount is None:
                v2_mount = Path(fields[1])
    with open("/proc/self/cgroup") as fh:
        for line in fh:
            _, controllers, path = line.rstrip("\n").split(":", 2)
            rel = path.lstrip("/")
            if v1_mount is not None and "pids" in controllers.split(","):
                return v1_mount / rel, 1
            if v1_mount is None and v2_mount is not None and controllers == "":
                return v2_mount / rel, 2
    return None


class ProcessLimit:
    """One pids cgroup per command, under a directory of this runner's own.

    It caps how many processes and threads a command may have (a fork bomb gets EAGAIN instead
    of filling the host's PID table, which a PID namespace does not prevent), and it lists every
    process of the command, setsid or not, so all of them can be killed. Needs a writable pids
    cgroup (root, or a delegated cgroup v2 subtree); `create` returns None otherwise."""

    def __init__(self, base: Path, version: int, max_pids: int) -> None:
        self.base = base
        self.version = version
        self.max_pids = max_pids
        self._pending: list[Path] = []
        self._finalizer = weakref.finalize(self, _remove_cgroups, base)

    @classmethod
    def create(cls, max_pids: int) -> ProcessLimit | None:
        found = _own_pids_cgroup()
        if found is None:
            return None
        own, version = found
        _remove_stale(own)
        base = own / f"backend-agent-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        try:
            if version == 2:
                with contextlib.suppress(OSError):  # fails in a non-root cgroup with processes
                    (own / "cgroup.subtree_control").write_text("+pids")
            base.mkdir()
        except OSError:
            return None
        limit = cls(base, version, max_pids)
        try:
            if version == 2:
                (base / "cgroup.subtree_control").write_text("+pids")
            probe = limit.new_group()
            limit.release(probe)
        except OSError:
            limit.close()
            return None
        return limit

    def new_group(self) -> Path:
        self._sweep()
        group = self.base / uuid.uuid4().hex[:12]
        group.mkdir()
        (group / "pids.max").write_text(str(self.max_pids))
        return group

    @staticmethod
    def wrap(argv: list[str], group: Path) -> list[str]:
        """Join the group *before* exec, so no child is ever forked outside it."""
        script = 'echo $$ > "$0" && exec "$@"'
        return ["/bin/sh", "-c", script, str(group / "cgroup.procs"), *argv]

    def kill(self, group: Path) -> None:
        kill_cgroup(group, self.version)

    def release(self, group: Path) -> None:
        """Kill what is left and remove the group. Processes of a dead PID namespace take a few
        ms to leave it; rather than wait, a busy group is removed at the next command."""
        self.kill(group)
        self._pending.append(group)
        self._sweep()

    def _sweep(self) -> None:
        still = []
        for group in self._pending:
            try:
                group.rmdir()
            except FileNotFoundError:
                pass
            except OSError:
                still.append(group)
        self._pending = still

    def close(self) -> None:
        self._finalizer()


def _stop_reaper(reaper: subprocess.Popen[bytes]) -> None:
    """Close the reaper's pipe: with no command running it just exits, and is waited for."""
    with contextlib.suppress(OSError):
        if reaper.stdin is not None:
            reaper.stdin.close()
    with contextlib.suppress(subprocess.TimeoutExpired):
        reaper.wait(timeout=5)


def _remove_stale(own: Path) -> None:
    """Empty cgroups left by runners that were SIGKILLed (their finalizer never ran)."""
    with contextlib.suppress(OSError):
        for base in own.glob("backend-agent-*-*"):
            pid = base.name.split("-")[2]
            if pid.isdigit() and not Path("/proc", pid).exists():
                _remove_group_tree(base)


def _remove_cgroups(base: Path) -> None:
    """Our own cgroups; a group is busy for a moment after its last process exits."""
    for _ in range(100):
        if not base.exists() or _remove_group_tree(base):
            return
        time.sleep(0.01)


def _remove_group_tree(base: Path) -> bool:
    """Remove the per-command groups, then `base`; True when `base` is gone."""
    with contextlib.suppress(OSError):
        for group in base.iterdir():
            if group.is_dir():
                with contextlib.suppress(OSError):
                    group.rmdir()
    try:
        base.rmdir()
    except OSError:
        return False
    return True


class CommandRunner:
    """`Executor` that runs `bash -c COMMAND` inside a sandbox.

    stdin is /dev/null (a command waiting for input gets EOF at once), stdout and stderr share
    one pipe, and the command gets its own session and process group. A command's processes do
    not outlive it: on timeout, on interrupt, and also when it exits leaving background jobs.
    - With a sandbox that has a PID namespace (bubblewrap), killing the group kills bwrap and
      the namespace with it, including processes that called setsid or double-forked.
    - With a pids cgroup (`ProcessLimit`, when this process may create one) every process of
      the command is killed through the cgroup, and the command may not have more than
      `max_processes` processes and threads at once.
    - Without either (Landlock or no sandbox, no cgroup): the process group is killed, then
      every process still carrying the command's marker environment variable; a process that
      left the group *and* dropped its environment can survive, and a fork bomb is bounded
      only by the timeout.
    """

    def __init__(
        self,
        sandbox: Sandbox,
        env: Mapping[str, str],
        output_limit: int = 30_000,
        redactor: Redactor | None = None,
        max_processes: int | None = 1024,
    ) -> None:
        self.sandbox = sandbox
        self.env = dict(env)
        self.output_limit = output_limit
        self.redactor = redactor
        self.limit = ProcessLimit.create(max_processes) if max_processes else None
        self._reaper: subprocess.Popen[bytes] | None = None
        self._reaper_done: Any = None

    def describe_limits(self) -> str:
        """One line for `backend-agent doctor`."""
        if self.limit is None:
            return "process limit: none (no writable pids cgroup)"
        return (
            f"process limit: {self.limit.max_pids} per command (pids cgroup v{self.limit.version})"
        )

    def close(self) -> None:
        """Remove the runner's cgroup directory and stop its reaper (also done at exit)."""
        if self.limit is not None:
            self.limit.close()
        if self._reaper_done is not None:
            self._reaper_done()

    def _tell_reaper(self, line: str) -> None:
        """Keep the reaper informed of running commands; started at the first one, and only
        without a PID namespace (bubblewrap's dies with the runner by itself)."""
        if self.sandbox.contains_processes:
            return
        if self._reaper is None:
            self._reaper = subprocess.Popen(
                [sys.executable, "-I", "-S", str(REAPER)],
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
            self._reaper_done = weakref.finalize(self, _stop_reaper, self._reaper)
        with contextlib.suppress(OSError, ValueError):
            assert self._reaper.stdin is not None
            self._reaper.stdin.write(line.encode())
            self._reaper.stdin.flush()

    def run(self, command: str, cwd: Path, timeout: float) -> CommandResult:
        started = time.monotonic()
        marker = uuid.uuid4().hex
        env = {**self.env, MARKER_VAR: marker}
        argv = self.sandbox.wrap(["bash", "-c", command], Path(cwd))
        group = None
        if self.limit is not None:
            with contextlib.suppress(OSError):  # cgroup gone or full: run without the limit
                group = self.limit.new_group()
        if group is not None:
            argv = ProcessLimit.wrap(argv, group)
        guard = self.sandbox.guard(Path(cwd))
        out = _CappedOutput(self.output_limit)
        notes: list[str] = []
        try:
            proc = subprocess.Popen(
                argv,
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except OSError as exc:
            if group is not None and self.limit is not None:
                self.limit.release(group)
            message = _say("cannot_start", error=exc)
            code = 127 if isinstance(exc, FileNotFoundError) else 126
            return CommandResult(command, code, message, duration=time.monotonic() - started)
        version = self.limit.version if self.limit is not None else 0
        self._tell_reaper(f"+ {proc.pid} {marker} {group or '-'} {version}\n")
        timed_out = False
        try:
            timed_out, lingering = self._pump(proc, out, started + timeout)
            if lingering:
                notes.append(_say("background_stopped"))
        finally:  # also on KeyboardInterrupt: never leave the tree behind
            self._kill_tree(proc, marker, group)
            self._tell_reaper(f"- {proc.pid}\n")
            if proc.stdout is not None:
                self._drain(proc.stdout.fileno(), out)
                proc.stdout.close()
            notes.extend(guard.restore())
        text, omitted = out.render()
        if notes:
            text += ("" if not text or text.endswith("\n") else "\n") + "\n".join(notes) + "\n"
        if self.redactor is not None:
            text = self.redactor.redact(text)
        return CommandResult(
            command=command,
            exit_code=None if timed_out else _exit_code(proc.returncode),
            output=text,
            timed_out=timed_out,
            duration=time.monotonic() - started,
            omitted_bytes=omitted,
        )

    def _pump(
        self, proc: subprocess.Popen[bytes], out: _CappedOutput, deadline: float
    ) -> tuple[bool, bool]:
        """Read until EOF, the deadline, or shortly after the command exits while background
        processes hold the pipe. Returns (timed_out, lingering)."""
        assert proc.stdout is not None
        fd = proc.stdout.fileno()
        exited_at: float | None = None
        next_poll = time.monotonic() + _POLL
        with selectors.DefaultSelector() as sel:
            sel.register(fd, selectors.EVENT_READ)
            while True:
                now = time.monotonic()
                if now >= deadline:
                    return True, False
                if exited_at is not None and now >= exited_at + _LINGER:
                    return False, True
                limit = deadline if exited_at is None else min(deadline, exited_at + _LINGER)
                if sel.select(min(limit - now, _POLL)):
                    data = os.read(fd, _CHUNK)
                    if not data:
                        break
                    out.feed(data)
                if exited_at is None and time.monotonic() >= next_poll:
                    next_poll = time.monotonic() + _POLL
                    if proc.poll() is not None:
                        exited_at = time.monotonic()
        # EOF: the command closed its output; it may still be running.
        try:
            proc.wait(timeout=max(deadline - time.monotonic(), 0))
        except subprocess.TimeoutExpired:
            return True, False
        return False, False

    def _kill_tree(self, proc: subprocess.Popen[bytes], marker: str, group: Path | None) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        if group is not None and self.limit is not None:
            self.limit.release(group)
        elif not self.sandbox.contains_processes:
            kill_marked(marker)
        proc.wait()

    @staticmethod
    def _drain(fd: int, out: _CappedOutput) -> None:
        """What the killed processes wrote last, without waiting on a survivor holding the pipe."""
        end = time.monotonic() + _DRAIN
        with selectors.DefaultSelector() as sel:
            sel.register(fd, selectors.EVENT_READ)
            while (left := end - time.monotonic()) > 0 and sel.select(left):
                data = os.read(fd, _CHUNK)
                if not data:
                    return
                out.feed(data)
