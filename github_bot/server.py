"""The webhook server: verify, queue durably, answer at once; a scheduler runs the queue.

Each job runs in its own process (`backend-agent github run-job`), which holds a lock file for
as long as it lives and dies with the server. So a SIGKILLed server leaves jobs marked running
whose locks are free: the next server puts them back in the queue, and they resume from their
transcripts. A job whose lock is still held is never started a second time. On SIGTERM the
server stops taking webhooks, interrupts its jobs (each commits its work in progress and goes
back to the queue, to be resumed) and exits."""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

from github_bot.events import Skip, read_event
from github_bot.flow import Settings
from github_bot.store import Store

log = logging.getLogger("backend_agent.github")
MAX_ATTEMPTS = 3


@contextlib.contextmanager
def held_lock(path: Path) -> Iterator[bool]:
    """An exclusive lock on `path` for the block; yields False when another process holds it.
    The kernel releases it when its holder dies, however it dies."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def job_lock(state: Path, job_id: int) -> Path:
    return state / "locks" / f"job-{job_id}.lock"


class Scheduler:
    """Starts queued jobs as processes, within `workers` and each repository's limit."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        workers: int,
        concurrency: int,
        drain_timeout: float,
    ) -> None:
        self.store, self.settings = store, settings
        self.workers, self.concurrency = workers, concurrency
        self.drain_timeout = drain_timeout
        self.procs: dict[int, subprocess.Popen[bytes]] = {}
        self.draining = False
        self.wake = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="scheduler", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _loop(self) -> None:
        while not self.draining:
            self.tick()
            self.wake.wait(0.2)
            self.wake.clear()
        # Here, in the thread that started the jobs: they die with it (PR_SET_PDEATHSIG).
        self._interrupt_jobs()

    def tick(self) -> None:
        for job_id, proc in list(self.procs.items()):
            if proc.poll() is not None:
                del self.procs[job_id]
                if self.store.get(job_id).state == "running":  # it died without a word
                    self._requeue(job_id, f"job process exited with {proc.returncode}")
        for job in self.store.running():
            if job.id not in self.procs:
                with held_lock(job_lock(self.settings.state, job.id)) as free:
                    if free:  # its process is gone: a killed server's job
                        self._requeue(job.id, "resumed after the server stopped")
        while not self.draining:
            job = self.store.claim(set(self.procs), self.workers, self.concurrency)
            if job is None:
                break
            log.info("job %s: %s#%s starts (attempt %s)", job.id, job.repo, job.issue, job.attempts)
            self.procs[job.id] = self._spawn(job.id)

    def _requeue(self, job_id: int, reason: str) -> None:
        job = self.store.get(job_id)
        if job.attempts >= MAX_ATTEMPTS:
            self.store.update(
                job_id,
                state="failed",
                reason=f"gave up after {job.attempts} attempts; last: {reason}",
                finished=time.time(),
            )
        else:
            self.store.update(job_id, state="queued", reason=reason)
        log.info("job %s: %s", job_id, reason)

    def _spawn(self, job_id: int) -> subprocess.Popen[bytes]:
        logs = self.settings.state / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        with open(logs / f"job-{job_id}.log", "ab") as out:
            return subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "agent",
                    "github",
                    "run-job",
                    str(job_id),
                    "--state",
                    str(self.settings.state),
                    "--parent",
                    str(os.getpid()),
                ],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a Ctrl-C on the server's terminal is for the server
            )

    def drain(self) -> None:
        """Stop starting jobs; interrupt the running ones so that each commits its work in
        progress and returns to the queue; kill what still runs after `drain_timeout`."""
        self.draining = True
        self.wake.set()
        if self._thread.is_alive():
            self._thread.join()

    def _interrupt_jobs(self) -> None:
        for proc in self.procs.values():
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGINT)
        deadline = time.monotonic() + self.drain_timeout
        for proc in self.procs.values():
            try:
                proc.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def create_app(
    store: Store,
    settings: Settings,
    secret: str,
    scheduler: Scheduler,
    *,
    max_body: int,
) -> Any:
    from githubkit.webhooks import verify
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    def answer(status: int, **body: Any) -> Response:
        if status == 204:
            return Response(status_code=204, headers={"X-Backend-Agent-Reason": body["reason"]})
        return JSONResponse(body, status_code=status)

    async def webhook(request: Request) -> Response:
        declared = request.headers.get("content-length", "0")
        if not declared.isdigit() or int(declared) > max_body:
            return answer(413, error=f"body larger than {max_body} bytes")
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > max_body:
                return answer(413, error=f"body larger than {max_body} bytes")
        signature = request.headers.get("x-hub-signature-256", "")
        if not signature.startswith("sha256=") or not verify(secret, body, signature):
            log.warning("webhook with a missing or bad signature refused")
            return answer(401, error="missing or bad X-Hub-Signature-256")
        event = request.headers.get("x-github-event", "")
        delivery = request.headers.get("x-github-delivery", "")
        if event == "ping":
            return answer(200, ok=True, pong=True)
        if not delivery:
            return answer(400, error="missing X-GitHub-Delivery")
        try:
            payload = json.loads(body)
        except ValueError:
            return answer(400, error="the body is not JSON")
        decision = read_event(
            event, payload, label=settings.label, bot_login=settings.bot_login or ""
        )
        if isinstance(decision, Skip):
            return answer(204, reason=decision.reason)
        if scheduler.draining:
            return answer(503, error="shutting down; GitHub can redeliver this event")
        job_id, created = store.add(delivery, event, decision)
        if not created:
            return answer(200, duplicate=True, job=job_id)
        scheduler.wake.set()
        log.info(
            "delivery %s queued as job %s (%s#%s)", delivery, job_id, decision.repo, decision.issue
        )
        return answer(202, queued=True, job=job_id)

    async def healthz(request: Request) -> Response:
        jobs = store.jobs(limit=1000)
        return answer(
            200,
            ok=True,
            draining=scheduler.draining,
            queued=sum(j.state == "queued" for j in jobs),
            running=sum(j.state == "running" for j in jobs),
            workers=scheduler.workers,
        )

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        import anyio

        scheduler.start()
        yield
        await anyio.to_thread.run_sync(scheduler.drain)

    return Starlette(
        routes=[Route("/webhook", webhook, methods=["POST"]), Route("/healthz", healthz)],
        lifespan=lifespan,
    )
