"""The verification gate: the runner's own judgement of "done", as a list of checks."""

from __future__ import annotations

import hashlib
import shlex
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from fnmatch import fnmatch
from pathlib import Path
from typing import Any, Protocol

from agent.config import RepoSettings
from agent.prompts import render
from tools.base import Workspace

MESSAGES = "gate_checks.md.j2"


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

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Check(Protocol):
    name: str

    def run(self, workspace: Workspace) -> CheckResult: ...


@dataclass
class GateResult:
    round: int
    results: list[CheckResult]
    duration: float

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.results)


def _timed(name: str, body: Callable[[], tuple[bool, str, str]]) -> CheckResult:
    start = time.monotonic()
    ok, headline, report = body()
    return CheckResult(name, ok, headline, report, round(time.monotonic() - start, 3))


@dataclass
class CommandCheck:
    """A configured command judged by its summarizer (pytest counts, lint messages)."""

    name: str
    command: str
    kind: str  # "tests" or "lint"

    def run(self, workspace: Workspace) -> CheckResult:
        from tools.summaries import summarize_lint, summarize_pytest

        def body() -> tuple[bool, str, str]:
            result = workspace.run(self.command)
            summary = summarize_pytest(result) if self.kind == "tests" else summarize_lint(result)
            return summary.ok, summary.headline, summary.report

        return _timed(self.name, body)


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
    command, or by a commit made inside the run: compared with the run's base commit."""

    base_commit: str
    prefixes: Sequence[str]
    name: str = "protected paths"

    def run(self, workspace: Workspace) -> CheckResult:
        def body() -> tuple[bool, str, str]:
            paths = [p for p in self.prefixes if p.rstrip("/") != ".git"]
            if not paths:
                return True, _say("protected_unchanged"), ""

            def git(*args: str) -> list[str]:
                out = subprocess.run(
                    ["git", *args, "--", *paths], cwd=workspace.root, capture_output=True, text=True
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
        from agent.checker import check_project, format_text, load_settings

        def body() -> tuple[bool, str, str]:
            settings = load_settings(workspace.root)
            found = check_project(workspace.root, settings.select, settings.ignore)
            if not found:
                return True, _say("quality_pass"), ""
            return False, _say("quality_violations", count=len(found)), format_text(found)

        return _timed(self.name, body)


@dataclass
class AlembicCheck:
    """Models and migrations agree: `alembic upgrade head` then `alembic check` on a fresh
    database, made on the run's one PostgreSQL server for each round."""

    new_database: Callable[[], str]
    name: str = "alembic check"

    def run(self, workspace: Workspace) -> CheckResult:
        from tools.summaries import summarize_lint

        def body() -> tuple[bool, str, str]:
            url = shlex.quote(self.new_database())
            command = f"export DATABASE_URL={url}; alembic upgrade head && alembic check"
            result = workspace.run(command)
            if result.exit_code == 0:
                return True, _say("alembic_agree"), ""
            summary = summarize_lint(result)
            if result.exit_code == 127:  # the shell's "command not found"
                return False, _say("alembic_missing"), summary.report
            return False, _say("alembic_differ"), summary.report

        return _timed(self.name, body)


@dataclass
class Gate:
    checks: list[Check]
    fix_commands: Sequence[str] = ()

    def run(self, workspace: Workspace, round_number: int) -> GateResult:
        """Apply the formatters first (the model should not spend tokens on formatting), then
        run every check, even after a failure, so one report names everything that is red."""
        start = time.monotonic()
        for command in self.fix_commands:
            workspace.run(command)
        results = [check.run(workspace) for check in self.checks]
        return GateResult(round_number, results, round(time.monotonic() - start, 3))

    def describe(self) -> list[str]:
        return [
            f"{c.name}: `{c.command}`" if isinstance(c, CommandCheck) else c.name
            for c in self.checks
        ]


def build_gate(
    root: Path,
    settings: RepoSettings,
    *,
    snapshot: dict[str, str] | None,
    new_database: Callable[[], str] | None,
    base_commit: str | None = None,
) -> Gate:
    """The checks that apply to this repo, cheapest first; `snapshot` None allows test edits."""
    checks: list[Check] = []
    if base_commit:
        checks.append(ProtectedPathsCheck(base_commit, settings.protected_paths))
    if snapshot is not None:
        checks.append(TestIntegrityCheck(snapshot))
    checks += [CommandCheck(_check_name(c), c, "lint") for c in settings.lint_commands]
    if settings.quality_check and (root / "app").is_dir():
        checks.append(QualityCheck())
    if settings.alembic_check and new_database and (root / "alembic.ini").is_file():
        checks.append(AlembicCheck(new_database))
    checks.append(CommandCheck("tests", settings.test_command, "tests"))
    from agent.fuzz import fuzz_check  # after the tests: their failures explain a 500 best

    checks += fuzz_check(root, settings, new_database, base_commit)
    return Gate(checks, settings.fix_commands)


def _check_name(command: str) -> str:
    """`ruff check .` -> "ruff check"; `python -m mypy app` -> "mypy app"."""
    words = [w for w in command.split() if not w.startswith("-") and w != "."]
    if words[:1] in (["python"], ["python3"]):
        words = words[1:]
    return " ".join(words[:2]) or command
