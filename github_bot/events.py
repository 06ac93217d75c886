"""Which webhook events the bot acts on, and who asked. Pure functions of the payload: no I/O,
so the server can answer a webhook at once and the rules read in one place."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

COMMAND = "/backend-agent"
DEFAULT_LABEL = "backend-agent"


@dataclass(frozen=True)
class Trigger:
    """One request for a run on one issue. `actor` is who labelled or commented; None when a
    person runs `handle --repo --issue` by hand with their own token."""

    owner: str
    name: str
    issue: int
    actor: str | None = None
    instruction: str = ""  # text after `/backend-agent`: untrusted, like the issue itself
    comment_id: int | None = None
    installation_id: int | None = None
    clone_url: str | None = None

    @property
    def repo(self) -> str:
        return f"{self.owner}/{self.name}"


@dataclass(frozen=True)
class Skip:
    """An event the bot does not act on, and why (answered to GitHub, shown in logs)."""

    reason: str


def read_event(
    event_name: str, payload: dict[str, Any], *, label: str = DEFAULT_LABEL, bot_login: str = ""
) -> Trigger | Skip:
    """The trigger in an `issues` or `issue_comment` event, or why there is none."""
    action = payload.get("action")
    if event_name not in ("issues", "issue_comment"):
        return Skip(f"the {event_name!r} event is not acted on")
    issue, sender = payload.get("issue") or {}, payload.get("sender") or {}
    repository = payload.get("repository") or {}
    if not issue.get("number") or "/" not in repository.get("full_name", ""):
        return Skip(f"{event_name} payload without an issue or a repository")
    if sender.get("type") == "Bot":
        return Skip(f"sender {sender.get('login')} is a bot")
    instruction, comment_id = "", None
    if event_name == "issues":
        if action != "labeled":
            return Skip(f"issues.{action} is not acted on")
        added = (payload.get("label") or {}).get("name")
        if added != label:
            return Skip(f"label {added!r} is not {label!r}")
    else:
        if action != "created":
            return Skip(f"issue_comment.{action} is not acted on")
        comment = payload.get("comment") or {}
        if bot_login and (comment.get("user") or {}).get("login") == bot_login:
            return Skip("the bot's own comment")
        command = parse_command(comment.get("body") or "")
        if command is None:
            return Skip(f"the comment does not start with {COMMAND}")
        if "pull_request" in issue:
            return Skip("comments on pull requests are not acted on")
        instruction, comment_id = command, comment.get("id")
    if issue.get("state") == "closed":
        return Skip(f"issue #{issue['number']} is closed")
    owner, name = repository["full_name"].split("/", 1)
    return Trigger(
        owner=owner,
        name=name,
        issue=int(issue["number"]),
        actor=sender.get("login"),
        instruction=instruction,
        comment_id=comment_id,
        installation_id=(payload.get("installation") or {}).get("id"),
        clone_url=repository.get("clone_url"),
    )


def parse_command(body: str) -> str | None:
    """The extra instruction of a `/backend-agent ...` comment ('' for none), or None when the
    comment is not a command (`/backend-agentx` is not one)."""
    text = body.lstrip()
    if not text.startswith(COMMAND):
        return None
    rest = text[len(COMMAND) :]
    if rest and not rest[0].isspace():
        return None
    return rest.strip()
