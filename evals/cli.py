"""`backend-agent eval ...`: validate the task suite, run trials, report and compare runs."""

from __future__ import annotations

import sys
import time
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from agent.config import DEFAULT_MODEL
from agent.errors import UsageError
from evals.tasks import BUILTIN_SUITE, TaskError, load_suite

app = typer.Typer(
    help=(
        "Measure the agent on a suite of backend tasks with hidden tests.\n\n\b\n"
        "  backend-agent eval validate                 check every task of the built-in suite\n"
        "  backend-agent eval run --trials 3           run each task 3 times (needs an API key)\n"
        "  backend-agent eval run --scripted           offline end-to-end run of the harness\n"
        "  backend-agent eval report DIR               summary.json, report.md, report.html\n"
        "  backend-agent eval compare DIR_A DIR_B      per-task deltas and their significance"
    ),
    no_args_is_help=True,
    rich_markup_mode=None,
)

SuiteOption = Annotated[
    Path, typer.Option("--suite", help="A directory of task directories.", show_default=False)
]
TasksOption = Annotated[
    str | None, typer.Option("--tasks", help="Only these task ids, comma-separated.")
]
JobsOption = Annotated[
    int, typer.Option("--jobs", "-j", min=1, help="Tasks or trials in parallel processes.")
]


class Backend(StrEnum):
    local = "local"
    ray = "ray"


def _ids(tasks: str | None) -> list[str] | None:
    return [t.strip() for t in tasks.split(",") if t.strip()] if tasks else None


def _fail(message: str, code: int = 2) -> typer.Exit:
    typer.secho(f"backend-agent eval: error: {message}", fg="red", err=True)
    return typer.Exit(code)


@app.command()
def validate(
    suite: SuiteOption = BUILTIN_SUITE,
    tasks: TasksOption = None,
    jobs: JobsOption = 2,
) -> None:
    """Check every task: hidden tests fail on the base, pass with solution.patch, and the
    solution passes the runner's whole gate (ruff, Quality Standards, alembic check, tests).
    Exits 1 naming every broken task and why."""
    from evals.validate import Validation, broken, validate_suite

    try:
        loaded, errors = load_suite(suite, _ids(tasks))
    except TaskError as exc:
        raise _fail(str(exc)) from None
    mark = {True: "✓", False: "✗"}
    header = f"{'task':<34} {'fails on base':>13} {'solution':>9} {'gate':>5} {'secs':>6}"
    typer.echo(header)

    def show(v: Validation) -> None:
        typer.echo(
            f"{v.task_id:<34} {mark[v.fails_on_base]:>13} {mark[v.passes_with_solution]:>9} "
            f"{mark[v.gate_green]:>5} {v.seconds:>6.1f}"
            + ("" if v.ok else "  " + "; ".join(v.problems))
        )

    results = [broken(e) for e in errors]
    for result in results:
        show(result)
    start = time.monotonic()
    results += validate_suite(loaded, jobs, show)
    bad = [r for r in results if not r.ok]
    took = time.monotonic() - start
    if bad:
        for r in bad:
            typer.secho(f"broken task {r.task_id}: {'; '.join(r.problems)}", fg="red", err=True)
        typer.echo(f"{len(bad)} of {len(results)} tasks broken ({took:.0f} s)")
        raise typer.Exit(1)
    typer.echo(f"all {len(results)} tasks valid ({took:.0f} s)")


