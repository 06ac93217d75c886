"""`eval run --backend ray` on a real local Ray (one per module, joined by each CLI driver with
`--address`): scripted trials give the same rows as local processes; a Ray worker SIGKILLed
mid-trial is retried and its trial recorded once; a driver SIGKILLed and started again skips
the trials it had finished."""

from __future__ import annotations

import json
import os
import shutil
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from evals.tasks import BUILTIN_SUITE
from tests.conftest import ROOT, run_cli, start_cli
from tests.test_evals_run import STALE_SOLUTIONS

ray = pytest.importorskip("ray")
pytest.importorskip("fastapi")

TASKS = ("announcements-protected-create", "books-pagination-bug")
# Not compared: wall time, and the usage the fake model server derives from the request's
# length, which holds the trial's absolute path (a worker's scratch directory on Ray).
VARYING_KEYS = ("wall_s", "input_tokens", "cost_usd")


@pytest.fixture(scope="module")
def ray_address() -> Iterator[str]:
    """A local Ray with 2 CPUs whose workers import this checkout."""
    saved = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = str(ROOT)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        yield ray.get_runtime_context().gcs_address
    finally:
        ray.shutdown()
        if saved is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = saved


@pytest.fixture(scope="module")
def suite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("suite")
    for task_id in TASKS:
        shutil.copytree(BUILTIN_SUITE / task_id, root / task_id)
    return root


def rows(out: Path) -> list[dict[str, Any]]:
    path = out / "results.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def eval_args(suite: Path, out: Path, *extra: str) -> list[str]:
    return ["eval", "run", "--scripted", "--suite", str(suite), "--out", str(out), *extra]


def outcome(row: dict[str, Any]) -> dict[str, Any]:
    assert row["input_tokens"] > 0 and row["cost_usd"] > 0
    return {k: v for k, v in row.items() if k not in VARYING_KEYS}


@STALE_SOLUTIONS
def test_ray_trials_match_local_ones(tmp_path: Path, suite: Path, ray_address: str, cli) -> None:
    local = cli(*eval_args(suite, tmp_path / "local", "--jobs", "2"), cwd=tmp_path, timeout=900)
    assert local.returncode == 0, local.stdout + local.stderr
    on_ray = cli(
        *eval_args(suite, tmp_path / "ray", "--backend", "ray", "--address", ray_address),
        cwd=tmp_path,
        timeout=900,
    )
    assert on_ray.returncode == 0, on_ray.stdout + on_ray.stderr
    by_task = {r["task_id"]: outcome(r) for r in rows(tmp_path / "local")}
    assert by_task == {r["task_id"]: outcome(r) for r in rows(tmp_path / "ray")}
    assert all(r["resolved"] and r["error"] is None for r in by_task.values())
    for task_id in TASKS:  # the trial's files came back to the driver's --out
        trial = tmp_path / "ray" / "trials" / task_id / "1"
        assert "diff --git" in (trial / "diff.patch").read_text()
        assert (trial / "transcript.jsonl").stat().st_size > 0
    assert json.loads((tmp_path / "ray" / "run.json").read_text())["backend"] == "ray"


def trial_process() -> int | None:
    """The pid of the Ray worker running a trial: a descendant of this process (its local Ray)
    titled `ray::run_shipped_trial` while the trial runs."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    for pid in parents:
        ancestor = parents.get(pid)
        while ancestor and ancestor != os.getpid():
            ancestor = parents.get(ancestor)
        if ancestor:
            try:
                title = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                continue
            if title.startswith(b"ray::run_shipped_trial"):
                return pid
    return None


def wait_for(condition: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


@STALE_SOLUTIONS
def test_a_lost_worker_is_retried_and_a_restarted_driver_skips_finished_trials(
    tmp_path: Path, suite: Path, ray_address: str
) -> None:
    out = tmp_path / "out"
    args = eval_args(suite, out, "--backend", "ray", "--address", ray_address, "--jobs", "1")
    driver = start_cli(tmp_path, *args, new_session=True)
    try:
        killed = wait_for(trial_process, 300, "the first trial to run")
        time.sleep(3)  # well inside the trial: its base is being built
        os.kill(killed, signal.SIGKILL)
        wait_for(lambda: trial_process() not in (None, killed), 120, "Ray to run it again")
        assert not rows(out)
        done = wait_for(lambda: rows(out), 600, "the retried trial's row")
        os.killpg(driver.pid, signal.SIGKILL)  # the second trial is in flight
        driver.wait(30)
    finally:
        if driver.poll() is None:
            os.killpg(driver.pid, signal.SIGKILL)
            driver.wait()
    assert len(done) == 1 and done[0]["task_id"] == TASKS[0]
    assert (done[0]["resolved"], done[0]["error"]) == (True, None)

    again = run_cli(*args, cwd=tmp_path, timeout=900)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "1 trials to run, 1 already done" in again.stdout
    final = rows(out)
    assert [r["task_id"] for r in final] == list(TASKS)  # each trial recorded once
    assert all(r["resolved"] and r["error"] is None for r in final)
