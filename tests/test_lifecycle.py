"""A run's life as a user meets it, through the real CLI: nothing touched before a run can
start, the checkout back where it was, no worktree or process left behind, a crash neither
hidden nor repeated, and output that says the cause."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agent.transcript import read_events
from tests.conftest import CALC_PYPROJECT, cli_env, git, init_repo, run_cli, start_cli
from tests.fakes.anthropic_server import FakeAnthropic, Turn, tool_use
from tests.test_faults import SCRIPT, make_repo, run_dirs

REQUEST = "add a mul function"
BRANCH = "backend-agent/add-a-mul-function"


def bash(command: str) -> dict:
    return tool_use("bash", {"command": command})


def untouched(repo: Path, before: tuple[str, str]) -> None:
    """The repo exactly as it was: same branch and branches, clean tree, no run directory."""
    assert (git(repo, "branch", "--show-current"), git(repo, "branch", "--list")) == before
    assert git(repo, "status", "--porcelain") == ""
    assert run_dirs(repo) == []


def state(repo: Path) -> tuple[str, str]:
    return git(repo, "branch", "--show-current"), git(repo, "branch", "--list")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --- before the first model call, touch nothing ----------------------------------------------


def test_no_key_and_no_server_is_a_usage_error_that_touches_nothing(calc_repo, cli):
    before = state(calc_repo)
    env = {k: v for k, v in cli_env().items() if k != "ANTHROPIC_API_KEY"}
    result = cli(REQUEST, cwd=calc_repo, env=env)
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and "ANTHROPIC_API_KEY" in result.stderr
    untouched(calc_repo, before)


def test_a_local_server_needs_no_key(tmp_path, cli, fake_api):
    repo = make_repo(tmp_path / "repo")
    api = fake_api(SCRIPT)
    env = {k: v for k, v in cli_env().items() if k != "ANTHROPIC_API_KEY"}
    result = cli(REQUEST, "--base-url", api.url, cwd=repo, env=env)
    assert result.returncode == 0, result.stderr
    assert api.message_requests[0].headers["authorization"] == "Bearer no-key-needed"


@pytest.mark.parametrize(
    ("settings", "says"),
    [
        ("[tool]\nbackend-agent = 5\n", "`tool.backend-agent` must be a table"),
        ("tool = 5\n", "`tool` must be a table"),
        ('[tool.backend-agent]\ndatabase = "mysql"\n', "database must be one of 'auto', 'none'"),
        ('[tool.backend-agent]\nlint_commands = ["no-such-linter ."]\n', "no-such-linter"),
    ],
)
def test_bad_settings_and_missing_gate_tools_fail_before_the_repo_is_touched(
    tmp_path, cli, fake_api, settings, says
):
    repo = init_repo(tmp_path / "repo", {"pyproject.toml": settings, "calc.py": "x = 1\n"})
    api = fake_api(SCRIPT)
    before = state(repo)
    result = cli(REQUEST, "--base-url", api.url, cwd=repo)
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and says in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert api.message_requests == []
    untouched(repo, before)


def test_a_bad_model_name_or_sandbox_fails_before_the_repo_is_touched(calc_repo, cli, fake_api):
    api = fake_api(SCRIPT)
    before = state(calc_repo)
    named = cli(REQUEST, "--base-url", api.url, "--model", "two words", cwd=calc_repo)
    assert named.returncode == 2 and "not a model id" in named.stderr
    sandbox = cli(REQUEST, "--base-url", api.url, "--sandbox", "chroot", cwd=calc_repo)
    assert sandbox.returncode == 2 and "--sandbox must be" in sandbox.stderr
    untouched(calc_repo, before)


def test_refused_connection_to_a_named_server_fails_fast_and_leaves_nothing(calc_repo, cli):
    before = state(calc_repo)
    result = cli(REQUEST, "--base-url", f"http://127.0.0.1:{free_port()}", cwd=calc_repo)
    assert result.returncode == 3
    assert "connection refused (is the server running? check --base-url)" in result.stderr
    retries = [e for e in read_events(run_dirs(calc_repo)[-1] / "transcript.jsonl")]
    waited = sum(e["delay"] for e in retries if e["type"] == "retry")
    assert 0 < waited <= 3.0, "seconds, not the minute of the real API's retry policy"
    # It started (a run directory says what happened), but its empty branch is gone.
    assert (git(calc_repo, "branch", "--show-current"), git(calc_repo, "branch", "--list")) == (
        before
    )


# --- branches and worktrees --------------------------------------------------------------------


def test_a_run_that_changes_nothing_leaves_no_branch(calc_repo, cli, fake_api):
    api = fake_api([Turn.end("Nothing to change.")])
    before = state(calc_repo)
    result = cli("look around", "--base-url", api.url, cwd=calc_repo)
    assert result.returncode == 0, result.stderr
    assert state(calc_repo) == before
    assert "nothing committed" in result.stdout


def test_a_stopped_run_returns_the_checkout_and_resume_goes_back_to_its_branch(
    tmp_path, cli, fake_api
):
    repo = make_repo(tmp_path / "repo")
    api = fake_api(SCRIPT)
    stopped = cli(REQUEST, "--base-url", api.url, "--max-turns", "1", cwd=repo)
    assert stopped.returncode == 1
    assert git(repo, "branch", "--show-current") == "main"
    assert f"look: git switch {BRANCH}" in stopped.stderr
    assert "Backend-Agent-Status: incomplete" in git(repo, "log", "-1", "--format=%B", BRANCH)
    assert not (repo / "mul.py").exists()

    resumed = cli("resume", "mul", "--max-turns", "5", "--base-url", api.url, cwd=repo)
    assert resumed.returncode == 0, resumed.stderr
    assert git(repo, "branch", "--show-current") == "main"
    assert git(repo, "rev-list", "--count", f"main..{BRANCH}") == "1"
    assert "Backend-Agent-Status: verified" in git(repo, "log", "-1", "--format=%B", BRANCH)


def worktrees(repo: Path) -> list[str]:
    listing = git(repo, "worktree", "list", "--porcelain").splitlines()
    return [line.split(" ", 1)[1] for line in listing if line.startswith("worktree ")][1:]


def test_worktrees_go_when_green_stay_when_stopped_and_prune_removes_them(tmp_path, cli, fake_api):
    repo = make_repo(tmp_path / "repo")
    api = fake_api(SCRIPT)
    green = cli(REQUEST, "--base-url", api.url, "--worktree", cwd=repo)
    assert green.returncode == 0, green.stderr
    assert worktrees(repo) == []
    git(repo, "checkout", "-q", BRANCH)  # not "already checked out" in a leftover worktree
    git(repo, "checkout", "-q", "main")

    api = fake_api(SCRIPT)
    stopped = cli(
        "add a div function", "--base-url", api.url, "--worktree", "--max-turns", "1", cwd=repo
    )
    assert stopped.returncode == 1
    [kept] = worktrees(repo)
    assert f"worktree: {kept}" in stopped.stderr

    pruned = cli("runs", "--prune", cwd=repo)
    assert pruned.returncode == 0 and f"removed worktree {kept}" in pruned.stdout
    assert worktrees(repo) == []
    resumed = cli("resume", "div", "--max-turns", "5", "--base-url", api.url, cwd=repo)
    assert resumed.returncode == 0, resumed.stderr  # the worktree was added again for it
    assert worktrees(repo) == []
    assert git(repo, "branch", "--show-current") == "main"
    div = "backend-agent/add-a-div-function"
    assert "Backend-Agent-Status: verified" in git(repo, "log", "-1", "--format=%B", div)


# --- after a crash -----------------------------------------------------------------------------

APPEND = "echo ran >> side-effect.flag; sleep 60.5"


def kill_during(repo: Path, url: str, *args: str) -> None:
    """Start a run whose first command appends a line, then SIGKILL the runner mid-command."""
    proc = start_cli(repo, REQUEST, "--base-url", url, *args)
    try:
        deadline = time.monotonic() + 90
        while not (repo / "side-effect.flag").exists():
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the command never started"
            time.sleep(0.05)
        time.sleep(0.3)
    finally:
        proc.kill()
        proc.communicate()


def ours_alive(marker: str) -> list[str]:
    """Processes still running (zombies do not run) whose command line holds the marker."""
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{entry.name}/cmdline").read_bytes()
            status = Path(f"/proc/{entry.name}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if marker.encode() in cmdline and status != "Z":
            found.append(f"{entry.name} {cmdline!r}")
    return found


@pytest.mark.parametrize("sandbox", ["off", "bwrap"])
def test_sigkill_leaves_no_process_and_resume_never_reruns_the_call(tmp_path, sandbox):
    repo = make_repo(tmp_path / "repo")
    script = [Turn.tools(bash(APPEND)), *SCRIPT]
    with FakeAnthropic(script) as api:
        kill_during(repo, api.url, "--sandbox", sandbox)
        deadline = time.monotonic() + 5
        while ours_alive("sleep 60.5") and time.monotonic() < deadline:
            time.sleep(0.05)
        assert ours_alive("sleep 60.5") == [], "a command outlived the killed runner"

        listed = run_cli("runs", cwd=repo).stdout
        row = next(line for line in listed.splitlines() if "add-a-mul-function" in line)
        assert " dead " in row and " 1 turns " in row, row
        shown = run_cli("show", "last", cwd=repo).stdout
        assert "status: dead the process died" in shown
        assert shown.rstrip().splitlines()[-1].startswith("1 turn, ")

        resumed = run_cli("resume", "last", "--base-url", api.url, cwd=repo, timeout=300)
        assert resumed.returncode == 0, resumed.stderr
        answer = api.message_requests[1].body["messages"][-1]["content"][0]
    assert answer["is_error"] and "crashed while this tool call was running" in answer["content"]
    assert "interrupted by a crash, not run again" in resumed.stderr
    git(repo, "switch", "-q", BRANCH)
    assert (repo / "side-effect.flag").read_text() == "ran\n", "the command ran once"


def test_a_live_run_shows_as_running_and_cannot_be_resumed_twice(tmp_path, cli):
    repo = make_repo(tmp_path / "repo")
    with FakeAnthropic([Turn.tools(bash(APPEND)), *SCRIPT]) as api:
        proc = start_cli(repo, REQUEST, "--base-url", api.url)
        try:
            while not (repo / "side-effect.flag").exists():
                assert proc.poll() is None, proc.communicate()
                time.sleep(0.05)
            assert " running " in cli("runs", cwd=repo).stdout
            again = cli("resume", "last", "--base-url", api.url, cwd=repo)
            assert again.returncode == 2 and f"is running (pid {proc.pid})" in again.stderr
        finally:
            proc.kill()
            proc.communicate()


# --- say the cause -----------------------------------------------------------------------------


def test_a_failing_check_shows_its_cause_and_show_and_runs_give_the_totals(tmp_path, cli, fake_api):
    lint = "python -c \"import sys; sys.exit('lint: the config file is broken')\""
    settings = f"\n[tool.backend-agent]\nlint_commands = [{json.dumps(lint)}]\n"
    repo = init_repo(
        tmp_path / "repo",
        {"pyproject.toml": CALC_PYPROJECT + settings, "tests/test_ok.py": "def test_ok(): pass\n"},
    )
    api = fake_api([Turn.end("Done."), Turn.end("Still done.")])
    args = ("--base-url", api.url, "--max-gate-rounds", "1", "--strict")  # red on the base too
    result = cli("look", *args, cwd=repo)
    assert result.returncode == 1
    red = result.stderr.split("verification round 1: red", 1)[1]
    assert "lint: the config file is broken" in red.split("✓ tests")[0]
    assert "after 1 round;" in result.stderr or "after 1 round\n" in result.stderr

    spent = next(line for line in result.stderr.splitlines() if " turn, " in line)
    shown = cli("show", "look", cwd=repo).stdout.rstrip().splitlines()
    assert shown[-1] in spent  # "1 turn, N tokens, $X" as the live run said it
    row = cli("runs", cwd=repo).stdout.splitlines()[0]
    tokens = shown[-1].split(", ")[1]
    assert tokens in row and time.strftime("%Y-%m-%d") in row


def test_resume_help_names_the_recorded_budget_and_run_matches_any_part(calc_repo, cli, fake_api):
    helped = " ".join(cli("resume", "--help", cwd=calc_repo).stdout.split())
    assert "--max-turns <int range> New turn total. [default: the run's recorded budget]" in helped
    api = fake_api([Turn.end("Nothing to change.")])
    assert cli("look around here", "--base-url", api.url, cwd=calc_repo).returncode == 0
    shown = cli("show", "around", cwd=calc_repo)  # neither a prefix nor a suffix of the id
    assert shown.returncode == 0 and "status: green" in shown.stdout


def test_alembic_missing_stops_the_run_as_an_environment_problem(tmp_path):
    from agent.gate import AlembicCheck, EnvironmentProblem
    from tools.base import Workspace
    from tools.process import CommandRunner
    from tools.sandbox import NoSandbox

    runner = CommandRunner(NoSandbox(), {"PATH": "/usr/bin:/bin"})
    workspace = Workspace(root=tmp_path, executor=runner)
    for alembic in ("alembic", f"{sys.executable} -m no_such_alembic"):
        check = AlembicCheck(lambda: {"DATABASE_URL": "postgresql:///nowhere"}, alembic)
        with pytest.raises(EnvironmentProblem, match=r"alembic check: .* cannot start here"):
            check.run(workspace)
    runner.close()


# --- doctor --------------------------------------------------------------------------------------


def test_doctor_finds_our_own_ruff_and_checks_the_server(calc_repo, cli):
    env = {**cli_env(), "PATH": "/usr/bin:/bin"}  # backend-agent's venv not activated
    result = run_cli("doctor", cwd=calc_repo, env=env)
    assert result.returncode == 0, result.stdout
    ruff = next(line for line in result.stdout.splitlines() if "ruff (in sandbox)" in line)
    assert ruff.startswith("✓") and str(Path(sys.executable).parent) in ruff
    closed = cli("doctor", "--base-url", f"http://127.0.0.1:{free_port()}", cwd=calc_repo)
    assert closed.returncode == 1 and "does not answer" in closed.stdout


def test_doctor_sees_into_a_venv_under_tmp(calc_repo, tmp_path):
    """The sandbox's private /tmp would hide a venv installed there (as CI systems do)."""
    venv = tmp_path / "venv"
    subprocess.run(
        [sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(venv)],
        check=True,
    )
    (venv / "bin" / "ruff").symlink_to(shutil.which("ruff"))
    env = {**cli_env(), "PATH": "/usr/bin:/bin"}  # not activated
    result = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "agent", "doctor"],
        cwd=calc_repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    ruff = next(line for line in result.stdout.splitlines() if "ruff (in sandbox)" in line)
    assert ruff.startswith("✓") and str(venv) in ruff, result.stdout


def test_the_gate_finds_our_own_ruff_without_an_activated_venv(tmp_path, fake_api):
    repo = make_repo(tmp_path / "repo")
    api = fake_api(SCRIPT)
    env = {**cli_env(), "PATH": "/usr/bin:/bin"}
    result = run_cli(REQUEST, "--base-url", api.url, cwd=repo, env=env, timeout=300)
    assert result.returncode == 0, result.stderr
