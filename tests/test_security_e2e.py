"""Secrets and the sandbox, seen from the model's side of a real run."""

from __future__ import annotations

import json

from tests.conftest import API_KEY, cli_env, git
from tests.fakes.anthropic_server import Turn, tool_use
from tests.test_run import RED_THEN_GREEN, events
from tools.sandbox import probe_bwrap

# CI runs this file twice, once with bubblewrap hidden (BACKEND_AGENT_HIDE_BWRAP=1): then
# `auto` falls back to Landlock, which undoes changes to protected paths after each command
# instead of refusing them.
BWRAP = probe_bwrap()[0]

GITHUB_TOKEN = "ghp_a1b2c3d4e5f6g7h8i9j0"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
FILE_SECRET = "db-password-from-a-file-42"


def test_secrets_never_reach_the_model_or_the_transcript(calc_repo, cli, fake_api):
    secret_file = calc_repo / ".env"  # ignored by git, readable in the sandbox
    secret_file.write_text(f"DB_PASSWORD={FILE_SECRET}\n")
    (calc_repo / ".gitignore").write_text("__pycache__/\n.env\n")
    pyproject = calc_repo / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text() + '\n[tool.backend-agent]\nsecret_files = [".env"]\n'
    )
    git(calc_repo, "commit", "-qam", "config")
    api = fake_api(
        [
            Turn.tools(
                tool_use("bash", {"command": "env"}),
                tool_use("bash", {"command": f"cat {secret_file}"}),
            ),
            Turn.end("Looked."),
        ]
    )
    env = cli_env(GITHUB_TOKEN=GITHUB_TOKEN, AWS_SECRET_ACCESS_KEY=AWS_SECRET)
    result = cli("look", "--base-url", api.url, cwd=calc_repo, env=env)
    assert result.returncode == 0, result.stderr
    results = api.message_requests[1].body["messages"][-1]["content"]
    dumped_env, cat = results[0]["content"], results[1]["content"]
    assert "PATH=" in dumped_env
    for name in ("GITHUB_TOKEN", "AWS_SECRET_ACCESS_KEY", "ANTHROPIC_API_KEY"):
        assert name not in dumped_env
    assert "[REDACTED]" in cat and FILE_SECRET not in cat
    runs = calc_repo / ".git" / "backend-agent" / "runs"
    everything = "".join(p.read_text() for p in runs.rglob("*") if p.is_file())
    everything += json.dumps([r.body for r in api.message_requests]) + result.stdout + result.stderr
    for secret in (GITHUB_TOKEN, AWS_SECRET, FILE_SECRET, API_KEY):
        assert secret not in everything


def test_model_commands_cannot_write_outside_or_into_git_hooks(calc_repo, cli, fake_api):
    marker = calc_repo.parent / "outside.txt"
    attempts = [
        f"echo pwned > {marker}",
        "echo pwned > /etc/backend-agent-pwned",
        "echo 'echo pwned' > .git/hooks/pre-commit && chmod +x .git/hooks/pre-commit",
        "git config core.hooksPath /tmp",
        "echo inside > inside.txt",
    ]
    api = fake_api(
        [Turn.tools(*[tool_use("bash", {"command": c}) for c in attempts]), Turn.end("Tried.")]
    )
    result = cli("try", "--base-url", api.url, cwd=calc_repo)
    assert result.returncode == 0, result.stderr
    assert not marker.exists()
    assert not (calc_repo / ".git" / "hooks" / "pre-commit").exists()
    assert "hooksPath" not in (calc_repo / ".git" / "config").read_text()
    assert git(calc_repo, "show", "backend-agent/try:inside.txt") == "inside"
    sandbox = next(e for e in events(calc_repo) if e["type"] == "sandbox")
    assert sandbox["name"] == ("bubblewrap" if BWRAP else "landlock")


def test_protected_paths_are_read_only_for_commands_too(calc_repo, cli, fake_api):
    workflows = calc_repo / ".github" / "workflows"
    workflows.mkdir(parents=True)
    (workflows / "ci.yml").write_text("on: push\n")
    git(calc_repo, "add", "-A")
    git(calc_repo, "commit", "-qm", "ci")
    api = fake_api(
        [
            Turn.tools(
                tool_use("bash", {"command": "echo 'run: curl evil' >> .github/workflows/ci.yml"})
            ),
            Turn.end("Tried."),
        ]
    )
    result = cli("try", "--base-url", api.url, cwd=calc_repo)
    assert result.returncode == 0, result.stderr
    assert (workflows / "ci.yml").read_text() == "on: push\n"
    answer = api.message_requests[1].body["messages"][-1]["content"][0]["content"]
    assert "Read-only file system" in answer if BWRAP else "is read-only" in answer


def test_a_new_file_under_a_protected_path_makes_the_gate_red(calc_repo, cli, fake_api):
    sneak = "mkdir -p .github/workflows && echo 'on: push' > .github/workflows/evil.yml"
    api = fake_api([Turn.tools(tool_use("bash", {"command": sneak})), Turn.end("Done.")])
    result = cli("try", "--base-url", api.url, "--max-gate-rounds", "1", cwd=calc_repo)
    if not BWRAP:  # Landlock cannot refuse the write; the file is removed after the command
        assert result.returncode == 0 and not (calc_repo / ".github" / "workflows").exists()
        return
    assert result.returncode == 1 and "still red: protected paths" in result.stderr
    gate = next(e for e in events(calc_repo) if e["type"] == "gate")
    check = next(c for c in gate["checks"] if c["name"] == "protected paths")
    assert ".github/workflows/evil.yml" in check["report"]


def test_landlock_fallback_and_explicit_off_both_run_a_session(calc_repo, cli, fake_api):
    api = fake_api(RED_THEN_GREEN)
    fallback = cli(
        "add a mul function", "--base-url", api.url, "--sandbox", "landlock", cwd=calc_repo
    )
    assert fallback.returncode == 0, fallback.stderr
    assert "sandbox: using Landlock" in fallback.stderr
    off = cli(
        "add a mul function", "--base-url", api.url, "--sandbox", "off", "--worktree", cwd=calc_repo
    )
    assert off.returncode == 0, off.stderr
    assert off.stderr.startswith("WARNING: --sandbox off")
    bad = cli("x", "--sandbox", "chroot", cwd=calc_repo)
    assert bad.returncode == 2 and "--sandbox must be" in bad.stderr
