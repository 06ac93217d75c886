"""The verification gate: the runner's own judgement of "done", as a list of checks.

By default a round judges the change, not the repo's past (SWE-bench's standard): a check that
can compare (tests, ruff, the quality checker, Alembic, other linters) observes the work and is
judged against what the same check observed on the base commit (`agent.baseline`). Findings are
matched by file, rule and message, not by line, so an edit above a finding does not make it new.
With `baseline = false` (or `--strict`) each check judges the whole repo on its own."""

from __future__ import annotations

import hashlib
import json
import re
import shlex
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from fnmatch import fnmatch
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from agent.config import RepoSettings
from agent.errors import AgentError
from agent.prompts import render
from tools.base import Workspace
from tools.process import CommandResult

MESSAGES = "gate_checks.md.j2"
CANNOT_START = (126, 127)  # the shell's "not executable" and "command not found"
FreshDatabase = Callable[[], Mapping[str, str]]  # the environment of a new test database


class EnvironmentProblem(AgentError):
    """A check cannot run here (a tool or interpreter is missing, the database lacks an
    extension): the user's to fix, never the model's. Ends the run with one line."""

    exit_code = 2


def _say(text: str, **context: Any) -> str:
    """One headline or report line of a check, from `templates/gate_checks.md.j2`."""
    return render(MESSAGES, text=text, **context).removesuffix("\n")


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    headline: str
    report: str = ""
    duration: float = 0.0
    new: int = 0  # findings beyond the baseline's (0 when judged without one)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Check(Protocol):
    name: str

    def run(self, workspace: Workspace) -> CheckResult: ...


@dataclass(frozen=True)
class Finding:
    key: str  # what identifies it across edits: file, rule and message, or a test's node id
    shown: str  # how the model reads it, line number included


@dataclass(frozen=True)
class Observation:
    """What one check saw, before any judgement against a baseline."""

    ok: bool
    headline: str
    report: str
    findings: tuple[Finding, ...] = ()
    exit_code: int | None = 0

    def count(self) -> int:
        return len(self.findings)


@dataclass(frozen=True)
class Changes:
    """The files the run changed, relative to the project; None judges the whole repo."""

    files: frozenset[str] | None = None

    @property
    def python(self) -> list[str]:
        return sorted(f for f in self.files or () if f.endswith(".py"))


@runtime_checkable
class Comparable(Protocol):
    """A check whose findings can be compared with the base commit's."""

    name: str

    def observe(self, workspace: Workspace, changes: Changes) -> Observation: ...


@dataclass
class GateResult:
    round: int
    results: list[CheckResult]
    duration: float
    baseline: str = ""  # "baseline: 35 quality, 2 ruff, 1 failing test; this change: 0 new"

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.results)


def _timed(name: str, body: Callable[[], tuple[bool, str, str]]) -> CheckResult:
    start = time.monotonic()
    ok, headline, report = body()
    return CheckResult(name, ok, headline, report, round(time.monotonic() - start, 3))


# `python -m MODULE` whose module is not installed: as much "cannot start" as exit 127.
_NO_MODULE = re.compile(r"^\S*python[\d.]*: No module named \S+$", re.M)


def _started(result: CommandResult, name: str) -> CommandResult:
    """The result, unless the command could not start: that stops the run."""
    if result.exit_code in CANNOT_START or _NO_MODULE.search(result.output):
        lines = [ln.strip() for ln in result.output.splitlines() if ln.strip()]
        why = lines[-1] if lines else f"exit {result.exit_code}"
        raise EnvironmentProblem(
            f"{name}: `{result.command}` cannot start here (exit {result.exit_code}: {why}); "
            "install what it needs or fix its command in [tool.backend-agent], then resume"
        )
    return result


def with_env(command: str, env: Mapping[str, str]) -> str:
    """`command` run with `env` exported first (a shell line, as every check is)."""
    if not env:
        return command
    exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
    return f"export {exports}; {command}"


Verdict = tuple[bool, str, str, int]  # ok, headline, report, how many findings are new


