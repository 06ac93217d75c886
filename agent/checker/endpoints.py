"""Rules for route handlers: response models, annotations, thinness, schemas out and in."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from agent.checker.astutil import (
    FunctionNode,
    all_args,
    body_without_docstring,
    dotted,
    is_none,
    keyword,
    last_name,
    names_in,
    unwrap_annotated,
    walk_local,
)
from agent.checker.base import violation
from agent.checker.project import (
    DEPENDENCY_MARKERS,
    Endpoint,
    ProjectIndex,
    SourceFile,
    called_on,
    resolve_function,
    session_param_names,
)
from agent.checker.rules import Violation
from agent.checker.statuses import status_value

SESSION_DB_METHODS = frozenset(
    {
        "add",
        "add_all",
        "execute",
        "exec_driver_sql",
        "commit",
        "scalar",
        "scalars",
        "delete",
        "refresh",
        "flush",
        "rollback",
        "get",
        "merge",
        "begin",
        "stream",
    }
)
SQL_CONSTRUCTS = frozenset({"select", "insert", "update", "delete", "text"})
MAX_ENDPOINT_STATEMENTS = 10
UNVALIDATED_TYPES = frozenset({"dict", "Dict", "Any", "object", "Mapping", "MutableMapping"})
CONTAINER_TYPES = frozenset({"list", "List", "Sequence", "set", "tuple"})
RAW_BODY_METHODS = frozenset({"json", "body", "form", "stream"})
NO_BODY_STATUSES = frozenset({204, 304})
UNCLEAN_RETURN_NAMES = frozenset({"Any", "Self", "object"})
RESPONSES = frozenset({"Response", "JSONResponse", "HTMLResponse", "PlainTextResponse"})
NOT_SCHEMA_MODULES = ("fastapi", "starlette", "typing", "collections", "uuid", "datetime")


def check_endpoints(
    source: SourceFile, tree: ast.Module, index: ProjectIndex
) -> Iterator[Violation]:
    for endpoint in index.routes(source):
        yield from _signature(source, endpoint, index)
        yield from _thinness(source, endpoint, index)
        yield from _returns(source, endpoint, index)
        yield from _raw_body(source, endpoint)


def _signature(source: SourceFile, ep: Endpoint, index: ProjectIndex) -> Iterator[Violation]:
    func, name = ep.func, ep.func.name
    response_model = keyword(ep.route, "response_model")
    has_model = response_model is not None and not is_none(response_model)
    if not has_model and func.returns is None and _returns_a_body(source, func, ep.route, index):
        yield violation(
            source,
            func,
            "BA101",
            f"endpoint `{name}` defines no response model: add `response_model=` or a "
            "return annotation",
        )
    defaults = _defaults(func)
    for arg in all_args(func):
        if arg.annotation is None:
            yield violation(
                source, arg, "BA102", f"parameter `{arg.arg}` of endpoint `{name}` has no type"
            )
        elif (kind := _unvalidated(arg, defaults.get(arg.arg))) is not None:
            yield violation(
                source,
                arg,
                "BA410",
                f"parameter `{arg.arg}` of endpoint `{name}` is typed `{kind}`; accept a "
                "Pydantic request schema so the input is validated",
            )
    status = status_value(keyword(ep.route, "status_code"))
    declares_body = has_model or (
        func.returns is not None
        and not is_none(func.returns)
        and last_name(func.returns) != "Response"
    )
    if status in NO_BODY_STATUSES and declares_body:
        anchor: ast.AST = response_model if has_model and response_model is not None else func
        yield violation(
            source,
            anchor,
            "BA105",
            f"endpoint `{name}` answers {status} but declares a response body",
        )


def _unvalidated(arg: ast.arg, default: ast.expr | None) -> str | None:
    """The offending type if `arg` takes user input without a schema, else None."""
    if isinstance(default, ast.Call) and last_name(default.func) in DEPENDENCY_MARKERS:
        return None
    annotation = arg.annotation
    if isinstance(annotation, ast.Subscript) and last_name(annotation.value) == "Annotated":
        metadata = annotation.slice.elts[1:] if isinstance(annotation.slice, ast.Tuple) else []
        if any(
            isinstance(m, ast.Call) and last_name(m.func) in DEPENDENCY_MARKERS for m in metadata
        ):
            return None  # a dependency, not user input
    inner = unwrap_annotated(annotation)
    if isinstance(inner, ast.Subscript) and last_name(inner.value) in CONTAINER_TYPES:
        element = inner.slice.elts[0] if isinstance(inner.slice, ast.Tuple) else inner.slice
        element_type = _bare_type(unwrap_annotated(element))
        if element_type in UNVALIDATED_TYPES:
            return f"{last_name(inner.value)}[{element_type}]"
        return None
    bare = _bare_type(inner)
    return bare if bare in UNVALIDATED_TYPES else None


def _bare_type(node: ast.expr | None) -> str:
    if isinstance(node, ast.Subscript):
        return last_name(node.value)
    return last_name(node)


def _defaults(func: FunctionNode) -> dict[str, ast.expr]:
    positional = [*func.args.posonlyargs, *func.args.args]
    with_default = positional[len(positional) - len(func.args.defaults) :]
    pairs = list(zip(with_default, func.args.defaults, strict=True))
    pairs += [
        (arg, default)
        for arg, default in zip(func.args.kwonlyargs, func.args.kw_defaults, strict=True)
        if default is not None
    ]
    return {arg.arg: default for arg, default in pairs}


def _thinness(source: SourceFile, ep: Endpoint, index: ProjectIndex) -> Iterator[Violation]:
    func, name = ep.func, ep.func.name
    sessions = session_param_names(func, index)
    body = body_without_docstring(func.body)
    statements = 0
    reported_lines: set[int] = set()  # one BA110 per line: `session.scalar(select(...))`
    for node in sorted(walk_local(body), key=_position):
        if isinstance(node, ast.stmt):
            statements += 1
        if isinstance(node, ast.For | ast.AsyncFor | ast.While):
            yield violation(
                source,
                node,
                "BA111",
                f"endpoint `{name}` contains a loop; move the logic into a service",
            )
        if not isinstance(node, ast.Call) or node.lineno in reported_lines:
            continue
        method = called_on(node, sessions)
        if method in SESSION_DB_METHODS:
            reported_lines.add(node.lineno)
            receiver = dotted(node.func.value) if isinstance(node.func, ast.Attribute) else ""
            yield violation(
                source,
                node,
                "BA110",
                f"endpoint `{name}` calls `{receiver}.{method}()` directly; "
                "delegate data access to a service",
            )
        elif source.is_sql_call(node, SQL_CONSTRUCTS):
            reported_lines.add(node.lineno)
            yield violation(
                source,
                node,
                "BA110",
                f"endpoint `{name}` builds SQL with `{last_name(node.func)}()`; "
                "delegate queries to a service",
            )
    if statements > MAX_ENDPOINT_STATEMENTS:
        yield violation(
            source,
            func,
            "BA112",
            f"endpoint `{name}` has {statements} statements (max {MAX_ENDPOINT_STATEMENTS}); "
            "keep endpoints thin and move business logic into a service",
        )


def _position(node: ast.AST) -> tuple[int, int]:
    return getattr(node, "lineno", 0), getattr(node, "col_offset", 0)


def _returns(source: SourceFile, ep: Endpoint, index: ProjectIndex) -> Iterator[Violation]:
    func, name = ep.func, ep.func.name
    response_model = keyword(ep.route, "response_model")
    declared = response_model if response_model is not None else func.returns
    leaked = sorted(names_in(declared) & set(index.models))
    if leaked:
        yield violation(
            source,
            declared,
            "BA120",
            f"endpoint `{name}` declares the database model `{leaked[0]}` as its response; "
            "use a response schema",
        )
        return
    if _is_schema(declared, source, index):
        return  # FastAPI builds the response from the schema, whatever the handler returns
    assignments = _assignments(func)
    sessions = session_param_names(func, index)
    for node in walk_local(func.body):
        if isinstance(node, ast.Return) and node.value is not None:
            origin = _orm_origin(node.value, node.lineno, assignments, index, sessions, depth=0)
            if origin:
                yield violation(
                    source,
                    node,
                    "BA120",
                    f"endpoint `{name}` returns {origin}; return "
                    "`<Schema>.model_validate(...)` instead",
                )


def _assignments(func: FunctionNode) -> dict[str, list[tuple[int, ast.expr]]]:
    out: dict[str, list[tuple[int, ast.expr]]] = {}
    for node in walk_local(func.body):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    out.setdefault(target.id, []).append((node.lineno, node.value))
        elif (
            isinstance(node, ast.AnnAssign | ast.NamedExpr)
            and node.value is not None
            and isinstance(node.target, ast.Name)
        ):
            out.setdefault(node.target.id, []).append((node.lineno, node.value))
    for values in out.values():
        values.sort(key=lambda item: item[0])
    return out


def _orm_origin(
    expr: ast.expr,
    line: int,
    assignments: dict[str, list[tuple[int, ast.expr]]],
    index: ProjectIndex,
    sessions: set[str],
    depth: int,
) -> str:
    """A description of the ORM object `expr` evaluates to, or "" if it does not look like one."""
    if depth > 5:
        return ""
    if isinstance(expr, ast.Await):
        expr = expr.value
    if isinstance(expr, ast.Name):
        earlier = [value for lineno, value in assignments.get(expr.id, []) if lineno <= line]
        if not earlier:
            return ""
        return _orm_origin(earlier[-1], line, assignments, index, sessions, depth + 1)
    if not isinstance(expr, ast.Call):
        return ""
    if isinstance(expr.func, ast.Name) and expr.func.id in index.models:
        return f"a `{expr.func.id}` model instance"
    if not (isinstance(expr.func, ast.Attribute) and isinstance(expr.func.value, ast.Name)):
        return ""
    owner, method = expr.func.value.id, expr.func.attr
    if owner in sessions:
        loaded = _loaded_model(expr, index)
        return f"the `{loaded}` loaded by `{owner}.{method}()`" if loaded else ""
    if owner in index.models:
        lineage = index.lineage(owner) or []
        found = [info for info in lineage if _method(info.node, method) is not None]
        target = _method(found[0].node, method) if found else None
    elif owner in index.services:
        target = index.services[owner].get(method)
    elif owner.endswith("Service"):
        target = None
    else:
        return ""
    if target is not None and _clean_annotation(target, index):
        return ""
    shown = ast.unparse(target.returns) if target and target.returns else "an unknown type"
    return f"the result of `{owner}.{method}()` ({shown}) directly"


def _loaded_model(call: ast.Call, index: ProjectIndex) -> str:
    """`session.get(Book, id)` or `session.scalar(select(Book)...)` -> "Book"."""
    if not call.args or not isinstance(call.func, ast.Attribute):
        return ""
    first = call.args[0]
    if call.func.attr in {"get", "get_one", "merge"}:
        return last_name(first) if last_name(first) in index.models else ""
    if call.func.attr == "scalar":
        for node in ast.walk(first):
            if isinstance(node, ast.Call) and last_name(node.func) == "select" and node.args:
                name = last_name(node.args[0])
                return name if name in index.models else ""
    return ""


def _method(node: ast.ClassDef, name: str) -> FunctionNode | None:
    for item in node.body:
        if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef) and item.name == name:
            return item
    return None


def _clean_annotation(func: FunctionNode, index: ProjectIndex) -> bool:
    """True if the declared return type cannot hold an ORM object."""
    if func.returns is None:
        return False
    names = names_in(func.returns)
    type_params = {getattr(p, "name", "") for p in getattr(func, "type_params", [])}
    return not (
        names & set(index.models)
        or names & UNCLEAN_RETURN_NAMES
        or names & index.typevars
        or names & type_params
    )


def _returns_a_body(
    source: SourceFile, func: FunctionNode, route: ast.Call, index: ProjectIndex
) -> bool:
    """False for handlers that return nothing, a ready `Response`, or what a project
    function that returns nothing gives back: there is no model to declare."""
    hidden = keyword(route, "include_in_schema")
    if keyword(route, "response_class") is not None or (
        isinstance(hidden, ast.Constant) and hidden.value is False
    ):
        return False  # the response is declared by its class, or not part of the API
    responses = {
        arg.arg
        for arg in all_args(func)
        if last_name(unwrap_annotated(arg.annotation)) in RESPONSES
    }
    assignments = _assignments(func)
    for node in walk_local(func.body):
        if (
            isinstance(node, ast.Return)
            and node.value is not None
            and not is_none(node.value)
            and not _is_response(node.value, node.lineno, assignments, responses)
            and not _returns_nothing(source, node.value, index)
        ):
            return True
    return False


def _returns_nothing(source: SourceFile, expr: ast.expr, index: ProjectIndex) -> bool:
    """`return await service.insert(...)` where `insert` never returns a value."""
    call = expr.value if isinstance(expr, ast.Await) else expr
    if not isinstance(call, ast.Call):
        return False
    target = resolve_function(source, call.func, index)
    if target is None:
        return False
    _, callee = target
    if callee.returns is not None:
        return is_none(callee.returns)
    return not any(
        isinstance(node, ast.Return) and node.value is not None and not is_none(node.value)
        for node in walk_local(callee.body)
    )


def _is_response(
    expr: ast.expr,
    line: int,
    assignments: dict[str, list[tuple[int, ast.expr]]],
    responses: set[str],
) -> bool:
    if isinstance(expr, ast.Await):
        expr = expr.value
    if isinstance(expr, ast.Call):
        return last_name(expr.func).endswith("Response")
    if isinstance(expr, ast.Name):
        if expr.id in responses:
            return True
        earlier = [value for lineno, value in assignments.get(expr.id, []) if lineno < line]
        return bool(earlier) and _is_response(earlier[-1], line, assignments, responses)
    return False


def _is_schema(declared: ast.expr | None, source: SourceFile, index: ProjectIndex) -> bool:
    """A declared response type that validates the output: a Pydantic schema of the
    project, or a class imported from a library other than FastAPI/Starlette/typing."""
    for name in names_in(declared):
        if name in index.schemas:
            return True
        origin = source.imports.get(name, "")
        if (
            name not in index.classes
            and name[:1].isupper()
            and name not in UNCLEAN_RETURN_NAMES
            and origin
            and not origin.startswith(NOT_SCHEMA_MODULES)
        ):
            return True
    return False


def _raw_body(source: SourceFile, ep: Endpoint) -> Iterator[Violation]:
    requests = {
        arg.arg
        for arg in all_args(ep.func)
        if last_name(unwrap_annotated(arg.annotation)) in {"Request", "WebSocket"}
    }
    for node in walk_local(ep.func.body):
        if isinstance(node, ast.Call) and called_on(node, requests) in RAW_BODY_METHODS:
            method = called_on(node, requests)
            yield violation(
                source,
                node,
                "BA411",
                f"endpoint `{ep.func.name}` reads `request.{method}()` unvalidated; declare a "
                "Pydantic request schema parameter",
            )
