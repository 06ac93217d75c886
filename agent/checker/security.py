""" "Never Do" rules that apply anywhere under app/: raw SQL and plain-text passwords."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Iterator

from agent.checker.astutil import dotted, last_name, walk_local
from agent.checker.base import violation
from agent.checker.project import ProjectIndex, SourceFile
from agent.checker.rules import Violation

SQL_TEXT_MODULES = frozenset({"", "sa", "sqlalchemy", "sqlalchemy.sql"})
EXECUTE_METHODS = frozenset({"execute", "exec_driver_sql", "executemany", "fetch", "fetchrow"})
PASSWORD = re.compile(r"pass(word|wd)|^pwd$", re.IGNORECASE)
# Name parts that mark something other than a stored password (or a second copy of input).
NOT_A_STORED_PASSWORD = (
    "confirm",
    "repeat",
    "retype",
    "again",
    "token",
    "reset",
    "changed",
    "updated",
    "expir",
    "length",
    "policy",
    "regex",
    "pattern",
    "strength",
    "hint",
)
NOT_A_STORED_PASSWORD_WORDS = frozenset({"len", "min", "max"})
_WORDS = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")
HASHED = re.compile(r"hash", re.IGNORECASE)
# Calls that leave a plain-text value plain.
TRIVIAL_WRAPPERS = frozenset(
    {"str", "strip", "lower", "upper", "encode", "decode", "get_secret_value", "get"}
)


def check_security(
    source: SourceFile, tree: ast.Module, index: ProjectIndex
) -> Iterator[Violation]:
    for scope in _scopes(tree):
        yield from _raw_sql(source, scope)
    if source.area == "schemas":
        return  # schemas validate plain-text input; comparing two inputs there is fine
    yield from _password_assignments(source, tree, index)
    yield from _password_comparisons(source, tree)


def _scopes(tree: ast.Module) -> Iterator[list[ast.stmt]]:
    yield tree.body
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield node.body


def _raw_sql(source: SourceFile, body: list[ast.stmt]) -> Iterator[Violation]:
    nodes = list(walk_local(body))
    dynamic_names = _dynamic_names(nodes)
    for node in nodes:
        if not isinstance(node, ast.Call) or not node.args:
            continue
        is_text = last_name(node.func) == "text" and _module_of(node.func) in SQL_TEXT_MODULES
        is_execute = isinstance(node.func, ast.Attribute) and node.func.attr in EXECUTE_METHODS
        if (is_text or is_execute) and _is_dynamic(node.args[0], dynamic_names):
            call = "text" if is_text else last_name(node.func)
            yield violation(
                source,
                node.args[0],
                "BA401",
                f"SQL passed to `{call}()` is built from a formatted string; use bound "
                'parameters (`text("... WHERE id = :id")`, `{"id": value}`)',
            )


def _module_of(func: ast.expr) -> str:
    return dotted(func.value) if isinstance(func, ast.Attribute) else ""


def _dynamic_names(nodes: Iterable[ast.AST]) -> set[str]:
    """Local names ever assigned a formatted string (fixed point over simple aliases)."""
    assigns: list[tuple[str, ast.expr]] = []
    for node in nodes:
        if isinstance(node, ast.Assign):
            assigns += [(t.id, node.value) for t in node.targets if isinstance(t, ast.Name)]
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value:
            assigns.append((node.target.id, node.value))
        elif (
            isinstance(node, ast.AugAssign)
            and isinstance(node.target, ast.Name)
            and isinstance(node.op, ast.Add)
        ):
            # `sql += " AND x = " + value` is dynamic; `sql += " AND x = :x"` is not.
            value = node.value
            if not _is_str_literal(value):
                value = ast.BinOp(ast.Constant(""), ast.Add(), value)
            assigns.append((node.target.id, value))
    dynamic: set[str] = set()
    changed = True
    while changed:
        changed = False
        for name, value in assigns:
            if name not in dynamic and _is_dynamic(value, dynamic):
                dynamic.add(name)
                changed = True
    return dynamic


def _is_str_literal(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, str)


def _is_stringy(node: ast.expr, dynamic: set[str]) -> bool:
    return (
        _is_str_literal(node)
        or isinstance(node, ast.JoinedStr)
        or (isinstance(node, ast.Name) and node.id in dynamic)
    )


def _is_dynamic(node: ast.expr, dynamic: set[str]) -> bool:
    if isinstance(node, ast.JoinedStr):
        return any(isinstance(part, ast.FormattedValue) for part in node.values)
    if isinstance(node, ast.Name):
        return node.id in dynamic
    if isinstance(node, ast.BinOp):
        if isinstance(node.op, ast.Mod):
            return _is_stringy(node.left, dynamic)
        if isinstance(node.op, ast.Add):
            left, right = node.left, node.right
            if _is_dynamic(left, dynamic) or _is_dynamic(right, dynamic):
                return True
            # literal + non-literal (a variable, a call): concatenated input
            return (_is_stringy(left, dynamic) and not _is_str_literal(right)) or (
                _is_stringy(right, dynamic) and not _is_str_literal(left)
            )
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        if node.func.attr == "format" and _is_stringy(node.func.value, dynamic):
            return bool(node.args or node.keywords)
        if node.func.attr == "join" and _is_str_literal(node.func.value):
            return False
    return False


def _not_a_password(name: str) -> bool:
    """`password_confirm`, `passwordResetToken`, `MIN_PASSWORD_LENGTH` -> True."""
    words = [word.lower() for word in _WORDS.findall(name)]
    return any(
        word.startswith(NOT_A_STORED_PASSWORD) or word in NOT_A_STORED_PASSWORD_WORDS
        for word in words
    )


def _is_password_name(name: str) -> bool:
    return bool(PASSWORD.search(name)) and not _not_a_password(name)


def _value_name(node: ast.expr) -> str:
    """`data.password` -> password, `form["password"]` -> password."""
    if isinstance(node, ast.Subscript):
        key = node.slice
        if isinstance(key, ast.Constant) and isinstance(key.value, str):
            return key.value
        return ""
    return last_name(node)


def _strip_wrappers(node: ast.expr) -> ast.expr:
    while isinstance(node, ast.Call) and last_name(node.func) in TRIVIAL_WRAPPERS:
        if isinstance(node.func, ast.Attribute) and last_name(node.func) != "get":
            node = node.func.value
        elif node.args:
            node = node.args[0]
        else:
            break
    return node


def _plaintext(node: ast.expr) -> bool:
    """Does `node` evaluate to a raw password (not a hash) as far as the names tell?"""
    inner = _strip_wrappers(node)
    if _is_str_literal(inner):
        return True
    name = _value_name(inner)
    return bool(name) and _is_password_name(name) and not HASHED.search(name)


def _password_assignments(
    source: SourceFile, tree: ast.Module, index: ProjectIndex
) -> Iterator[Violation]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and last_name(node.func) in index.models:
            for kw in node.keywords:
                if kw.arg and PASSWORD.search(kw.arg) and _plaintext(kw.value):
                    yield violation(
                        source,
                        kw.value,
                        "BA403",
                        f"`{last_name(node.func)}({kw.arg}=...)` stores a plain-text password; "
                        "store `bcrypt.hashpw(...)` output in `hashed_password`",
                    )
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                if (
                    isinstance(target, ast.Attribute)
                    and PASSWORD.search(target.attr)
                    and dotted(target.value) != "self"
                    and _plaintext(node.value)
                ):
                    yield violation(
                        source,
                        node.value,
                        "BA403",
                        f"`{ast.unparse(target)}` is assigned a plain-text password; assign "
                        "a bcrypt hash",
                    )


def _password_comparisons(source: SourceFile, tree: ast.Module) -> Iterator[Violation]:
    for node in ast.walk(tree):
        if not isinstance(node, ast.Compare):
            continue
        operands = [node.left, *node.comparators]
        for op, left, right in zip(node.ops, operands, operands[1:], strict=False):
            if isinstance(op, ast.Eq | ast.NotEq) and _compares_password(left, right):
                yield violation(
                    source,
                    node,
                    "BA404",
                    f"`{ast.unparse(node)}` compares passwords directly; verify with "
                    "`bcrypt.checkpw(plain.encode(), hashed.encode())`",
                )
                break


def _compares_password(left: ast.expr, right: ast.expr) -> bool:
    if isinstance(left, ast.Constant) or isinstance(right, ast.Constant):
        return False
    names = [_value_name(_strip_wrappers(side)) for side in (left, right)]
    if any(_not_a_password(name) for name in names):
        return False
    mentions = [bool(PASSWORD.search(name)) for name in names]
    if not any(mentions):
        return False
    if any(HASHED.search(name) for name in names):
        return True
    # data.new_password == data.current_password compares two inputs, nothing stored
    return not (all(mentions) and _root(left) == _root(right))


def _root(node: ast.expr) -> str:
    return dotted(_strip_wrappers(node)).split(".")[0]