def judge(
    name: str,
    now: Observation,
    base: Observation | None,
    also_new: Callable[[Finding], bool] | None = None,
) -> Verdict:
    """(ok, headline, report, new) of `now` against the base commit's observation of the same
    check. A finding is new when the base had fewer of its key; `also_new(finding)` may add
    more (a failing test in a file the run changed must pass, whatever the base said)."""
    if base is None or now.ok:
        return now.ok, now.headline, now.report, 0 if now.ok else max(now.count(), 1)
    if not now.findings:  # failed without a reading: as bad as before is not worse
        same = not base.ok and not base.findings and now.exit_code == base.exit_code
        return same, now.headline, now.report, 0 if same else 1
    before = Counter(f.key for f in base.findings)
    new: list[Finding] = []
    old: list[Finding] = []
    for finding in now.findings:
        if before[finding.key] > 0 and not (also_new and also_new(finding)):
            before[finding.key] -= 1
            old.append(finding)
        else:
            new.append(finding)
    headline = _say("compared", headline=now.headline, new=len(new), old=len(old))
    if not new:
        return True, headline, "", 0
    report = _say("new_findings", new=[f.shown for f in new], old=[f.shown for f in old])
    if now.report and name == "tests":  # tracebacks say why; the list above says which count
        report += "\n\n" + now.report
    return False, headline, report, len(new)


@dataclass
class CommandCheck:
    """A configured command judged by its summarizer (pytest counts, lint messages). With a
    baseline, its output lines (line numbers removed) are what is compared."""

    name: str
    command: str
    kind: str  # "tests" or "lint"

    def run(self, workspace: Workspace) -> CheckResult:
        return _run_alone(self, workspace)

    def observe(self, workspace: Workspace, changes: Changes) -> Observation:
        from tools.summaries import summarize_lint

        result = _started(workspace.run(self.command), self.name)
        summary = summarize_lint(result)
        findings = tuple(Finding(_unnumbered(ln), ln) for ln in _lines(summary.report))
        return Observation(summary.ok, summary.headline, summary.report, findings, result.exit_code)


def _run_alone(check: Comparable, workspace: Workspace) -> CheckResult:
    """A comparable check judged on its own (strict mode)."""

    def body() -> tuple[bool, str, str]:
        seen = check.observe(workspace, Changes())
        return seen.ok, seen.headline, seen.report

    return _timed(check.name, body)


_POSITION = re.compile(r":\d+(:\d+)?(?=[:\s])")


def _unnumbered(line: str) -> str:
    return _POSITION.sub(":", line).strip()


def _lines(text: str) -> list[str]:
    return [ln for ln in text.splitlines() if ln.strip()]


@dataclass
class TestsCheck:
    """The test command, on a fresh test database prepared by `prepare_commands`. Judged by
    node id: a test that failed on the base may still fail, unless the run changed its file."""

    __test__ = False  # not a test class, whatever pytest thinks of the name

    command: str
    prepare: Sequence[str] = ()
    fresh_database: FreshDatabase | None = None
    postgres: str = "embedded"
    name: str = "tests"

    def run(self, workspace: Workspace) -> CheckResult:
        return _run_alone(self, workspace)

    def observe(self, workspace: Workspace, changes: Changes) -> Observation:
        from tools.summaries import summarize_pytest

        env = dict(self.fresh_database()) if self.fresh_database else {}
        for command in self.prepare:
            done = _started(workspace.run(with_env(command, env)), self.name)
            if done.exit_code != 0:
                _raise_if_missing_extension(done.output, self.postgres)
                report = _say("prepare_failed", command=command, output=_tail(done.output))
                return Observation(False, report.splitlines()[0], report, (), done.exit_code)
        result = _started(workspace.run(with_env(self.command, env)), self.name)
        summary = summarize_pytest(result)
        findings = tuple(Finding(test, test) for test in summary.failing)
        return Observation(summary.ok, summary.headline, summary.report, findings, result.exit_code)

    def judge(self, now: Observation, base: Observation | None, changes: Changes) -> Verdict:
        """As `judge`, except that a run with no failing test to name (nothing collected, none
        passed, a crash) stays red whatever the base did: a gate must not go green that way."""
        if not now.ok and not now.findings:
            return judge(self.name, now, None)
        changed = changes.files or frozenset()
        return judge(self.name, now, base, lambda f: f.key.split("::")[0] in changed)


