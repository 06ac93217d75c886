"""BA306: blocking calls inside `async def`.

A blocking call (bcrypt, a key-derivation function, `time.sleep`, a sync HTTP client) on
the event loop stalls every other request for its whole duration. Calls are resolved
through imports, module-level objects (`pwd_context = CryptContext(...)`,
`client = httpx.Client()`) and the project's own sync functions: `Authenticator.hash_password`
that calls `bcrypt.hashpw` blocks as much as calling bcrypt directly. A call handed to a
worker thread (`run_in_threadpool(f, ...)`, `asyncio.to_thread(f, ...)`) is not a call in
the coroutine, and nested sync functions are not walked, so neither is reported.
`bcrypt.gensalt()` is not listed: it only reads 16 random bytes (the cost is paid in
`hashpw`), and flagging it would flag the offload idiom
`run_in_threadpool(bcrypt.hashpw, password, bcrypt.gensalt())` itself.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from agent.checker.astutil import (
    FunctionNode,
    all_args,
    dotted,
    last_name,
    unwrap_annotated,
    walk_local,
)
from agent.checker.base import violation
from agent.checker.project import ProjectIndex
from agent.checker.rules import Violation
from agent.checker.sources import SourceFile

HTTP_METHODS = ("get", "post", "put", "patch", "delete", "head", "options", "request", "stream")
BLOCKING_CALLS = frozenset(
    {
        "bcrypt.hashpw",
        "bcrypt.checkpw",
        "bcrypt.kdf",
        "hashlib.pbkdf2_hmac",
        "hashlib.scrypt",
        "time.sleep",
        "urllib.request.urlopen",
        "subprocess.run",
        "subprocess.call",
        "subprocess.check_call",
        "subprocess.check_output",
        *(f"requests.{method}" for method in HTTP_METHODS),
        *(f"httpx.{method}" for method in HTTP_METHODS),
    }
)
HTTP_CLIENT = "a sync HTTP client"
HASHER = "a password hasher"
OBJECT_FACTORIES = {
    "httpx.Client": HTTP_CLIENT,
    "requests.Session": HTTP_CLIENT,
    "requests.session": HTTP_CLIENT,
    "passlib.context.CryptContext": HASHER,
    "pwdlib.PasswordHash": HASHER,
    "pwdlib.PasswordHash.recommended": HASHER,
}
OBJECT_METHODS = {
    HTTP_CLIENT: frozenset({*HTTP_METHODS, "send"}),
    HASHER: frozenset({"hash", "verify", "verify_and_update", "encrypt"}),
}


def index_blocking(index: ProjectIndex) -> None:
    """Fill `index.blocking_objects` and `index.blocking_functions` (qualified name ->
    what blocks), the latter to a fixed point over the project's sync functions."""
    for source, tree in index.parsed():
        for stmt in tree.body:
            if isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.Call):
                kind = _object_kind(source, stmt.value)
                for target in stmt.targets:
                    if kind and isinstance(target, ast.Name):
                        index.blocking_objects[f"{source.module}.{target.id}"] = kind
    calls = {
        key: (source, _local_objects(source, func), _calls(func))
        for key, (source, func) in index.functions.items()
        if isinstance(func, ast.FunctionDef)
    }
    changed = True
    while changed:
        changed = False
        for key, (source, clients, nodes) in calls.items():
            if key in index.blocking_functions:
                continue
            for node in nodes:
                found = _blocking(source, node, index, clients)
                if found:
                    index.blocking_functions[key] = found[1]
                    changed = True
                    break


def _calls(func: FunctionNode) -> list[ast.Call]:
    return [node for node in walk_local(func.body) if isinstance(node, ast.Call)]


def check_blocking(
    source: SourceFile, tree: ast.Module, index: ProjectIndex
) -> Iterator[Violation]:
    owners = {
        id(item): node.name
        for node in source.nodes
        if isinstance(node, ast.ClassDef)
        for item in node.body
    }
    for func in source.nodes:
        if not isinstance(func, ast.AsyncFunctionDef):
            continue
        clients = _local_objects(source, func)
        owner = owners.get(id(func))
        types = _local_types(func, index, {"self": owner, "cls": owner} if owner else {})
        for node in walk_local(func.body):
            found = _blocking(source, node, index, clients, types)
            if found is None:
                continue
            shown, root = found
            what = shown if shown == root else f"{shown} (via {root})"
            fix = (
                "use `await asyncio.sleep(...)`"
                if root == "`time.sleep()`"
                else "run it in a worker thread (`await run_in_threadpool(f, ...)` or "
                "`await asyncio.to_thread(f, ...)`)"
            )
            yield violation(
                source,
                node,
                "BA306",
                f"{what} blocks the event loop inside `async def {func.name}`; {fix}",
            )


