"""The git side of a run: where the work happens, and how it is committed."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.errors import UsageError

BRANCH_PREFIX = "backend-agent/"
STATUS_TRAILER = "Backend-Agent-Status: incomplete"
RUN_TRAILER = "Backend-Agent-Run: "
# Never commit bytecode a test run left behind, whatever the repo's .gitignore says.
ADD_PATHSPEC = (".", ":(exclude,glob)**/__pycache__/**", ":(exclude,glob)**/*.pyc")
FALLBACK_IDENTITY = ("-c", "user.name=backend-agent", "-c", "user.email=backend-agent@localhost")


def slugify(text: str, limit: int = 40) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug[:limit].rstrip("-") or "change"


def open_repo(path: Path) -> Any:
    import git

    try:
        repo = git.Repo(path, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise UsageError(
            f"not a git repository: {path} (run `git init` there, or pass --repo)"
        ) from None
    if repo.bare:
        raise UsageError(f"{path} is a bare repository; run inside a checkout")
    if not repo.head.is_valid():
        raise UsageError(f"{repo.working_tree_dir} has no commits yet; commit something first")
    return repo


def common_dir(repo: Any) -> Path:
    return Path(repo.common_dir).resolve()


@dataclass(frozen=True)
class WorkPlace:
    root: Path
    branch: str
    base_commit: str
    worktree: bool


def prepare(
    repo: Any,
    *,
    branch: str,
    worktree: bool,
    allow_dirty: bool,
    run_id: str,
    base: str | None = None,
) -> WorkPlace:
    """Check out a new branch from `base` (default HEAD) in place, or in a separate worktree
    that leaves the user's checkout untouched (what the bot and the evals use)."""
    if not worktree and not allow_dirty and repo.is_dirty(untracked_files=True):
        raise UsageError(
            f"{repo.working_tree_dir} has uncommitted changes; commit or stash them, "
            "pass --allow-dirty to take them along, or --worktree to work beside them"
        )
    base = repo.commit(base or "HEAD").hexsha
    name = _free_branch_name(repo, branch)
    if worktree:
        path = common_dir(repo) / "backend-agent" / "worktrees" / run_id
        repo.git.worktree("add", "-b", name, str(path), base)
        root = path
    else:
        repo.git.checkout("-b", name, base)
        root = Path(repo.working_tree_dir)
    return WorkPlace(root=root.resolve(), branch=name, base_commit=base, worktree=worktree)


def _free_branch_name(repo: Any, wanted: str) -> str:
    existing = {h.name for h in repo.heads}
    if wanted not in existing:
        return wanted
    for n in range(2, 1000):
        if f"{wanted}-{n}" not in existing:
            return f"{wanted}-{n}"
    raise UsageError(f"too many branches named {wanted}-N")


def commit_all(root: Path, message: str) -> str | None:
    """Commit every change in the work tree; None when there is nothing to commit."""
    import git

    repo = git.Repo(root)
    repo.git.add("-A", "--", *ADD_PATHSPEC)
    if not repo.is_dirty(index=True, working_tree=False, untracked_files=False):
        return None
    identity = () if _has_identity(repo) else FALLBACK_IDENTITY
    # The model could have written a hooks folder that core.hooksPath points into: run none.
    no_hooks = ("-c", "core.hooksPath=/dev/null")
    repo.git.execute(["git", *identity, *no_hooks, "commit", "-q", "--no-verify", "-m", message])
    return repo.head.commit.hexsha


def _has_identity(repo: Any) -> bool:
    reader = repo.config_reader()
    return bool(reader.get_value("user", "name", "")) and bool(
        reader.get_value("user", "email", "")
    )


def undo_incomplete_commit(root: Path, run_id: str) -> bool:
    """On resume, fold a WIP commit of this same run back into the work tree, so a run that
    finishes green still ends as one commit."""
    import git

    repo = git.Repo(root)
    message = repo.head.commit.message
    if STATUS_TRAILER in message and f"{RUN_TRAILER}{run_id}" in message:
        repo.git.reset("--soft", "HEAD~1")
        return True
    return False


def diffstat(root: Path, base: str) -> str:
    import git

    return git.Repo(root).git.diff("--stat", base, "HEAD")


def current_branch(root: Path) -> str:
    import git

    repo = git.Repo(root)
    return "(detached)" if repo.head.is_detached else repo.active_branch.name
