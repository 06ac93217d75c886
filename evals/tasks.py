"""A task suite on disk: one directory per task, loaded strictly, and the git base each task
starts from.

    <suite>/<id>/task.toml        id, instruction, difficulty, tags, [setup_patch], [base], [budget]
    <suite>/<id>/setup.patch      optional: earlier resources, applied on top of the base
    <suite>/<id>/hidden_tests/    pytest files copied into the project's tests/ after the agent
    <suite>/<id>/solution.patch   a reference solution, `git diff` format

A broken task becomes a `TaskError` naming the task and the cause; it never stops the others.
"""

from __future__ import annotations

import shutil
import subprocess
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BUILTIN_SUITE = Path(__file__).parent / "tasks"
PROJECT_NAME = "library"  # the fixed name every scaffold base is rendered with
DIFFICULTIES = ("easy", "medium", "hard")
BUDGET_KEYS = {"max_turns": int, "max_cost": float, "timeout": float}
TASK_KEYS = {"id", "instruction", "difficulty", "tags", "setup_patch", "base", "budget"}
GIT_IDENTITY = ("-c", "user.name=backend-agent eval", "-c", "user.email=eval@backend-agent.local")


class TaskError(Exception):
    """A task that cannot be used; `str()` is one line: `<task>: <cause>`."""

    def __init__(self, task_id: str, cause: str) -> None:
        super().__init__(f"{task_id}: {cause}")
        self.task_id = task_id
        self.cause = cause


@dataclass(frozen=True)
class Task:
    id: str
    path: Path
    instruction: str
    difficulty: str
    tags: tuple[str, ...]
    setup_patch: Path | None = None
    base_bundle: Path | None = None
    budget: dict[str, float] = field(default_factory=dict)

    @property
    def solution_patch(self) -> Path:
        return self.path / "solution.patch"

    @property
    def hidden_tests(self) -> list[Path]:
        """The hidden test files, relative to `hidden_tests/` (= relative to `tests/`)."""
        root = self.path / "hidden_tests"
        return sorted(p.relative_to(root) for p in root.rglob("*") if p.is_file())


def load_task(path: Path) -> Task:
    """The task in directory `path`, checked against the layout; raises `TaskError`."""
    task_id = path.name
    toml = path / "task.toml"
    if not toml.is_file():
        raise TaskError(task_id, "task.toml is missing")
    try:
        data = tomllib.loads(toml.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise TaskError(task_id, f"task.toml is not valid TOML: {exc}") from None
    unknown = sorted(set(data) - TASK_KEYS)
    if unknown:
        raise TaskError(
            task_id,
            f"task.toml has unknown key {unknown[0]!r} (known: {', '.join(sorted(TASK_KEYS))})",
        )
    if data.get("id") != task_id:
        raise TaskError(task_id, f"task.toml id {data.get('id')!r} is not the directory name")
    instruction = data.get("instruction")
    if not isinstance(instruction, str) or not instruction.strip():
        raise TaskError(task_id, "task.toml needs a non-empty `instruction` string")
    if data.get("difficulty") not in DIFFICULTIES:
        raise TaskError(
            task_id,
            f"difficulty must be one of {', '.join(DIFFICULTIES)}, got {data.get('difficulty')!r}",
        )
    tags = data.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise TaskError(task_id, "tags must be a list of strings")
    setup = _named_file(task_id, path, data, "setup_patch")
    bundle = _named_file(task_id, path, data, "base")
    if not (path / "solution.patch").is_file():
        raise TaskError(task_id, "solution.patch is missing")
    if not (path / "hidden_tests").is_dir() or not any((path / "hidden_tests").rglob("*.py")):
        raise TaskError(task_id, "hidden_tests/ is missing or holds no .py file")
    return Task(
        id=task_id,
        path=path,
        instruction=instruction.strip(),
        difficulty=data["difficulty"],
        tags=tuple(tags),
        setup_patch=setup,
        base_bundle=bundle,
        budget=_budget(task_id, data.get("budget", {})),
    )


def _named_file(task_id: str, root: Path, data: dict[str, Any], key: str) -> Path | None:
    name = data.get(key)
    if name is None:
        return None
    if not isinstance(name, str) or Path(name).is_absolute() or ".." in Path(name).parts:
        raise TaskError(task_id, f"`{key}` must be a file name inside the task directory")
    if not (root / name).is_file():
        raise TaskError(task_id, f"`{key}` names {name}, which does not exist")
    return root / name


def _budget(task_id: str, table: Any) -> dict[str, float]:
    if not isinstance(table, dict):
        raise TaskError(task_id, "budget must be a table")
    budget: dict[str, float] = {}
    for key, value in table.items():
        kind = BUDGET_KEYS.get(key)
        if kind is None:
            raise TaskError(
                task_id, f"budget has unknown key {key!r} (known: {', '.join(BUDGET_KEYS)})"
            )
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise TaskError(task_id, f"budget.{key} must be a positive number, got {value!r}")
        budget[key] = kind(value)
    return budget


def load_suite(suite: Path, ids: list[str] | None = None) -> tuple[list[Task], list[TaskError]]:
    """The loadable tasks of `suite` (sorted by id, restricted to `ids`) and the broken ones."""
    if not suite.is_dir():
        raise TaskError(str(suite), "suite directory does not exist")
    dirs = sorted(p for p in suite.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))
    names = {p.name for p in dirs}
    errors = [TaskError(i, f"no such task in {suite}") for i in ids or [] if i not in names]
    tasks: list[Task] = []
    for directory in dirs:
        if ids and directory.name not in ids:
            continue
        try:
            tasks.append(load_task(directory))
        except TaskError as exc:
            errors.append(exc)
    return tasks, errors


