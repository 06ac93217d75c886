"""`backend-agent eval report DIR`: summary.json, report.md and a self-contained report.html
from DIR/results.jsonl alone (DIR/run.json adds context when present).

Both documents are rendered from the same tables, so they can never disagree."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any

from evals import plots
from evals.harness import RESULTS, read_results
from evals.metrics import summary

SCRIPTED_NOTE = (
    "SCRIPTED: each task's reference solution typed through the real runner and gate by a "
    "scripted session. This proves the harness; it is not a model's score, and its tokens and "
    "costs come from the loopback server's made-up usage."
)


@dataclass
class Table:
    title: str
    headers: list[str]
    rows: list[list[str]]


def load_rows(directory: Path) -> list[dict[str, Any]]:
    results = directory / RESULTS
    if not results.is_file():
        raise FileNotFoundError(f"{results} does not exist: run `backend-agent eval run` first")
    rows = list(read_results(results).values())
    if not rows:
        raise ValueError(f"{results} holds no results")
    return rows


def write_report(directory: Path) -> dict[str, Any]:
    """Writes summary.json, report.md and report.html into `directory`; returns the summary."""
    rows = load_rows(directory)
    run_json = directory / "run.json"
    context = json.loads(run_json.read_text(encoding="utf-8")) if run_json.is_file() else {}
    data = summary(rows, context)
    (directory / "summary.json").write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    tables = _tables(rows, data)
    title = _title(data)
    (directory / "report.md").write_text(_markdown(title, data, tables), encoding="utf-8")
    (directory / "report.html").write_text(_html(title, data, tables, rows), encoding="utf-8")
    return data


def _title(data: dict[str, Any]) -> str:
    models = ", ".join(data["models"])
    return f"Eval report: {models}" + (" (SCRIPTED)" if data["scripted"] else "")


def pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def usd(value: float | None) -> str:
    return "n/a" if value is None else f"${value:.4f}"


def _group_rows(groups: dict[str, dict[str, Any]]) -> list[list[str]]:
    return [
        [
            name,
            str(g["tasks"]),
            str(g["scored_trials"]),
            pct(g["pass_at_k"].get("1")),
            pct(g["gate_green_rate"]),
            usd(g["mean_cost_per_resolved_usd"]),
            "n/a" if g["median_turns"] is None else f"{g['median_turns']:g}",
        ]
        for name, g in groups.items()
    ]


def _tables(rows: list[dict[str, Any]], data: dict[str, Any]) -> list[Table]:
    tokens = data["mean_tokens_per_resolved"]
    overview = [
        ["tasks", str(data["tasks"])],
        ["trials (scored / infrastructure errors)", f"{data['scored_trials']} / {data['errors']}"],
        *[[f"pass@{k}", pct(v)] for k, v in data["pass_at_k"].items()],
        ["gate-green rate", pct(data["gate_green_rate"])],
        ["mean cost per resolved trial", usd(data["mean_cost_per_resolved_usd"])],
        *[
            [f"mean {key.replace('_', ' ')} per resolved trial", f"{value:,.0f}"]
            for key, value in tokens.items()
            if value is not None
        ],
        ["median turns", "n/a" if data["median_turns"] is None else f"{data['median_turns']:g}"],
        ["total cost", usd(data["total_cost_usd"])],
    ]
    group_headers = ["", "tasks", "trials", "pass@1", "gate green", "cost/resolved", "turns"]
    per_task = []
    for task_id in sorted({r["task_id"] for r in rows}):
        mine = [r for r in rows if r["task_id"] == task_id]
        scored = [r for r in mine if not r.get("error")]
        costs = [r["cost_usd"] for r in scored if r.get("cost_usd") is not None]
        reasons = Counter(str(r.get("stop_reason") or "error") for r in mine)
        per_task.append(
            [
                task_id,
                str(mine[0].get("difficulty")),
                f"{sum(bool(r.get('resolved')) for r in scored)}/{len(scored)}",
                usd(sum(costs) / len(costs) if costs else None),
                ", ".join(f"{k}: {v}" for k, v in sorted(reasons.items())),
                str(sum(1 for r in mine if r.get("error"))),
            ]
        )
    failures = _failure_reasons(rows)
    errors = [[r["task_id"], str(r["trial"]), str(r["error"])] for r in rows if r.get("error")]
    return [
        Table("Overview", ["metric", "value"], overview),
        Table("By difficulty", group_headers, _group_rows(data["by_difficulty"])),
        Table("By tag", group_headers, _group_rows(data["by_tag"])),
        Table(
            "Per task",
            ["task", "difficulty", "resolved", "mean cost", "stop reasons", "errors"],
            per_task,
        ),
        Table(
            "Unresolved trials by stop reason",
            ["stop reason", "trials"],
            [[k, str(v)] for k, v in failures.most_common()],
        ),
        Table("Infrastructure errors (not scored)", ["task", "trial", "error"], errors),
    ]


def _failure_reasons(rows: list[dict[str, Any]]) -> Counter[str]:
    """Why unresolved trials ended; a green gate with failing hidden tests is its own reason."""
    reasons: Counter[str] = Counter()
    for row in rows:
        if row.get("error"):
            reasons["infrastructure error"] += 1
        elif not row.get("resolved"):
            reason = str(row.get("stop_reason") or "unknown")
            reasons["green, hidden tests fail" if reason == "green" else reason] += 1
    return reasons


def _markdown(title: str, data: dict[str, Any], tables: list[Table]) -> str:
    lines = [f"# {title}", ""]
    if data["scripted"]:
        lines += [f"> {SCRIPTED_NOTE}", ""]
    lines += ["Plots: see report.html in this directory.", ""]
    for table in tables:
        if not table.rows:
            continue
        lines += [f"## {table.title}", "", "| " + " | ".join(table.headers) + " |"]
        lines.append("|" + "|".join("---" for _ in table.headers) + "|")
        lines += [
            "| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in table.rows
        ]
        lines.append("")
    return "\n".join(lines)


CSS = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 980px; color: #222; }
h1 { margin-bottom: .2rem; } .note { background: #fff4d6; border-left: 4px solid #e8a400;
padding: .6rem 1rem; } table { border-collapse: collapse; margin: .5rem 0 1.5rem; }
td, th { border-bottom: 1px solid #ddd; padding: .25rem .7rem; text-align: left; }
th { background: #f4f4f4; }
.plots { display: grid; grid-template-columns: repeat(auto-fit, minmax(640px, 1fr)); gap: 1rem; }
figure { margin: 0; } figcaption { font-weight: 600; margin-bottom: .3rem; }
"""


