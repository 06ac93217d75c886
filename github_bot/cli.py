"""`backend-agent github ...`: the bot's commands. They parse, build `Settings`, and hand over
to `flow` (one job) or `server` (the webhook server)."""

from __future__ import annotations

import json
import os
import sys
import time
import uuid
from pathlib import Path
from typing import Annotated, Any

import typer

from agent.errors import UsageError
from github_bot.events import DEFAULT_LABEL, Skip, Trigger, read_event

app = typer.Typer(
    name="github",
    help="The GitHub issue bot: a labelled issue (or a `/backend-agent` comment) becomes a "
    "verified pull request. Run it from GitHub Actions (`handle`; `workflow` prints the "
    "workflow file) or as a webhook server (`serve`).",
    no_args_is_help=True,
    rich_markup_mode=None,
)

DEFAULT_STATE = Path.home() / ".cache" / "backend-agent" / "github"
State = Annotated[Path, typer.Option("--state", help="Where jobs, clones and runs are kept.")]
ApiUrl = Annotated[
    str,
    typer.Option(
        "--api-url",
        envvar="GITHUB_API_URL",
        show_envvar=True,
        help="GitHub's REST API (GitHub Enterprise: https://HOST/api/v3).",
    ),
]
Label = Annotated[str, typer.Option("--label", help="The label that starts a run.")]
Agent = Annotated[str, typer.Option("--agent", "-a", help="Spec NAME or PATH.md.")]
Model = Annotated[str | None, typer.Option("--model", help="Model id; overrides the spec's.")]
BaseUrl = Annotated[
    str | None,
    typer.Option(
        "--base-url",
        envvar="ANTHROPIC_BASE_URL",
        show_envvar=True,
        help="An Anthropic-compatible server instead of api.anthropic.com.",
    ),
]
Sandbox = Annotated[str, typer.Option("--sandbox", help="auto, bwrap or landlock.")]
BotLogin = Annotated[
    str | None,
    typer.Option("--bot-login", help="The bot's GitHub login. [default: asked from GitHub]"),
]
CostPerRun = Annotated[
    float | None, typer.Option(min=0.0, help="Cap: US dollars per run. [default: 5]")
]
CostPerIssue = Annotated[
    float | None, typer.Option(min=0.0, help="Cap: US dollars per issue, all runs. [default: 10]")
]
RunsPerDay = Annotated[
    int | None, typer.Option(min=0, help="Cap: runs per repository per day. [default: 20]")
]
MaxTurns = Annotated[
    int | None, typer.Option(min=1, help="Cap: model turns per run. [default: 60]")
]
Queue = Annotated[
    str | None,
    typer.Option(
        "--queue",
        envvar="BACKEND_AGENT_QUEUE",
        show_envvar=True,
        help="redis://HOST:PORT/DB: jobs are Celery tasks run by `github worker` processes "
        "(backend-agent[celery]). [default: SQLite under --state, run by the server]",
    ),
]
ConcurrentJobs = Annotated[
    int | None, typer.Option(min=1, help="Cap: jobs of one repository at once. [default: 1]")
]


def _settings(options: dict[str, Any]) -> Any:
    """`Settings` from a command's options (its `locals()`): the shared ones by name, the
    limit flags as caps."""
    from dataclasses import fields

    from github_bot.flow import Settings
    from github_bot.limits import Limits

    if options["sandbox"] not in ("auto", "bwrap", "landlock"):
        raise UsageError(
            f"--sandbox must be auto, bwrap or landlock, not {options['sandbox']!r} "
            "(the bot never runs an issue's change unsandboxed)"
        )
    names = {f.name for f in fields(Settings)} - {"state", "caps"}
    limit_names = {f.name for f in fields(Limits)}
    return Settings(
        state=options["state"].resolve(),
        caps={k: v for k, v in options.items() if k in limit_names and v is not None},
        **{k: v for k, v in options.items() if k in names},
    )


