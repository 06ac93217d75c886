"""Compact readings of pytest and linter output, shared by the check tools and the gate.

Raw pytest and ruff output is long and repetitive (code frames, progress bars, banners); the
model needs counts, the failing ids and the few lines that say why. The parsers read text, not
flags, because the commands come from the target repo's config: they cope with `-q`, `-qq`
(when the repo's `addopts` adds its own `-q`, pytest drops the final counts line), `-v`, and
with ruff's full, concise, grouped and pylint formats.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from tools.process import CommandResult
from tools.templating import render_block

MESSAGES = "summary_messages.md"

# Caps on what a report may hold; the model reads it on every gate round.
REPORT_CHARS = 4000
SUMMARY_LINES_CHARS = 1500
SECTION_LINES = 15
CAPTURED_LINES = 5
LINE_CHARS = 300
TAIL_LINES = 40
TAIL_CHARS = 3000
MAX_PROBLEMS = 60

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def _clean_lines(text: str) -> list[str]:
    """Lines without colour codes, carriage-return redraws or trailing blanks."""
    text = _ANSI.sub("", text)
    return [line.rsplit("\r", 1)[-1].rstrip() for line in text.splitlines()]


def _clip(line: str, limit: int = LINE_CHARS) -> str:
    return line if len(line) <= limit else line[: limit - 3] + "..."


def _tail(lines: list[str], max_lines: int = TAIL_LINES, max_chars: int = TAIL_CHARS) -> str:
    """The end of the raw output: where a crash or an unknown tool says what went wrong."""
    kept: list[str] = []
    size = 0
    for line in reversed([ln for ln in lines if ln.strip()][-max_lines:]):
        line = _clip(line)
        if size + len(line) + 1 > max_chars:
            break
        kept.append(line)
        size += len(line) + 1
    return "\n".join(reversed(kept))


def _say(message: str, **context: Any) -> str:
    """Fixed wording from `templates/summary_messages.md`, where every word of it lives."""
    return render_block(MESSAGES, message, **context)


def _timed_out(result: CommandResult) -> str:
    """The measured duration, to the second: "timed out after 300 s", not 300.0127."""
    return _say("timed_out", seconds=f"{result.duration:.0f}")


# --------------------------------------------------------------------------- pytest


@dataclass(frozen=True)
class TestSummary:
    __test__ = False  # not a test class, whatever pytest thinks of the name

    passed: int
    failed: int
    errors: int
    skipped: int
    xfailed: int
    failing: list[str]
    ok: bool
    headline: str
    report: str
    xpassed: int = 0


_STATS_BODY = re.compile(
    r"^(?P<counts>(?:\d+ [a-z]+(?: [a-z]+)?)(?:, \d+ [a-z]+(?: [a-z]+)?)*|no tests ran)"
    r" in [\d.]+s(?: \([^)]*\))?$"
)
_BANNER = re.compile(r"^={3,} (?P<title>.+?) ={3,}$")
_SECTION = re.compile(r"^_{3,} (?P<title>.+?) _{3,}$")
_SUBSECTION = re.compile(r"^-{3,} (?P<title>.+?) -{3,}$")
_PROGRESS = re.compile(r"^(?:\S+\.py )?(?P<marks>[.FEsxX]+)\s*\[\s*\d+%\]$")
_VERBOSE = re.compile(
    r"^(?P<id>\S+::\S.*?) (?P<outcome>PASSED|FAILED|ERROR|SKIPPED|XFAIL|XPASS)\b.*$"
)
_SUMMARY_ENTRY = re.compile(r"^(?P<kind>FAILED|ERROR) (?P<id>\S+)(?: - .*)?$")
_SECTION_PREFIX = re.compile(r"^ERROR (?:at \w+ of |collecting )")
_INTERRUPTED = re.compile(r"Interrupted: (?P<n>\d+) errors? during collection")

_MARKS = {
    ".": "passed",
    "F": "failed",
    "E": "errors",
    "s": "skipped",
    "x": "xfailed",
    "X": "xpassed",
}
_OUTCOMES = {
    "PASSED": "passed",
    "FAILED": "failed",
    "ERROR": "errors",
    "SKIPPED": "skipped",
    "XFAIL": "xfailed",
    "XPASS": "xpassed",
}
_STAT_WORDS = {
    "passed": "passed",
    "failed": "failed",
    "error": "errors",
    "errors": "errors",
    "skipped": "skipped",
    "xfailed": "xfailed",
    "xpassed": "xpassed",
}
# The order pytest itself uses in its counts line.
_HEADLINE_ORDER = ("failed", "passed", "skipped", "xfailed", "xpassed", "errors")


def _stats_line(lines: list[str]) -> dict[str, int] | None:
    """The counts from pytest's last line ("3 failed, 2 passed in 0.6s"), if it printed one."""
    for line in reversed(lines):
        banner = _BANNER.match(line)
        body = banner.group("title") if banner else line.strip()
        match = _STATS_BODY.match(body)
        if not match:
            continue
        counts = dict.fromkeys(_MARKS.values(), 0)
        if match.group("counts") != "no tests ran":
            for part in match.group("counts").split(", "):
                number, word = part.split(" ", 1)
                if word in _STAT_WORDS:
                    counts[_STAT_WORDS[word]] += int(number)
        return counts
    return None


