""" "Never Do" rules that apply anywhere under app/: raw SQL and plain-text passwords."""

from __future__ import annotations

import ast
import re
import string
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from agent.checker.astutil import dotted, last_name, walk_local
from agent.checker.base import violation
from agent.checker.project import ProjectIndex, SourceFile
from agent.checker.rules import Violation

TEXT_CONSTRUCTS = frozenset({"text"})
# Keywords after which SQL names a table, schema, column or other identifier.
IDENTIFIER_KEYWORDS = frozenset(
    {
        "FROM",
        "JOIN",
        "INTO",
        "UPDATE",
        "TABLE",
        "TABLES",
        "EXISTS",
        "SCHEMA",
        "INDEX",
        "VIEW",
        "SEQUENCE",
        "TO",
        "ON",
        "TRIGGER",
        "TYPE",
        "COLUMN",
        "DATABASE",
        "EXTENSION",
        "BY",
        "CONSTRAINT",
        "TRUNCATE",
        "ANALYZE",
        "VACUUM",
        "SELECT",
        "DISTINCT",
        "SET",
        "RENAME",
        "ROLE",
        "OWNER",
        "SAVEPOINT",
        "NOTIFY",
        "LISTEN",
    }
)
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
    for scope in _scopes(source, tree):
        yield from _raw_sql(source, scope)
    if "schemas" in source.package_parts:
        return  # schemas validate plain-text input; comparing two inputs there is fine
    yield from _password_assignments(source, tree, index)
    yield from _password_comparisons(source, tree, index)


def _scopes(source: SourceFile, tree: ast.Module) -> Iterator[list[ast.stmt]]:
    yield tree.body
    for node in source.nodes:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield node.body


def _raw_sql(source: SourceFile, body: list[ast.stmt]) -> Iterator[Violation]:
    nodes = list(walk_local(body))
    strings = _string_names(nodes)
    for node in nodes:
        if not isinstance(node, ast.Call) or not node.args:
            continue
        is_text = source.is_sql_call(node, TEXT_CONSTRUCTS)
        is_execute = isinstance(node.func, ast.Attribute) and node.func.attr in EXECUTE_METHODS
        if (is_text or is_execute) and _interpolates_values(node.args[0], strings):
            call = "text" if is_text else last_name(node.func)
            yield violation(
                source,
                node.args[0],
                "BA401",
                f"SQL passed to `{call}()` is built from a formatted string; use bound "
                'parameters (`text("... WHERE id = :id")`, `{"id": value}`)',
            )


@dataclass
class _Strings:
    """Local names holding SQL text: `dynamic` ones have a value formatted into them."""

    assigned: set[str]
    dynamic: set[str]


def _string_names(nodes: Iterable[ast.AST]) -> _Strings:
    """Local string names, and which of them ever get a value formatted in (fixed point
    over simple aliases and `+=`)."""
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
            assigns.append(
                (node.target.id, ast.BinOp(ast.Name(node.target.id), ast.Add(), node.value))
            )
    nothing = _Strings(set(), set())
    strings = _Strings({name for name, value in assigns if _pieces(value, nothing)}, set())
    changed = True
    while changed:
        changed = False
        for name, value in assigns:
            if name not in strings.dynamic and _interpolates_values(value, strings):
                strings.dynamic.add(name)
                changed = True
    return strings


_SLOT = "\x00"  # stands for text we cannot see (another placeholder, a string variable)
_PERCENT = re.compile(r"%(?:\([^)]*\))?[-#0 +]*\d*(?:\.\d+)?[sdifr]")


