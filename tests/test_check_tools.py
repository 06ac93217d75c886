"""`run_tests` and `run_lint` on real tmp projects, through the real `CommandRunner`."""

from __future__ import annotations

import os
import re
import textwrap
from pathlib import Path

import pytest

from tools.base import Workspace
from tools.checks import RunLintTool, RunTestsTool, concise_ruff
from tools.process import CommandRunner
from tools.sandbox import NoSandbox

RUFF_TOML = 'line-length = 100\n[lint]\nselect = ["E", "F", "I"]\n'


def make_workspace(root: Path, files: dict[str, str], **settings: object) -> Workspace:
    files = {"pytest.ini": "[pytest]\naddopts = -p no:cacheprovider\n", **files}
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(content))
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"  # ~1 s less per inner pytest run
    runner = CommandRunner(NoSandbox(), env=env)
    return Workspace(root=root, executor=runner, **settings)  # type: ignore[arg-type]


TESTS = {
    "tests/test_calc.py": """\
        def test_add():
            assert 1 + 1 == 2


        def test_sub():
            assert 3 - 1 == 1


        def test_mul():
            assert 2 * 2 == 4
    """
}


@pytest.fixture(scope="module")
def tests_ws(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    return make_workspace(tmp_path_factory.mktemp("tests"), TESTS)


def test_definitions_come_from_templates() -> None:
    for tool, field, kind in (
        (RunTestsTool(), "args", "string"),
        (RunLintTool(), "fix", "boolean"),
    ):
        for native in (True, False):
            definition = tool.definition(native)
            assert definition["name"] == tool.name
            assert definition["description"]
            assert "{%" not in definition["description"]
            prop = definition["input_schema"]["properties"][field]
            assert prop["type"] == kind
            assert prop["description"]


def test_run_tests_whole_suite(tests_ws: Workspace) -> None:
    result = RunTestsTool()(tests_ws, {})
    assert not result.is_error  # failing tests are an answer, not a tool failure
    lines = result.output.splitlines()
    assert lines[:2] == ["$ python -m pytest -q", "1 failed, 2 passed"]
    assert "FAILED tests/test_calc.py::test_sub - assert (3 - 1) == 1" in result.output
    assert "E       assert (3 - 1) == 1" in result.output
    assert result.summary == "$ python -m pytest -q -> 1 failed, 2 passed"


def test_run_tests_with_a_test_id(tests_ws: Workspace) -> None:
    result = RunTestsTool()(tests_ws, {"args": "tests/test_calc.py::test_add"})
    assert result.output == "$ python -m pytest -q tests/test_calc.py::test_add\n1 passed"
    assert not result.is_error


def test_run_tests_keyword_expression_is_quoted(tests_ws: Workspace) -> None:
    result = RunTestsTool()(tests_ws, {"args": '-k "add or mul"'})
    assert result.output.splitlines()[:2] == [
        "$ python -m pytest -q -k 'add or mul'",
        "2 passed",
    ]


def test_run_tests_does_not_run_shell_syntax_in_args(tests_ws: Workspace) -> None:
    marker = tests_ws.root / "pwned"
    result = RunTestsTool()(tests_ws, {"args": "tests; touch pwned $(touch pwned2)"})
    assert not marker.exists()
    assert not (tests_ws.root / "pwned2").exists()
    assert "usage or conftest error (exit 4)" in result.output
    assert "file or directory not found" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [("-k 'unbalanced", "Invalid `args`: No closing quotation."), (["-x"], "Invalid `args`")],
)
def test_run_tests_bad_args(tests_ws: Workspace, args: object, message: str) -> None:
    result = RunTestsTool()(tests_ws, {"args": args})
    assert result.is_error
    assert result.output.startswith(message)


def test_run_tests_uses_the_configured_command(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path, TESTS, test_command="python -m pytest -q -x")
    result = RunTestsTool()(ws, {})
    assert result.output.splitlines()[:2] == ["$ python -m pytest -q -x", "1 failed, 1 passed"]


def test_run_tests_empty_suite_is_reported_as_failing(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path, {"tests/test_none.py": "X = 1\n"})
    result = RunTestsTool()(ws, {})
    assert result.output.splitlines()[1] == "no tests ran (exit 5)"
    assert result.summary == "$ python -m pytest -q -> no tests ran (exit 5)"


def test_run_tests_timeout_is_an_error(tmp_path: Path) -> None:
    files = {"tests/test_slow.py": "import time\n\n\ndef test_slow():\n    time.sleep(60)\n"}
    ws = make_workspace(tmp_path, files, command_timeout=2.0)
    result = RunTestsTool()(ws, {})
    assert result.is_error
    assert re.fullmatch(r"timed out after \d+ s", result.output.splitlines()[1])


