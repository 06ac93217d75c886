"""Bot jobs through Celery and Redis: a real `redis-server` on a loopback port, the real
`github serve --queue` and `github worker --queue` as subprocesses, the fake GitHub and the
fake model server. A job process SIGKILLed mid-run is delivered again and resumed (one PR,
one run); two workers share two issues of one repository (one run each, never both at once:
the repository's limit holds across workers); `github jobs --queue` shows the table."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import test_github_bot
from tests.conftest import run_cli
from tests.fakes.github_server import FakeGitHub
from tests.test_github_bot import GREEN, REPO, Server, bot_comments, free_port

pytest.importorskip("celery")
pytest.importorskip("githubkit")
if shutil.which("redis-server") is None:
    pytest.skip("redis-server is not installed (.ci/run installs it)", allow_module_level=True)

from github_bot.events import Trigger
from github_bot.redis_store import RedisStore

github = test_github_bot.github  # the fake GitHub fixture, with one issue and a bare repo

FINAL = ("done", "red", "failed", "refused")


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port, data = free_port(), tmp_path_factory.mktemp("redis")
    proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", data],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    url = f"redis://127.0.0.1:{port}/0"
    deadline = time.monotonic() + 20
    while True:
        try:
            RedisStore(url)
            break
        except Exception:
            assert time.monotonic() < deadline and proc.poll() is None, "redis-server did not start"
            time.sleep(0.1)
    yield url
    proc.terminate()
    proc.wait(10)


@pytest.fixture
def queue(redis_server: str) -> str:
    RedisStore(redis_server).redis.flushdb()
    return redis_server


class QueueServer(Server):
    """`github serve --queue URL`: its jobs are read from Redis."""

    def __init__(self, tmp_path: Path, fake: FakeGitHub, api: object, url: str) -> None:
        super().__init__(tmp_path, fake, api, "--queue", url)
        self.store = RedisStore(url)
        self.clone_base = fake.bare_root

    def jobs(self) -> list[dict]:
        return [job.row() for job in self.store.jobs()]


class Worker:
    def __init__(self, tmp_path: Path, server: QueueServer, url: str, name: str) -> None:
        self.log = tmp_path / f"worker-{name}.log"
        self.proc = subprocess.Popen(
            [
                *(sys.executable, "-m", "agent", "github", "worker", "--queue", url),
                *("--state", tmp_path / "worker-state", "--clone-base", server.clone_base),
            ],
            cwd=tmp_path,
            env=server.env,
            stdin=subprocess.DEVNULL,
            stdout=open(self.log, "ab"),  # noqa: SIM115 (the child keeps it)
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def job_processes(self) -> list[int]:
        """The worker's pool processes (Celery runs each job in one of them)."""
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        return [int(pid) for pid in children.read_text().split()] if children.exists() else []

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


@pytest.fixture
def bot(tmp_path, github, fake_api, queue) -> Iterator[tuple[QueueServer, list[Worker], object]]:
    api = fake_api(GREEN)
    server = QueueServer(tmp_path, github, api, queue)
    workers: list[Worker] = []
    try:
        yield server, workers, api
    finally:
        for worker in workers:
            worker.stop()
        server.stop()


def runs_of(state: Path, issue: int) -> list[list[str]]:
    """The event types of each run's transcript for `issue`."""
    work = state / "work" / REPO / f"issue-{issue}"
    return [
        [json.loads(line)["type"] for line in t.read_text().splitlines()]
        for t in sorted(work.rglob("transcript.jsonl"))
    ]


def wait_until(condition, timeout: float, what: str):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)
    return value


def test_two_workers_two_issues_one_run_each_and_the_jobs_table(tmp_path, github, bot, queue):
    server, workers, _ = bot
    second = github.add_issue(REPO, "Add mul, again", "Please add `mul`.", "mona")["number"]
    workers += [Worker(tmp_path, server, queue, name) for name in ("a", "b")]
    for issue in (1, second):
        labelled = github.label_event(REPO, issue, "mona", "backend-agent")
        assert server.post("issues", labelled).status_code == 202
    jobs = wait_until(
        lambda: (j := server.jobs()) and all(x["state"] in FINAL for x in j) and j, 400, "jobs"
    )
    assert sorted(j["state"] for j in jobs) == ["done", "done"], jobs
    assert len(github.pulls) == 2 and all(j["pull"] for j in jobs)
    for issue in (1, second):
        assert len(bot_comments(github, issue)) == 1
        [run] = runs_of(tmp_path / "worker-state", issue)
        assert run.count("run_start") == 1
    spans = sorted((j["started"], j["finished"]) for j in jobs)
    assert spans[0][1] <= spans[1][0]  # one repository, limit 1: never both at once

    table = run_cli("github", "jobs", "--queue", queue, cwd=tmp_path, env=server.env)
    assert table.returncode == 0, table.stderr
    for job in jobs:
        assert job["delivery"][:36] in table.stdout and job["pull"] in table.stdout
    as_json = run_cli("github", "jobs", "--queue", queue, "--json", cwd=tmp_path, env=server.env)
    assert {json.loads(line)["id"] for line in as_json.stdout.splitlines()} == {
        j["id"] for j in jobs
    }


def test_a_job_process_killed_mid_run_is_redelivered_and_resumed(tmp_path, github, bot, queue):
    server, workers, api = bot
    api.event_delay = 0.05  # slow streams: the kill lands mid-run
    workers.append(Worker(tmp_path, server, queue, "a"))
    delivery = "c0ffee00-0000-4000-8000-000000000001"
    labelled = github.label_event(REPO, 1, "mona", "backend-agent")
    assert server.post("issues", labelled, delivery=delivery).status_code == 202
    wait_until(lambda: any(j["run_id"] for j in server.jobs()), 120, "the run to start")
    [child] = workers[0].job_processes()
    os.kill(child, signal.SIGKILL)
    api.event_delay = 0.0
    [job] = wait_until(
        lambda: [j for j in server.jobs() if j["state"] in FINAL], 300, "the job to finish"
    )
    assert (job["state"], job["delivery"], job["attempts"]) == ("done", delivery, 2), job
    assert len(github.pulls) == 1 and len(bot_comments(github)) == 1
    [run] = runs_of(tmp_path / "worker-state", 1)  # one run: resumed, not started over
    assert run.count("run_start") == 1 and "resume" in run
    log = workers[0].log.read_text()
    assert "WorkerLostError" in log or "signal 9" in log


def test_leases_hold_one_job_per_issue_and_the_repo_limit_across_workers(queue):
    store = RedisStore(queue)
    ids = [
        store.add(f"d{n}", "issues", Trigger(owner="acme", name="calc", issue=issue))[0]
        for n, issue in enumerate((1, 1, 2))
    ]
    first, same_issue, other_issue = (store.get(i) for i in ids)
    with store.exclusive(first, 2) as mine:
        assert mine
        with store.exclusive(same_issue, 2) as again:
            assert not again  # one job per issue, whatever the limit
        with store.exclusive(other_issue, 2) as other:
            assert other  # the repository allows two
        store.set_repo_concurrency(REPO, 1)
        with store.exclusive(other_issue, 2) as other:
            assert not other  # the repository's own limit is lower
    with store.exclusive(same_issue, 2) as after:
        assert after  # released at the end of the block
    assert [j.delivery for j in store.jobs()] == ["d2", "d1", "d0"]
    assert store.add("d1", "issues", first.trigger) == (ids[1], False)
