"""What the runner adds to each model turn, as a ratio to bare SDK calls. Target: <= 1.10.

Both sides talk to the same zero-latency fake Messages API (in this process, real loopback
HTTP) with the same system prompt, tools and growing conversation, so the difference is the
runner's own work per turn: budget and context checks, cache breakpoints, transcript writes,
state, events and tool dispatch.

- Baseline: a hand-written loop of N+1 `client.messages.stream(...)` + `get_final_message()`
  calls that appends each reply (as plain dicts) and a canned tool result (the runner's own
  view output), running no tool. System prompt and tools are the ones the runner sent.
- Runner: `agent.api.start_run` on a scratch repo, the fake scripted for N turns that each ask
  the editor to `view` a small file (in-process, no subprocess), then one last turn. Only the
  turns are timed, from reporter events (the task message to the last reply). The last turn
  is a refusal, which ends the run without the verification gate: the gate is not per-turn
  work, and skipping it makes a repetition take a second less.
- The view itself is tool execution, not runner overhead: it is timed alone and subtracted.
- The runner's time is also split at the model client (`request` to `usage` event): what is
  left is the loop's own work, a steadier figure than the ratio on a busy machine.

The machine may be shared, so the process is pinned to one CPU, the two sides alternate,
each repetition is paired with the baseline measured next to it, and the verdict is the
median of those paired ratios of CPU time (of this whole process: client and fake server
alike, on both sides). Wall-time ratios are printed too.

Run: python benchmarks/turn_overhead.py [--turns 50] [--reps 15] [--profile]
"""

from __future__ import annotations

import argparse
import copy
import cProfile
import io
import pstats
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from _common import make_repo, median, verdict

from agent.api import RunOptions, start_run
from agent.config import Budget
from tests.fakes.anthropic_server import FakeAnthropic, LoopScript, Turn, text, tool_use
from tools.base import Workspace
from tools.editor import TextEditor

TARGET = 1.10
MODEL = "claude-sonnet-4-6"
API_KEY = "sk-bench-0123456789"
MAX_TOKENS = 8192
EDITOR = "str_replace_based_edit_tool"
VIEW = {"command": "view", "path": "calc.py"}

PYPROJECT = """\
[project]
name = "calc"
version = "0.1.0"

[tool.backend-agent]
lint-commands = []
fix-commands = []
quality-check = false
alembic-check = false
database = "none"
"""
CALC = "".join(f"def f{i}(a: int, b: int) -> int:\n    return a + b + {i}\n\n\n" for i in range(8))
TEST = "from calc import f0\n\n\ndef test_f0() -> None:\n    assert f0(1, 2) == 3\n"

Inputs = tuple[list[Any], list[Any], dict[str, Any], str]


@dataclass(frozen=True)
class Clock:
    wall: float
    cpu: float  # time.process_time(): every thread of this process

    def __add__(self, other: Clock) -> Clock:
        return Clock(self.wall + other.wall, self.cpu + other.cpu)

    def __sub__(self, other: Clock) -> Clock:
        return Clock(self.wall - other.wall, self.cpu - other.cpu)

    def __truediv__(self, n: float) -> Clock:
        return Clock(self.wall / n, self.cpu / n)


def now() -> Clock:
    return Clock(time.perf_counter(), time.process_time())


class TimingReporter:
    """Stamps each transcript event on arrival; the turn window is read from the stamps."""

    def __init__(self) -> None:
        self.stamps: list[tuple[Clock, dict[str, Any]]] = []

    def event(self, event: dict[str, Any]) -> None:
        self.stamps.append((now(), event))

    def text(self, delta: str) -> None:
        pass

    def turn_window(self) -> tuple[Clock, int]:
        """Time from the task message to the last reply, and the number of replies."""
        start = end = None
        replies = 0
        for at, event in self.stamps:
            if event["type"] != "message":
                continue
            if start is None and event["message"]["role"] == "user":
                start = at
            elif event["message"]["role"] == "assistant":
                end, replies = at, replies + 1
        if start is None or end is None:
            raise RuntimeError("the run produced no turns; is the runner broken?")
        return end - start, replies

    def model_time(self) -> Clock:
        """Time inside the model client's `complete` (each `request` to its `usage` event)."""
        total, asked = Clock(0.0, 0.0), None
        for at, event in self.stamps:
            if event["type"] == "request":
                asked = at
            elif event["type"] == "usage" and asked is not None:
                total, asked = total + (at - asked), None
        return total


