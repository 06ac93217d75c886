"""Scripted eval trials per minute at `--jobs 1` and `--jobs 2`, and their ratio.

    python benchmarks/evals.py [--tasks ID,ID,...] [--trials 1]

Both runs use the same tasks and the real harness (`evals.harness.run_eval`, scripted sessions
through the real runner, gate, sandbox and one embedded PostgreSQL per trial), one after the
other in this process, so the ratio compares like with like. On a 2-core machine the target is
a ratio >= 1.7: trials share nothing, so any serial bottleneck shows up here."""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from evals.harness import EvalSettings, run_eval
from evals.tasks import BUILTIN_SUITE

DEFAULT_TASKS = (
    "announcements-protected-create,books-pagination-bug,movies-patch,books-search-title"
)
TARGET = 1.7


class Quiet:
    def begin(self, total: int, skipped: int, note: str) -> None:
        pass

    def started(self, task_id: str, trial: int) -> None:
        pass

    def finished(self, row: dict[str, Any]) -> None:
        if row["error"] or not row["resolved"]:
            print(f"  {row['task_id']} #{row['trial']} did not resolve: {row['error']}")

    def say(self, message: str) -> None:
        print(f"  {message}")

    def end(self) -> None:
        pass


def trials_per_minute(
    jobs: int, tasks: list[str], trials: int, backend: str = "local"
) -> tuple[float, float]:
    with tempfile.TemporaryDirectory(prefix=f"bench-evals-{backend}-j{jobs}-") as out:
        settings = EvalSettings(
            suite=BUILTIN_SUITE,
            out=Path(out),
            model="scripted",
            task_ids=tasks,
            trials=trials,
            jobs=jobs,
            scripted=True,
            backend=backend,
        )
        start = time.monotonic()
        report = run_eval(settings, Quiet())
        seconds = time.monotonic() - start
    return report.ran / seconds * 60, seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", default=DEFAULT_TASKS)
    parser.add_argument("--trials", type=int, default=1)
    args = parser.parse_args()
    tasks = args.tasks.split(",")
    count = len(tasks) * args.trials
    one, one_s = trials_per_minute(1, tasks, args.trials)
    print(f"--jobs 1: {count} trials in {one_s:6.1f} s = {one:5.2f} trials/min")
    two, two_s = trials_per_minute(2, tasks, args.trials)
    print(f"--jobs 2: {count} trials in {two_s:6.1f} s = {two:5.2f} trials/min")
    ratio = two / one
    print(f"ratio {ratio:.2f} (target >= {TARGET}): {'PASS' if ratio >= TARGET else 'FAIL'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
