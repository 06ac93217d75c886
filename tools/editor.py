"""The `str_replace_based_edit_tool` text editor, answering like Anthropic's reference editor.

Claude is trained against the reference implementation, so result shapes and message texts
follow it (see the shared notes on the reference tools). Where the reference is defective we
do better on purpose: the file's own tabs and line endings are kept, `create` makes parent
directories, directory listings are sorted and survive spaces, ambiguous matches name the lines
they start on, and bad input is answered, never raised. The wording of its answers lives in
`templates/editor_messages.md`."""

from __future__ import annotations

import bisect
import copy
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tools.base import ToolError, ToolResult, Workspace
from tools.paths import PathError, relative_display, resolve_in_workspace
from tools.templating import render, render_block

NAME = "str_replace_based_edit_tool"
NATIVE_TYPE = "text_editor_20250728"
COMMANDS = ("view", "create", "str_replace", "insert")
DEFAULT_MAX_CHARACTERS = 16_000
DEFAULT_MAX_EDIT_BYTES = 2_000_000
SNIPPET_LINES = 4
TAB_SIZE = 8
LISTING_DEPTH = 2
_BINARY_SNIFF_BYTES = 8192
_SKIPPED_NAMES = frozenset({"__pycache__"})
_VERBS = {"view": "view", "create": "create", "str_replace": "edit", "insert": "insert"}
MESSAGES = "editor_messages.md"

INPUT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "command": {"type": "string", "enum": list(COMMANDS)},
        "path": {"type": "string"},
        "file_text": {"type": "string"},
        "old_str": {"type": "string"},
        "new_str": {"type": "string"},
        "insert_line": {"type": "integer"},
        "insert_text": {"type": "string"},
        "view_range": {
            "type": "array",
            "items": {"type": "integer"},
            "minItems": 2,
            "maxItems": 2,
        },
    },
    "required": ["command", "path"],
}


def _say(message: str, **context: Any) -> str:
    """One answer from `templates/editor_messages.md`, where every word of it lives."""
    return render_block(MESSAGES, message, **context)


