"""The product's promise, end to end: on a fresh `backend-agent new` project, a session adds the
books resource through the real runner (real SDK against the fake model server, real sandbox,
real embedded PostgreSQL, real ruff, pytest, quality checker and Alembic), and ends green with
one commit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import git
from tests.fakes.anthropic_server import Turn, tool_use
from tests.scripts.books import books_fix_turn, books_rule_breaking_turns, books_turns
from tests.test_run import events

pytest.importorskip("fastapi")


def scripted(turns: list[list[dict]]) -> list[Turn]:
    return [Turn.tools(*[tool_use(c["name"], c["input"]) for c in turn]) for turn in turns]


@pytest.fixture
def project(tmp_path: Path, cli) -> Path:
    result = cli("new", "library", "--parent", str(tmp_path), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    return tmp_path / "library"


def gates(repo: Path) -> list[dict]:
    return [e for e in events(repo) if e["type"] == "gate"]


def test_add_books_resource_goes_green_with_one_commit(project, cli, fake_api):
    api = fake_api([*scripted(books_turns()), Turn.end("Added the books resource.")])
    result = cli("add books resource", "--base-url", api.url, cwd=project, timeout=600)
    assert result.returncode == 0, result.stderr + result.stdout
    [gate] = gates(project)
    names = [c["name"] for c in gate["checks"]]
    assert names == [
        "protected paths",
        "test integrity",
        "ruff check",
        "ruff format",
        "quality standards",
        "alembic check",
        "tests",
        "fuzz",
    ]
    assert all(c["ok"] for c in gate["checks"]), json.dumps(gate, indent=1)
    assert git(project, "branch", "--show-current") == "main"  # back where the user was
    branch = "backend-agent/add-books-resource"
    assert git(project, "rev-list", "--count", f"main..{branch}") == "1"
    changed = git(project, "diff", "--name-only", f"main..{branch}").splitlines()
    for path in (
        "app/models/book.py",
        "app/schemas/book/request.py",
        "app/schemas/book/response.py",
        "app/services/book.py",
        "app/api/endpoints/books.py",
        "app/api/api.py",
        "tests/test_books.py",
    ):
        assert path in changed
    assert any(p.startswith("alembic/versions/") for p in changed)
    database = next(e for e in events(project) if e["type"] == "database")
    assert database["url"].startswith("postgresql+asyncpg://")


def red_then_green(
    project: Path, cli, fake_api, turns: list[list[dict]], fix_turn: list[dict], check: str
) -> tuple[dict, dict, str]:
    """A session whose first gate fails `check` alone and whose fix turns it green, with one
    commit. Returns that check's first result, the second gate, and what the model was sent."""
    api = fake_api([*scripted(turns), Turn.end("Done."), *scripted([fix_turn]), Turn.end("Fixed.")])
    result = cli("add books resource", "--base-url", api.url, cwd=project, timeout=900)
    assert result.returncode == 0, result.stderr + result.stdout
    first, second = gates(project)
    failed = {c["name"]: c for c in first["checks"] if not c["ok"]}
    assert list(failed) == [check], json.dumps(first, indent=1)
    assert second["ok"], json.dumps(second, indent=1)
    assert git(project, "rev-list", "--count", "main..backend-agent/add-books-resource") == "1"
    sent_back = api.message_requests[len(turns) + 1].body["messages"][-1]
    return failed[check], second, json.dumps(sent_back)


def test_a_broken_rule_is_reported_then_fixed(project, cli, fake_api):
    failed, _, sent_back = red_then_green(
        project, cli, fake_api, books_rule_breaking_turns(), books_fix_turn(), "quality standards"
    )
    assert "BA101" in failed["report"]
    assert "BA101" in sent_back
