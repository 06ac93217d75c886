"""Run every check over a project, then apply rule selection and `# noqa` comments."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from agent.checker.base import Check
from agent.checker.endpoints import check_endpoints
from agent.checker.errors import check_errors
from agent.checker.models import check_models
from agent.checker.project import SourceFile, load
from agent.checker.rules import Violation, enabled_codes
from agent.checker.security import check_security
from agent.checker.services import check_awaits, check_services

CHECKS: tuple[Check, ...] = (
    check_endpoints,
    check_models,
    check_services,
    check_awaits,
    check_security,
    check_errors,
)
SYNTAX_ERROR = "BA001"
_NOQA = re.compile(r"#\s*noqa(?::\s*(?P<codes>[A-Z]+[0-9]+(?:[\s,]+[A-Z]+[0-9]+)*))?", re.I)


def check_project(
    root: Path, select: Sequence[str] | None = None, ignore: Sequence[str] = ()
) -> list[Violation]:
    """All violations under `root/app`, sorted; raises ValueError on an unknown selector."""
    enabled = enabled_codes(select, ignore)
    index = load(Path(root))
    found: set[Violation] = set()
    for source in index.files:
        if source.syntax_error is not None:
            found.add(_syntax_violation(source))
            continue
        assert source.tree is not None
        lines = source.lines
        for check in CHECKS:
            for violation in check(source, source.tree, index):
                if not _suppressed(violation, lines):
                    found.add(violation)
    return sorted(v for v in found if v.code in enabled)


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
