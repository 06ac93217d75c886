"""Bring your own repo, end to end through the real CLI and the fake model: each layout a user
already has ends in a green commit that holds only the run's own files.

- a single project with lint findings and a failing test from before the run (the baseline);
- a `backend/` monorepo whose settings are POSTGRES_SERVER/PORT/..., with a secret-named
  setting and `alembic upgrade head` before its tests (project discovery, test_env, prepare);
- a sync SQLModel app on psycopg (the test database over TCP at 127.0.0.1).

The fixture repos are written here, in the shapes of public FastAPI codebases."""

from __future__ import annotations

import json
from pathlib import Path
from textwrap import dedent

import pytest

from tests.conftest import CALC_PYPROJECT, cli_env, git, init_repo, run_cli
from tests.fakes.anthropic_server import Turn, tool_use
from tests.test_run import create, events, replace_text

# --------------------------------------------------------------------------- single project

LEGACY_FILES = {
    "pyproject.toml": CALC_PYPROJECT + '\n[tool.ruff.lint]\nselect = ["E", "F", "I"]\n',
    ".gitignore": "__pycache__/\n",
    # F401 (unused import) and a file `ruff format` would rewrite: both were there before.
    "shop/__init__.py": "",
    "shop/prices.py": """\
        import os


        def total(prices: list[float]) -> float:
            return sum(prices)


        def discount(price: float) -> float:
            return price * 0.8
        """,
    "shop/legacy.py": "def old( a,b ):\n    return a+b\n",
    "tests/test_prices.py": """\
        from shop.prices import discount, total


        def test_total() -> None:
            assert total([1.0, 2.0]) == 3.0


        def test_discount() -> None:
            assert discount(10.0) == 9.0  # a known bug, filed long ago
        """,
}

TAX = (  # not formatted as ruff would: the fixer formats the run's own files
    "def with_tax(price: float, rate: float=0.2) -> float:\n"
    "    return round(price * (1 + rate), 2)\n"
)
TAX_TEST = (
    "from shop.tax import with_tax\n\n\ndef test_with_tax() -> None:\n"
    "    assert with_tax(10.0) == 12.0\n"
)


@pytest.fixture
def legacy_repo(tmp_path: Path) -> Path:
    return init_repo(tmp_path / "shop", LEGACY_FILES)


def run_branch(repo: Path) -> str:
    """The run's branch: the user's checkout is back on main when a run ends."""
    refs = git(repo, "for-each-ref", "--format=%(refname:short)", "refs/heads/backend-agent/")
    [branch] = refs.splitlines()
    return branch


def changed(repo: Path) -> list[str]:
    return sorted(git(repo, "diff", "--name-only", f"main..{run_branch(repo)}").splitlines())


def gates(repo: Path) -> list[dict]:
    return [e for e in events(repo) if e["type"] == "gate"]


def test_lint_findings_and_a_failing_test_from_before_do_not_block(legacy_repo, cli, fake_api):
    api = fake_api(
        [
            Turn.tools(create("shop/tax.py", TAX), create("tests/test_tax.py", TAX_TEST)),
            Turn.end("Added with_tax."),
        ]
    )
    result = cli("add a tax helper", "--base-url", api.url, cwd=legacy_repo, timeout=300)
    assert result.returncode == 0, result.stderr + result.stdout
    [gate] = gates(legacy_repo)
    assert gate["ok"], json.dumps(gate, indent=1)
    assert gate["baseline"] == "baseline: 1 ruff, 1 failing test; this change: 0 new"
    checks = {c["name"]: c for c in gate["checks"]}
    assert "1 already there before the change" in checks["tests"]["headline"]
    assert "baseline: 1 ruff, 1 failing test" in result.stderr  # the live summary says so
    # Only the run's files: the fixer formatted shop/tax.py, and left shop/legacy.py alone.
    assert changed(legacy_repo) == ["shop/tax.py", "tests/test_tax.py"]
    branch = run_branch(legacy_repo)
    assert "rate: float = 0.2" in git(legacy_repo, "show", f"{branch}:shop/tax.py")
    legacy = git(legacy_repo, "show", f"{branch}:shop/legacy.py")
    assert legacy == LEGACY_FILES["shop/legacy.py"].strip()  # the fixers left it alone
    shown = run_cli("show", "last", cwd=legacy_repo)
    assert "baseline: 1 ruff, 1 failing test; this change: 0 new" in shown.stdout


