"""The contract between the runner and its tools."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from tools.process import CommandResult, Executor


class ToolError(Exception):
    """A failure the model should read and recover from; never a crash of the loop."""


@dataclass(frozen=True)
class ToolResult:
    output: str
    is_error: bool = False
    # One short line for humans watching the run, e.g. "$ pytest -q -> 2 failed".
    summary: str = ""


@dataclass
class Workspace:
    """Where tools may act: the repo root, what may not be written, and how commands run."""

    root: Path
    executor: Executor
    protected: tuple[str, ...] = (".git/", ".github/workflows/")
    test_command: str = "python -m pytest -q"
    lint_commands: tuple[str, ...] = ("ruff check .", "ruff format --check .")
    command_timeout: float = 300.0
    extra: dict[str, Any] = field(default_factory=dict)

    def run(self, command: str, timeout: float | None = None) -> CommandResult:
        return self.executor.run(command, cwd=self.root, timeout=timeout or self.command_timeout)


class Tool(Protocol):
    name: str

    def definition(self, native: bool) -> Mapping[str, Any]:
        """The `tools` entry sent to the API. `native` selects Anthropic's built-in tool type
        (which Claude is trained on) over a plain JSON schema for other compatible servers."""
        ...

    def __call__(self, workspace: Workspace, tool_input: Mapping[str, Any]) -> ToolResult: ...
