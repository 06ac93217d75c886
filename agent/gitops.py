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
    origin: str  # the branch (or, detached, the commit) the user's checkout was on


def origin_of(repo: Any) -> str:
    return repo.head.commit.hexsha if repo.head.is_detached else repo.active_branch.name


def worktree_path(repo: Any, run_id: str) -> Path:
    return common_dir(repo) / "backend-agent" / "worktrees" / run_id


def check_clean(repo: Any, *, worktree: bool, allow_dirty: bool) -> None:
    if not worktree and not allow_dirty and repo.is_dirty(untracked_files=True):
        raise UsageError(
            f"{repo.working_tree_dir} has uncommitted changes; commit or stash them, "
            "pass --allow-dirty to take them along, or --worktree to work beside them"
        )


def prepare(
    repo: Any,
    *,
    branch: str,
    worktree: bool,
    run_id: str,
    base: str | None = None,
) -> WorkPlace:
    """Check out a new branch from `base` (default HEAD) in place, or in a separate worktree
    that leaves the user's checkout untouched (what the bot and the evals use)."""
    base = repo.commit(base or "HEAD").hexsha
    name = _free_branch_name(repo, branch)
    origin = origin_of(repo)
    if worktree:
        path = worktree_path(repo, run_id)
        repo.git.worktree("add", "-b", name, str(path), base)
        root = path
    else:
        repo.git.checkout("-b", name, base)
        root = Path(repo.working_tree_dir)
    return WorkPlace(root.resolve(), name, base, worktree, origin)


def enter(repo: Any, meta: dict[str, Any]) -> str:
    """Put a stopped run's work tree back for `resume`: switch the checkout to the run's branch
    (or add its worktree again), re-creating a branch that was deleted for being empty.
    Returns where the checkout should go back to when the run ends."""
    import git

    branch, base = meta["branch"], meta["base_commit"]
    exists = branch in {h.name for h in repo.heads}
    if meta.get("worktree"):
        path = Path(meta["work_root"])
        if not path.is_dir():
            repo.git.worktree("prune")
            try:
                if exists:
                    repo.git.worktree("add", str(path), branch)
                else:
                    repo.git.worktree("add", "-b", branch, str(path), base)
            except git.GitCommandError as exc:
                why = _git_error(exc)
                raise UsageError(f"cannot add the worktree of {branch}: {why}") from None
        return meta.get("origin", "")
    if current_branch(Path(repo.working_tree_dir)) == branch:  # e.g. after a crash
        return meta.get("origin", "")
    if repo.is_dirty(untracked_files=True):
        raise UsageError(
            f"{repo.working_tree_dir} has uncommitted changes, and resuming switches it to "
            f"{branch}; commit or stash them first"
        )
    origin = origin_of(repo)
    try:
        repo.git.checkout(branch) if exists else repo.git.checkout("-b", branch, base)
    except git.GitCommandError as exc:
        raise UsageError(f"cannot switch to {branch}: {_git_error(exc)}") from None
    return origin


@dataclass(frozen=True)
class Leaving:
    """Where a run left things: the user's checkout, the run's branch and worktree."""

    checkout: str  # the branch (or commit) the user's checkout is on; "" when untouched
    branch_deleted: bool = False
    worktree_removed: bool = False
    note: str = ""  # why something stayed where the user would not expect it


def leave(meta: dict[str, Any], *, green: bool, keep_worktree: bool = False) -> Leaving:
    """End a run's hold on the repo. In place: the checkout goes back to where the user had it.
    In a worktree: a green run's worktree is removed (a stopped one stays for `resume`). The
    run's branch keeps its commits; a branch without any is deleted."""
    import git

    repo = git.Repo(meta["repo"])
    branch, root = meta["branch"], Path(meta["work_root"])
    try:
        empty = repo.commit(branch).hexsha == meta["base_commit"]
    except (git.BadName, ValueError):
        return Leaving(checkout="" if meta.get("worktree") else current_branch(root))
    if meta.get("worktree"):
        if not green or keep_worktree:
            return Leaving(checkout="")
        if git.Repo(root).is_dirty(untracked_files=True):
            return Leaving(checkout="", note=f"worktree {root} kept: it has uncommitted changes")
        repo.git.worktree("remove", str(root))
        if empty:
            repo.git.branch("-D", branch)
        return Leaving(checkout="", branch_deleted=empty, worktree_removed=True)
    origin = meta.get("origin")
    if not origin or current_branch(root) != branch:
        return Leaving(checkout=current_branch(root))
    if not empty and repo.is_dirty(untracked_files=True):
        return Leaving(checkout=branch, note=f"stayed on {branch}: it has uncommitted changes")
    try:  # uncommitted changes (--no-commit) come along: both ends are the same commit
        if origin in {h.name for h in repo.heads}:
            repo.git.checkout(origin)
        else:
            repo.git.checkout("--detach", origin)
    except git.GitCommandError as exc:
        return Leaving(checkout=branch, note=f"stayed on {branch}: {_git_error(exc)}")
    if empty:
        repo.git.branch("-D", branch)
    return Leaving(checkout=origin, branch_deleted=empty)


def _git_error(exc: Any) -> str:
    lines = [line.strip() for line in str(exc.stderr or exc).splitlines() if line.strip()]
    text = lines[0] if lines else str(exc)
    return text.removeprefix("stderr: ").strip("'").removeprefix("error: ").removeprefix("fatal: ")


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


def prune(repo: Any, ended: list[Any]) -> list[str]:
    """Remove what ended (stopped or dead) runs left behind; one line per thing removed or
    kept. A worktree with uncommitted changes is kept: that work exists nowhere else."""
    import shutil

    import git

    lines: list[str] = []
    heads = {h.name: h.commit.hexsha for h in repo.heads}
    for run_dir in ended:
        meta = run_dir.read_meta()
        if not meta.get("work_root"):
            shutil.rmtree(run_dir.path, ignore_errors=True)
            lines.append(f"removed run {run_dir.run_id}: it never started")
            continue
        path, branch = Path(meta["work_root"]), meta["branch"]
        if meta.get("worktree") and path.is_dir():
            if git.Repo(path).is_dirty(untracked_files=True):
                lines.append(f"kept worktree {path}: uncommitted changes (resume {run_dir.run_id})")
                continue
            repo.git.worktree("remove", str(path))
            lines.append(f"removed worktree {path} (branch {branch} stays)")
        if heads.get(branch) == meta["base_commit"] and branch not in _checked_out(repo):
            repo.git.branch("-D", branch)
            lines.append(f"deleted branch {branch}: it has no commits")
    repo.git.worktree("prune")
    return lines or ["nothing to remove"]


def _checked_out(repo: Any) -> set[str]:
    listing = repo.git.worktree("list", "--porcelain").splitlines()
    prefix = "branch refs/heads/"
    return {line.removeprefix(prefix) for line in listing if line.startswith(prefix)}
