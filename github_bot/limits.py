"""Per-repository limits: what a run, an issue and a day may cost. The target repo states its own
in `[tool.backend-agent.github]` (read from its default branch, never from a branch the model
wrote); a server operator's flags are caps the repo cannot raise."""

from __future__ import annotations

import tomllib
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

from agent.errors import UsageError


@dataclass(frozen=True)
class Limits:
    concurrent_jobs: int = 1  # runs of one repository at once (server mode)
    runs_per_day: int = 20  # runs started for one repository per UTC day
    max_cost_per_issue: float = 10.0  # US dollars, all runs of one issue together
    max_cost_per_run: float = 5.0
    max_turns: int = 60
    timeout: float = 3600.0  # wall seconds of one run

    @classmethod
    def load(cls, root: Path, caps: dict[str, Any] | None = None) -> Limits:
        """The repo's table over the defaults, then each cap given by the operator."""
        limits = replace(cls(), **_table(root / "pyproject.toml"))
        for key, cap in (caps or {}).items():
            if cap is not None:
                limits = replace(limits, **{key: min(getattr(limits, key), cap)})
        return limits

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _table(pyproject: Path) -> dict[str, Any]:
    if not pyproject.is_file():
        return {}
    try:
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"{pyproject}: invalid TOML: {exc}") from None
    table = data.get("tool", {}).get("backend-agent", {}).get("github", {})
    known = {f.name: f.type for f in fields(Limits)}
    values: dict[str, Any] = {}
    for key, value in table.items():
        name = key.replace("-", "_")
        if name not in known:
            raise UsageError(
                f"{pyproject}: [tool.backend-agent.github] has unknown key {key!r} "
                f"(known: {', '.join(k.replace('_', '-') for k in sorted(known))})"
            )
        wanted = int if known[name] == "int" else float
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise UsageError(
                f"{pyproject}: [tool.backend-agent.github] {key} must be a number >= 0"
            )
        if wanted is int and not isinstance(value, int):
            raise UsageError(f"{pyproject}: [tool.backend-agent.github] {key} must be an integer")
        values[name] = wanted(value)
    return values
