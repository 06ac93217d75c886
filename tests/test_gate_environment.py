"""Environment problems are the user's, not the model's: a check that cannot start, or a test
database without an extension the migrations need, ends the run with one line instead of
being fed back to the model round after round. Also: the user's own DATABASE_URL is never
the gate's unless the repo says so, and the test database is an ordinary TCP server."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import CALC_PYPROJECT, cli_env, git, init_repo, run_cli
from tests.fakes.anthropic_server import Turn
from tests.test_run import events


def _settings(repo: Path, text: str) -> None:
    pyproject = repo / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + "\n[tool.backend-agent]\n" + text)
    git(repo, "commit", "-qam", "settings")


def test_a_check_that_cannot_start_stops_the_run_before_the_first_model_call(calc_repo, fake_api):
    _settings(calc_repo, 'lint_commands = ["no-such-linter ."]\n')
    api = fake_api([Turn.end("Nothing to do."), Turn.end("Still nothing.")])
    result = run_cli("tidy up", "--base-url", api.url, cwd=calc_repo)
    assert result.returncode == 2, result.stderr
    [line] = [ln for ln in result.stderr.splitlines() if "cannot start inside" in ln]
    assert "no-such-linter" in line
    assert not api.message_requests  # found before the first model call, never the model's
    assert not (calc_repo / ".git" / "backend-agent" / "runs").exists()


MIGRATION_NEEDS_UUID_OSSP = """\
from alembic import op

revision = "0001"
down_revision = None


def upgrade() -> None:
    op.execute('CREATE EXTENSION IF NOT EXISTS "uuid-ossp"')
    op.execute("CREATE TABLE thing (id uuid PRIMARY KEY DEFAULT uuid_generate_v4())")


def downgrade() -> None:
    op.execute("DROP TABLE thing")
"""
ENV_PY = """\
import os

from alembic import context
from sqlalchemy import create_engine, pool

engine = create_engine(os.environ["DATABASE_URL"], poolclass=pool.NullPool)
with engine.connect() as connection:
    context.configure(connection=connection, target_metadata=None)
    with context.begin_transaction():
        context.run_migrations()
"""


def _extension_repo(root: Path, postgres: str) -> Path:
    return init_repo(
        root,
        {
            "pyproject.toml": CALC_PYPROJECT
            + f'\n[tool.backend-agent]\npostgres = "{postgres}"\nalembic_check = false\n'
            + 'prepare_commands = ["python -m alembic upgrade head"]\n'
            + '[tool.backend-agent.test_env]\nDATABASE_URL = "{db_url}"\n',
            ".gitignore": "__pycache__/\n",
            "alembic.ini": "[alembic]\nscript_location = migrations\n",
            "migrations/env.py": ENV_PY,
            "migrations/versions/0001_thing.py": MIGRATION_NEEDS_UUID_OSSP,
            "calc.py": "def add(a: int, b: int) -> int:\n    return a + b\n",
            "tests/test_calc.py": "from calc import add\n\n\ndef test_add() -> None:\n"
            "    assert add(1, 2) == 3\n",
        },
    )


def test_a_missing_extension_says_which_and_which_setting_brings_it(tmp_path, fake_api):
    pytest.importorskip("psycopg")
    repo = _extension_repo(tmp_path / "ext", "embedded")
    api = fake_api([Turn.end("Done."), Turn.end("Done.")])
    result = run_cli("look around", "--base-url", api.url, cwd=repo, timeout=300)
    assert result.returncode == 2, result.stderr
    assert 'no PostgreSQL extension "uuid-ossp": set postgres = "system"' in result.stderr
    assert len(api.message_requests) == 1


@pytest.mark.skipif(
    not list(Path("/usr/lib/postgresql").glob("*/bin/initdb")) and not shutil.which("pg_ctl"),
    reason="no system PostgreSQL (apt-get install postgresql; .ci/run does)",
)
def test_postgres_system_has_the_extensions(tmp_path, fake_api):
    pytest.importorskip("psycopg")
    repo = _extension_repo(tmp_path / "ext", "system")
    api = fake_api([Turn.end("Done.")])
    result = run_cli("look around", "--base-url", api.url, cwd=repo, timeout=300)
    assert result.returncode == 0, result.stderr + result.stdout


def test_the_users_database_url_is_not_the_gates(calc_repo, fake_api):
    host_url = "postgresql://app:hunter2-prod-password@db.example.com:5432/prod"
    _settings(calc_repo, 'env_allow = ["DATABASE_URL"]\n')
    api = fake_api([Turn.end("Done.")])
    env = cli_env(DATABASE_URL=host_url)
    result = run_cli("look around", "--base-url", api.url, cwd=calc_repo, env=env)
    assert result.returncode == 0, result.stderr
    assert 'set database = "external"' in result.stderr
    transcript = "".join(p.read_text() for p in (calc_repo / ".git").rglob("transcript.jsonl"))
    assert "hunter2-prod-password" not in transcript + result.stderr + result.stdout


def test_commands_reach_the_test_database_at_127_0_0_1(tmp_path, fake_api):
    asyncpg = pytest.importorskip("asyncpg")
    del asyncpg
    probe = (
        "import asyncio, os, asyncpg\n"
        "async def main():\n"
        "    c = await asyncpg.connect(os.environ['APP_DB'])\n"
        "    print('answer', await c.fetchval('select 40 + 2'))\n"
        "asyncio.run(main())\n"
    )
    repo = init_repo(
        tmp_path / "probe",
        {
            "pyproject.toml": CALC_PYPROJECT
            + '\n[tool.backend-agent.test_env]\nAPP_DB = "{db_url}"\n',
            "probe.py": probe,
            "tests/test_ok.py": "def test_ok() -> None:\n    assert True\n",
        },
    )
    from tests.fakes.anthropic_server import tool_use

    api = fake_api(
        [
            Turn.tools(
                tool_use("bash", {"command": "python probe.py; echo $PGHOST:$PGPORT $PGUSER"})
            ),
            Turn.end("Done."),
        ]
    )
    result = run_cli("probe", "--base-url", api.url, cwd=repo, timeout=300)
    assert result.returncode == 0, result.stderr
    output = next(e for e in events(repo) if e["type"] == "tool_result")["output"]
    assert "answer 42" in output
    assert "127.0.0.1:" in output and "postgres" in output