def _progress_counts(lines: list[str]) -> dict[str, int] | None:
    """Counts from the progress marks or `-v` outcome words, for runs without a counts line."""
    counts = dict.fromkeys(_MARKS.values(), 0)
    seen = False
    for line in lines:
        if progress := _PROGRESS.match(line):
            seen = True
            for mark in progress.group("marks"):
                counts[_MARKS[mark]] += 1
        elif verbose := _VERBOSE.match(line):
            seen = True
            counts[_OUTCOMES[verbose.group("outcome")]] += 1
    return counts if seen else None


def _short_summary(lines: list[str]) -> list[str]:
    """The `FAILED id - reason` / `ERROR id - reason` lines of the short test summary."""
    entries: list[str] = []
    inside = False
    for line in lines:
        banner = _BANNER.match(line)
        if banner:
            inside = banner.group("title") == "short test summary info"
            continue
        if inside and _SUMMARY_ENTRY.match(line):
            entries.append(line)
    return entries


def _failure_sections(lines: list[str]) -> list[tuple[str, list[str]]]:
    """Each `____ name ____` block under the ERRORS and FAILURES banners, with its lines."""
    sections: list[tuple[str, list[str]]] = []
    inside = False
    current: list[str] | None = None
    for line in lines:
        banner = _BANNER.match(line)
        if banner or line.startswith("!!!"):
            inside = bool(banner) and banner.group("title") in ("ERRORS", "FAILURES")
            current = None
            continue
        if not inside:
            continue
        section = _SECTION.match(line)
        if section:
            current = []
            sections.append((section.group("title"), current))
        elif current is not None:
            current.append(line)
    return sections


def _trim_section(body: list[str]) -> list[str]:
    """The last lines of the traceback (where the `E` lines and the location are), plus the
    end of each captured stream, which is where an app's own traceback or log usually is."""
    parts: list[tuple[str | None, list[str]]] = [(None, [])]
    for line in body:
        sub = _SUBSECTION.match(line)
        if sub:
            parts.append((line, []))
        else:
            parts[-1][1].append(line)
    trimmed: list[str] = []
    for header, part in parts:
        part = [ln for ln in part if ln.strip()] if header else part
        while part and not part[0].strip():
            part = part[1:]
        while part and not part[-1].strip():
            part = part[:-1]
        limit = SECTION_LINES if header is None else CAPTURED_LINES
        if header is not None:
            if not part:
                continue
            trimmed.append(header)
        if len(part) > limit:
            trimmed.append("...")
            part = part[-limit:]
        trimmed.extend(_clip(ln) for ln in part)
    return trimmed


def _capped_join(blocks: Iterable[str], budget: int, more: str) -> list[str]:
    """Take blocks while they fit in `budget` characters; say how many did not (the `more`
    message)."""
    kept: list[str] = []
    blocks = list(blocks)
    used = 0
    for index, block in enumerate(blocks):
        if used + len(block) + 1 > budget:
            kept.append(_say(more, n=len(blocks) - index))
            break
        kept.append(block)
        used += len(block) + 1
    return kept


