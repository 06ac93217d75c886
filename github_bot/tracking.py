"""The one comment per issue that the bot keeps up to date. Its hidden first line carries the
issue's bot state (branch, pull request, cost of each run), so a re-trigger finds the same
branch, pull request and comment, from Actions as from the server."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from github_bot.client import GitHub
from github_bot.render import money, render

MARKER = re.compile(r"\A<!-- backend-agent:tracking (\{.*?\}) -->")


@dataclass
class IssueState:
    branch: str | None = None
    pull: int | None = None
    runs: dict[str, float | None] = field(default_factory=dict)  # run id -> cost

    @property
    def cost(self) -> float:
        return sum(c or 0.0 for c in self.runs.values())


class Tracking:
    """Find-or-create, then edit: never a second tracking comment on one issue."""

    def __init__(self, gh: GitHub, owner: str, name: str, number: int, bot_login: str) -> None:
        self.gh, self.owner, self.name, self.number = gh, owner, name, number
        self.comment_id: int | None = None
        self.state = IssueState()
        for comment in gh.comments(owner, name, number):
            match = MARKER.match(comment.get("body") or "")
            # Only the bot's own comment counts: anyone can paste the marker into theirs.
            if match and (comment.get("user") or {}).get("login") == bot_login:
                self.comment_id = int(comment["id"])
                data = json.loads(match.group(1))
                self.state = IssueState(data.get("branch"), data.get("pull"), data.get("runs", {}))
                break

    def update(
        self,
        headline: str,
        *,
        run_id: str | None = None,
        gate: list[dict[str, Any]] | None = None,
        gate_round: int = 0,
        turns: int = 0,
        cost: float | None = 0.0,
        details: str = "",
        draft: bool = False,
    ) -> None:
        body = render(
            "tracking.md.j2",
            state_json=json.dumps(self.state.__dict__, sort_keys=True),
            headline=headline,
            run_id=run_id,
            gate=gate or [],
            gate_round=gate_round,
            turns=turns,
            cost=money(cost),
            issue_cost=money(self.state.cost),
            pull=self.state.pull,
            draft=draft,
            details=details,
        )
        if self.comment_id is None:
            self.comment_id = int(self.gh.comment(self.owner, self.name, self.number, body)["id"])
        else:
            self.gh.edit_comment(self.owner, self.name, self.comment_id, body)
