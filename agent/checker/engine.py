"""Run every check over a project, then apply rule selection and `# noqa` comments."""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from agent.checker.base import Check
from agent.checker.blocking import check_blocking, index_blocking
from agent.checker.endpoints import check_endpoints
from agent.checker.errors import check_errors
from agent.checker.models import check_models
from agent.checker.project import load
from agent.checker.rules import Violation, enabled_codes
from agent.checker.security import check_security
from agent.checker.services import check_awaits, check_services
from agent.checker.sources import SourceFile

CHECKS: tuple[Check, ...] = (
    check_blocking,
    check_endpoints,
    check_models,
    check_services,
    check_awaits,
    check_security,
    check_errors,
)
SYNTAX_ERROR = "BA001"
NOTICE = "note"  # not a rule code: never selected, never a failure
_NOQA = re.compile(r"#\s*noqa(?::\s*(?P<codes>[A-Z]+[0-9]+(?:[\s,]+[A-Z]+[0-9]+)*))?", re.I)


@dataclass(frozen=True)
class Report:
    violations: list[Violation]
    # Files left unchecked because they need a newer Python to parse: not violations.
    notices: list[Violation] = field(default_factory=list)


def check_project(
    root: Path, select: Sequence[str] | None = None, ignore: Sequence[str] = ()
) -> list[Violation]:
    """All violations in the project's packages, sorted; ValueError on an unknown selector."""
    return inspect_project(root, select, ignore).violations


def inspect_project(
    root: Path, select: Sequence[str] | None = None, ignore: Sequence[str] = ()
) -> Report:
    """Violations plus the files this Python cannot parse because they use newer syntax."""
    enabled = enabled_codes(select, ignore)
    index = load(Path(root))
    index_blocking(index)
    found: set[Violation] = set()
    notices: list[Violation] = []
    for source in index.files:
        if source.needs_python:
            notices.append(_newer_syntax_notice(source))
            continue
        if source.syntax_error is not None:
            found.add(_syntax_violation(source))
            continue
        assert source.tree is not None
        lines = source.lines
        for check in CHECKS:
            for violation in check(source, source.tree, index):
                if not _suppressed(violation, lines):
                    found.add(violation)
    return Report(sorted(v for v in found if v.code in enabled), sorted(notices))


def _newer_syntax_notice(source: SourceFile) -> Violation:
    error = source.syntax_error
    assert error is not None
    running = f"{sys.version_info.major}.{sys.version_info.minor}"
    message = (
        f"needs Python >= {source.needs_python} to parse (this is {running}); "
        "not checked. Run the checker with that Python to check it"
    )
    return Violation(source.rel, error.lineno or 1, error.offset or 1, NOTICE, message)


def _syntax_violation(source: SourceFile) -> Violation:
    error = source.syntax_error
    assert error is not None
    return Violation(
        source.rel,
        error.lineno or 1,
        error.offset or 1,
        SYNTAX_ERROR,
        f"SyntaxError: {error.msg}",
    )


def _suppressed(violation: Violation, lines: list[str]) -> bool:
    if not 0 < violation.line <= len(lines):
        return False
    match = _NOQA.search(lines[violation.line - 1])
    if match is None:
        return False
    codes = match.group("codes")
    if codes is None:
        return True
    return violation.code in {code.upper() for code in re.split(r"[\s,]+", codes)}
