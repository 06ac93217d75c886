import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator

import pytest
from httpx import AsyncClient
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool


def ident(body: dict, name: str) -> str:
    """The id of a created resource, whether it is called `<name>_id` or `id`."""
    return str(body.get(f"{name}_id") or body["id"])


@pytest.fixture
async def empty_database(server_url: str) -> AsyncIterator[str]:
    name = f"migrations_{uuid.uuid4().hex[:12]}"
    admin = create_async_engine(server_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    async with admin.connect() as connection:
        await connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        async with admin.connect() as connection:
            await connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        await admin.dispose()


def alembic(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": url}
    command = [sys.executable, "-m", "alembic", *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)


async def columns(url: str) -> set[str]:
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(
                text("SELECT column_name FROM information_schema.columns WHERE table_name='book'")
            )
            return {row[0] for row in rows}
    finally:
        await engine.dispose()


async def test_migrations_match_the_models(empty_database: str) -> None:
    upgrade = alembic(empty_database, "upgrade", "head")
    assert upgrade.returncode == 0, upgrade.stderr
    assert "publisher" in await columns(empty_database)
    check = alembic(empty_database, "check")
    assert check.returncode == 0, check.stdout + check.stderr


async def test_the_migration_downgrades(empty_database: str) -> None:
    assert alembic(empty_database, "upgrade", "head").returncode == 0
    downgrade = alembic(empty_database, "downgrade", "-1")
    assert downgrade.returncode == 0, downgrade.stderr
    assert "publisher" not in await columns(empty_database)
    assert "title" in await columns(empty_database)


async def test_publisher_round_trips_over_http(logged_in_client: AsyncClient) -> None:
    body = {"title": "Dune", "author": "Frank Herbert", "publisher": "Chilton"}
    created = await logged_in_client.post("/books", json=body)
    assert created.status_code == 201
    assert created.json()["publisher"] == "Chilton"
