"""Status-code and error-handling rules that apply anywhere under app/."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from agent.checker.astutil import keyword, last_name
from agent.checker.base import violation
from agent.checker.project import ProjectIndex, SourceFile
from agent.checker.rules import Violation
from agent.checker.statuses import VALID_STATUSES, status_value


def check_errors(source: SourceFile, tree: ast.Module, index: ProjectIndex) -> Iterator[Violation]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            yield from _status_codes(source, node)
        elif isinstance(node, ast.ExceptHandler) and all(map(_is_noop, node.body)):
            caught = ast.unparse(node.type) if node.type is not None else "everything"
            yield violation(
                source,
                node,
                "BA106",
                f"`except {caught}` swallows the error; handle it or raise an `AppError`",
            )


def _status_codes(source: SourceFile, call: ast.Call) -> Iterator[Violation]:
    node = keyword(call, "status_code")
    is_http_exception = last_name(call.func) == "HTTPException"
    if node is None and is_http_exception and call.args:
        node = call.args[0]
    status = status_value(node)
    if node is None or status is None:
        return
    if status not in VALID_STATUSES:
        yield violation(source, node, "BA103", f"`status_code={status}` is not an HTTP status code")
    elif is_http_exception and status < 400:
        yield violation(
            source,
            node,
            "BA104",
            f"`HTTPException` with status {status}; errors need a 4xx/5xx status",
        )


def _is_noop(stmt: ast.stmt) -> bool:
    if isinstance(stmt, ast.Pass | ast.Continue):
        return True
    return (
        isinstance(stmt, ast.Expr)
        and isinstance(stmt.value, ast.Constant)
        and (stmt.value.value is Ellipsis or isinstance(stmt.value.value, str))
    )
