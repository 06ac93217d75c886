"""Every word the model sees is rendered here, from the templates in `agent/templates/`."""

from __future__ import annotations

import ast
import subprocess
from pathlib import Path
from typing import Any

from tools.templating import environment

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"


def render(template: str, /, **context: Any) -> str:
    """Render `templates/<template>`; a missing variable is an error, never a silent blank."""
    return environment(TEMPLATE_DIR).get_template(template).render(**context).strip() + "\n"


def repo_map(root: Path, limit: int = 6000) -> str:
    """A compact map of the tracked files, with the top-level names of each Python module.

    It saves the model a dozen `view` calls at the start, and it is cheap: one `git ls-files`
    and a parse of each module. Past `limit` characters the symbols are dropped, then files."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    ).stdout.split()
    lines = []
    for rel in sorted(listed):
        symbols = _symbols(root / rel) if rel.endswith(".py") else []
        lines.append(f"{rel}: {', '.join(symbols)}" if symbols else rel)
    text = "\n".join(lines)
    if len(text) > limit:
        text = "\n".join(sorted(listed))
    if len(text) > limit:
        text = text[:limit].rsplit("\n", 1)[0] + f"\n... ({len(listed)} files in all)"
    return text or "(empty repository)"


def _symbols(path: Path) -> list[str]:
    try:
        tree = ast.parse(path.read_bytes())
    except (SyntaxError, ValueError, OSError):
        return []
    return [
        node.name
        for node in tree.body
        if isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
    ]
