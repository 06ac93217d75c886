"""Start and resume runs: the one API that the CLI, the GitHub bot and the eval harness call.

A run is checked (`agent.preflight`) before anything is touched, then set up here (git, spec,
settings, run directory), assembled by `agent.session`, handed to the loop in `agent.runner`,
and always finalised here: whatever ends it, the work is committed on the branch (marked
incomplete unless green), the transcript and meta are saved, and the checkout goes back to
where the user had it (`gitops.leave`)."""

from __future__ import annotations

import contextlib
import shutil
import time
import traceback
from dataclasses import asdict, dataclass, field, fields, replace
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
    # Paths the model's commands must not read (bubblewrap only), e.g. an eval's hidden tests.
    hidden_paths: tuple[str, ...] = ()
    sandbox: str = "auto"
    network: bool = False
    native_tools: bool | None = None  # None: Anthropic's built-in tool types on api.anthropic.com
    max_tokens: int = 8192
    api_timeout: float = 600.0  # seconds without a byte from the server before a retry
    api_retries: int = 6
    replay_of: Path | None = None  # a run directory whose recorded replies stand in for the model
    max_turns_given: bool = False  # True when the caller chose max_turns; else the spec's counts
    keep_worktree: bool = False  # keep a green run's worktree (for a caller that inspects it)
    base: str | None = None  # the commit to start from (default HEAD): the bot continues a branch


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
    worktree: bool = False  # the run worked in a worktree of its own
    checkout: str = ""  # the branch the user's checkout is on now; "" when never touched
    branch_deleted: bool = False  # the run committed nothing, so its branch is gone
    worktree_removed: bool = False
    note: str = ""  # why the checkout or a worktree stayed where it is
    summary: str = ""  # the model's closing words of a green run

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(work_root=str(self.work_root), run_dir=str(self.run_dir))
        return data