def test_breaking_a_test_that_passed_before_is_red(legacy_repo, cli, fake_api):
    breaking = replace_text("shop/prices.py", "return sum(prices)", "return max(prices)")
    api = fake_api([Turn.tools(breaking), Turn.end("Changed total.")])
    result = cli("change total", "--base-url", api.url, "--max-gate-rounds", "1", cwd=legacy_repo)
    assert result.returncode == 1, result.stderr
    [gate] = gates(legacy_repo)
    tests = next(c for c in gate["checks"] if c["name"] == "tests")
    assert not tests["ok"]
    assert "tests/test_prices.py::test_total" in tests["report"].split("(fix these)")[1]
    ruff = next(c for c in gate["checks"] if c["name"] == "ruff check")
    assert ruff["ok"], ruff  # the unused import was there before


def test_strict_judges_the_whole_repo(legacy_repo, cli, fake_api):
    api = fake_api(
        [
            Turn.tools(create("shop/tax.py", TAX), create("tests/test_tax.py", TAX_TEST)),
            Turn.end("Added with_tax."),
        ]
    )
    result = cli(
        "add a tax helper",
        "--base-url",
        api.url,
        "--strict",
        "--max-gate-rounds",
        "1",
        cwd=legacy_repo,
    )
    assert result.returncode == 1
    [gate] = gates(legacy_repo)
    failed = {c["name"] for c in gate["checks"] if not c["ok"]}
    assert failed == {"tests"}  # the fixers, on the whole repo, cleared the lint
    assert "baseline" not in gate
    assert "shop/legacy.py" in changed(legacy_repo)


def orm_model(name: str, column: str, length: int) -> str:
    """A SQLAlchemy model with one string column, and its response schema."""
    return f"""

class {name}(Base):
    __tablename__ = "{name.lower()}"

    id: Mapped[int] = mapped_column(primary_key=True)
    {column}: Mapped[str] = mapped_column(String({length}))


class {name}Public(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    {column}: str
"""


def migration(revision: str, down: str | None, name: str, column: str, length: int) -> str:
    """The Alembic revision that creates `orm_model(name, column, length)`'s table."""
    return f"""\
import sqlalchemy as sa
from alembic import op

revision = "{revision}"
down_revision = {f'"{down}"' if down else None}


def upgrade() -> None:
    op.create_table(
        "{name.lower()}",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("{column}", sa.String(length={length}), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("{name.lower()}")
"""


def list_endpoint_and_test(plural: str, model: str, schema: str) -> tuple[str, str]:
    """What a model would add to `app/main.py` to list a new resource through its service
    function, and the test it would write for it."""
    endpoint = f"""


@app.get("/{plural}/", response_model=list[{schema}])
def read_{plural}(session: SessionDep) -> list[{model}]:
    return crud.list_{plural}(session)
"""
    test = f"""\
from fastapi.testclient import TestClient


def test_no_{plural}_yet(client: TestClient) -> None:
    response = client.get("/{plural}/")
    assert response.status_code == 200
    assert response.json() == []
"""
    return endpoint, test


# --------------------------------------------------------------------------- backend/ monorepo

