"""Rendering the template tree of a new project: `.j2` files through Jinja2, the rest copied."""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path

import jinja2

TEMPLATE_DIR = Path(__file__).parent / "template"
# Packaging tools and the repo's own .gitignore treat dotfiles specially; templates avoid them.
DOT_PREFIX = "dot-"


def output_path(relative: Path) -> Path:
    name = relative.name
    if name.endswith(".j2"):
        name = name.removesuffix(".j2")
    if name.startswith(DOT_PREFIX):
        name = "." + name.removeprefix(DOT_PREFIX)
    return relative.with_name(name)


def render_tree(target: Path, context: Mapping[str, object]) -> list[Path]:
    """Writes every template file under `target`; returns the written paths, relative."""
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
    )
    written: list[Path] = []
    for source in sorted(TEMPLATE_DIR.rglob("*")):
        if source.is_dir() or "__pycache__" in source.parts:
            continue
        relative = source.relative_to(TEMPLATE_DIR)
        destination = target / output_path(relative)
        destination.parent.mkdir(parents=True, exist_ok=True)
        if source.name.endswith(".j2"):
            template = environment.get_template(relative.as_posix())
            destination.write_text(template.render(**context), encoding="utf-8")
        else:
            shutil.copyfile(source, destination)
        written.append(destination.relative_to(target))
    return written
