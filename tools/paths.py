"""Turning a path the model wrote into a real path inside the workspace, or a refusal.

Every tool that touches files goes through `resolve_in_workspace`, so the confinement rules
(no escape by `..`, absolute paths or symlinks; no writes under protected prefixes) live in one
place. Paths are resolved fully, symlinks included, before they are judged: a check on the
text of a path alone is what symlinks defeat."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

from tools.base import ToolError


class PathError(ToolError):
    """A refused path; `reason` is a two-word cause for one-line summaries."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


def resolve_in_workspace(
    root: Path, path: str, *, for_write: bool, protected: Sequence[str] = ()
) -> Path:
    """The fully resolved absolute path `path` names, which is guaranteed to be inside `root`.

    `path` may be relative to `root` or absolute. Symlinks are followed wherever they exist,
    also for a file that does not exist yet (its deepest existing parent is resolved), so a
    link that points out of the workspace is refused like a `..` escape. With `for_write`,
    paths under a `protected` prefix (judged on the resolved path) are refused too."""
    if not isinstance(path, str) or not path.strip():
        raise PathError("The path is empty. Please provide a valid path.", "empty path")
    if "\x00" in path:
        raise PathError(f"The path {path!r} contains a NUL byte.", "bad path")
    real_root = Path(os.path.realpath(root))
    given = Path(path)
    joined = given if given.is_absolute() else real_root / given
    try:
        resolved = Path(os.path.realpath(joined))
    except (OSError, ValueError) as exc:  # e.g. a symlink loop on some Python versions
        raise PathError(f"Ran into {exc} while resolving the path {path}.", "bad path") from exc

    if not _is_within(resolved, real_root):
        raise PathError(_outside_message(path, joined, resolved, real_root), "outside workspace")

    if for_write:
        rel = relative_display(real_root, resolved)
        rule = protected_rule(rel, protected)
        if rule is not None:
            raise PathError(
                f"The path {rel} is protected: writing under `{rule}` is not allowed in this "
                "workspace. Leave it unchanged.",
                "protected",
            )
    return resolved


def relative_display(root: Path, resolved: Path) -> str:
    """How a path is shown to the model: relative to the root, POSIX style, `.` for the root."""
    real_root = Path(os.path.realpath(root))
    try:
        rel = resolved.relative_to(real_root)
    except ValueError:
        return str(resolved)
    text = rel.as_posix()
    return text if text not in ("", ".") else "."


def protected_rule(rel: str, protected: Sequence[str]) -> str | None:
    """The protected prefix that covers `rel` (a root-relative POSIX path), if any.

    A rule names a directory or file, with or without a trailing slash: `.git/` covers `.git`
    itself and everything below it, never `.gitignore`."""
    parts = PurePosixPath(rel).parts
    for rule in protected:
        rule_parts = PurePosixPath(rule.strip("/")).parts
        if rule_parts and parts[: len(rule_parts)] == rule_parts:
            return rule
    return None


def _is_within(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def _outside_message(given: str, joined: Path, resolved: Path, root: Path) -> str:
    lexical = Path(os.path.normpath(joined))
    if _is_within(lexical, root):
        # The text stays inside; a symlink on the way leads out.
        return (
            f"The path {given} resolves through a symlink to {resolved}, which is outside the "
            f"workspace {root}. Only files inside the workspace can be viewed or edited."
        )
    hint = ""
    stripped = given.lstrip("/")
    if Path(given).is_absolute() and stripped and os.path.lexists(root / stripped):
        hint = f" Maybe you meant {stripped}?"
    return (
        f"The path {given} is outside the workspace {root}. Use a path relative to the "
        f"workspace root, or an absolute path inside it.{hint}"
    )
