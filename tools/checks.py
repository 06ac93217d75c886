"""The `run_tests` and `run_lint` tools: the gate's own checks, on demand, as short summaries.

The model should see what the gate will see before it claims to be done, in far fewer tokens
than the raw output: the same configured commands, read by the same summarizers."""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from typing import Any

from tools.base import ToolResult, Workspace
from tools.bash import command_summary
from tools.summaries import summarize_lint, summarize_pytest
from tools.templating import render_block

DEFAULT_FIX_COMMANDS: tuple[str, ...] = (
    "ruff check --fix --exit-zero --quiet .",
    "ruff format --quiet .",
)
FIX_OUTPUT_CHARS = 1500
MESSAGES = "check_messages.md"

# A plain `ruff check ...` without a chosen format (and no shell operators): asking for the
# concise format makes one line per problem, so the executor's output cap cuts far less.
_RUFF_CHECK = re.compile(r"^(\s*(?:python3? -m )?ruff check)(?=\s|$)")
_SHELL_OPERATORS = re.compile(r"[;&|<>`$()]")


def concise_ruff(command: str) -> str:
    """`ruff check .` -> `ruff check --output-format concise .`; anything else unchanged."""
    match = _RUFF_CHECK.match(command)
    if not match or "--output-format" in command or _SHELL_OPERATORS.search(command):
        return command
    return f"{match.group(1)} --output-format concise{command[match.end() :]}"


def _say(message: str, **context: Any) -> str:
    """One answer from `templates/check_messages.md`, where every word of it lives."""
    return render_block(MESSAGES, message, **context)


def _tail(text: str, limit: int) -> str:
    text = text.strip()
    return text if len(text) <= limit else "..." + text[-limit:]


class RunTestsTool:
    """Runs `workspace.test_command`, optionally narrowed by pytest arguments.

    Failing tests are a normal answer (is_error False); only a timeout or invalid input is an
    error, because then the tool could not tell the model what it asked for."""

    name = "run_tests"

    def definition(self, native: bool) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": render_block("run_tests.md", "description"),
            "input_schema": {
                "type": "object",
                "properties": {
                    "args": {
                        "type": "string",
                        "description": render_block("run_tests.md", "args"),
                    },
                },
            },
        }

    def __call__(self, workspace: Workspace, tool_input: Mapping[str, Any]) -> ToolResult:
        if not isinstance(tool_input, Mapping):
            return ToolResult(
                _say("bad_input"), is_error=True, summary="run_tests -> invalid input"
            )
        args = tool_input.get("args")
        if args is None:
            args = ""
        if not isinstance(args, str):
            return ToolResult(
                _say("bad_args_type"), is_error=True, summary="run_tests -> invalid input"
            )
        try:
            # Each argument is re-quoted: pytest sees exactly the words given, the shell runs
            # nothing extra (`; rm -rf .` becomes an odd test path, not a second command).
            words = shlex.split(args)
        except ValueError as exc:
            return ToolResult(
                _say("bad_args_syntax", error=exc),
                is_error=True,
                summary="run_tests -> invalid input",
            )
        command = " ".join([workspace.test_command, *map(shlex.quote, words)])
        result = workspace.run(command)
        summary = summarize_pytest(result)
        text = f"$ {command}\n{summary.headline}"
        if summary.report:
            text += "\n\n" + summary.report
        return ToolResult(
            text, is_error=result.timed_out, summary=command_summary(command, summary.headline)
        )


class RunLintTool:
    """Runs every `workspace.lint_commands` entry (all of them, so one answer lists every
    problem), after the fixers when asked. The fixers come from `workspace.extra["fix_commands"]`
    when the runner configures them, else ruff's."""

    name = "run_lint"

    def definition(self, native: bool) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": render_block("run_lint.md", "description"),
            "input_schema": {
                "type": "object",
                "properties": {
                    "fix": {"type": "boolean", "description": render_block("run_lint.md", "fix")},
                },
            },
        }

    def __call__(self, workspace: Workspace, tool_input: Mapping[str, Any]) -> ToolResult:
        if not isinstance(tool_input, Mapping):
            return ToolResult(_say("bad_input"), is_error=True, summary="run_lint -> invalid input")
        fix = tool_input.get("fix", False)
        if fix is None:
            fix = False
        if not isinstance(fix, bool):
            return ToolResult(_say("bad_fix"), is_error=True, summary="run_lint -> invalid input")

        blocks: list[str] = []
        summaries: list[str] = []
        timed_out = False
        if fix:
            fixers: list[str] = []
            for command in workspace.extra.get("fix_commands") or DEFAULT_FIX_COMMANDS:
                result = workspace.run(command)
                timed_out = timed_out or result.timed_out
                outcome = _say(
                    "fix_outcome",
                    timed_out=result.timed_out,
                    seconds=f"{result.duration:.0f}",
                    code=result.exit_code,
                )
                block = f"$ {command} -> {outcome}"
                if result.timed_out or result.exit_code != 0:
                    block += "\n" + _tail(result.output, FIX_OUTPUT_CHARS)
                fixers.append(block)
            blocks.append("\n".join(fixers))
        for configured in workspace.lint_commands:
            command = concise_ruff(configured)
            result = workspace.run(command)
            lint = summarize_lint(result)
            timed_out = timed_out or result.timed_out
            block = f"$ {command} -> {lint.headline}"
            if lint.report:
                block += "\n" + lint.report
            blocks.append(block)
            summaries.append(command_summary(configured, lint.headline))
        if not workspace.lint_commands:
            blocks.append(_say("no_lint_commands"))
        return ToolResult(
            "\n\n".join(blocks).strip(),
            is_error=timed_out,
            summary=("fix, " if fix else "") + "; ".join(summaries),
        )
