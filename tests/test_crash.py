"""Crashes and Ctrl-C: a runner killed at any instant leaves a transcript that reads back and a
run that `backend-agent resume` finishes green, as one commit.

The fake server answers by conversation state, so a resumed run picks up the script where the
transcript left it. Trials run a few at a time against one server, each in its own copy of a
template repo, with kill times drawn from a seeded generator."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.transcript import read_events
from tests.conftest import git, run_cli, start_cli
from tests.fakes.anthropic_server import FakeAnthropic, Turn, tool_use
from tests.test_faults import assert_green_with_one_commit, make_repo, run_branch, run_dirs
from tests.test_run import BUGGY_MUL, EDITOR, MUL_TEST, create, replace_text

TRIALS = 20
SEED = 20240611
PARALLEL = 3  # trials at once: most of a trial is waiting on streams, imports and the gate
EVENT_DELAY = 0.01  # seconds between streamed events, so that kills also land mid-stream
REQUEST = "add a mul function"
GOOD_MUL = BUGGY_MUL.replace("a + b", "a * b")


def bash(command: str) -> dict[str, Any]:
    return tool_use("bash", {"command": command})


# Eight turns: tools, a red gate, a fix, a green gate.
SESSION = [
    Turn.tools(create("mul.py", BUGGY_MUL), create("tests/test_mul.py", MUL_TEST), text="Adding."),
    Turn.tools(bash("cat mul.py")),
    Turn.tools(tool_use(EDITOR, {"command": "view", "path": "tests/test_mul.py"})),
    Turn.end("Added mul."),
    Turn.tools(bash("python -c 'import mul; print(mul.mul(2, 3))'"), text="The test fails."),
    Turn.tools(replace_text("mul.py", "return a + b", "return a * b")),
    Turn.tools(bash("grep -c 'a \\* b' mul.py")),
    Turn.end("Fixed: `mul` multiplies."),
]


def children(pid: int) -> list[int]:
    found = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                stat = Path(f"/proc/{entry.name}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def wait_gone(pids: list[int], timeout: float = 10) -> None:
    """A killed runner's children (a `git commit`, say) finish on their own; a user resuming
    would not race them either."""
    deadline = time.monotonic() + timeout
    for pid in pids:
        while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
            time.sleep(0.01)


def assert_lines_parse(raw: bytes, torn_allowed: int) -> None:
    """Complete lines parse; at most `torn_allowed` do not (a crash tore them)."""
    *complete, _last = raw.split(b"\n")
    bad = 0
    for line in complete:
        try:
            json.loads(line)
        except ValueError:
            bad += 1
    assert bad <= torn_allowed, raw[-2000:]


@dataclass
class Trial:
    """Kill `offset` seconds after the run saved its `after_events`-th event (0: after start).

    The instant is drawn on the timeline of an uninterrupted run and found again by progress,
    not by wall time, so trials running side by side on a busy machine still land all over
    the session rather than bunching up in its slow start."""

    number: int
    after_events: int
    offset: float
    killed: bool = False
    landed: str = ""  # the last event saved before the kill: where it landed
    recovery: str = ""


def saved_events(repo: Path) -> int:
    """Complete lines, one event each (cheap enough to poll every few milliseconds)."""
    dirs = run_dirs(repo)
    try:
        return (dirs[-1] / "transcript.jsonl").read_bytes().count(b"\n") if dirs else 0
    except FileNotFoundError:
        return 0


def kill_when_due(proc: subprocess.Popen[str], repo: Path, trial: Trial) -> bool:
    while trial.after_events and saved_events(repo) < trial.after_events:
        if proc.poll() is not None:
            return False
        time.sleep(0.01)
    try:
        proc.wait(timeout=trial.offset)
        return False
    except subprocess.TimeoutExpired:
        pass
    orphans = children(proc.pid)
    proc.kill()
    proc.wait()
    wait_gone(orphans)
    return True


def run_trial(trial: Trial, template: Path, work: Path, url: str) -> Trial:
    """One kill and the recovery; a failure names the trial and leaves its repo behind."""
    repo = work / f"trial-{trial.number}"
    shutil.copytree(template, repo, symlinks=True)
    try:
        kill_and_recover(trial, repo, url)
    except AssertionError as exc:
        raise AssertionError(f"{trial} in {repo}: {exc}") from exc
    shutil.rmtree(repo)
    return trial


def kill_and_recover(trial: Trial, repo: Path, url: str) -> None:
    proc = start_cli(repo, REQUEST, "--base-url", url)
    try:
        trial.killed = kill_when_due(proc, repo, trial)
    finally:
        proc.kill()
        proc.communicate()

    transcript = run_dirs(repo)[-1] / "transcript.jsonl" if run_dirs(repo) else None
    if transcript is not None and transcript.exists():
        assert_lines_parse(transcript.read_bytes(), torn_allowed=0)
        events = read_events(transcript)
        trial.landed = events[-1]["type"] if events else "empty transcript"
    else:
        trial.landed = "before the run dir" if transcript is None else "before the transcript"

    resumed = run_cli("resume", "last", cwd=repo)
    if resumed.returncode == 0:
        trial.recovery = "resumed"
    elif "already finished green" in resumed.stderr:
        trial.recovery = "was green"
    else:  # killed before the run could be resumed: start over, as a user would
        assert resumed.returncode == 2, resumed.stderr
        assert "no run 'last'" in resumed.stderr or "no meta.json" in resumed.stderr
        again = run_cli(REQUEST, "--base-url", url, cwd=repo)
        assert again.returncode == 0, again.stderr
        trial.recovery = "restarted"

    assert_green_with_one_commit(repo)
    branch = run_branch(repo)
    assert git(repo, "show", f"{branch}:tests/test_mul.py") + "\n" == MUL_TEST
    assert_lines_parse((run_dirs(repo)[-1] / "transcript.jsonl").read_bytes(), torn_allowed=1)


def draw_trials(event_times: list[float], length: float) -> list[Trial]:
    """Half the instants uniform in time over the reference run (0.05 s to its end), which
    puts them where time goes (startup, mostly the SDK import); half uniform over the gaps
    between its events, which puts them on every step of the loop. Each is turned into
    (events saved, delay after the last of them)."""
    rng = random.Random(SEED)
    trials = []
    for n in range(TRIALS):
        if n % 2 == 0:
            instant = rng.uniform(0.05, length)
            saved = sum(t <= instant for t in event_times)
        else:
            saved = rng.randrange(1, len(event_times) + 1)
            end = event_times[saved] if saved < len(event_times) else length
            instant = rng.uniform(event_times[saved - 1], end)
        since = event_times[saved - 1] if saved else 0.0
        trials.append(Trial(n, saved, instant - since))
    return trials


def test_sigkill_at_random_points_then_resume_ends_green(tmp_path: Path) -> None:
    template = make_repo(tmp_path / "template")
    with FakeAnthropic(SESSION, event_delay=EVENT_DELAY) as api:
        reference = tmp_path / "reference"
        shutil.copytree(template, reference, symlinks=True)
        started = time.time()
        whole = run_cli(REQUEST, "--base-url", api.url, cwd=reference)
        length = time.time() - started
        assert whole.returncode == 0, whole.stderr
        events = read_events(run_dirs(reference)[-1] / "transcript.jsonl")
        assert [e["ok"] for e in events if e["type"] == "gate"] == [False, True]
        assert len(api.message_requests) == len(SESSION)

        trials = draw_trials([e["ts"] - started for e in events], length)
        with ThreadPoolExecutor(PARALLEL) as pool:
            done = list(pool.map(lambda t: run_trial(t, template, tmp_path, api.url), trials))
    assert sum(t.killed for t in done) >= TRIALS * 3 // 4, done
    # Kills landed in several phases of the session, not all in the same one.
    assert len(Counter(t.landed for t in done if t.killed)) >= 4, done


MARK = "sleep 30.0" + str(uuid.uuid4().int)[:6]  # unique: finds the command's processes


def pgrep(pattern: str) -> list[str]:
    found = subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True)
    return found.stdout.split()


def test_ctrl_c_during_a_long_command_stops_cleanly_and_resume_finishes(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    slow = MARK
    script = [
        Turn.tools(create("mul.py", GOOD_MUL), create("tests/test_mul.py", MUL_TEST)),
        Turn.tools(bash(slow)),
        Turn.end("Added mul."),
    ]
    with FakeAnthropic(script) as api:
        proc = start_cli(repo, REQUEST, "--base-url", api.url, new_session=True)
        try:
            deadline = time.monotonic() + 60
            while not pgrep(MARK):
                assert proc.poll() is None, proc.communicate()
                assert time.monotonic() < deadline, "the slow command never started"
                time.sleep(0.05)
            time.sleep(0.3)
            interrupted = time.monotonic()
            os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does
            _, err = proc.communicate(timeout=15)
            took = time.monotonic() - interrupted
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        assert proc.returncode == 130, err
        assert took < 5, f"exiting took {took:.1f} s"
        assert "Traceback" not in err and "interrupted" in err
        assert pgrep(MARK) == [], "the command's processes outlived the interrupt"

        events = read_events(run_dirs(repo)[-1] / "transcript.jsonl")
        assert events[-1]["type"] == "run_end" and events[-1]["status"] == "interrupted"
        kinds = [e["type"] for e in events]
        assert kinds.count("tool_call") == 3 and kinds.count("tool_result") == 2
        assert "interrupted: interrupted" not in err
        message = git(repo, "log", "-1", "--format=%B", run_branch(repo))
        assert "Backend-Agent-Status: incomplete" in message

        resumed = run_cli("resume", "last", cwd=repo)
        assert resumed.returncode == 0, resumed.stderr
        assert len(api.message_requests) == 3
    assert_green_with_one_commit(repo)
    # The interrupted call was answered as such, and not run again on resume.
    rerun = read_events(run_dirs(repo)[-1] / "transcript.jsonl")
    assert [e["type"] for e in rerun].count("tool_call") == 3
    answer = api.message_requests[2].body["messages"][-1]["content"][0]
    assert answer["is_error"] and "interrupted" in answer["content"]
