"""`backend-agent eval run`: trials in parallel worker processes, each result appended to
`results.jsonl` as it finishes, so an interrupted run resumes where it stopped."""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import platform
import socket
import time
from collections.abc import Iterable
from concurrent.futures import FIRST_COMPLETED, Executor, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from agent.api import UsageError, known_model
from evals.scripted import SCRIPTED_MODEL
from evals.tasks import Task, TaskError, load_suite
from evals.trial import Interrupted, TrialJob, blank_row, run_trial

RESULTS = "results.jsonl"
ESTIMATED_COST_PER_TRIAL = 1.0  # USD; a Sonnet trial of ~20-30 cached turns costs $0.3-1.5
DEFAULT_API_URL = "https://api.anthropic.com"
SPEC_PATH = Path(__file__).resolve().parent.parent / "system_prompts" / "backend.md"


@dataclass
class EvalSettings:
    suite: Path
    out: Path
    model: str
    task_ids: list[str] | None = None
    trials: int = 1
    jobs: int = 1
    scripted: bool = False
    retry_errors: bool = False
    max_total_cost: float | None = None
    base_url: str | None = None
    keep_repos: bool = False
    backend: str = "local"  # or "ray": see evals/ray_backend.py
    address: str | None = None  # the Ray cluster to join; None starts a local Ray
    trial_cpus: float = 1.0  # Ray resources reserved for one trial
    trial_memory_mb: int = 1536


class Progress(Protocol):
    def begin(self, total: int, skipped: int, note: str) -> None: ...

    def started(self, task_id: str, trial: int) -> None: ...

    def finished(self, row: dict[str, Any]) -> None: ...

    def say(self, message: str) -> None: ...

    def end(self) -> None: ...


@dataclass
class RunReport:
    ran: int = 0
    skipped: int = 0
    errors: int = 0
    interrupted: bool = False
    stopped_for_cost: bool = False
    broken_tasks: list[TaskError] = field(default_factory=list)


def read_results(path: Path) -> dict[tuple[str, int], dict[str, Any]]:
    """The rows of a results.jsonl by (task_id, trial); a later line for a trial wins (a retry),
    and a torn last line (a killed writer) is ignored."""
    rows: dict[tuple[str, int], dict[str, Any]] = {}
    if not path.is_file():
        return rows
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            row = json.loads(line)
            rows[(str(row["task_id"]), int(row["trial"]))] = row
        except (ValueError, KeyError, TypeError):
            continue
    return rows


def append_result(path: Path, row: dict[str, Any]) -> None:
    with path.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(row) + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def plan(
    tasks: list[Task], trials: int, done: dict[tuple[str, int], dict[str, Any]], retry: bool
) -> list[tuple[Task, int]]:
    """The trials still to run: never-run ones, and with `retry` those that ended in an error."""
    todo = []
    for task in tasks:
        for trial in range(1, trials + 1):
            row = done.get((task.id, trial))
            if row is None or (retry and row.get("error")):
                todo.append((task, trial))
    return todo


def preflight(settings: EvalSettings) -> str:
    """Refuse a run that cannot work before it starts a single trial; returns the cost note."""
    if settings.trials < 1 or settings.jobs < 1:
        raise UsageError("--trials and --jobs must be at least 1")
    if settings.scripted:
        return "scripted session: no model is called, costs are computed from fake usage"
    if not known_model(settings.model):
        raise UsageError(
            f"unknown model {settings.model!r}: use a Claude model id such as claude-sonnet-4-6"
        )
    if not os.environ.get("ANTHROPIC_API_KEY") and not os.environ.get("ANTHROPIC_AUTH_TOKEN"):
        raise UsageError("ANTHROPIC_API_KEY is not set (or use --scripted for an offline run)")
    url = settings.base_url or os.environ.get("ANTHROPIC_BASE_URL") or DEFAULT_API_URL
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        socket.create_connection((parts.hostname or "", port), timeout=5).close()
    except OSError as exc:
        raise UsageError(f"cannot reach the model server {url}: {exc.strerror or exc}") from None
    return ""


def cost_note(settings: EvalSettings, trials: int) -> str:
    estimate = trials * ESTIMATED_COST_PER_TRIAL
    return (
        f"{trials} trials of {settings.model}: roughly ${estimate:.0f} "
        f"(~${ESTIMATED_COST_PER_TRIAL:.2f} a trial); no new trial starts after "
        f"${settings.max_total_cost:.2f} (--max-total-cost)"
    )


