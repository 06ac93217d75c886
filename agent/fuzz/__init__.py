"""The gate's fuzz check: schemathesis against the project's ASGI app, in-process, inside the
sandbox, on a fresh migrated test database, for the operations the run added or changed.

The fuzzing itself is `probe.py`, a script run with the project's python (where schemathesis
and the app's dependencies are); this module decides how to run it and turns its JSON into
the one report the model reads."""

from __future__ import annotations

import json
import shlex
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.config import RepoSettings
from agent.gate import CheckResult, FreshDatabase, with_env
from agent.prompts import render
from tools.base import Workspace

PROBE = Path(__file__).with_name("probe.py")
RESULT_MARKER = "BACKEND_AGENT_FUZZ_RESULT"
MESSAGES = "fuzz_check.md.j2"
SEED = 0
# Loading the app twice and logging in cost seconds of their own, beyond the fuzz budget.
STARTUP_ALLOWANCE = 120.0


def _say(text: str, **context: Any) -> str:
    return render(MESSAGES, text=text, **context).removesuffix("\n")


def app_module_file(root: Path, app_module: str) -> Path:
    """`app.main:app` -> root/app/main.py."""
    module = app_module.partition(":")[0]
    return root / (module.replace(".", "/") + ".py")


@dataclass
class FuzzCheck:
    """Red on any finding; a budget overrun or a missing schemathesis is only a warning."""

    app_module: str
    mode: str  # "changed" or "all"
    auth_paths: tuple[str, ...]
    max_examples: int
    seconds: float
    base_commit: str | None
    new_database: FreshDatabase | None
    alembic: str = "python -m alembic"
    prepare: tuple[str, ...] = ()  # the project's own preparation of a fresh database, if any
    name: str = "fuzz"

    def command(self) -> str:
        args = [
            "python",
            str(PROBE),
            "--app",
            self.app_module,
            "--auth",
            ",".join(self.auth_paths),
            "--max-examples",
            str(self.max_examples),
            "--seconds",
            str(self.seconds),
            "--seed",
            str(SEED),
        ]
        if self.mode == "all" or not self.base_commit:
            args.append("--all")
        else:
            args += ["--base", self.base_commit]
        probe = shlex.join(args)
        if self.new_database is None:
            return probe
        steps = self.prepare or (f"{self.alembic} upgrade head",)
        prepare = "; ".join(f"{step} >/dev/null 2>&1" for step in steps)
        return with_env(f"{prepare}; {probe}", self.new_database())

    def run(self, workspace: Workspace) -> CheckResult:
        start = time.monotonic()
        result = workspace.run(self.command(), timeout=self.seconds + STARTUP_ALLOWANCE)
        why = "timed out" if result.timed_out else f"exit code {result.exit_code}"
        ok, headline, report = judge(result.output, why, self.seconds)
        return CheckResult(self.name, ok, headline, report, round(time.monotonic() - start, 3))


def judge(output: str, why: str, budget: float) -> tuple[bool, str, str]:
    """(ok, headline, report) from the probe's output; `why` says how it ended."""
    lines = [line for line in output.splitlines() if line.startswith(RESULT_MARKER + " ")]
    if not lines:
        tail = "\n".join(output.strip().splitlines()[-20:])
        if "No module named 'schemathesis'" in output or "No module named schemathesis" in output:
            return True, _say("missing_tool", error="schemathesis is not installed"), ""
        return False, _say("no_result", why=why), tail
    result = json.loads(lines[-1].removeprefix(RESULT_MARKER + " "))
    error = result.get("error")
    if error:
        if "schemathesis" in error and error.startswith("ModuleNotFoundError"):
            return True, _say("missing_tool", error=error), ""
        return False, _say("app_error", error=error), ""
    targets = result["targets"]
    if not targets:
        return True, _say("nothing"), ""
    findings = result["findings"]
    context = {
        "targets": len(targets),
        "cases": result["cases"],
        "unfinished": result["unfinished"],
        "seconds": f"{budget:g}",
    }
    if not findings:
        return True, _say("pass", **context), ""
    report = _say(
        "report",
        findings=findings,
        unfinished=result["unfinished"],
        logged_in=result.get("logged_in", False),
    )
    return False, _say("fail", count=len(findings), **context), report


def fuzz_check(
    root: Path,
    settings: RepoSettings,
    new_database: FreshDatabase | None,
    base_commit: str | None,
) -> list[FuzzCheck]:
    """The fuzz check, if this repo has the ASGI app `app_module` names and fuzzing is on."""
    if settings.fuzz == "off" or not app_module_file(root, settings.app_module).is_file():
        return []
    return [
        FuzzCheck(
            app_module=settings.app_module,
            mode=settings.fuzz,
            auth_paths=settings.fuzz_auth,
            max_examples=settings.fuzz_examples,
            seconds=settings.fuzz_seconds,
            base_commit=base_commit,
            new_database=new_database,
            alembic=settings.alembic_command,
            prepare=settings.prepare_commands,
        )
    ]