MONOREPO_FILES = {
    "README.md": "# Full stack\n",
    "frontend/package.json": '{"name": "frontend", "private": true}\n',
    "backend/pyproject.toml": CALC_PYPROJECT
    + dedent("""
        [tool.backend-agent]
        env_allow = ["SECRET_KEY"]
        prepare_commands = ["python -m alembic upgrade head"]
        # This repo's own style, not the spec's: module-level crud functions, integer keys,
        # no created_at.
        check_ignore = ["BA301", "BA201", "BA202"]

        [tool.backend-agent.test_env]
        POSTGRES_SERVER = "{db_host}"
        POSTGRES_PORT = "{db_port}"
        POSTGRES_USER = "{db_user}"
        POSTGRES_PASSWORD = "{db_password}"
        POSTGRES_DB = "{db_name}"
        SECRET_KEY = "test-only-key"
        """),
    "backend/alembic.ini": "[alembic]\nscript_location = app/alembic\n",
    "backend/app/__init__.py": "",
    "backend/app/core/__init__.py": "",
    "backend/app/core/config.py": """\
        from pydantic import PostgresDsn, computed_field
        from pydantic_settings import BaseSettings


        class Settings(BaseSettings):
            SECRET_KEY: str
            POSTGRES_SERVER: str
            POSTGRES_PORT: int = 5432
            POSTGRES_USER: str
            POSTGRES_PASSWORD: str
            POSTGRES_DB: str

            @computed_field  # type: ignore[prop-decorator]
            @property
            def SQLALCHEMY_DATABASE_URI(self) -> PostgresDsn:
                return PostgresDsn.build(
                    scheme="postgresql+psycopg",
                    username=self.POSTGRES_USER,
                    password=self.POSTGRES_PASSWORD,
                    host=self.POSTGRES_SERVER,
                    port=self.POSTGRES_PORT,
                    path=self.POSTGRES_DB,
                )


        settings = Settings()  # type: ignore[call-arg]
        """,
    "backend/app/core/db.py": """\
        from collections.abc import Iterator

        from sqlalchemy import create_engine
        from sqlalchemy.orm import Session

        from app.core.config import settings

        engine = create_engine(str(settings.SQLALCHEMY_DATABASE_URI))


        def get_session() -> Iterator[Session]:
            with Session(engine) as session:
                yield session
        """,
    "backend/app/models.py": (
        "from pydantic import BaseModel, ConfigDict\n"
        "from sqlalchemy import String\n"
        "from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column\n\n\n"
        "class Base(DeclarativeBase):\n"
        "    pass\n" + orm_model("Item", "title", 255)
    ),
    "backend/app/main.py": """\
        from typing import Annotated

        from fastapi import Depends, FastAPI
        from sqlalchemy import select
        from sqlalchemy.orm import Session

        from app.core.db import get_session
        from app.models import Item, ItemPublic

        app = FastAPI()
        SessionDep = Annotated[Session, Depends(get_session)]


        @app.get("/items/", response_model=list[ItemPublic])
        def read_items(session: SessionDep) -> list[Item]:
            return list(session.scalars(select(Item)))
        """,
    "backend/app/alembic/env.py": """\
        from alembic import context
        from sqlalchemy import create_engine, pool

        from app.core.config import settings
        from app.models import Base

        engine = create_engine(str(settings.SQLALCHEMY_DATABASE_URI), poolclass=pool.NullPool)
        with engine.connect() as connection:
            context.configure(connection=connection, target_metadata=Base.metadata)
            with context.begin_transaction():
                context.run_migrations()
        """,
    "backend/app/alembic/versions/0001_item.py": migration("0001", None, "Item", "title", 255),
    "backend/tests/__init__.py": "",
    "backend/tests/conftest.py": """\
        from collections.abc import Iterator

        import pytest
        from fastapi.testclient import TestClient

        from app.main import app


        @pytest.fixture
        def client() -> Iterator[TestClient]:
            with TestClient(app) as client:
                yield client
        """,
    "backend/tests/test_items.py": """\
        from fastapi.testclient import TestClient


        def test_no_items_yet(client: TestClient) -> None:
            response = client.get("/items/")
            assert response.status_code == 200
            assert response.json() == []
        """,
    ".gitignore": "__pycache__/\n",
}

TAG_MODEL = orm_model("Tag", "name", 64)
TAG_MIGRATION = migration("0002", "0001", "Tag", "name", 64)
TAG_CRUD = """\
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Tag


def list_tags(session: Session) -> list[Tag]:
    return list(session.scalars(select(Tag)))
"""
TAG_ENDPOINT, TAG_TEST = list_endpoint_and_test("tags", "Tag", "TagPublic")


def append(path: str, text: str, after: str) -> dict:
    return tool_use(
        "str_replace_based_edit_tool",
        {"command": "str_replace", "path": path, "old_str": after, "new_str": after + text},
    )


def test_backend_monorepo_with_postgres_settings_and_migrations(tmp_path, cli, fake_api):
    pytest.importorskip("psycopg")
    repo = init_repo(tmp_path / "fullstack", MONOREPO_FILES)
    backend = repo / "backend"
    api = fake_api(
        [
            Turn.tools(
                append("app/models.py", TAG_MODEL, "    title: str\n"),
                create("app/crud.py", TAG_CRUD),
                replace_text(
                    "app/main.py",
                    "from app.core.db import get_session\n"
                    "from app.models import Item, ItemPublic\n",
                    "from app import crud\nfrom app.core.db import get_session\n"
                    "from app.models import Item, ItemPublic, Tag, TagPublic\n",
                ),
                create("app/alembic/versions/0002_tag.py", TAG_MIGRATION),
                append(
                    "app/main.py", TAG_ENDPOINT, "    return list(session.scalars(select(Item)))\n"
                ),
                create("tests/test_tags.py", TAG_TEST),
            ),
            Turn.end("Added tags."),
        ]
    )
    env = cli_env(SECRET_KEY="a-host-secret-never-shown")
    result = run_cli("add tags", "--base-url", api.url, cwd=backend, env=env, timeout=600)
    assert result.returncode == 0, result.stderr + result.stdout
    assert "SECRET_KEY is in env_allow but looks like a secret" in result.stderr
    [gate] = gates(repo)
    names = [c["name"] for c in gate["checks"]]
    assert "quality standards" in names and "alembic check" in names  # found in backend/
    assert gate["ok"], json.dumps(gate, indent=1)
    assert changed(repo) == [
        "backend/app/alembic/versions/0002_tag.py",
        "backend/app/crud.py",
        "backend/app/main.py",
        "backend/app/models.py",
        "backend/tests/test_tags.py",
    ]
    database = next(e for e in events(repo) if e["type"] == "database")
    assert database["url"].startswith("postgresql+asyncpg://postgres:[REDACTED]@127.0.0.1:")
    transcript = "".join(p.read_text() for p in (repo / ".git" / "backend-agent").rglob("*.json*"))
    assert "a-host-secret-never-shown" not in transcript


