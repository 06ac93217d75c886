"""Replaying a recorded run: the model's recorded replies, fed back through the real tools and
the real gate on a new branch, with no API call. It shows whether a run's outcome still holds,
for example after a change to the gate, the tools or the repo's tests."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from agent.errors import StopRun
from agent.model import ModelResponse, RetryNotice, Usage


class ReplayModel:
    """A `Model` that answers with what the recorded run's model answered, turn for turn."""

    def __init__(self, name: str, replies: list[tuple[list[dict[str, Any]], str | None]]) -> None:
        self.name = name
        self.replies = replies

    @classmethod
    def from_events(cls, name: str, events: list[dict[str, Any]]) -> ReplayModel:
        replies = [
            (e["message"]["content"], e.get("stop_reason"))
            for e in events
            if e["type"] == "message" and e["message"]["role"] == "assistant"
        ]
        return cls(name, replies)

    def complete(
        self,
        *,
        system: list[dict[str, Any]],
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]],
        max_tokens: int,
        on_text: Callable[[str], None] | None = None,
        on_retry: Callable[[RetryNotice], None] | None = None,
    ) -> ModelResponse:
        # Chosen by conversation state, so a resumed replay picks up at the right reply.
        turn = sum(1 for m in messages if m["role"] == "assistant")
        if turn >= len(self.replies):
            raise StopRun(f"the recording ends after {len(self.replies)} replies")
        content, stop_reason = self.replies[turn]
        for block in content:
            if block.get("type") == "text" and on_text:
                on_text(block["text"] + "\n")
        # No tokens were spent, so none are counted: a replay costs nothing.
        return ModelResponse(copy.deepcopy(content), stop_reason, Usage(), self.name)

    def count_tokens(
        self,
        *,
        system: list[dict[str, Any]],
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]],
    ) -> int | None:
        return None
