"""Scripted eval trials per minute on Ray with 1 and 2 worker CPUs, their ratio, and the
overhead of Ray against the embedded default (local processes, `--jobs 1` and `--jobs 2`).

    python benchmarks/evals_ray.py [--tasks ID,ID,...] [--trials 1]

Every run uses the real harness (`evals.harness.run_eval`) on the same tasks, one after the
other in this process. Ray runs on a local Ray started with `num_cpus` = 1 or 2; its start-up
is printed apart and not counted (a cluster is started once and serves many runs)."""

from __future__ import annotations

import argparse
import os
import sys
import time

from _common import ROOT

from benchmarks.evals import trials_per_minute

DEFAULT_TASKS = "announcements-protected-create,books-pagination-bug"


def rate(tasks: list[str], trials: int, jobs: int, backend: str) -> float:
    per_minute, seconds = trials_per_minute(jobs, tasks, trials, backend)
    count = len(tasks) * trials
    print(f"{backend:>5} x{jobs}: {count} trials in {seconds:6.1f} s = {per_minute:5.2f}/min")
    return per_minute


def on_ray(cpus: int, tasks: list[str], trials: int) -> float:
    import ray

    start = time.monotonic()
    ray.init(num_cpus=cpus, include_dashboard=False, log_to_driver=False)
    print(f"  (Ray start-up with {cpus} CPU: {time.monotonic() - start:.1f} s, not counted)")
    try:
        return rate(tasks, trials, cpus, "ray")
    finally:
        ray.shutdown()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", default=DEFAULT_TASKS)
    parser.add_argument("--trials", type=int, default=1)
    args = parser.parse_args()
    tasks = args.tasks.split(",")
    os.environ["PYTHONPATH"] = str(ROOT)  # Ray's workers import this checkout
    local = {jobs: rate(tasks, args.trials, jobs, "local") for jobs in (1, 2)}
    ray = {cpus: on_ray(cpus, tasks, args.trials) for cpus in (1, 2)}
    print(f"Ray 2 CPUs / 1 CPU: ratio {ray[2] / ray[1]:.2f}")
    for n in (1, 2):
        overhead = local[n] / ray[n] - 1
        print(f"Ray overhead at {n} at once: {overhead:+.0%} time per trial vs local processes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
