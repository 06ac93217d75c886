"""Status-code and error-handling rules that apply to every file."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from agent.checker.astutil import dotted, keyword, last_name
from agent.checker.base import violation
from agent.checker.project import ProjectIndex, SourceFile
from agent.checker.rules import Violation
from agent.checker.statuses import VALID_STATUSES, status_value


def check_errors(source: SourceFile, tree: ast.Module, index: ProjectIndex) -> Iterator[Violation]:
    for node in source.nodes:
        if isinstance(node, ast.Call):
            yield from _status_codes(source, node)
    for owner, block in _blocks(source.nodes):
        for position, stmt in enumerate(block):
            if not isinstance(stmt, ast.Try | ast.TryStar):
                continue
            for handler in stmt.handlers:
                if all(map(_is_noop, handler.body)) and not _handled_by_flow(
                    stmt, block[:position], owner
                ):
                    caught = ast.unparse(handler.type) if handler.type is not None else "everything"
                    yield violation(
                        source,
                        handler,
                        "BA106",
                        f"`except {caught}` swallows the error; handle it or raise an `AppError`",
                    )


def _blocks(nodes: list[ast.AST]) -> Iterator[tuple[ast.AST, list[ast.stmt]]]:
    """Every statement list (module, function, loop, `if`, `with`, `try` bodies, handlers),
    with the node that owns it."""
    for node in nodes:
        for name in ("body", "orelse", "finalbody"):
            block = getattr(node, name, None)
            if isinstance(block, list) and block and isinstance(block[0], ast.stmt):
                yield node, block


def _handled_by_flow(stmt: ast.Try | ast.TryStar, before: list[ast.stmt], owner: ast.AST) -> bool:
    """Two deliberate shapes where `pass` loses nothing:
    - a preset default: `value = default` then `try: value = parse(x)` / `except: pass`
      (the try ends by overriding names set before it);
    - a first-that-works loop: `for p in options: try: ...; return p` / `except: pass`."""
    last = stmt.body[-1]
    if isinstance(owner, ast.For | ast.AsyncFor | ast.While) and isinstance(
        last, ast.Return | ast.Break
    ):
        return True
    preset = {name for earlier in before for name in _assigned(earlier)}
    names = _assigned(last)
    return bool(names) and names <= preset


def _assigned(stmt: ast.stmt) -> set[str]:
    if isinstance(stmt, ast.Assign):
        targets = stmt.targets
    elif isinstance(stmt, ast.AnnAssign | ast.AugAssign):
        targets = [stmt.target]
    else:
        return set()
    names = {dotted(target) for target in targets}
    return names if "" not in names else set()


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