def script(turns: int) -> LoopScript:
    ask = Turn.tools(tool_use(EDITOR, VIEW), text="Reading calc.py once more.")
    return LoopScript(ask, until=turns, then=Turn([text("I will stop here.")], "refusal"))


def runner_once(url: str, work: Path, turns: int, tag: str) -> tuple[Clock, Clock]:
    """Time per turn of one run of the agent, and the part of it spent inside the model
    client (SDK call, request building, reply conversion); `turns` must match the script."""
    repo = make_repo(
        work / f"repo-{tag}",
        {"pyproject.toml": PYPROJECT, "calc.py": CALC, "tests/test_calc.py": TEST},
    )
    reporter = TimingReporter()
    options = RunOptions(
        request="benchmark the turn loop",
        repo=repo,
        model=MODEL,
        base_url=url,
        api_key=API_KEY,
        budget=Budget(max_turns=turns + 10, max_cost=1e9, timeout=3600.0),
        branch=f"bench-{tag}",
        commit=False,
        sandbox="off",
        max_tokens=MAX_TOKENS,
        api_retries=0,
    )
    outcome = start_run(options, reporter)
    if outcome.status != "stopped" or "refused" not in outcome.reason:
        raise RuntimeError(f"the run did not end on the scripted refusal: {outcome}")
    window, replies = reporter.turn_window()
    if replies != turns + 1 or outcome.turns != turns + 1:
        raise RuntimeError(f"expected {turns + 1} turns, got {replies}: {outcome}")
    return window / replies, reporter.model_time() / replies


def _strip_cache(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_cache(v) for k, v in value.items() if k != "cache_control"}
    if isinstance(value, list):
        return [_strip_cache(v) for v in value]
    return value


def baseline_inputs(fake: FakeAnthropic) -> Inputs:
    """System, tools, first message and tool output exactly as the runner sent them."""
    requests = [r.body for r in fake.message_requests]
    first, second = _strip_cache(requests[0]), _strip_cache(requests[1])
    tool_output = second["messages"][-1]["content"][0]["content"]
    return first["system"], first["tools"], first["messages"][0], tool_output


def baseline_once(url: str, inputs: Inputs, as_dicts: bool = True) -> Clock:
    """Time per turn of the bare SDK loop over the same conversation.

    With `as_dicts` each reply is appended as plain dicts (converted once): the cheapest
    loop. Without, the SDK's pydantic blocks go back as they came (the idiom of the SDK's
    docs), and the SDK serialises them all again on every request."""
    import anthropic

    system, tools, first, tool_output = inputs
    client = anthropic.Anthropic(api_key=API_KEY, base_url=url, max_retries=0)
    messages: list[Any] = [copy.deepcopy(first)]
    calls = 0
    started = now()
    while True:
        with client.messages.stream(
            model=MODEL, max_tokens=MAX_TOKENS, system=system, tools=tools, messages=messages
        ) as stream:
            final = stream.get_final_message()
        calls += 1
        content = [b.to_dict() for b in final.content] if as_dicts else final.content
        messages.append({"role": "assistant", "content": content})
        if final.stop_reason != "tool_use":
            break
        results = [
            {"type": "tool_result", "tool_use_id": b.id, "content": tool_output, "is_error": False}
            for b in final.content
            if b.type == "tool_use"
        ]
        messages.append({"role": "user", "content": results})
    elapsed = now() - started
    client.close()
    return elapsed / calls


def tool_time(work: Path, calls: int = 2000) -> Clock:
    """Time per `view` of the benchmark file, called directly (no runner around it)."""
    root = work / "tool"
    root.mkdir()
    (root / "calc.py").write_text(CALC, encoding="utf-8")
    # `view` never runs a command, so the workspace needs no executor.
    workspace = Workspace(root=root, executor=cast(Any, None))
    editor = TextEditor()
    editor(workspace, VIEW)
    started = now()
    for _ in range(calls):
        editor(workspace, VIEW)
    return (now() - started) / calls