def git(root: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", *GIT_IDENTITY, *args], cwd=root, capture_output=True, text=True, check=check
    )


def build_base(task: Task, parent: Path) -> tuple[Path, str]:
    """A fresh git repo holding the task's base in `parent/library`; returns it and its commit.

    The base is the installed version's scaffold (or the task's bundle), then `setup.patch`."""
    parent.mkdir(parents=True, exist_ok=True)
    root = parent / PROJECT_NAME
    if task.base_bundle:
        done = subprocess.run(
            ["git", "clone", "-q", str(task.base_bundle), str(root)], capture_output=True, text=True
        )
        if done.returncode != 0:
            raise TaskError(task.id, f"cannot clone {task.base_bundle.name}: {_last(done)}")
        for key, value in zip(("user.name", "user.email"), GIT_IDENTITY[1::2], strict=True):
            if not git(root, "config", key, check=False).stdout.strip():  # the run commits
                git(root, "config", key, value.split("=", 1)[1])
    else:
        from agent.api import new_project  # late: `backend-agent --help` need not load git

        new_project(PROJECT_NAME, parent)
    if task.setup_patch:
        apply_patch(task, root, task.setup_patch)
        git(root, "add", "--all")
        git(root, "commit", "-q", "--no-verify", "-m", f"eval setup: {task.id}")
    return root, git(root, "rev-parse", "HEAD").stdout.strip()


def apply_patch(task: Task, root: Path, patch: Path) -> None:
    done = git(root, "apply", "--whitespace=nowarn", str(patch.resolve()), check=False)
    if done.returncode != 0:
        raise TaskError(task.id, f"{patch.name} does not apply: {_last(done)}")


def add_hidden_tests(task: Task, root: Path) -> list[str]:
    """Copy the hidden tests into `root/tests`; returns their paths relative to `root`."""
    added = []
    for rel in task.hidden_tests:
        target = root / "tests" / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(task.path / "hidden_tests" / rel, target)
        if target.suffix == ".py":
            added.append(str(Path("tests") / rel))
    return added


def hidden_test_command(paths: list[str]) -> str:
    test_files = [p for p in paths if Path(p).name.startswith("test_") or p.endswith("_test.py")]
    return "python -m pytest -q -p no:cacheprovider " + " ".join(test_files)


def _last(done: subprocess.CompletedProcess[str]) -> str:
    lines = (done.stderr or done.stdout).strip().splitlines()
    return lines[-1] if lines else f"exit status {done.returncode}"
