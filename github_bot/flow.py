"""One job, start to finish: trust, tracking comment, clone, run (through `agent.api` only),
push, pull request. The same code serves `handle` (Actions) and each job of the server."""

from __future__ import annotations

import json
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from agent.api import RunOptions, RunOutcome, finished_outcome, resume_run, start_run
from agent.config import Budget
from github_bot import gitio
from github_bot.client import WRITE_PERMISSIONS, Credentials, GitHub
from github_bot.events import DEFAULT_LABEL, Trigger
from github_bot.limits import Limits
from github_bot.render import money, render
from github_bot.store import Store
from github_bot.tracking import Tracking

DAY = 24 * 3600.0


@dataclass(frozen=True)
class Settings:
    """How the bot runs; no secret in here (it is written to the state directory)."""

    state: Path
    api_url: str = "https://api.github.com"
    label: str = DEFAULT_LABEL
    clone_url: str | None = None  # handle --clone-url: one repository
    clone_base: str | None = None  # serve --clone-base: BASE/OWNER/NAME.git
    agent: str = "backend"
    model: str | None = None
    base_url: str | None = None  # an Anthropic-compatible server
    sandbox: str = "auto"
    bot_login: str | None = None
    caps: dict[str, Any] = field(default_factory=dict)  # operator's limits (Limits fields)

    def to_json(self) -> str:
        return json.dumps({**asdict(self), "state": str(self.state)})

    @classmethod
    def from_json(cls, text: str) -> Settings:
        data = json.loads(text)
        return cls(**{**data, "state": Path(data["state"])})

    def clone_url_for(self, trigger: Trigger, repository: dict[str, Any]) -> str:
        if self.clone_url:
            return self.clone_url
        if self.clone_base:
            return f"{self.clone_base.rstrip('/')}/{trigger.repo}.git"
        return str(trigger.clone_url or repository["clone_url"])


@dataclass(frozen=True)
class Result:
    state: str  # done (green), red, refused, failed, interrupted
    reason: str = ""
    run_id: str | None = None
    cost: float | None = None
    pull: str | None = None


class Progress:
    """The `agent.api` reporter of a job: records the run id the moment the run exists (so a
    killed job is resumed, not restarted) and edits the tracking comment on each gate round."""

    def __init__(self, tracking: Tracking, on_run_id: Any) -> None:
        self.tracking, self.on_run_id = tracking, on_run_id
        self.run_id: str | None = None
        self.turns, self.cost, self.rounds = 0, 0.0, 0

    def event(self, event: dict[str, Any]) -> None:
        kind = event["type"]
        if kind in ("run_start", "resume"):
            self.run_id = event["run_id"]
            self.turns = event.get("turns", 0)
            self.on_run_id(self.run_id)
            self.tracking.update("running", run_id=self.run_id, turns=self.turns, cost=None)
        elif kind == "usage":
            self.turns += 1
            self.cost = (
                None if self.cost is None or event["cost"] is None else (self.cost + event["cost"])
            )
        elif kind == "gate":
            self.rounds += 1
            word = "green" if event["ok"] else "red, the agent is fixing it"
            self.tracking.update(
                f"running: verification round {self.rounds} {word}",
                run_id=self.run_id,
                gate=event["checks"],
                gate_round=self.rounds,
                turns=self.turns,
                cost=self.cost,
            )

    def text(self, delta: str) -> None:
        pass