def _require_credentials() -> None:
    try:
        import githubkit  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError:
        raise UsageError(
            "the GitHub bot needs its extra: pip install 'backend-agent[github]'"
        ) from None
    from github_bot.flow import credentials_from_env

    creds = credentials_from_env(dict(os.environ))
    if not (creds.token or creds.is_app):
        raise UsageError(
            "no GitHub credentials: set GITHUB_TOKEN (Actions passes "
            "secrets.GITHUB_TOKEN), or GITHUB_APP_ID and GITHUB_APP_PRIVATE_KEY"
        )


@app.command()
def handle(
    event: Annotated[
        Path | None,
        typer.Option(
            "--event",
            envvar="GITHUB_EVENT_PATH",
            show_envvar=True,
            help="The event payload (JSON), as GitHub Actions writes it.",
        ),
    ] = None,
    event_name: Annotated[
        str | None,
        typer.Option(
            "--event-name",
            envvar="GITHUB_EVENT_NAME",
            show_envvar=True,
            help="issues or issue_comment.",
        ),
    ] = None,
    repo: Annotated[
        str | None, typer.Option("--repo", help="OWNER/NAME: handle an issue directly.")
    ] = None,
    issue: Annotated[int | None, typer.Option("--issue", min=1, help="The issue number.")] = None,
    clone_url: Annotated[
        str | None,
        typer.Option("--clone-url", help="Clone from here. [default: the repository's]"),
    ] = None,
    api_url: ApiUrl = "https://api.github.com",
    label: Label = DEFAULT_LABEL,
    state: State = DEFAULT_STATE,
    agent: Agent = "backend",
    model: Model = None,
    base_url: BaseUrl = None,
    sandbox: Sandbox = "auto",
    bot_login: BotLogin = None,
    max_cost_per_run: CostPerRun = None,
    max_cost_per_issue: CostPerIssue = None,
    runs_per_day: RunsPerDay = None,
    max_turns: MaxTurns = None,
) -> None:
    """Handle one event (GitHub Actions) or one issue (`--repo OWNER/NAME --issue N`).

    \b
    Examples:
      backend-agent github handle                       # in Actions: $GITHUB_EVENT_PATH
      backend-agent github handle --repo acme/api --issue 12
    Exit codes: 0 pull request ready (or nothing to do), 1 red or failed, 2 usage error."""
    from github_bot.flow import execute
    from github_bot.store import Store

    settings = _settings(locals())
    trigger = _trigger(event, event_name, repo, issue, label, bot_login or "")
    if isinstance(trigger, Skip):
        typer.echo(f"nothing to do: {trigger.reason}")
        return
    _require_credentials()
    store = Store(settings.state)
    actions_run = os.environ.get("GITHUB_RUN_ID")
    delivery = f"handle-{actions_run + '-' if actions_run else ''}{uuid.uuid4().hex[:12]}"
    job_id, _ = store.add(delivery, event_name or "manual", trigger)
    store.update(job_id, state="running", attempts=1, started=time.time())
    typer.echo(f"{trigger.repo}#{trigger.issue}: job {job_id} started", err=True)
    result = execute(store, job_id, settings, dict(os.environ))
    line = f"{result.state}: {result.reason}" + (f" ({result.pull})" if result.pull else "")
    typer.echo(line)
    raise typer.Exit({"done": 0, "refused": 0, "red": 1, "failed": 1}.get(result.state, 130))


