"""The `backend-agent` command. It parses, calls `agent.api`, and prints; nothing more."""

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from agent.errors import AgentError, UsageError
from evals.cli import app as eval_app
from github_bot.cli import app as github_app

# "\b" keeps click from re-flowing a paragraph.
EXAMPLES = """

\b
Examples:
  backend-agent new library && cd library        # a project that follows the spec
  backend-agent "add books resource"             # same as: backend-agent run "..."
  backend-agent "add pagination to GET /users" --max-cost 2 --worktree
  backend-agent runs                             # then: show, resume or replay last
  backend-agent doctor                           # sandbox, git, ruff, database, key

\b
Needs ANTHROPIC_API_KEY, or --base-url for a local Anthropic-compatible server.
Exit codes: 0 green, 1 stopped red or out of budget, 2 usage error,
3 model or API error, 130 interrupted.
"""

app = typer.Typer(
    name="backend-agent",
    help="Turn a one-line request into a verified, committed change of a FastAPI backend."
    + EXAMPLES,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)

Repo = Annotated[Path, typer.Option("--repo", "-C", help="The git repository to work in.")]
AsJson = Annotated[bool, typer.Option("--json", help="Print one JSON object per line.")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="Print only the final result.")]
ApiKey = Annotated[
    str | None,
    typer.Option(
        "--api-key",
        envvar="ANTHROPIC_API_KEY",
        show_envvar=True,
        show_default=False,
        help="API key (best given by the environment variable).",
    ),
]
BaseUrl = Annotated[
    str | None,
    typer.Option(
        "--base-url",
        envvar="ANTHROPIC_BASE_URL",
        show_envvar=True,
        help="An Anthropic-compatible server: Ollama, llama.cpp, vLLM, LiteLLM...",
    ),
]
MaxTurns = Annotated[int | None, typer.Option(min=1, help="Model turns at most. [default: 60]")]
MaxCost = Annotated[float | None, typer.Option(min=0.0, help="US dollars at most. [default: 5]")]
Timeout = Annotated[
    float | None, typer.Option(min=1.0, help="Wall seconds at most. [default: 3600]")
]
RECORDED = "[default: the run's recorded budget]"
MaxGate = Annotated[
    int | None, typer.Option(min=1, help="Verification rounds at most. [default: 6]")
]


def _budget(base: Any, **given: Any) -> Any:
    from dataclasses import replace

    return replace(base, **{k: v for k, v in given.items() if v is not None})


def _reporter(as_json: bool, quiet: bool) -> Any:
    from agent.ui import ConsoleReporter, JsonReporter

    return JsonReporter() if as_json else ConsoleReporter(quiet=quiet)