class Job:
    """One trigger handled with one set of credentials; `resume` is the run id of a run a
    killed server left behind."""

    def __init__(
        self,
        trigger: Trigger,
        settings: Settings,
        credentials: Credentials,
        store: Store,
        job_id: int,
        anthropic_key: str | None,
    ) -> None:
        self.trigger, self.settings, self.store, self.job_id = trigger, settings, store, job_id
        self.anthropic_key = anthropic_key
        self.gh = GitHub(settings.api_url, credentials, trigger.installation_id)

    def run(self, resume: str | None = None) -> Result:
        t, gh = self.trigger, self.gh
        if t.actor and resume is None:
            permission = gh.permission(t.owner, t.name, t.actor)
            if permission not in WRITE_PERMISSIONS:
                self._thank_untrusted()
                return Result("refused", f"{t.actor} has {permission} permission, not write")
            if t.comment_id:
                gh.react(t.owner, t.name, t.comment_id, "eyes")
        issue = gh.issue(t.owner, t.name, t.issue)
        repository = gh.repository(t.owner, t.name)
        default_branch = str(repository["default_branch"])
        tracking = Tracking(gh, t.owner, t.name, t.issue, self.settings.bot_login or gh.login())
        tracking.update("started: preparing a work tree" if resume is None else "resuming")
        url = self.settings.clone_url_for(t, repository)
        clone = gitio.sync(
            url,
            self.settings.state / "work" / t.owner / t.name / f"issue-{t.issue}",
            default_branch,
            gh.push_token(),
        )
        limits = Limits.load(clone, self.settings.caps)
        self.store.set_repo_concurrency(t.repo, limits.concurrent_jobs)
        state = tracking.state
        state.branch = state.branch or f"backend-agent/issue-{t.issue}-{_slug(issue['title'])}"
        if resume is None:
            refusal = self._refusal(limits, state.cost)
            if refusal:
                tracking.update("not started", details=refusal)
                return Result("refused", refusal)
        progress = Progress(tracking, lambda run_id: self.store.update(self.job_id, run_id=run_id))
        outcome = self._agent(clone, issue, tracking, limits, progress, resume)
        state.runs[outcome.run_id] = outcome.cost
        if outcome.status == "interrupted":
            tracking.update(
                "paused: interrupted; its work in progress is saved and the run resumes when "
                "the bot restarts",
                run_id=outcome.run_id,
                turns=outcome.turns,
                cost=outcome.cost,
            )
            return Result("interrupted", outcome.reason, outcome.run_id, outcome.cost)
        return self._publish(outcome, tracking, issue, clone, url, default_branch)

    def _agent(
        self,
        clone: Path,
        issue: dict[str, Any],
        tracking: Tracking,
        limits: Limits,
        progress: Progress,
        resume: str | None,
    ) -> RunOutcome:
        """The run, through `agent.api`: a run a killed job left behind is read back (it ended)
        or resumed; otherwise a new one starts, from the issue's pushed branch if there is one."""
        t, state, settings = self.trigger, tracking.state, self.settings
        if resume:
            ended = finished_outcome(clone, resume)
            return ended or resume_run(
                clone, resume, progress, api_key=self.anthropic_key, base_url=settings.base_url
            )
        base = gitio.remote_tip(clone, str(state.branch))
        left = limits.max_cost_per_issue - state.cost
        budget = Budget(
            max_turns=limits.max_turns,
            max_cost=max(0.0, min(limits.max_cost_per_run, left)),
            timeout=limits.timeout,
        )
        request = render(
            "request.md.j2",
            number=t.issue,
            repo=t.repo,
            title=issue["title"],
            body=issue.get("body") or "",
            instruction=t.instruction,
            continuing=base is not None,
            branch=state.branch,
        )
        options = RunOptions(
            request=request,
            repo=clone,
            agent=settings.agent,
            model=settings.model,
            base_url=settings.base_url,
            api_key=self.anthropic_key,
            budget=budget,
            branch=state.branch,
            worktree=True,
            base=base,
            sandbox=settings.sandbox,
            max_turns_given=True,
        )
        return start_run(options, progress)

    def _publish(
        self,
        outcome: RunOutcome,
        tracking: Tracking,
        issue: dict[str, Any],
        clone: Path,
        url: str,
        default_branch: str,
    ) -> Result:
        t, gh, state = self.trigger, self.gh, tracking.state
        green, branch = outcome.status == "green", str(state.branch)
        facts = {"run_id": outcome.run_id, "turns": outcome.turns, "cost": outcome.cost}
        commit = outcome.commit or gitio.remote_tip(clone, branch)
        changed = bool(commit) and gitio.has_changes(clone, default_branch, str(commit))
        if changed and gitio.protected_changes(clone, default_branch, str(commit)):
            why = "the change touches `.github/`, which the bot never pushes"
            tracking.update("refused to push", details=why, gate=outcome.gate, **facts)
            return Result("failed", why, outcome.run_id, outcome.cost)
        pull = None
        if changed:
            gitio.push(clone, url, str(commit), branch, gh.push_token())  # fresh: runs are long
            body = render(
                "pull.md.j2",
                number=t.issue,
                summary=outcome.summary,
                reason=outcome.reason,
                green=green,
                gate=outcome.gate,
                turns=outcome.turns,
                usage=outcome.usage,
                cost=money(outcome.cost),
                run_id=outcome.run_id,
            )
            pull = gh.open_pull(t.owner, t.name, branch)
            if pull is None:
                pull = gh.create_pull(
                    t.owner,
                    t.name,
                    title=issue["title"],
                    head=branch,
                    base=default_branch,
                    body=body,
                    draft=not green,
                )
            else:
                pull = gh.update_pull(t.owner, t.name, int(pull["number"]), body=body)
                if green and pull.get("draft"):
                    gh.mark_ready(str(pull["node_id"]))
                    pull["draft"] = False
            state.pull = int(pull["number"])
        draft = bool(pull and pull.get("draft"))
        if green:
            details = (
                f"Pull request #{state.pull} is ready for review."
                if pull
                else ("Verification is green and nothing needed to change: no pull request.")
            )
            tracking.update("green ✓", gate=outcome.gate, details=details, **facts)
        else:
            details = render(
                "red.md.j2",
                reason=outcome.reason,
                failing=[c for c in outcome.gate if not c["ok"]],
                pushed=changed,
                branch=branch,
                pull=state.pull,
            )
            tracking.update(
                f"stopped: {outcome.status}",
                gate=outcome.gate,
                details=details,
                draft=draft,
                **facts,
            )
        return Result(
            "done" if green else "red",
            outcome.reason,
            outcome.run_id,
            outcome.cost,
            pull["html_url"] if pull else None,
        )

    def _refusal(self, limits: Limits, issue_cost: float) -> str:
        t = self.trigger
        today = self.store.runs_since(t.repo, time.time() - DAY, exclude=self.job_id)
        if today >= limits.runs_per_day:
            return (
                f"{t.repo} reached its limit of {limits.runs_per_day} runs per day; "
                "try again tomorrow or raise `runs-per-day` in `[tool.backend-agent.github]`."
            )
        if issue_cost >= limits.max_cost_per_issue:
            return (
                f"this issue has used {money(issue_cost)} of its "
                f"{money(limits.max_cost_per_issue)} limit; raise `max-cost-per-issue` in "
                "`[tool.backend-agent.github]` to continue."
            )
        return ""

    def _thank_untrusted(self) -> None:
        t, gh = self.trigger, self.gh
        marker = f"<!-- backend-agent:untrusted {t.actor} -->"
        if not any(
            (c.get("body") or "").startswith(marker) for c in gh.comments(t.owner, t.name, t.issue)
        ):
            body = render("untrusted.md.j2", actor=t.actor, label=self.settings.label)
            gh.comment(t.owner, t.name, t.issue, body)


