"""The runner end to end: the real CLI, the real SDK, a fake API server, a real git repo."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import git
from tests.fakes.anthropic_server import Turn, tool_use

EDITOR = "str_replace_based_edit_tool"


def create(path: str, text: str) -> dict:
    return tool_use(EDITOR, {"command": "create", "path": path, "file_text": text})


def replace_text(path: str, old: str, new: str) -> dict:
    return tool_use(
        EDITOR, {"command": "str_replace", "path": path, "old_str": old, "new_str": new}
    )


BUGGY_MUL = "def mul(a: int, b: int) -> int:\n    return a + b\n"
MUL_TEST = "from mul import mul\n\n\ndef test_mul() -> None:\n    assert mul(2, 3) == 6\n"

RED_THEN_GREEN = [
    Turn.tools(create("mul.py", BUGGY_MUL), create("tests/test_mul.py", MUL_TEST), text="Adding."),
    Turn.end("Added mul."),
    Turn.tools(replace_text("mul.py", "return a + b", "return a * b")),
    Turn.end("Added `mul`, which multiplies two integers, with a test."),
]


def events(repo: Path) -> list[dict]:
    runs = sorted((repo / ".git" / "backend-agent" / "runs").iterdir())
    lines = (runs[-1] / "transcript.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


def test_red_gate_then_fix_ends_green_with_one_commit(calc_repo, cli, fake_api):
    api = fake_api(RED_THEN_GREEN)
    result = cli("add a mul function", "--base-url", api.url, cwd=calc_repo)
    assert result.returncode == 0, result.stderr
    assert "green" in result.stdout
    branch = "backend-agent/add-a-mul-function"
    # The user's checkout is back where it was; the change waits on the run's branch.
    assert git(calc_repo, "branch", "--show-current") == "main"
    assert f"git switch {branch}" in result.stderr + result.stdout
    assert "your checkout is back on main" in result.stderr + result.stdout
    assert not (calc_repo / "mul.py").exists()
    assert git(calc_repo, "rev-list", "--count", f"main..{branch}") == "1"
    git(calc_repo, "switch", "-q", branch)
    message = git(calc_repo, "log", "-1", "--format=%B")
    assert message.startswith("Add a mul function\n")
    assert "Added `mul`, which multiplies" in message
    assert "Backend-Agent-Status: verified" in message
    assert "tests: passed" in message
    assert "mul.py" in result.stdout  # the diffstat
    assert (calc_repo / "mul.py").read_text().endswith("return a * b\n")
    assert git(calc_repo, "status", "--porcelain") == ""

    gates = [e for e in events(calc_repo) if e["type"] == "gate"]
    assert [g["ok"] for g in gates] == [False, True]
    failed = {c["name"] for c in gates[0]["checks"] if not c["ok"]}
    assert failed == {"tests"}
    # The red report went back to the model, naming the failing test.
    third = api.message_requests[2].body["messages"][-1]
    assert third["role"] == "user" and "test_mul" in json.dumps(third)


def test_cache_breakpoints_on_tools_system_and_newest_message(calc_repo, cli, fake_api):
    api = fake_api(RED_THEN_GREEN)
    assert cli("add a mul function", "--base-url", api.url, cwd=calc_repo).returncode == 0
    for request in api.message_requests:
        body = request.body
        assert body["tools"][-1]["cache_control"] == {"type": "ephemeral"}
        assert body["system"][-1]["cache_control"] == {"type": "ephemeral"}
        last = body["messages"][-1]["content"]
        assert isinstance(last, list) and last[-1]["cache_control"] == {"type": "ephemeral"}
        marked = json.dumps(body["messages"][:-1]).count("cache_control")
        assert marked == 0, "only the newest message carries a breakpoint"
        assert body["stream"] is True


def test_tool_calls_of_one_turn_run_in_order_and_return_together(calc_repo, cli, fake_api):
    api = fake_api(RED_THEN_GREEN)
    assert cli("add a mul function", "--base-url", api.url, cwd=calc_repo).returncode == 0
    second = api.message_requests[1].body["messages"]
    results = second[-1]["content"]
    uses = [b for b in second[-2]["content"] if b["type"] == "tool_use"]
    assert [r["tool_use_id"] for r in results] == [u["id"] for u in uses]
    assert all(r["type"] == "tool_result" and not r["is_error"] for r in results)


def test_bad_tool_input_and_unknown_tool_go_back_as_errors(calc_repo, cli, fake_api):
    api = fake_api(
        [
            Turn.tools(
                tool_use("no_such_tool", {"x": 1}),
                tool_use(EDITOR, {"command": "view"}),
                tool_use(EDITOR, {"command": "create", "path": "../escape.py", "file_text": "x"}),
                tool_use("bash", {"command": "echo hi; exit 3"}),
            ),
            Turn.end("Nothing to change."),
        ]
    )
    result = cli("look around", "--base-url", api.url, cwd=calc_repo)
    assert result.returncode == 0, result.stderr
    results = api.message_requests[1].body["messages"][-1]["content"]
    assert [r["is_error"] for r in results[:3]] == [True, True, True]
    assert "Unknown tool 'no_such_tool'" in results[0]["content"]
    assert not (calc_repo.parent / "escape.py").exists()
    assert "hi" in results[3]["content"] and "3" in results[3]["content"]


def test_json_output_is_one_event_per_line(calc_repo, cli, fake_api):
    api = fake_api(RED_THEN_GREEN)
    result = cli("add a mul function", "--base-url", api.url, "--json", cwd=calc_repo)
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    kinds = {e["type"] for e in lines}
    assert {"run_start", "tool_call", "tool_result", "gate", "usage", "text", "outcome"} <= kinds
    assert lines[-1]["type"] == "outcome" and lines[-1]["status"] == "green"


def test_worktree_leaves_the_users_checkout_untouched(calc_repo, cli, fake_api):
    api = fake_api(RED_THEN_GREEN)
    (calc_repo / "notes.txt").write_text("uncommitted work of the user\n")
    result = cli("add a mul function", "--base-url", api.url, "--worktree", cwd=calc_repo)
    assert result.returncode == 0, result.stderr
    assert git(calc_repo, "branch", "--show-current") == "main"
    assert not (calc_repo / "mul.py").exists()
    assert (calc_repo / "notes.txt").exists()
    assert git(calc_repo, "log", "-1", "--format=%s", "backend-agent/add-a-mul-function") == (
        "Add a mul function"
    )


def test_runs_and_show_render_the_transcript(calc_repo, cli, fake_api):
    api = fake_api(RED_THEN_GREEN)
    assert cli("add a mul function", "--base-url", api.url, cwd=calc_repo).returncode == 0
    listed = cli("runs", cwd=calc_repo)
    assert listed.returncode == 0 and "add-a-mul-function" in listed.stdout
    assert "green" in listed.stdout
    shown = cli("show", "last", cwd=calc_repo)
    assert shown.returncode == 0, shown.stderr
    assert "Added `mul`" in shown.stdout
    assert "verification round 1: red" in shown.stdout
    assert "verification round 2: green" in shown.stdout
    assert "create mul.py" in shown.stdout
    full = cli("show", "last", "--full", cwd=calc_repo)
    assert "File created successfully at: mul.py" in full.stdout
    assert "assert 5 == 6" in full.stdout  # the red round's report, as the model saw it


def test_refusal_stops_and_says_so(calc_repo, cli, fake_api):
    api = fake_api([Turn([{"type": "text", "text": "I can't help with that."}], "refusal")])
    result = cli("do something bad", "--base-url", api.url, cwd=calc_repo)
    assert result.returncode == 1
    assert "refused" in result.stderr


def test_max_tokens_asks_the_model_to_continue(calc_repo, cli, fake_api):
    api = fake_api(
        [
            Turn([{"type": "text", "text": "Let me expl"}], "max_tokens"),
            Turn.end("Done, nothing to do."),
        ]
    )
    result = cli("explain", "--base-url", api.url, cwd=calc_repo)
    assert result.returncode == 0, result.stderr
    nudge = api.message_requests[1].body["messages"][-1]
    assert nudge["role"] == "user" and "cut off" in json.dumps(nudge)


def test_pause_turn_is_sent_back_unchanged(calc_repo, cli, fake_api):
    api = fake_api([Turn([{"type": "text", "text": "Working"}], "pause_turn"), Turn.end("Done.")])
    result = cli("explain", "--base-url", api.url, cwd=calc_repo)
    assert result.returncode == 0, result.stderr
    second = api.message_requests[1].body["messages"]
    assert second[-1]["role"] == "assistant"


def bash_turn(k: int) -> Turn:
    return Turn.tools(tool_use("bash", {"command": f"echo step {k}"}))


def test_context_window_exceeded_clears_old_output_and_continues(calc_repo, cli, fake_api):
    overflow = Turn([{"type": "text", "text": "Cut"}], "model_context_window_exceeded")
    api = fake_api([*[bash_turn(k) for k in range(6)], overflow, Turn.end("Done.")])
    result = cli("look", "--base-url", api.url, cwd=calc_repo)
    assert result.returncode == 0, result.stderr
    cleared = [e for e in events(calc_repo) if e["type"] == "context_cleared"]
    assert len(cleared) == 1
    messages = api.message_requests[-1].body["messages"]
    first_result = messages[2]["content"][0]
    assert first_result["content"].startswith("[older tool output cleared")
    assert messages[-1]["role"] == "user"  # the cut reply was answered with a continue note


def test_context_window_exceeded_with_nothing_to_clear_stops(calc_repo, cli, fake_api):
    overflow = Turn([{"type": "text", "text": "Cut"}], "model_context_window_exceeded")
    api = fake_api([overflow])
    result = cli("look", "--base-url", api.url, cwd=calc_repo)
    assert result.returncode == 1
    assert "no longer fits the model's context window" in result.stderr