@app.command()
def run(
    request: Annotated[
        str,
        typer.Argument(metavar="REQUEST", help="What to build, in one line.", show_default=False),
    ],
    repo: Repo = Path("."),
    agent: Annotated[str, typer.Option("--agent", "-a", help="Spec NAME or PATH.md.")] = "backend",
    model: Annotated[str | None, typer.Option(help="Model id; overrides the spec's.")] = None,
    base_url: BaseUrl = None,
    api_key: ApiKey = None,
    max_turns: MaxTurns = None,
    max_cost: MaxCost = None,
    timeout: Timeout = None,
    max_gate_rounds: MaxGate = None,
    branch: Annotated[
        str | None, typer.Option(help="Branch to create. [default: backend-agent/<slug>]")
    ] = None,
    worktree: Annotated[
        bool, typer.Option("--worktree", help="Work in a separate git worktree.")
    ] = False,
    no_commit: Annotated[
        bool, typer.Option("--no-commit", help="Leave the change uncommitted.")
    ] = False,
    allow_dirty: Annotated[
        bool, typer.Option("--allow-dirty", help="Run on a tree with uncommitted changes.")
    ] = False,
    allow_test_edits: Annotated[
        bool, typer.Option("--allow-test-edits", help="Let the model change existing tests.")
    ] = False,
    strict: Annotated[
        bool,
        typer.Option(
            "--strict",
            help="Judge the whole repo: findings and failing tests that were there before the "
            "run count too (as `baseline = false` in [tool.backend-agent]).",
        ),
    ] = False,
    sandbox: Annotated[str, typer.Option(help="auto, bwrap, landlock or off.")] = "auto",
    network: Annotated[
        bool, typer.Option("--network", help="Give model commands network access.")
    ] = False,
    native_tools: Annotated[
        bool | None,
        typer.Option(
            "--native-tools/--custom-tools",
            show_default=False,
            help="Send Anthropic's built-in editor and bash tool types, or plain JSON-schema "
            "tools for other servers. [default: native on api.anthropic.com only]",
        ),
    ] = None,
    max_tokens: Annotated[int, typer.Option(min=256, help="Output tokens per turn.")] = 8192,
    api_timeout: Annotated[
        float, typer.Option(min=1.0, help="Seconds of server silence before a retry.")
    ] = 600.0,
    api_retries: Annotated[int, typer.Option(min=0, help="Retries of a failed model call.")] = 6,
    as_json: AsJson = False,
    quiet: Quiet = False,
) -> None:
    """Make the change REQUEST asks for, verify it, and commit it on a new branch."""
    from agent.api import RunOptions, start_run
    from agent.config import Budget

    if sandbox not in ("auto", "bwrap", "landlock", "off"):
        raise UsageError(f"--sandbox must be auto, bwrap, landlock or off, not {sandbox!r}")
    if sandbox == "off":
        typer.secho(
            "WARNING: --sandbox off: the model's commands run with your full privileges.",
            fg="red",
            bold=True,
            err=True,
        )
    options = RunOptions(
        request=request,
        repo=repo,
        agent=agent,
        model=model,
        base_url=base_url,
        api_key=api_key,
        budget=_budget(
            Budget(),
            max_turns=max_turns,
            max_cost=max_cost,
            timeout=timeout,
            max_gate_rounds=max_gate_rounds,
        ),
        branch=branch,
        worktree=worktree,
        commit=not no_commit,
        allow_dirty=allow_dirty,
        allow_test_edits=allow_test_edits,
        strict=strict,
        sandbox=sandbox,
        network=network,
        native_tools=native_tools,
        max_tokens=max_tokens,
        max_turns_given=max_turns is not None,
        api_timeout=api_timeout,
        api_retries=api_retries,
    )
    reporter = _reporter(as_json, quiet)
    _finish(start_run(options, reporter), reporter, as_json)


@app.command()
def resume(
    run_ref: Annotated[
        str, typer.Argument(metavar="RUN", help="Run id, any unique part of one, or 'last'.")
    ] = "last",
    repo: Repo = Path("."),
    base_url: BaseUrl = None,
    api_key: ApiKey = None,
    model: Annotated[str | None, typer.Option(help="Switch model.")] = None,
    max_turns: Annotated[
        int | None, typer.Option(min=1, help=f"New turn total. {RECORDED}", show_default=False)
    ] = None,
    max_cost: Annotated[
        float | None, typer.Option(min=0.0, help=f"New dollar total. {RECORDED}")
    ] = None,
    timeout: Annotated[
        float | None, typer.Option(min=1.0, help=f"New wall-seconds total. {RECORDED}")
    ] = None,
    max_gate_rounds: Annotated[
        int | None, typer.Option(min=1, help=f"New verification-round total. {RECORDED}")
    ] = None,
    as_json: AsJson = False,
    quiet: Quiet = False,
) -> None:
    """Continue a stopped or killed run with what is left of its budget (or a larger one).
    In place, the checkout is switched to the run's branch and back when the run ends; with
    --worktree, the run's worktree is added again if it was removed."""
    from agent.api import resume_run
    from agent.config import Budget

    budget = None
    if any(v is not None for v in (max_turns, max_cost, timeout, max_gate_rounds)):
        from agent import gitops
        from agent.transcript import find_run, runs_root

        meta = find_run(runs_root(gitops.common_dir(gitops.open_repo(repo))), run_ref).read_meta()
        budget = _budget(
            Budget(**meta["budget"]),
            max_turns=max_turns,
            max_cost=max_cost,
            timeout=timeout,
            max_gate_rounds=max_gate_rounds,
        )
    reporter = _reporter(as_json, quiet)
    outcome = resume_run(
        repo, run_ref, reporter, budget=budget, api_key=api_key, base_url=base_url, model=model
    )
    _finish(outcome, reporter, as_json)


