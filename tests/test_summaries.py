"""The pytest and ruff summarizers, fed the output of real pytest and ruff runs on tmp projects."""

from __future__ import annotations

import os
import re
import textwrap
from pathlib import Path

import pytest

from tools.process import CommandResult, CommandRunner
from tools.sandbox import NoSandbox
from tools.summaries import (
    REPORT_CHARS,
    SECTION_LINES,
    LintSummary,
    TestSummary,
    summarize_lint,
    summarize_pytest,
)

RUFF_TOML = 'line-length = 100\n[lint]\nselect = ["E", "F", "I"]\n'

MIXED_TESTS = """\
    import pytest


    def helper(x):
        return x + 1


    def test_ok():
        assert helper(1) == 2


    def test_bad():
        data = {"a": 1}
        assert helper(data["a"]) == 3


    @pytest.mark.parametrize("n", [1, 2])
    def test_param(n):
        assert n == 1


    @pytest.mark.skip(reason="not today")
    def test_skip():
        pass


    @pytest.mark.xfail
    def test_xfail():
        assert 0


    @pytest.mark.xfail
    def test_xpass():
        pass


    @pytest.fixture
    def broken():
        raise RuntimeError("fixture boom")


    def test_err(broken):
        pass


    class TestThing:
        def test_method(self):
            raise ValueError("bad value")
"""
MIXED_FAILING = [
    "tests/test_mixed.py::test_bad",
    "tests/test_mixed.py::test_param[2]",
    "tests/test_mixed.py::TestThing::test_method",
    "tests/test_mixed.py::test_err",
]
MIXED_HEADLINE = "3 failed, 2 passed, 1 skipped, 1 xfailed, 1 xpassed, 1 error"