def _slug(title: str) -> str:
    words = re.findall(r"[a-z0-9]+", title.lower())
    return "-".join(words)[:30].strip("-") or "change"


def credentials_from_env(env: dict[str, str]) -> Credentials:
    return Credentials(
        token=env.get("GITHUB_TOKEN") or None,
        app_id=env.get("GITHUB_APP_ID") or None,
        private_key=env.get("GITHUB_APP_PRIVATE_KEY") or None,
    )


def execute(store: Store, job_id: int, settings: Settings, env: dict[str, str]) -> Result:
    """Run a stored job to its end and record the result. A job that was already running (its
    run id recorded) is finished from its transcript or resumed, never started over."""
    from githubkit.exception import GitHubException

    from agent.errors import AgentError

    record = store.get(job_id)
    job: Job | None = None
    try:
        job = Job(
            record.trigger,
            settings,
            credentials_from_env(env),
            store,
            job_id,
            env.get("ANTHROPIC_API_KEY"),
        )
        result = job.run(resume=record.run_id)
    except (AgentError, GitHubException, ValueError, OSError) as exc:
        result = Result("failed", _one_line(exc, settings, env), record.run_id)
        if job is not None:
            _report_failure(job, result.reason)
    state = "queued" if result.state == "interrupted" else result.state
    store.update(
        job_id,
        state=state,
        reason=result.reason,
        run_id=result.run_id or record.run_id,
        cost=result.cost,
        pull=result.pull,
        finished=None if state == "queued" else time.time(),
    )
    return result


def _one_line(exc: BaseException, settings: Settings, env: dict[str, str]) -> str:
    text = " ".join(f"{type(exc).__name__}: {exc}".split())
    for secret in credentials_from_env(env).secrets():
        text = text.replace(secret, "[REDACTED]")
    return text[:500]


def _report_failure(job: Job, reason: str) -> None:
    from githubkit.exception import GitHubException

    t = job.trigger
    try:
        tracking = Tracking(
            job.gh, t.owner, t.name, t.issue, job.settings.bot_login or job.gh.login()
        )
        tracking.update("failed", details=f"The bot could not finish: {reason}")
    except GitHubException:
        pass  # GitHub itself is what failed; the job's record keeps the reason
