"""Assemble a run's parts from its meta: model, database, sandbox, tools, gate and the system
prompt, so that a fresh run and a resumed one are built the same way. `agent.api` decides *when*
a run starts and how it ends; this module decides *what* it runs with."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.config import Budget, RepoSettings
from agent.errors import UsageError
from agent.transcript import RunDir

TOOL_ORDER = ("str_replace_based_edit_tool", "bash", "run_tests", "run_lint")

Record = Callable[[dict[str, Any]], None]


@contextlib.contextmanager
def session(
    run_dir: RunDir,
    meta: dict[str, Any],
    api_key: str | None,
    state: Any,
    record: Record,
    on_text: Callable[[str], None],
) -> Iterator[Any]:
    """The ready `Agent` of a run; everything it started (database, processes) ends on exit."""
    from agent.baseline import BaseCommitBaseline
    from agent.context import ContextPolicy
    from agent.gate import build_gate
    from agent.runner import Agent
    from agent.spec import load_spec

    git_root = Path(meta["work_root"])
    root = git_root / meta.get("project", ".")  # where settings and checks live
    opts = meta["options"]
    settings = RepoSettings.load(root)
    spec = load_spec(Path(meta["spec"]))
    model = _model(meta, api_key, record)  # first: a missing key fails before anything starts
    with workbench(root, settings, opts, record, secrets=[api_key]) as bench:
        workspace, database, redactor = bench.workspace, bench.database, bench.redactor
        baseline = None
        if settings.baseline and not opts.get("strict"):
            warn = lambda message: record({"type": "warning", "message": message})  # noqa: E731
            project = meta.get("project", ".")
            baseline = BaseCommitBaseline(git_root, meta["base_commit"], project, workspace, warn)
        gate = build_gate(
            root,
            settings,
            snapshot=None if opts["allow_test_edits"] else meta["test_snapshot"],
            new_database=database.fresh if database else None,
            base_commit=meta["base_commit"],
            git_root=git_root,
            baseline=baseline,
        )
        if baseline is not None:  # while the model works on its first turn
            baseline.start(gate.comparable())
            bench.stack.callback(baseline.close)
        tools = _tools(spec.tools)
        if "system" not in meta:  # rendered once, so a resumed run keeps its cached prefix
            meta["system"] = _system_prompt(meta, spec, settings, list(tools), gate.describe())
            run_dir.write_meta(meta)
        native = opts["native_tools"]
        if native is None:
            base = meta.get("base_url") or os.environ.get("ANTHROPIC_BASE_URL") or ""
            native = not base or "anthropic.com" in base
        yield Agent(
            model=model,
            tools=tools,
            tool_definitions=[dict(t.definition(native)) for t in tools.values()],
            workspace=workspace,
            gate=gate,
            budget=Budget(**meta["budget"]),
            state=state,
            system=[{"type": "text", "text": meta["system"]}],
            record=record,
            context=ContextPolicy(window=settings.context_window),
            redact=redactor.redact,
            max_tokens=opts["max_tokens"],
            command_timeout=settings.command_timeout,
            on_text=on_text,
        )


@dataclass
class Bench:
    """Where commands run: the workspace (sandbox, scrubbed environment, redaction) and the
    test database, alive until the `workbench` block ends."""

    stack: contextlib.ExitStack
    workspace: Any
    database: Any
    redactor: Any


@contextlib.contextmanager
def workbench(
    root: Path,
    settings: RepoSettings,
    opts: dict[str, Any],
    record: Record,
    secrets: Sequence[str | None] = (),
) -> Iterator[Bench]:
    """The sandboxed workspace of a project, with its test database: what a run's tools and
    gate use, and what a caller that only verifies a tree (the eval harness) uses too."""
    from agent.preflight import command_env
    from tools.base import Workspace
    from tools.process import CommandRunner
    from tools.secrets import Redactor, dropped_secrets

    with contextlib.ExitStack() as stack:
        env = command_env(settings)  # backend-agent's own bin dir on PATH
        for name in dropped_secrets(os.environ, settings.env_allow):
            warning = (
                f"{name} is in env_allow but looks like a secret, so commands do not get it; "
                "give the app a test value in [tool.backend-agent] test_env instead"
            )
            record({"type": "warning", "message": warning})
        server, external = _database(stack, root, settings, env, record)
        sandbox = _sandbox(opts, settings, server, env, record)
        database = _test_database(server, external, sandbox, settings, env, record)
        redactor = Redactor.from_environment(
            os.environ,
            extra_values=[v for v in (*secrets, *(database.secrets if database else ())) if v],
            secret_files=[root / f for f in settings.secret_files],
        )
        runner = CommandRunner(sandbox, env, redactor=redactor)
        stack.callback(runner.close)
        workspace = Workspace(
            root=root,
            executor=runner,
            protected=settings.protected_paths,
            test_command=settings.test_command,
            lint_commands=settings.lint_commands,
            command_timeout=settings.command_timeout,
        )
        yield Bench(stack, workspace, database, redactor)


def _model(meta: dict[str, Any], api_key: str | None, record: Record) -> Any:
    from agent.model import AnthropicModel
    from agent.pricing import price_for
    from agent.replay import ReplayModel

    if meta.get("replay_of"):
        return ReplayModel.from_events(meta["model"], RunDir(Path(meta["replay_of"])).events())
    if price_for(meta["model"]) is None:
        warning = f"no price known for {meta['model']}: cost is unknown, --max-cost not enforced"
        record({"type": "warning", "message": warning})
    opts = meta["options"]
    return AnthropicModel(
        meta["model"],
        api_key=api_key,
        base_url=meta.get("base_url"),
        timeout=opts["api_timeout"],
        max_retries=opts["api_retries"],
    )


def _database(
    stack: contextlib.ExitStack,
    root: Path,
    settings: RepoSettings,
    env: dict[str, str],
    record: Record,
) -> tuple[Any, str | None]:
    """The test database's server: one embedded PostgreSQL for the whole run where the project
    uses Alembic or its `test_env` names the database, or the user's own `DATABASE_URL` when
    the repo says `database = "external"`. Never the user's database otherwise: a passed-through
    `DATABASE_URL` is withheld from commands (migrations would run against it)."""
    from agent.testdb import bin_dir_for, free_port, new_password, uses_database

    host_url = env.pop("DATABASE_URL", None)
    if settings.database == "external":
        if not host_url:
            raise UsageError(
                'database = "external" needs DATABASE_URL in the environment and in env_allow'
            )
        return None, host_url
    if host_url:
        record(
            {
                "type": "warning",
                "message": "DATABASE_URL from your environment is not given to commands (set "
                'database = "external" to run the tests and migrations against it)',
            }
        )
    wanted = (root / "alembic.ini").is_file() or uses_database(settings.test_env)
    if settings.database == "none" or not wanted:
        if uses_database(settings.test_env):
            raise UsageError('test_env names the test database ({db_...}) but database = "none"')
        return None, None
    from agent.postgres import EmbeddedPostgres, EmbeddedPostgresError

    bin_dir = bin_dir_for(settings.postgres, root)
    server = EmbeddedPostgres(bin_dir=bin_dir, port=free_port(), password=new_password())
    try:
        stack.enter_context(server)
    except EmbeddedPostgresError as exc:
        from agent.gate import EnvironmentProblem

        first = str(exc).splitlines()[0]
        raise EnvironmentProblem(f"the test database cannot start: {first}") from None
    return server, None


def _test_database(
    server: Any,
    external: str | None,
    sandbox: Any,
    settings: RepoSettings,
    env: dict[str, str],
    record: Record,
) -> Any:
    """How commands reach the test database (at 127.0.0.1 when the sandbox lets them), with
    `DATABASE_URL`, `PG*` and `test_env` in their environment."""
    from agent.testdb import TestDatabase, redact_url

    if server is not None:
        database = TestDatabase.embedded(server, sandbox.loopback_tcp, settings.test_env)
    elif external is not None:
        database = TestDatabase.external(external, settings.test_env)
    else:
        env.update(settings.test_env)
        return None
    env.update(database.env())
    record({"type": "database", "url": redact_url(env["DATABASE_URL"])})
    return database


def _sandbox(
    opts: dict[str, Any], settings: RepoSettings, server: Any, env: dict[str, str], record: Any
) -> Any:
    from agent.preflight import installs
    from tools.sandbox import SandboxError, detect

    protected = [p.rstrip("/") for p in settings.protected_paths if p.rstrip("/") != ".git"]
    try:
        sandbox, why = detect(
            network=opts["network"],
            mode=opts["sandbox"],
            writable=[server.socket_dir] if server is not None else [],
            readonly_inside=[".git/hooks", ".git/config", ".git/backend-agent", *protected],
            visible=installs(env.get("PATH", "")),
            forward=(server.port, server.socket_path) if server is not None else None,
            hidden=[Path(p) for p in opts.get("hidden_paths", ())],
        )
    except SandboxError as exc:
        raise UsageError(f"{exc}; see `backend-agent doctor`") from None
    record({"type": "sandbox", "name": sandbox.name, "why": why})
    return sandbox


def _system_prompt(
    meta: dict[str, Any], spec: Any, settings: RepoSettings, tools: list[str], checks: list[str]
) -> str:
    from agent.prompts import render, repo_map

    root = Path(meta["work_root"])
    return render(
        "system.md.j2",
        spec_body=spec.body,
        spec_name=spec.name,
        root=root,
        branch=meta["branch"],
        protected=settings.protected_paths,
        network=meta["options"]["network"],
        command_timeout=settings.command_timeout,
        tools=tools,
        test_command=settings.test_command,
        lint_commands=settings.lint_commands,
        checks=checks,
        allow_test_edits=meta["options"]["allow_test_edits"],
        repo_map=repo_map(root),
    )


def _tools(allowed: tuple[str, ...] | None) -> dict[str, Any]:
    from tools.bash import BashTool
    from tools.checks import RunLintTool, RunTestsTool
    from tools.editor import TextEditor

    every = {
        "str_replace_based_edit_tool": TextEditor(),
        "bash": BashTool(),
        "run_tests": RunTestsTool(),
        "run_lint": RunLintTool(),
    }
    return {name: every[name] for name in TOOL_ORDER if allowed is None or name in allowed}
