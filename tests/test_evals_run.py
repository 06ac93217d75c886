"""The eval harness end to end: the whole built-in suite validates, and a scripted run drives
the real runner and gate (real sandbox, PostgreSQL, ruff, pytest, Alembic) through
`agent.api`, writes every output, resumes, and reruns only its errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from evals.tasks import BUILTIN_SUITE, load_suite
from evals.trial import RESULT_KEYS
from tests.test_evals import BROKEN_SETUP

pytest.importorskip("fastapi")

STALE_SOLUTIONS = pytest.mark.xfail(
    strict=True,
    reason="the built-in tasks' solution.patch files predate the hardened scaffold: their models "
    "index primary keys (the scaffold's own test_primary_keys_have_no_second_index fails) and "
    "most of their endpoints fail the new fuzz check; `python -m evals.authoring refresh` cannot "
    "fix that, the solutions need rewriting (issue 8 stays open until they are)",
)


@STALE_SOLUTIONS
def test_the_builtin_suite_validates(tmp_path: Path, cli) -> None:
    result = cli("eval", "validate", "--jobs", "2", cwd=tmp_path, timeout=1800)
    assert result.returncode == 0, result.stdout + result.stderr
    tasks, _ = load_suite(BUILTIN_SUITE)
    assert f"all {len(tasks)} tasks valid" in result.stdout
    assert result.stdout.count("✓") == 3 * len(tasks)


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@STALE_SOLUTIONS
def test_a_scripted_run_resolves_resumes_and_retries_only_errors(tmp_path: Path, cli) -> None:
    suite = tmp_path / "suite"
    for task_id in ("announcements-protected-create", "books-pagination-bug"):
        shutil.copytree(BUILTIN_SUITE / task_id, suite / task_id)
    broken = suite / "zz-broken"
    shutil.copytree(BUILTIN_SUITE / "announcements-protected-create", broken)
    (broken / "task.toml").write_text(
        (broken / "task.toml").read_text().replace("announcements-protected-create", "zz-broken")
    )
    (broken / "setup.patch").write_text(BROKEN_SETUP)
    out = tmp_path / "out"
    args = ("eval", "run", "--scripted", "--suite", str(suite), "--jobs", "2", "--out", str(out))

    first = cli(*args, cwd=tmp_path, timeout=900)
    assert first.returncode == 1, first.stdout + first.stderr  # one trial hit an error
    rows = {r["task_id"]: r for r in lines(out / "results.jsonl")}
    assert set(rows) == {"announcements-protected-create", "books-pagination-bug", "zz-broken"}
    for task_id in ("announcements-protected-create", "books-pagination-bug"):
        row = rows[task_id]
        assert list(row) == list(RESULT_KEYS)
        assert (row["resolved"], row["gate_green"], row["error"]) == (True, True, None)
        assert (row["scripted"], row["model"], row["stop_reason"]) == (True, "scripted", "green")
        assert row["turns"] == 2 and row["quality_violations"] == 0
        assert row["input_tokens"] > 0 and row["cost_usd"] > 0
        trial = out / "trials" / task_id / "1"
        assert (trial / "transcript.jsonl").stat().st_size > 0
        assert "diff --git" in (trial / "diff.patch").read_text()
        assert not (trial / "work").exists()
    assert rows["zz-broken"]["resolved"] is False
    assert rows["zz-broken"]["error"].startswith("setup.patch does not apply")
    predictions = {p["instance_id"]: p for p in lines(out / "predictions.jsonl")}
    assert set(predictions) == set(rows)
    assert predictions["books-pagination-bug"]["model_name_or_path"] == "scripted"
    assert "app/services/book.py" in predictions["books-pagination-bug"]["model_patch"]
    run = json.loads((out / "run.json").read_text())
    assert run["scripted"] is True and len(run["spec"]["sha256"]) == 64
    assert (out / "report.md").read_text().startswith("# Eval report: scripted (SCRIPTED)")
    assert "SCRIPTED run (not a model's score): pass@1 100.0% over 3 tasks" in first.stdout

    again = cli(*args, cwd=tmp_path, timeout=300)
    assert "0 trials to run, 3 already done" in again.stdout
    assert len(lines(out / "results.jsonl")) == 3

    shutil.copyfile(
        BUILTIN_SUITE / "announcements-protected-create" / "setup.patch", broken / "setup.patch"
    )
    retried = cli(*args, "--retry-errors", cwd=tmp_path, timeout=600)
    assert retried.returncode == 0, retried.stdout + retried.stderr
    assert "1 trials to run, 2 already done" in retried.stdout
    after = lines(out / "results.jsonl")
    assert len(after) == 4
    assert (after[-1]["task_id"], after[-1]["resolved"], after[-1]["error"]) == (
        "zz-broken",
        True,
        None,
    )
    assert json.loads((out / "summary.json").read_text())["pass_at_k"] == {"1": 1.0}
