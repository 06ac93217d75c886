"""The numbers of a report, from results.jsonl rows alone (rows merged from several machines or
written by other tools in the same shape work too). Trials that ended in an infrastructure
`error` are left out of every score: an outage is not a task failure."""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from math import comb
from typing import Any

TOKEN_KEYS = (
    "input_tokens",
    "output_tokens",
    "cache_creation_input_tokens",
    "cache_read_input_tokens",
)


def pass_at_k(n: int, c: int, k: int) -> float:
    """The unbiased estimator of Chen et al. (2021): 1 - C(n-c, k) / C(n, k)."""
    if k > n:
        raise ValueError(f"k={k} exceeds the {n} trials")
    return 1.0 - comb(n - c, k) / comb(n, k)


def per_task(rows: Iterable[dict[str, Any]]) -> dict[str, tuple[int, int]]:
    """task_id -> (scored trials n, resolved trials c)."""
    counts: dict[str, tuple[int, int]] = {}
    for row in rows:
        if row.get("error"):
            continue
        n, c = counts.get(row["task_id"], (0, 0))
        counts[row["task_id"]] = (n + 1, c + bool(row.get("resolved")))
    return counts


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """pass@k for every k up to the fewest scored trials of a task, rates, costs, turns."""
    scored = [r for r in rows if not r.get("error")]
    counts = per_task(scored)
    max_k = min((n for n, _ in counts.values()), default=0)
    resolved = sum(bool(r.get("resolved")) for r in scored)
    cost_known = [r["cost_usd"] for r in scored if r.get("cost_usd") is not None]
    return {
        "tasks": len({r["task_id"] for r in rows}),
        "trials": len(rows),
        "scored_trials": len(scored),
        "errors": len(rows) - len(scored),
        "resolved_trials": resolved,
        "pass_at_k": {
            str(k): _mean(pass_at_k(n, c, k) for n, c in counts.values())
            for k in range(1, max_k + 1)
        },
        "gate_green_rate": _mean(bool(r.get("gate_green")) for r in scored),
        "mean_cost_per_resolved_usd": (
            sum(cost_known) / resolved if resolved and len(cost_known) == len(scored) else None
        ),
        "mean_tokens_per_resolved": {
            key: sum(int(r.get(key) or 0) for r in scored) / resolved if resolved else None
            for key in TOKEN_KEYS
        },
        "median_turns": statistics.median(r.get("turns") or 0 for r in scored) if scored else None,
        "total_cost_usd": sum(cost_known),
    }


def summary(rows: list[dict[str, Any]], context: dict[str, Any] | None = None) -> dict[str, Any]:
    """What summary.json holds: the totals, and the same numbers per difficulty and per tag."""
    groups: dict[str, dict[str, list[dict[str, Any]]]] = {"by_difficulty": {}, "by_tag": {}}
    for row in rows:
        groups["by_difficulty"].setdefault(str(row.get("difficulty")), []).append(row)
        for tag in row.get("tags") or []:
            groups["by_tag"].setdefault(tag, []).append(row)
    scripted = any(r.get("scripted") for r in rows)
    return {
        **summarize(rows),
        "scripted": scripted,
        "models": sorted({str(r.get("model")) for r in rows}),
        "by_difficulty": {k: summarize(v) for k, v in sorted(groups["by_difficulty"].items())},
        "by_tag": {k: summarize(v) for k, v in sorted(groups["by_tag"].items())},
        "per_task": {
            task: {"trials": n, "resolved": c, "pass_rate": c / n}
            for task, (n, c) in sorted(per_task(rows).items())
        },
        "run": context or {},
    }


def _mean(values: Iterable[float]) -> float | None:
    items = list(values)
    return sum(items) / len(items) if items else None
