"""The editor against a plain-string model of the file, over random contents and edits.

After every step the bytes on disk must equal the model (re-encoded with the file's newline
style), failed edits must leave the file untouched, and `view` must number the model's lines."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tools.base import ToolResult, Workspace
from tools.editor import TextEditor
from tools.process import CommandResult

# A small alphabet makes repeated and overlapping matches common. No tabs: the tab-tolerant
# fallback is covered by unit tests and would need its own model.
ALPHABET = "ab \n"
texts = st.text(alphabet=ALPHABET, max_size=40)
SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
EDITOR = TextEditor()


class NoExecutor:
    def run(self, command: str, cwd: Path, timeout: float) -> CommandResult:
        raise AssertionError("the editor never runs commands")


class ModelFile:
    """The expected file: LF text plus whether it is written back with CRLF."""

    def __init__(self, text: str, crlf: bool) -> None:
        self.text = text
        self.crlf = crlf and "\n" in text

    def encoded(self) -> bytes:
        return (self.text.replace("\n", "\r\n") if self.crlf else self.text).encode()

    def replace(self, old: str, new: str) -> bool:
        """Apply `str_replace` if it should succeed: a non-empty `old` found exactly once,
        counting overlapping occurrences."""
        starts = [i for i in range(len(self.text)) if self.text.startswith(old, i)]
        if not old or len(starts) != 1:
            return False
        self.text = self.text[: starts[0]] + new + self.text[starts[0] + len(old) :]
        return True

    def insert(self, line: int, new: str) -> bool:
        lines = self.text.split("\n")
        if not 0 <= line <= len(lines):
            return False
        at = len(lines) - 1 if line == len(lines) and lines[-1] == "" else line
        self.text = "\n".join(lines[:at] + new.split("\n") + lines[at:])
        return True

    def after_write(self) -> None:
        # A file read without any newline is not recognised as CRLF, so it is written as LF.
        self.crlf = self.crlf and "\n" in self.text


def setup(tmp_path: Path, text: str, crlf: bool) -> tuple[Workspace, Path, ModelFile]:
    model = ModelFile(text, crlf)
    path = tmp_path / "f.txt"
    path.write_bytes(text.replace("\n", "\r\n").encode() if crlf else text.encode())
    return Workspace(root=tmp_path, executor=NoExecutor()), path, model


def run(workspace: Workspace, **tool_input: object) -> ToolResult:
    return EDITOR(workspace, {"path": "f.txt", **tool_input})


def numbered_lines(result: ToolResult) -> list[tuple[int, str]]:
    assert not result.is_error, result.output
    header, _, body = result.output.partition("\n")
    assert header == "Here's the result of running `cat -n` on f.txt:"
    assert body.endswith("\n")
    pairs = []
    for row in body[:-1].split("\n"):
        number, tab, line = row.partition("\t")
        assert tab == "\t" and number == number.strip().rjust(6)
        pairs.append((int(number), line))
    return pairs


def old_strings(model: ModelFile) -> st.SearchStrategy[str]:
    """Either any string or a slice of the current text, so unique matches happen often."""
    text = model.text
    slices = st.integers(0, len(text)).flatmap(
        lambda start: st.integers(start, len(text)).map(lambda end: text[start:end])
    )
    return st.one_of(texts, slices)


@SETTINGS
@given(initial=texts, crlf=st.booleans(), data=st.data())
def test_str_replace_matches_model(
    tmp_path: Path, initial: str, crlf: bool, data: st.DataObject
) -> None:
    workspace, path, model = setup(tmp_path, initial, crlf)
    for _ in range(data.draw(st.integers(1, 5), label="steps")):
        old = data.draw(old_strings(model), label="old_str")
        new = data.draw(texts, label="new_str")
        before = path.read_bytes()
        result = run(workspace, command="str_replace", old_str=old, new_str=new)
        if model.replace(old, new):
            assert not result.is_error, result.output
            model.after_write()
            assert path.read_bytes() == model.encoded()
        else:
            assert result.is_error
            assert path.read_bytes() == before


@SETTINGS
@given(initial=texts, crlf=st.booleans(), data=st.data())
def test_insert_matches_model(
    tmp_path: Path, initial: str, crlf: bool, data: st.DataObject
) -> None:
    workspace, path, model = setup(tmp_path, initial, crlf)
    for _ in range(data.draw(st.integers(1, 5), label="steps")):
        line = data.draw(st.integers(-1, model.text.count("\n") + 2), label="insert_line")
        new = data.draw(texts, label="insert_text")
        before = path.read_bytes()
        result = run(workspace, command="insert", insert_line=line, insert_text=new)
        if model.insert(line, new):
            assert not result.is_error, result.output
            model.after_write()
            assert path.read_bytes() == model.encoded()
        else:
            assert result.is_error
            assert result.output.startswith(f"Invalid `insert_line` parameter: {line}.")
            assert path.read_bytes() == before


@SETTINGS
@given(initial=texts, crlf=st.booleans(), data=st.data())
def test_view_numbers_model_lines(
    tmp_path: Path, initial: str, crlf: bool, data: st.DataObject
) -> None:
    workspace, _, model = setup(tmp_path, initial, crlf)
    lines = model.text.split("\n")
    assert numbered_lines(run(workspace, command="view")) == list(enumerate(lines, 1))

    first = data.draw(st.integers(1, len(lines)), label="first")
    last = data.draw(st.sampled_from([-1, *range(first, len(lines) + 1)]), label="last")
    shown = numbered_lines(run(workspace, command="view", view_range=[first, last]))
    end = len(lines) if last == -1 else last
    assert shown == list(enumerate(lines, 1))[first - 1 : end]


@SETTINGS
@given(initial=texts, data=st.data())
def test_edits_then_view_agree(tmp_path: Path, initial: str, data: st.DataObject) -> None:
    """Interleaved edits: whatever succeeded, `view` shows exactly the model's lines."""
    workspace, _, model = setup(tmp_path, initial, crlf=False)
    for _ in range(data.draw(st.integers(1, 6), label="steps")):
        if data.draw(st.booleans(), label="replace?"):
            old = data.draw(old_strings(model), label="old_str")
            new = data.draw(texts, label="new_str")
            succeeded = model.replace(old, new)
            result = run(workspace, command="str_replace", old_str=old, new_str=new)
        else:
            line = data.draw(st.integers(0, model.text.count("\n") + 1), label="insert_line")
            new = data.draw(texts, label="insert_text")
            succeeded = model.insert(line, new)
            result = run(workspace, command="insert", insert_line=line, insert_text=new)
        assert result.is_error is not succeeded
        shown = numbered_lines(run(workspace, command="view"))
        assert shown == list(enumerate(model.text.split("\n"), 1))
