"""`eval run --backend ray`: each trial is a Ray task, so one run spreads over a cluster.

A trial travels with everything it needs (the task directory as a tar archive, the settings of
its `TrialJob`) and comes back with everything it produced (its results row, transcript, diff
and hidden-test output), so workers share no filesystem with the driver. Ray retries a trial
only when its worker or node is lost (`max_retries`), never a trial that ran and failed
(`retry_exceptions=False`); a trial lost for good becomes a row with `error` set.

`RayTrialPool` is a `concurrent.futures.Executor`, so the harness drives it exactly like its
local process pool: a driver thread waits on the trials with `ray.wait` and resolves each
future the moment its trial lands, and the harness appends the row to results.jsonl."""

from __future__ import annotations

import io
import os
import shutil
import socket
import tarfile
import tempfile
import threading
from concurrent.futures import Executor, Future
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from agent.errors import UsageError
from evals.tasks import load_task
from evals.trial import TrialJob, run_trial

if TYPE_CHECKING:
    from evals.harness import EvalSettings

MAX_RETRIES = 3  # re-runs of a trial whose worker or node died
# A trial's model credentials reach the workers in the task's runtime environment.
FORWARDED_ENV = ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_BASE_URL")


class TrialLost(Exception):
    """Ray could not bring a trial back (its worker or node died on every attempt)."""


@dataclass(frozen=True)
class Shipment:
    """One trial as it travels to a worker: its job and its task directory, archived."""

    job: TrialJob
    task_archive: bytes


def import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise UsageError(
            "--backend ray needs its extra: pip install 'backend-agent[ray]'"
        ) from None
    return ray


def connect(address: str | None) -> int:
    """Join the cluster at `address` (`auto`, `ray://HOST:10001`) or start a local Ray;
    returns the cluster's CPU count."""
    ray = import_ray()
    if not ray.is_initialized():
        _reachable(address)
        try:
            ray.init(address=address, log_to_driver=False, include_dashboard=False)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            where = address or "a local Ray"
            raise UsageError(f"cannot start or join {where}: {_first_line(exc)}") from None
    return max(1, int(ray.cluster_resources().get("CPU", 1)))


def _reachable(address: str | None) -> None:
    """Refuse an address nothing listens on: Ray would wait a minute, then end the process."""
    if address in (None, "auto", "local"):
        return
    parts = urlsplit(address if "://" in address else f"gcs://{address}")
    try:
        socket.create_connection((parts.hostname or "", parts.port or 10001), timeout=5).close()
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot reach the Ray cluster at {address}: {exc}") from None


def pack(directory: Path) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        archive.add(directory, arcname=directory.name)
    return buffer.getvalue()


def run_shipped_trial(shipment: Shipment) -> tuple[dict[str, Any], dict[str, bytes]]:
    """On a worker: unpack the task, run the trial in a scratch directory, and return its row
    and the files it wrote (transcript.jsonl, diff.patch, hidden_tests.txt)."""
    scratch = Path(tempfile.mkdtemp(prefix="backend-agent-trial-"))
    try:
        with tarfile.open(fileobj=io.BytesIO(shipment.task_archive), mode="r:gz") as archive:
            archive.extractall(scratch / "task", filter="data")
        task = load_task(scratch / "task" / shipment.job.task.id)
        job = replace(shipment.job, task=task, directory=scratch / "trial")
        row = run_trial(job)
        files = {p.name: p.read_bytes() for p in job.directory.iterdir() if p.is_file()}
        return row, files
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


class RayTrialPool(Executor):
    """`submit(run_trial, job)` runs the trial as a Ray task; its future resolves to the row
    once the trial's files are written under `job.directory` on this machine."""

    def __init__(self, settings: EvalSettings) -> None:
        if settings.keep_repos:
            raise UsageError(
                "--keep-repos works with --backend local only (work trees stay on the Ray workers)"
            )
        self._ray = import_ray()
        self._owns_ray = not self._ray.is_initialized() and settings.address is None
        connect(settings.address)
        env = {k: os.environ[k] for k in FORWARDED_ENV if os.environ.get(k)}
        self._remote = self._ray.remote(run_shipped_trial).options(
            num_cpus=settings.trial_cpus,
            memory=settings.trial_memory_mb * 1024 * 1024,
            max_retries=MAX_RETRIES,
            retry_exceptions=False,
            runtime_env={"env_vars": env} if env else None,
        )
        self._in_flight: dict[Any, tuple[Future[dict[str, Any]], TrialJob]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._collector = threading.Thread(target=self._collect, name="ray-trials", daemon=True)
        self._collector.start()

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Future[dict[str, Any]]:
        if fn is not run_trial or len(args) != 1 or kwargs:
            raise TypeError("RayTrialPool runs run_trial(job) only")
        job: TrialJob = args[0]
        ref = self._remote.remote(Shipment(job, pack(job.task.path)))
        future: Future[dict[str, Any]] = Future()
        future.set_running_or_notify_cancel()
        with self._lock:
            self._in_flight[ref] = (future, job)
        return future

    def _collect(self) -> None:
        ray = self._ray
        while not self._stop.is_set():
            with self._lock:
                refs = list(self._in_flight)
            if not refs:
                self._stop.wait(0.1)
                continue
            ready, _ = ray.wait(refs, num_returns=1, timeout=0.5)
            for ref in ready:
                with self._lock:
                    future, job = self._in_flight.pop(ref)
                try:
                    row, files = ray.get(ref)
                except ray.exceptions.RayError as exc:
                    future.set_exception(TrialLost(_lost(exc)))
                    continue
                land(job.directory, files)
                future.set_result(row)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        if cancel_futures:
            with self._lock:
                for ref, (future, _) in self._in_flight.items():
                    self._ray.cancel(ref, force=True)
                    future.cancel()
                self._in_flight.clear()
        while wait and self._in_flight and self._collector.is_alive():
            self._stop.wait(0.1)
        self._stop.set()
        self._collector.join()
        if self._owns_ray:
            self._ray.shutdown()


def land(directory: Path, files: dict[str, bytes]) -> None:
    """Write a trial's returned files where a local trial would have written them."""
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    for name, data in files.items():
        (directory / Path(name).name).write_bytes(data)


def _lost(exc: Exception) -> str:
    kind = type(exc).__name__
    if kind.startswith("RayTaskError"):  # our own code raised on the worker: not retried
        return f"the trial crashed on its Ray worker: {_first_line(exc)}"
    return f"lost on Ray after {MAX_RETRIES} retries ({kind}): {_first_line(exc)}"


def _first_line(exc: BaseException) -> str:
    lines = [line for line in str(exc).splitlines() if line.strip()]
    return (lines[0] if lines else type(exc).__name__)[:300]
