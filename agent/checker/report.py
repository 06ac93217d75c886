"""Printing violations (ruff-style text or JSON), reading settings, and the `check` entry."""

from __future__ import annotations

import json
import sys
import tomllib
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from agent.checker.engine import check_project
from agent.checker.rules import Violation, validate_selectors


@dataclass(frozen=True)
class CheckSettings:
    select: tuple[str, ...] | None = None
    ignore: tuple[str, ...] = ()


def format_text(violations: Sequence[Violation]) -> str:
    lines = [f"{v.path}:{v.line}:{v.col}: {v.code} {v.message}" for v in violations]
    count = len(violations)
    if count == 0:
        lines.append("All checks passed!")
    else:
        lines.append(f"Found {count} violation{'s' if count != 1 else ''}.")
    return "\n".join(lines)


def format_json(violations: Sequence[Violation]) -> str:
    return json.dumps([asdict(v) for v in violations], indent=2)


def load_settings(root: Path) -> CheckSettings:
    """Read `[tool.backend-agent.check]` (`select`/`ignore`) or `[tool.backend-agent]`
    (`check_select`/`check_ignore`) from `root/pyproject.toml`; the former wins.

    Raises ValueError for a malformed file or unknown selectors, so a typo cannot
    silently disable the gate.
    """
    path = Path(root) / "pyproject.toml"
    if not path.is_file():
        return CheckSettings()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"{path}: {exc}") from exc
    tool = data.get("tool", {}).get("backend-agent", {})
    section = tool.get("check", {}) if isinstance(tool.get("check"), dict) else {}
    select = section.get("select", tool.get("check_select"))
    ignore = section.get("ignore", tool.get("check_ignore", []))
    for name, value in (("select", select), ("ignore", ignore)):
        if value is not None and not (
            isinstance(value, list) and all(isinstance(item, str) for item in value)
        ):
            raise ValueError(f"{path}: check {name} must be a list of rule codes")
    settings = CheckSettings(
        tuple(select) if select is not None else None, tuple(ignore) if ignore else ()
    )
    validate_selectors(settings.select or ())
    validate_selectors(settings.ignore)
    return settings


def main(
    path: Path,
    *,
    select: Sequence[str] | None = None,
    ignore: Sequence[str] = (),
    as_json: bool = False,
) -> int:
    """Print the report; 0 clean, 1 violations, 2 unusable path or configuration.

    An explicit `select` replaces the configured one; `ignore` adds to the configured one.
    """
    root = Path(path)
    if not root.is_dir():
        print(f"error: {root} is not a directory", file=sys.stderr)
        return 2
    if not (root / "app").is_dir():
        print(f"error: {root} has no app/ package to check", file=sys.stderr)
        return 2
    try:
        settings = load_settings(root)
        chosen = list(select) if select is not None else settings.select
        violations = check_project(root, chosen, [*settings.ignore, *ignore])
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(format_json(violations) if as_json else format_text(violations))
    return 1 if violations else 0
