"""Small AST helpers shared by the checks; kept free of any rule knowledge."""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator

FunctionNode = ast.FunctionDef | ast.AsyncFunctionDef


def dotted(node: ast.AST | None) -> str:
    """`a.b.c` for Name/Attribute chains, `""` for anything else."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return ""


def last_name(node: ast.AST | None) -> str:
    """The final identifier of a Name/Attribute (`user.password` -> `password`)."""
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Name):
        return node.id
    return ""


def keyword(call: ast.Call, name: str) -> ast.expr | None:
    for kw in call.keywords:
        if kw.arg == name:
            return kw.value
    return None


def is_true(node: ast.AST | None) -> bool:
    return isinstance(node, ast.Constant) and node.value is True


def is_none(node: ast.AST | None) -> bool:
    return isinstance(node, ast.Constant) and node.value is None


def names_in(node: ast.AST | None) -> set[str]:
    """Every identifier mentioned in an annotation, including quoted forward references."""
    found: set[str] = set()
    if node is None:
        return found
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name):
            found.add(sub.id)
        elif isinstance(sub, ast.Attribute):
            found.add(sub.attr)
        elif isinstance(sub, ast.Constant) and isinstance(sub.value, str):
            try:
                found |= names_in(ast.parse(sub.value, mode="eval"))
            except SyntaxError:
                continue
    return found


def unwrap_annotated(node: ast.expr | None) -> ast.expr | None:
    """`Annotated[X, ...]` -> X and `X | None` / `Optional[X]` -> X."""
    while True:
        if isinstance(node, ast.Subscript) and last_name(node.value) in {"Annotated", "Optional"}:
            inner = node.slice
            node = inner.elts[0] if isinstance(inner, ast.Tuple) else inner
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
            node = node.right if is_none(node.left) else node.left
        else:
            return node


def all_args(func: FunctionNode) -> list[ast.arg]:
    args = func.args
    out = [*args.posonlyargs, *args.args]
    if args.vararg:
        out.append(args.vararg)
    out.extend(args.kwonlyargs)
    if args.kwarg:
        out.append(args.kwarg)
    return out


def positional_args(func: FunctionNode) -> list[ast.arg]:
    return [*func.args.posonlyargs, *func.args.args]


def body_without_docstring(body: list[ast.stmt]) -> list[ast.stmt]:
    if (
        body
        and isinstance(body[0], ast.Expr)
        and isinstance(body[0].value, ast.Constant)
        and isinstance(body[0].value.value, str)
    ):
        return body[1:]
    return body


def walk_local(nodes: Iterable[ast.AST]) -> Iterator[ast.AST]:
    """Like `ast.walk` over statements, but not into nested functions, classes or lambdas."""
    stack = list(nodes)
    while stack:
        current = stack.pop()
        yield current
        if isinstance(current, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Lambda):
            continue
        stack.extend(ast.iter_child_nodes(current))


def parents(tree: ast.AST) -> dict[ast.AST, ast.AST]:
    return {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}


def decorator_names(func: FunctionNode | ast.ClassDef) -> set[str]:
    out = set()
    for dec in func.decorator_list:
        target = dec.func if isinstance(dec, ast.Call) else dec
        out.add(last_name(target))
    return out