def start_run(options: RunOptions, reporter: Reporter | None = None) -> RunOutcome:
    """Check everything that can be checked, then make a branch (or a worktree) and run.
    A problem found before the branch exists leaves the repo exactly as it was."""
    from agent import preflight
    from agent.gate import hash_test_files
    from agent.spec import find_spec

    if not options.request.strip():
        raise UsageError("the request is empty; say what to build, e.g. 'add books resource'")
    repo = gitops.open_repo(options.repo.resolve())
    repo_root = Path(repo.working_tree_dir).resolve()
    spec = find_spec(options.agent, repo_root)
    project = find_project(options.repo.resolve(), repo_root).relative_to(repo_root)
    settings = RepoSettings.load(repo_root / project)
    recorded = RunDir(options.replay_of).read_meta() if options.replay_of else {}
    model = options.model or recorded.get("model") or spec.model or DEFAULT_MODEL
    gitops.check_clean(repo, worktree=options.worktree, allow_dirty=options.allow_dirty)
    preflight.check_run(
        repo_root / project,
        settings,
        model=model,
        api_key=options.api_key,
        base_url=options.base_url,
        sandbox_mode=options.sandbox,
        network=options.network,
        replay=bool(recorded),
    )
    slug = gitops.slugify(options.request)
    run_dir = new_run_dir(runs_root(gitops.common_dir(repo)), slug)
    with run_dir.hold():
        try:
            place = gitops.prepare(
                repo,
                branch=options.branch
                or gitops.BRANCH_PREFIX + ("replay-" if recorded else "") + slug,
                worktree=options.worktree,
                run_id=run_dir.run_id,
                base=recorded.get("base_commit") or options.base,
            )
        except BaseException:
            shutil.rmtree(run_dir.path, ignore_errors=True)  # a run that never started
            raise
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
            "origin": place.origin,
            "worktree": place.worktree,
            "project": project.as_posix(),  # where settings and checks live, in work_root
            "spec": str(spec.path),
            "model": model,
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
                    "keep_worktree",
                    "hidden_paths",
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
    (or with a larger one, given as new totals). The checkout is switched to the run's branch
    (or its worktree added again) and, in place, switched back when the run ends."""
    from agent import preflight

    repo = gitops.open_repo(repo_path.resolve())
    run_dir = find_run(runs_root(gitops.common_dir(repo)), ref)
    meta = run_dir.read_meta()
    if not meta:
        raise UsageError(f"run {run_dir.run_id} has no meta.json; it cannot be resumed")
    if meta.get("status") == "green":
        raise UsageError(f"run {run_dir.run_id} already finished green; nothing to resume")
    meta.update({k: v for k, v in (("base_url", base_url), ("model", model)) if v})
    opts = meta["options"]
    preflight.check_run(
        Path(meta["repo"]),
        RepoSettings.load(Path(meta["repo"])),
        model=meta["model"],
        api_key=api_key,
        base_url=meta.get("base_url"),
        sandbox_mode=opts["sandbox"],
        network=opts["network"],
        replay=bool(meta.get("replay_of")),
    )
    with run_dir.hold():
        meta["origin"] = gitops.enter(gitops.open_repo(Path(meta["repo"])), meta)
        root = Path(meta["work_root"])
        gitops.undo_incomplete_commit(root, run_dir.run_id)
        if budget:
            meta["budget"] = budget.to_dict()
        meta["status"] = "running"
        run_dir.write_meta(meta)
        return _execute(run_dir, meta, api_key, reporter or SilentReporter(), fresh=False)


def finished_outcome(repo_path: Path, ref: str) -> RunOutcome | None:
    """The outcome a run ended with, read back from its transcript; None while it has not ended
    (it is running, or was killed). A caller that lost track of a run, such as a restarted
    server, learns from it whether to publish the run or to resume it."""
    repo = gitops.open_repo(repo_path.resolve())
    end: dict[str, Any] | None = None
    gate: list[dict[str, Any]] = []
    for event in find_run(runs_root(gitops.common_dir(repo)), ref).events():
        if event["type"] == "run_end":
            end = event
        elif event["type"] == "resume":
            end = None
        elif event["type"] == "gate":
            gate = event["checks"]
    if end is None:
        return None
    known = {f.name for f in fields(RunOutcome)} - {"work_root", "run_dir", "gate"}
    return RunOutcome(
        **{k: v for k, v in end.items() if k in known},
        work_root=Path(end["work_root"]),
        run_dir=Path(end["run_dir"]),
        gate=gate,
    )


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
        status, reason, exit_code = "interrupted", "stopped by Ctrl-C", Interrupted.exit_code
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
    summary = _last_text(state.messages) if green else ""
    commit = None
    if meta["options"]["commit"]:
        message = render(
            "commit.txt.j2",
            green=green,
            title=_title(meta["request"]),
            summary=summary,
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
    try:
        keep = bool(meta["options"].get("keep_worktree"))
        left = gitops.leave(meta, green=green, keep_worktree=keep)
    except Exception as exc:  # the work is committed: say where things are, do not fail
        left = gitops.Leaving(checkout="", note=f"could not tidy up the checkout: {exc}")
    meta.update(
        status=status,
        reason=reason,
        commit=commit,
        turns=state.turns,
        cost=state.cost,
        usage=state.usage.to_dict(),
        branch_deleted=left.branch_deleted,
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
        worktree=bool(meta.get("worktree")),
        checkout=left.checkout,
        branch_deleted=left.branch_deleted,
        worktree_removed=left.worktree_removed,
        note=left.note,
        summary=summary,
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


# ---------------------------------------------------------------------------------------------
# Verifying a tree outside a run, and the other pieces the eval harness needs, so that it stays
# on this API (see evals/).


@dataclass
class TreeCheck:
    """The verdict of `check_tree`: one dict per check (name, ok, headline, report, duration)."""

    checks: list[dict[str, Any]]
    quality_violations: int

    @property
    def ok(self) -> bool:
        return all(c["ok"] for c in self.checks)

    @property
    def failed(self) -> list[str]:
        return [c["name"] for c in self.checks if not c["ok"]]


def check_tree(
    root: Path,
    *,
    gate: bool = True,
    commands: dict[str, str] | None = None,
    base_commit: str | None = None,
    sandbox: str = "auto",
) -> TreeCheck:
    """Judge the work tree at `root` once, the way a run's gate would, without a model.

    With `gate`, every check of the runner's gate runs (test edits allowed, protected paths
    compared with `base_commit` when given); each of `commands` ({name: shell command}, e.g.
    hidden tests) runs too and is judged like the test command. Everything runs in `root`, in
    the sandbox, with the repo's database set up as a run sets it up (a fresh embedded
    PostgreSQL of its own), so parallel callers share nothing."""
    from agent.checker import check_project, load_settings
    from agent.gate import CommandCheck, Gate, build_gate
    from agent.session import workbench

    root = root.resolve()
    settings = RepoSettings.load(root)
    options = {"network": False, "sandbox": sandbox}
    with workbench(root, settings, options, lambda event: None) as bench:
        new_database = bench.database.fresh if bench.database else None
        checks = (
            build_gate(
                root, settings, snapshot=None, new_database=new_database, base_commit=base_commit
            ).checks
            if gate
            else []
        )
        extra = [CommandCheck(name, command, "tests") for name, command in (commands or {}).items()]
        fixes = settings.fix_commands if gate else ()
        result = Gate([*checks, *extra], fixes).run(bench.workspace, 1)
    try:
        selection = load_settings(root)
        quality = len(check_project(root, selection.select, selection.ignore))
    except ValueError:  # a malformed selection: the gate's quality check has reported it
        quality = -1
    return TreeCheck([r.to_dict() for r in result.results], quality)


def new_project(name: str, parent: Path) -> Path:
    """`backend-agent new NAME --parent PARENT`: the scaffold, committed; returns its root."""
    from agent.scaffold import ScaffoldError, create_project

    try:
        return create_project(name, parent)
    except ScaffoldError as exc:
        raise UsageError(str(exc)) from None


def known_model(model: str) -> bool:
    """Whether `model` is a model id this version knows (and so can price and budget)."""
    from agent.pricing import price_for

    return price_for(model) is not None
