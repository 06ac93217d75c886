"""A 200-turn session in a 20 000-token window: it ends green, and no request outgrows the
window, because old tool output is cleared and, once that is not enough, old exchanges dropped.
Every request stays a valid conversation, and replaying the transcript rebuilds it exactly."""

from __future__ import annotations

import itertools
import json
import threading
import time
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from agent.context import (
    CHARS_PER_TOKEN,
    DROPPED_NOTE,
    ContextPolicy,
    clear_before,
    drop_before,
    estimate_tokens,
)
from agent.prompts import render
from agent.runner import RunState
from tests.conftest import git
from tests.fakes.anthropic_server import Turn, tool_use
from tests.test_faults import make_repo, read_transcript

TOOL_TURNS = 200
WINDOW = 20_000
PLACEHOLDER = render("cleared_tool_result.md.j2").strip()


class Countdown:
    """`TOOL_TURNS` bash calls, each printing ~3.5 KB, then "done".

    Counted by requests served, not by assistant messages in the request (the fake's usual
    key): once old exchanges are dropped, that count no longer says how far the session is.
    Ids are explicit so they stay unique across the whole session."""

    def __init__(self, turns: int) -> None:
        self.turns = turns
        self.served = 0
        self.lock = threading.Lock()

    def __call__(self, k: int) -> Turn:
        with self.lock:
            n, self.served = self.served, self.served + 1
        if n >= self.turns:
            return Turn.end("Printed every batch of numbers.")
        command = f"seq {10_000 + n} {10_700 + n}"
        return Turn.tools(tool_use("bash", {"command": command}, id=f"toolu_long_{n:04d}"))


def tokens(payload: Any) -> float:
    """The runner's own estimate (characters / 3.5), which overestimates the fake's count."""
    return len(json.dumps(payload)) / CHARS_PER_TOKEN


