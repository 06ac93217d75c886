"""Run settings: budgets from the command line, and `[tool.backend-agent]` from the target repo."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from agent.errors import UsageError

DEFAULT_MODEL = "claude-sonnet-4-6"
DEFAULT_SPEC = "backend"
# Settings that take one of a fixed set of values; checked when the settings are read.
CHOICES: dict[str, tuple[str, ...]] = {
    "database": ("auto", "none", "external"),
    "fuzz": ("changed", "all", "off"),  # true and false read as "changed" and "off"
}


@dataclass(frozen=True)
class Budget:
    """Limits on one run. A resumed run gets what is left of them, not a fresh set."""

    max_turns: int = 60
    max_cost: float = 5.0
    timeout: float = 3600.0
    max_gate_rounds: int = 6

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class RepoSettings:
    """What the target repo says about how to verify a change. Defaults fit a pytest + ruff repo."""

    test_command: str = "python -m pytest -q"
    lint_commands: tuple[str, ...] = ("ruff check .", "ruff format --check .")
    fix_commands: tuple[str, ...] = (
        "ruff check --fix --exit-zero --quiet .",
        "ruff format --quiet .",
    )
    protected_paths: tuple[str, ...] = (".git/", ".github/workflows/")
    test_patterns: tuple[str, ...] = ("tests/**/*.py", "test_*.py", "**/test_*.py", "**/*_test.py")
    env_allow: tuple[str, ...] = ()
    secret_files: tuple[str, ...] = ()
    quality_check: bool = True
    alembic_check: bool = True
    # "auto": a test PostgreSQL when the repo uses Alembic; "none"; or "external": the host's
    # DATABASE_URL (passed through `env_allow`) is the test database, on the user's word.
    database: str = "auto"
    postgres: str = "embedded"  # "embedded" (a wheel), "system" (pg_ctl on PATH), or a bin dir
    baseline: bool = True  # judge the change against the base commit, not the whole repo
    test_env: Mapping[str, str] = field(default_factory=dict)  # the app's settings for tests
    prepare_commands: tuple[str, ...] = ()  # run on each round's fresh database, before tests
    alembic_command: str = "python -m alembic"  # run with the project directory importable
    command_timeout: float = 600.0
    context_window: int = 200_000
    # The gate's fuzz check (agent/fuzz): which ASGI app, what to fuzz ("changed", "all", "off";
    # true/false mean "changed"/"off"), which POST paths register and log in a user, the budget.
    app_module: str = "app.main:app"
    fuzz: str = "changed"
    fuzz_auth: tuple[str, ...] = ("/auth/register", "/auth/login")
    fuzz_examples: int = 10
    fuzz_seconds: float = 30.0

    @classmethod
    def load(cls, root: Path) -> RepoSettings:
        """Read `[tool.backend-agent]`; an unknown key or a wrong type is a one-line error."""
        pyproject = root / "pyproject.toml"
        if not pyproject.is_file():
            return cls()
        try:
            data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise UsageError(f"{pyproject}: invalid TOML: {exc}") from None
        tool = data.get("tool", {})
        if not isinstance(tool, dict):
            raise UsageError(f"{pyproject}: `tool` must be a table, not {tool!r}")
        table = tool.get("backend-agent", {})
        if not isinstance(table, dict):
            raise UsageError(f"{pyproject}: `tool.backend-agent` must be a table, not {table!r}")
        known = {f.name: f for f in fields(cls)}
        values: dict[str, Any] = {}
        for key, value in table.items():
            name = key.replace("-", "_")
            if name in ("check", "check_select", "check_ignore", "github"):
                continue  # read by the quality checker and the GitHub bot themselves
            if name not in known:
                raise UsageError(
                    f"{pyproject}: [tool.backend-agent] has unknown key {key!r} "
                    f"(known: {', '.join(sorted(known))})"
                )
            if name == "fuzz" and isinstance(value, bool):
                value = "changed" if value else "off"
            values[name] = _coerce(pyproject, key, value, getattr(cls(), name))
            allowed = CHOICES.get(name)
            if allowed and values[name] not in allowed:
                raise UsageError(
                    f"{pyproject}: [tool.backend-agent] {key} must be one of "
                    f"{', '.join(map(repr, allowed))}, not {value!r}"
                )
        _check_quality_settings(root)
        return cls(**values)


def _check_quality_settings(root: Path) -> None:
    """A bad `check_select`/`check_ignore` stops the run here, not mid-gate."""
    from agent.checker import load_settings

    try:
        load_settings(root)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def find_project(start: Path, top: Path) -> Path:
    """The nearest directory at or above `start`, up to `top` (the git root), holding a
    `pyproject.toml`, as ruff and pytest find theirs; `top` itself when there is none."""
    start, top = start.resolve(), top.resolve()
    if start != top and top not in start.parents:
        return top
    for directory in (start, *start.parents):
        if (directory / "pyproject.toml").is_file() or directory == top:
            return directory
    return top


def _coerce(source: Path, key: str, value: Any, default: Any) -> Any:
    expected: type = type(default)
    if isinstance(default, Mapping):
        if isinstance(value, dict) and all(isinstance(v, str | int) for v in value.values()):
            return {str(k): str(v) for k, v in value.items()}
        raise UsageError(
            f"{source}: [tool.backend-agent] {key} must be a table of strings, got {value!r}"
        )
    if isinstance(default, tuple):
        if isinstance(value, str):
            value = [value]
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return tuple(value)
        expected = list
    elif (
        isinstance(default, float)
        and isinstance(value, int | float)
        and not isinstance(value, bool)
    ):
        return float(value)
    elif isinstance(value, expected) and not (isinstance(value, bool) and expected is int):
        return value
    raise UsageError(
        f"{source}: [tool.backend-agent] {key} must be a {expected.__name__}, got {value!r}"
    )