@app.command()
def replay(
    run_ref: Annotated[
        str, typer.Argument(metavar="RUN", help="Run id, any unique part of one, or 'last'.")
    ] = "last",
    repo: Repo = Path("."),
    branch: Annotated[
        str | None, typer.Option(help="Branch to create. [default: backend-agent/replay-<slug>]")
    ] = None,
    worktree: Annotated[
        bool, typer.Option("--worktree", help="Work in a separate worktree.")
    ] = False,
    as_json: AsJson = False,
    quiet: Quiet = False,
) -> None:
    """Run a recorded run again from its base commit: its model replies, fed back through the
    real tools and gate, with no API call. Does its outcome still hold?"""
    from agent import gitops
    from agent.api import RunOptions, start_run
    from agent.config import Budget
    from agent.transcript import find_run, runs_root

    recorded = find_run(runs_root(gitops.common_dir(gitops.open_repo(repo))), run_ref)
    meta = recorded.read_meta()
    if not meta.get("request"):
        raise UsageError(f"run {recorded.run_id} has no recorded request; it cannot be replayed")
    options = RunOptions(
        request=meta["request"],
        repo=repo,
        agent=meta["spec"],
        budget=Budget(**meta["budget"]),
        branch=branch,
        worktree=worktree,
        replay_of=recorded.path,
        max_turns_given=True,  # the recorded run's budget, as it was
        **{k: meta["options"][k] for k in ("sandbox", "network", "native_tools", "max_tokens")},
    )
    reporter = _reporter(as_json, quiet)
    _finish(start_run(options, reporter), reporter, as_json)


def _finish(outcome: Any, reporter: Any, as_json: bool) -> None:
    from agent.ui import facts

    if hasattr(reporter, "close"):
        reporter.close()
    if as_json:
        import json

        print(json.dumps({"type": "outcome", **outcome.to_dict()}, default=str))
        raise typer.Exit(outcome.exit_code)
    spent = facts(outcome.turns, sum(outcome.usage.values()), outcome.cost)
    green = outcome.status == "green"
    if green:
        if outcome.commit:
            where = f"committed {outcome.commit[:10]} on {outcome.branch}"
        elif outcome.branch_deleted and outcome.checkout:
            where = f"nothing committed; any change is in your checkout on {outcome.checkout}"
        else:
            where = "nothing committed"
        typer.secho(f"✓ green ({spent}): {where}", fg="green", bold=True)
        if outcome.diffstat:
            typer.echo(outcome.diffstat)
    else:
        typer.secho(f"✗ {outcome.status}: {outcome.reason}", fg="red", bold=True, err=True)
        saved = (
            f"work committed as {outcome.commit[:10]} on {outcome.branch}"
            if outcome.commit
            else "no changes committed"
        )
        typer.echo(f"  {spent}; {saved}", err=True)
    for line in _whereabouts(outcome):
        typer.echo(f"  {line}", err=not green)
    raise typer.Exit(outcome.exit_code)


