"""Rules for the service layer (app/services) and for awaiting AsyncSession everywhere."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from agent.checker.astutil import (
    FunctionNode,
    decorator_names,
    dotted,
    last_name,
    parents,
    positional_args,
    walk_local,
)
from agent.checker.base import violation
from agent.checker.project import (
    SELF_SESSION_ATTRS,
    ProjectIndex,
    SourceFile,
    called_on,
    is_infrastructure,
    is_service_class,
    opened_sessions,
    session_param_names,
    uses_session,
)
from agent.checker.rules import Violation

ACCESSORS = frozenset({"property", "cached_property", "setter", "getter", "deleter"})
WRITE_METHODS = frozenset({"add", "add_all", "delete", "merge"})
# The CRUD mixin's writes only flush (`await Book.create(session, ...)`, `book.delete(session)`).
CRUD_WRITE_METHODS = frozenset({"create", "update", "delete", "save", "bulk_create", "upsert"})
DML_CONSTRUCTS = frozenset({"insert", "update", "delete", "pg_insert"})
SELF_SESSIONS = frozenset(f"self.{attr}" for attr in SELF_SESSION_ATTRS)
ASYNC_SESSION_METHODS = frozenset(
    {
        "commit",
        "rollback",
        "execute",
        "scalar",
        "scalars",
        "get",
        "get_one",
        "refresh",
        "flush",
        "delete",
        "merge",
        "close",
        "stream",
        "stream_scalars",
        "run_sync",
    }
)


def check_services(
    source: SourceFile, tree: ast.Module, index: ProjectIndex
) -> Iterator[Violation]:
    """Service classes (they work with a session) anywhere outside route modules, and
    module-level functions taking a session where no class holds them (`crud.py`)."""
    if index.routes(source):
        return
    for node in source.nodes:
        if isinstance(node, ast.ClassDef) and is_service_class(node, index):
            for item in node.body:
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
                    yield from _method(source, node.name, item, index)
    if is_infrastructure(tree):
        return
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield from _module_function(source, node, index)


def _module_function(
    source: SourceFile, func: FunctionNode, index: ProjectIndex
) -> Iterator[Violation]:
    """A public function taking the session first and working with the project's models is
    a service operation outside a service class. Private helpers, dependencies
    (`Depends(get_db)`), generators and model-agnostic utilities (`paginate(session, stmt)`)
    are not."""
    params = positional_args(func) or list(func.args.kwonlyargs)
    if func.name.startswith("_") or func.name in index.dependencies or not params:
        return
    if _is_generator(func) or _registered(func) or not index.is_session_param(params[0]):
        return
    if not {node.id for node in ast.walk(func) if isinstance(node, ast.Name)} & set(index.models):
        return
    yield violation(
        source,
        func,
        "BA301",
        f"service function `{func.name}` must be a `@staticmethod` of a service class",
    )
    yield from _commits(source, func.name, func, index)
    yield from _http_exceptions(source, func)


def _registered(func: FunctionNode) -> bool:
    """`@scheduler.add(...)`, `@celery_app.task(...)`: an entry point a framework calls
    (a job, a task, a command), like an endpoint, not a service operation."""
    return any(
        isinstance(dec, ast.Call) and isinstance(dec.func, ast.Attribute)
        for dec in func.decorator_list
    )


def _is_generator(func: FunctionNode) -> bool:
    return any(isinstance(node, ast.Yield | ast.YieldFrom) for node in walk_local(func.body))


def _http_exceptions(source: SourceFile, func: FunctionNode) -> Iterator[Violation]:
    for node in walk_local(func.body):
        if isinstance(node, ast.Raise) and last_name(_raised(node)) == "HTTPException":
            yield violation(
                source,
                node,
                "BA305",
                "services raise `AppError` members/helpers, not `HTTPException` directly",
            )


def _raised(node: ast.Raise) -> ast.expr | None:
    return node.exc.func if isinstance(node.exc, ast.Call) else node.exc


def _method(
    source: SourceFile, owner: str, func: FunctionNode, index: ProjectIndex
) -> Iterator[Violation]:
    decorators = decorator_names(func)
    if (func.name.startswith("__") and func.name.endswith("__")) or decorators & ACCESSORS:
        return  # `__init__`, properties: Python's protocols, not service operations
    qualified = f"{owner}.{func.name}"
    static = "staticmethod" in decorators
    if not static:
        yield violation(
            source,
            func,
            "BA301",
            f"service method `{qualified}` must be a `@staticmethod`",
        )
    yield from _http_exceptions(source, func)
    if not uses_session(func, index):
        return  # a helper that never touches the database needs no session
    params = positional_args(func) or list(func.args.kwonlyargs)
    if not static and params and params[0].arg in {"self", "cls"}:
        params = params[1:]
    first = params[0] if params else None
    if first is None or not index.is_session_param(first):
        shown = f"`{first.arg}`" if first is not None else "nothing"
        yield violation(
            source,
            first if first is not None else func,
            "BA302",
            f"service method `{qualified}` must take the session (`session: AsyncSession`) as "
            f"its first parameter, not {shown}",
        )
    yield from _commits(source, qualified, func, index)


def _commits(
    source: SourceFile, qualified: str, func: FunctionNode, index: ProjectIndex
) -> Iterator[Violation]:
    sessions = session_param_names(func, index) | opened_sessions(func) | SELF_SESSIONS
    first_write: tuple[ast.Call, str] | None = None
    commits = False
    for node in sorted(walk_local(func.body), key=_position):
        if not isinstance(node, ast.Call):
            continue
        method = called_on(node, sessions)
        if method == "commit" or (method == "begin" and _is_context_manager(node, func)):
            commits = True
        elif first_write is None and (
            method in WRITE_METHODS or (method == "execute" and _is_dml(source, node))
        ):
            label = f"{method}()" if method != "execute" else "execute(<insert/update/delete>)"
            first_write = (node, label)
        elif first_write is None and _is_crud_write(node, sessions, index):
            first_write = (node, "")
    if first_write is not None and not commits:
        node, label = first_write
        receiver = dotted(node.func.value) if isinstance(node.func, ast.Attribute) else "session"
        if not label:  # a CRUD write: the session is its first argument
            shown = ast.unparse(node.func)
            session = dotted(node.args[0])
            message = f"`{qualified}` writes with `{shown}()` but never `await {session}.commit()`"
        else:
            message = (
                f"`{qualified}` calls `{receiver}.{label}` but never `await {receiver}.commit()`"
            )
        yield violation(source, node, "BA303", message)


def _is_crud_write(call: ast.Call, sessions: set[str], index: ProjectIndex) -> bool:
    """`Book.create(session, ...)` / `book.delete(session)`, but not another service's method
    (services commit themselves)."""
    if not (
        isinstance(call.func, ast.Attribute)
        and call.func.attr in CRUD_WRITE_METHODS
        and call.args
        and dotted(call.args[0]) in sessions
    ):
        return False
    owner = dotted(call.func.value)
    return owner not in index.services and not owner.endswith("Service")


def _position(node: ast.AST) -> tuple[int, int]:
    return getattr(node, "lineno", 0), getattr(node, "col_offset", 0)


def _is_dml(source: SourceFile, call: ast.Call) -> bool:
    if not call.args:
        return False
    return any(
        isinstance(node, ast.Call) and source.is_sql_call(node, DML_CONSTRUCTS)
        for node in ast.walk(call.args[0])
    )


def _is_context_manager(call: ast.Call, func: FunctionNode) -> bool:
    for node in walk_local(func.body):
        if isinstance(node, ast.With | ast.AsyncWith) and any(
            item.context_expr is call for item in node.items
        ):
            return True
    return False


def check_awaits(source: SourceFile, tree: ast.Module, index: ProjectIndex) -> Iterator[Violation]:
    """AsyncSession methods return coroutines; forgetting `await` silently does nothing."""
    for func in source.nodes:
        if not isinstance(func, ast.AsyncFunctionDef):
            continue
        sessions = _async_session_names(func, index)
        if not sessions:
            continue
        parent = parents(func)
        for node in walk_local(func.body):
            if not isinstance(node, ast.Call):
                continue
            method = called_on(node, sessions)
            if method in ASYNC_SESSION_METHODS and not isinstance(parent.get(node), ast.Await):
                receiver = dotted(node.func.value) if isinstance(node.func, ast.Attribute) else ""
                yield violation(
                    source,
                    node,
                    "BA304",
                    f"`{receiver}.{method}()` on an AsyncSession must be awaited",
                )


def _async_session_names(func: FunctionNode, index: ProjectIndex) -> set[str]:
    names = opened_sessions(func, async_only=True)
    for arg in [*func.args.posonlyargs, *func.args.args, *func.args.kwonlyargs]:
        if arg.annotation is None:
            if arg.arg in {"session", "db", "db_session"}:
                names.add(arg.arg)
        elif index.is_async_session_annotation(arg.annotation):
            names.add(arg.arg)
    return names