def _tail(output: str, lines: int = 30) -> str:
    return "\n".join(_lines(output)[-lines:])


def _raise_if_missing_extension(output: str, postgres: str) -> None:
    from agent.testdb import missing_extension

    if line := missing_extension(output, postgres):
        raise EnvironmentProblem(line)


@dataclass
class RuffCheck:
    """`ruff check`, read as JSON: findings keyed by file, rule and message."""

    command: str
    name: str = "ruff check"

    def run(self, workspace: Workspace) -> CheckResult:
        return _run_alone(self, workspace)

    def observe(self, workspace: Workspace, changes: Changes) -> Observation:
        from tools.summaries import summarize_lint

        command = _RUFF.sub(r"\g<0> --output-format json", self.command, count=1)
        result = _started(workspace.run(command), self.name)
        try:
            start = result.output.index("[")
            items = json.loads(result.output[start : result.output.rindex("]") + 1])
        except ValueError:  # not JSON: ruff's own error, shown as it is
            summary = summarize_lint(result)
            return Observation(False, summary.headline, summary.report, (), result.exit_code)
        findings = []
        for item in items:
            path = _relative(item.get("filename", ""), workspace.root)
            row = (item.get("location") or {}).get("row", 0)
            code = item.get("code") or "error"
            message = item.get("message", "")
            findings.append(
                Finding(f"{path}\0{code}\0{message}", f"{path}:{row}: {code} {message}")
            )
        ok = result.exit_code == 0 and not findings
        headline = _say("ruff_findings", count=len(findings))
        report = "\n".join(f.shown for f in findings)
        return Observation(ok, headline, report, tuple(findings), result.exit_code)


def _relative(path: str, root: Path) -> str:
    try:
        return Path(path).resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path


@dataclass
class FormatCheck:
    """`ruff format --check`, with a baseline only on the files the run changed: formatting
    files the run did not touch is not the run's business."""

    command: str
    name: str = "ruff format"

    def run(self, workspace: Workspace) -> CheckResult:
        return _run_alone(self, workspace)

    def observe(self, workspace: Workspace, changes: Changes) -> Observation:
        from tools.summaries import summarize_lint

        command = self.command
        if changes.files is not None:
            if not changes.python:
                return Observation(True, _say("no_changed_files"), "")
            command = _on_files(command, changes.python)
        result = _started(workspace.run(command), self.name)
        summary = summarize_lint(result)
        return Observation(summary.ok, summary.headline, summary.report, (), result.exit_code)


def _on_files(command: str, files: Sequence[str]) -> str:
    """`ruff format --check .` -> `ruff format --check -- a.py b.py`."""
    if command.rstrip().endswith(" ."):
        return command.rstrip()[:-2] + " -- " + " ".join(map(shlex.quote, files))
    return command


def hash_test_files(root: Path, patterns: Sequence[str]) -> dict[str, str]:
    """sha256 of every tracked file that looks like a test, keyed by its path."""
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=root, capture_output=True, text=True, check=False
    ).stdout.splitlines()
    return {
        rel: hashlib.sha256((root / rel).read_bytes()).hexdigest()
        for rel in tracked
        if any(fnmatch(rel, p) for p in patterns) and (root / rel).is_file()
    }


def changed_files(root: Path, base_commit: str) -> frozenset[str]:
    """Files under `root` changed since `base_commit` or new (not ignored), relative to it."""

    def git(*args: str) -> list[str]:
        out = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True)
        return out.stdout.splitlines()

    changed = git("diff", "--name-only", "--relative", base_commit, "--", ".")
    changed += git("ls-files", "--others", "--exclude-standard", "--", ".")
    return frozenset(p for p in changed if (root / p).is_file())


