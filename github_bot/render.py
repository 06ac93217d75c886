"""Every text the bot writes (to the model, on issues, on pull requests) comes from the
templates in `github_bot/templates/`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tools.templating import environment

TEMPLATES = Path(__file__).resolve().parent / "templates"


def quote(text: str) -> str:
    """Untrusted text as a Markdown quote, every line prefixed, so no line of it can stand
    outside the quote (or pose as one of our marker lines)."""
    lines = (text or "(empty)").replace("\r\n", "\n").strip("\n").split("\n")
    return "\n".join(f"> {line}".rstrip() for line in lines)


def render(template: str, /, **context: Any) -> str:
    env = environment(TEMPLATES)
    env.filters.setdefault("quote", quote)
    return env.get_template(template).render(**context).strip() + "\n"


def money(cost: float | None) -> str:
    return "unknown" if cost is None else f"${cost:.2f}"
