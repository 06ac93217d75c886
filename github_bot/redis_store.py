"""The bot's job records in Redis, for `--queue redis://...`: the same methods as the SQLite
`Store`, so `flow.execute` and `github jobs` work unchanged, plus the cross-worker exclusion
that SQLite gets from one scheduler: one job per issue, and each repository's concurrent-jobs
limit, held by leases that a living job renews and a dead one lets expire."""

from __future__ import annotations

import contextlib
import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, fields
from typing import Any

from agent.errors import UsageError
from github_bot.events import Trigger
from github_bot.store import Job

LEASE_SECONDS = 30.0  # a dead job's issue and repo slot free up within this
PREFIX = "backend-agent:"

# Take the issue lease and a repository slot together, or neither. KEYS: issue lease, repo
# slots (a sorted set of tokens by expiry). ARGV: token, now (ms), lease (ms), repo cap.
ACQUIRE = """
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[2])
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[4]) then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
redis.call('ZADD', KEYS[2], ARGV[2] + ARGV[3], ARGV[1])
return 1
"""
# Extend both while the token still holds the issue lease; 0 means the lease was lost.
RENEW = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('ZADD', KEYS[2], ARGV[2] + ARGV[3], ARGV[1])
return 1
"""
RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
redis.call('ZREM', KEYS[2], ARGV[1])
return 1
"""
JOB_FIELDS = [f.name for f in fields(Job) if f.name != "id"]


def connect(url: str) -> Any:
    try:
        import redis
    except ImportError:
        raise UsageError(
            "--queue redis://... needs its extra: pip install 'backend-agent[celery]'"
        ) from None
    client = redis.Redis.from_url(url, decode_responses=True)
    try:
        client.ping()
    except redis.RedisError as exc:
        raise UsageError(f"cannot reach Redis at {url}: {exc}") from None
    return client


class RedisStore:
    """Jobs as hashes (`job:ID`, each field JSON), indexed by delivery id and by id."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.redis = connect(url)
        self._acquire = self.redis.register_script(ACQUIRE)
        self._renew = self.redis.register_script(RENEW)
        self._release = self.redis.register_script(RELEASE)

    def add(self, delivery: str, event: str, trigger: Trigger) -> tuple[int, bool]:
        """Record a queued job; (its id, False) when this delivery was recorded before."""
        known = self.redis.hget(PREFIX + "deliveries", delivery)
        if known:
            return int(known), False
        job_id = int(self.redis.incr(PREFIX + "next-id"))
        if not self.redis.hsetnx(PREFIX + "deliveries", delivery, job_id):  # lost a race
            return int(self.redis.hget(PREFIX + "deliveries", delivery)), False
        record = dict.fromkeys(JOB_FIELDS)
        record.update(
            delivery=delivery,
            event=event,
            repo=trigger.repo,
            issue=trigger.issue,
            trigger=asdict(trigger),
            state="queued",
            attempts=0,
            reason="",
            created=time.time(),
        )
        with self.redis.pipeline() as pipe:
            pipe.hset(_job_key(job_id), mapping={k: json.dumps(v) for k, v in record.items()})
            pipe.zadd(PREFIX + "jobs", {str(job_id): job_id})
            pipe.execute()
        return job_id, True

    def get(self, job_id: int) -> Job:
        data = self.redis.hgetall(_job_key(job_id))
        if not data:
            raise KeyError(f"no job {job_id}")
        return _job(job_id, data)

    def jobs(self, limit: int = 100) -> list[Job]:
        ids = [int(i) for i in self.redis.zrevrange(PREFIX + "jobs", 0, limit - 1)]
        with self.redis.pipeline() as pipe:
            for job_id in ids:
                pipe.hgetall(_job_key(job_id))
            records = pipe.execute()
        return [_job(i, data) for i, data in zip(ids, records, strict=True) if data]

    def update(self, job_id: int, **values: Any) -> None:
        self.redis.hset(_job_key(job_id), mapping={k: json.dumps(v) for k, v in values.items()})
        if values.get("run_id"):
            job = self.get(job_id)
            self.redis.zadd(f"{PREFIX}runs:{job.repo}", {str(job_id): job.started or time.time()})

    def set_repo_concurrency(self, repo: str, concurrent_jobs: int) -> None:
        self.redis.set(f"{PREFIX}repo-limit:{repo}", concurrent_jobs)

    def runs_since(self, repo: str, since: float, exclude: int | None = None) -> int:
        """Jobs of `repo` that started a run since `since` (a limit counts runs, not events)."""
        ids = self.redis.zrangebyscore(f"{PREFIX}runs:{repo}", since, "+inf")
        return sum(1 for i in ids if int(i) != exclude)

    @contextlib.contextmanager
    def exclusive(self, job: Job, default_concurrency: int) -> Iterator[bool]:
        """Hold the job's issue and one of its repository's slots for the block, across all
        workers; yields False (holding nothing) when either is taken. A thread renews the
        lease while the block runs, so a killed worker's lease expires in LEASE_SECONDS."""
        keys = [f"{PREFIX}issue:{job.repo}#{job.issue}", f"{PREFIX}repo-slots:{job.repo}"]
        cap = min(
            default_concurrency,
            int(self.redis.get(f"{PREFIX}repo-limit:{job.repo}") or 0) or default_concurrency,
        )
        token, lease_ms = uuid.uuid4().hex, int(LEASE_SECONDS * 1000)
        if not self._acquire(keys, [token, _now_ms(), lease_ms, cap]):
            yield False
            return
        stop = threading.Event()

        def renew() -> None:
            while not stop.wait(LEASE_SECONDS / 4):
                self._renew(keys, [token, _now_ms(), lease_ms])

        renewer = threading.Thread(target=renew, name="lease", daemon=True)
        renewer.start()
        try:
            yield True
        finally:
            stop.set()
            renewer.join()
            self._release(keys, [token])


def _job_key(job_id: int) -> str:
    return f"{PREFIX}job:{job_id}"


def _job(job_id: int, data: dict[str, str]) -> Job:
    values = {k: json.loads(data[k]) if k in data else None for k in JOB_FIELDS}
    values["trigger"] = Trigger(**values["trigger"])
    return Job(id=job_id, **values)


def _now_ms() -> int:
    return int(time.time() * 1000)