def profile_runner(url: str, work: Path, turns: int, top: int = 25) -> str:
    """cProfile of one run: the project's own functions by cumulative time, then everything
    by internal time (mostly the SDK and the fake server, which the baseline pays too)."""
    profiler = cProfile.Profile()
    profiler.enable()
    runner_once(url, work, turns, "profile")
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("cumulative").print_stats(r"/(agent|tools)/", top)
    stats.sort_stats("tottime").print_stats(top)
    return out.getvalue()


def pin_to_one_cpu() -> str:
    """Keep client and fake server on one core: no migrations between cores, which are the
    largest source of noise on a small shared machine. Both sides are pinned alike."""
    import os

    if not hasattr(os, "sched_setaffinity"):
        return ""
    cpu = max(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpu})
    return f", pinned to CPU {cpu}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=50, help="tool turns per run (N)")
    parser.add_argument("--reps", type=int, default=15, help="alternating runs of each side")
    parser.add_argument("--profile", action="store_true", help="cProfile one extra runner run")
    parser.add_argument("--no-pin", action="store_true", help="do not pin to one CPU")
    args = parser.parse_args(argv)
    n = args.turns
    pinned = "" if args.no_pin else pin_to_one_cpu()

    with FakeAnthropic(script(n)) as fake, tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        runner_once(fake.url, work, n, "warm")  # imports, template and SDK caches
        inputs = baseline_inputs(fake)
        baseline_once(fake.url, inputs)
        base: list[Clock] = []
        naive: list[Clock] = []
        run: list[Clock] = []
        in_model: list[Clock] = []
        for rep in range(args.reps):
            if rep % 2:  # alternate which side goes first
                base.append(baseline_once(fake.url, inputs))
            per_turn, model_part = runner_once(fake.url, work, n, str(rep))
            run.append(per_turn)
            in_model.append(model_part)
            if not rep % 2:
                base.append(baseline_once(fake.url, inputs))
            naive.append(baseline_once(fake.url, inputs, as_dicts=False))
        tool = tool_time(work) / ((n + 1) / n)  # N of the N+1 turns ran one view

        print(f"N = {n} tool turns + 1 last turn, {args.reps} reps{pinned}; medians, ms/turn")
        print(f"{'':34}{'CPU':>8}{'wall':>8}")
        rows = [
            ("baseline: bare SDK loop", base),
            ("naive SDK loop (pydantic replies)", naive),
            ("runner, incl. the view tool", run),
        ]
        for label, clocks in rows:
            cpu, wall = median([c.cpu for c in clocks]), median([c.wall for c in clocks])
            print(f"{label:34}{cpu * 1e3:8.3f}{wall * 1e3:8.3f}")
        print(f"{'view tool alone (subtracted)':34}{tool.cpu * 1e3:8.3f}{tool.wall * 1e3:8.3f}")
        net = [r - tool for r in run]
        own = [r - m for r, m in zip(net, in_model, strict=True)]
        cpu, wall = median([c.cpu for c in own]), median([c.wall for c in own])
        print(f"{'runner work outside model client':34}{cpu * 1e3:8.3f}{wall * 1e3:8.3f}")
        paired = {
            kind: median(
                [getattr(r, kind) / getattr(b, kind) for r, b in zip(net, base, strict=True)]
            )
            for kind in ("cpu", "wall")
        }
        best = {
            kind: min(getattr(r, kind) for r in net) / min(getattr(b, kind) for b in base)
            for kind in ("cpu", "wall")
        }
        print(f"{'ratio, median of paired reps':34}{paired['cpu']:8.3f}{paired['wall']:8.3f}")
        print(f"{'ratio, best rep / best rep':34}{best['cpu']:8.3f}{best['wall']:8.3f}")
        ratio = paired["cpu"]
        print(f"{verdict(ratio, TARGET)}: runner/baseline {ratio:.3f} (CPU), target <= {TARGET}")
        if args.profile or ratio > TARGET:
            print("\nprofile of one runner run (cProfile):")
            print(profile_runner(fake.url, work, n))
    return 0 if ratio <= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
