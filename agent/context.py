"""Keeping a long conversation inside the model's context window.

Old tool output is the bulk of a coding session and the least needed part of it, so that is
what goes. It is cleared in one batch, down to the newest few results, so that the cached
prefix changes once per clearing rather than on every turn. A session of hundreds of turns
outgrows the window even so (every turn leaves its tool call and a placeholder behind); then
the oldest exchanges are dropped whole, again in one batch, keeping the task."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from agent.prompts import render

CHARS_PER_TOKEN = 3.5
LONG_INPUT = 400  # characters of a tool_use input value worth clearing too
DROPPED_NOTE = (
    "[older messages of this conversation were removed to save context; the files on disk "
    "are current, so read them again if you need something from before]"
)


def estimate_tokens(payload: Any) -> int:
    text = payload if isinstance(payload, str) else json.dumps(payload, ensure_ascii=False)
    return int(len(text) / CHARS_PER_TOKEN) + 1


def clear_before(messages: list[dict[str, Any]], upto: int) -> int:
    """Replace tool results (and long tool inputs) in messages[:upto]; returns how many."""
    placeholder = render("cleared_tool_result.md.j2").strip()
    cleared = 0
    for message in messages[:upto]:
        content = message.get("content")
        if not isinstance(content, list):
            continue
        for block in content:
            if block.get("type") == "tool_result" and block.get("content") != placeholder:
                block["content"] = placeholder
                cleared += 1
            elif block.get("type") == "tool_use" and isinstance(block.get("input"), dict):
                for key, value in block["input"].items():
                    if isinstance(value, str) and len(value) > LONG_INPUT:
                        block["input"][key] = placeholder
                        cleared += 1
    return cleared


def drop_before(messages: list[dict[str, Any]], upto: int) -> int:
    """Remove messages[1:upto], whole exchanges, keeping the task in messages[0]; the task
    gains a note so the model knows its memory has a gap. Returns how many went."""
    if upto <= 1:
        return 0
    del messages[1:upto]
    task = messages[0]
    content = task["content"]
    blocks = [{"type": "text", "text": content}] if isinstance(content, str) else list(content)
    if not any(b.get("text") == DROPPED_NOTE for b in blocks):
        task["content"] = [*blocks, {"type": "text", "text": DROPPED_NOTE}]
    return upto - 1


@dataclass
class ContextPolicy:
    window: int
    threshold: float = 0.7
    keep_recent: int = 6  # the newest messages are never cleared

    def limit(self) -> int:
        return int(self.window * self.threshold)

    def clearing_point(
        self,
        messages: list[dict[str, Any]],
        estimate: int,
        count: Callable[[], int | None],
    ) -> int | None:
        """Where to clear up to, or None when the conversation still fits.

        `estimate` is cheap and slightly pessimistic; the server's token counter, when it has
        one, is asked only when the estimate is over the limit, to avoid a needless clearing."""
        if estimate < self.limit():
            return None
        counted = count()
        if counted is not None and counted < self.limit():
            return None
        upto = len(messages) - self.keep_recent
        return upto if upto > 1 else None

    def dropping_point(self, messages: list[dict[str, Any]], fixed: int) -> int | None:
        """After clearing: where the kept conversation should resume (drop messages[1:upto]),
        or None when it now fits. Drops down to half the limit so that this happens rarely.

        `fixed` is the estimate of what every request carries besides the messages (system
        prompt, tools). The cut lands before an assistant message, so roles still alternate
        and every tool result stays right after its tool call."""
        sizes = [estimate_tokens(m) for m in messages]
        total = fixed + sum(sizes)
        if total < self.limit():
            return None
        upto = None
        for i in range(2, len(messages) - self.keep_recent + 1):
            total -= sizes[i - 1]
            if messages[i].get("role") == "assistant":
                upto = i
                if total <= self.limit() // 2:
                    break
        return upto