def blocks(message: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    content = message["content"]
    return [] if isinstance(content, str) else [b for b in content if b.get("type") == kind]


def assert_valid_conversation(messages: list[dict[str, Any]]) -> None:
    """Starts with the user, roles alternate, and the tool results of each user message are
    exactly the tool calls of the assistant message before it, in order."""
    assert messages[0]["role"] == "user"
    assert not blocks(messages[0], "tool_result")
    for before, after in itertools.pairwise(messages):
        assert before["role"] != after["role"]
        if before["role"] == "assistant":
            calls = [b["id"] for b in blocks(before, "tool_use")]
            assert [b["tool_use_id"] for b in blocks(after, "tool_result")] == calls
    ids = [b["id"] for m in messages for b in blocks(m, "tool_use")]
    assert len(ids) == len(set(ids))


def without_cache_marks(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: without_cache_marks(v) for k, v in value.items() if k != "cache_control"}
    if isinstance(value, list):
        return [without_cache_marks(v) for v in value]
    return value


def test_two_hundred_turns_stay_inside_a_small_window(tmp_path: Path, cli, fake_api) -> None:
    repo = make_repo(tmp_path / "repo", context_window=WINDOW)
    api = fake_api(Countdown(TOOL_TURNS))
    started = time.monotonic()
    result = cli(
        "print numbers",
        "--base-url",
        api.url,
        "--max-turns",
        "250",
        "--max-cost",
        "1000",
        cwd=repo,
        timeout=300,
    )
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stderr[-3000:]
    assert git(repo, "status", "--porcelain") == ""
    assert elapsed < 240, f"{TOOL_TURNS} turns took {elapsed:.0f} s"

    requests = api.message_requests
    assert len(requests) == TOOL_TURNS + 1
    for n, request in enumerate(requests):
        body = request.body
        assert tokens(body) < WINDOW, f"request {n} is ~{tokens(body):.0f} tokens"
        messages = body["messages"]
        assert_valid_conversation(messages)
        if n:  # the newest tool result always goes out whole
            newest = blocks(messages[-1], "tool_result")[-1]["content"]
            assert newest.startswith(f"{10_000 + n - 1}\n") and f"\n{10_700 + n - 1}\n" in newest
    last = requests[-1].body["messages"]
    results = [b for m in last for b in blocks(m, "tool_result")]
    assert sum(b["content"] == PLACEHOLDER for b in results) >= 1
    assert last[0]["content"][-1] == {"type": "text", "text": DROPPED_NOTE}
    assert len(last) < 2 * TOOL_TURNS, "old exchanges were dropped"

    events = read_transcript(repo)
    cleared = [e for e in events if e["type"] == "context_cleared"]
    dropped = [e for e in events if e["type"] == "context_dropped"]
    assert len(cleared) >= 5 and len(dropped) >= 1
    assert len(cleared) < TOOL_TURNS / 2, "clearing comes in batches, not on every turn"
    # Each clearing really shrank the next request (none is a no-op repeated every turn).
    after_clearing, pending = [], False
    for event in events:
        if event["type"] == "context_cleared":
            pending = True
        elif event["type"] == "request" and pending:
            after_clearing.append(event["turn"] - 1)  # index into the requests served
            pending = False
    sizes = [len(json.dumps(r.body)) for r in requests]
    assert len(after_clearing) == len(cleared)
    assert all(sizes[n] < sizes[n - 1] for n in after_clearing)
    # The transcript replays to the conversation the last request carried, plus the reply.
    replayed = RunState.replay(events)
    assert replayed.messages[:-1] == without_cache_marks(last)
    assert replayed.turns == TOOL_TURNS + 1


@st.composite
def conversations(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Task, then exchanges as the runner makes them: tool calls and their results, or a
    final answer and a gate report; sometimes ending on the assistant (a forced clearing)."""
    messages: list[dict[str, Any]] = [{"role": "user", "content": "add a mul function\n"}]
    for n in range(draw(st.integers(0, 60))):
        calls = draw(st.integers(0, 3))
        size = draw(st.integers(0, 3000))
        if calls:
            uses = [
                {"type": "tool_use", "id": f"t{n}_{i}", "name": "bash", "input": {"command": "ls"}}
                for i in range(calls)
            ]
            results = [
                {"type": "tool_result", "tool_use_id": u["id"], "content": "x" * size} for u in uses
            ]
            messages += [
                {"role": "assistant", "content": uses},
                {"role": "user", "content": results},
            ]
        else:
            messages += [
                {"role": "assistant", "content": [{"type": "text", "text": "done " * 10}]},
                {"role": "user", "content": "gate red: " + "y" * size},
            ]
    if draw(st.booleans()) and len(messages) > 1:
        messages.pop()
    return messages


@settings(max_examples=300, deadline=None)
@given(messages=conversations(), window=st.integers(1000, 60_000), fixed=st.integers(0, 3000))
def test_dropping_keeps_a_valid_conversation(
    messages: list[dict[str, Any]], window: int, fixed: int
) -> None:
    policy = ContextPolicy(window=window)
    recent = json.dumps(messages[-policy.keep_recent :])
    upto = policy.clearing_point(messages, window, lambda: None)
    if upto is not None:
        clear_before(messages, upto)
    before = len(messages)
    keep = policy.dropping_point(messages, fixed)
    if keep is None:
        return
    assert drop_before(messages, keep) == keep - 1 > 0
    assert_valid_conversation(messages)
    assert messages[0]["content"] == [
        {"type": "text", "text": "add a mul function\n"},
        {"type": "text", "text": DROPPED_NOTE},
    ]
    assert len(messages) >= policy.keep_recent + 1 and len(messages) < before
    assert json.dumps(messages[-policy.keep_recent :]) == recent, "the newest stay untouched"
    if len(messages) > policy.keep_recent + 2:  # it could have dropped more: it did not need to
        assert fixed + estimate_tokens(messages) <= policy.limit() // 2 + 200
