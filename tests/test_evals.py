"""The eval harness without trials: task loading and its one-line errors, the metrics against
numbers computed by hand, the reports (rendered in a real headless Chromium), and compare."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evals.compare import compare, mcnemar_p
from evals.metrics import pass_at_k, summary
from evals.report import write_report
from evals.tasks import BUILTIN_SUITE, TaskError, load_suite, load_task
from evals.trial import RESULT_KEYS

TOML = """\
id = "{id}"
instruction = "add books resource"
difficulty = "easy"
tags = ["crud"]
"""


def make_task(suite: Path, task_id: str, toml: str | None = None, **files: str) -> Path:
    path = suite / task_id
    (path / "hidden_tests").mkdir(parents=True)
    (path / "task.toml").write_text(TOML.format(id=task_id) if toml is None else toml)
    (path / "hidden_tests" / "test_x.py").write_text("def test_x() -> None:\n    assert False\n")
    (path / "solution.patch").write_text("")
    for name, text in files.items():
        (path / name.replace("__", ".")).write_text(text)
    return path


def test_the_builtin_suite_loads_and_covers_the_topics() -> None:
    tasks, errors = load_suite(BUILTIN_SUITE)
    assert errors == []
    assert len(tasks) >= 15
    assert {t.difficulty for t in tasks} == {"easy", "medium", "hard"}
    tags = {tag for t in tasks for tag in t.tags}
    for topic in ("crud", "pagination", "search", "conflict", "delete", "ownership", "enum"):
        assert topic in tags
    for topic in ("patch", "timestamps", "m2m", "nested", "validation", "auth", "bugfix"):
        assert topic in tags
    assert "migration" in tags


@pytest.mark.parametrize(
    ("toml", "files", "cause"),
    [
        ('id = "t"\ninstruction = "x"\ndifficulty = "easy"\ntags = [', {}, "not valid TOML"),
        (TOML.format(id="t") + "colour = 1\n", {}, "unknown key 'colour'"),
        (TOML.format(id="other"), {}, "is not the directory name"),
        (TOML.format(id="t").replace("easy", "trivial"), {}, "difficulty must be one of"),
        (TOML.format(id="t") + 'setup_patch = "setup.patch"\n', {}, "does not exist"),
        (TOML.format(id="t") + "[budget]\nmax_turns = -1\n", {}, "must be a positive number"),
        (TOML.format(id="t") + "[budget]\nturns = 3\n", {}, "unknown key 'turns'"),
    ],
)
def test_a_broken_task_is_one_line_naming_it(
    tmp_path: Path, toml: str, files: dict[str, str], cause: str
) -> None:
    make_task(tmp_path, "t", toml, **files)
    with pytest.raises(TaskError) as caught:
        load_task(tmp_path / "t")
    assert str(caught.value).startswith("t: ")
    assert cause in str(caught.value)
    assert "\n" not in str(caught.value)


def test_one_bad_task_does_not_hide_the_others(tmp_path: Path) -> None:
    make_task(tmp_path, "good")
    make_task(tmp_path, "bad", "not toml [")
    (tmp_path / "good" / "solution.patch").unlink()
    make_task(tmp_path, "fine")
    tasks, errors = load_suite(tmp_path, None)
    assert [t.id for t in tasks] == ["fine"]
    assert sorted(e.task_id for e in errors) == ["bad", "good"]
    assert "solution.patch is missing" in str(next(e for e in errors if e.task_id == "good"))
    _, unknown = load_suite(tmp_path, ["fine", "nope"])
    assert [str(e) for e in unknown] == [f"nope: no such task in {tmp_path}"]


def test_validate_names_every_broken_task(tmp_path: Path, cli) -> None:
    make_task(tmp_path, "bad-toml", "id = ")
    make_task(tmp_path, "bad-patch", **{"solution__patch": "diff --git a/x b/x\ngarbage\n"})
    good = make_task(tmp_path, "bad-setup", TOML.format(id="bad-setup") + SETUP)
    (good / "setup.patch").write_text(BROKEN_SETUP)
    result = cli("eval", "validate", "--suite", str(tmp_path), "--jobs", "1", cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("broken task")]
    assert len(errors) == 3
    assert any(e.startswith("broken task bad-toml: task.toml is not valid TOML") for e in errors)
    assert any(e.startswith("broken task bad-setup: setup.patch does not apply") for e in errors)
    assert any(e.startswith("broken task bad-patch: ") for e in errors)


SETUP = 'setup_patch = "setup.patch"\n'
BROKEN_SETUP = """\
diff --git a/app/main.py b/app/main.py
--- a/app/main.py
+++ b/app/main.py
@@ -1,2 +1,2 @@
-this line is not in the scaffold
+nor is this one
"""


def test_run_refuses_an_unknown_model_and_an_unreachable_server(tmp_path: Path, cli) -> None:
    args = ("eval", "run", "--tasks", "books-resource", "--out", str(tmp_path / "out"))
    unknown = cli(*args, "--model", "gpt-4o", cwd=tmp_path)
    assert unknown.returncode == 2
    assert unknown.stderr.strip().splitlines() == [
        "backend-agent eval: error: unknown model 'gpt-4o': use a Claude model id such as "
        "claude-sonnet-4-6"
    ]
    down = cli(*args, "--base-url", "http://127.0.0.1:9", cwd=tmp_path)
    assert down.returncode == 2
    [line] = down.stderr.strip().splitlines()
    assert line.startswith("backend-agent eval: error: cannot reach the model server ")
    assert not (tmp_path / "out" / "results.jsonl").exists()


# ---------------------------------------------------------------------------------------------
# Metrics, reports, compare: on results.jsonl files written here.


def row(task: str, trial: int, resolved: bool, **extra: object) -> dict[str, object]:
    data: dict[str, object] = dict.fromkeys(RESULT_KEYS)
    data.update(
        task_id=task,
        trial=trial,
        model="claude-sonnet-4-6",
        scripted=False,
        difficulty={"a": "easy", "b": "hard", "c": "easy"}.get(task, "medium"),
        tags=["crud"] if task != "b" else ["crud", "m2m"],
        resolved=resolved,
        gate_green=resolved,
        quality_violations=0,
        turns=10 * trial,
        input_tokens=1000,
        output_tokens=100,
        cache_creation_input_tokens=0,
        cache_read_input_tokens=0,
        cost_usd=0.5,
        wall_s=60.0,
        stop_reason="green" if resolved else "max_turns",
        error=None,
    )
    data.update(extra)
    return data


def write_results(directory: Path, rows: list[dict[str, object]]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return directory


# a: 1 of 3 resolved, b: 0 of 3 (plus an infrastructure error, not scored), c: 3 of 3.
ROWS = [
    row("a", 1, True),
    row("a", 2, False),
    row("a", 3, False),
    row("b", 1, False),
    row("b", 2, False),
    row("b", 3, False, gate_green=True, stop_reason="green"),
    row("b", 4, False, error="APIConnectionError: overloaded", cost_usd=None),
    row("c", 1, True),
    row("c", 2, True),
    row("c", 3, True),
]


def test_pass_at_k_matches_the_numbers_computed_by_hand() -> None:
    assert pass_at_k(3, 1, 1) == pytest.approx(1 / 3)
    assert pass_at_k(3, 1, 2) == pytest.approx(2 / 3)  # 1 - C(2,2)/C(3,2) = 1 - 1/3
    assert pass_at_k(3, 1, 3) == 1.0
    assert pass_at_k(5, 0, 2) == 0.0
    data = summary(ROWS)
    # pass@1 = (1/3 + 0 + 1) / 3; pass@2 = (2/3 + 0 + 1) / 3; pass@3 = (1 + 0 + 1) / 3
    assert data["pass_at_k"] == pytest.approx({"1": 4 / 9, "2": 5 / 9, "3": 2 / 3})
    assert (data["tasks"], data["trials"], data["scored_trials"], data["errors"]) == (3, 10, 9, 1)
    assert data["gate_green_rate"] == pytest.approx(5 / 9)
    # nine scored trials at $0.50, four resolved
    assert data["mean_cost_per_resolved_usd"] == pytest.approx(4.5 / 4)
    assert data["mean_tokens_per_resolved"]["input_tokens"] == pytest.approx(9000 / 4)
    assert data["median_turns"] == 20
    assert data["by_difficulty"]["hard"]["pass_at_k"] == {"1": 0.0, "2": 0.0, "3": 0.0}
    assert data["by_difficulty"]["easy"]["pass_at_k"]["1"] == pytest.approx((1 / 3 + 1) / 2)
    assert data["by_tag"]["m2m"]["tasks"] == 1
    assert data["by_tag"]["crud"]["pass_at_k"]["1"] == pytest.approx(4 / 9)


def test_a_retried_trial_replaces_its_error_and_a_torn_line_is_ignored(tmp_path: Path) -> None:
    retried = [*ROWS, row("b", 4, True)]
    directory = write_results(tmp_path / "run", retried)
    with (directory / "results.jsonl").open("a") as handle:
        handle.write('{"task_id": "c", "tri')  # a writer killed mid-line
    data = write_report(directory)
    assert data["errors"] == 0
    assert data["trials"] == 10
    # b now has 4 scored trials, 1 resolved; pass@k stops at k = 3, the fewest trials of a task
    assert data["pass_at_k"]["1"] == pytest.approx((1 / 3 + 1 / 4 + 1) / 3)
    assert set(data["pass_at_k"]) == {"1", "2", "3"}


def test_report_writes_summary_markdown_and_a_self_contained_page(tmp_path: Path) -> None:
    directory = write_results(tmp_path / "run", ROWS)
    data = write_report(directory)
    saved = json.loads((directory / "summary.json").read_text())
    for key in (
        "tasks",
        "trials",
        "scripted",
        "pass_at_k",
        "gate_green_rate",
        "mean_cost_per_resolved_usd",
        "median_turns",
        "by_difficulty",
        "by_tag",
    ):
        assert saved[key] == data[key]
    markdown = (directory / "report.md").read_text()
    assert markdown.startswith("# Eval report: claude-sonnet-4-6\n")
    assert "| pass@2 | 55.6% |" in markdown
    assert "| max_turns | 4 |" in markdown  # unresolved trials by stop reason
    assert "| green, hidden tests fail | 1 |" in markdown
    assert "APIConnectionError: overloaded" in markdown
    page = (directory / "report.html").read_text()
    assert page.count("<svg") == 4
    assert "<script" not in page
    assert "src=" not in page and "href=" not in page  # nothing to fetch


def test_a_scripted_run_says_so_everywhere(tmp_path: Path) -> None:
    rows = [row("a", 1, True, scripted=True, model="scripted")]
    directory = write_results(tmp_path / "run", rows)
    data = write_report(directory)
    assert data["scripted"] is True
    assert (directory / "report.md").read_text().startswith("# Eval report: scripted (SCRIPTED)")
    assert "not a model&#x27;s score" in (directory / "report.html").read_text()


def test_report_of_a_directory_without_results_is_one_line(tmp_path: Path, cli) -> None:
    result = cli("eval", "report", str(tmp_path), cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"backend-agent eval: error: {tmp_path}/results.jsonl does not exist: run "
        "`backend-agent eval run` first"
    ]


def test_report_renders_in_headless_chromium_without_console_errors(tmp_path: Path) -> None:
    playwright = pytest.importorskip("playwright.sync_api")
    if not Path("/usr/bin/chromium").exists():
        pytest.skip("Debian's chromium is not installed (.ci/run installs it)")
    directory = write_results(tmp_path / "run", ROWS)
    write_report(directory)
    problems: list[str] = []
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1100, "height": 900})
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.on(
            "request",
            lambda r: (
                problems.append(f"fetched {r.url}") if not r.url.startswith("file:") else None
            ),
        )
        page.goto((directory / "report.html").as_uri())
        assert page.title() == "Eval report: claude-sonnet-4-6"
        assert page.locator("svg").count() == 4
        box = page.locator("svg").first.bounding_box()
        assert box is not None and box["width"] > 300 and box["height"] > 50
        assert page.locator("rect").count() >= 3
        page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
        browser.close()
    assert problems == []
    assert (tmp_path / "report.png").stat().st_size > 10_000


def test_compare_finds_the_changes_and_weighs_the_noise(tmp_path: Path, cli) -> None:
    tasks = [f"t{i:02d}" for i in range(12)]
    before = [row(t, n, resolved=i < 4) for i, t in enumerate(tasks) for n in (1, 2)]
    after = [row(t, n, resolved=i < 11 and t != "t00") for i, t in enumerate(tasks) for n in (1, 2)]
    a = write_results(tmp_path / "a", before)
    b = write_results(tmp_path / "b", after)
    result = compare(a, b)
    assert result["pass_at_1"]["a"] == pytest.approx(4 / 12)
    assert result["pass_at_1"]["b"] == pytest.approx(10 / 12)
    assert result["newly_solved"] == [f"t{i:02d}" for i in range(4, 11)]
    assert result["newly_failing"] == ["t00"]
    assert result["mcnemar_p"] == pytest.approx(mcnemar_p(1, 7))
    assert mcnemar_p(1, 7) == pytest.approx(2 * (1 + 8) / 2**8)  # 0.0703: by hand
    low, high = result["bootstrap_95"]
    assert 0 < low < 0.5 < high
    assert result["significant"] is True
    shown = cli("eval", "compare", str(a), str(b), cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert "newly failing: t00" in shown.stdout
    assert "verdict: B is better" in shown.stdout
    same = compare(a, write_results(tmp_path / "c", before))
    assert same["significant"] is False
    assert (same["newly_solved"], same["newly_failing"]) == ([], [])


def test_max_total_cost_stops_new_trials_and_the_default_is_printed(
    tmp_path: Path, cli, fake_api
) -> None:
    server = fake_api([])
    spent = [row("books-resource", 1, True, cost_usd=3.0)]
    out = write_results(tmp_path / "out", spent)
    args = ("eval", "run", "--tasks", "books-resource,movies-patch", "--out", str(out))
    capped = cli(*args, "--scripted", "--max-total-cost", "2", cwd=tmp_path)
    assert capped.returncode == 0, capped.stderr
    assert "1 trials to run, 1 already done" in capped.stdout
    assert "spent $3.00 of --max-total-cost $2.00: not starting the 1 remaining trials" in (
        capped.stdout
    )
    real = cli(*args, "--base-url", server.url, cwd=tmp_path)
    assert real.returncode == 0, real.stderr
    assert (
        "1 trials of claude-sonnet-4-6: roughly $1 (~$1.00 a trial); no new trial starts after "
        "$2.00 (--max-total-cost)"
    ) in real.stdout
    assert "not starting the 1 remaining trials" in real.stdout
    assert len((out / "results.jsonl").read_text().splitlines()) == 1
    assert server.message_requests == []


def test_a_task_may_start_from_its_own_git_bundle(tmp_path: Path) -> None:
    from evals.tasks import build_base
    from tests.conftest import git, init_repo

    ours = init_repo(tmp_path / "ours", {"service.py": "VERSION = 1\n"})
    task = make_task(tmp_path / "suite", "ours", TOML.format(id="ours") + 'base = "base.bundle"\n')
    git(ours, "bundle", "create", str(task / "base.bundle"), "HEAD", "main")
    root, commit = build_base(load_task(task), tmp_path / "trial")
    assert (root / "service.py").read_text() == "VERSION = 1\n"
    assert commit == git(ours, "rev-parse", "HEAD")
    assert git(root, "status", "--porcelain") == ""