LINT_FILES = {
    "ruff.toml": RUFF_TOML,
    "pkg/__init__.py": "",
    "pkg/a.py": "import sys\nimport os\ndef f(x):\n    y = 1\n    return x, os.sep\n",
    "pkg/b.py": "x = {  'a':1 }\n",
}


def test_run_lint_reports_every_command(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path, LINT_FILES)
    before = (tmp_path / "pkg/a.py").read_text()
    result = RunLintTool()(ws, {})
    assert not result.is_error
    check, fmt = result.output.split("\n\n")
    assert check.splitlines()[:4] == [
        "$ ruff check --output-format concise . -> 3 errors",
        "pkg/a.py:1: I001 Import block is un-sorted or un-formatted",
        "pkg/a.py:1: F401 `sys` imported but unused",
        "pkg/a.py:4: F841 Local variable `y` is assigned to but never used",
    ]
    assert fmt.splitlines() == [
        "$ ruff format --check . -> 2 files would be reformatted",
        "pkg/a.py: File would be reformatted",
        "pkg/b.py: File would be reformatted",
    ]
    assert result.summary == (
        "$ ruff check . -> 3 errors; $ ruff format --check . -> 2 files would be reformatted"
    )
    assert (tmp_path / "pkg/a.py").read_text() == before  # checking changes nothing


def test_run_lint_fix_applies_fixers_then_reports_what_is_left(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path, LINT_FILES)
    result = RunLintTool()(ws, {"fix": True})
    assert not result.is_error
    fixers, check, fmt = result.output.split("\n\n")
    assert fixers.splitlines() == [
        "$ ruff check --fix --exit-zero --quiet . -> exit 0",
        "$ ruff format --quiet . -> exit 0",
    ]
    assert check.splitlines() == [
        "$ ruff check --output-format concise . -> 1 error",
        "pkg/a.py:5: F841 Local variable `y` is assigned to but never used",
    ]
    assert fmt == "$ ruff format --check . -> clean"
    assert (tmp_path / "pkg/a.py").read_text().startswith("import os\n\n\ndef f(x):\n")
    assert (tmp_path / "pkg/b.py").read_text() == 'x = {"a": 1}\n'
    assert result.summary.startswith("fix, $ ruff check . -> 1 error")


def test_run_lint_uses_configured_commands(tmp_path: Path) -> None:
    ws = make_workspace(
        tmp_path,
        LINT_FILES,
        lint_commands=("ruff format --check pkg/b.py", "ruff check pkg/b.py"),
        extra={"fix_commands": ("ruff format pkg/b.py",)},
    )
    result = RunLintTool()(ws, {"fix": True})
    assert result.output.split("\n\n") == [
        "$ ruff format pkg/b.py -> exit 0",
        "$ ruff format --check pkg/b.py -> clean",
        "$ ruff check --output-format concise pkg/b.py -> clean",
    ]
    assert (tmp_path / "pkg/a.py").read_text() == LINT_FILES["pkg/a.py"]


def test_run_lint_failing_fixer_shows_its_output(tmp_path: Path) -> None:
    ws = make_workspace(
        tmp_path,
        LINT_FILES,
        lint_commands=("ruff check pkg/b.py",),
        extra={"fix_commands": ("echo fixer broke >&2; exit 2",)},
    )
    result = RunLintTool()(ws, {"fix": True})
    assert result.output.split("\n\n")[0] == (
        "$ echo fixer broke >&2; exit 2 -> exit 2\nfixer broke"
    )


def test_run_lint_unknown_linter_shows_its_tail(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path, {}, lint_commands=("echo 'x.py: bad thing'; exit 1",))
    result = RunLintTool()(ws, {})
    assert result.output == "$ echo 'x.py: bad thing'; exit 1 -> exit 1\nx.py: bad thing"


def test_run_lint_bad_fix_value(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path, LINT_FILES)
    result = RunLintTool()(ws, {"fix": "yes"})
    assert result.is_error
    assert "`fix`" in result.output
    assert (tmp_path / "pkg/b.py").read_text() == LINT_FILES["pkg/b.py"]


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("ruff check .", "ruff check --output-format concise ."),
        ("ruff check", "ruff check --output-format concise"),
        ("python -m ruff check app", "python -m ruff check --output-format concise app"),
        ("ruff check --output-format full .", "ruff check --output-format full ."),
        ("ruff check . && echo ok", "ruff check . && echo ok"),
        ("ruff format --check .", "ruff format --check ."),
        ("ruff checker .", "ruff checker ."),
        ("flake8 .", "flake8 ."),
    ],
)
def test_concise_ruff(command: str, expected: str) -> None:
    assert concise_ruff(command) == expected


def test_run_lint_without_commands(tmp_path: Path) -> None:
    result = RunLintTool()(make_workspace(tmp_path, {}, lint_commands=()), {})
    assert result.output == "No lint commands are configured for this repository."
    assert not result.is_error