def _whereabouts(outcome: Any) -> list[str]:
    """Where the run left the checkout, its branch and its worktree, and how to look."""
    lines = [outcome.note] if outcome.note else []
    worktree_kept = outcome.worktree and not outcome.worktree_removed
    if worktree_kept:
        lines.append(f"worktree: {outcome.work_root}")
    if not outcome.branch_deleted:
        if outcome.checkout and outcome.checkout != outcome.branch:
            lines.append(f"your checkout is back on {outcome.checkout}")
        if outcome.checkout != outcome.branch and not worktree_kept:
            lines.append(f"look: git switch {outcome.branch}  (or: backend-agent show)")
        else:
            lines.append("look: backend-agent show")
    if outcome.status != "green":
        lines.append(f"transcript: {outcome.run_dir}/transcript.jsonl")
        lines.append(f"continue with: backend-agent resume {outcome.run_id}")
    return lines


@app.command()
def runs(
    repo: Repo = Path("."),
    prune: Annotated[
        bool,
        typer.Option(
            "--prune",
            help="Remove what ended runs left: worktrees of stopped and dead runs (their "
            "branches stay), empty branches, and runs that never started.",
        ),
    ] = False,
    as_json: AsJson = False,
) -> None:
    """List the runs of this repository, newest first: status (a run whose process died shows
    as dead), date, turns, tokens and cost."""
    from agent import gitops
    from agent.transcript import iter_runs, runs_root, totals

    git_repo = gitops.open_repo(repo)
    found = list(iter_runs(runs_root(gitops.common_dir(git_repo))))
    if prune:
        for line in gitops.prune(git_repo, [r for r in found if r.live_pid() is None]):
            typer.echo(line)
        return
    rows = []
    for run_dir in found:
        meta = run_dir.read_meta()
        status = run_dir.status(meta)
        spent = (
            {"turns": meta["turns"], "tokens": sum(meta["usage"].values()), "cost": meta["cost"]}
            if meta.get("status") not in (None, "running") and "usage" in meta
            else totals(run_dir.events())
        )
        date = meta.get("created", "")[:16].replace("T", " ")
        rows.append({**meta, **spent, "run_id": run_dir.run_id, "status": status, "date": date})
    if as_json:
        import json

        keys = ("run_id", "status", "date", "branch", "request", "reason", "commit")
        for row in rows:
            print(json.dumps({k: row.get(k) for k in (*keys, "turns", "tokens", "cost")}))
        return
    if not rows:
        typer.echo('no runs yet; start one with: backend-agent "add books resource"')
    for row in rows:
        cost = "cost ?" if row["cost"] is None else f"${row['cost']:.2f}"
        typer.echo(
            f"{row['run_id']:<48} {row['status']:<11} {row['date'] or '?':<16} "
            f"{row['turns']:>3} turns {row['tokens']:>9,} tokens {cost:>7}  "
            f"{row.get('request', '')}"
        )
    if any(row["status"] == "dead" for row in rows):
        typer.echo("dead: the process died; `backend-agent resume RUN` continues it")


@app.command()
def show(
    run_ref: Annotated[
        str, typer.Argument(metavar="RUN", help="Run id, any unique part of one, or 'last'.")
    ] = "last",
    repo: Repo = Path("."),
    full: Annotated[
        bool, typer.Option("--full", help="Also show tool output and verification reports.")
    ] = False,
    as_json: AsJson = False,
) -> None:
    """Render one run from its transcript: the model's text, tool calls, verification rounds."""
    from agent import gitops
    from agent.transcript import find_run, runs_root
    from agent.ui import ConsoleReporter, JsonReporter

    run_dir = find_run(runs_root(gitops.common_dir(gitops.open_repo(repo))), run_ref)
    reporter: Any = (
        JsonReporter() if as_json else ConsoleReporter(stream=sys.stdout, replay=True, full=full)
    )
    for event in run_dir.events():
        reporter.event(event)
    if hasattr(reporter, "close"):
        reporter.close()
    if not as_json:
        from agent.transcript import totals
        from agent.ui import facts

        meta = run_dir.read_meta()
        status = run_dir.status(meta)
        reason = "the process died; continue with: backend-agent resume " + run_dir.run_id
        reason = reason if status == "dead" else meta.get("reason", "")
        typer.echo(f"status: {status} {reason}".rstrip())
        typer.echo(facts(**totals(run_dir.events())))


