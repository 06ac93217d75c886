"""Start and resume runs: the one API that the CLI, the GitHub bot and the eval harness call.

A run is set up here (git, spec, settings, run directory), assembled by `agent.session`,
handed to the loop in `agent.runner`, and always finalised here: whatever ends it, the work is
committed on the branch (marked incomplete unless green) and the transcript and meta are saved."""

from __future__ import annotations

import contextlib
import time
import traceback
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from agent import gitops
from agent.config import DEFAULT_MODEL, DEFAULT_SPEC, Budget, RepoSettings, find_project
from agent.errors import AgentError, Interrupted, StopRun, UsageError
from agent.transcript import RunDir, Transcript, find_run, new_run_dir, runs_root


@dataclass
class RunOptions:
    """Everything a caller may choose about a run; the defaults are the CLI's defaults."""

    request: str
    repo: Path = field(default_factory=Path.cwd)
    agent: str = DEFAULT_SPEC
    model: str | None = None
    base_url: str | None = None
    api_key: str | None = None
    budget: Budget = field(default_factory=Budget)
    branch: str | None = None
    worktree: bool = False
    commit: bool = True
    allow_dirty: bool = False
    allow_test_edits: bool = False
    strict: bool = False  # judge the whole repo, not the change against the base commit
    sandbox: str = "auto"
    network: bool = False
    native_tools: bool | None = None  # None: Anthropic's built-in tool types on api.anthropic.com
    max_tokens: int = 8192
    api_timeout: float = 600.0  # seconds without a byte from the server before a retry
    api_retries: int = 6
    replay_of: Path | None = None  # a run directory whose recorded replies stand in for the model
    max_turns_given: bool = False  # True when the caller chose max_turns; else the spec's counts


class Reporter(Protocol):
    """Where a run's progress goes: a terminal, JSON lines, or nowhere."""

    def event(self, event: dict[str, Any]) -> None: ...

    def text(self, delta: str) -> None: ...


class SilentReporter:
    def event(self, event: dict[str, Any]) -> None:
        pass

    def text(self, delta: str) -> None:
        pass


@dataclass
class RunOutcome:
    run_id: str
    status: str  # green, stopped, model_error, interrupted, error
    exit_code: int
    reason: str
    branch: str
    work_root: Path
    run_dir: Path
    commit: str | None = None
    diffstat: str = ""
    turns: int = 0
    cost: float | None = 0.0
    usage: dict[str, int] = field(default_factory=dict)
    gate: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(work_root=str(self.work_root), run_dir=str(self.run_dir))
        return data


