"""Jinja2 set up once for every text the model reads: tool descriptions here, prompts in
`agent/templates/`. StrictUndefined, so a missing variable fails loudly instead of blanking."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

TOOL_TEMPLATES = Path(__file__).resolve().parent / "templates"


@cache
def environment(directory: Path = TOOL_TEMPLATES) -> Any:
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(directory),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=False,
        autoescape=False,
        auto_reload=False,  # templates ship with the package; no need to stat them per render
    )


def render(name: str, /, **context: Any) -> str:
    return environment().get_template(name).render(**context).strip()


def render_block(template: str, block: str, **context: Any) -> str:
    """One `{% block %}` of a tool template: a tool's description and each of its input
    fields' descriptions live in the same file, so every word the model reads is in one place."""
    compiled = environment().get_template(template)
    return "".join(compiled.blocks[block](compiled.new_context(context))).strip()
