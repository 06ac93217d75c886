"""Budgets, stops and bad input: each ends with a clear line, an exit code, and nothing lost."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import cli_env, git, init_repo
from tests.fakes.anthropic_server import Turn, tool_use
from tests.test_run import RED_THEN_GREEN, create, events


def bash(command: str) -> dict:
    return tool_use("bash", {"command": command})


def test_turn_budget_stops_with_a_wip_commit_and_resume_finishes(calc_repo, cli, fake_api):
    api = fake_api(RED_THEN_GREEN)
    result = cli("add a mul function", "--base-url", api.url, "--max-turns", "1", cwd=calc_repo)
    assert result.returncode == 1
    assert "turn budget spent (1 of 1 turns)" in result.stderr
    assert "resume" in result.stderr
    branch = "backend-agent/add-a-mul-function"
    message = git(calc_repo, "log", "-1", "--format=%B", branch)
    assert message.startswith("WIP (incomplete): Add a mul function")
    assert "Backend-Agent-Status: incomplete" in message
    assert git(calc_repo, "show", f"{branch}:mul.py")

    resumed = cli("resume", "last", "--max-turns", "10", "--base-url", api.url, cwd=calc_repo)
    assert resumed.returncode == 0, resumed.stderr
    assert git(calc_repo, "rev-list", "--count", f"main..{branch}") == "1", "WIP folded into one"
    assert "Backend-Agent-Status: verified" in git(calc_repo, "log", "-1", "--format=%B", branch)
    # The resumed session carried on the conversation rather than starting over.
    assert len(api.message_requests[1].body["messages"]) == 3


def test_cost_budget_refuses_a_call_that_could_cross_it(calc_repo, cli, fake_api):
    api = fake_api(RED_THEN_GREEN)
    result = cli("add a mul function", "--base-url", api.url, "--max-cost", "0.01", cwd=calc_repo)
    assert result.returncode == 1
    assert "cost budget" in result.stderr and "--max-cost $0.01" in result.stderr
    assert api.message_requests == [], "the dearest call is refused before it is made"


def test_cost_budget_is_never_overshot_across_turns(calc_repo, cli, fake_api):
    turns = [Turn.tools(bash("true"), output_tokens=2000) for _ in range(30)]
    api = fake_api(turns)
    result = cli(
        "loop", "--base-url", api.url, "--max-cost", "0.30", "--max-tokens", "4000", cwd=calc_repo
    )
    assert result.returncode == 1 and "cost budget" in result.stderr
    spent = sum(e["cost"] for e in events(calc_repo) if e["type"] == "usage")
    assert 0 < spent <= 0.30
    assert len(api.message_requests) < 30


def test_unknown_model_cost_is_unknown_not_zero(calc_repo, cli, fake_api):
    api = fake_api(RED_THEN_GREEN)
    result = cli(
        "add a mul function",
        "--base-url",
        api.url,
        "--model",
        "local-model",
        "--json",
        cwd=calc_repo,
    )
    assert result.returncode == 0, result.stderr
    outcome = json.loads(result.stdout.splitlines()[-1])
    assert outcome["cost"] is None
    assert "Cost: unknown" in git(
        calc_repo, "log", "-1", "--format=%B", "backend-agent/add-a-mul-function"
    )
    warning = next(e for e in map(json.loads, result.stdout.splitlines()) if e["type"] == "warning")
    assert "--max-cost not enforced" in warning["message"]


def test_time_budget_bounds_a_slow_command(calc_repo, cli, fake_api):
    api = fake_api([Turn.tools(bash("sleep 30")), Turn.end("done")])
    result = cli("wait", "--base-url", api.url, "--timeout", "3", cwd=calc_repo, timeout=60)
    assert result.returncode == 1
    assert "time budget spent" in result.stderr


def test_gate_round_budget_names_what_is_still_red(calc_repo, cli, fake_api):
    api = fake_api(RED_THEN_GREEN)
    result = cli(
        "add a mul function", "--base-url", api.url, "--max-gate-rounds", "1", cwd=calc_repo
    )
    assert result.returncode == 1
    assert "verification still red after 1 round;" in result.stderr
    assert "still red: tests" in result.stderr


def test_not_a_git_repo(tmp_path, cli):
    result = cli("add books resource", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().startswith("backend-agent: error: not a git repository")
    assert len(result.stderr.strip().splitlines()) == 1


def test_dirty_tree_is_refused_unless_allowed(calc_repo, cli, fake_api):
    (calc_repo / "calc.py").write_text("def add(a, b):\n    return a - b\n")
    result = cli("add books resource", cwd=calc_repo)
    assert result.returncode == 2 and "uncommitted changes" in result.stderr
    assert "--allow-dirty" in result.stderr
    assert git(calc_repo, "branch", "--show-current") == "main"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("no front matter\n", "missing YAML front matter"),
        ("---\nname: [unclosed\n---\nbody\n", "invalid YAML front matter"),
        ("---\ndescription: d\n---\nbody\n", "field 'name' is required"),
        ("---\nname: x\n---\nbody\n", "field 'description' is required"),
        ("---\nname: x\ndescription: d\nmaxTurns: -1\n---\nbody\n", "'maxTurns' must be"),
    ],
)
def test_bad_spec_is_one_line_naming_file_and_field(calc_repo, cli, spec, message):
    path = calc_repo.parent / "bad.md"
    path.write_text(spec)
    result = cli("x", "--agent", str(path), cwd=calc_repo)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and str(path) in lines[0] and message in lines[0]


def test_missing_spec_name_lists_what_exists(calc_repo, cli):
    result = cli("x", "--agent", "frontend", cwd=calc_repo)
    assert result.returncode == 2
    assert "no agent spec named 'frontend'" in result.stderr and "backend" in result.stderr


def test_bad_config_names_the_key(tmp_path, cli):
    repo = init_repo(tmp_path / "r", {"pyproject.toml": "[tool.backend-agent]\ntest_comand = 1\n"})
    result = cli("x", cwd=repo)
    assert result.returncode == 2 and "unknown key 'test_comand'" in result.stderr
    repo2 = init_repo(tmp_path / "r2", {"pyproject.toml": "[tool.backend-agent]\nmax = [\n"})
    assert "invalid TOML" in cli("x", cwd=repo2).stderr


def test_missing_api_key_is_a_usage_error_with_the_fix(calc_repo, cli):
    env = {k: v for k, v in cli_env().items() if k != "ANTHROPIC_API_KEY"}
    result = cli("add books resource", cwd=calc_repo, env=env)
    assert result.returncode == 2
    assert "ANTHROPIC_API_KEY" in result.stderr


def test_empty_request_and_unknown_flag_are_usage_errors(calc_repo, cli):
    assert cli("  ", cwd=calc_repo).returncode == 2
    bad = cli("x", "--max-turnz", "3", cwd=calc_repo)
    assert bad.returncode == 2 and "--max-turnz" in bad.stderr


def test_unreachable_server_exits_3_and_keeps_a_resumable_run(calc_repo, cli):
    result = cli(
        "add books resource",
        "--base-url",
        "http://127.0.0.1:9",
        "--api-retries",
        "1",
        cwd=calc_repo,
    )
    assert result.returncode == 3
    assert "connection refused" in result.stderr
    assert "backend-agent resume" in result.stderr
    assert any(e["type"] == "run_end" for e in events(calc_repo))


def test_repo_spec_overrides_builtin_and_its_tools_and_turns_are_honoured(calc_repo, cli, fake_api):
    agents = calc_repo / ".claude" / "agents"
    agents.mkdir(parents=True)
    (agents / "backend.md").write_text(
        "---\nname: backend\ndescription: Local override.\ntools: Read, Edit\nmaxTurns: 1\n"
        "model: haiku\n---\nYou are the local backend agent.\n"
    )
    git(calc_repo, "add", "-A")
    git(calc_repo, "commit", "-q", "-m", "spec")
    api = fake_api(RED_THEN_GREEN)
    result = cli("add a mul function", "--base-url", api.url, cwd=calc_repo)
    assert result.returncode == 1 and "turn budget spent (1 of 1" in result.stderr
    body = api.message_requests[0].body
    assert body["model"] == "claude-haiku-4-5"
    assert [t["name"] for t in body["tools"]] == ["str_replace_based_edit_tool"]
    assert body["system"][0]["text"].startswith("You are the local backend agent.")
    # An explicit --max-turns wins over the spec's maxTurns, even when it equals the default.
    again = cli(
        "add a mul function",
        "--base-url",
        api.url,
        "--max-turns",
        "60",
        "--worktree",
        cwd=calc_repo,
    )
    assert again.returncode == 0, again.stderr
    listed = cli("agents", cwd=calc_repo)
    assert "Local override." in listed.stdout and ".claude/agents/backend.md" in listed.stdout


def test_modified_preexisting_test_makes_the_gate_red(calc_repo, cli, fake_api):
    cheat = tool_use(
        "str_replace_based_edit_tool",
        {
            "command": "str_replace",
            "path": "tests/test_calc.py",
            "old_str": "== 3",
            "new_str": "== 3 or True",
        },
    )
    api = fake_api([Turn.tools(cheat), Turn.end("done")])
    result = cli("x", "--base-url", api.url, "--max-gate-rounds", "1", cwd=calc_repo)
    assert result.returncode == 1 and "test integrity" in result.stderr
    gate = next(e for e in events(calc_repo) if e["type"] == "gate")
    integrity = next(c for c in gate["checks"] if c["name"] == "test integrity")
    assert "tests/test_calc.py: modified" in integrity["report"]


def test_deleting_every_test_cannot_turn_the_gate_green(tmp_path, cli, fake_api):
    repo = init_repo(
        tmp_path / "r", {"pyproject.toml": "[project]\nname='r'\nversion='0'\n", "a.py": "A = 1\n"}
    )
    api = fake_api([Turn.tools(create("test_nothing.py", "")), Turn.end("done")])
    result = cli("x", "--base-url", api.url, "--max-gate-rounds", "1", cwd=repo)
    assert result.returncode == 1 and "still red: tests" in result.stderr


def test_show_reads_a_transcript_with_a_torn_last_line(calc_repo, cli, fake_api):
    api = fake_api(RED_THEN_GREEN)
    assert cli("add a mul function", "--base-url", api.url, cwd=calc_repo).returncode == 0
    runs = sorted((calc_repo / ".git" / "backend-agent" / "runs").iterdir())
    transcript: Path = runs[-1] / "transcript.jsonl"
    transcript.write_bytes(transcript.read_bytes() + b'{"type": "tool_call", "na')
    shown = cli("show", "last", cwd=calc_repo)
    assert shown.returncode == 0 and "verification round 2: green" in shown.stdout
