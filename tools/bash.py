"""The `bash` tool: one shell command per call, in a fresh sandboxed process.

It keeps the shapes of Anthropic's reference bash tool (the native `bash_20250124` type, the
`command`/`restart` input, "no command provided.", "tool has been restarted.") and fixes its
defects: every answer carries the exit code and both streams, output is capped by the executor,
and a timeout kills the whole process tree instead of leaving a wedged shell behind.

Unlike the reference there is no persistent session. A fresh process per call cannot be wedged
by a stray `cat`, a here-doc or an `exit`, cannot leak a background job into the next command,
and lets every command run inside the sandbox with its own time limit. The cost is that `cd`
and `export` do not carry over, which the description says and a lone `cd` is answered with.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from tools.base import ToolResult, Workspace
from tools.templating import render_block

NAME = "bash"
NATIVE_TYPE = "bash_20250124"
SUMMARY_COMMAND_CHARS = 60

MESSAGES = "bash_messages.md"

# A command whose only effect would be on the shell session itself (cwd, environment).
_SESSION_ONLY = re.compile(r"^\s*(?:cd|pushd|popd|export|source|\.|unset|alias)(?:\s[^;&|]*)?$")


def command_summary(command: str, outcome: str) -> str:
    """`$ <first line of the command, shortened> -> <outcome>`: one line for the UI."""
    lines = command.strip().splitlines() or [""]
    first = lines[0]
    if len(first) > SUMMARY_COMMAND_CHARS:
        first = first[: SUMMARY_COMMAND_CHARS - 3].rstrip() + "..."
    elif len(lines) > 1:
        first += " ..."
    return f"$ {first} -> {outcome}"


def seconds(value: float) -> str:
    return f"{value:g}"


def _say(message: str, **context: Any) -> str:
    """One answer from `templates/bash_messages.md`, where every word of it lives."""
    return render_block(MESSAGES, message, **context)


class BashTool:
    """Runs the model's shell commands through the workspace's (sandboxed) executor.

    A non-zero exit is NOT an error result: the command ran and its status is information
    (`grep` finds nothing, `test -f` says no, `diff` says different), shown explicitly as the
    last line. `is_error` is kept for "the tool could not do what was asked": a timeout or
    invalid input, so that the flag stays a signal worth reacting to."""

    name = NAME

    def __init__(self, timeout: float | None = None) -> None:
        # None: the workspace's command timeout, decided per call.
        self.timeout = timeout

    def definition(self, native: bool) -> dict[str, Any]:
        if native:
            return {"type": NATIVE_TYPE, "name": NAME}
        timeout = seconds(self.timeout) if self.timeout else ""
        return {
            "name": NAME,
            "description": render_block("bash.md", "description", timeout=timeout),
            "input_schema": {
                "type": "object",
                "properties": {
                    "command": {
                        "type": "string",
                        "description": render_block("bash.md", "command"),
                    },
                    "restart": {
                        "type": "boolean",
                        "description": render_block("bash.md", "restart"),
                    },
                },
            },
        }

    def __call__(self, workspace: Workspace, tool_input: Mapping[str, Any]) -> ToolResult:
        if not isinstance(tool_input, Mapping):
            return ToolResult(_say("bad_input"), is_error=True, summary="bash -> invalid input")
        if tool_input.get("restart") is True:
            # Nothing persists between calls, so there is nothing to reset.
            return ToolResult(_say("restarted"), summary="bash -> restarted")
        command = tool_input.get("command")
        if command is not None and not isinstance(command, str):
            return ToolResult(_say("bad_input"), is_error=True, summary="bash -> invalid input")
        if not command or not command.strip():
            return ToolResult(_say("no_command"), is_error=True, summary="bash -> no command")

        timeout = self.timeout or workspace.command_timeout
        result = workspace.run(command, timeout=timeout)
        output = result.output.rstrip("\n") or _say("no_output")
        if result.timed_out:
            text = f"{output}\n{_say('timeout_line', seconds=seconds(timeout))}"
            return ToolResult(text, is_error=True, summary=command_summary(command, "timed out"))
        text = f"{output}\n{_say('exit_line', code=result.exit_code)}"
        if _SESSION_ONLY.match(command):
            text += "\n" + _say("not_persistent")
        return ToolResult(text, summary=command_summary(command, f"exit {result.exit_code}"))