@app.command()
def agents(repo: Repo = Path(".")) -> None:
    """List the agent specs found: the repo's .claude/agents/ first, then the built-in ones."""
    from agent.spec import list_specs

    for spec in list_specs(repo.resolve()):
        typer.echo(f"{spec.name:<16} {spec.path}\n{'':<16} {spec.description}")


@app.command()
def new(
    name: Annotated[str, typer.Argument(help="Directory and project name, e.g. library.")],
    parent: Annotated[Path, typer.Option("--parent", help="Where to create it.")] = Path("."),
) -> None:
    """Create a FastAPI + PostgreSQL service that follows the backend spec, as a git repo."""
    from agent.scaffold import ScaffoldError, create_project

    try:
        path = create_project(name, parent.resolve())
    except ScaffoldError as exc:
        raise UsageError(str(exc)) from None
    typer.echo(f"created {path}\n  cd {path} && pip install -e '.[dev]' && python -m pytest -q")
    typer.echo('  then: backend-agent "add books resource"')


@app.command()
def check(
    path: Annotated[Path, typer.Argument(help="Project root.")] = Path("."),
    select: Annotated[
        list[str] | None,
        typer.Option(help="Only these rule codes or prefixes (repeat or comma-separate)."),
    ] = None,
    ignore: Annotated[
        list[str] | None,
        typer.Option(help="Also skip these rule codes or prefixes (repeat or comma-separate)."),
    ] = None,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help='Print one JSON object per finding per line (files left unchecked: "code": null).',
        ),
    ] = False,
) -> None:
    """Check the spec's Quality Standards (ruff-style output; see `# noqa: CODE`).

    Rules: `python -m agent.checker --rules`. Settings: `check_select`/`check_ignore` in
    `[tool.backend-agent]` of PATH/pyproject.toml. Exit 0 clean, 1 violations, 2 bad input.
    """
    from agent.checker import main

    raise typer.Exit(main(path, select=select, ignore=ignore or (), as_json=as_json))


@app.command()
def doctor(
    repo: Repo = Path("."),
    base_url: BaseUrl = None,
    api_key: ApiKey = None,
    sandbox: Annotated[str, typer.Option(help="The sandbox mode to judge.")] = "auto",
) -> None:
    """Check what a run here will have: the sandbox, and the gate's tools as seen from inside
    it, git, the repository and its settings, the API key or server, PostgreSQL. Exits 0 when
    a run can work (warnings are things some repos need), 1 when it cannot."""
    from agent.doctor import diagnose

    rows = diagnose(repo, sandbox_mode=sandbox, api_key=api_key, base_url=base_url)
    marks = {"ok": "✓", "warn": "!", "fail": "✗"}
    for level, name, detail in rows:
        typer.echo(f"{marks[level]} {name:<29} {detail}")
    raise typer.Exit(1 if any(level == "fail" for level, *_ in rows) else 0)


app.add_typer(eval_app, name="eval")
app.add_typer(github_app, name="github")

COMMANDS = {
    *("run", "resume", "replay", "runs", "show", "agents", "new", "check", "doctor"),
    *("eval", "github"),
}


def main(argv: list[str] | None = None) -> None:
    """`backend-agent "REQUEST"` means `backend-agent run "REQUEST"`."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] not in COMMANDS and args[0] not in ("-h", "--help", "--version"):
        args.insert(0, "run")
    if args == ["--version"]:
        from agent import __version__

        print(f"backend-agent {__version__}")
        return
    try:
        app(args=args, prog_name="backend-agent")
    except AgentError as exc:
        typer.secho(f"backend-agent: error: {exc}", fg="red", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        typer.secho("backend-agent: interrupted", fg="red", err=True)
        sys.exit(130)
