"""What the gate's checks see on the base commit, so that a round judges the change and not the
repo's past (SWE-bench's PASS_TO_PASS): failing tests, ruff and quality findings and the Alembic
check as they were before the run.

It is computed on a private export of the base commit, in a background thread started with the
session, so it costs the model's first turn nothing; the gate's first round waits for it."""

from __future__ import annotations

import dataclasses
import shlex
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from agent.gate import Changes, Comparable, EnvironmentProblem, Observation
from tools.base import Workspace

# How the summary names what each check found, e.g. "35 quality".
_LABELS = {"quality standards": "quality", "ruff check": "ruff", "tests": "failing test"}


class BaseCommitBaseline:
    """Observations of the gate's comparable checks on `base_commit`, by check name."""

    def __init__(
        self,
        git_root: Path,
        base_commit: str,
        project: str,
        workspace: Workspace,
        warn: Callable[[str], None],
    ) -> None:
        self.git_root = git_root
        self.base_commit = base_commit
        self.project = project
        self.workspace = workspace  # the run's; only its root is replaced
        self.warn = warn
        self._dir: Path | None = None
        self._seen: dict[str, Observation] = {}
        self._error: Exception | None = None
        self._thread: threading.Thread | None = None
        self._reported = False

    def start(self, checks: list[Comparable]) -> BaseCommitBaseline:
        self._thread = threading.Thread(
            target=self._compute, args=(checks,), name="baseline", daemon=True
        )
        self._thread.start()
        return self

    def _compute(self, checks: list[Comparable]) -> None:
        try:
            self._dir = Path(tempfile.mkdtemp(prefix="backend-agent-base-"))
            export = f"git archive --format=tar {shlex.quote(self.base_commit)} | tar -x -C "
            subprocess.run(
                export + shlex.quote(str(self._dir)),
                shell=True,
                cwd=self.git_root,
                check=True,
                capture_output=True,
            )
            base = dataclasses.replace(self.workspace, root=self._dir / self.project)
            nothing = Changes(frozenset())
            with ThreadPoolExecutor(max_workers=4) as pool:
                seen = {c.name: pool.submit(c.observe, base, nothing) for c in checks}
                self._seen = {name: future.result() for name, future in seen.items()}
        except Exception as exc:  # judged strictly instead; the user is told why
            self._error = exc

    def observations(self) -> Mapping[str, Observation]:
        if self._thread is not None:
            self._thread.join()
        if isinstance(self._error, EnvironmentProblem):
            raise self._error  # the same problem would stop the round: say it once
        if self._error is not None and not self._reported:
            self._reported = True
            why = f"{type(self._error).__name__}: {self._error}".splitlines()[0]
            self.warn(f"no baseline of the base commit ({why}): the whole repo is judged")
        return self._seen

    def summary(self, new: int) -> str:
        """ "baseline: 35 quality, 2 ruff, 1 failing test; this change: 0 new"."""
        parts = []
        for name, seen in self.observations().items():
            if seen.ok:
                continue
            label = _LABELS.get(name, name)
            if not seen.findings:
                parts.append(f"{name} failing")
            elif label == "failing test":
                parts.append(f"{seen.count()} failing test{'s' if seen.count() != 1 else ''}")
            else:
                parts.append(f"{seen.count()} {label}")
        before = ", ".join(parts) if parts else "clean"
        return f"baseline: {before}; this change: {new} new"

    def close(self) -> None:
        """Clean up; a run that ends before the baseline is ready does not wait for it long."""
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
