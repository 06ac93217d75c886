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

from agent.checker.astutil import FunctionNode, dotted, last_name, walk_local
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
    functions: dict[str, tuple[SourceFile, FunctionNode]] = {}
    for source, tree in index.parsed():
        for stmt in tree.body:
            if isinstance(stmt, ast.FunctionDef):
                functions[f"{source.module}.{stmt.name}"] = (source, stmt)
            elif isinstance(stmt, ast.ClassDef):
                for item in stmt.body:
                    if isinstance(item, ast.FunctionDef):
                        functions[f"{source.module}.{stmt.name}.{item.name}"] = (source, item)
            elif isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.Call):
                kind = _object_kind(source, stmt.value)
                for target in stmt.targets:
                    if kind and isinstance(target, ast.Name):
                        index.blocking_objects[f"{source.module}.{target.id}"] = kind
    calls = {
        key: (source, _local_objects(source, func), _calls(func))
        for key, (source, func) in functions.items()
    }
    changed = True
    while changed:
        changed = False
        for key, (source, clients, nodes) in calls.items():
            if key in index.blocking_functions:
                continue
            for node in nodes:
                reason = _blocking(source, node, index, clients)
                if reason:
                    index.blocking_functions[key] = reason
                    changed = True
                    break


def _calls(func: FunctionNode) -> list[ast.Call]:
    return [node for node in walk_local(func.body) if isinstance(node, ast.Call)]


def check_blocking(
    source: SourceFile, tree: ast.Module, index: ProjectIndex
) -> Iterator[Violation]:
    for func in source.nodes:
        if not isinstance(func, ast.AsyncFunctionDef):
            continue
        clients = _local_objects(source, func)
        for node in walk_local(func.body):
            reason = _blocking(source, node, index, clients)
            if reason:
                yield violation(
                    source,
                    node,
                    "BA306",
                    f"{reason} blocks the event loop inside `async def {func.name}`; run it in "
                    "a worker thread (`await run_in_threadpool(f, ...)` or "
                    "`await asyncio.to_thread(f, ...)`)",
                )


def _blocking(
    source: SourceFile, node: ast.AST, index: ProjectIndex, clients: dict[str, str]
) -> str:
    """What blocks if `node` is a blocking call, else ""."""
    if not isinstance(node, ast.Call):
        return ""
    shown = dotted(node.func) or last_name(node.func)
    name = source.qualified(node.func)
    if name in BLOCKING_CALLS:
        return f"`{shown}()`"
    if isinstance(node.func, ast.Attribute):
        receiver = dotted(node.func.value)
        kind = clients.get(receiver) or _module_object(source, node.func.value, index)
        if kind and node.func.attr in OBJECT_METHODS[kind]:
            return f"`{shown}()` ({kind})"
    for key in (name, f"{source.module}.{name}"):
        if key in index.blocking_functions:
            return f"`{shown}()` (it calls {index.blocking_functions[key]})"
    return ""


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