def _trigger(
    event: Path | None,
    name: str | None,
    repo: str | None,
    issue: int | None,
    label: str,
    bot_login: str,
) -> Trigger | Skip:
    if repo or issue:
        if not (repo and issue and repo.count("/") == 1):
            raise UsageError("--repo OWNER/NAME and --issue N go together")
        owner, repo_name = repo.split("/")
        return Trigger(owner=owner, name=repo_name, issue=issue)
    if not event or not name:
        raise UsageError(
            "no event: run inside GitHub Actions ($GITHUB_EVENT_PATH and "
            "$GITHUB_EVENT_NAME), or pass --event FILE --event-name NAME, "
            "or --repo OWNER/NAME --issue N"
        )
    try:
        payload = json.loads(event.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot read the event {event}: {exc}") from None
    return read_event(name, payload, label=label, bot_login=bot_login)


@app.command()
def workflow(
    label: Label = DEFAULT_LABEL,
    package: Annotated[
        str, typer.Option("--package", help="What the workflow pip-installs.")
    ] = "backend-agent[github]",
    timeout: Annotated[int, typer.Option(min=5, help="Job timeout, minutes.")] = 90,
) -> None:
    """Print a ready .github/workflows/backend-agent.yml.

    \b
    Example:
      backend-agent github workflow > .github/workflows/backend-agent.yml"""
    text = (Path(__file__).parent / "workflow.yml").read_text(encoding="utf-8")
    for key, value in (("__LABEL__", label), ("__PACKAGE__", package), ("__TIMEOUT__", timeout)):
        text = text.replace(key, str(value))
    typer.echo(text, nl=False)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port to listen on.")] = 8080,
    workers: Annotated[int, typer.Option(min=1, help="Jobs running at once, at most.")] = 2,
    state: State = DEFAULT_STATE,
    clone_base: Annotated[
        str | None,
        typer.Option(
            "--clone-base",
            help="Clone BASE/OWNER/NAME.git instead of the payload's "
            "clone_url (a mirror, or a directory of bare repositories).",
        ),
    ] = None,
    api_url: ApiUrl = "https://api.github.com",
    label: Label = DEFAULT_LABEL,
    agent: Agent = "backend",
    model: Model = None,
    base_url: BaseUrl = None,
    sandbox: Sandbox = "auto",
    bot_login: BotLogin = None,
    max_body: Annotated[int, typer.Option(min=1024, help="Largest webhook body, bytes.")] = (
        1 << 20
    ),
    drain_timeout: Annotated[
        float, typer.Option(min=0.0, help="Seconds SIGTERM waits for jobs to save their work.")
    ] = 120.0,
    concurrent_jobs: ConcurrentJobs = None,
    max_cost_per_run: CostPerRun = None,
    max_cost_per_issue: CostPerIssue = None,
    runs_per_day: RunsPerDay = None,
    max_turns: MaxTurns = None,
    queue: Queue = None,
) -> None:
    """Run the webhook server: POST /webhook (secret: $GITHUB_WEBHOOK_SECRET), GET /healthz.

    \b
    Jobs are queued in SQLite under --state and survive a crash; SIGTERM drains.
    With --queue redis://..., they go to Redis and `github worker` processes run them.
    Example:
      GITHUB_WEBHOOK_SECRET=... GITHUB_TOKEN=... backend-agent github serve --port 8080"""
    import logging

    from github_bot.limits import Limits
    from github_bot.server import Scheduler, create_app, held_lock
    from github_bot.store import Store

    secret = os.environ.get("GITHUB_WEBHOOK_SECRET", "")
    if not secret:
        raise UsageError(
            "set GITHUB_WEBHOOK_SECRET to the webhook's secret; the server refuses to run unsigned"
        )
    _require_credentials()
    settings = _settings(locals())
    store: Any = Store(settings.state) if queue is None else _celery_jobs(queue, settings.state)
    (settings.state / "settings.json").write_text(settings.to_json())
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    with held_lock(settings.state / "server.lock") as mine:
        if not mine:
            raise UsageError(f"another server is using {settings.state}; give each its own --state")
        concurrency = concurrent_jobs or Limits().concurrent_jobs
        scheduler: Any = Scheduler(store, settings, workers, concurrency, drain_timeout)
        if queue is not None:
            from github_bot.celery_queue import CeleryDispatch

            scheduler = CeleryDispatch(store)
        web = create_app(store, settings, secret, scheduler, max_body=max_body)
        import uvicorn

        uvicorn.run(web, host=host, port=port, log_level="info", timeout_graceful_shutdown=5)


def _celery_jobs(queue: str, state: Path) -> Any:
    from github_bot.celery_queue import CeleryJobs

    state.mkdir(parents=True, exist_ok=True)  # the server's lock and settings stay local
    return CeleryJobs(queue)