class _Failure(ToolError):
    """An answer for the model plus a short cause for the one-line summary."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class _Target:
    path: Path  # resolved, inside the workspace
    shown: str  # how the model sees it: relative to the root


@dataclass(frozen=True)
class _TextFile:
    text: str  # CRLF normalised to LF when the file is consistently CRLF
    crlf: bool
    mixed: bool  # both CRLF and bare LF: matched raw, written back raw

    def encode(self, text: str) -> bytes:
        return (text.replace("\n", "\r\n") if self.crlf else text).encode("utf-8")

    def normalise(self, value: str) -> str:
        """Input from the model in the same newline convention as `text`."""
        return value if self.mixed else value.replace("\r\n", "\n")


class TextEditor:
    """View, create and edit files inside a workspace; never runs commands."""

    name = NAME

    def __init__(
        self,
        *,
        max_characters: int = DEFAULT_MAX_CHARACTERS,
        max_edit_bytes: int = DEFAULT_MAX_EDIT_BYTES,
    ) -> None:
        self.max_characters = max_characters
        self.max_edit_bytes = max_edit_bytes

    def definition(self, native: bool) -> dict[str, Any]:
        if native:
            return {"type": NATIVE_TYPE, "name": NAME, "max_characters": self.max_characters}
        description = render(
            "editor.md",
            max_characters=self.max_characters,
            max_edit_bytes=self.max_edit_bytes,
            listing_depth=LISTING_DEPTH,
        )
        return {
            "name": NAME,
            "description": description,
            "input_schema": copy.deepcopy(INPUT_SCHEMA),
        }

    def __call__(self, workspace: Workspace, tool_input: Mapping[str, Any]) -> ToolResult:
        command: Any = tool_input.get("command") if isinstance(tool_input, Mapping) else None
        raw_path: Any = tool_input.get("path") if isinstance(tool_input, Mapping) else None
        verb = _VERBS.get(command, str(command)) if isinstance(command, str) else "editor"
        shown = raw_path if isinstance(raw_path, str) and raw_path else ""
        try:
            if not isinstance(tool_input, Mapping):
                raise _Failure(_say("bad_input"), "bad input")
            _check_command(command)
            path_text = _required_path(raw_path, command)
            resolved = resolve_in_workspace(
                workspace.root,
                path_text,
                for_write=command != "view",
                protected=workspace.protected,
            )
            shown = relative_display(workspace.root, resolved)
            target = _Target(resolved, shown)
            _check_kind(target, command)
            if command == "view":
                return self._view(target, tool_input)
            if command == "create":
                return _create(target, tool_input)
            if command == "str_replace":
                return self._str_replace(target, tool_input)
            return self._insert(target, tool_input)
        except (_Failure, PathError) as exc:
            where = f"{verb} {shown}".rstrip()
            return ToolResult(str(exc), is_error=True, summary=f"{where} -> error: {exc.reason}")

    # -- view --------------------------------------------------------------------------------

    def _view(self, target: _Target, tool_input: Mapping[str, Any]) -> ToolResult:
        view_range = _parse_view_range(tool_input.get("view_range"))
        if target.path.is_dir():
            if view_range is not None:
                raise _Failure(_say("view_range_on_directory"), "view_range on a directory")
            return ToolResult(self._listing(target), summary=f"view {_dir_label(target.shown)}")

        # Mixed files are shown as LF too; only writing keeps them raw.
        text = _read_text(target, max_bytes=None).text.replace("\r\n", "\n")
        lines = text.split("\n")
        total = len(lines)
        first, last = 1, total
        summary = f"view {target.shown}"
        if view_range is not None:
            first, last = _check_view_range(view_range, total)
            summary += f":{first}-{last}"
        body = self._numbered(lines[first - 1 : last], first, total)
        header = _say("view_header", path=target.shown)
        return ToolResult(f"{header}\n{body}", summary=summary)

    def _listing(self, target: _Target) -> str:
        prefix = "" if target.shown == "." else target.shown + "/"
        entries = [_dir_label(target.shown)]
        _walk(target.path, prefix, 1, entries)
        header = _say("listing_header", depth=LISTING_DEPTH, path=target.shown)
        kept: list[str] = []
        used = 0
        for entry in entries:
            used += len(entry) + 1
            if used > self.max_characters and kept:
                kept.append(_say("clipped_listing"))
                break
            kept.append(entry)
        return header + "\n" + "\n".join(kept) + "\n"

    def _numbered(self, lines: list[str], first: int, total: int) -> str:
        """`cat -n` style lines, cut at whole lines once the raw text passes the cap.

        The reference cuts mid-line; a half line invites a wrong `old_str`, so only a single
        line longer than the whole cap is ever cut."""
        out: list[str] = []
        used = 0
        for offset, line in enumerate(lines):
            cost = len(line) + (1 if offset else 0)
            if used + cost > self.max_characters:
                last: int | None = first + len(out) - 1
                if not out:
                    out.append(f"{first:6}\t{line[: self.max_characters]}")
                    last = None
                note = _say("clipped_file", first=first, last=last, total=total)
                return "\n".join(out) + "\n" + note + "\n"
            used += cost
            out.append(f"{first + offset:6}\t{line}")
        return "\n".join(out) + "\n"

    # -- edits -------------------------------------------------------------------------------

    def _str_replace(self, target: _Target, tool_input: Mapping[str, Any]) -> ToolResult:
        old_raw = _optional_str(tool_input, "old_str", "str_replace")
        if old_raw is None:
            raise _Failure(_say("missing_old_str"), "missing old_str")
        new_raw = _optional_str(tool_input, "new_str", "str_replace") or ""
        source = _read_text(target, max_bytes=self.max_edit_bytes)
        text = source.text
        old, new = source.normalise(old_raw), source.normalise(new_raw)
        if not old:
            raise _Failure(_say("empty_old_str"), "empty old_str")
        spans, via_tabs = _find(text, old)
        if not spans:
            hint = _near_miss_hint(text, old)
            message = _say("no_match", old=old_raw, path=target.shown, hint=hint)
            raise _Failure(message, "0 matches")
        if len(spans) > 1:
            lines = _line_numbers(text, [start for start, _ in spans])
            shown_lines = _line_list(lines, len(spans))
            message = _say("multiple_matches", old=old_raw, lines=shown_lines)
            raise _Failure(message, f"{len(spans)} matches")
        start, end = spans[0]
        if via_tabs:
            new = _retab(new, text, start, end)
        edited = text[:start] + new + text[end:]
        _write(target, source.encode(edited))

        first_line = text.count("\n", 0, start)
        lo = max(0, first_line - SNIPPET_LINES)
        hi = first_line + SNIPPET_LINES + new.count("\n")
        edited_lines = edited.split("\n")
        snippet = self._numbered(edited_lines[lo : hi + 1], lo + 1, len(edited_lines))
        head, review = _say("edited", path=target.shown), _say("edit_review")
        output = f"{head}\n{snippet}{review}"
        return ToolResult(output, summary=f"edit {target.shown}")

    def _insert(self, target: _Target, tool_input: Mapping[str, Any]) -> ToolResult:
        raw_line = tool_input.get("insert_line")
        if raw_line is None:
            raise _Failure(_say("missing_insert_line"), "missing insert_line")
        line_no = _as_int(raw_line)
        if line_no is None:
            raise _Failure(_say("bad_insert_line", value=_show(raw_line)), "bad insert_line")
        # Models trained on older versions send `new_str`; accept it when `insert_text` is absent.
        key = "insert_text" if tool_input.get("insert_text") is not None else "new_str"
        inserted_raw = _optional_str(tool_input, key, "insert")
        if inserted_raw is None:
            raise _Failure(_say("missing_insert_text"), "missing insert_text")
        source = _read_text(target, max_bytes=self.max_edit_bytes)
        lines = source.text.split("\n")
        total = len(lines)
        if not 0 <= line_no <= total:
            message = _say("insert_line_range", line=line_no, total=total)
            raise _Failure(message, "bad insert_line")
        at = line_no
        if at == total and lines[-1] == "":
            # After the empty piece that follows a final newline: the reference writes
            # `...\n\nTEXT` and drops the final newline; insert before that piece instead.
            at = total - 1
        new_lines = source.normalise(inserted_raw).split("\n")
        edited = lines[:at] + new_lines + lines[at:]
        _write(target, source.encode("\n".join(edited)))

        snippet_lines = lines[max(0, at - SNIPPET_LINES) : at] + new_lines
        snippet_lines += lines[at : at + SNIPPET_LINES]
        snippet = self._numbered(snippet_lines, max(1, at - SNIPPET_LINES + 1), len(edited))
        head, review = _say("inserted", path=target.shown), _say("insert_review")
        output = f"{head}\n{snippet}{review}"
        return ToolResult(output, summary=f"insert {target.shown}:{line_no}")


# -- checks on the request -------------------------------------------------------------------


def _check_command(command: Any) -> None:
    if command is None:
        message = _say("missing_command", tool=NAME, commands=COMMANDS)
        raise _Failure(message, "missing command")
    if command not in COMMANDS:
        message = _say("unknown_command", command=command, tool=NAME, commands=COMMANDS)
        raise _Failure(message, "unknown command")


def _required_path(raw: Any, command: str) -> str:
    if raw is None or raw == "":
        raise _Failure(_say("missing_path", command=command), "missing path")
    if not isinstance(raw, str):
        raise _Failure(_say("bad_path", value=_show(raw)), "bad path")
    return raw.rstrip("/") or raw


def _check_kind(target: _Target, command: str) -> None:
    """The reference's existence checks, in its order, plus a refusal of non-regular files."""
    path, shown = target.path, target.shown
    exists = path.exists()
    if not exists and command != "create":
        raise _Failure(_say("not_found", path=shown), "not found")
    if exists and command == "create":
        if path.is_dir():
            raise _Failure(_say("create_on_directory", path=shown), "exists")
        raise _Failure(_say("create_exists", path=shown), "exists")
    if exists and path.is_dir() and command != "view":
        raise _Failure(_say("directory_only_view", path=shown), "is a directory")
    if exists and not path.is_dir() and not path.is_file():
        # A FIFO would block the read forever; devices and sockets make no sense either.
        raise _Failure(_say("not_regular", path=shown), "not a file")


