"""The gate's fuzz check: settings, how the probe's result becomes a report, and the promise end
to end: a scripted session whose resource hides a 500 gets the finding back and ends green once
it is fixed (real SDK against the fake model server, real sandbox, PostgreSQL, schemathesis)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.config import RepoSettings
from agent.errors import UsageError
from agent.fuzz import RESULT_MARKER, fuzz_check, judge
from tests.conftest import git
from tests.scripts.books import books_planted_500_fix_turn, books_planted_500_turns
from tests.test_books_e2e import red_then_green

FINDING = {
    "operation": "GET /books",
    "check": "Server error (unhandled exception)",
    "identity": "logged in",
    "message": "ValueError: invalid literal for int() with base 10: 'a'",
    "curl": "curl -X GET -H 'Cookie: access_token=[Filtered]' 'http://testserver/books?page=a'",
}
TARGETS = ["GET /books", "POST /books"]


def probe_output(**result: object) -> str:
    report = {"findings": [], "targets": TARGETS, "unfinished": [], "cases": 40, **result}
    return f"app noise\n{RESULT_MARKER} {json.dumps(report)}\n"


def write_settings(root: Path, table: str) -> None:
    (root / "pyproject.toml").write_text(f"[tool.backend-agent]\n{table}\n")


@pytest.mark.parametrize(
    ("table", "mode"),
    [("", "changed"), ("fuzz = true", "changed"), ("fuzz = false", "off"), ('fuzz = "all"', "all")],
)
def test_fuzz_setting(tmp_path: Path, table: str, mode: str) -> None:
    write_settings(tmp_path, table)
    assert RepoSettings.load(tmp_path).fuzz == mode


def test_a_bad_fuzz_setting_is_a_one_line_error(tmp_path: Path) -> None:
    write_settings(tmp_path, 'fuzz = "sometimes"')
    with pytest.raises(UsageError, match="fuzz must be one of 'changed', 'all', 'off'"):
        RepoSettings.load(tmp_path)


def test_the_check_needs_the_app_module_and_fuzzing_on(tmp_path: Path) -> None:
    assert fuzz_check(tmp_path, RepoSettings(), None, "abc") == []
    (tmp_path / "api").mkdir()
    (tmp_path / "api" / "server.py").write_text("app = None\n")
    settings = RepoSettings(app_module="api.server:app", fuzz_auth=())

    [check] = fuzz_check(tmp_path, settings, lambda: {"DATABASE_URL": "postgresql://db"}, "abc")

    command = check.command()
    assert "--app api.server:app" in command and "--base abc" in command
    assert command.startswith("export DATABASE_URL=postgresql://db; python -m alembic upgrade head")
    prepared = RepoSettings(app_module="api.server:app", prepare_commands=("make db",))
    [check] = fuzz_check(tmp_path, prepared, lambda: {"DATABASE_URL": "postgresql://db"}, "abc")
    assert "; make db >/dev/null 2>&1; " in check.command()
    assert (
        fuzz_check(tmp_path, RepoSettings(app_module="api.server:app", fuzz="off"), None, "a") == []
    )


def test_findings_are_red_with_one_block_each() -> None:
    ok, headline, report = judge(probe_output(findings=[FINDING], logged_in=True), "exit 0", 30)

    assert not ok
    assert headline == "1 failure(s) in 2 operation(s)"
    assert "GET /books: Server error (unhandled exception) (logged in)" in report
    assert FINDING["curl"] in report
    assert "with the cookie of a registered user" in report


def test_no_findings_is_green_and_a_spent_budget_only_a_warning() -> None:
    clean = judge(probe_output(), "exit 0", 30)
    late = judge(probe_output(unfinished=["POST /books"]), "exit 0", 30)
    nothing = judge(probe_output(targets=[]), "exit 0", 30)

    assert clean == (True, "2 operation(s), 40 requests: no failures", "")
    assert late[0] is True
    assert "warning: the 30 s budget ran out before POST /books" in late[1]
    assert nothing == (True, "no operation added or changed", "")


def test_a_broken_app_is_red_and_a_missing_schemathesis_a_warning() -> None:
    broken = judge(probe_output(error="ImportError: cannot import name 'x'"), "exit 0", 30)
    missing = judge("ModuleNotFoundError: No module named 'schemathesis'\n", "exit code 1", 30)
    silent = judge("Killed\n", "timed out", 30)

    assert broken[0] is False and "cannot import name 'x'" in broken[1]
    assert missing[0] is True and "install schemathesis" in missing[1]
    assert silent == (False, "the fuzz run ended without a result (timed out)", "Killed")


pytest.importorskip("schemathesis")


@pytest.fixture
def project(tmp_path: Path, cli) -> Path:
    """A new project whose fuzz budget is generous: this test is about the loop, not the speed,
    and a CI machine may be slow."""
    result = cli("new", "library", "--parent", str(tmp_path), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    root = tmp_path / "library"
    pyproject = root / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + "fuzz_seconds = 300\n")
    git(root, "commit", "-qam", "Give the fuzz check time")
    return root


def test_a_planted_500_is_found_by_fuzzing_then_fixed(project, cli, fake_api):
    failed, second, sent_back = red_then_green(
        project, cli, fake_api, books_planted_500_turns(), books_planted_500_fix_turn(), "fuzz"
    )
    report = failed["report"]
    assert "GET /books: Server error (unhandled exception) (logged in)" in report
    assert "ValueError: invalid literal for int()" in report
    assert "curl -X GET" in report and "/books?" in report
    assert "invalid literal for int()" in sent_back
    [fuzzed] = [c for c in second["checks"] if c["name"] == "fuzz"]
    assert fuzzed["headline"].startswith("5 operation(s)")
