"""Showing a run as it happens: a terminal view, plain lines for pipes, or JSON lines."""

from __future__ import annotations

import json
import sys
import time
from typing import Any, TextIO


def facts(turns: int, tokens: int, cost: float | None) -> str:
    """What a run spent, worded the same at its end, in `show` and in `runs`."""
    spent = "cost unknown" if cost is None else f"${cost:.4f}"
    return f"{turns} turn{'s' * (turns != 1)}, {tokens:,} tokens, {spent}"


CAUSE_LINES = 2  # of a failing check's report, under its headline


class JsonReporter:
    """One JSON object per line: every transcript event, plus the streamed text."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout

    def event(self, event: dict[str, Any]) -> None:
        self.stream.write(json.dumps(event, default=str) + "\n")
        self.stream.flush()

    def text(self, delta: str) -> None:
        self.event({"type": "text", "delta": delta})


class ConsoleReporter:
    """Lines a person can follow: the model's text as it streams (line by line), one line per
    tool call, each verification round, and, on a terminal, a status line with the turn,
    tokens, cost and elapsed time. Off a terminal the same lines come out plain."""

    def __init__(
        self,
        quiet: bool = False,
        stream: TextIO | None = None,
        replay: bool = False,
        full: bool = False,
    ) -> None:
        from rich.console import Console

        self.console = Console(file=stream or sys.stderr, highlight=False, soft_wrap=True)
        self.quiet = quiet
        self.replay = replay  # showing a finished transcript: text comes from its messages
        self.full = full  # also tool output and gate reports, as the model saw them
        self.pending = ""
        self.status: Any = None
        self.live = self.console.is_terminal and not quiet and not replay
        self.totals = {"turn": 0, "tokens": 0, "cost": 0.0, "elapsed": 0.0}
        self.seen = time.monotonic()  # when the newest event (and its elapsed) arrived

    def line(self, text: str, style: str = "") -> None:
        if not self.quiet:
            self.console.print(text, style=style or None, markup=False)

    def block(self, text: str, limit: int = 40, cut: bool = False) -> None:
        """Indented output, its first and last lines when long (`cut`: its first lines)."""
        lines = text.rstrip("\n").split("\n")
        if cut:
            lines = [line for line in lines if line.strip()][:limit]
        elif len(lines) > limit:
            lines = [
                *lines[: limit // 2],
                f"[... {len(lines) - limit} lines ...]",
                *lines[-limit // 2 :],
            ]
        for line in lines:
            self.line(f"      {line}", "dim")

    def text(self, delta: str) -> None:
        self.pending += delta
        *complete, self.pending = self.pending.split("\n")
        for line in complete:
            self.line(line, "cyan")

    def flush_text(self) -> None:
        if self.pending.strip():
            self.line(self.pending, "cyan")
        self.pending = ""

    def event(self, event: dict[str, Any]) -> None:
        kind = event["type"]
        handler = getattr(self, f"on_{kind}", None)
        if handler:
            handler(event)
        self.totals["elapsed"] = event.get("elapsed", self.totals["elapsed"])
        self.refresh_status()

    def refresh_status(self) -> None:
        self.seen = time.monotonic()
        if self.live and self.status is None:
            self.status = self.console.status(self)  # re-rendered on every frame via __rich__
            self.status.start()

    def __rich__(self) -> str:
        """The status line; the clock keeps ticking between events (during a long command)."""
        t = self.totals
        cost = "cost unknown" if t["cost"] is None else f"${t['cost']:.4f}"
        elapsed = t["elapsed"] + time.monotonic() - self.seen
        return f"turn {t['turn']} · {t['tokens']:,} tokens · {cost} · {elapsed:.0f}s"

    def close(self) -> None:
        self.flush_text()
        if self.status is not None:
            self.status.stop()
            self.status = None

    def on_run_start(self, e: dict[str, Any]) -> None:
        self.line(f"run {e['run_id']}: {e['request']}", "bold")
        where = f"worktree {e['work_root']}" if e.get("worktree") else e["work_root"]
        self.line(f"  branch {e['branch']} in {where}; model {e['model']}", "dim")

    def on_resume(self, e: dict[str, Any]) -> None:
        turns = e["turns"]
        self.line(f"resuming run {e['run_id']} after {turns} turn{'s' * (turns != 1)}", "bold")

    def on_sandbox(self, e: dict[str, Any]) -> None:
        style = "bold red" if e["name"] == "off" else "dim"
        self.line(f"  sandbox: {e['why']}", style)

    def on_message(self, e: dict[str, Any]) -> None:
        content = e["message"]["content"]
        if not self.replay or e["message"]["role"] != "assistant" or isinstance(content, str):
            return
        for block in content:
            if block.get("type") == "text":
                self.text(block["text"] + "\n")

    def on_warning(self, e: dict[str, Any]) -> None:
        self.line(f"  warning: {e['message']}", "yellow")

    def on_usage(self, e: dict[str, Any]) -> None:
        self.flush_text()
        usage = e["usage"]
        self.totals["turn"] = e["turn"]
        self.totals["tokens"] += sum(usage.values())
        cost = self.totals["cost"]
        self.totals["cost"] = None if cost is None or e["cost"] is None else cost + e["cost"]

    def on_tool_result(self, e: dict[str, Any]) -> None:
        mark, style = ("✗", "red") if e["is_error"] else ("•", "")
        self.line(f"  {mark} {e['summary']}", style)
        if self.full:
            self.block(e["output"])

    def on_gate(self, e: dict[str, Any]) -> None:
        verdict, style = ("green", "bold green") if e["ok"] else ("red", "bold red")
        self.line(f"verification round {e['round']}: {verdict} ({e['duration']:.1f}s)", style)
        for check in e["checks"]:
            mark = "✓" if check["ok"] else "✗"
            self.line(
                f"  {mark} {check['name']}: {check['headline']}", "" if check["ok"] else "red"
            )
            if self.full and check["report"]:
                self.block(check["report"])
            elif not check["ok"]:  # the cause, not just "exit 127"
                self.block(check["report"], limit=CAUSE_LINES, cut=True)
        if e.get("baseline"):
            self.line(f"  {e['baseline']}", "dim")

    def on_retry(self, e: dict[str, Any]) -> None:
        self.flush_text()
        self.line(
            f"  API: {e['reason']}; retry {e['attempt']}/{e['max_attempts']} in {e['delay']:.1f}s",
            "yellow",
        )

    def on_context_dropped(self, e: dict[str, Any]) -> None:
        self.line(f"  context: dropped the {e['dropped']} oldest messages", "dim")

    def on_context_cleared(self, e: dict[str, Any]) -> None:
        self.line(f"  context: cleared old tool output (~{e['estimated_tokens']:,} tokens)", "dim")
