"""Printing violations (ruff-style text or JSON), reading settings, and the `check` entry."""

from __future__ import annotations

import json
import sys
import tomllib
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from agent.checker.engine import inspect_project
from agent.checker.rules import Violation, validate_selectors
from agent.checker.sources import source_roots


@dataclass(frozen=True)
class CheckSettings:
    select: tuple[str, ...] | None = None
    ignore: tuple[str, ...] = ()


def format_text(violations: Sequence[Violation], notices: Sequence[Violation] = ()) -> str:
    lines = [f"{v.path}:{v.line}:{v.col}: {v.code} {v.message}" for v in violations]
    lines += [f"{n.path}:{n.line}:{n.col}: {n.code}: {n.message}" for n in notices]
    count = len(violations)
    if count == 0:
        lines.append("All checks passed!")
    else:
        lines.append(f"Found {count} violation{'s' if count != 1 else ''}.")
    if notices:
        lines.append(f"{len(notices)} file{'s' if len(notices) != 1 else ''} not checked.")
    return "\n".join(lines)


def format_json(violations: Sequence[Violation], notices: Sequence[Violation] = ()) -> str:
    """One JSON object per line; a file left unchecked has `"code": null` (as in ruff)."""
    rows = [asdict(v) for v in violations]
    rows += [{**asdict(n), "code": None} for n in notices]
    return "\n".join(json.dumps(row) for row in rows)


def split_selectors(values: Sequence[str]) -> list[str]:
    """`["BA1,BA2", "BA3"]` -> `["BA1", "BA2", "BA3"]`: repeated and comma-separated both work."""
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def load_settings(root: Path) -> CheckSettings:
    """Read `[tool.backend-agent.check]` (`select`/`ignore`) or `[tool.backend-agent]`
    (`check_select`/`check_ignore`) from `root/pyproject.toml`; the former wins.

    Raises ValueError (one line, naming the file and key) for a malformed file or an unknown
    selector, so a typo cannot silently disable the gate.
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
    values: dict[str, list[str] | None] = {}
    for name in ("select", "ignore"):
        key = f"[tool.backend-agent.check] {name}" if name in section else f"check_{name}"
        value = section.get(name, tool.get(f"check_{name}"))
        if value is not None and not (
            isinstance(value, list) and all(isinstance(item, str) for item in value)
        ):
            raise ValueError(f"{path}: {key} must be a list of rule codes, got {value!r}")
        try:
            values[name] = None if value is None else split_selectors(value)
            validate_selectors(values[name] or ())
        except ValueError as exc:
            raise ValueError(f"{path}: {key}: {exc}") from None
    select = values["select"]
    return CheckSettings(
        tuple(select) if select is not None else None, tuple(values["ignore"] or ())
    )


def main(
    path: Path,
    *,
    select: Sequence[str] | None = None,
    ignore: Sequence[str] = (),
    as_json: bool = False,
) -> int:
    """Print the report; 0 clean, 1 violations, 2 unusable path or configuration.

    An explicit `select` replaces the configured one; `ignore` adds to the configured one.
    Selectors may repeat or be comma-separated.
    """
    root = Path(path)
    if not root.is_dir():
        print(f"error: {root} is not a directory", file=sys.stderr)
        return 2
    if not source_roots(root):
        print(
            f"error: {root} has no Python package to check (looked for app/, src/<pkg>/ "
            "and top-level packages)",
            file=sys.stderr,
        )
        return 2
    try:
        settings = load_settings(root)
        chosen = split_selectors(select) if select is not None else settings.select
        extra = split_selectors(ignore)
        for where, selectors in (
            ("--select", chosen if select is not None else ()),
            ("--ignore", extra),
        ):
            try:
                validate_selectors(selectors)
            except ValueError as exc:
                raise ValueError(f"{where}: {exc}") from None
        report = inspect_project(root, chosen, [*settings.ignore, *extra])
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if as_json:
        text = format_json(report.violations, report.notices)
        if text:
            print(text)
    else:
        print(format_text(report.violations, report.notices))
    return 1 if report.violations else 0
