"""`backend-agent eval validate`: a task is trustworthy when its hidden tests fail on the base,
pass with the reference solution, and the solution passes the runner's whole gate."""

from __future__ import annotations

import multiprocessing
import shutil
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from agent.api import check_tree
from evals.tasks import (
    Task,
    TaskError,
    add_hidden_tests,
    apply_patch,
    build_base,
    hidden_test_command,
)


@dataclass
class Validation:
    task_id: str
    fails_on_base: bool = False
    passes_with_solution: bool = False
    gate_green: bool = False
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.problems


def validate_task(task: Task) -> Validation:
    start = time.monotonic()
    result = Validation(task.id)
    scratch = Path(tempfile.mkdtemp(prefix=f"eval-validate-{task.id}-"))
    try:
        base, _ = build_base(task, scratch / "base")
        command = hidden_test_command(add_hidden_tests(task, base))
        on_base = check_tree(base, gate=False, commands={"hidden tests": command})
        result.fails_on_base = not on_base.ok
        if on_base.ok:
            result.problems.append("hidden tests already pass on the base")
        solved, base_commit = build_base(task, scratch / "solution")
        apply_patch(task, solved, task.solution_patch)
        add_hidden_tests(task, solved)
        # The gate's test command runs the hidden tests too (they are in tests/ now).
        verdict = check_tree(solved, base_commit=base_commit)
        tests = next((c for c in verdict.checks if c["name"] == "tests"), None)
        result.passes_with_solution = bool(tests and tests["ok"])
        if not result.passes_with_solution:
            headline = tests["headline"] if tests else "no test check ran"
            result.problems.append(f"tests fail with the solution: {headline}")
        red = [name for name in verdict.failed if name != "tests"]
        result.gate_green = verdict.ok
        if red:
            result.problems.append(f"gate red with the solution: {', '.join(red)}")
    except TaskError as exc:
        result.problems.append(exc.cause)
    except Exception as exc:
        result.problems.append(f"{type(exc).__name__}: {' '.join(str(exc).split())}")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    result.seconds = round(time.monotonic() - start, 1)
    return result


def validate_suite(
    tasks: list[Task], jobs: int, on_result: Callable[[Validation], None]
) -> list[Validation]:
    """Validate tasks in `jobs` worker processes, reporting each as it finishes."""
    results = []
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max(1, jobs), mp_context=context) as pool:
        for future in as_completed([pool.submit(validate_task, task) for task in tasks]):
            results.append(future.result())
            on_result(results[-1])
    return sorted(results, key=lambda r: r.task_id)


def broken(error: TaskError) -> Validation:
    return Validation(error.task_id, problems=[error.cause])
