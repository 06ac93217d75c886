"""Which events start a run: pure rules on the payload, and the printed Actions workflow."""

from __future__ import annotations

import yaml

from github_bot.events import Skip, Trigger, parse_command, read_event
from tests.conftest import ROOT, cli_env, run_cli


def payload(**changes: object) -> dict:
    base: dict = {
        "action": "labeled",
        "label": {"name": "backend-agent"},
        "issue": {"number": 7, "state": "open", "title": "T", "body": "B"},
        "repository": {"full_name": "acme/api", "clone_url": "https://github.com/acme/api.git"},
        "sender": {"login": "mona", "type": "User"},
        "installation": {"id": 99},
    }
    return base | changes


def test_commands_need_the_exact_word_and_keep_the_rest_as_instruction():
    assert parse_command("/backend-agent") == ""
    assert parse_command("  /backend-agent  use sqlite\nplease ") == "use sqlite\nplease"
    assert parse_command("/backend-agentx do it") is None
    assert parse_command("please /backend-agent") is None


def test_label_and_comment_triggers_and_what_is_skipped():
    trigger = read_event("issues", payload())
    assert trigger == Trigger(
        "acme", "api", 7, "mona", "", None, 99, "https://github.com/acme/api.git"
    )
    comment = {"id": 5, "body": "/backend-agent add tests", "user": {"login": "mona"}}
    by_comment = read_event("issue_comment", payload(action="created", comment=comment))
    assert isinstance(by_comment, Trigger)
    assert by_comment.instruction == "add tests" and by_comment.comment_id == 5
    skipped = {
        "other label": read_event("issues", payload(label={"name": "bug"})),
        "bot": read_event("issues", payload(sender={"login": "x[bot]", "type": "Bot"})),
        "own": read_event(
            "issue_comment",
            payload(action="created", comment=comment | {"user": {"login": "me"}}),
            bot_login="me",
        ),
        "edited": read_event("issue_comment", payload(action="edited", comment=comment)),
        "closed": read_event("issues", payload(issue={"number": 7, "state": "closed"})),
        "pull": read_event(
            "issue_comment",
            payload(
                action="created",
                comment=comment,
                issue={"number": 7, "state": "open", "pull_request": {}},
            ),
        ),
        "push": read_event("push", payload()),
    }
    for name, decision in skipped.items():
        assert isinstance(decision, Skip) and decision.reason, name


def test_workflow_has_the_triggers_permissions_concurrency_and_timeout():
    result = run_cli("github", "workflow", "--label", "bot-please", cwd=ROOT, env=cli_env())
    assert result.returncode == 0, result.stderr
    flow = yaml.safe_load(result.stdout)
    assert flow[True] == {"issues": {"types": ["labeled"]}, "issue_comment": {"types": ["created"]}}
    assert flow["permissions"] == {"contents": "write", "issues": "write", "pull-requests": "write"}
    assert "github.event.issue.number" in flow["concurrency"]["group"]
    [job] = flow["jobs"].values()
    assert job["timeout-minutes"] == 90 and "'bot-please'" in job["if"]
    step = job["steps"][-1]
    assert step["run"].startswith("backend-agent github handle")
    assert step["env"]["ANTHROPIC_API_KEY"] == "${{ secrets.ANTHROPIC_API_KEY }}"
