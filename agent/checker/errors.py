"""Status-code and error-handling rules that apply to every file."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from agent.checker.astutil import all_args, dotted, keyword, last_name, parents, walk_local
from agent.checker.base import violation
from agent.checker.project import ProjectIndex, SourceFile
from agent.checker.rules import Violation
from agent.checker.statuses import VALID_STATUSES, status_value


def check_errors(source: SourceFile, tree: ast.Module, index: ProjectIndex) -> Iterator[Violation]:
    for node in source.nodes:
        if isinstance(node, ast.Call):
            yield from _status_codes(source, node)
    parent: dict[ast.AST, ast.AST] | None = None
    for block in _blocks(source.nodes):
        for position, stmt in enumerate(block):
            if not isinstance(stmt, ast.Try | ast.TryStar):
                continue
            for handler in stmt.handlers:
                if not all(map(_is_noop, handler.body)):
                    continue
                parent = parent if parent is not None else parents(tree)
                if _handled_by_flow(stmt, block[:position], _enclosing_names(stmt, parent)):
                    continue
                caught = ast.unparse(handler.type) if handler.type is not None else "everything"
                yield violation(
                    source,
                    handler,
                    "BA106",
                    f"`except {caught}` swallows the error; handle it or raise an `AppError`",
                )


def _blocks(nodes: list[ast.AST]) -> Iterator[list[ast.stmt]]:
    """Every statement list: module, function, loop, `if`, `with`, `try` bodies, handlers."""
    for node in nodes:
        for name in ("body", "orelse", "finalbody"):
            block = getattr(node, name, None)
            if isinstance(block, list) and block and isinstance(block[0], ast.stmt):
                yield block


def _enclosing_names(stmt: ast.stmt, parent: dict[ast.AST, ast.AST]) -> set[str]:
    """Names bound before `stmt` runs by what encloses it: loop targets and the parameters
    of its function."""
    names: set[str] = set()
    node: ast.AST | None = parent.get(stmt)
    while node is not None:
        if isinstance(node, ast.For | ast.AsyncFor):
            names |= {dotted(n) for n in ast.walk(node.target) if isinstance(n, ast.Name)}
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            return names | {arg.arg for arg in all_args(node)}
        node = parent.get(node)
    return names


def _handled_by_flow(stmt: ast.Try | ast.TryStar, before: list[ast.stmt], bound: set[str]) -> bool:
    """Deliberate shapes where `except ...: pass` loses nothing:
    - a preset default: `value = default` (or a parameter, or a loop variable), then
      `try: value = parse(x)` / `except: pass`: the try ends by overriding it;
    - a way out that may fail: `try: ...; return x` / `except: pass`, then the ordinary path
      (first-that-works loops, optional fast paths);
    - `try` / `except: pass` / `else:`, where `else` handles the success case."""
    if stmt.orelse or any(
        isinstance(node, ast.Return | ast.Break | ast.Continue) for node in walk_local(stmt.body)
    ):
        return True
    preset = bound | {name for earlier in before for name in _assigned(earlier)}
    names = _assigned(stmt.body[-1])
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