def run_eval(settings: EvalSettings, progress: Progress) -> RunReport:
    scripted_note = preflight(settings)
    tasks, broken = load_suite(settings.suite, settings.task_ids)
    report = RunReport(broken_tasks=broken)
    for error in broken:
        progress.say(f"skipping task {error}")
    settings.out.mkdir(parents=True, exist_ok=True)
    results = settings.out / RESULTS
    done = read_results(results)
    todo = plan(tasks, settings.trials, done, settings.retry_errors)
    report.skipped = len(tasks) * settings.trials - len(todo)
    if settings.max_total_cost is None and not settings.scripted:
        settings.max_total_cost = 2 * len(todo) * ESTIMATED_COST_PER_TRIAL
    _write_run_json(settings, tasks)
    progress.begin(len(todo), report.skipped, scripted_note or cost_note(settings, len(todo)))
    spent = sum(r.get("cost_usd") or 0.0 for r in done.values())
    pending = list(reversed(todo))
    running: dict[Future[dict[str, Any]], tuple[Task, int]] = {}
    with open_pool(settings) as pool:
        try:
            while pending or running:
                budget_left = settings.max_total_cost is None or spent < settings.max_total_cost
                if pending and not budget_left and not report.stopped_for_cost:
                    report.stopped_for_cost = True
                    progress.say(
                        f"spent ${spent:.2f} of --max-total-cost ${settings.max_total_cost:.2f}: "
                        f"not starting the {len(pending)} remaining trials"
                    )
                while pending and budget_left and len(running) < settings.jobs:
                    task, trial = pending.pop()
                    running[pool.submit(run_trial, _job(settings, task, trial))] = (task, trial)
                    progress.started(task.id, trial)
                if not running:
                    break
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in finished:
                    task, trial = running.pop(future)
                    row = _result(future, task, trial, settings)
                    append_result(results, row)
                    spent += row.get("cost_usd") or 0.0
                    report.ran += 1
                    report.errors += bool(row["error"])
                    progress.finished(row)
        except (KeyboardInterrupt, Interrupted):
            report.interrupted = True
            progress.say("interrupted: trials in flight are stopping; run again to resume")
            pool.shutdown(wait=True, cancel_futures=True)
        finally:
            write_predictions(settings.out, read_results(results).values())
            progress.end()
    return report


def open_pool(settings: EvalSettings) -> Executor:
    """Where trials run: local worker processes, or Ray tasks (`--backend ray`)."""
    if settings.backend == "ray":
        from evals.ray_backend import RayTrialPool

        return RayTrialPool(settings)
    return ProcessPoolExecutor(settings.jobs, mp_context=multiprocessing.get_context("spawn"))


def _job(settings: EvalSettings, task: Task, trial: int) -> TrialJob:
    return TrialJob(
        task=task,
        trial=trial,
        model=SCRIPTED_MODEL if settings.scripted else settings.model,
        scripted=settings.scripted,
        directory=settings.out / "trials" / task.id / str(trial),
        base_url=None if settings.scripted else settings.base_url,
        keep_repo=settings.keep_repos,
    )


def _result(
    future: Future[dict[str, Any]], task: Task, trial: int, settings: EvalSettings
) -> dict[str, Any]:
    try:
        return future.result()
    except Interrupted:
        raise
    except BrokenProcessPool:
        error = "the worker process died (killed or out of memory)"
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
    return {**blank_row(task, trial, settings.model, settings.scripted), "error": error}


def _write_run_json(settings: EvalSettings, tasks: list[Task]) -> None:
    import anthropic

    from agent import __version__

    spec = SPEC_PATH.read_bytes() if SPEC_PATH.is_file() else b""
    data = {
        "suite": str(settings.suite.resolve()),
        "tasks": [t.id for t in tasks],
        "model": "scripted" if settings.scripted else settings.model,
        "scripted": settings.scripted,
        "trials": settings.trials,
        "jobs": settings.jobs,
        "backend": settings.backend,
        "max_total_cost": settings.max_total_cost,
        "base_url": settings.base_url,
        "spec": {"path": str(SPEC_PATH), "sha256": hashlib.sha256(spec).hexdigest()},
        "versions": {
            "backend-agent": __version__,
            "anthropic": anthropic.__version__,
            "python": platform.python_version(),
        },
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    (settings.out / "run.json").write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def write_predictions(out: Path, rows: Iterable[dict[str, Any]]) -> None:
    """SWE-bench predictions (`instance_id`, `model_name_or_path`, `model_patch`): trial 1 of
    each task in predictions.jsonl, trial N in predictions.trial-N.jsonl."""
    by_trial: dict[int, list[dict[str, Any]]] = {}
    for row in sorted(rows, key=lambda r: (r["trial"], r["task_id"])):
        diff = out / "trials" / row["task_id"] / str(row["trial"]) / "diff.patch"
        by_trial.setdefault(row["trial"], []).append(
            {
                "instance_id": row["task_id"],
                "model_name_or_path": row["model"],
                "model_patch": diff.read_text(encoding="utf-8") if diff.is_file() else "",
            }
        )
    for trial, predictions in by_trial.items():
        name = "predictions.jsonl" if trial == 1 else f"predictions.trial-{trial}.jsonl"
        lines = "".join(json.dumps(p) + "\n" for p in predictions)
        (out / name).write_text(lines, encoding="utf-8")