def clean_env(**extra: str) -> dict[str, str]:
    """The outer pytest's own variables (PYTEST_ADDOPTS, PYTEST_CURRENT_TEST...) must not leak."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "PY_COLORS"))}
    env.pop("FORCE_COLOR", None)
    # Entry-point plugins (hypothesis, benchmark, asyncio...) cost ~1 s per inner pytest run.
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    env.update(extra)
    return env


def run(root: Path, command: str, timeout: float = 60, **env: str) -> CommandResult:
    return CommandRunner(NoSandbox(), env=clean_env(**env)).run(command, root, timeout)


def make_project(root: Path, files: dict[str, str], addopts: str = "") -> Path:
    files = {"pytest.ini": f"[pytest]\naddopts = -p no:cacheprovider {addopts}\n", **files}
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(content))
    return root


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_project(tmp_path_factory.mktemp("mixed"), {"tests/test_mixed.py": MIXED_TESTS})


# ------------------------------------------------------------------------------------ pytest


@pytest.mark.parametrize(
    ("addopts", "env"),
    [
        ("", {}),
        # The repo's addopts adds its own -q: pytest runs at -qq and prints no counts line.
        ("-q", {}),
        ("", {"PY_COLORS": "1"}),
    ],
    ids=["q", "qq", "colour"],
)
def test_mixed_outcomes_are_counted_and_failures_named(
    tmp_path: Path, addopts: str, env: dict[str, str]
) -> None:
    root = make_project(tmp_path, {"tests/test_mixed.py": MIXED_TESTS}, addopts=addopts)
    result = run(root, "python -m pytest -q", **env)
    assert result.exit_code == 1
    if addopts:
        assert " in " not in result.output.splitlines()[-1]  # really no counts line
    if env:
        assert "\x1b[" in result.output

    summary = summarize_pytest(result)

    assert isinstance(summary, TestSummary)
    assert (summary.passed, summary.failed, summary.errors) == (2, 3, 1)
    assert (summary.skipped, summary.xfailed, summary.xpassed) == (1, 1, 1)
    assert summary.failing == MIXED_FAILING
    assert not summary.ok
    assert summary.headline == MIXED_HEADLINE
    report = summary.report
    assert "FAILED tests/test_mixed.py::test_bad - assert 2 == 3" in report
    assert "ERROR tests/test_mixed.py::test_err - RuntimeError: fixture boom" in report
    assert "E       assert 2 == 3" in report
    assert "tests/test_mixed.py:14: AssertionError" in report
    assert "E       ValueError: bad value" in report
    assert "--- ERROR at setup of test_err ---" in report
    assert "\x1b[" not in report


def test_without_short_summary_or_counts_line_ids_come_from_sections(mixed: Path) -> None:
    summary = summarize_pytest(run(mixed, "python -m pytest -qq -rN"))
    assert (summary.passed, summary.failed, summary.errors) == (2, 3, 1)
    assert summary.failing == ["test_err", "test_bad", "test_param[2]", "TestThing.test_method"]
    assert "E       assert 2 == 1" in summary.report


def test_verbose_output(mixed: Path) -> None:
    summary = summarize_pytest(run(mixed, "python -m pytest -v"))
    assert summary.headline == MIXED_HEADLINE
    assert summary.failing == MIXED_FAILING


def test_passing_suite_is_green_with_a_short_report(tmp_path: Path) -> None:
    root = make_project(
        tmp_path,
        {"tests/test_ok.py": "def test_a():\n    pass\n\n\ndef test_b():\n    assert 1 + 1 == 2\n"},
    )
    summary = summarize_pytest(run(root, "python -m pytest -q"))
    assert summary.ok
    assert summary.headline == "2 passed"
    assert (summary.passed, summary.failed, summary.errors, summary.failing) == (2, 0, 0, [])
    assert summary.report == ""


@pytest.mark.parametrize("verbosity", ["-q", "-qq"])
def test_import_error_at_collection_is_red_and_shows_the_cause(
    tmp_path: Path, verbosity: str
) -> None:
    root = make_project(
        tmp_path,
        {
            "tests/test_ok.py": "def test_a():\n    pass\n",
            "tests/test_imp.py": "import nonexistent_mod\n\n\ndef test_b():\n    pass\n",
        },
    )
    result = run(root, f"python -m pytest {verbosity}")
    assert result.exit_code == 2
    summary = summarize_pytest(result)
    assert not summary.ok
    assert summary.errors == 1
    assert summary.passed == 0
    assert summary.failing == ["tests/test_imp.py"]
    assert summary.headline == "1 error during collection (exit 2)"
    assert "ModuleNotFoundError: No module named 'nonexistent_mod'" in summary.report


def test_all_skipped_suite_is_red(tmp_path: Path) -> None:
    root = make_project(
        tmp_path,
        {
            "tests/test_s.py": """\
                import pytest


                @pytest.mark.skip
                def test_a():
                    pass


                def test_b():
                    pytest.skip("later")
            """
        },
    )
    result = run(root, "python -m pytest -q")
    assert result.exit_code == 0
    summary = summarize_pytest(result)
    assert not summary.ok
    assert summary.skipped == 2
    assert summary.headline == "2 skipped, no test passed"
    assert summary.report


@pytest.mark.parametrize("verbosity", ["-q", "-qq"])
def test_empty_suite_is_red(tmp_path: Path, verbosity: str) -> None:
    root = make_project(tmp_path, {"tests/test_empty.py": "X = 1\n"})
    result = run(root, f"python -m pytest {verbosity}")
    assert result.exit_code == 5
    summary = summarize_pytest(result)
    assert not summary.ok
    assert summary.headline == "no tests ran (exit 5)"
    assert "no tests" in summary.report


def test_broken_conftest_shows_the_error(tmp_path: Path) -> None:
    root = make_project(
        tmp_path,
        {
            "tests/conftest.py": "raise RuntimeError('boom in conftest')\n",
            "tests/test_x.py": "def test_x():\n    pass\n",
        },
    )
    result = run(root, "python -m pytest -q")
    assert result.exit_code == 4
    summary = summarize_pytest(result)
    assert not summary.ok
    assert summary.headline == "usage or conftest error (exit 4)"
    assert "RuntimeError: boom in conftest" in summary.report


def test_missing_test_runner_is_red_with_the_shell_message(tmp_path: Path) -> None:
    summary = summarize_pytest(run(tmp_path, "no-such-pytest-binary -q"))
    assert not summary.ok
    assert summary.headline == "exit 127"
    assert "command not found" in summary.report


def test_timed_out_run_is_red(tmp_path: Path) -> None:
    root = make_project(
        tmp_path, {"tests/test_slow.py": "import time\n\n\ndef test_slow():\n    time.sleep(60)\n"}
    )
    result = run(root, "python -m pytest -q", timeout=2)
    assert result.timed_out
    summary = summarize_pytest(result)
    assert not summary.ok
    assert re.fullmatch(r"timed out after \d+ s", summary.headline)


def test_long_tracebacks_are_trimmed_and_the_report_is_capped(tmp_path: Path) -> None:
    filler = "\n".join(f"    step_{i} = {i}" for i in range(40))
    cases = "\n".join(
        f"def test_long_{n}():\n{filler}\n    assert step_39 == {n}, 'x' * 200\n\n"
        for n in range(30)
    )
    root = make_project(tmp_path, {"tests/test_long.py": cases})
    summary = summarize_pytest(run(root, "python -m pytest -q"))
    assert summary.failed == 30
    assert len(summary.failing) == 30
    assert len(summary.report) <= REPORT_CHARS + 200
    assert "more failure sections not shown" in summary.report
    first = summary.report.split("--- test_long_0 ---\n", 1)[1].split("\n\n---", 1)[0]
    lines = first.splitlines()
    assert lines[0] == "..."
    assert len(lines) <= SECTION_LINES + 1
    assert "step_0 = 0" not in first  # the top of the function is dropped...
    assert any(line.startswith("E       AssertionError") for line in lines)  # ...not the cause
    assert lines[-1] == "tests/test_long.py:42: AssertionError"


def test_captured_output_keeps_its_last_lines(tmp_path: Path) -> None:
    root = make_project(
        tmp_path,
        {
            "tests/test_out.py": """\
                def test_out():
                    for i in range(20):
                        print(f"line {i}")
                    assert False
            """
        },
    )
    summary = summarize_pytest(run(root, "python -m pytest -q"))
    assert "Captured stdout call" in summary.report
    assert "line 19" in summary.report
    assert "line 3\n" not in summary.report


# -------------------------------------------------------------------------------------- lint

LINT_FILES = {
    "ruff.toml": RUFF_TOML,
    "pkg/__init__.py": "",
    "pkg/a.py": "import os\nimport sys\ndef f(x):\n    y = 1\n    return x\n",
    "pkg/b.py": "x = {  'a':1 }\n",
    "pkg/c.py": "def g(:\n    pass\n",
}
A_PROBLEMS = [
    "pkg/a.py:1: I001 Import block is un-sorted or un-formatted",
    "pkg/a.py:1: F401 `os` imported but unused",
    "pkg/a.py:2: F401 `sys` imported but unused",
    "pkg/a.py:4: F841 Local variable `y` is assigned to but never used",
]
C_PROBLEMS = [
    "pkg/c.py:1: invalid-syntax Expected a parameter or the end of the parameter list",
    "pkg/c.py:1: invalid-syntax Expected `)`, found newline",
]


@pytest.fixture(scope="module")
def lint_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_project(tmp_path_factory.mktemp("lint"), LINT_FILES)


@pytest.mark.parametrize("fmt", ["", "--output-format full", "concise", "grouped", "pylint"])
def test_ruff_check_problems_in_every_output_format(lint_project: Path, fmt: str) -> None:
    option = fmt if fmt.startswith("--") or not fmt else f"--output-format {fmt}"
    result = run(lint_project, f"ruff check {option} .")
    assert result.exit_code == 1
    summary = summarize_lint(result)
    assert isinstance(summary, LintSummary)
    assert not summary.ok
    assert summary.problems == A_PROBLEMS + C_PROBLEMS
    assert summary.headline == "6 errors"
    assert summary.report.startswith("\n".join(A_PROBLEMS + C_PROBLEMS))
    assert " | " not in summary.report  # no code frames


def test_ruff_check_in_colour(lint_project: Path) -> None:
    result = run(lint_project, "ruff check .", CLICOLOR_FORCE="1")
    assert "\x1b[" in result.output
    assert summarize_lint(result).problems == A_PROBLEMS + C_PROBLEMS


def test_ruff_fixable_hint_is_kept(lint_project: Path) -> None:
    summary = summarize_lint(run(lint_project, "ruff check pkg/a.py"))
    assert summary.problems == A_PROBLEMS
    assert summary.report.splitlines()[-1].startswith("[*] 3 fixable with `--fix`")


def test_ruff_format_check_lists_the_files(lint_project: Path) -> None:
    result = run(lint_project, "ruff format --check pkg/a.py pkg/b.py")
    assert result.exit_code == 1
    summary = summarize_lint(result)
    assert not summary.ok
    assert summary.problems == [
        "pkg/a.py: File would be reformatted",
        "pkg/b.py: File would be reformatted",
    ]
    assert summary.headline == "2 files would be reformatted"


def test_ruff_format_check_with_a_syntax_error(lint_project: Path) -> None:
    result = run(lint_project, "ruff format --check .")
    assert result.exit_code == 2
    summary = summarize_lint(result)
    assert "pkg/b.py: File would be reformatted" in summary.problems
    assert C_PROBLEMS[0] in summary.problems
    assert not summary.ok


def test_clean_project_is_green(tmp_path: Path) -> None:
    root = make_project(tmp_path, {"ruff.toml": RUFF_TOML, "ok.py": "X = 1\n"})
    for command in ("ruff check .", "ruff format --check ."):
        summary = summarize_lint(run(root, command))
        assert summary.ok, command
        assert summary.headline == "clean"
        assert summary.problems == []


def test_unknown_linter_reports_the_tail_of_its_output(tmp_path: Path) -> None:
    script = "for i in $(seq 1 100); do echo noise $i; done; echo 'mylint: 2 problems' >&2; exit 3"
    summary = summarize_lint(run(tmp_path, script))
    assert not summary.ok
    assert summary.headline == "exit 3"
    assert summary.report.endswith("mylint: 2 problems")
    assert "noise 1\n" not in summary.report


def test_older_ruff_wording() -> None:
    # ruff < 0.9 printed these shapes; the installed ruff cannot produce them.
    output = (
        "app/x.py:3:1: E402 Module level import not at top of file\n"
        "Found 1 error.\n"
        "Would reformat: app/y.py\n"
        "1 file would be reformatted\n"
    )
    summary = summarize_lint(CommandResult("ruff check . && ruff format --check .", 1, output))
    assert summary.problems == [
        "app/x.py:3: E402 Module level import not at top of file",
        "app/y.py: File would be reformatted",
    ]
    assert summary.headline == "1 error, 1 file would be reformatted"