def _pytest_headline(counts: dict[str, int], result: CommandResult, collection_failed: bool) -> str:
    if result.timed_out:
        return _timed_out(result)
    text = _say("counts", counts=[(key, counts[key]) for key in _HEADLINE_ORDER if counts[key]])
    code = result.exit_code
    if code == 0:
        return _say("no_test_passed", counts=text) if counts["passed"] == 0 else text
    if code == 1 and text:
        return text
    if code == 2 and collection_failed:
        return _say("collection_failed", counts=text, code=code)
    return _say("exit_status", counts=text, code=code)


def summarize_pytest(result: CommandResult) -> TestSummary:
    """Counts, failing ids and trimmed tracebacks of one pytest run.

    Green only when pytest exited 0 AND at least one test passed: an empty or all-skipped suite
    proves nothing, and a change that deletes the tests must not pass the gate."""
    lines = _clean_lines(result.output)
    counts = _stats_line(lines)
    entries = _short_summary(lines)
    from_stats = counts is not None
    if counts is None:
        counts = _progress_counts(lines) or dict.fromkeys(_MARKS.values(), 0)
    if not from_stats:
        failed_entries = sum(1 for e in entries if e.startswith("FAILED "))
        error_entries = sum(1 for e in entries if e.startswith("ERROR "))
        counts["failed"] = max(counts["failed"], failed_entries)
        counts["errors"] = max(counts["errors"], error_entries)
    collection_errors = [int(m["n"]) for ln in lines if (m := _INTERRUPTED.search(ln))]
    if collection_errors:
        counts["errors"] = max(counts["errors"], *collection_errors)

    failing = [m.group("id") for e in entries if (m := _SUMMARY_ENTRY.match(e))]
    sections = _failure_sections(lines)
    if not failing:
        failing = [
            m.group("id")
            for ln in lines
            if (m := _VERBOSE.match(ln)) and m.group("outcome") in ("FAILED", "ERROR")
        ]
    if not failing:
        failing = [_SECTION_PREFIX.sub("", title) for title, _ in sections]
    failing = list(dict.fromkeys(failing))

    ok = not result.timed_out and result.exit_code == 0 and counts["passed"] > 0
    headline = _pytest_headline(counts, result, bool(collection_errors))

    report_parts: list[str] = []
    if not ok and result.exit_code == 5 and not result.timed_out:
        report_parts.append(_say("no_tests_collected"))
    elif not ok and result.exit_code == 0 and not result.timed_out:
        report_parts.append(_say("none_passed"))
    if entries:
        kept = _capped_join([_clip(e) for e in entries], SUMMARY_LINES_CHARS, "more_lines")
        report_parts.append("\n".join(kept))
    used = sum(len(p) + 1 for p in report_parts)
    if sections:
        blocks = ["\n".join([f"--- {title} ---", *_trim_section(body)]) for title, body in sections]
        kept = _capped_join(blocks, max(REPORT_CHARS - used, 0), "more_sections")
        report_parts.extend(kept)
    elif not ok and (result.exit_code not in (0, 5) or result.timed_out):
        # A crash, a usage error or a timeout: the end of the raw output says what happened.
        tail = _tail(lines)
        if tail:
            report_parts.append(tail)
    report = "\n\n".join(report_parts)
    return TestSummary(
        passed=counts["passed"],
        failed=counts["failed"],
        errors=counts["errors"],
        skipped=counts["skipped"],
        xfailed=counts["xfailed"],
        failing=failing,
        ok=ok,
        headline=headline,
        report=report,
        xpassed=counts["xpassed"],
    )


# --------------------------------------------------------------------------- lint


@dataclass(frozen=True)
class LintSummary:
    ok: bool
    problems: list[str]
    headline: str
    report: str


