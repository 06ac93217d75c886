"""The `bash` tool, run for real through the real `CommandRunner` (without a sandbox)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from tools.base import Workspace
from tools.bash import NATIVE_TYPE, SUMMARY_COMMAND_CHARS, BashTool, command_summary
from tools.process import CommandRunner
from tools.sandbox import NoSandbox


def make_workspace(root: Path, output_limit: int = 30_000, timeout: float = 30) -> Workspace:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    runner = CommandRunner(NoSandbox(), env=env, output_limit=output_limit)
    return Workspace(root=root, executor=runner, command_timeout=timeout)


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    (tmp_path / "sub").mkdir()
    return make_workspace(tmp_path)


def test_native_definition_is_the_trained_tool_type() -> None:
    assert BashTool().definition(native=True) == {"type": NATIVE_TYPE, "name": "bash"}
    assert NATIVE_TYPE == "bash_20250124"


def test_custom_definition_comes_from_the_template() -> None:
    definition = BashTool(timeout=120).definition(native=False)
    assert definition["name"] == "bash"
    assert "do NOT carry over" in definition["description"]
    assert "after 120 seconds" in definition["description"]
    assert "{%" not in definition["description"]
    properties = definition["input_schema"]["properties"]
    assert properties["command"]["type"] == "string"
    assert properties["restart"]["type"] == "boolean"
    assert properties["command"]["description"]
    assert properties["restart"]["description"]
    assert "time limit" in BashTool().definition(native=False)["description"]


def test_both_streams_interleaved_and_the_exit_code(ws: Workspace) -> None:
    result = BashTool()(ws, {"command": "echo one; echo two >&2; echo three; exit 3"})
    assert result.output == "one\ntwo\nthree\n[exit code: 3]"
    assert result.is_error is False  # a non-zero exit is information, not a tool failure
    assert result.summary == "$ echo one; echo two >&2; echo three; exit 3 -> exit 3"


def test_success_and_empty_output(ws: Workspace) -> None:
    result = BashTool()(ws, {"command": "true"})
    assert result.output == "(no output)\n[exit code: 0]"
    assert not result.is_error
    assert result.summary == "$ true -> exit 0"


def test_unknown_command_shows_the_shell_message(ws: Workspace) -> None:
    result = BashTool()(ws, {"command": "no-such-command-xyz"})
    assert "no-such-command-xyz: command not found" in result.output
    assert result.output.endswith("[exit code: 127]")
    assert not result.is_error


def test_runs_in_the_workspace_root_and_nothing_persists(ws: Workspace) -> None:
    bash = BashTool()
    first = bash(ws, {"command": "cd sub && pwd && export FOO=set && echo ${FOO}"})
    assert first.output.splitlines()[:2] == [str(ws.root / "sub"), "set"]
    second = bash(ws, {"command": "pwd; echo ${FOO:-unset}"})
    assert second.output.splitlines()[:2] == [str(ws.root), "unset"]


def test_a_lone_cd_is_answered_with_a_note(ws: Workspace) -> None:
    result = BashTool()(ws, {"command": "cd sub"})
    assert result.output.startswith("(no output)\n[exit code: 0]\n[note: ")
    assert "does not carry over" in result.output
    chained = BashTool()(ws, {"command": "cd sub && ls"})
    assert "[note:" not in chained.output


def test_stdin_is_closed_so_readers_do_not_hang(ws: Workspace) -> None:
    # The reference tool hangs until its timeout on `cat` or `read`.
    started = time.monotonic()
    result = BashTool()(ws, {"command": "cat; read line; echo after $?"})
    assert time.monotonic() - started < 30
    assert result.output == "after 1\n[exit code: 0]"


def test_timeout_kills_the_command_and_its_children(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path, timeout=30)
    started = time.monotonic()
    command = "sleep 300 & echo $! > child.pid; echo started; sleep 300"
    result = BashTool(timeout=1)(ws, {"command": command})
    assert time.monotonic() - started < 30
    assert result.is_error
    assert result.output == (
        "started\n[timed out after 1 s; the command and its child processes were killed]"
    )
    assert result.summary == f"$ {command} -> timed out"
    pid = int((tmp_path / "child.pid").read_text())
    stat = Path(f"/proc/{pid}/stat")
    assert not stat.exists() or stat.read_text().split(") ", 1)[1].startswith("Z")


def test_workspace_timeout_is_the_default(tmp_path: Path) -> None:
    result = BashTool()(make_workspace(tmp_path, timeout=1), {"command": "sleep 30"})
    assert result.is_error
    assert "[timed out after 1 s;" in result.output


def test_long_output_is_capped_head_and_tail(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path, output_limit=2000)
    result = BashTool()(ws, {"command": "seq 1 100000"})
    assert result.output.startswith("1\n2\n3\n")
    assert "bytes omitted" in result.output
    assert result.output.endswith("99999\n100000\n[exit code: 0]")
    assert len(result.output) < 2500


def test_restart_answers_like_the_reference_and_wins_over_command(ws: Workspace) -> None:
    result = BashTool()(ws, {"restart": True, "command": "touch ran"})
    assert result.output == "tool has been restarted."
    assert not result.is_error
    assert not (ws.root / "ran").exists()


@pytest.mark.parametrize(
    "tool_input", [{}, {"command": ""}, {"command": "   \n"}, {"restart": False}]
)
def test_no_command(ws: Workspace, tool_input: dict[str, object]) -> None:
    result = BashTool()(ws, tool_input)
    assert result.output == "no command provided."
    assert result.is_error


@pytest.mark.parametrize("tool_input", [{"command": ["ls"]}, {"command": 3}, "ls"])
def test_invalid_input_is_an_error_not_a_crash(ws: Workspace, tool_input: object) -> None:
    result = BashTool()(ws, tool_input)  # type: ignore[arg-type]
    assert result.is_error
    assert "`command`" in result.output


def test_summary_line_is_short_and_single_line() -> None:
    long_command = "python -c 'print(1)' " + "x" * 200
    summary = command_summary(long_command, "exit 0")
    assert summary.endswith("... -> exit 0")
    assert len(summary) <= len("$  -> exit 0") + SUMMARY_COMMAND_CHARS
    assert command_summary("echo a\necho b", "exit 0") == "$ echo a ... -> exit 0"
