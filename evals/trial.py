"""One trial: a fresh base, the agent through `agent.api.start_run`, then the hidden tests and
the Quality Standards checker on the result. Runs in a worker process; shares nothing with other
trials (own directory, own PostgreSQL, own sandbox, own scripted server)."""

from __future__ import annotations

import contextlib
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.api import Budget, RunOptions, check_tree, start_run
from evals.tasks import Task, TaskError, add_hidden_tests, build_base, git, hidden_test_command

# The keys of one results.jsonl line, in order.
RESULT_KEYS = (
    "task_id",
    "trial",
    "model",
    "scripted",
    "difficulty",
    "tags",
    "resolved",
    "gate_green",
    "quality_violations",
    "turns",
    "input_tokens",
    "output_tokens",
    "cache_creation_input_tokens",
    "cache_read_input_tokens",
    "cost_usd",
    "wall_s",
    "stop_reason",
    "error",
)
USAGE_KEYS = RESULT_KEYS[10:14]


@dataclass(frozen=True)
class TrialJob:
    task: Task
    trial: int
    model: str
    scripted: bool
    directory: Path  # out/trials/<task>/<trial>, emptied first
    base_url: str | None = None
    keep_repo: bool = False


class Interrupted(Exception):
    """The user pressed Ctrl-C: the trial is not recorded, so it runs again on resume."""


def run_trial(job: TrialJob) -> dict[str, Any]:
    """The results.jsonl row of one trial; infrastructure failures land in `error`."""
    start = time.monotonic()
    row = blank_row(job.task, job.trial, job.model, job.scripted)
    shutil.rmtree(job.directory, ignore_errors=True)
    job.directory.mkdir(parents=True)
    try:
        row.update(_attempt(job))
    except Interrupted:
        raise
    except KeyboardInterrupt:
        raise Interrupted from None
    except TaskError as exc:
        row["error"] = exc.cause
    except Exception as exc:  # a crash of the harness or the agent: never a task failure
        row["error"] = f"{type(exc).__name__}: {' '.join(str(exc).split())}"[:500]
    finally:
        if not job.keep_repo:
            shutil.rmtree(job.directory / "work", ignore_errors=True)
    row["wall_s"] = round(time.monotonic() - start, 2)
    return row


def blank_row(task: Task, trial: int, model: str, scripted: bool) -> dict[str, Any]:
    """A row with every key: a trial that has not (or not fully) run resolves nothing."""
    row: dict[str, Any] = dict.fromkeys(RESULT_KEYS)
    row.update(
        task_id=task.id,
        trial=trial,
        model="scripted" if scripted else model,
        scripted=scripted,
        difficulty=task.difficulty,
        tags=list(task.tags),
        resolved=False,
        gate_green=False,
        turns=0,
        **dict.fromkeys(USAGE_KEYS, 0),
    )
    return row


def _attempt(job: TrialJob) -> dict[str, Any]:
    root, base = build_base(job.task, job.directory / "work")
    with contextlib.ExitStack() as stack:
        base_url = job.base_url
        if job.scripted:
            from evals.scripted import solution_turns
            from evals.scripted_server import FakeAnthropic

            server = stack.enter_context(FakeAnthropic(solution_turns(job.task, root)))
            base_url = server.url
        options = RunOptions(
            request=job.task.instruction,
            repo=root,
            model=job.model,
            base_url=base_url,
            api_key="scripted-session" if job.scripted else None,
            budget=Budget(**job.task.budget),
            branch=f"eval/{job.task.id}/{job.trial}",
            max_turns_given="max_turns" in job.task.budget,
            hidden_paths=(str(job.task.path.parent),),  # the suite: hidden tests, solutions
        )
        outcome = start_run(options)
    if outcome.status == "interrupted":
        raise Interrupted
    with contextlib.suppress(OSError):
        shutil.copyfile(outcome.run_dir / "transcript.jsonl", job.directory / "transcript.jsonl")
    diff = git(root, "diff", "--binary", base, "HEAD", check=False).stdout
    (job.directory / "diff.patch").write_text(diff, encoding="utf-8")
    row: dict[str, Any] = {
        "gate_green": outcome.status == "green",
        "turns": outcome.turns,
        "cost_usd": None if outcome.cost is None else round(outcome.cost, 6),
        "stop_reason": stop_reason(outcome.status, outcome.reason),
        **{k: int(outcome.usage.get(k, 0)) for k in USAGE_KEYS},
    }
    if outcome.status in ("model_error", "error"):
        row["error"] = " ".join(outcome.reason.split())[:500]
        return row
    hidden = add_hidden_tests(job.task, root)
    verdict = check_tree(root, gate=False, commands={"hidden tests": hidden_test_command(hidden)})
    (job.directory / "hidden_tests.txt").write_text(
        "\n".join(f"{c['headline']}\n{c['report']}" for c in verdict.checks), encoding="utf-8"
    )
    row.update(resolved=verdict.ok, quality_violations=verdict.quality_violations)
    return row


def stop_reason(status: str, reason: str) -> str:
    """A short, countable name for why a run ended (the report groups failures by it)."""
    if status != "stopped":
        return status
    for needle, name in (
        ("turn budget", "max_turns"),
        ("time budget", "timeout"),
        ("cost", "max_cost"),
        ("still red", "gate_rounds"),
        ("refused", "refusal"),
        ("context window", "context"),
    ):
        if needle in reason:
            return name
    return "stopped"
