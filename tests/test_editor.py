"""The text editor against real files in a temporary workspace: every command, every message."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from tools.base import ToolError, ToolResult, Workspace
from tools.editor import INPUT_SCHEMA, NAME, TextEditor
from tools.paths import protected_rule, relative_display, resolve_in_workspace
from tools.process import CommandResult

CLIP_START = "<response clipped><NOTE>To save on context only part of this file has been shown"


class NoExecutor:
    """The editor must never run a command."""

    def run(self, command: str, cwd: Path, timeout: float) -> CommandResult:
        raise AssertionError(f"the editor ran a command: {command}")


@pytest.fixture
def root(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    return repo


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    away = tmp_path / "outside"
    away.mkdir()
    (away / "secret.txt").write_text("secret\n")
    return away


@pytest.fixture
def workspace(root: Path) -> Workspace:
    return Workspace(root=root, executor=NoExecutor())


def call(workspace: Workspace, editor: TextEditor | None = None, **tool_input: Any) -> ToolResult:
    return (editor or TextEditor())(workspace, tool_input)


def write(root: Path, rel: str, content: str | bytes) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_bytes(content.encode())
    return path


def ok(result: ToolResult) -> str:
    assert not result.is_error, result.output
    return result.output


def err(result: ToolResult) -> str:
    assert result.is_error, result.output
    return result.output


# -- definition ------------------------------------------------------------------------------


def test_native_definition_is_the_builtin_type() -> None:
    assert TextEditor(max_characters=9000).definition(native=True) == {
        "type": "text_editor_20250728",
        "name": "str_replace_based_edit_tool",
        "max_characters": 9000,
    }


def test_plain_definition_has_schema_and_rendered_description() -> None:
    definition = TextEditor(max_characters=12345).definition(native=False)
    assert set(definition) == {"name", "description", "input_schema"}
    assert definition["name"] == NAME
    schema = definition["input_schema"]
    assert schema["properties"]["command"]["enum"] == ["view", "create", "str_replace", "insert"]
    assert set(schema["properties"]) == {
        "command",
        "path",
        "file_text",
        "old_str",
        "new_str",
        "insert_line",
        "insert_text",
        "view_range",
    }
    assert schema["required"] == ["command", "path"]
    description = definition["description"]
    assert "12345" in description and "{{" not in description and "{%" not in description
    for word in ("view", "create", "str_replace", "insert", "view_range", "insert_text"):
        assert f"`{word}`" in description
    # Callers may decorate their copy (e.g. cache_control) without touching the module's schema.
    schema["properties"].clear()
    assert INPUT_SCHEMA["properties"]


# -- view: files -----------------------------------------------------------------------------


def test_view_file_numbers_lines_like_the_reference(workspace: Workspace, root: Path) -> None:
    write(root, "app/main.py", "import os\n\nx = 1\n")
    result = call(workspace, command="view", path="app/main.py")
    assert ok(result) == (
        "Here's the result of running `cat -n` on app/main.py:\n"
        "     1\timport os\n     2\t\n     3\tx = 1\n     4\t\n"
    )
    assert result.summary == "view app/main.py"


def test_view_accepts_absolute_path_inside_and_trailing_slash(
    workspace: Workspace, root: Path
) -> None:
    write(root, "a.txt", "hi")
    assert ok(call(workspace, command="view", path=str(root / "a.txt"))).endswith("     1\thi\n")
    assert "in app, excluding" not in ok(call(workspace, command="view", path="./"))
    write(root, "app/x.py", "")
    assert "up to 2 levels deep in app," in ok(call(workspace, command="view", path="app/"))


def test_view_empty_file(workspace: Workspace, root: Path) -> None:
    write(root, "empty.py", "")
    assert ok(call(workspace, command="view", path="empty.py")).endswith(":\n     1\t\n")


def test_view_shows_tabs_raw_and_crlf_as_lf(workspace: Workspace, root: Path) -> None:
    write(root, "Makefile", "all:\r\n\techo hi\r\n")
    output = ok(call(workspace, command="view", path="Makefile"))
    assert output.endswith("     1\tall:\n     2\t\techo hi\n     3\t\n")
    assert "\r" not in output


@pytest.mark.parametrize(
    ("view_range", "expected"),
    [
        ([2, 3], "     2\tb\n     3\tc\n"),
        ([4, -1], "     4\td\n     5\t\n"),
        ([1, 1], "     1\ta\n"),
        ([], "     1\ta\n     2\tb\n     3\tc\n     4\td\n     5\t\n"),
        ("[2, 2]", "     2\tb\n"),
        (["3", "3"], "     3\tc\n"),
        ("", "     1\ta\n     2\tb\n     3\tc\n     4\td\n     5\t\n"),
    ],
)
def test_view_range(workspace: Workspace, root: Path, view_range: Any, expected: str) -> None:
    write(root, "f.txt", "a\nb\nc\nd\n")
    result = call(workspace, command="view", path="f.txt", view_range=view_range)
    assert ok(result) == "Here's the result of running `cat -n` on f.txt:\n" + expected


def test_view_range_summary(workspace: Workspace, root: Path) -> None:
    write(root, "f.txt", "a\nb\nc\n")
    assert call(workspace, command="view", path="f.txt", view_range=[2, -1]).summary == (
        "view f.txt:2-4"
    )


@pytest.mark.parametrize(
    ("view_range", "message"),
    [
        (
            [0, 2],
            "Invalid `view_range`: [0, 2]. Its first element `0` should be within the "
            "range of lines of the file: [1, 5]",
        ),
        (
            [6, 6],
            "Invalid `view_range`: [6, 6]. Its first element `6` should be within the "
            "range of lines of the file: [1, 5]",
        ),
        (
            [1, 9],
            "Invalid `view_range`: [1, 9]. Its second element `9` should be smaller than "
            "the number of lines in the file: `5`",
        ),
        (
            [3, 2],
            "Invalid `view_range`: [3, 2]. Its second element `2` should be larger or "
            "equal than its first `3`",
        ),
        (
            [3, -2],
            "Invalid `view_range`: [3, -2]. Its second element `-2` should be larger or "
            "equal than its first `3`",
        ),
    ],
)
def test_view_range_out_of_bounds(
    workspace: Workspace, root: Path, view_range: list[int], message: str
) -> None:
    write(root, "f.txt", "a\nb\nc\nd\n")
    result = call(workspace, command="view", path="f.txt", view_range=view_range)
    assert err(result) == message
    assert result.summary == "view f.txt -> error: bad view_range"


@pytest.mark.parametrize(
    "view_range", [[1], [1, 2, 3], "1-3", ["a", "b"], [True, 2], [1.5, 2], {"a": 1}, 7, "null"]
)
def test_view_range_wrong_shape(workspace: Workspace, root: Path, view_range: Any) -> None:
    write(root, "f.txt", "a\nb\n")
    message = err(call(workspace, command="view", path="f.txt", view_range=view_range))
    assert message.startswith("Invalid `view_range`. It should be a list of two integers. Got:")


def test_view_clips_long_files_at_whole_lines(workspace: Workspace, root: Path) -> None:
    write(root, "big.txt", "".join(f"line {i:04d}\n" for i in range(1, 3001)))  # 10 chars each
    output = ok(call(workspace, command="view", path="big.txt"))
    body = output.split("\n")[1:]
    # 16000 characters hold 1600 lines of "line NNNN" plus their newlines (the last one excluded).
    assert body[1599] == "  1600\tline 1600"
    assert body[1600].startswith(CLIP_START)
    assert "Shown: lines 1-1600 of 3001 lines." in body[1600]
    assert "line 1601" not in output


def test_view_clip_is_configurable_and_applies_to_ranges(workspace: Workspace, root: Path) -> None:
    write(root, "f.txt", "aaaa\nbbbb\ncccc\ndddd\n")
    editor = TextEditor(max_characters=8)
    output = ok(call(workspace, editor, command="view", path="f.txt", view_range=[2, 4]))
    assert "     2\tbbbb\n     3\tcccc\n" not in output
    assert "     2\tbbbb\n" + CLIP_START in output
    assert "Shown: lines 2-2 of 5 lines." in output


def test_view_cuts_a_single_overlong_line(workspace: Workspace, root: Path) -> None:
    write(root, "min.js", "x" * 50 + "\n")
    output = ok(call(workspace, TextEditor(max_characters=20), command="view", path="min.js"))
    assert "     1\t" + "x" * 20 + "\n" + CLIP_START in output
    assert "Shown: the start of line 1 of 2 lines." in output


def test_view_binary_file(workspace: Workspace, root: Path) -> None:
    write(root, "logo.png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    result = call(workspace, command="view", path="logo.png")
    assert "logo.png is a binary file" in err(result)
    assert result.summary == "view logo.png -> error: binary"


def test_view_non_utf8_file(workspace: Workspace, root: Path) -> None:
    write(root, "latin.txt", b"ab\xff\n")
    result = call(workspace, command="view", path="latin.txt")
    assert err(result).startswith(
        "Ran into 'utf-8' codec can't decode byte 0xff in position 2: invalid start byte "
        "while trying to read latin.txt."
    )
    assert "not UTF-8" in result.output and "Traceback" not in result.output
    assert result.summary == "view latin.txt -> error: not UTF-8"


def test_view_missing_path(workspace: Workspace) -> None:
    result = call(workspace, command="view", path="app/nope.py")
    assert err(result) == "The path app/nope.py does not exist. Please provide a valid path."
    assert result.summary == "view app/nope.py -> error: not found"


def test_view_fifo_is_refused_not_blocking(workspace: Workspace, root: Path) -> None:
    os.mkfifo(root / "pipe")
    assert (
        err(call(workspace, command="view", path="pipe")) == "The path pipe is not a regular file."
    )


# -- view: directories -----------------------------------------------------------------------


def test_view_directory_sorted_two_levels_without_hidden(workspace: Workspace, root: Path) -> None:
    for rel in (
        "app/main.py",
        "app/models/book.py",
        "app/models/deep/too_deep.py",
        "app/__pycache__/main.cpython-311.pyc",
        "app/.hidden.py",
        ".git/config",
        "README.md",
        "tests/test_a.py",
    ):
        write(root, rel, "")
    result = call(workspace, command="view", path=".")
    assert ok(result) == (
        "Here's the files and directories up to 2 levels deep in ., excluding hidden items "
        "and __pycache__:\n"
        ".\nREADME.md\napp/\napp/main.py\napp/models/\ntests/\ntests/test_a.py\n"
    )
    assert result.summary == "view ."
    sub = call(workspace, command="view", path="app")
    assert ok(sub).endswith(
        ":\napp/\napp/main.py\napp/models/\napp/models/book.py\napp/models/deep/\n"
    )
    assert sub.summary == "view app/"


def test_view_directory_with_spaces_and_under_hidden_parent(
    workspace: Workspace, root: Path
) -> None:
    write(root, "my docs/read me.txt", "")
    write(root, ".github/workflows/ci.yml", "")
    assert ok(call(workspace, command="view", path="my docs")).endswith(
        ":\nmy docs/\nmy docs/read me.txt\n"
    )
    assert ok(call(workspace, command="view", path=".github")).endswith(
        ":\n.github/\n.github/workflows/\n.github/workflows/ci.yml\n"
    )


def test_view_directory_rejects_view_range(workspace: Workspace, root: Path) -> None:
    write(root, "app/x.py", "")
    assert err(call(workspace, command="view", path="app", view_range=[1, 2])) == (
        "The `view_range` parameter is not allowed when `path` points to a directory."
    )


def test_view_directory_listing_is_clipped(workspace: Workspace, root: Path) -> None:
    for index in range(50):
        write(root, f"pkg/module_{index:02d}.py", "")
    output = ok(call(workspace, TextEditor(max_characters=200), command="view", path="pkg"))
    assert "only part of this listing has been shown" in output
    assert "pkg/module_49.py" not in output and "pkg/module_00.py" in output


def test_view_directory_does_not_enter_symlinked_dirs(
    workspace: Workspace, root: Path, outside: Path
) -> None:
    (root / "escape").symlink_to(outside, target_is_directory=True)
    output = ok(call(workspace, command="view", path="."))
    assert "escape" in output and "secret.txt" not in output


# -- create ----------------------------------------------------------------------------------


def test_create_writes_verbatim_and_makes_parents(workspace: Workspace, root: Path) -> None:
    result = call(
        workspace, command="create", path="app/schemas/book/request.py", file_text="a\tb\r\nc"
    )
    assert ok(result) == "File created successfully at: app/schemas/book/request.py"
    assert result.summary == "create app/schemas/book/request.py"
    assert (root / "app/schemas/book/request.py").read_bytes() == b"a\tb\r\nc"


def test_create_empty_file(workspace: Workspace, root: Path) -> None:
    ok(call(workspace, command="create", path="app/__init__.py", file_text=""))
    assert (root / "app/__init__.py").read_bytes() == b""


def test_create_refuses_existing_file_and_directory(workspace: Workspace, root: Path) -> None:
    write(root, "app/main.py", "keep")
    result = call(workspace, command="create", path="app/main.py", file_text="new")
    assert err(result) == (
        "File already exists at: app/main.py. Cannot overwrite files using command `create`."
    )
    assert result.summary == "create app/main.py -> error: exists"
    assert (root / "app/main.py").read_text() == "keep"
    assert "is a directory" in err(call(workspace, command="create", path="app", file_text=""))


def test_create_requires_string_file_text(workspace: Workspace, root: Path) -> None:
    assert err(call(workspace, command="create", path="a.py")) == (
        "Parameter `file_text` is required for command: create"
    )
    assert "must be a string" in err(call(workspace, command="create", path="a.py", file_text=3))
    assert not (root / "a.py").exists()


def test_create_under_a_file_reports_the_os_error(workspace: Workspace, root: Path) -> None:
    write(root, "app.py", "")
    message = err(call(workspace, command="create", path="app.py/x.py", file_text=""))
    assert (
        message.startswith("Ran into [Errno") and "while trying to write to app.py/x.py" in message
    )


# -- str_replace -----------------------------------------------------------------------------

TEN = "".join(f"line{i}\n" for i in range(1, 11))


def test_str_replace_success_message_and_snippet(workspace: Workspace, root: Path) -> None:
    path = write(root, "app/models/book.py", TEN)
    result = call(
        workspace,
        command="str_replace",
        path="app/models/book.py",
        old_str="line6\n",
        new_str="six\nsix and a half\n",
    )
    assert ok(result) == (
        "The file app/models/book.py has been edited. Here's the result of running `cat -n` on a "
        "snippet of app/models/book.py:\n"
        "     2\tline2\n     3\tline3\n     4\tline4\n     5\tline5\n     6\tsix\n"
        "     7\tsix and a half\n     8\tline7\n     9\tline8\n    10\tline9\n    11\tline10\n"
        "    12\t\n"
        "Review the changes and make sure they are as expected. Edit the file again if necessary."
    )
    assert result.summary == "edit app/models/book.py"
    assert path.read_text() == TEN.replace("line6\n", "six\nsix and a half\n")


def test_str_replace_missing_new_str_deletes(workspace: Workspace, root: Path) -> None:
    path = write(root, "f.py", "keep\ndrop me\nkeep\n")
    ok(call(workspace, command="str_replace", path="f.py", old_str="drop me\n"))
    assert path.read_text() == "keep\nkeep\n"


def test_str_replace_zero_matches(workspace: Workspace, root: Path) -> None:
    path = write(root, "app/x.py", "def f():\n    return 1\n")
    result = call(workspace, command="str_replace", path="app/x.py", old_str="nothing", new_str="")
    assert err(result) == (
        "No replacement was performed, old_str `nothing` did not appear verbatim in app/x.py."
    )
    assert result.summary == "edit app/x.py -> error: 0 matches"
    assert path.read_text() == "def f():\n    return 1\n"


def test_str_replace_zero_matches_hints_at_whitespace(workspace: Workspace, root: Path) -> None:
    write(root, "x.py", "a = 1\n\ndef f():\n    return 1\n")
    message = err(
        call(workspace, command="str_replace", path="x.py", old_str="def f():\n  return 1")
    )
    assert message.endswith(
        "A passage that differs only in whitespace or indentation starts at line 3; view it "
        "and copy the text exactly."
    )


def test_str_replace_zero_matches_hints_at_line_numbers(workspace: Workspace, root: Path) -> None:
    write(root, "x.py", "a = 1\nb = 2\n")
    message = err(
        call(workspace, command="str_replace", path="x.py", old_str="     1\ta = 1\n     2\tb = 2")
    )
    assert "include the line numbers of the `view` output" in message


def test_str_replace_multiple_matches_name_lines(workspace: Workspace, root: Path) -> None:
    path = write(root, "x.py", "x = 1\ny = 2\nx = 1\nz = x = 1\n")
    result = call(workspace, command="str_replace", path="x.py", old_str="x = 1", new_str="q")
    assert err(result) == (
        "No replacement was performed. Multiple occurrences of old_str `x = 1` in lines "
        "[1, 3, 4]. Please ensure it is unique"
    )
    assert result.summary == "edit x.py -> error: 3 matches"
    assert path.read_text() == "x = 1\ny = 2\nx = 1\nz = x = 1\n"


def test_str_replace_multiline_multiple_matches_name_start_lines(
    workspace: Workspace, root: Path
) -> None:
    write(root, "x.py", "a\nb\nc\na\nb\n")
    message = err(call(workspace, command="str_replace", path="x.py", old_str="a\nb", new_str=""))
    assert "in lines [1, 4]." in message


def test_str_replace_many_matches_list_is_capped(workspace: Workspace, root: Path) -> None:
    write(root, "x.py", "return 1\n" * 100 + "x = return 2 or return 3\n")
    message = err(call(workspace, command="str_replace", path="x.py", old_str="return"))
    assert "in lines [1, 2, 3," in message
    assert ", 30, ...] (102 occurrences on 101 lines). Please ensure it is unique" in message


def test_str_replace_overlapping_matches_are_ambiguous(workspace: Workspace, root: Path) -> None:
    path = write(root, "x.txt", "aaa")
    result = call(workspace, command="str_replace", path="x.txt", old_str="aa", new_str="b")
    assert result.summary == "edit x.txt -> error: 2 matches"
    assert path.read_text() == "aaa"


def test_str_replace_empty_old_str(workspace: Workspace, root: Path) -> None:
    for content in ("", "abc\n"):
        path = write(root, "x.txt", content)
        result = call(workspace, command="str_replace", path="x.txt", old_str="", new_str="z")
        assert "`old_str` is empty" in err(result)
        assert path.read_text() == content


def test_str_replace_missing_or_ill_typed_params(workspace: Workspace, root: Path) -> None:
    write(root, "x.txt", "abc")
    assert err(call(workspace, command="str_replace", path="x.txt", new_str="")) == (
        "Parameter `old_str` is required for command: str_replace"
    )
    assert "`old_str` for command str_replace must be a string, got 5" in err(
        call(workspace, command="str_replace", path="x.txt", old_str=5)
    )
    assert '`new_str` for command str_replace must be a string, got ["a"]' in err(
        call(workspace, command="str_replace", path="x.txt", old_str="a", new_str=["a"])
    )


def test_str_replace_keeps_tabs_elsewhere(workspace: Workspace, root: Path) -> None:
    path = write(root, "Makefile", "all:\n\techo a\n\techo b\n")
    ok(call(workspace, command="str_replace", path="Makefile", old_str="echo a", new_str="echo c"))
    assert path.read_text() == "all:\n\techo c\n\techo b\n"


def test_str_replace_spaces_for_tabs_keeps_tabs(workspace: Workspace, root: Path) -> None:
    """A model trained on the reference sends 8 spaces where `view` showed a tab."""
    path = write(root, "main.go", "func f() {\n\tif x {\n\t\treturn\n\t}\n}\n")
    old = "        if x {\n                return"
    new = "        if y {\n                return\n                // done"
    ok(call(workspace, command="str_replace", path="main.go", old_str=old, new_str=new))
    assert path.read_text() == "func f() {\n\tif y {\n\t\treturn\n\t\t// done\n\t}\n}\n"


def test_str_replace_tab_fallback_needs_whole_characters(workspace: Workspace, root: Path) -> None:
    path = write(root, "t.txt", "abcd\tx\n\tx\n")
    # Expanded, both lines hold "    x"; on line 2 it starts inside the tab, so only line 1 counts.
    ok(call(workspace, command="str_replace", path="t.txt", old_str="    x", new_str="-y"))
    assert path.read_text() == "abcd-y\n\tx\n"
    # Spaces that would need half a tab never match.
    result = call(workspace, command="str_replace", path="t.txt", old_str="  x", new_str="e")
    assert result.summary == "edit t.txt -> error: 0 matches"
    assert path.read_text() == "abcd-y\n\tx\n"


def test_str_replace_tab_fallback_ambiguous(workspace: Workspace, root: Path) -> None:
    path = write(root, "t.txt", "\tx\n\tx\n")
    result = call(workspace, command="str_replace", path="t.txt", old_str="        x", new_str="y")
    assert "in lines [1, 2]." in err(result)
    assert path.read_text() == "\tx\n\tx\n"


def test_str_replace_keeps_crlf(workspace: Workspace, root: Path) -> None:
    path = write(root, "win.txt", "one\r\ntwo\r\nthree\r\n")
    result = call(
        workspace, command="str_replace", path="win.txt", old_str="one\ntwo", new_str="1\n2\n2b"
    )
    assert "\r" not in ok(result)
    assert path.read_bytes() == b"1\r\n2\r\n2b\r\nthree\r\n"
    # old_str sent with CRLF matches as well.
    ok(call(workspace, command="str_replace", path="win.txt", old_str="2b\r\nthree", new_str="3"))
    assert path.read_bytes() == b"1\r\n2\r\n3\r\n"


def test_str_replace_mixed_newlines_are_left_alone(workspace: Workspace, root: Path) -> None:
    path = write(root, "mixed.txt", "a\r\nb\nc\r\n")
    ok(call(workspace, command="str_replace", path="mixed.txt", old_str="b", new_str="B"))
    assert path.read_bytes() == b"a\r\nB\nc\r\n"


def test_str_replace_keeps_file_mode(workspace: Workspace, root: Path) -> None:
    path = write(root, "run.sh", "echo a\n")
    path.chmod(0o755)
    ok(call(workspace, command="str_replace", path="run.sh", old_str="a", new_str="b"))
    assert path.stat().st_mode & 0o777 == 0o755


def test_edits_refuse_binary_non_utf8_and_huge(workspace: Workspace, root: Path) -> None:
    write(root, "b.bin", b"abc\x00def")
    write(root, "l.txt", b"caf\xe9\n")
    write(root, "big.txt", "x" * 101)
    editor = TextEditor(max_edit_bytes=100)
    for rel, reason in (("b.bin", "binary"), ("l.txt", "not UTF-8"), ("big.txt", "too large")):
        for tool_input in (
            {"command": "str_replace", "old_str": "a", "new_str": "b"},
            {"command": "insert", "insert_line": 0, "insert_text": "b"},
        ):
            before = (root / rel).read_bytes()
            result = editor(workspace, {**tool_input, "path": rel})
            assert result.is_error and result.summary.endswith(f"-> error: {reason}")
            assert (root / rel).read_bytes() == before
    big = editor(workspace, {"command": "str_replace", "path": "big.txt", "old_str": "x"})
    assert big.output.startswith(
        "The file big.txt is 101 bytes, over the 100-byte limit for `str_replace` and `insert`."
    )


def test_edit_on_directory_or_missing_file(workspace: Workspace, root: Path) -> None:
    write(root, "app/x.py", "")
    assert err(call(workspace, command="str_replace", path="app", old_str="a")) == (
        "The path app is a directory and only the `view` command can be used on directories"
    )
    result = call(workspace, command="insert", path="nope.py", insert_line=0, insert_text="a")
    assert err(result) == "The path nope.py does not exist. Please provide a valid path."
    assert result.summary == "insert nope.py -> error: not found"


# -- insert ----------------------------------------------------------------------------------


def test_insert_success_message_and_snippet(workspace: Workspace, root: Path) -> None:
    path = write(root, "app/api/api.py", TEN)
    result = call(
        workspace, command="insert", path="app/api/api.py", insert_line=6, insert_text="new\nnew2"
    )
    assert ok(result) == (
        "The file app/api/api.py has been edited. Here's the result of running `cat -n` on a "
        "snippet of the edited file:\n"
        "     3\tline3\n     4\tline4\n     5\tline5\n     6\tline6\n     7\tnew\n     8\tnew2\n"
        "     9\tline7\n    10\tline8\n    11\tline9\n    12\tline10\n"
        "Review the changes and make sure they are as expected (correct indentation, no "
        "duplicate lines, etc). Edit the file again if necessary."
    )
    assert result.summary == "insert app/api/api.py:6"
    assert path.read_text() == TEN.replace("line6\n", "line6\nnew\nnew2\n")


@pytest.mark.parametrize(
    ("content", "line", "text", "expected"),
    [
        ("a\nb\n", 0, "top", "top\na\nb\n"),
        ("a\nb\n", 1, "mid", "a\nmid\nb\n"),
        ("a\nb\n", 2, "end", "a\nb\nend\n"),
        # After the empty piece past the final newline: still appended, final newline kept.
        ("a\nb\n", 3, "end", "a\nb\nend\n"),
        ("a\nb", 2, "end", "a\nb\nend"),
        ("", 0, "x", "x\n"),
        ("", 1, "x", "x\n"),
        # As in the reference, a trailing newline in the text adds a blank line.
        ("a\nb\n", 1, "mid\n", "a\nmid\n\nb\n"),
    ],
)
def test_insert_positions(
    workspace: Workspace, root: Path, content: str, line: int, text: str, expected: str
) -> None:
    path = write(root, "f.txt", content)
    ok(call(workspace, command="insert", path="f.txt", insert_line=line, insert_text=text))
    assert path.read_text() == expected


def test_insert_accepts_new_str_and_integer_strings(workspace: Workspace, root: Path) -> None:
    path = write(root, "f.txt", "a\nb\n")
    ok(call(workspace, command="insert", path="f.txt", insert_line="1", new_str="x"))
    assert path.read_text() == "a\nx\nb\n"
    ok(call(workspace, command="insert", path="f.txt", insert_line=0, insert_text="y", new_str="z"))
    assert path.read_text() == "y\na\nx\nb\n"


def test_insert_line_out_of_range(workspace: Workspace, root: Path) -> None:
    path = write(root, "f.txt", "a\nb\n")
    for line in (-1, 4):
        result = call(workspace, command="insert", path="f.txt", insert_line=line, insert_text="x")
        assert err(result) == (
            f"Invalid `insert_line` parameter: {line}. It should be within the range of lines "
            "of the file: [0, 3]"
        )
        assert result.summary == "insert f.txt -> error: bad insert_line"
    assert path.read_text() == "a\nb\n"


def test_insert_missing_or_ill_typed_params(workspace: Workspace, root: Path) -> None:
    write(root, "f.txt", "a\n")
    assert err(call(workspace, command="insert", path="f.txt", insert_text="x")) == (
        "Parameter `insert_line` is required for command: insert"
    )
    assert err(call(workspace, command="insert", path="f.txt", insert_line=0)) == (
        "Parameter `insert_text` is required for command: insert"
    )
    for bad in ("two", True, 1.5, [1]):
        message = err(
            call(workspace, command="insert", path="f.txt", insert_line=bad, insert_text="x")
        )
        assert message.startswith("Invalid `insert_line` parameter:")
        assert "It should be an integer" in message
    assert "must be a string" in err(
        call(workspace, command="insert", path="f.txt", insert_line=0, insert_text=7)
    )
    assert (root / "f.txt").read_text() == "a\n"


def test_insert_keeps_crlf_and_tabs(workspace: Workspace, root: Path) -> None:
    path = write(root, "f.txt", "\ta\r\n\tb\r\n")
    ok(call(workspace, command="insert", path="f.txt", insert_line=1, insert_text="\tx\n\ty"))
    assert path.read_bytes() == b"\ta\r\n\tx\r\n\ty\r\n\tb\r\n"


# -- requests that make no sense ------------------------------------------------------------


@pytest.mark.parametrize("command", ["undo_edit", "delete", "View"])
def test_unknown_command(workspace: Workspace, root: Path, command: str) -> None:
    write(root, "x.py", "")
    result = call(workspace, command=command, path="x.py")
    assert err(result) == (
        f"Unrecognized command {command}. The allowed commands for the "
        "str_replace_based_edit_tool tool are: view, create, str_replace, insert"
    )
    assert result.summary == f"{command} x.py -> error: unknown command"


def test_missing_command_and_path(workspace: Workspace) -> None:
    assert err(call(workspace, path="x.py")).startswith("Parameter `command` is required.")
    result = call(workspace, command="view")
    assert err(result) == "Parameter `path` is required for command: view"
    assert result.summary == "view -> error: missing path"
    assert err(call(workspace, command="view", path="")) == (
        "Parameter `path` is required for command: view"
    )
    assert "must be a string" in err(call(workspace, command="view", path=["a"]))


def test_input_that_is_not_an_object(workspace: Workspace) -> None:
    result = TextEditor()(workspace, ["view", "x"])  # type: ignore[arg-type]
    assert result.is_error and "JSON object" in result.output


# -- paths -----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["../x", "app/../../x", "/etc/passwd", "/"])
def test_paths_outside_are_refused(workspace: Workspace, root: Path, path: str) -> None:
    for tool_input in (
        {"command": "view"},
        {"command": "create", "file_text": "x"},
        {"command": "str_replace", "old_str": "root", "new_str": "x"},
    ):
        result = TextEditor()(workspace, {**tool_input, "path": path})
        assert err(result).startswith(f"The path {path} is outside the workspace")
        assert result.summary.endswith("-> error: outside workspace")
    assert not (root.parent / "x").exists()


def test_absolute_path_hint_when_relative_exists(workspace: Workspace, root: Path) -> None:
    write(root, "app/main.py", "")
    assert err(call(workspace, command="view", path="/app/main.py")).endswith(
        "Maybe you meant app/main.py?"
    )


def test_symlink_to_outside_file_is_refused(
    workspace: Workspace, root: Path, outside: Path
) -> None:
    (root / "link.txt").symlink_to(outside / "secret.txt")
    result = call(workspace, command="view", path="link.txt")
    assert err(result).startswith(
        f"The path link.txt resolves through a symlink to {outside / 'secret.txt'}, which is "
        "outside the workspace"
    )
    result = call(workspace, command="str_replace", path="link.txt", old_str="secret", new_str="x")
    assert result.is_error
    assert (outside / "secret.txt").read_text() == "secret\n"


def test_symlink_to_tmp_is_refused(workspace: Workspace, root: Path) -> None:
    (root / "tmp").symlink_to("/tmp", target_is_directory=True)
    assert "outside the workspace" in err(call(workspace, command="view", path="tmp"))


def test_symlinked_directory_pointing_out(workspace: Workspace, root: Path, outside: Path) -> None:
    (root / "vendor").symlink_to(outside, target_is_directory=True)
    assert "outside the workspace" in err(call(workspace, command="view", path="vendor/secret.txt"))
    result = call(workspace, command="create", path="vendor/new/evil.py", file_text="x")
    assert "outside the workspace" in err(result)
    assert not (outside / "new").exists()


def test_dangling_symlink_pointing_out_cannot_be_created_through(
    workspace: Workspace, root: Path, outside: Path
) -> None:
    (root / "trap.py").symlink_to(outside / "not_yet.py")
    assert "outside the workspace" in err(
        call(workspace, command="create", path="trap.py", file_text="x")
    )
    assert not (outside / "not_yet.py").exists()


def test_create_through_symlinked_parent_inside(workspace: Workspace, root: Path) -> None:
    (root / "app").mkdir()
    (root / "alias").symlink_to(root / "app", target_is_directory=True)
    result = call(workspace, command="create", path="alias/sub/new.py", file_text="x = 1\n")
    assert ok(result) == "File created successfully at: app/sub/new.py"
    assert (root / "app/sub/new.py").read_text() == "x = 1\n"


def test_workspace_root_behind_a_symlink(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "alias").symlink_to(real, target_is_directory=True)
    workspace = Workspace(root=tmp_path / "alias", executor=NoExecutor())
    ok(call(workspace, command="create", path=str(tmp_path / "alias" / "a.py"), file_text=""))
    assert (real / "a.py").exists()


@pytest.mark.parametrize(
    ("path", "rule"),
    [
        (".git/config", ".git/"),
        (".git/hooks/pre-commit", ".git/"),
        (".github/workflows/ci.yml", ".github/workflows/"),
    ],
)
def test_protected_paths_refuse_every_write(
    workspace: Workspace, root: Path, path: str, rule: str
) -> None:
    write(root, path, "original\n")
    attempts = [
        {"command": "str_replace", "old_str": "original", "new_str": "changed"},
        {"command": "insert", "insert_line": 0, "insert_text": "changed"},
        {"command": "create", "file_text": "changed"},
    ]
    for tool_input in attempts:
        result = TextEditor()(workspace, {**tool_input, "path": path})
        assert err(result) == (
            f"The path {path} is protected: writing under `{rule}` is not allowed in this "
            "workspace. Leave it unchanged."
        )
        assert result.summary.endswith("-> error: protected")
    assert (root / path).read_text() == "original\n"
    # Reading is fine.
    assert "original" in ok(call(workspace, command="view", path=path))


def test_protected_new_file_and_symlink_into_git(workspace: Workspace, root: Path) -> None:
    (root / ".git").mkdir()
    assert "protected" in err(
        call(workspace, command="create", path=".git/hooks/post-commit", file_text="x")
    )
    (root / "hooks").symlink_to(root / ".git", target_is_directory=True)
    assert "protected" in err(call(workspace, command="create", path="hooks/x", file_text="x"))
    assert not (root / ".git/x").exists()
    # .gitignore is not under .git/.
    ok(call(workspace, command="create", path=".gitignore", file_text="*.pyc\n"))


def test_protected_prefixes_come_from_the_workspace(root: Path) -> None:
    workspace = Workspace(root=root, executor=NoExecutor(), protected=("migrations",))
    result = call(workspace, command="create", path="migrations/001.py", file_text="")
    assert "writing under `migrations`" in err(result)
    ok(call(workspace, command="create", path=".git/info/x", file_text=""))


def test_resolve_in_workspace_directly(root: Path, outside: Path) -> None:
    write(root, "app/main.py", "")
    assert resolve_in_workspace(root, "app/main.py", for_write=True) == (root / "app/main.py")
    assert resolve_in_workspace(root, "app/new/x.py", for_write=True) == (root / "app/new/x.py")
    assert resolve_in_workspace(root, "app/../app/main.py", for_write=False) == (
        root / "app/main.py"
    )
    with pytest.raises(ToolError):
        resolve_in_workspace(root, "a\x00b", for_write=False)
    with pytest.raises(ToolError, match="outside the workspace"):
        resolve_in_workspace(root, str(outside), for_write=False)
    with pytest.raises(ToolError, match="protected"):
        resolve_in_workspace(root, ".git", for_write=True, protected=(".git/",))
    assert relative_display(root, root) == "."
    assert relative_display(root, root / "a" / "b.py") == "a/b.py"
    assert protected_rule(".github/workflows", (".github/workflows/",)) == ".github/workflows/"
    assert protected_rule(".github/dependabot.yml", (".github/workflows/",)) is None
