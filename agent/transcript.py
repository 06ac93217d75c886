"""Run directories: an append-only JSON Lines transcript plus a small `meta.json`.

Every event is written and flushed as it happens, so a run killed at any instant leaves a
transcript that reads back; only its last line can be torn, and the reader skips it."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from agent.errors import UsageError

RUNS_SUBDIR = Path("backend-agent") / "runs"


def runs_root(git_common_dir: Path) -> Path:
    """Runs live inside `.git/`, so git never tracks them and every worktree shares them."""
    return git_common_dir / RUNS_SUBDIR


class Transcript:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._file: TextIO = path.open("a", encoding="utf-8")
        if self._file.tell() and not _ends_with_newline(path):
            self._file.write("\n")  # seal a line torn by a crash, so new events parse

    def write(self, event: dict[str, Any]) -> None:
        event.setdefault("ts", round(time.time(), 3))
        self._file.write(json.dumps(event, ensure_ascii=False, default=str) + "\n")
        self._file.flush()

    def close(self) -> None:
        self._file.close()


def _ends_with_newline(path: Path) -> bool:
    with path.open("rb") as f:
        f.seek(-1, os.SEEK_END)
        return f.read(1) == b"\n"


def read_events(path: Path) -> list[dict[str, Any]]:
    """All complete events. A torn or garbled line (a crash mid-write) is skipped."""
    events = []
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return []
    # Split on "\n" only: str.splitlines() would also cut at U+0085 or U+2028 inside a string.
    for line in raw.decode("utf-8", errors="replace").split("\n"):
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(event, dict) and "type" in event:
            events.append(event)
    return events


@dataclass
class RunDir:
    path: Path

    @property
    def run_id(self) -> str:
        return self.path.name

    @property
    def transcript_path(self) -> Path:
        return self.path / "transcript.jsonl"

    def read_meta(self) -> dict[str, Any]:
        try:
            return json.loads((self.path / "meta.json").read_text(encoding="utf-8"))
        except (FileNotFoundError, json.JSONDecodeError):
            return {}

    def write_meta(self, meta: dict[str, Any]) -> None:
        """Atomic replace, so a crash leaves the old or the new file, never half of one."""
        tmp = self.path / "meta.json.tmp"
        tmp.write_text(json.dumps(meta, indent=2, default=str), encoding="utf-8")
        os.replace(tmp, self.path / "meta.json")

    def events(self) -> list[dict[str, Any]]:
        return read_events(self.transcript_path)

    @property
    def lock_path(self) -> Path:
        return self.path / "lock"

    @contextlib.contextmanager
    def hold(self) -> Iterator[None]:
        """Mark the run live while the block runs. The kernel drops the lock when this process
        dies, however it dies, so a run that shows as live is live."""
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise UsageError(
                f"run {self.run_id} is running (pid {self.live_pid()}); "
                "wait for it to end, or stop it first"
            ) from None
        try:
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
            yield
        finally:
            os.close(fd)

    def live_pid(self) -> int | None:
        """The pid of the process running this run, or None when no process is."""
        try:
            fd = os.open(self.lock_path, os.O_RDONLY)
        except FileNotFoundError:
            return None
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                text = os.pread(fd, 32, 0).decode(errors="replace").strip()
                return int(text) if text.isdigit() else -1
            fcntl.flock(fd, fcntl.LOCK_UN)
            return None
        finally:
            os.close(fd)

    def status(self, meta: dict[str, Any] | None = None) -> str:
        """The recorded status, except that a run whose process died reads "dead"."""
        meta = self.read_meta() if meta is None else meta
        recorded = meta.get("status", "?")
        if recorded in ("running", "?") and self.live_pid() is None:
            return "dead"
        return recorded


def totals(events: list[dict[str, Any]]) -> dict[str, Any]:
    """Turns, tokens and cost as the transcript has them: right even for a run that died."""
    turns, tokens, cost = 0, 0, 0.0
    for event in events:
        if event["type"] == "usage":
            turns += 1
            tokens += sum(event["usage"].values())
            cost = None if cost is None or event["cost"] is None else cost + event["cost"]
    return {"turns": turns, "tokens": tokens, "cost": cost}


def new_run_dir(root: Path, slug: str) -> RunDir:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for n in range(1, 1000):
        name = f"{stamp}-{slug}" if n == 1 else f"{stamp}-{slug}-{n}"
        try:
            (root / name).mkdir(parents=True)
        except FileExistsError:
            continue
        return RunDir(root / name)
    raise UsageError(f"cannot create a run directory under {root}")


def iter_runs(root: Path) -> Iterator[RunDir]:
    """Newest first."""
    if root.is_dir():
        # By the start stamp in the name; runs started within one second, by last activity.
        paths = [p for p in root.iterdir() if p.is_dir()]
        for path in sorted(paths, key=lambda p: (p.name[:15], p.stat().st_mtime_ns), reverse=True):
            yield RunDir(path)


def find_run(root: Path, ref: str) -> RunDir:
    """A run by id, a unique part of one, or `last`."""
    runs = list(iter_runs(root))
    started = [r for r in runs if r.read_meta().get("work_root")]
    if ref in ("last", "latest") and started:
        return started[0]  # a run killed during its setup has nothing to resume
    matches = [r for r in runs if r.run_id == ref] or [r for r in runs if ref in r.run_id]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise UsageError(f"no run {ref!r} in {root}; see `backend-agent runs`")
    names = ", ".join(r.run_id for r in matches[:5])
    raise UsageError(f"run {ref!r} is ambiguous: {names}")
