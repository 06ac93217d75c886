"""Maintainer tools for the task suite: build a task's base to write a solution in, capture a
work tree's changes as a patch, and refresh every patch after the scaffold changed.

    python -m evals.authoring base evals/tasks/books-soft-delete /tmp/w     # -> /tmp/w/library
    ... edit /tmp/w/library like the spec wants ...
    python -m evals.authoring capture /tmp/w/library evals/tasks/books-soft-delete/solution.patch
    python -m evals.authoring refresh [TASK_ID ...]     # after the scaffold changed

`refresh` re-applies setup.patch and solution.patch with a three-way merge on a base rendered by
the installed scaffold and rewrites them, so hunks keep applying when shared files
(app/api/api.py, app/models/__init__.py, alembic/env.py) change around them. Run
`backend-agent eval validate` afterwards. See evals/tasks/README.md.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from agent.api import new_project
from evals.tasks import (
    BUILTIN_SUITE,
    PROJECT_NAME,
    Task,
    TaskError,
    build_base,
    git,
    load_suite,
)


def capture(root: Path, patch: Path) -> None:
    """Write everything `root` changed since HEAD (new files included) to `patch`."""
    git(root, "add", "--all")
    diff = git(root, "diff", "--cached", "--binary", "HEAD").stdout
    git(root, "reset", "-q")
    patch.write_text(diff, encoding="utf-8")


def _reapply(root: Path, patch: Path) -> None:
    done = git(root, "apply", "--3way", "--whitespace=nowarn", str(patch.resolve()), check=False)
    if done.returncode != 0:
        raise TaskError(root.name, f"{patch.name} no longer applies: {done.stderr.strip()}")
    capture(root, patch)
    git(root, "add", "--all")
    git(root, "commit", "-q", "--no-verify", "-m", patch.name)


def refresh(task: Task) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        root = new_project(PROJECT_NAME, Path(scratch))
        if task.setup_patch:
            _reapply(root, task.setup_patch)
        _reapply(root, task.solution_patch)


def _base_for_authoring(directory: Path, workdir: Path) -> Path:
    """The base of a task still being written: only its setup.patch (if any) need exist."""
    setup = directory / "setup.patch"
    draft = Task(directory.name, directory, "", "easy", (), setup if setup.is_file() else None)
    return build_base(draft, workdir)[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    base = commands.add_parser("base", help="build a task's base in WORKDIR/library")
    base.add_argument("task", type=Path)
    base.add_argument("workdir", type=Path)
    grab = commands.add_parser("capture", help="write a work tree's changes to a patch")
    grab.add_argument("root", type=Path)
    grab.add_argument("patch", type=Path)
    again = commands.add_parser("refresh", help="re-apply and rewrite the suite's patches")
    again.add_argument("ids", nargs="*")
    again.add_argument("--suite", type=Path, default=BUILTIN_SUITE)
    args = parser.parse_args(argv)
    try:
        if args.command == "base":
            print(_base_for_authoring(args.task.resolve(), args.workdir.resolve()))
        elif args.command == "capture":
            capture(args.root, args.patch)
        else:
            tasks, errors = load_suite(args.suite, args.ids or None)
            for task in tasks:
                refresh(task)
                print(f"refreshed {task.id}")
            for error in errors:
                print(f"error: {error}", file=sys.stderr)
            return 1 if errors else 0
    except TaskError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