@dataclass
class TestIntegrityCheck:
    """Pre-existing tests may not be edited or deleted: a gate must not go green that way."""

    snapshot: dict[str, str]
    name: str = "test integrity"

    def run(self, workspace: Workspace) -> CheckResult:
        def body() -> tuple[bool, str, str]:
            problems = []
            for rel, digest in sorted(self.snapshot.items()):
                path = workspace.root / rel
                if not path.is_file():
                    problems.append(f"{rel}: {_say('integrity_change', deleted=True)}")
                elif hashlib.sha256(path.read_bytes()).hexdigest() != digest:
                    problems.append(f"{rel}: {_say('integrity_change', deleted=False)}")
            if not problems:
                return True, _say("integrity_unchanged", count=len(self.snapshot)), ""
            report = "\n".join([*problems, _say("integrity_advice")])
            return False, _say("integrity_changed", count=len(problems)), report

        return _timed(self.name, body)


@dataclass
class ProtectedPathsCheck:
    """Nothing under a protected path may change, whether by the editor (which refuses), by a
    command, or by a commit made inside the run: compared with the run's base commit. Paths
    are the repository's, wherever in it the project lives (`git_root`)."""

    base_commit: str
    prefixes: Sequence[str]
    name: str = "protected paths"
    git_root: Path | None = None

    def run(self, workspace: Workspace) -> CheckResult:
        def body() -> tuple[bool, str, str]:
            paths = [p for p in self.prefixes if p.rstrip("/") != ".git"]
            if not paths:
                return True, _say("protected_unchanged"), ""
            root = self.git_root or workspace.root

            def git(*args: str) -> list[str]:
                out = subprocess.run(
                    ["git", *args, "--", *paths], cwd=root, capture_output=True, text=True
                )
                return out.stdout.splitlines()

            changed = sorted(
                set(git("diff", "--name-only", self.base_commit))
                | set(git("ls-files", "--others", "--exclude-standard"))
            )
            if not changed:
                return True, _say("protected_unchanged"), ""
            advice = _say("protected_advice", paths=paths, base=self.base_commit[:12])
            report = "\n".join([*changed, advice])
            return False, _say("protected_changed", count=len(changed)), report

        return _timed(self.name, body)


@dataclass
class QualityCheck:
    """The spec's Quality Standards, checked statically in-process (no code is run)."""

    name: str = "quality standards"

    def run(self, workspace: Workspace) -> CheckResult:
        return _run_alone(self, workspace)

    def observe(self, workspace: Workspace, changes: Changes) -> Observation:
        from agent.checker import check_project, format_text, load_settings

        settings = load_settings(workspace.root)
        found = check_project(workspace.root, settings.select, settings.ignore)
        if not found:
            return Observation(True, _say("quality_pass"), "")
        findings = tuple(
            Finding(f"{v.path}\0{v.code}\0{v.message}", f"{v.path}:{v.line}: {v.code} {v.message}")
            for v in found
        )
        headline = _say("quality_violations", count=len(found))
        return Observation(False, headline, format_text(found), findings, 1)


@dataclass
class AlembicCheck:
    """Models and migrations agree: `alembic upgrade head` then `alembic check` on a fresh
    database, made on the run's one PostgreSQL server for each round."""

    fresh_database: FreshDatabase
    alembic: str = "python -m alembic"
    postgres: str = "embedded"
    name: str = "alembic check"

    def run(self, workspace: Workspace) -> CheckResult:
        return _run_alone(self, workspace)

    def observe(self, workspace: Workspace, changes: Changes) -> Observation:
        from tools.summaries import summarize_lint

        command = f"{self.alembic} upgrade head && {self.alembic} check"
        result = _started(workspace.run(with_env(command, self.fresh_database())), self.name)
        if result.exit_code == 0:
            return Observation(True, _say("alembic_agree"), "")
        _raise_if_missing_extension(result.output, self.postgres)
        report = summarize_lint(result).report
        findings = tuple(Finding(_unnumbered(ln), ln) for ln in _lines(report))
        return Observation(False, _say("alembic_differ"), report, findings, result.exit_code)


class Baseline(Protocol):
    """What the checks saw on the base commit, by check name (`agent.baseline`)."""

    def observations(self) -> Mapping[str, Observation]:
        """Waits for the baseline to be ready; empty when it could not be computed."""
        ...

    def summary(self, new: int) -> str: ...


