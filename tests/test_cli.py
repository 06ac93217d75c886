"""The other commands, as a user runs them: new, check, doctor, agents, --help, --version."""

from __future__ import annotations

from tests.conftest import cli_env, git
from tests.fakes.anthropic_server import Turn
from tests.test_run import RED_THEN_GREEN


def test_help_teaches_and_version_answers(tmp_path, cli):
    top = cli("--help", cwd=tmp_path)
    assert top.returncode == 0
    assert 'backend-agent "add books resource"' in top.stdout and "Exit codes" in top.stdout
    for command in ("run", "resume", "runs", "show", "agents", "new", "check", "doctor"):
        assert command in top.stdout
    assert "--max-cost" in cli("run", "--help", cwd=tmp_path).stdout
    assert cli("--version", cwd=tmp_path).stdout.startswith("backend-agent ")


def test_new_then_check_passes_and_a_violation_fails(tmp_path, cli):
    created = cli("new", "library", "--parent", str(tmp_path), cwd=tmp_path)
    assert created.returncode == 0, created.stderr
    project = tmp_path / "library"
    assert git(project, "log", "--format=%s") != ""
    clean = cli("check", str(project), cwd=tmp_path)
    assert clean.returncode == 0 and "All checks passed!" in clean.stdout
    endpoint = project / "app" / "api" / "endpoints" / "auth.py"
    endpoint.write_text(
        endpoint.read_text() + "\n\n@router.get('/ping')\nasync def ping():\n    return 1\n"
    )
    dirty = cli("check", str(project), cwd=tmp_path)
    assert dirty.returncode == 1
    assert "app/api/endpoints/auth.py:" in dirty.stdout and "BA101" in dirty.stdout
    json_out = cli("check", str(project), "--json", cwd=tmp_path)
    assert '"code": "BA101"' in json_out.stdout
    ignored = cli("check", str(project), "--ignore", "BA101", cwd=tmp_path)
    assert "BA101" not in ignored.stdout


def test_new_refuses_bad_names_and_existing_dirs(tmp_path, cli):
    bad = cli("new", "Bad Name!", "--parent", str(tmp_path), cwd=tmp_path)
    assert bad.returncode == 2 and "backend-agent: error:" in bad.stderr
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "file").write_text("x")
    taken = cli("new", "taken", "--parent", str(tmp_path), cwd=tmp_path)
    assert taken.returncode == 2 and len(taken.stderr.strip().splitlines()) == 1


def test_doctor_reports_the_sandbox_and_prerequisites(calc_repo, cli):
    result = cli("doctor", cwd=calc_repo)
    assert "sandbox" in result.stdout and "bubblewrap" in result.stdout
    for row in ("git", "ruff", "repository", "API key", "PostgreSQL"):
        assert row in result.stdout
    assert result.returncode == 0, result.stdout


def test_native_tool_types_on_request(calc_repo, cli, fake_api):
    api = fake_api(RED_THEN_GREEN)
    result = cli("add a mul function", "--base-url", api.url, "--native-tools", cwd=calc_repo)
    assert result.returncode == 0, result.stderr
    tools = api.message_requests[0].body["tools"]
    assert tools[0]["type"] == "text_editor_20250728" and tools[1]["type"] == "bash_20250124"
    assert [t["name"] for t in tools[2:]] == ["run_tests", "run_lint"]


def test_local_servers_get_plain_json_schema_tools(calc_repo, cli, fake_api):
    api = fake_api([Turn.end("Nothing to do.")])
    assert cli("look", "--base-url", api.url, cwd=calc_repo).returncode == 0
    tools = api.message_requests[0].body["tools"]
    assert all("input_schema" in t and "type" not in t for t in tools)


def test_replay_reproduces_a_run_without_the_api(calc_repo, cli, fake_api):
    api = fake_api(RED_THEN_GREEN)
    assert cli("add a mul function", "--base-url", api.url, cwd=calc_repo).returncode == 0
    calls = len(api.message_requests)
    env = {k: v for k, v in cli_env().items() if k != "ANTHROPIC_API_KEY"}
    replayed = cli("replay", "last", "--worktree", cwd=calc_repo, env=env)
    assert replayed.returncode == 0, replayed.stderr
    assert len(api.message_requests) == calls, "a replay makes no API call"
    original = git(calc_repo, "rev-parse", "backend-agent/add-a-mul-function^{tree}")
    again = git(calc_repo, "rev-parse", "backend-agent/replay-add-a-mul-function^{tree}")
    assert original == again
    assert "$0.0000" in replayed.stdout