def _optional_str(tool_input: Mapping[str, Any], key: str, command: str) -> str | None:
    value = tool_input.get(key)
    if value is None or isinstance(value, str):
        return value
    message = _say("not_a_string", key=key, command=command, value=_show(value))
    raise _Failure(message, f"bad {key}")


def _as_int(value: Any) -> int | None:
    """An integer, also from "12" or 12.0, which weaker models send; never from a bool."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*[-+]?\d+\s*", value):
        return int(value)
    return None


def _parse_view_range(value: Any) -> tuple[int, int] | None:
    original = value
    if isinstance(value, str):
        if not value.strip():
            return None
        try:
            value = json.loads(value)  # "[1, 20]" from servers that stringify arrays
        except ValueError:
            value = None
    if value is None and original is None:
        return None
    if isinstance(value, list | tuple) and len(value) == 0:
        return None
    if isinstance(value, list | tuple) and len(value) == 2:
        first, last = _as_int(value[0]), _as_int(value[1])
        if first is not None and last is not None:
            return first, last
    raise _Failure(_say("bad_view_range", value=_show(original)), "bad view_range")


def _check_view_range(view_range: tuple[int, int], total: int) -> tuple[int, int]:
    first, last = view_range
    context = {"view_range": list(view_range), "first": first, "last": last, "total": total}
    if first < 1 or first > total:
        raise _Failure(_say("view_range_first", **context), "bad view_range")
    if last > total:
        raise _Failure(_say("view_range_last", **context), "bad view_range")
    if last != -1 and last < first:
        raise _Failure(_say("view_range_order", **context), "bad view_range")
    return first, total if last == -1 else last


def _show(value: Any) -> str:
    return json.dumps(value, default=repr)


# -- files -----------------------------------------------------------------------------------


def _read_text(target: _Target, *, max_bytes: int | None) -> _TextFile:
    try:
        size = target.path.stat().st_size
        if max_bytes is not None and size > max_bytes:
            message = _say("too_large", path=target.shown, size=size, limit=max_bytes)
            raise _Failure(message, "too large")
        data = target.path.read_bytes()
    except OSError as exc:
        message = f"{_say('read_failed', error=exc)} {target.shown}"
        raise _Failure(message, "unreadable") from exc
    if b"\x00" in data[:_BINARY_SNIFF_BYTES]:
        raise _Failure(_say("binary", path=target.shown), "binary")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        message = _say("not_utf8", error=exc, path=target.shown)
        raise _Failure(message, "not UTF-8") from exc
    crlf_count = text.count("\r\n")
    if crlf_count and crlf_count == text.count("\n"):
        return _TextFile(text.replace("\r\n", "\n"), crlf=True, mixed=False)
    return _TextFile(text, crlf=False, mixed=crlf_count > 0)


def _write(target: _Target, data: bytes) -> None:
    """Rewrite in place, so the file keeps its mode, owner and hard links."""
    try:
        target.path.write_bytes(data)
    except OSError as exc:
        message = f"{_say('write_failed', error=exc)} {target.shown}"
        raise _Failure(message, "write failed") from exc


def _create(target: _Target, tool_input: Mapping[str, Any]) -> ToolResult:
    file_text = _optional_str(tool_input, "file_text", "create")
    if file_text is None:
        raise _Failure(_say("missing_file_text"), "missing file_text")
    try:
        data = file_text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise _Failure(_say("bad_file_text", error=exc), "bad file_text") from exc
    try:
        target.path.parent.mkdir(parents=True, exist_ok=True)
        with target.path.open("xb") as handle:  # never overwrite, even in a race
            handle.write(data)
    except OSError as exc:
        message = f"{_say('write_failed', error=exc)} {target.shown}"
        raise _Failure(message, "write failed") from exc
    output = f"{_say('created')} {target.shown}"  # the path may end in a space: not templated
    return ToolResult(output, summary=f"create {target.shown}")


def _walk(directory: Path, prefix: str, depth: int, entries: list[str]) -> None:
    """Sorted pre-order listing; symlinked directories are shown, never entered."""
    try:
        children = sorted(os.scandir(directory), key=lambda entry: entry.name)
    except OSError:
        return
    for child in children:
        if child.name.startswith(".") or child.name in _SKIPPED_NAMES:
            continue
        is_dir = child.is_dir(follow_symlinks=False)
        rel = prefix + child.name
        entries.append(rel + "/" if is_dir else rel)
        if is_dir and depth < LISTING_DEPTH:
            _walk(Path(child.path), rel + "/", depth + 1, entries)


def _dir_label(shown: str) -> str:
    return shown if shown == "." else shown + "/"


# -- matching --------------------------------------------------------------------------------


def _starts(text: str, needle: str) -> list[int]:
    """Every start of `needle`, overlapping ones included: "aa" in "aaa" is ambiguous."""
    found: list[int] = []
    index = text.find(needle)
    while index != -1:
        found.append(index)
        index = text.find(needle, index + 1)
    return found


def _find(text: str, old: str) -> tuple[list[tuple[int, int]], bool]:
    """Spans of `old` in `text`, and whether they were found only by expanding tabs.

    The fallback exists because the reference compares tab-expanded text, so a model may send
    spaces where the file has tabs. A span found that way must begin and end on whole
    characters of the original text. Without a tab in `old`, or a space in `old` and a tab in
    `text`, the fallback cannot find anything the exact search missed."""
    spans = [(start, start + len(old)) for start in _starts(text, old)]
    if spans or not ("\t" in old or ("\t" in text and " " in old)):
        return spans, False
    expanded = text.expandtabs(TAB_SIZE)
    wanted = old.expandtabs(TAB_SIZE)
    found = _starts(expanded, wanted)
    if not found:
        return [], False
    # `expandtabs` keeps every "\n", so line k of one text is line k of the other.
    text_lines = [0, *(match.end() for match in re.finditer("\n", text))]
    expanded_lines = [0, *(match.end() for match in re.finditer("\n", expanded))]
    for start in found:
        first = _unexpand_offset(text, start, text_lines, expanded_lines)
        last = _unexpand_offset(text, start + len(wanted), text_lines, expanded_lines)
        if first is not None and last is not None:
            spans.append((first, last))
    return spans, bool(spans)


def _unexpand_offset(
    text: str, offset: int, text_lines: list[int], expanded_lines: list[int]
) -> int | None:
    """The offset in `text` whose character starts at `offset` of `text.expandtabs()`, or None
    when `offset` falls inside the spaces of an expanded tab."""
    line = bisect.bisect_right(expanded_lines, offset) - 1
    wanted = offset - expanded_lines[line]
    index, position, column = text_lines[line], 0, 0
    while position < wanted:
        if text[index] == "\t":
            width = TAB_SIZE - column % TAB_SIZE
            position += width
            column += width
        else:
            position += 1
            column = 0 if text[index] == "\r" else column + 1  # as str.expandtabs does
        index += 1
    return index if position == wanted else None


def _retab(new: str, text: str, start: int, end: int) -> str:
    """Indent `new` with tabs when the replaced lines were tab-indented and `new` has none."""
    line_start = text.rfind("\n", 0, start) + 1
    region = text[line_start:end]
    if "\t" in new or not any(line.startswith("\t") for line in region.split("\n")):
        return new
    lines = new.split("\n")
    for index, line in enumerate(lines):
        if index == 0 and start != line_start:
            continue  # the first line does not begin at column 0
        body = line.lstrip(" ")
        width = len(line) - len(body)
        lines[index] = "\t" * (width // TAB_SIZE) + " " * (width % TAB_SIZE) + body
    return "\n".join(lines)


def _line_numbers(text: str, starts: list[int]) -> list[int]:
    """1-based numbers of the lines the matches start on, each line once."""
    newlines = [match.start() for match in re.finditer("\n", text)]
    return sorted({bisect.bisect_left(newlines, start) + 1 for start in starts})


def _line_list(lines: list[int], count: int, limit: int = 30) -> str:
    """`[3, 7]` as the reference shows it; past `limit` lines, the first ones and a count."""
    if len(lines) <= limit:
        return str(lines)
    return _say("line_list", shown=lines[:limit], count=count, lines=len(lines))


def _near_miss_hint(text: str, old: str) -> str:
    """Why a zero-match `old_str` probably failed, when that is cheap to tell."""
    old_lines = [line for line in old.split("\n") if line.strip()]
    if old_lines and all(re.match(r"\s*\d+\t", line) for line in old_lines):
        return _say("hint_line_numbers")
    tokens = old.split()
    if not tokens:
        return ""
    match = re.search(r"\s+".join(re.escape(token) for token in tokens), text)
    if match is None:
        return ""
    line = text.count("\n", 0, match.start()) + 1
    return _say("hint_whitespace", line=line)


# -- description -----------------------------------------------------------------------------
