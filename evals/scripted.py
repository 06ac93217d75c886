"""`--scripted`: a scripted session standing in for the model, derived from a task's
`solution.patch`. One turn writes every file of the solution through the real editor tool
(`create` for new files, one whole-file `str_replace` for changed ones, `rm` through bash for
deleted ones), the next ends the turn; the real runner and gate do the rest. A test double
that proves the harness end to end: never a model's score."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from evals.scripted_server import Turn, tool_use
from evals.tasks import Task, apply_patch, git

EDITOR = "str_replace_based_edit_tool"
SCRIPTED_MODEL = "claude-sonnet-4-6"  # priced, so the cost columns are exercised too
ENDING = "Scripted session: wrote the reference solution of task {task}."


def solution_turns(task: Task, root: Path) -> list[Turn]:
    """The scripted session for `task` on the clean base at `root` (left clean afterwards)."""
    before = {path: _read(root / path) for path in _changed_paths(task, root)}
    apply_patch(task, root, task.solution_patch)
    calls: list[dict[str, Any]] = []
    removed = []
    for path, old in before.items():
        new = _read(root / path)
        if new is None:
            removed.append(path)
        elif old is None:
            calls.append(tool_use(EDITOR, {"command": "create", "path": path, "file_text": new}))
        elif old:
            calls.append(
                tool_use(
                    EDITOR,
                    {"command": "str_replace", "path": path, "old_str": old, "new_str": new},
                )
            )
        else:  # an empty file has nothing to replace: recreate it
            removed.append(path)
            calls.append(tool_use(EDITOR, {"command": "create", "path": path, "file_text": new}))
    git(root, "checkout", "--", ".")
    git(root, "clean", "-fdq")
    if removed:
        quoted = " ".join(f"'{p}'" for p in removed)
        calls.insert(0, tool_use("bash", {"command": f"rm -f {quoted}"}))
    return [Turn.tools(*calls), Turn.end(ENDING.format(task=task.id))]


def _changed_paths(task: Task, root: Path) -> list[str]:
    done = subprocess.run(
        ["git", "apply", "--numstat", "-z", str(task.solution_patch.resolve())],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    fields = [f for f in done.stdout.split("\0") if f]
    return [f.split("\t", 2)[2] for f in fields if f.count("\t") == 2]


def _read(path: Path) -> str | None:
    return path.read_text(encoding="utf-8") if path.is_file() else None
