"""Helpers shared by the benchmark scripts: import path, a scratch git repo, statistics.

Benchmarks run as plain scripts (`python benchmarks/x.py`), so the repo root is put on
`sys.path` here rather than relying on an install."""

from __future__ import annotations

import statistics
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def make_repo(root: Path, files: Mapping[str, str]) -> Path:
    """A committed git repo holding `files`; the runner refuses anything less."""
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
    git(root, "init", "-q", "-b", "main")
    git(root, "config", "user.name", "Bench")
    git(root, "config", "user.email", "bench@example.com")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "initial")
    return root


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def verdict(ratio: float, target: float) -> str:
    return "PASS" if ratio <= target else "FAIL"