@app.command()
def worker(
    queue: Annotated[
        str,
        typer.Option(
            "--queue",
            envvar="BACKEND_AGENT_QUEUE",
            show_envvar=True,
            help="redis://HOST:PORT/DB, the same as `github serve --queue`.",
        ),
    ],
    concurrency: Annotated[int, typer.Option(min=1, help="Jobs this worker runs at once.")] = 1,
    state: State = DEFAULT_STATE,
    clone_base: Annotated[
        str | None,
        typer.Option("--clone-base", help="Clone BASE/OWNER/NAME.git instead of clone_url."),
    ] = None,
    api_url: ApiUrl = "https://api.github.com",
    label: Label = DEFAULT_LABEL,
    agent: Agent = "backend",
    model: Model = None,
    base_url: BaseUrl = None,
    sandbox: Sandbox = "auto",
    bot_login: BotLogin = None,
    time_limit: Annotated[
        float, typer.Option(min=60.0, help="Seconds a job may run before it is stopped.")
    ] = 7200.0,
    concurrent_jobs: ConcurrentJobs = None,
    max_cost_per_run: CostPerRun = None,
    max_cost_per_issue: CostPerIssue = None,
    runs_per_day: RunsPerDay = None,
    max_turns: MaxTurns = None,
) -> None:
    """Run bot jobs from a Redis queue as a Celery worker; start one on each machine.

    \b
    Jobs for one issue never run at once, and each repository's concurrent-jobs limit holds
    across all workers. Workers sharing --state resume each other's interrupted runs.
    Example:
      GITHUB_TOKEN=... backend-agent github worker --queue redis://10.0.0.5:6379/0"""
    from github_bot.celery_queue import run_worker
    from github_bot.limits import Limits

    _require_credentials()
    settings = _settings(locals())
    concurrency_cap = concurrent_jobs or Limits().concurrent_jobs
    run_worker(queue, settings, concurrency, concurrency_cap, time_limit)


@app.command()
def jobs(
    state: State = DEFAULT_STATE,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
    queue: Queue = None,
) -> None:
    """List jobs, newest first: delivery, repository, issue, state, run id, cost, pull request."""
    from github_bot.store import Store

    if queue is not None:
        from github_bot.redis_store import RedisStore

        rows = RedisStore(queue).jobs()
    elif not (state / "jobs.sqlite3").is_file():
        raise UsageError(f"no jobs under {state}; pass the --state the bot ran with")
    else:
        rows = Store(state).jobs()
    for job in rows:
        if as_json:
            typer.echo(json.dumps(job.row(), default=str))
            continue
        cost = "" if job.cost is None else f"${job.cost:.2f}"
        where = f"{job.repo}#{job.issue}"
        typer.echo(
            f"{job.id:>4} {job.delivery[:36]:<36} {where:<28} {job.state:<8} "
            f"{job.run_id or '-':<40} {cost:>7} {job.pull or job.reason[:60]}"
        )
    if not rows and not as_json:
        typer.echo("no jobs yet")


@app.command("run-job", hidden=True)
def run_job(
    job_id: int,
    state: State = DEFAULT_STATE,
    parent: Annotated[int, typer.Option(help="The server's pid; this job dies with it.")] = 0,
) -> None:
    """Run one queued job of the server (the server starts these)."""
    from github_bot.flow import Settings, execute
    from github_bot.server import held_lock, job_lock
    from github_bot.store import Store

    if parent:
        _die_with(parent)
    settings = Settings.from_json((state / "settings.json").read_text())
    with held_lock(job_lock(settings.state, job_id)) as mine:
        if not mine:
            typer.echo(f"job {job_id} is already running in another process", err=True)
            raise typer.Exit(75)
        result = execute(Store(settings.state), job_id, settings, dict(os.environ))
    typer.echo(f"job {job_id}: {result.state}: {result.reason}")


def _die_with(parent: int) -> None:
    """SIGKILL this process when the server dies (Linux), as a container would: a restarted
    server then resumes the job from its transcript instead of racing an orphan."""
    if sys.platform.startswith("linux"):
        import ctypes
        import signal

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:
        raise typer.Exit(75)
