"""The tool-use loop. It reads in one screen: ask the model, act on its stop reason, repeat;
the runner, not the model, decides when the work is done.

State lives in `RunState` and every change to it is an event in the transcript, so a run
killed at any point is rebuilt by replaying its events (`RunState.replay`)."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from agent.config import Budget
from agent.context import ContextPolicy, clear_before, drop_before, estimate_tokens
from agent.errors import StopRun
from agent.gate import Gate, GateResult
from agent.model import Model, RetryNotice, Usage
from agent.pricing import cost_usd, worst_case_cost
from agent.prompts import render
from tools.base import Tool, ToolError, ToolResult, Workspace

Emit = Callable[[dict[str, Any]], None]


@dataclass
class RunState:
    messages: list[dict[str, Any]] = field(default_factory=list)
    last_stop: str | None = None
    turns: int = 0
    usage: Usage = field(default_factory=Usage)
    cost: float | None = 0.0  # None once any turn was priced "unknown"
    gate_rounds: int = 0
    last_gate: list[dict[str, Any]] = field(default_factory=list)
    elapsed: float = 0.0
    measured_tokens: int = 0  # prompt + reply tokens of the newest turn, as the API counted them
    measured_at: int = 0  # how many messages that count covered
    # Tool calls of the newest reply that were started: id -> their recorded result event, or
    # None while running. A resume after a crash finds here what must not run twice.
    calls: dict[str, dict[str, Any] | None] = field(default_factory=dict)

    def apply(self, event: Mapping[str, Any]) -> None:
        """The single place where events change state, for a live run and a replay alike."""
        kind = event["type"]
        if kind == "message":
            self.messages.append(event["message"])
            self.last_stop = event.get("stop_reason")
            self.calls = {}
        elif kind == "tool_call":
            self.calls[event["id"]] = None
        elif kind == "tool_result":
            self.calls[event["id"]] = event
        elif kind == "usage":
            usage = Usage.from_dict(event["usage"])
            self.turns += 1
            self.usage = self.usage + usage
            self.cost = (
                None if self.cost is None or event["cost"] is None else self.cost + event["cost"]
            )
            self.measured_tokens = usage.total_input + usage.output_tokens
            self.measured_at = event["messages"] + 1
        elif kind == "gate":
            self.gate_rounds += 1
            self.last_gate = event["checks"]
        elif kind == "context_cleared":
            clear_before(self.messages, event["upto"])
            self.measured_tokens = 0  # the API's count no longer describes the conversation
        elif kind == "context_dropped":
            drop_before(self.messages, event["upto"])
            self.measured_tokens = 0
        self.elapsed = max(self.elapsed, event.get("elapsed", 0.0))

    @classmethod
    def replay(cls, events: list[dict[str, Any]]) -> RunState:
        state = cls()
        for event in events:
            state.apply(event)
        return state


@dataclass
class Agent:
    model: Model
    tools: dict[str, Tool]
    tool_definitions: list[dict[str, Any]]
    workspace: Workspace
    gate: Gate
    budget: Budget
    state: RunState
    system: list[dict[str, Any]]
    record: Emit  # writes the transcript and informs the user interface
    context: ContextPolicy
    redact: Callable[[str], str] = str
    max_tokens: int = 8192
    command_timeout: float = 600.0
    on_text: Callable[[str], None] | None = None
    started: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        self.elapsed_base = self.state.elapsed  # wall time spent by earlier sessions of this run

    def run(self) -> GateResult:
        """Loop until the gate is green (returned) or a budget or failure ends it (raised)."""
        while True:
            if result := self.step():
                return result

    def step(self) -> GateResult | None:
        if self.state.messages[-1]["role"] == "user" or self.state.last_stop == "pause_turn":
            self.query()
            return None
        match self.state.last_stop:
            case "tool_use":
                self.run_tools()
            case "max_tokens":
                self.run_tools(note=render("continue.md.j2", max_tokens=self.max_tokens))
            case "model_context_window_exceeded":
                if not self.clear_context(force=True):
                    raise StopRun("the conversation no longer fits the model's context window")
                self.run_tools(note=render("continue.md.j2", max_tokens=self.max_tokens))
            case "refusal":
                raise StopRun("the model refused the request")
            case _:  # end_turn, stop_sequence, or a reason this version does not know
                return self.verify()
        return None

    def emit(self, event: dict[str, Any]) -> None:
        event["elapsed"] = round(self.elapsed(), 3)
        self.state.apply(event)
        self.record(event)

    def elapsed(self) -> float:
        return self.elapsed_base + time.monotonic() - self.started

    def query(self) -> None:
        self.check_budget()
        self.clear_context()
        turn = self.state.turns + 1
        self.emit({"type": "request", "turn": turn, "messages": len(self.state.messages)})
        response = self.model.complete(
            system=self.system,
            messages=self.state.messages,
            tools=self.tool_definitions,
            max_tokens=self.max_tokens,
            on_text=self.on_text,
            on_retry=self.on_retry,
        )
        cost = cost_usd(response.model or self.model.name, response.usage)
        self.emit(
            {
                "type": "usage",
                "turn": turn,
                "messages": len(self.state.messages),
                "usage": response.usage.to_dict(),
                "cost": cost,
                "stop_reason": response.stop_reason,
                "request_id": response.request_id,
            }
        )
        message = {"role": "assistant", "content": response.content}
        self.emit({"type": "message", "message": message, "stop_reason": response.stop_reason})

    def on_retry(self, notice: RetryNotice) -> None:
        self.record({"type": "retry", **vars(notice), "elapsed": round(self.elapsed(), 3)})

    def check_budget(self) -> None:
        state, budget = self.state, self.budget
        if state.turns >= budget.max_turns:
            raise StopRun(f"turn budget spent ({state.turns} of {budget.max_turns} turns)")
        if self.elapsed() >= budget.timeout:
            raise StopRun(f"time budget spent ({self.elapsed():.0f} s of {budget.timeout:.0f} s)")
        worst = worst_case_cost(self.model.name, self.prompt_estimate(), self.max_tokens)
        if state.cost is not None and worst is not None and state.cost + worst > budget.max_cost:
            raise StopRun(
                f"cost budget: ${state.cost:.4f} spent, and the next turn could cost up to "
                f"${worst:.4f}, past --max-cost ${budget.max_cost:.2f}"
            )

    def prompt_estimate(self) -> int:
        """Tokens the next request will carry: the API's own count for the conversation so
        far, plus an estimate of what was added since; a full estimate on the first turn."""
        state = self.state
        if not state.measured_tokens:
            return estimate_tokens([self.system, self.tool_definitions, state.messages])
        return state.measured_tokens + estimate_tokens(state.messages[state.measured_at :])

    def clear_context(self, force: bool = False) -> bool:
        """Clear old tool output when near the window; `force` when the server already said
        the window is exceeded, so neither the estimate nor a token count can veto it."""
        estimate = self.prompt_estimate()

        def count() -> int | None:
            if force:
                return None
            return self.model.count_tokens(
                system=self.system, messages=self.state.messages, tools=self.tool_definitions
            )

        upto = self.context.clearing_point(
            self.state.messages, self.context.window if force else estimate, count
        )
        if upto is None:
            return False
        self.emit({"type": "context_cleared", "upto": upto, "estimated_tokens": estimate})
        fixed = estimate_tokens([self.system, self.tool_definitions])
        keep = self.context.dropping_point(self.state.messages, fixed)
        if keep is not None:
            self.emit({"type": "context_dropped", "upto": keep, "dropped": keep - 1})
        return True

    def run_tools(self, note: str | None = None) -> None:
        """Run every tool call of the last reply, in order; the results go back together."""
        blocks = [b for b in self.state.messages[-1]["content"] if b.get("type") == "tool_use"]
        content: list[dict[str, Any]] = []
        try:
            for block in blocks:
                content.append(
                    _tool_result(block, self.resume_tool(block) or self.call_tool(block))
                )
        except KeyboardInterrupt:
            # Answer every call, so the conversation stays valid and a resume does not run
            # again what the user just stopped.
            stopped = ToolResult(render("interrupted.md.j2"), is_error=True)
            content += [_tool_result(b, stopped) for b in blocks[len(content) :]]
            self.emit({"type": "message", "message": {"role": "user", "content": content}})
            raise
        if note or not content:
            content.append(
                {
                    "type": "text",
                    "text": note or render("continue.md.j2", max_tokens=self.max_tokens),
                }
            )
        self.emit({"type": "message", "message": {"role": "user", "content": content}})

    def resume_tool(self, block: dict[str, Any]) -> ToolResult | None:
        """The result of a call this run already started before it was killed: the recorded
        one, or, when it died mid-call, a note that its effect is unknown. Never a re-run: a
        migration or a `git` command must not happen twice behind the model's back."""
        if block.get("id") not in self.state.calls:
            return None
        recorded = self.state.calls[block["id"]]
        if recorded is not None:
            return ToolResult(recorded["output"], recorded["is_error"], recorded["summary"])
        result = ToolResult(render("crashed.md.j2"), is_error=True)
        self.emit(
            {
                "type": "tool_result",
                "id": block["id"],
                "name": block.get("name", ""),
                "is_error": True,
                "summary": f"{block.get('name', '')} -> interrupted by a crash, not run again",
                "output": result.output,
                "crashed": True,
            }
        )
        return result

    def call_tool(self, block: dict[str, Any]) -> ToolResult:
        name, tool_input = block.get("name", ""), block.get("input")
        self.emit({"type": "tool_call", "id": block.get("id"), "name": name, "input": tool_input})
        remaining = self.budget.timeout - self.elapsed()
        self.workspace.command_timeout = max(1.0, min(self.command_timeout, remaining))
        tool = self.tools.get(name)
        if tool is None:
            detail = dict(reason="unknown_tool", name=name, available=sorted(self.tools), detail="")
            result = ToolResult(render("tool_error.md.j2", **detail), is_error=True)
        elif not isinstance(tool_input, dict):
            detail = dict(reason="bad_input", name=name, detail="input must be a JSON object")
            result = ToolResult(render("tool_error.md.j2", available=[], **detail), is_error=True)
        else:
            try:
                result = tool(self.workspace, tool_input)
            except ToolError as exc:
                result = ToolResult(str(exc), is_error=True, summary=f"{name} -> error")
            except Exception as exc:  # a tool bug must not end the run; the model reads it
                detail = dict(reason="crash", name=name, detail=f"{type(exc).__name__}: {exc}")
                result = ToolResult(render("tool_error.md.j2", available=[], **detail), True)
        result = ToolResult(
            self.redact(result.output), result.is_error, self.redact(result.summary)
        )
        self.emit(
            {
                "type": "tool_result",
                "id": block.get("id"),
                "name": name,
                "is_error": result.is_error,
                "summary": result.summary or name,
                "output": result.output,
            }
        )
        return result

    def verify(self) -> GateResult | None:
        result = self.gate.run(self.workspace, self.state.gate_rounds + 1)
        checks = [
            {**r.to_dict(), "report": self.redact(r.report), "headline": self.redact(r.headline)}
            for r in result.results
        ]
        self.emit(
            {
                "type": "gate",
                "round": result.round,
                "ok": result.ok,
                "checks": checks,
                "duration": result.duration,
                **({"baseline": result.baseline} if result.baseline else {}),
            }
        )
        if result.ok:
            return result
        if self.state.gate_rounds >= self.budget.max_gate_rounds:
            rounds = self.state.gate_rounds
            raise StopRun(f"verification still red after {rounds} round{'s' * (rounds != 1)}")
        report = render(
            "gate_report.md.j2",
            round=result.round,
            max_rounds=self.budget.max_gate_rounds,
            failed=[c for c in checks if not c["ok"]],
            passed=[c["name"] for c in checks if c["ok"]],
            baseline=result.baseline,
        )
        self.emit({"type": "message", "message": {"role": "user", "content": report}})
        return None


def _tool_result(block: dict[str, Any], result: ToolResult) -> dict[str, Any]:
    return {
        "type": "tool_result",
        "tool_use_id": block["id"],
        "content": result.output,
        "is_error": result.is_error,
    }