_CODE = r"(?P<code>[A-Z]+[0-9]+|[a-z]+(?:-[a-z]+)*)"
# concise (and ruff < 0.9 "full"): path:line:col: CODE [*] message
_CONCISE = re.compile(
    r"^(?P<path>[^\s:][^:]*?):(?P<line>\d+):(?P<col>\d+): " + _CODE + r":? (?:\[\*\] )?(?P<msg>.*)$"
)
# pylint: path:line: [CODE] message
_PYLINT = re.compile(r"^(?P<path>[^\s:][^:]*?):(?P<line>\d+): \[" + _CODE + r"\] (?P<msg>.*)$")
# full (ruff >= 0.9): "CODE [*] message" then " --> path:line:col"
_FULL_HEAD = re.compile(r"^" + _CODE + r":? (?:\[\*\] )?(?P<msg>\S.*)$")
_ARROW = re.compile(r"^\s*--> (?P<path>.+?):(?P<line>\d+):(?P<col>\d+)$")
# grouped: "path:" then "  line:col CODE message"
_GROUP_FILE = re.compile(r"^(?P<path>\S[^:]*):$")
_GROUP_ITEM = re.compile(
    r"^\s+(?P<line>\d+):(?P<col>\d+) " + _CODE + r":? (?:\[\*\] )?(?P<msg>.*)$"
)
# ruff format --check, old and new wording
_WOULD_REFORMAT = re.compile(r"^Would reformat: (?P<path>.+)$")
_UNFORMATTED_CODE = "unformatted"
_RUFF_FOUND = re.compile(r"^Found (?P<n>\d+) errors?\.?")
_RUFF_FIXABLE = re.compile(r"^\[\*\] \d+ fixable")
_RUFF_CLEAN = re.compile(
    r"^(All checks passed!|\d+ files? (already formatted|left unchanged)"
    r"|\d+ files? would be reformatted)"
)


def _problem(path: str, line: str, code: str, msg: str) -> str:
    return f"{path}:{line}: {code} {msg.strip()}"


def _ruff_problems(lines: list[str]) -> tuple[list[str], list[str]]:
    """(diagnostics as `file:line: CODE message`, files that `ruff format` would change)."""
    problems: list[str] = []
    unformatted: list[str] = []
    group_path: str | None = None
    for index, line in enumerate(lines):
        if match := _WOULD_REFORMAT.match(line):
            unformatted.append(match.group("path").strip())
            continue
        if (match := _CONCISE.match(line)) or (match := _PYLINT.match(line)):
            problems.append(_problem(match["path"], match["line"], match["code"], match["msg"]))
            continue
        if arrow := _ARROW.match(line):
            head = _FULL_HEAD.match(lines[index - 1]) if index else None
            if head is None:
                continue
            if head["code"] == _UNFORMATTED_CODE:
                unformatted.append(arrow["path"])
            else:
                problems.append(_problem(arrow["path"], arrow["line"], head["code"], head["msg"]))
            continue
        if group := _GROUP_FILE.match(line):
            group_path = group["path"]
            continue
        if group_path and (item := _GROUP_ITEM.match(line)):
            problems.append(_problem(group_path, item["line"], item["code"], item["msg"]))
            continue
        if not line.strip():
            continue
        if not line.startswith(" "):
            group_path = None
    return problems, list(dict.fromkeys(unformatted))


def summarize_lint(result: CommandResult) -> LintSummary:
    """The diagnostics of one lint command, as `file:line: CODE message` lines.

    Green exactly when the linter exited 0: its exit status is the verdict, the parse only makes
    the report short. Output that is neither ruff check nor ruff format is reported as its tail."""
    lines = _clean_lines(result.output)
    problems, unformatted = _ruff_problems(lines)
    ok = not result.timed_out and result.exit_code == 0
    recognised = bool(problems or unformatted) or any(_RUFF_CLEAN.match(ln) for ln in lines)

    found = max([len(problems)] + [int(m["n"]) for ln in lines if (m := _RUFF_FOUND.match(ln))])
    headline = (
        _timed_out(result)
        if result.timed_out
        else _say(
            "lint_headline",
            errors=found,
            unformatted=len(unformatted),
            ok=ok,
            code=result.exit_code,
        )
    )

    would_reformat = _say("would_reformat")
    listed = problems + [f"{path}: {would_reformat}" for path in unformatted]
    report_lines = [_clip(p) for p in listed[:MAX_PROBLEMS]]
    if len(listed) > MAX_PROBLEMS:
        report_lines.append(_say("more_lines", n=len(listed) - MAX_PROBLEMS))
    report_lines += [ln for ln in lines if _RUFF_FIXABLE.match(ln)]
    if not ok and (not recognised or result.timed_out or not listed):
        tail = _tail(lines)
        if tail:
            report_lines.append(tail)
    return LintSummary(ok=ok, problems=listed, headline=headline, report="\n".join(report_lines))
