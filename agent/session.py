"""Assemble a run's parts from its meta: model, database, sandbox, tools, gate and the system
prompt, so that a fresh run and a resumed one are built the same way. `agent.api` decides *when*
a run starts and how it ends; this module decides *what* it runs with."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
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
    from agent.context import ContextPolicy
    from agent.gate import build_gate
    from agent.preflight import command_env
    from agent.runner import Agent
    from agent.spec import load_spec
    from tools.base import Workspace
    from tools.process import CommandRunner
    from tools.secrets import Redactor

    root = Path(meta["work_root"])
    opts = meta["options"]
    settings = RepoSettings.load(root)
    spec = load_spec(Path(meta["spec"]))
    model = _model(meta, api_key, record)  # first: a missing key fails before anything starts
    with contextlib.ExitStack() as stack:
        env = command_env(settings)  # backend-agent's own bin dir on PATH
        new_database, socket_dir = _database(stack, root, settings, env, record)
        sandbox = _sandbox(opts, settings, [socket_dir] if socket_dir else [], record)
        redactor = Redactor.from_environment(
            os.environ,
            extra_values=[v for v in (api_key,) if v],
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
        gate = build_gate(
            root,
            settings,
            snapshot=None if opts["allow_test_edits"] else meta["test_snapshot"],
            new_database=new_database,
            base_commit=meta["base_commit"],
        )
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
) -> tuple[Any, Path | None]:
    """The database the gate and the model's commands use: the user's `DATABASE_URL` when
    allowed, else one embedded PostgreSQL for the whole run where the repo uses Alembic.
    Returns a maker of fresh databases (for `alembic check`) and the socket dir to bind."""
    if "DATABASE_URL" in os.environ and "DATABASE_URL" in settings.env_allow:
        url = os.environ["DATABASE_URL"]
        return (lambda: url), None
    if settings.database != "auto" or not (root / "alembic.ini").is_file():
        return None, None
    from agent.postgres import EmbeddedPostgres

    postgres = stack.enter_context(EmbeddedPostgres())
    env["DATABASE_URL"] = postgres.start()
    record({"type": "database", "url": env["DATABASE_URL"]})
    names = (f"gate_{n}" for n in range(1, 1_000_000))
    return (lambda: postgres.create_database(next(names))), postgres.socket_dir


def _sandbox(
    opts: dict[str, Any], settings: RepoSettings, writable: list[Path], record: Any
) -> Any:
    from tools.sandbox import SandboxError, detect

    protected = [p.rstrip("/") for p in settings.protected_paths if p.rstrip("/") != ".git"]
    try:
        sandbox, why = detect(
            network=opts["network"],
            mode=opts["sandbox"],
            writable=writable,
            readonly_inside=[".git/hooks", ".git/config", ".git/backend-agent", *protected],
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
