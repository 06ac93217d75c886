"""The command runner with real processes: output capping, timeouts, and that no process of a
command outlives it, in every sandbox mode."""

from __future__ import annotations

import os
import signal
import threading
import time
import uuid
from pathlib import Path

import pytest

from tools.base import Workspace
from tools.process import CommandRunner, _CappedOutput
from tools.sandbox import (
    BubblewrapSandbox,
    LandlockSandbox,
    NoSandbox,
    probe_bwrap,
    probe_landlock,
)
from tools.secrets import Redactor, scrubbed_env

BWRAP_OK, BWRAP_INFO = probe_bwrap()
LANDLOCK_OK, LANDLOCK_INFO = probe_landlock()
needs_bwrap = pytest.mark.skipif(not BWRAP_OK, reason=f"bwrap cannot start: {BWRAP_INFO}")

MODES = [
    pytest.param(
        "bwrap",
        marks=pytest.mark.skipif(not BWRAP_OK, reason=f"bwrap cannot start: {BWRAP_INFO}"),
    ),
    pytest.param(
        "landlock",
        marks=pytest.mark.skipif(not LANDLOCK_OK, reason=f"no Landlock: {LANDLOCK_INFO}"),
    ),
    "off",
]


def make_runner(mode: str, **kwargs: object) -> CommandRunner:
    sandbox = {"bwrap": BubblewrapSandbox, "landlock": LandlockSandbox, "off": NoSandbox}[mode]()
    return CommandRunner(sandbox, scrubbed_env(os.environ), **kwargs)  # type: ignore[arg-type]


@pytest.fixture(params=MODES)
def run(request: pytest.FixtureRequest) -> CommandRunner:
    return make_runner(request.param)


def tag() -> str:
    """A unique number usable as `sleep` argument: finds the command's processes in /proc."""
    return f"{int(uuid.uuid4().int % 10**6) + 10**6}.{uuid.uuid4().int % 10**6:06d}"


def alive_with(marker: str) -> list[int]:
    """Live (non-zombie) processes whose command line contains `marker`."""
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry.name}/cmdline", "rb") as fh:
                if marker.encode() in fh.read():
                    found.append(int(entry.name))
        except OSError:
            continue
    return found


def wait_none_alive(marker: str, within: float = 2.0) -> list[int]:
    end = time.monotonic() + within
    while (left := alive_with(marker)) and time.monotonic() < end:
        time.sleep(0.05)
    return left


# --- basics -------------------------------------------------------------------------------


def test_interleaved_output_and_exit_code(run: CommandRunner, tmp_path: Path):
    result = run.run("echo one; echo two >&2; echo three; exit 4", tmp_path, 10)
    assert result.output == "one\ntwo\nthree\n"
    assert result.exit_code == 4
    assert not result.timed_out
    assert result.omitted_bytes == 0


def test_killed_by_signal_reads_like_bash(run: CommandRunner, tmp_path: Path):
    assert run.run("kill -9 $$", tmp_path, 10).exit_code == 137


def test_stdin_is_closed(run: CommandRunner, tmp_path: Path):
    result = run.run("cat; read x; echo done", tmp_path, 10)
    assert result.output == "done\n"
    assert result.duration < 2


def test_invalid_utf8_is_replaced(tmp_path: Path):
    result = make_runner("off").run(r"printf 'a\xffb'", tmp_path, 10)
    assert result.output == "a\ufffdb"


def test_missing_cwd_is_a_result_not_a_crash(tmp_path: Path):
    result = make_runner("off").run("true", tmp_path / "missing", 10)
    assert result.exit_code == 127
    assert "cannot start" in result.output


def test_workspace_run_uses_the_runner(tmp_path: Path):
    ws = Workspace(root=tmp_path, executor=make_runner("off"))
    assert ws.run("pwd").output.strip() == str(tmp_path)


# --- output cap ---------------------------------------------------------------------------


def test_output_is_capped_head_and_tail(tmp_path: Path):
    runner = make_runner("off", output_limit=1000)
    result = runner.run("seq 1 100000", tmp_path, 10)
    total = sum(len(f"{i}\n") for i in range(1, 100001))
    assert result.omitted_bytes == total - 1000
    assert result.output.startswith("1\n2\n3\n")
    assert result.output.endswith("99999\n100000\n")
    assert f"[... {total - 1000} bytes omitted ...]" in result.output
    assert len(result.output) < 1100


def test_cap_does_not_split_characters():
    out = _CappedOutput(10)
    out.feed(("é" * 50).encode())
    text, omitted = out.render()
    assert "\ufffd" not in text
    assert text.startswith("éé") and text.endswith("éé")
    assert omitted > 0


@pytest.mark.parametrize("mode", MODES)
def test_100mb_of_output_is_fast_and_bounded(mode: str, tmp_path: Path):
    runner = make_runner(mode)
    Path("/proc/self/clear_refs").write_text("5")  # reset the peak RSS (VmHWM)
    before = _status_kb("VmHWM")
    result = runner.run("head -c 100000000 /dev/zero | tr '\\0' a", tmp_path, 60)
    peak_growth_mb = (_status_kb("VmHWM") - before) / 1024
    assert result.exit_code == 0
    assert result.omitted_bytes == 100_000_000 - 30_000
    assert len(result.output) < 30_100
    assert result.duration < 10
    assert peak_growth_mb < 20, f"runner grew by {peak_growth_mb:.0f} MB"


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(field)


# --- timeouts and stray processes ---------------------------------------------------------