def _pieces(node: ast.expr, strings: _Strings) -> list[str | ast.expr] | None:
    """The SQL as literal text and the expressions formatted into it; None if `node` is
    not built from a string template at all."""
    if isinstance(node, ast.JoinedStr):
        return [
            part.value
            for part in node.values
            if isinstance(part, ast.Constant | ast.FormattedValue)
        ]
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod) and _is_str_literal(node.left):
        assert isinstance(node.left, ast.Constant)
        values = node.right.elts if isinstance(node.right, ast.Tuple) else [node.right]
        texts = _PERCENT.split(str(node.left.value))
        return _interleave(texts, values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _pieces(node.left, strings), _pieces(node.right, strings)
        if left is None and right is None:
            return None
        return [*(left or [node.left]), *(right or [node.right])]
    if isinstance(node, ast.Name) and node.id in strings.assigned:
        return [node] if node.id in strings.dynamic else [_SLOT]
    if _is_str_literal(node):
        assert isinstance(node, ast.Constant)
        return [str(node.value)]
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        template = node.func.value
        if node.func.attr == "format" and _is_str_literal(template):
            assert isinstance(template, ast.Constant)
            values = [*node.args, *(kw.value for kw in node.keywords)] or [node]
            out: list[str | ast.expr] = []
            for text, field_name, *_ in string.Formatter().parse(str(template.value)):
                out.append(text)
                if field_name is not None:
                    out.append(values[min(len(out) // 2, len(values) - 1)])
            return out
    return None


def _interleave(texts: list[str], values: list[ast.expr]) -> list[str | ast.expr]:
    out: list[str | ast.expr] = []
    for position, text in enumerate(texts):
        if position:
            out.append(values[min(position - 1, len(values) - 1)])
        out.append(text)
    return out


def _interpolates_values(node: ast.expr, strings: _Strings) -> bool:
    """True when an expression is formatted into the SQL where a value goes. Identifiers
    (`FROM {table}`, `"{schema}".`, `SET search_path TO {schema}`) cannot be bound
    parameters, so formatting them in is not the injection the spec forbids."""
    pieces = _pieces(node, strings)
    if pieces is None:
        return False
    for position, piece in enumerate(pieces):
        if isinstance(piece, str):
            continue
        if isinstance(piece, ast.Name) and piece.id in strings.assigned:
            if piece.id in strings.dynamic:
                return True
            continue  # a static SQL fragment kept in a variable
        before = "".join(p if isinstance(p, str) else _SLOT for p in pieces[:position])
        after = "".join(p if isinstance(p, str) else _SLOT for p in pieces[position + 1 :])
        if not (_constant(piece) or _identifier_slot(before, after)):
            return True
    return False


def _constant(node: ast.expr) -> bool:
    """A module constant (`MAX_ROWS`) or a table's own name (`Book.__tablename__`)."""
    name = last_name(node)
    return (name.isupper() and len(name) > 1) or name in {"__tablename__", "__table__"}


def _identifier_slot(before: str, after: str) -> bool:
    stripped = before.rstrip()
    if stripped.endswith('"') or stripped.endswith("`"):
        return True  # a quoted identifier
    if stripped.endswith("'"):
        return False  # inside a string literal: a value
    if stripped.endswith(".") or after.startswith("."):
        return True  # schema.table
    word = re.search(r"([A-Za-z_]+)$", stripped)
    return word is not None and word.group(1).upper() in IDENTIFIER_KEYWORDS


def _is_str_literal(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, str)


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
    for node in source.nodes:
        if isinstance(node, ast.Call) and last_name(node.func) in index.models:
            for kw in node.keywords:
                if (
                    kw.arg
                    and PASSWORD.search(kw.arg)
                    and kw.arg not in index.hashed_columns
                    and _plaintext(kw.value)
                ):
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
                    and target.attr not in index.hashed_columns
                    and _plaintext(node.value)
                ):
                    yield violation(
                        source,
                        node.value,
                        "BA403",
                        f"`{ast.unparse(target)}` is assigned a plain-text password; assign "
                        "a bcrypt hash",
                    )


def _password_comparisons(
    source: SourceFile, tree: ast.Module, index: ProjectIndex
) -> Iterator[Violation]:
    schema_nodes = {
        id(inner)
        for node in source.nodes
        if isinstance(node, ast.ClassDef) and node.name in index.schemas
        for inner in ast.walk(node)
    }
    for node in source.nodes:
        if not isinstance(node, ast.Compare) or id(node) in schema_nodes:
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
