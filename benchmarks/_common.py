"""Helpers shared by the benchmark scripts: import path, a scratch git repo, statistics.

Benchmarks run as plain scripts (`python benchmarks/x.py`), so the repo root is put on
`sys.path` here rather than relying on an install."""

from __future__ import annotations

import statistics
import sys
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


# The same scratch repo the tests use: a committed git repo holding the given files.
from tests.conftest import init_repo as make_repo  # noqa: E402

__all__ = ["ROOT", "make_repo", "median", "verdict"]


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def verdict(ratio: float, target: float) -> str:
    return "PASS" if ratio <= target else "FAIL"
