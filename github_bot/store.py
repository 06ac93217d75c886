"""The durable job queue: one SQLite file under the state directory. A webhook is answered 202
only after its job is committed here, so a server killed at any moment loses no accepted job.
Every process (the server, each job) opens its own connection; WAL lets them share the file."""

from __future__ import annotations

import contextlib
import json
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from github_bot.events import Trigger

SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    delivery TEXT NOT NULL UNIQUE,
    event TEXT NOT NULL,
    repo TEXT NOT NULL,
    issue INTEGER NOT NULL,
    trigger TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'queued',
    run_id TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    cost REAL,
    pull TEXT,
    reason TEXT NOT NULL DEFAULT '',
    created REAL NOT NULL,
    started REAL,
    finished REAL
);
CREATE INDEX IF NOT EXISTS jobs_state ON jobs (state, id);
CREATE TABLE IF NOT EXISTS repo_limits (repo TEXT PRIMARY KEY, concurrent_jobs INTEGER NOT NULL);
"""
FINAL = ("done", "red", "refused", "failed")


@dataclass
class Job:
    id: int
    delivery: str
    event: str
    repo: str
    issue: int
    trigger: Trigger
    state: str
    run_id: str | None
    attempts: int
    cost: float | None
    pull: str | None
    reason: str
    created: float
    started: float | None
    finished: float | None

    def row(self) -> dict[str, Any]:
        return {**asdict(self), "trigger": asdict(self.trigger)}


class Store:
    def __init__(self, state_dir: Path) -> None:
        state_dir.mkdir(parents=True, exist_ok=True)
        self.path = state_dir / "jobs.sqlite3"
        with self._db() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(SCHEMA)

    @contextlib.contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        db.row_factory = sqlite3.Row
        db.execute("PRAGMA synchronous=FULL")
        try:
            yield db
        finally:
            db.close()

    def add(self, delivery: str, event: str, trigger: Trigger) -> tuple[int, bool]:
        """Queue a job; (its id, False) when this delivery was queued before."""
        with self._db() as db:
            cursor = db.execute(
                "INSERT OR IGNORE INTO jobs (delivery, event, repo, issue, trigger, created)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (
                    delivery,
                    event,
                    trigger.repo,
                    trigger.issue,
                    json.dumps(asdict(trigger)),
                    time.time(),
                ),
            )
            if cursor.rowcount:
                return int(cursor.lastrowid or 0), True
            row = db.execute("SELECT id FROM jobs WHERE delivery = ?", (delivery,)).fetchone()
            return int(row["id"]), False

    def get(self, job_id: int) -> Job:
        with self._db() as db:
            row = db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None:
            raise KeyError(f"no job {job_id}")
        return _job(row)

    def jobs(self, limit: int = 100) -> list[Job]:
        with self._db() as db:
            rows = db.execute("SELECT * FROM jobs ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
        return [_job(r) for r in rows]

    def update(self, job_id: int, **values: Any) -> None:
        names = ", ".join(f"{k} = ?" for k in values)
        with self._db() as db:
            db.execute(f"UPDATE jobs SET {names} WHERE id = ?", (*values.values(), job_id))

    def claim(self, running: set[int], workers: int, default_concurrency: int) -> Job | None:
        """The oldest queued job that may start now, marked running: at most `workers` at once,
        one per issue, and at most each repository's `concurrent_jobs`."""
        if len(running) >= workers:
            return None
        with self._db() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                busy = db.execute("SELECT repo, issue FROM jobs WHERE state = 'running'").fetchall()
                per_repo: dict[str, int] = {}
                for row in busy:
                    per_repo[row["repo"]] = per_repo.get(row["repo"], 0) + 1
                issues = {(r["repo"], r["issue"]) for r in busy}
                caps = dict(db.execute("SELECT repo, concurrent_jobs FROM repo_limits").fetchall())
                for row in db.execute("SELECT * FROM jobs WHERE state = 'queued' ORDER BY id"):
                    cap = min(default_concurrency, caps.get(row["repo"], default_concurrency))
                    if (row["repo"], row["issue"]) in issues or per_repo.get(row["repo"], 0) >= cap:
                        continue
                    db.execute(
                        "UPDATE jobs SET state = 'running', attempts = attempts + 1,"
                        " started = COALESCE(started, ?) WHERE id = ?",
                        (time.time(), row["id"]),
                    )
                    db.execute("COMMIT")
                    return self.get(int(row["id"]))
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        return None

    def running(self) -> list[Job]:
        with self._db() as db:
            rows = db.execute("SELECT * FROM jobs WHERE state = 'running' ORDER BY id").fetchall()
        return [_job(r) for r in rows]

    def set_repo_concurrency(self, repo: str, concurrent_jobs: int) -> None:
        with self._db() as db:
            db.execute(
                "INSERT INTO repo_limits VALUES (?, ?) ON CONFLICT (repo)"
                " DO UPDATE SET concurrent_jobs = excluded.concurrent_jobs",
                (repo, concurrent_jobs),
            )

    def runs_since(self, repo: str, since: float, exclude: int | None = None) -> int:
        """Jobs of `repo` that started a run since `since` (a limit counts runs, not events)."""
        with self._db() as db:
            row = db.execute(
                "SELECT COUNT(*) FROM jobs WHERE repo = ? AND run_id IS NOT NULL AND started >= ?"
                " AND id != ?",
                (repo, since, exclude or -1),
            ).fetchone()
        return int(row[0])


def _job(row: sqlite3.Row) -> Job:
    data = dict(row)
    data["trigger"] = Trigger(**json.loads(data["trigger"]))
    return Job(**data)
