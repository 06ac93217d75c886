"""Running one shell command: sandboxed, time-limited, with output capped while it is read.

INTERFACE STUB: to be implemented (see tests/test_process.py)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


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
