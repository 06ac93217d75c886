"""The verification gate's wall time per check, on a fresh scaffold plus the books resource, and
the two goals of issue 11, printed in one run:

- a warm round (the run's one PostgreSQL, started once) takes at most 1.2x its slowest check;
- a warm round takes at most 0.5x a round that starts and stops its own PostgreSQL.

Before them, where the time goes: server start, database creation, interpreter and app import,
pytest start-up, one `alembic` invocation, each timed alone in the same sandbox.

    python benchmarks/gate.py [--rounds 3]

Every variant runs the same checks in the same sandbox in this one process, so the ratios
compare like with like on whatever machine runs it (load changes seconds, not ratios)."""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agent.config import RepoSettings
from agent.gate import build_gate, hash_test_files, with_env
from agent.postgres import EmbeddedPostgres
from agent.scaffold import create_project
from agent.testdb import TestDatabase, free_port, new_password
from benchmarks._common import verdict
from tests.scripts.books import books_turns
from tools.base import Workspace
from tools.bash import BashTool
from tools.editor import TextEditor
from tools.process import CommandRunner
from tools.sandbox import detect
from tools.secrets import scrubbed_env


def server() -> EmbeddedPostgres:
    return EmbeddedPostgres(port=free_port(), password=new_password())


def workspace(root: Path, postgres: EmbeddedPostgres | None) -> tuple[Workspace, Callable]:
    """The sandboxed workspace, as a session builds it, and its maker of fresh databases."""
    env = scrubbed_env(os.environ)
    database = None
    forward = None
    if postgres:
        forward = (postgres.port, postgres.socket_path)
    sandbox, _ = detect(writable=[postgres.socket_dir] if postgres else [], forward=forward)
    if postgres:
        database = TestDatabase.embedded(postgres, sandbox.loopback_tcp, {})
        env.update(database.env())
    settings = RepoSettings.load(root)
    ws = Workspace(
        root=root, executor=CommandRunner(sandbox, env), test_command=settings.test_command
    )
    return ws, (database.fresh if database else None)


def books_project(parent: Path) -> Path:
    root = create_project("library", parent)
    ws, _ = workspace(root, None)
    tools = {"str_replace_based_edit_tool": TextEditor(), "bash": BashTool()}
    for turn in books_turns():
        for call in turn:
            result = tools[call["name"]](ws, call["input"])
            assert not result.is_error, result.output
    return root


def gate_round(root: Path, ws: Workspace, fresh: Callable, round_number: int) -> dict[str, float]:
    settings = RepoSettings.load(root)
    gate = build_gate(
        root,
        settings,
        snapshot=hash_test_files(root, settings.test_patterns),
        new_database=fresh,
    )
    start = time.monotonic()
    result = gate.run(ws, round_number)
    timings = {r.name: r.duration for r in result.results}
    timings["round"] = time.monotonic() - start
    failed = [r.name for r in result.results if not r.ok]
    assert not failed, f"the gate should be green on scaffold + books, but {failed} failed"
    return timings


def where_time_goes(ws: Workspace, fresh: Callable) -> dict[str, float]:
    """Each ingredient of a round alone, in the sandbox: what is there to win, and where."""
    parts: dict[str, float] = {}

    def timed(name: str, action: Callable[[], object]) -> None:
        start = time.monotonic()
        action()
        parts[name] = time.monotonic() - start

    def run(command: str) -> Callable[[], object]:
        def go() -> None:
            result = ws.run(command)
            assert result.exit_code == 0, result.output

        return go

    timed("PostgreSQL start + stop", lambda: server().__enter__().stop())
    timed("CREATE DATABASE", fresh)
    timed("sandboxed `true`", run("true"))
    timed("python start-up", run("python -c pass"))
    timed("import app.main", run("python -c 'import app.main'"))
    timed("pytest --collect-only", run("python -m pytest -q --collect-only"))
    env = fresh()
    timed("alembic upgrade head", run(with_env("python -m alembic upgrade head", env)))
    timed("alembic check", run(with_env("python -m alembic check", env)))
    return parts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="gate-bench-") as tmp:
        root = books_project(Path(tmp))
        warm: dict[str, list[float]] = defaultdict(list)
        with server() as postgres:
            ws, fresh = workspace(root, postgres)
            parts = where_time_goes(ws, fresh)
            for n in range(args.rounds):
                for name, seconds in gate_round(root, ws, fresh, n).items():
                    warm[name].append(seconds)
        cold_rounds = []
        for n in range(args.rounds):
            start = time.monotonic()
            with server() as postgres:
                gate_round(root, *workspace(root, postgres), n)
            cold_rounds.append(time.monotonic() - start)

    print("where the time goes (each alone, in the sandbox)")
    for name, seconds in parts.items():
        print(f"  {name:<24} {seconds:7.2f} s")
    print(f"gate on scaffold + books, median of {args.rounds} warm rounds")
    checks = {n: statistics.median(v) for n, v in warm.items() if n != "round"}
    for name, seconds in checks.items():
        print(f"  {name:<24} {seconds:7.2f} s")
    warm_round = statistics.median(warm["round"])
    cold_round = statistics.median(cold_rounds)
    slowest = max(checks.values())
    print(f"  {'whole round':<24} {warm_round:7.2f} s")
    print(f"round with its own PostgreSQL: {cold_round:.2f} s")
    ratio = warm_round / slowest
    print(f"warm round / slowest check: {ratio:.2f} (goal <= 1.2: {verdict(ratio, 1.2)})")
    ratio = warm_round / cold_round
    print(f"warm / own-PostgreSQL round: {ratio:.2f} (goal <= 0.5: {verdict(ratio, 0.5)})")


if __name__ == "__main__":
    main()
