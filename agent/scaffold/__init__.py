"""`backend-agent new NAME`: a complete FastAPI service following the backend spec, ready for
its first request ("add books resource"), in a git repository with one commit."""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path

import git
import jinja2

from agent.scaffold.render import render_tree
from agent.scaffold.repo import init_and_commit

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_-]*$")
MAX_NAME_LENGTH = 64
# The generated tests start PostgreSQL with the same module the runner uses: one source.
EMBEDDED_POSTGRES_SOURCE = Path(__file__).parent.parent / "postgres.py"
EMBEDDED_POSTGRES_TARGET = Path("tests/embedded_postgres.py")


class ScaffoldError(Exception):
    """A refusal or failure to create the project; the message is one line for the user."""


def validate_name(name: str) -> str:
    """The Python package-ish spelling of `name` (dashes become underscores)."""
    if not NAME_PATTERN.match(name) or len(name) > MAX_NAME_LENGTH or name[-1] in "-_":
        raise ScaffoldError(
            f"invalid project name {name!r}: use lowercase letters, digits, '-' and '_', "
            f"starting with a letter (at most {MAX_NAME_LENGTH} characters)"
        )
    return name.replace("-", "_")


def create_project(name: str, parent: Path) -> Path:
    """Renders the project into `parent/name` and commits it; returns that directory.

    Everything is built in a sibling temporary directory and moved into place at the end, so
    a failure never leaves a half-made project behind."""
    package = validate_name(name)
    parent = Path(parent).resolve()
    target = parent / name
    if target.exists() and not target.is_dir():
        raise ScaffoldError(f"{target} exists and is not a directory")
    if target.is_dir() and any(target.iterdir()):
        raise ScaffoldError(f"{target} already exists and is not empty")
    if not parent.is_dir():
        raise ScaffoldError(f"{parent} is not a directory")
    staging = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=parent))
    try:
        render_tree(staging, {"name": name, "package": package})
        shutil.copyfile(EMBEDDED_POSTGRES_SOURCE, staging / EMBEDDED_POSTGRES_TARGET)
        staging.chmod(0o755)  # mkdtemp's 0700 is not what a project directory should have
        if target.is_dir():
            target.rmdir()
        staging.rename(target)
    except (OSError, jinja2.TemplateError) as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise ScaffoldError(f"could not write {target}: {exc}") from exc
    try:
        init_and_commit(target, f"Create {name} with backend-agent")
    except (OSError, git.GitError) as exc:
        raise ScaffoldError(f"created {target}, but its git commit failed: {exc}") from exc
    return target


__all__ = ["ScaffoldError", "create_project", "validate_name"]