# --------------------------------------------------------------------------- sync SQLModel app

SQLMODEL_FILES = {
    "pyproject.toml": CALC_PYPROJECT
    + dedent("""
        [tool.backend-agent]
        # This repo's own style, not the spec's: module-level crud functions, table models as
        # response models (SQLModel's way), integer keys, no created_at.
        check_ignore = ["BA301", "BA120", "BA201", "BA202"]
        # The tests create their tables; the fuzz check's fresh database needs them too.
        prepare_commands = ["python -m app.create_tables"]

        [tool.backend-agent.test_env]
        DATABASE_URL = "postgresql+psycopg://{db_user}:{db_password}@{db_host}:{db_port}/{db_name}"
        """),
    ".gitignore": "__pycache__/\n",
    "app/__init__.py": "",
    "app/create_tables.py": """\
        from sqlmodel import SQLModel

        import app.models  # noqa: F401  (every table)
        from app.db import engine

        SQLModel.metadata.create_all(engine)
        """,
    "app/db.py": """\
        import os
        from collections.abc import Iterator

        from sqlmodel import Session, create_engine

        engine = create_engine(os.environ["DATABASE_URL"])


        def get_session() -> Iterator[Session]:
            with Session(engine) as session:
                yield session
        """,
    "app/models.py": """\
        from sqlmodel import Field, SQLModel


        class Hero(SQLModel, table=True):
            id: int | None = Field(default=None, primary_key=True)
            name: str
        """,
    "app/crud.py": """\
        from sqlmodel import Session, select

        from app.models import Hero


        def list_heroes(session: Session) -> list[Hero]:
            return list(session.exec(select(Hero)))
        """,
    "app/main.py": """\
        from typing import Annotated

        from fastapi import Depends, FastAPI
        from sqlmodel import Session

        from app import crud
        from app.db import get_session
        from app.models import Hero

        app = FastAPI()
        SessionDep = Annotated[Session, Depends(get_session)]


        @app.get("/heroes/", response_model=list[Hero])
        def read_heroes(session: SessionDep) -> list[Hero]:
            return crud.list_heroes(session)
        """,
    "tests/__init__.py": "",
    "tests/conftest.py": """\
        from collections.abc import Iterator

        import pytest
        from fastapi.testclient import TestClient
        from sqlmodel import SQLModel

        from app.db import engine
        from app.main import app


        @pytest.fixture
        def client() -> Iterator[TestClient]:
            SQLModel.metadata.create_all(engine)
            try:
                with TestClient(app) as client:
                    yield client
            finally:
                SQLModel.metadata.drop_all(engine)
        """,
    "tests/test_heroes.py": """\
        from fastapi.testclient import TestClient


        def test_no_heroes_yet(client: TestClient) -> None:
            assert client.get("/heroes/").json() == []
        """,
}

TEAM_MODEL = """

class Team(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str
"""
TEAM_CRUD = """

def list_teams(session: Session) -> list[Team]:
    return list(session.exec(select(Team)))
"""
TEAM_ENDPOINT, TEAM_TEST = list_endpoint_and_test("teams", "Team", "Team")


def test_sync_sqlmodel_app_reaches_its_database_over_tcp(tmp_path, cli, fake_api):
    pytest.importorskip("sqlmodel")
    pytest.importorskip("psycopg")
    repo = init_repo(tmp_path / "heroes", SQLMODEL_FILES)
    api = fake_api(
        [
            Turn.tools(
                append("app/models.py", TEAM_MODEL, "    name: str\n"),
                replace_text("app/crud.py", "import Hero\n", "import Hero, Team\n"),
                append("app/crud.py", TEAM_CRUD, "select(Hero)))\n"),
                replace_text("app/main.py", "import Hero\n", "import Hero, Team\n"),
                append("app/main.py", TEAM_ENDPOINT, "crud.list_heroes(session)\n"),
                create("tests/test_teams.py", TEAM_TEST),
            ),
            Turn.end("Added teams."),
        ]
    )
    result = cli("add teams", "--base-url", api.url, cwd=repo, timeout=600)
    assert result.returncode == 0, result.stderr + result.stdout
    [gate] = gates(repo)
    assert gate["ok"], json.dumps(gate, indent=1)
    assert "quality standards" in [c["name"] for c in gate["checks"]]
    assert gate["baseline"] == "baseline: clean; this change: 0 new"
    assert changed(repo) == [
        "app/crud.py",
        "app/main.py",
        "app/models.py",
        "tests/test_teams.py",
    ]
