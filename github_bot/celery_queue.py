"""Bot jobs as Celery tasks through Redis (`github serve/worker/jobs --queue redis://...`).

The webhook server records each accepted job in Redis (`RedisStore`) and publishes a Celery
task whose id is the GitHub delivery id; any number of `github worker` processes, on any
machine, run them. Delivery is at least once, so running a job is idempotent: a finished job
is not run again, and a job whose run already exists resumes it (`flow.execute` passes the
recorded run id to `resume_run`). Workers that should resume each other's runs share --state.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
import time
from typing import Any

from agent.errors import UsageError
from github_bot.flow import Settings, execute
from github_bot.redis_store import RedisStore
from github_bot.server import MAX_ATTEMPTS
from github_bot.store import FINAL

TASK = "backend_agent.run_job"
QUEUE = "backend-agent"
TIME_LIMIT = 2 * 3600.0  # seconds; above a run's own timeout (Limits.timeout, 1 h)
LEASE_WAIT = 5.0  # seconds between tries of a job whose issue or repository is busy
log = logging.getLogger("backend_agent.github")


def make_app(url: str, time_limit: float = TIME_LIMIT) -> Any:
    try:
        from celery import Celery
    except ImportError:
        raise UsageError(
            "--queue redis://... needs its extra: pip install 'backend-agent[celery]'"
        ) from None
    app = Celery("backend_agent", broker=url, set_as_current=False)
    app.conf.update(
        # Acknowledge a job when it has finished, not when it starts: a worker that dies
        # mid-job leaves it in the queue to be delivered again (at least once).
        task_acks_late=True,
        # When the process running a job is killed (SIGKILL, out of memory), requeue the job at
        # once instead of recording it as failed and acknowledging it.
        task_reject_on_worker_lost=True,
        # Reserve one job at a time: a long job never waits in a busy worker's buffer while
        # another worker is idle.
        worker_prefetch_multiplier=1,
        # A job that overruns is stopped: the soft limit lets it record why, the hard one kills.
        task_soft_time_limit=time_limit,
        task_time_limit=time_limit + 60,
        # Redis delivers an unacknowledged job again after visibility_timeout even while it is
        # still running (celery issue 5935), so the timeout must exceed the hard time limit.
        broker_transport_options={"visibility_timeout": int(time_limit + 120)},
        task_default_queue=QUEUE,
        task_ignore_result=True,
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
    )
    return app


class CeleryJobs(RedisStore):
    """The server's side: `add` records a job and publishes its task. A job recorded but not
    yet published (the server died in between) is published when a server starts."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.app = make_app(url)

    def add(self, delivery: str, event: str, trigger: Any) -> tuple[int, bool]:
        job_id, created = super().add(delivery, event, trigger)
        if created:
            self.publish(job_id, delivery)
        return job_id, created

    def publish(self, job_id: int, delivery: str) -> None:
        self.app.send_task(TASK, args=[job_id], task_id=delivery)
        self.redis.hset(f"backend-agent:job:{job_id}", "published", "true")

    def publish_unpublished(self) -> int:
        count = 0
        for job in self.jobs(limit=1000):
            key = f"backend-agent:job:{job.id}"
            if job.state == "queued" and not self.redis.hexists(key, "published"):
                self.publish(job.id, job.delivery)
                count += 1
        return count


class CeleryDispatch:
    """What the webhook server needs of its scheduler when Celery workers run the jobs."""

    workers = 0  # they run elsewhere: `github worker`

    def __init__(self, jobs: CeleryJobs) -> None:
        self.jobs = jobs
        self.draining = False
        self.wake = threading.Event()  # the server pokes it; publishing already woke a worker

    def start(self) -> None:
        if count := self.jobs.publish_unpublished():
            log.info("published %s jobs a stopped server had recorded", count)

    def drain(self) -> None:
        self.draining = True


def run_job(store: RedisStore, settings: Settings, concurrency: int, job_id: int) -> str:
    """One delivery of a job's task; returns its state, or "busy" when its issue or repository
    is taken by another worker (the caller retries later)."""
    job = store.get(job_id)
    if job.state in FINAL:
        return job.state  # delivered again after it finished: nothing to do
    with store.exclusive(job, concurrency) as mine:
        if not mine:
            return "busy"
        job = store.get(job_id)  # as it is now that no other worker can touch it
        if job.state in FINAL:
            return job.state
        if job.attempts >= MAX_ATTEMPTS:
            return _failed(store, job_id, f"gave up after {job.attempts} attempts")
        store.update(
            job_id, state="running", attempts=job.attempts + 1, started=job.started or time.time()
        )
        log.info("job %s: %s#%s (attempt %s)", job_id, job.repo, job.issue, job.attempts + 1)
        return execute(store, job_id, settings, dict(os.environ)).state


def run_worker(
    url: str, settings: Settings, concurrency: int, repo_concurrency: int, time_limit: float
) -> None:
    """A Celery worker with `concurrency` job processes (this process blocks until stopped)."""
    from celery.exceptions import SoftTimeLimitExceeded
    from celery.signals import worker_process_init

    store = RedisStore(url)
    app = make_app(url, time_limit)

    @app.task(name=TASK, bind=True, max_retries=None)
    def task(self: Any, job_id: int) -> str:
        try:
            state = run_job(store, settings, repo_concurrency, job_id)
        except SoftTimeLimitExceeded:
            return _failed(store, job_id, f"over the worker's time limit of {time_limit:.0f} s")
        except Exception as exc:  # recorded, or the job would show "running" for ever
            _failed(store, job_id, " ".join(f"{type(exc).__name__}: {exc}".split())[:500])
            raise
        if state in ("busy", "interrupted"):  # interrupted: resumes on the next delivery
            raise self.retry(countdown=LEASE_WAIT)
        return state

    worker_process_init.connect(_die_with_parent, weak=False)
    app.worker_main(
        [
            "worker",
            f"--concurrency={concurrency}",
            "--pool=prefork",
            "--loglevel=INFO",
            "--without-gossip",
            "--without-mingle",
            f"--hostname=backend-agent-{os.getpid()}@%h",
        ]
    )


def _failed(store: RedisStore, job_id: int, reason: str) -> str:
    store.update(job_id, state="failed", reason=reason, finished=time.time())
    return "failed"


def _die_with_parent(**_: Any) -> None:
    """A job process dies with its worker (Linux), as in a container: its job is then
    delivered again and resumed, never raced by an orphan."""
    if sys.platform.startswith("linux"):
        import ctypes
        import signal

        with contextlib.suppress(OSError):
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
