"""Cloning and pushing with a token that never touches the disk: git receives it as an HTTP
header through `GIT_CONFIG_*` environment variables of that one git process, never in
`.git/config`, a remote URL or the command line (which any local user can read)."""

from __future__ import annotations

import base64
import os
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

from agent.errors import AgentError

PROTECTED_PREFIX = ".github/"


class GitError(AgentError):
    """A clone, fetch or push failed; the message never holds the token."""


def git_env(url: str, token: str | None) -> dict[str, str]:
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "true"}
    parts = urlsplit(url)
    if token and parts.scheme in ("http", "https"):
        basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
        env.update(
            GIT_CONFIG_COUNT="1",
            GIT_CONFIG_KEY_0=f"http.{parts.scheme}://{parts.netloc}/.extraHeader",
            GIT_CONFIG_VALUE_0=f"Authorization: basic {basic}",
        )
    return env


def _git(cwd: Path, *args: str, url: str = "", token: str | None = None) -> str:
    done = subprocess.run(
        ["git", *args],
        cwd=cwd,
        env=git_env(url, token),
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    if done.returncode != 0:
        detail = done.stderr.strip().splitlines()[-1:] or [f"exit {done.returncode}"]
        message = f"git {args[0]} failed: {detail[0]}"
        raise GitError(message.replace(token, "[REDACTED]") if token else message)
    return done.stdout.strip()


def sync(url: str, dest: Path, default_branch: str, token: str | None) -> Path:
    """A private clone at `dest` whose checkout is the default branch's tip: the spec and the
    repo's settings are read from it, and runs work beside it in worktrees."""
    if not (dest / ".git").is_dir():
        dest.parent.mkdir(parents=True, exist_ok=True)
        _git(dest.parent, "clone", "--quiet", "--no-checkout", url, dest.name, url=url, token=token)
    else:
        _git(dest, "remote", "set-url", "origin", url)
    _git(dest, "fetch", "--quiet", "--prune", "origin", url=url, token=token)
    _git(dest, "checkout", "--quiet", "--force", "-B", default_branch, f"origin/{default_branch}")
    _git(dest, "clean", "-fdxq")
    return dest


def remote_tip(clone: Path, branch: str) -> str | None:
    """The commit the remote's `branch` pointed at when last fetched, or None."""
    try:
        return _git(clone, "rev-parse", "--verify", "--quiet", f"refs/remotes/origin/{branch}")
    except GitError:
        return None


def protected_changes(clone: Path, default_branch: str, commit: str) -> list[str]:
    """Files under `.github/` that `commit` changes compared with the default branch."""
    changed = _git(clone, "diff", "--name-only", f"origin/{default_branch}...{commit}")
    return [p for p in changed.splitlines() if p.startswith(PROTECTED_PREFIX)]


def has_changes(clone: Path, default_branch: str, commit: str) -> bool:
    return bool(_git(clone, "diff", "--name-only", f"origin/{default_branch}...{commit}"))


def push(clone: Path, url: str, commit: str, branch: str, token: str | None) -> None:
    """Push exactly `commit` to `branch`, nothing else; never forced, so a branch a person
    changed meanwhile is not overwritten."""
    _git(clone, "push", "--quiet", url, f"{commit}:refs/heads/{branch}", url=url, token=token)
