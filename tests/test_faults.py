"""API faults end to end: the real CLI and SDK against the fake server's real HTTP failures.

Each fault the server can produce is retried within `--api-retries` and the run ends green with
one commit; more faults than retries end in a clean stop (exit 3, one line saying why) that
`backend-agent resume` finishes once the server behaves. Faults injected: `FAULTS`, 12 (8
kinds on 10 turns), all retried; refused connections until the server starts (1 or more);
`EXHAUSTING`, 3 on one turn, past the limit."""

from __future__ import annotations

import contextlib
import json
import socket
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import CALC_PYPROJECT, git, init_repo, start_cli
from tests.fakes.anthropic_server import FakeAnthropic, Fault, Turn, tool_use
from tests.test_run import MUL_TEST, create

# pytest without third-party plugins starts in ~0.3 s instead of ~1.7 s; the gate runs it.
FAST_TESTS = "PYTEST_DISABLE_PLUGIN_AUTOLOAD=1 python -m pytest -q -p no:cacheprovider"
GOOD_MUL = "def mul(a: int, b: int) -> int:\n    return a * b\n"
SCRIPT = [
    Turn.tools(create("mul.py", GOOD_MUL), create("tests/test_mul.py", MUL_TEST), text="Adding."),
    Turn.end("Added `mul`, with a test."),
]


def make_repo(path: Path, context_window: int | None = None) -> Path:
    """The calc repo, with a fast test command (and optionally a small context window)."""
    settings = f'\n[tool.backend-agent]\ntest_command = "{FAST_TESTS}"\n'
    if context_window:
        settings += f"context_window = {context_window}\n"
    return init_repo(
        path,
        {
            "pyproject.toml": CALC_PYPROJECT + settings,
            ".gitignore": "__pycache__/\n*.flag\n",
            "calc.py": "def add(a: int, b: int) -> int:\n    return a + b\n",
            "tests/test_calc.py": (
                "from calc import add\n\n\ndef test_add() -> None:\n    assert add(1, 2) == 3\n"
            ),
        },
    )


def run_dirs(repo: Path) -> list[Path]:
    root = repo / ".git" / "backend-agent" / "runs"
    return sorted(root.iterdir()) if root.is_dir() else []


def transcript_lines(repo: Path) -> list[str]:
    return (run_dirs(repo)[-1] / "transcript.jsonl").read_text().split("\n")[:-1]


def read_transcript(repo: Path) -> list[dict[str, Any]]:
    """Every event of the newest run; every line must parse."""
    return [json.loads(line) for line in transcript_lines(repo)]


def run_branch(repo: Path) -> str:
    """The branch of the newest run, from its meta."""
    return json.loads((run_dirs(repo)[-1] / "meta.json").read_text())["branch"]


def assert_green_with_one_commit(repo: Path) -> None:
    """Green, one commit on the run's branch, and the checkout back where the run began."""
    meta = json.loads((run_dirs(repo)[-1] / "meta.json").read_text())
    branch = meta["branch"]
    assert meta["status"] == "green"
    assert git(repo, "branch", "--show-current") == meta["origin"]
    assert int(git(repo, "rev-list", "--count", f"main..{branch}")) == 1
    assert "Backend-Agent-Status: verified" in git(repo, "log", "-1", "--format=%B", branch)
    assert git(repo, "show", f"{branch}:mul.py") == GOOD_MUL.rstrip("\n")
    assert git(repo, "status", "--porcelain") == ""


def bash(command: str) -> dict[str, Any]:
    return tool_use("bash", {"command": command})


# Turn k of the session meets these faults first; each retry notice must say `reason` and
# wait `delay` seconds (the server's retry-after), or back off 0.75-1 s when it gave none.
# Every kind the fake server can produce, in one session: 8 kinds on 10 turns, 12 faults.
FAULTS: list[tuple[list[Fault], str, float | None]] = [
    ([Fault.rate_limited(retry_after_ms=10)], "429 rate_limit_error", 0.01),
    ([Fault.rate_limited(retry_after=0)], "429 rate_limit_error", 0.0),
    ([Fault.rate_limited(retry_after_ms=10)] * 3, "429 rate_limit_error", 0.01),
    ([Fault.overloaded()], "529 overloaded_error", None),
    ([Fault.server_error()], "500 api_error", None),
    ([Fault.error_event()], "overloaded_error event mid-stream", None),
    ([Fault.cut()], "stream ended without message_stop", None),
    ([Fault.cut(chunked=True)], "connection dropped mid-stream", None),
    ([Fault.stall(seconds=10)], "no data for 1s", None),  # --api-timeout 1
    ([Fault.stall(seconds=10, before_headers=True)], "timed out after 1s", None),
]
LONG_SCRIPT = [
    SCRIPT[0],
    *[Turn.tools(bash(f"echo step {k}")) for k in range(1, len(FAULTS))],
    SCRIPT[-1],
]