def test_escape_29_orphans_on_timeout(run: CommandRunner, tmp_path: Path):
    marker = tag()
    started = time.monotonic()
    result = run.run(f"sleep {marker} & sleep {marker}", tmp_path, 1)
    assert time.monotonic() - started < 3
    assert result.timed_out
    assert result.exit_code is None
    assert wait_none_alive(marker) == []


def test_escape_30_setsid_double_fork_on_timeout(run: CommandRunner, tmp_path: Path):
    marker = tag()
    result = run.run(
        f"setsid sh -c 'sleep {marker} & sleep {marker}' </dev/null >/dev/null 2>&1 &"
        f" (sleep {marker} &) ; echo started; sleep 30",
        tmp_path,
        1,
    )
    assert result.timed_out
    assert result.output == "started\n"
    assert wait_none_alive(marker) == []


def test_escape_31_background_jobs_after_exit(run: CommandRunner, tmp_path: Path):
    marker = tag()
    result = run.run(
        f"sleep {marker} & setsid sleep {marker} >/dev/null 2>&1 & echo bye", tmp_path, 10
    )
    assert result.exit_code == 0
    assert result.output.startswith("bye\n")
    assert result.duration < 2
    assert wait_none_alive(marker) == []


def limited_runner(mode: str, max_processes: int) -> CommandRunner:
    runner = make_runner(mode, max_processes=max_processes)
    if runner.limit is None:
        pytest.skip("no writable pids cgroup: an unbounded process count could fill the PID table")
    return runner


@needs_bwrap
def test_escape_28_fork_bomb_is_contained(tmp_path: Path):
    """The classic bomb. Without the pids cgroup it filled this 2-core machine's PID table
    (32768) in under 2 s, so the test refuses to run without one."""
    marker = uuid.uuid4().hex
    runner = limited_runner("bwrap", 200)
    try:
        result = runner.run(f":(){{ :|:& }};:; sleep 30 # {marker}", tmp_path, 2)
        assert result.timed_out
        assert result.duration < 4
        assert wait_none_alive(marker, within=5) == []
    finally:
        runner.close()


@pytest.mark.parametrize("mode", MODES)
def test_process_count_is_capped(mode: str, tmp_path: Path):
    runner = limited_runner(mode, 20)
    marker = tag()
    try:
        result = runner.run(f"for i in $(seq 40); do sleep {marker} & done; wait", tmp_path, 2)
        assert "Resource temporarily unavailable" in result.output
        assert wait_none_alive(marker) == []
    finally:
        runner.close()
    assert runner.limit is not None
    assert not runner.limit.base.exists()  # the runner's cgroups are gone


@pytest.mark.parametrize("mode", MODES)
def test_escape_32_daemon_without_marker_is_killed(mode: str, tmp_path: Path):
    """setsid + a cleared environment escapes both the process group and the marker scan; the
    cgroup (or the PID namespace) still holds it."""
    runner = limited_runner(mode, 100)
    marker = tag()
    try:
        result = runner.run(
            f"setsid env -i /bin/sleep {marker} </dev/null >/dev/null 2>&1 & echo ok", tmp_path, 5
        )
        assert result.output == "ok\n"
        assert wait_none_alive(marker) == []
    finally:
        runner.close()


def test_keyboard_interrupt_kills_the_tree(tmp_path: Path):
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("SIGINT is delivered to the main thread")
    mode = "bwrap" if BWRAP_OK else "off"
    runner = make_runner(mode)
    marker = tag()
    timer = threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        runner.run(f"sleep {marker} & setsid sleep {marker} & sleep {marker}", tmp_path, 30)
    timer.join()
    assert time.monotonic() - started < 5
    assert wait_none_alive(marker) == []


# --- secrets ------------------------------------------------------------------------------

SECRET_ENV = {
    "ANTHROPIC_API_KEY": "sk-ant-api03-secretvalue-000",
    "GITHUB_TOKEN": "ghp_secretgithubtoken000000",
    "AWS_SECRET_ACCESS_KEY": "aws/secret/access/key/0000",
    "MY_DB_PASSWORD": "hunter2hunter2",
}


def test_env_inside_has_no_secrets(run: CommandRunner, tmp_path: Path):
    runner = CommandRunner(run.sandbox, scrubbed_env({**os.environ, **SECRET_ENV}))
    result = runner.run("env", tmp_path, 10)
    assert result.exit_code == 0
    assert "PATH=" in result.output
    for name, value in SECRET_ENV.items():
        assert name not in result.output
        assert value not in result.output


def test_secret_file_contents_are_redacted(run: CommandRunner, tmp_path: Path):
    env_file = tmp_path / ".env"
    env_file.write_text(
        'DATABASE_URL="postgresql://app:s3cr3t-pw-123@db/app"\nAPI_KEY=abcd1234efgh\n'
    )
    redactor = Redactor.from_environment({}, secret_files=[env_file])
    runner = CommandRunner(run.sandbox, scrubbed_env(os.environ), redactor=redactor)
    result = runner.run("cat .env; echo; printf 'key is %s\\n' abcd1234efgh", tmp_path, 10)
    assert "s3cr3t-pw-123" not in result.output
    assert "abcd1234efgh" not in result.output
    # whole lines of a secret file are secrets too: both lines go entirely
    assert result.output == "[REDACTED]\n[REDACTED]\n\nkey is [REDACTED]\n"


# --- overhead -----------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_per_command_overhead_is_small(mode: str, tmp_path: Path):
    runner = make_runner(mode)
    runner.run("true", tmp_path, 10)
    started = time.monotonic()
    for _ in range(10):
        assert runner.run("true", tmp_path, 10).exit_code == 0
    mean = (time.monotonic() - started) / 10
    assert mean < (0.5 if mode == "landlock" else 0.25), f"{mode}: {mean * 1000:.0f} ms"