def _blocking(
    source: SourceFile,
    node: ast.AST,
    index: ProjectIndex,
    clients: dict[str, str],
    types: dict[str, str] | None = None,
) -> tuple[str, str] | None:
    """(the call as written, the blocking call at the bottom) if `node` blocks, else None."""
    if not isinstance(node, ast.Call):
        return None
    shown = f"`{dotted(node.func) or last_name(node.func)}()`"
    name = source.qualified(node.func)
    if name in BLOCKING_CALLS:
        return shown, shown
    if isinstance(node.func, ast.Attribute):
        receiver = dotted(node.func.value)
        kind = clients.get(receiver) or _module_object(source, node.func.value, index)
        if kind and node.func.attr in OBJECT_METHODS[kind]:
            direct = f"{shown} on {kind}"
            return direct, direct
    keys = [name, f"{source.module}.{name}"]
    if isinstance(node.func, ast.Attribute) and types:
        owner = index.classes.get(types.get(dotted(node.func.value), ""))
        if owner is not None:
            keys.append(f"{owner.source.module}.{owner.name}.{node.func.attr}")
    for key in keys:
        if key in index.blocking_functions:
            return shown, index.blocking_functions[key]
    return None


def _local_types(func: FunctionNode, index: ProjectIndex, known: dict[str, str]) -> dict[str, str]:
    """Variables whose project class is plain to see: `user: UserInDB`, `user = UserInDB(...)`,
    `user = await repo.get_user(...)` where `repo: UsersRepository` and `get_user` is
    annotated `-> UserInDB`."""
    types = dict(known)
    for arg in all_args(func):
        name = _project_class(unwrap_annotated(arg.annotation), index)
        if name:
            types[arg.arg] = name
    for node in sorted(walk_local(func.body), key=lambda n: getattr(n, "lineno", 0)):
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            name = _project_class(unwrap_annotated(node.annotation), index)
            if name:
                types[node.target.id] = name
        elif isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
            value = value.value if isinstance(value, ast.Await) else value
            if isinstance(target, ast.Name) and isinstance(value, ast.Call):
                name = _returned_class(value, types, index)
                if name:
                    types[target.id] = name
    return types


def _returned_class(call: ast.Call, types: dict[str, str], index: ProjectIndex) -> str:
    constructed = _project_class(call.func, index)
    if constructed:
        return constructed
    if not isinstance(call.func, ast.Attribute):
        return ""
    owner = index.classes.get(types.get(dotted(call.func.value), ""))
    for item in owner.node.body if owner is not None else []:
        if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef) and item.name == call.func.attr:
            return _project_class(unwrap_annotated(item.returns), index)
    return ""


def _project_class(node: ast.expr | None, index: ProjectIndex) -> str:
    name = last_name(node)
    return name if name in index.classes else ""


def _module_object(source: SourceFile, receiver: ast.expr, index: ProjectIndex) -> str:
    name = source.qualified(receiver)
    return index.blocking_objects.get(name) or index.blocking_objects.get(
        f"{source.module}.{name}", ""
    )


def _object_kind(source: SourceFile, call: ast.Call) -> str:
    return OBJECT_FACTORIES.get(source.qualified(call.func), "")


def _local_objects(source: SourceFile, func: FunctionNode) -> dict[str, str]:
    """`with httpx.Client() as client` / `session = requests.Session()` in this function."""
    out: dict[str, str] = {}
    for node in walk_local(func.body):
        pairs: list[tuple[ast.expr | None, ast.expr]] = []
        if isinstance(node, ast.With):
            pairs = [(item.optional_vars, item.context_expr) for item in node.items]
        elif isinstance(node, ast.Assign) and len(node.targets) == 1:
            pairs = [(node.targets[0], node.value)]
        for target, value in pairs:
            if isinstance(target, ast.Name) and isinstance(value, ast.Call):
                kind = _object_kind(source, value)
                if kind:
                    out[target.id] = kind
    return out
