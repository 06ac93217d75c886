"""The new project's git repository with its first commit."""

from __future__ import annotations

from pathlib import Path

import git

FALLBACK_NAME = "backend-agent"
FALLBACK_EMAIL = "backend-agent@localhost"


def init_and_commit(root: Path, message: str) -> str:
    """`git init` plus one commit of everything; returns the commit sha.

    A fresh CI machine has no user.name/user.email: then a repo-local identity is set, so the
    commit (and later ones by backend-agent) do not fail."""
    repo = git.Repo.init(root, initial_branch="main")
    with repo.config_reader() as reader:
        name = reader.get_value("user", "name", default="")
        email = reader.get_value("user", "email", default="")
    if not name or not email:
        with repo.config_writer() as writer:
            if not name:
                writer.set_value("user", "name", FALLBACK_NAME)
            if not email:
                writer.set_value("user", "email", FALLBACK_EMAIL)
    repo.git.add("--all")
    repo.git.commit("--message", message, "--no-verify", "--no-gpg-sign")
    return repo.head.commit.hexsha