def start_run(options: RunOptions, reporter: Reporter | None = None) -> RunOutcome:
    if not options.request.strip():
        raise UsageError("the request is empty; say what to build, e.g. 'add books resource'")
    repo = gitops.open_repo(options.repo.resolve())
    repo_root = Path(repo.working_tree_dir).resolve()
    from agent.spec import find_spec

    spec = find_spec(options.agent, repo_root)
    project = find_project(options.repo.resolve(), repo_root).relative_to(repo_root)
    settings = RepoSettings.load(repo_root / project)
    slug = gitops.slugify(options.request)
    run_dir = new_run_dir(runs_root(gitops.common_dir(repo)), slug)
    recorded = RunDir(options.replay_of).read_meta() if options.replay_of else {}
    place = gitops.prepare(
        repo,
        branch=options.branch or gitops.BRANCH_PREFIX + ("replay-" if recorded else "") + slug,
        worktree=options.worktree,
        allow_dirty=options.allow_dirty,
        run_id=run_dir.run_id,
        base=recorded.get("base_commit"),
    )
    from agent.gate import hash_test_files

    budget = options.budget
    if spec.max_turns and not options.max_turns_given:
        budget = replace(budget, max_turns=spec.max_turns)
    meta = {
        "run_id": run_dir.run_id,
        "request": options.request,
        "status": "running",
        "repo": str(repo_root),
        "work_root": str(place.root),
        "branch": place.branch,
        "base_commit": place.base_commit,
        "worktree": place.worktree,
        "project": project.as_posix(),  # where settings and checks live, relative to work_root
        "spec": str(spec.path),
        "model": options.model or recorded.get("model") or spec.model or DEFAULT_MODEL,
        "replay_of": str(options.replay_of) if options.replay_of else None,
        "base_url": options.base_url,
        "budget": budget.to_dict(),
        "options": {
            k: getattr(options, k)
            for k in (
                "commit",
                "allow_test_edits",
                "strict",
                "sandbox",
                "network",
                "native_tools",
                "max_tokens",
                "api_timeout",
                "api_retries",
            )
        },
        "test_snapshot": hash_test_files(place.root / project, settings.test_patterns),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    run_dir.write_meta(meta)
    return _execute(run_dir, meta, options.api_key, reporter or SilentReporter(), fresh=True)


def resume_run(
    repo_path: Path,
    ref: str,
    reporter: Reporter | None = None,
    *,
    budget: Budget | None = None,
    api_key: str | None = None,
    base_url: str | None = None,
    model: str | None = None,
) -> RunOutcome:
    """Continue a stopped or killed run from its transcript, with what is left of its budget
    (or with a larger one, given as new totals)."""
    repo = gitops.open_repo(repo_path.resolve())
    run_dir = find_run(runs_root(gitops.common_dir(repo)), ref)
    meta = run_dir.read_meta()
    if not meta:
        raise UsageError(f"run {run_dir.run_id} has no meta.json; it cannot be resumed")
    if meta.get("status") == "green":
        raise UsageError(f"run {run_dir.run_id} already finished green; nothing to resume")
    root = Path(meta["work_root"])
    if not root.is_dir():
        raise UsageError(f"the work tree of run {run_dir.run_id} is gone: {root}")
    if gitops.current_branch(root) != meta["branch"]:
        raise UsageError(
            f"{root} is on {gitops.current_branch(root)}, not on the run's branch "
            f"{meta['branch']}; run `git checkout {meta['branch']}` first"
        )
    gitops.undo_incomplete_commit(root, run_dir.run_id)
    if budget:
        meta["budget"] = budget.to_dict()
    meta.update({k: v for k, v in (("base_url", base_url), ("model", model)) if v})
    meta["status"] = "running"
    run_dir.write_meta(meta)
    return _execute(run_dir, meta, api_key, reporter or SilentReporter(), fresh=False)


def _execute(
    run_dir: RunDir, meta: dict[str, Any], api_key: str | None, reporter: Reporter, fresh: bool
) -> RunOutcome:
    from agent.model import ModelError
    from agent.prompts import render
    from agent.runner import RunState
    from agent.session import session

    transcript = Transcript(run_dir.transcript_path)
    state = RunState() if fresh else RunState.replay(run_dir.events())

    def record(event: dict[str, Any]) -> None:
        transcript.write(event)
        reporter.event(event)

    root = Path(meta["work_root"])
    status, reason, exit_code = "error", "", 1
    try:
        if fresh:
            record({"type": "run_start", "run_id": run_dir.run_id, **_public(meta)})
        else:
            record({"type": "resume", "run_id": run_dir.run_id, "turns": state.turns})
        with session(run_dir, meta, api_key, state, record, reporter.text) as agent:
            if not state.messages:  # also a run killed before its first message was saved
                first = {"role": "user", "content": render("task.md.j2", request=meta["request"])}
                agent.emit({"type": "message", "message": first})
            agent.run()
        status, reason, exit_code = "green", "verification passed", 0
    except KeyboardInterrupt:
        status, reason, exit_code = "interrupted", "interrupted by the user", Interrupted.exit_code
    except ModelError as exc:
        status, reason, exit_code = "model_error", str(exc), ModelError.exit_code
    except StopRun as exc:
        status, reason, exit_code = "stopped", str(exc), exc.exit_code
    except AgentError as exc:
        status, reason, exit_code = "error", str(exc), exc.exit_code
    except Exception as exc:  # a bug of ours: still save the work, and say where it is
        status, reason = "error", f"internal error: {type(exc).__name__}: {exc}"
        record({"type": "internal_error", "traceback": traceback.format_exc()})
    finally:
        try:
            outcome = _finalise(run_dir, meta, state, status, reason, exit_code, root)
            record(
                {"type": "run_end", **{k: v for k, v in outcome.to_dict().items() if k != "gate"}}
            )
        finally:
            transcript.close()
    return outcome


def _public(meta: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in meta.items() if k not in ("test_snapshot", "system")}


def _finalise(
    run_dir: RunDir,
    meta: dict[str, Any],
    state: Any,
    status: str,
    reason: str,
    exit_code: int,
    root: Path,
) -> RunOutcome:
    from agent.prompts import render

    green = status == "green"
    checks = state.last_gate
    if not green and checks and not all(c["ok"] for c in checks):
        reason += "; still red: " + ", ".join(c["name"] for c in checks if not c["ok"])
    commit = None
    if meta["options"]["commit"]:
        message = render(
            "commit.txt.j2",
            green=green,
            title=_title(meta["request"]),
            summary=_last_text(state.messages) if green else "",
            reason=reason,
            checks=checks,
            turns=state.turns,
            usage=state.usage,
            cost="unknown" if state.cost is None else f"${state.cost:.4f}",
            run_id=run_dir.run_id,
        )
        with contextlib.suppress(Exception):  # a failing commit must not lose the transcript
            commit = gitops.commit_all(root, message)
    stat = ""
    if commit:
        with contextlib.suppress(Exception):
            stat = gitops.diffstat(root, meta["base_commit"])
    meta.update(
        status=status,
        reason=reason,
        commit=commit,
        turns=state.turns,
        cost=state.cost,
        finished=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    )
    run_dir.write_meta(meta)
    return RunOutcome(
        run_id=run_dir.run_id,
        status=status,
        exit_code=exit_code,
        reason=reason,
        branch=meta["branch"],
        work_root=root,
        run_dir=run_dir.path,
        commit=commit,
        diffstat=stat,
        turns=state.turns,
        cost=state.cost,
        usage=state.usage.to_dict(),
        gate=checks,
    )


def _title(request: str) -> str:
    line = " ".join(request.split())
    line = line[:1].upper() + line[1:]
    return line if len(line) <= 72 else line[:69].rstrip() + "..."


def _last_text(messages: list[dict[str, Any]]) -> str:
    for message in reversed(messages):
        if message["role"] == "assistant" and isinstance(message["content"], list):
            texts = [b["text"] for b in message["content"] if b.get("type") == "text"]
            if any(t.strip() for t in texts):
                return "\n".join(texts).strip()
    return ""
