"""Start-up time of `backend-agent --help`, as a ratio to a bare `python -c pass`.

Every command is run as a fresh process, the commands take turns (so a burst of load on a
shared machine hits them all alike), and the median of each is reported. `import typer` is
timed as well: it is the floor for a typer CLI, so what the CLI adds on top of it is ours.

Bytecode is cached in a temporary `PYTHONPYCACHEPREFIX` (warmed before timing), as it would
be after an install; this machine sets PYTHONDONTWRITEBYTECODE=1, under which every run
would recompile the project's modules.

Run: python benchmarks/startup.py [--runs 15]
What loads: python -X importtime -m agent --help 2>&1 | sort -t'|' -k2 -n | tail -30
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import ROOT, median


def commands() -> dict[str, list[str]]:
    found = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "python -c 'import typer'": [sys.executable, "-c", "import typer"],
        "python -m agent --help": [sys.executable, "-m", "agent", "--help"],
    }
    # The console script next to this interpreter, and whatever PATH finds if that differs
    # (with pyenv, a shell shim that costs more than the script itself).
    script = Path(sys.executable).with_name("backend-agent")
    if script.is_file():
        found["backend-agent --help"] = [str(script), "--help"]
    on_path = shutil.which("backend-agent")
    if on_path and Path(on_path) != script:
        found["backend-agent --help (PATH)"] = [on_path, "--help"]
    return found


def environment(cache: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update(PYTHONPYCACHEPREFIX=cache, PYTHONPATH=str(ROOT), NO_COLOR="1")
    return env


def run_once(argv: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(argv, env=env, cwd=ROOT, capture_output=True, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{argv} exited {done.returncode}: {done.stderr.decode()[-500:]}")
    return elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="runs of each command")
    args = parser.parse_args(argv)
    todo = commands()
    times: dict[str, list[float]] = {name: [] for name in todo}
    with tempfile.TemporaryDirectory() as cache:
        env = environment(cache)
        for command in todo.values():  # fill the bytecode cache
            run_once(command, env)
        for _ in range(args.runs):
            for name, command in todo.items():
                times[name].append(run_once(command, env))
    bare = median(times["python -c pass"])
    print(f"median of {args.runs} runs each, ms{'':14}ratio to python -c pass")
    for name, values in times.items():
        ms = median(values) * 1e3
        print(f"{name:30}{ms:8.1f}{median(values) / bare:10.2f}")
    if "backend-agent --help" not in todo:
        print("(no `backend-agent` console script on PATH: `pip install -e .` to add it)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