@dataclass
class Gate:
    checks: list[Check]
    fix_commands: Sequence[str] = ()
    base_commit: str | None = None
    baseline: Baseline | None = None  # None: every check judges the whole repo
    workers: int = 4

    def run(self, workspace: Workspace, round_number: int) -> GateResult:
        """Apply the formatters first (the model should not spend tokens on formatting), then
        run every check, even after a failure, so one report names everything that is red.
        Checks run concurrently: most of a round is waiting on pytest and Alembic."""
        start = time.monotonic()
        changes = Changes()
        if self.baseline is not None and self.base_commit:
            changes = Changes(changed_files(workspace.root, self.base_commit))
        for command in self.fix_commands:
            if changes.files is not None:
                if not changes.python or not command.rstrip().endswith(" ."):
                    continue
                command = _on_files(command, changes.python)
            workspace.run(command)
        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            futures = [pool.submit(self._check, c, workspace, changes) for c in self.checks]
            results = [f.result() for f in futures]
        summary = ""
        if self.baseline is not None:
            summary = self.baseline.summary(sum(r.new for r in results))
        return GateResult(round_number, results, round(time.monotonic() - start, 3), summary)

    def _check(self, check: Check, workspace: Workspace, changes: Changes) -> CheckResult:
        if self.baseline is None or not isinstance(check, Comparable):
            return check.run(workspace)
        started = time.monotonic()
        now = check.observe(workspace, changes)
        duration = round(time.monotonic() - started, 3)  # not the wait for the baseline below
        base = self.baseline.observations().get(check.name)
        judging = getattr(check, "judge", None)
        if judging is not None:
            ok, headline, report, new = judging(now, base, changes)
        else:
            ok, headline, report, new = judge(check.name, now, base)
        return CheckResult(check.name, ok, headline, report, duration, new)

    def comparable(self) -> list[Comparable]:
        return [c for c in self.checks if isinstance(c, Comparable)]

    def describe(self) -> list[str]:
        return [
            f"{c.name}: `{c.command}`" if isinstance(c, CommandCheck | TestsCheck) else c.name
            for c in self.checks
        ]


def build_gate(
    root: Path,
    settings: RepoSettings,
    *,
    snapshot: dict[str, str] | None,
    new_database: FreshDatabase | None,
    base_commit: str | None = None,
    git_root: Path | None = None,
    baseline: Baseline | None = None,
) -> Gate:
    """The checks that apply to this project, cheapest first; `snapshot` None allows test
    edits; `new_database` gives the environment of a fresh test database."""
    checks: list[Check] = []
    if base_commit:
        checks.append(ProtectedPathsCheck(base_commit, settings.protected_paths, git_root=git_root))
    if snapshot is not None:
        checks.append(TestIntegrityCheck(snapshot))
    for command in settings.lint_commands:
        name = _check_name(command)
        if _RUFF.match(command) and "--output-format" not in command:
            checks.append(RuffCheck(command, name))
        elif _RUFF_FORMAT.match(command):
            checks.append(FormatCheck(command, name))
        else:
            checks.append(CommandCheck(name, command, "lint"))
    if settings.quality_check and (root / "app").is_dir():
        checks.append(QualityCheck())
    if settings.alembic_check and new_database and (root / "alembic.ini").is_file():
        checks.append(AlembicCheck(new_database, settings.alembic_command, settings.postgres))
    prepare = settings.prepare_commands
    checks.append(TestsCheck(settings.test_command, prepare, new_database, settings.postgres))
    from agent.fuzz import fuzz_check

    checks += fuzz_check(root, settings, new_database, base_commit)
    return Gate(checks, settings.fix_commands, base_commit, baseline)


_RUFF = re.compile(r"^\s*(python3? -m )?ruff check\b")
_RUFF_FORMAT = re.compile(r"^\s*(python3? -m )?ruff format\b")


def _check_name(command: str) -> str:
    """`ruff check .` -> "ruff check"; `python -m mypy app` -> "mypy app"."""
    words = [w for w in command.split() if not w.startswith("-") and w != "."]
    if words[:1] in (["python"], ["python3"]):
        words = words[1:]
    return " ".join(words[:2]) or command
