"""What a check is and how it reports, so rule modules stay uniform."""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator

from agent.checker.project import ProjectIndex, SourceFile
from agent.checker.rules import RULES, Violation

Check = Callable[[SourceFile, ast.Module, ProjectIndex], Iterator[Violation]]


def violation(source: SourceFile, node: ast.AST, code: str, message: str) -> Violation:
    """Columns are 1-based, as in ruff."""
    assert code in RULES, code
    line = getattr(node, "lineno", 1)
    col = getattr(node, "col_offset", 0) + 1
    return Violation(source.rel, line, col, code, message)