def _html(title: str, data: dict[str, Any], tables: list[Table], rows: list[dict[str, Any]]) -> str:
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{escape(title)}</title><style>{CSS}</style></head><body>",
        f"<h1>{escape(title)}</h1>",
    ]
    if data["scripted"]:
        parts.append(f'<p class="note">{escape(SCRIPTED_NOTE)}</p>')
    run = data.get("run") or {}
    if run:
        spec = (run.get("spec") or {}).get("sha256", "")[:12]
        parts.append(
            f"<p>suite {escape(str(run.get('suite', '')))} · spec {escape(spec)} · started "
            f"{escape(str(run.get('started', '')))}</p>"
        )
    overview, *details = tables
    parts.append(_html_table(overview))
    parts.append('<section class="plots">')
    for caption, svg in _plots(rows, data):
        parts.append(f"<figure><figcaption>{escape(caption)}</figcaption>{svg}</figure>")
    parts.append("</section>")
    parts += [_html_table(table) for table in details if table.rows]
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _html_table(table: Table) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in table.headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>" for row in table.rows
    )
    return (
        f"<h2>{escape(table.title)}</h2>"
        f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    )


def _plots(rows: list[dict[str, Any]], data: dict[str, Any]) -> list[tuple[str, str]]:
    per_task = data["per_task"]
    rates = [(t, v["pass_rate"], f"{v['resolved']}/{v['trials']}") for t, v in per_task.items()]
    points = []
    for task_id, values in per_task.items():
        costs = [
            r["cost_usd"]
            for r in rows
            if r["task_id"] == task_id and not r.get("error") and r.get("cost_usd") is not None
        ]
        if costs:
            points.append((sum(costs) / len(costs), values["pass_rate"], task_id))
    turns = [int(r.get("turns") or 0) for r in rows if not r.get("error")]
    failures = _failure_reasons(rows)
    most = max(failures.values(), default=0)
    return [
        ("Pass rate per task", plots.hbars("Pass rate per task", rates, 1.0, plots.GOOD)),
        (
            "Cost vs. success (one point per task: mean cost of a trial, pass rate)",
            plots.scatter("Cost vs. success", points, "mean cost per trial (USD)", "pass rate"),
        ),
        ("Turns per trial", plots.histogram("Turns per trial", turns, "turns")),
        (
            "Unresolved trials by stop reason",
            plots.hbars(
                "Unresolved trials by stop reason",
                [(k, v, str(v)) for k, v in failures.most_common()],
                most,
                plots.BAD,
            ),
        ),
    ]
