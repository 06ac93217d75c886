"""`backend-agent eval compare A B`: what changed between two runs on the same tasks, and
whether the pass@1 difference is larger than its noise.

Per task, pass@1 is the fraction of scored trials resolved. The difference of the means is
tested two ways on the tasks both runs share: a paired bootstrap over tasks (95% interval of
the mean difference) and an exact McNemar test on per-task outcomes (solved = resolved in at
least half the trials). "Better" is claimed only when the interval excludes 0."""

from __future__ import annotations

import random
from math import comb
from pathlib import Path
from typing import Any

from evals.metrics import per_task
from evals.report import load_rows

RESAMPLES = 10_000


def pass_rates(directory: Path) -> dict[str, float]:
    return {task: c / n for task, (n, c) in per_task(load_rows(directory)).items()}


def bootstrap_interval(deltas: list[float], seed: int = 0) -> tuple[float, float]:
    """95% percentile interval of the mean of `deltas`, resampling tasks with replacement."""
    rng = random.Random(seed)
    n = len(deltas)
    means = sorted(sum(rng.choices(deltas, k=n)) / n for _ in range(RESAMPLES))
    return means[int(0.025 * RESAMPLES)], means[int(0.975 * RESAMPLES) - 1]


def mcnemar_p(only_a: int, only_b: int) -> float:
    """Exact two-sided McNemar p-value from the discordant pairs."""
    n = only_a + only_b
    if n == 0:
        return 1.0
    tail = sum(comb(n, i) for i in range(min(only_a, only_b) + 1)) / 2**n
    return min(1.0, 2 * tail)


def compare(a: Path, b: Path) -> dict[str, Any]:
    rates_a, rates_b = pass_rates(a), pass_rates(b)
    shared = sorted(set(rates_a) & set(rates_b))
    if not shared:
        raise ValueError(f"{a} and {b} have no scored task in common")
    solved_a = {t for t in shared if rates_a[t] >= 0.5}
    solved_b = {t for t in shared if rates_b[t] >= 0.5}
    deltas = [rates_b[t] - rates_a[t] for t in shared]
    low, high = bootstrap_interval(deltas)
    mean_a = sum(rates_a[t] for t in shared) / len(shared)
    mean_b = sum(rates_b[t] for t in shared) / len(shared)
    return {
        "tasks": len(shared),
        "only_in_a": sorted(set(rates_a) - set(rates_b)),
        "only_in_b": sorted(set(rates_b) - set(rates_a)),
        "pass_at_1": {"a": mean_a, "b": mean_b, "delta": mean_b - mean_a},
        "per_task": {t: {"a": rates_a[t], "b": rates_b[t]} for t in shared},
        "newly_solved": sorted(solved_b - solved_a),
        "newly_failing": sorted(solved_a - solved_b),
        "bootstrap_95": [low, high],
        "mcnemar_p": mcnemar_p(len(solved_a - solved_b), len(solved_b - solved_a)),
        "significant": low > 0 or high < 0,
    }


def render(result: dict[str, Any], a: Path, b: Path) -> str:
    p1 = result["pass_at_1"]
    low, high = result["bootstrap_95"]
    lines = [
        f"A = {a}",
        f"B = {b}",
        f"{result['tasks']} shared tasks",
        "",
        f"{'task':<36} {'A':>7} {'B':>7} {'delta':>7}",
    ]
    for task, rates in result["per_task"].items():
        delta = rates["b"] - rates["a"]
        mark = (
            " +"
            if task in result["newly_solved"]
            else " -"
            if task in result["newly_failing"]
            else ""
        )
        lines.append(f"{task:<36} {rates['a']:>7.0%} {rates['b']:>7.0%} {delta:>+7.0%}{mark}")
    lines += [
        "",
        f"pass@1: A {p1['a']:.1%}  B {p1['b']:.1%}  delta {p1['delta']:+.1%} "
        f"(95% paired bootstrap over tasks: {low:+.1%} .. {high:+.1%}; "
        f"McNemar p = {result['mcnemar_p']:.3f})",
        "newly solved: " + (", ".join(result["newly_solved"]) or "none"),
        "newly failing: " + (", ".join(result["newly_failing"]) or "none"),
    ]
    for side in ("a", "b"):
        if result[f"only_in_{side}"]:
            only = ", ".join(result[f"only_in_{side}"])
            lines.append(f"only in {side.upper()} (not compared): {only}")
    if result["significant"]:
        better = "B" if p1["delta"] > 0 else "A"
        lines.append(f"verdict: {better} is better; the difference is larger than its noise")
    else:
        lines.append("verdict: no difference beyond noise (the interval includes 0)")
    return "\n".join(lines)