def test_every_fault_kind_is_retried_and_the_session_ends_green(
    tmp_path: Path, cli, fake_api
) -> None:
    repo = make_repo(tmp_path / "repo")
    api = fake_api(LONG_SCRIPT, faults={k: faults for k, (faults, *_) in enumerate(FAULTS)})
    result = cli("add a mul function", "--base-url", api.url, "--api-timeout", "1", cwd=repo)
    assert result.returncode == 0, result.stderr
    assert_green_with_one_commit(repo)

    retries: dict[int, list[dict[str, Any]]] = {}
    turn = 0
    for event in read_transcript(repo):
        if event["type"] == "request":
            turn = event["turn"]
        elif event["type"] == "retry":
            retries.setdefault(turn - 1, []).append(event)
    for k, (faults, reason, delay) in enumerate(FAULTS):
        seen = retries.get(k, [])
        assert [r["attempt"] for r in seen] == list(range(1, len(faults) + 1)), (k, seen)
        assert all(reason in r["reason"] for r in seen), (k, reason, seen)
        if delay is None:
            assert 0.75 <= seen[0]["delay"] <= 1.0, (k, seen)
        else:
            assert all(r["delay"] == pytest.approx(delay) for r in seen), (k, seen)
    expected = [k for k, (faults, *_) in enumerate(FAULTS) for _ in range(len(faults) + 1)]
    assert [r.turn for r in api.message_requests] == [*expected, len(FAULTS)]


def test_server_that_starts_late_is_reached_after_refused_connections(tmp_path: Path) -> None:
    """Connection refused is retried with backoff: the server starts only once the runner has
    seen a refusal, and the run then completes."""
    repo = make_repo(tmp_path / "repo")
    with socket.socket() as probe:  # a port with nothing listening (until we start the fake)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = start_cli(repo, "add a mul", "--base-url", f"http://127.0.0.1:{port}")
    try:
        deadline = time.monotonic() + 60
        while not any(e["type"] == "retry" for e in _events_so_far(repo)):  # a refusal seen
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "no retry after a refused connection"
            time.sleep(0.05)
        with FakeAnthropic(SCRIPT, port=port) as api:
            _, err = proc.communicate(timeout=90)
            assert proc.returncode == 0, err
            assert len(api.message_requests) == 2
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert_green_with_one_commit(repo)
    retries = [e for e in read_transcript(repo) if e["type"] == "retry"]
    assert retries and all(r["reason"] == "connection refused" for r in retries)


def _events_so_far(repo: Path) -> list[dict[str, Any]]:
    """Events of a live run: the last line may still be half written."""
    if not run_dirs(repo) or not (run_dirs(repo)[-1] / "transcript.jsonl").exists():
        return []
    events = []
    for line in transcript_lines(repo):
        with contextlib.suppress(json.JSONDecodeError):
            events.append(json.loads(line))
    return events


# More faults than --api-retries 2 allows (3 attempts): the last one is what the stop names.
EXHAUSTING = [Fault.rate_limited(retry_after_ms=10), Fault.cut(), Fault.error_event()]


def test_more_faults_than_retries_stop_cleanly_and_resume_finishes(
    tmp_path: Path, cli, fake_api
) -> None:
    repo = make_repo(tmp_path / "repo")
    api = fake_api(SCRIPT, faults={1: EXHAUSTING})
    result = cli("add a mul function", "--base-url", api.url, "--api-retries", "2", cwd=repo)
    assert result.returncode == 3, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    stops = [line for line in result.stderr.splitlines() if line.startswith("✗")]
    assert len(stops) == 1, result.stderr
    assert stops[0].startswith("✗ model_error: model request failed after 3 attempts: ")
    assert stops[0].endswith("overloaded_error event mid-stream: Overloaded"), stops[0]
    assert "backend-agent resume" in result.stderr
    events = read_transcript(repo)
    assert [e["reason"] for e in events if e["type"] == "retry"][:1] == ["429 rate_limit_error"]
    assert len([e for e in events if e["type"] == "retry"]) == 2
    assert events[-1]["type"] == "run_end" and events[-1]["status"] == "model_error"
    message = git(repo, "log", "-1", "--format=%B", run_branch(repo))
    assert "Backend-Agent-Status: incomplete" in message, "the work so far is kept"
    assert len(api.message_requests) == 1 + 3

    resumed = cli("resume", "last", cwd=repo)  # the fault queue is empty now
    assert resumed.returncode == 0, resumed.stderr
    assert_green_with_one_commit(repo)
    assert read_transcript(repo)[-1]["status"] == "green"
