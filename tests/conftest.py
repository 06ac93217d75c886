"""Shared fixtures: real temp git repos, the real CLI as a subprocess, the fake API server."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
API_KEY = "sk-test-fake-key-0123456789"

CALC_PYPROJECT = """\
[project]
name = "calc"
version = "0.1.0"

[tool.ruff]
line-length = 100

[tool.pytest.ini_options]
testpaths = ["tests"]
pythonpath = ["."]
"""


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout.strip()


def write_files(root: Path, files: dict[str, str]) -> None:
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(content))


def init_repo(root: Path, files: dict[str, str]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    write_files(root, files)
    git(root, "init", "-q", "-b", "main")
    git(root, "config", "user.name", "Test User")
    git(root, "config", "user.email", "test@example.com")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "initial")
    return root


@pytest.fixture
def calc_repo(tmp_path: Path) -> Path:
    """A small Python repo whose gate is green before the agent starts."""
    return init_repo(
        tmp_path / "calc",
        {
            "pyproject.toml": CALC_PYPROJECT,
            ".gitignore": "__pycache__/\n",
            "calc.py": "def add(a: int, b: int) -> int:\n    return a + b\n",
            "tests/test_calc.py": (
                "from calc import add\n\n\ndef test_add() -> None:\n    assert add(1, 2) == 3\n"
            ),
        },
    )


def cli_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANTHROPIC_")}
    env.update({"ANTHROPIC_API_KEY": API_KEY, "PYTHONPATH": str(ROOT), "NO_COLOR": "1"})
    env.update(extra)
    return env


def start_cli(repo: Path, *args: str, new_session: bool = False) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "agent", *args],
        cwd=repo,
        env=cli_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=new_session,
    )


Cli = Callable[..., subprocess.CompletedProcess[str]]


def run_cli(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run `backend-agent ARGS` for real, as a user would, in `cwd`."""
    return subprocess.run(
        [sys.executable, "-m", "agent", *args],
        cwd=cwd,
        env=env or cli_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture
def cli() -> Cli:
    return run_cli


@pytest.fixture
def fake_api() -> Iterator[Callable[..., object]]:
    """Start a FakeAnthropic with the given script; stopped at the end of the test."""
    from tests.fakes.anthropic_server import FakeAnthropic

    started: list[FakeAnthropic] = []

    def start(turns: object, **kwargs: object) -> FakeAnthropic:
        server = FakeAnthropic(turns, **kwargs).start()  # type: ignore[arg-type]
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
