"""GitHub bot jobs per minute through Celery + Redis with 1 and 2 workers, against the embedded
default (the SQLite queue of `github serve --workers 1|2`) measured in the same run.

    python benchmarks/bot_queue.py [--jobs 4]

Each configuration gets fresh issues spread over two repositories (each repository's default
limit is one job at a time), labelled through signed webhooks to the real server; the clock
runs from the first webhook to the last job's end. The fake GitHub, the bare repositories and
the scripted model session are the tests' own doubles: this measures queueing and job
overhead, never a model."""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import make_repo

from tests.conftest import CALC_PYPROJECT, git
from tests.fakes.anthropic_server import FakeAnthropic
from tests.fakes.github_server import FakeGitHub
from tests.test_github_bot import BOT_TOKEN, GREEN, Server, free_port
from tests.test_github_celery import FINAL, QueueServer, Worker

REPOS = ("acme/calc", "acme/calc2")


def world(root: Path) -> FakeGitHub:
    source = make_repo(
        root / "calc",
        {
            "pyproject.toml": CALC_PYPROJECT,
            ".gitignore": "__pycache__/\n",
            "calc.py": "def add(a: int, b: int) -> int:\n    return a + b\n",
        },
    )
    (root / "remotes" / "acme").mkdir(parents=True)
    fake = FakeGitHub(root / "remotes")
    fake.add_user("backend-agent-bot", token=BOT_TOKEN)
    fake.add_user("mona")
    for repo in REPOS:
        git(root, "clone", "-q", "--bare", str(source), str(root / "remotes" / f"{repo}.git"))
        fake.add_repo(repo)
        fake.permissions[(repo, "mona")] = "maintain"
    return fake.start()


def jobs_per_minute(server: Server, fake: FakeGitHub, count: int) -> float:
    issues = [
        (repo, fake.add_issue(repo, f"Add mul to {repo}", "Please add `mul`.", "mona")["number"])
        for repo in (REPOS[i % 2] for i in range(count))
    ]
    start = time.monotonic()
    for repo, number in issues:
        answer = server.post("issues", fake.label_event(repo, number, "mona", "backend-agent"))
        assert answer.status_code == 202, answer.text
    while True:
        jobs = server.jobs()
        if len(jobs) == count and all(j["state"] in FINAL for j in jobs):
            break
        time.sleep(0.2)
    seconds = time.monotonic() - start
    for job in jobs:
        if job["state"] != "done":
            where = f"{job['repo']}#{job['issue']}"
            print(f"  job {job['id']} ({where}) {job['state']}: {job['reason']}")
    return sum(j["state"] == "done" for j in jobs) / seconds * 60


def sqlite(root: Path, fake: FakeGitHub, api: FakeAnthropic, workers: int, count: int) -> float:
    server = Server(root, fake, api, "--workers", str(workers), "--concurrent-jobs", "1")
    try:
        return jobs_per_minute(server, fake, count)
    finally:
        server.stop()


def celery(root: Path, fake: FakeGitHub, api: FakeAnthropic, workers: int, count: int) -> float:
    port = free_port()
    redis = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", root],
        stdout=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    time.sleep(0.5)
    server = QueueServer(root, fake, api, url)
    started = [Worker(root, server, url, str(n)) for n in range(workers)]
    try:
        while not all(w.log.exists() and "ready." in w.log.read_text() for w in started):
            time.sleep(0.2)
        return jobs_per_minute(server, fake, count)
    finally:
        for worker in started:
            worker.stop()
        server.stop()
        redis.terminate()
        redis.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=4, help="Jobs per configuration.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-bot-") as tmp:
        root = Path(tmp)
        fake = world(root)
        api = FakeAnthropic(GREEN).start()
        try:
            rates: dict[tuple[str, int], float] = {}
            for name, run in (("sqlite", sqlite), ("celery", celery)):
                for n in (1, 2):
                    where = root / f"{name}-{n}"
                    where.mkdir()
                    rates[name, n] = run(where, fake, api, n, args.jobs)
                    print(f"{name:>6}, {n} worker(s): {rates[name, n]:5.2f} jobs/min")
        finally:
            api.stop()
            fake.stop()
    print(f"Celery 2 workers / 1 worker: ratio {rates['celery', 2] / rates['celery', 1]:.2f}")
    for n in (1, 2):
        overhead = rates["sqlite", n] / rates["celery", n] - 1
        print(f"Celery overhead with {n} worker(s): {overhead:+.0%} time per job vs SQLite")
    return 0


if __name__ == "__main__":
    sys.exit(main())
