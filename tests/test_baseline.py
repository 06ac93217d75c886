"""The pieces behind "the gate judges the change": comparing findings with the base commit's,
finding the project in a monorepo, and the test database's settings for the app."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.config import RepoSettings, find_project
from agent.errors import UsageError
from agent.gate import Changes, Finding, Observation, TestsCheck, _on_files, judge
from agent.testdb import TestDatabase, missing_extension, redact_url


def seen(*shown: str, ok: bool = False) -> Observation:
    """Findings as `path:line: CODE message`, keyed without the line."""
    findings = []
    for line in shown:
        path, _, rest = line.split(":", 2)
        findings.append(Finding(f"{path}:{rest}", line))
    return Observation(ok, f"{len(shown)} finding(s)", "\n".join(shown), tuple(findings), 1)


def test_a_finding_that_moved_down_is_not_new():
    base = seen("app/a.py:3: F401 `os` imported but unused")
    now = seen("app/a.py:9: F401 `os` imported but unused")
    ok, headline, report, new = judge("ruff check", now, base)
    assert ok and new == 0 and report == ""
    assert "0 new, 1 already there before the change" in headline


def test_one_more_of_the_same_finding_is_new():
    base = seen("app/a.py:3: E501 line too long")
    now = seen("app/a.py:3: E501 line too long", "app/a.py:7: E501 line too long")
    ok, _, report, new = judge("ruff check", now, base)
    assert not ok and new == 1
    fix, before = report.split("Already there before the change")
    assert "app/a.py:7: E501" in fix and "app/a.py:3: E501" in before


def test_without_a_baseline_every_finding_counts():
    ok, _, _, new = judge("ruff check", seen("a.py:1: F401 x"), None)
    assert not ok and new == 1


def test_a_failure_without_findings_is_only_accepted_when_the_base_failed_the_same_way():
    crashed = Observation(False, "crashed", "Traceback", (), 2)
    assert judge("mypy", crashed, Observation(False, "crashed", "", (), 2))[0]
    assert not judge("mypy", crashed, Observation(True, "clean", "", (), 0))[0]


def test_a_failing_test_in_a_file_the_run_changed_must_pass():
    check = TestsCheck("pytest")
    base = Observation(False, "1 failed", "", (Finding("tests/t.py::test_a", "x"),), 1)
    now = Observation(False, "1 failed", "", (Finding("tests/t.py::test_a", "x"),), 1)
    assert check.judge(now, base, Changes(frozenset({"app.py"})))[0]
    assert not check.judge(now, base, Changes(frozenset({"tests/t.py"})))[0]


def test_no_tests_ran_is_red_even_when_none_ran_before():
    nothing = Observation(False, "no tests ran (exit 5)", "", (), 5)
    assert not TestsCheck("pytest").judge(nothing, nothing, Changes(frozenset()))[0]


def test_format_and_fixers_run_on_the_changed_files_only():
    assert _on_files("ruff format --check .", ["a b.py", "c.py"]) == (
        "ruff format --check -- 'a b.py' c.py"
    )
    assert _on_files("make lint", ["c.py"]) == "make lint"
    assert Changes(frozenset({"x.md", "b.py", "a.py"})).python == ["a.py", "b.py"]


def test_the_nearest_pyproject_up_to_the_git_root(tmp_path: Path):
    (tmp_path / "backend" / "app" / "api").mkdir(parents=True)
    (tmp_path / "pyproject.toml").write_text("")
    assert find_project(tmp_path / "backend" / "app" / "api", tmp_path) == tmp_path
    (tmp_path / "backend" / "pyproject.toml").write_text("")
    assert find_project(tmp_path / "backend" / "app" / "api", tmp_path) == tmp_path / "backend"
    assert find_project(tmp_path, tmp_path) == tmp_path
    assert find_project(Path("/"), tmp_path) == tmp_path  # outside the repo: its root


def test_test_env_is_a_table_of_strings(tmp_path: Path):
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(
        '[tool.backend-agent]\nprepare_commands = "alembic upgrade head"\n'
        '[tool.backend-agent.test_env]\nPOSTGRES_PORT = "{db_port}"\nWORKERS = 2\n'
    )
    settings = RepoSettings.load(tmp_path)
    assert settings.test_env == {"POSTGRES_PORT": "{db_port}", "WORKERS": "2"}
    assert settings.prepare_commands == ("alembic upgrade head",)
    pyproject.write_text('[tool.backend-agent]\ntest_env = ["SECRET_KEY=x"]\n')
    with pytest.raises(UsageError, match="test_env must be a table of strings"):
        RepoSettings.load(tmp_path)


class FakeServer:
    port = 54321
    password = "p@ss/word"
    socket_dir = Path("/tmp/pg-x/run")


def test_placeholders_give_the_app_its_own_setting_names():
    test_env = {
        "POSTGRES_SERVER": "{db_host}",
        "POSTGRES_PORT": "{db_port}",
        "SQLALCHEMY_URL": "{db_url}",
        "SECRET_KEY": "test-only-key",
    }
    env = TestDatabase.embedded(FakeServer(), True, test_env).env("gate_3")
    assert env["POSTGRES_SERVER"] == "127.0.0.1" and env["POSTGRES_PORT"] == "54321"
    assert env["SQLALCHEMY_URL"] == "postgresql://postgres:p%40ss%2Fword@127.0.0.1:54321/gate_3"
    assert env["DATABASE_URL"].startswith("postgresql+asyncpg://postgres:")
    assert env["PGDATABASE"] == "gate_3" and env["PGPASSWORD"] == "p@ss/word"
    assert env["SECRET_KEY"] == "test-only-key"
    by_socket = TestDatabase.embedded(FakeServer(), False, {}).env()
    assert by_socket["PGHOST"] == "/tmp/pg-x/run"
    assert by_socket["DATABASE_URL"].endswith("@/postgres?host=/tmp/pg-x/run")


def test_an_external_url_is_taken_apart_and_its_password_redacted():
    url = "postgresql://app:s3cret@db.internal:6543/appdb"
    database = TestDatabase.external(url, {"DB": "{db_host}:{db_port}/{db_name}"})
    assert database.env()["DB"] == "db.internal:6543/appdb"
    assert database.secrets == ["s3cret"]
    assert database.fresh() == database.env()  # never multiplied: the user's one database
    assert redact_url(url) == "postgresql://app:[REDACTED]@db.internal:6543/appdb"


def test_a_missing_extension_names_the_setting_that_brings_it():
    output = 'psycopg.errors.FeatureNotSupported: extension "uuid-ossp" is not available'
    line = missing_extension(output, "embedded")
    assert line is not None and '"uuid-ossp"' in line and 'postgres = "system"' in line
    assert missing_extension("relation users does not exist", "embedded") is None


def test_the_postgres_setting_names_its_binaries(tmp_path: Path):
    from agent.testdb import bin_dir_for

    assert bin_dir_for("embedded", tmp_path) is None
    with pytest.raises(UsageError, match="no initdb and postgres in"):
        bin_dir_for("pg/bin", tmp_path)
    (tmp_path / "pg" / "bin").mkdir(parents=True)
    for name in ("initdb", "postgres"):
        (tmp_path / "pg" / "bin" / name).write_text("")
    assert bin_dir_for("pg/bin", tmp_path) == tmp_path / "pg" / "bin"
