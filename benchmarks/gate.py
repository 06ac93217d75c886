"""The verification gate's wall time per check, on a fresh scaffold plus the books resource,
and the ratio of a warm gate round (the run's one PostgreSQL, started once) to a round that
starts and stops its own PostgreSQL.

    python benchmarks/gate.py [--rounds 3]

Both variants run the same checks in the same sandbox in this one process, so the ratio
compares like with like on whatever machine runs it."""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agent.config import RepoSettings
from agent.gate import build_gate, hash_test_files
from agent.postgres import EmbeddedPostgres
from agent.scaffold import create_project
from tests.scripts.books import books_turns
from tools.base import Workspace
from tools.bash import BashTool
from tools.editor import TextEditor
from tools.process import CommandRunner
from tools.sandbox import detect
from tools.secrets import scrubbed_env


def workspace(root: Path, database: EmbeddedPostgres | None) -> Workspace:
    env = scrubbed_env(os.environ)
    writable = []
    if database:
        env["DATABASE_URL"] = database.url()
        writable.append(database.socket_dir)
    sandbox, _ = detect(writable=writable)
    settings = RepoSettings.load(root)
    return Workspace(
        root=root, executor=CommandRunner(sandbox, env), test_command=settings.test_command
    )


def books_project(parent: Path) -> Path:
    root = create_project("library", parent)
    ws = workspace(root, None)
    tools = {"str_replace_based_edit_tool": TextEditor(), "bash": BashTool()}
    for turn in books_turns():
        for call in turn:
            result = tools[call["name"]](ws, call["input"])
            assert not result.is_error, result.output
    return root


def gate_round(root: Path, database: EmbeddedPostgres, round_number: int) -> dict[str, float]:
    settings = RepoSettings.load(root)
    names = (f"bench_{round_number}_{i}" for i in itertools.count())
    gate = build_gate(
        root,
        settings,
        snapshot=hash_test_files(root, settings.test_patterns),
        new_database=lambda: database.create_database(next(names)),
    )
    start = time.monotonic()
    result = gate.run(workspace(root, database), round_number)
    timings = {r.name: r.duration for r in result.results}
    timings["fixers"] = result.duration - sum(timings.values())
    timings["round"] = time.monotonic() - start
    failed = [r.name for r in result.results if not r.ok]
    assert not failed, f"the gate should be green on scaffold + books, but {failed} failed"
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="gate-bench-") as tmp:
        root = books_project(Path(tmp))
        warm: dict[str, list[float]] = defaultdict(list)
        with EmbeddedPostgres() as database:
            database.start()
            for n in range(args.rounds):
                for name, seconds in gate_round(root, database, n).items():
                    warm[name].append(seconds)
        cold_rounds = []
        for n in range(args.rounds):
            start = time.monotonic()
            with EmbeddedPostgres() as database:
                database.start()
                gate_round(root, database, 100 + n)
            cold_rounds.append(time.monotonic() - start)

    print(f"gate on scaffold + books, median of {args.rounds} warm rounds")
    for name, values in warm.items():
        if name != "round":
            print(f"  {name:<18} {statistics.median(values):7.2f} s")
    warm_round = statistics.median(warm["round"])
    cold_round = statistics.median(cold_rounds)
    print(f"  {'whole round':<18} {warm_round:7.2f} s")
    print(f"round with its own PostgreSQL: {cold_round:.2f} s")
    print(f"ratio warm / own-PostgreSQL round: {warm_round / cold_round:.2f}")


if __name__ == "__main__":
    main()