@app.command()
def run(
    suite: SuiteOption = BUILTIN_SUITE,
    tasks: TasksOption = None,
    model: Annotated[str, typer.Option(help="Claude model id.")] = DEFAULT_MODEL,
    trials: Annotated[int, typer.Option(min=1, help="Trials per task (for pass@k).")] = 1,
    jobs: Annotated[
        int | None,
        typer.Option(
            "--jobs",
            "-j",
            min=1,
            help="Trials at once: local processes [default: 1], or trials in flight on Ray "
            "[default: the cluster's CPUs / --trial-cpus].",
            show_default=False,
        ),
    ] = None,
    backend: Annotated[
        Backend,
        typer.Option(help="Where trials run: local processes, or Ray tasks (backend-agent[ray])."),
    ] = Backend.local,
    address: Annotated[
        str | None,
        typer.Option(
            help="With --backend ray: the cluster to join (auto, ray://HOST:10001). "
            "[default: start a local Ray]"
        ),
    ] = None,
    trial_cpus: Annotated[
        float, typer.Option(min=0.1, help="With --backend ray: CPUs reserved per trial.")
    ] = 1.0,
    trial_memory_mb: Annotated[
        int, typer.Option(min=256, help="With --backend ray: memory (MB) reserved per trial.")
    ] = 1536,
    out: Annotated[
        Path | None,
        typer.Option(help="Results directory; run again with the same one to resume."),
    ] = None,
    scripted: Annotated[
        bool,
        typer.Option(
            "--scripted",
            help="Offline: replay each task's solution.patch through the real runner instead "
            "of a model. Proves the harness; not a model's score.",
        ),
    ] = False,
    retry_errors: Annotated[
        bool, typer.Option("--retry-errors", help="Rerun only trials that hit an infra error.")
    ] = False,
    max_total_cost: Annotated[
        float | None,
        typer.Option(help="USD; start no new trial once the run has spent this much."),
    ] = None,
    base_url: Annotated[
        str | None, typer.Option(help="Messages API root (default: ANTHROPIC_BASE_URL).")
    ] = None,
    keep_repos: Annotated[
        bool, typer.Option("--keep-repos", help="Keep each trial's work tree.")
    ] = False,
) -> None:
    """Run every task's trials through the agent and score them with the hidden tests.

    Writes OUT/results.jsonl (one line per trial, as it finishes), OUT/run.json,
    OUT/predictions.jsonl (SWE-bench format), each trial's transcript and diff under
    OUT/trials/, then the report. Ctrl-C stops cleanly; the same command resumes."""
    from evals.harness import EvalSettings, run_eval
    from evals.report import write_report

    if backend is Backend.ray and jobs is None:
        from evals.ray_backend import connect

        try:
            jobs = max(1, int(connect(address) // trial_cpus))
        except UsageError as exc:
            raise _fail(str(exc)) from None
    if out is None:
        label = "scripted" if scripted else model
        out = Path("eval-runs") / f"{label}-{time.strftime('%Y%m%d-%H%M%S')}"
    settings = EvalSettings(
        suite=suite,
        out=out,
        model=model,
        task_ids=_ids(tasks),
        trials=trials,
        jobs=jobs or 1,
        scripted=scripted,
        retry_errors=retry_errors,
        max_total_cost=max_total_cost,
        base_url=base_url,
        keep_repos=keep_repos,
        backend=backend.value,
        address=address,
        trial_cpus=trial_cpus,
        trial_memory_mb=trial_memory_mb,
    )
    progress = LiveProgress() if sys.stdout.isatty() else PlainProgress()
    try:
        report = run_eval(settings, progress)
    except (UsageError, TaskError) as exc:
        raise _fail(str(exc)) from None
    if report.interrupted:
        typer.echo(f"interrupted; resume with the same command (--out {out})")
        raise typer.Exit(130)
    if report.ran or report.skipped:
        data = write_report(out)
        p1 = data["pass_at_k"].get("1")
        kind = "SCRIPTED run (not a model's score)" if scripted else f"model {model}"
        typer.echo(
            f"{kind}: pass@1 {'n/a' if p1 is None else f'{p1:.1%}'} over {data['tasks']} tasks, "
            f"{data['errors']} infrastructure errors; report: {out / 'report.html'}"
        )
    if report.broken_tasks or report.errors:
        raise typer.Exit(1)


@app.command()
def report(
    directory: Annotated[Path, typer.Argument(help="A directory holding results.jsonl.")],
) -> None:
    """Write summary.json, report.md and report.html (self-contained, with plots) from
    DIRECTORY/results.jsonl; results merged from several machines work too."""
    from evals.report import write_report

    try:
        data = write_report(directory)
    except (OSError, ValueError) as exc:
        raise _fail(str(exc)) from None
    shown = ", ".join(f"pass@{k} {v:.1%}" for k, v in data["pass_at_k"].items())
    scripted = " (SCRIPTED)" if data["scripted"] else ""
    typer.echo(f"{data['tasks']} tasks, {data['trials']} trials{scripted}: {shown}")
    typer.echo(f"wrote {directory / 'report.md'} and {directory / 'report.html'}")


@app.command()
def compare(
    a: Annotated[Path, typer.Argument(help="The baseline results directory.")],
    b: Annotated[Path, typer.Argument(help="The candidate results directory.")],
) -> None:
    """Per-task deltas (newly solved, newly failing), totals, and whether the pass@1
    difference is larger than its noise (paired bootstrap over tasks, McNemar)."""
    from evals.compare import compare as run_compare
    from evals.compare import render

    try:
        result = run_compare(a, b)
    except (OSError, ValueError) as exc:
        raise _fail(str(exc)) from None
    typer.echo(render(result, a, b))


class PlainProgress:
    """One line per event, for pipes and CI logs."""

    def __init__(self) -> None:
        self.done = 0
        self.total = 0

    def begin(self, total: int, skipped: int, note: str) -> None:
        self.total = total
        if note:
            typer.echo(note)
        typer.echo(f"{total} trials to run, {skipped} already done")

    def started(self, task_id: str, trial: int) -> None:
        typer.echo(f"start  {task_id} #{trial}")

    def finished(self, row: dict[str, Any]) -> None:
        self.done += 1
        typer.echo(f"[{self.done}/{self.total}] {describe(row)}")

    def say(self, message: str) -> None:
        typer.echo(message)

    def end(self) -> None:
        pass


def describe(row: dict[str, Any]) -> str:
    if row.get("error"):
        verdict = f"ERROR {row['error']}"
    else:
        verdict = "resolved" if row["resolved"] else "unresolved"
        verdict += f" ({row['stop_reason']}, {row['turns']} turns"
        cost = row.get("cost_usd")
        verdict += f", ${cost:.4f})" if cost is not None else ")"
    took = f" in {row['wall_s']:.0f} s" if row.get("wall_s") is not None else ""
    return f"{row['task_id']} #{row['trial']}: {verdict}{took}"


class LiveProgress(PlainProgress):
    """A live table on a terminal: running trials, finished ones, and the tally so far."""

    def __init__(self) -> None:
        super().__init__()
        from rich.console import Console
        from rich.live import Live

        self.console = Console(highlight=False)
        self.running: dict[tuple[str, int], float] = {}
        self.rows: list[dict[str, Any]] = []
        self.live = Live(console=self.console, refresh_per_second=2, get_renderable=self.render)

    def begin(self, total: int, skipped: int, note: str) -> None:
        self.total = total
        if note:
            self.console.print(note, markup=False)
        self.console.print(f"{total} trials to run, {skipped} already done", markup=False)
        self.live.start()

    def started(self, task_id: str, trial: int) -> None:
        self.running[(task_id, trial)] = time.monotonic()

    def finished(self, row: dict[str, Any]) -> None:
        self.running.pop((row["task_id"], row["trial"]), None)
        self.rows.append(row)
        self.done += 1
        self.live.console.print(f"[{self.done}/{self.total}] {describe(row)}", markup=False)

    def say(self, message: str) -> None:
        self.live.console.print(message, markup=False)

    def end(self) -> None:
        self.live.stop()

    def render(self) -> Any:
        from rich.console import Group
        from rich.table import Table
        from rich.text import Text

        table = Table(box=None, show_header=True)
        for name in ("task", "trial", "state", "time"):
            table.add_column(name)
        now = time.monotonic()
        for (task_id, trial), since in self.running.items():
            table.add_row(task_id, str(trial), "running", f"{now - since:.0f} s")
        resolved = sum(bool(r["resolved"]) for r in self.rows)
        errors = sum(bool(r["error"]) for r in self.rows)
        tally = (
            f"{self.done}/{self.total} done · {resolved} resolved · {errors} errors · "
            f"${sum(r.get('cost_usd') or 0 for r in self.rows):.2f}"
        )
        return Group(table, Text(tally))
