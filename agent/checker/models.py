"""Rules for SQLAlchemy models under app/models: keys, timestamps, indexes, password columns."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator

from agent.checker.astutil import dotted, is_true, last_name, names_in
from agent.checker.base import violation
from agent.checker.project import (
    COLUMN_FACTORIES,
    ClassInfo,
    Column,
    ProjectIndex,
    SourceFile,
    aliased_type,
    class_columns,
)
from agent.checker.rules import Violation

PLAIN_PASSWORD_COLUMN = re.compile(r"^(plain_?|raw_?|user_?|clear_?)?(password|passwd|pwd|pass)$")


def check_models(source: SourceFile, tree: ast.Module, index: ProjectIndex) -> Iterator[Violation]:
    if source.area != "models":
        return
    yield from _foreign_keys(source, tree)
    for node in tree.body:
        if not isinstance(node, ast.ClassDef):
            continue
        info = index.classes.get(node.name)
        if info is None or info.node is not node:
            continue
        yield from _password_columns(source, info, index)
        if node.name in index.models and _has_table(node) and not _abstract(node):
            yield from _primary_key(source, info, index)
            yield from _created_at(source, info, index)
    yield from _password_table_columns(source, tree)
    yield from _unindexed_filters(source, index)


def _has_table(node: ast.ClassDef) -> bool:
    return any(
        isinstance(stmt, ast.Assign | ast.AnnAssign)
        and "__tablename__" in {dotted(t) for t in _targets(stmt)}
        for stmt in node.body
    )


def _abstract(node: ast.ClassDef) -> bool:
    return any(
        isinstance(stmt, ast.Assign | ast.AnnAssign)
        and "__abstract__" in {dotted(t) for t in _targets(stmt)}
        and is_true(stmt.value)
        for stmt in node.body
    )


def _targets(stmt: ast.Assign | ast.AnnAssign) -> list[ast.expr]:
    return stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]


def _primary_key(source: SourceFile, info: ClassInfo, index: ProjectIndex) -> Iterator[Violation]:
    columns = index.columns(info.name)
    if columns is None:
        return  # inherits from something outside the project; cannot see its columns
    keys = [column for column in columns.values() if column.primary_key]
    if not keys:
        yield violation(
            source, info.node, "BA201", f"model `{info.name}` has no UUID primary key column"
        )
        return
    for column in keys:
        if not _is_uuid(column, index):
            yield violation(
                source,
                _anchor(column, info, source),
                "BA201",
                f"primary key `{info.name}.{column.name}` is not a UUID; use "
                "`Mapped[UUID] = mapped_column(PG_UUID(as_uuid=True), primary_key=True, ...)`",
            )


def _is_uuid(column: Column, index: ProjectIndex) -> bool:
    names = names_in(aliased_type(column, index))
    if column.call is not None and column.call.args:
        first = column.call.args[0]
        if not (isinstance(first, ast.Call) and last_name(first.func) == "ForeignKey"):
            names |= names_in(first)
    return any("UUID" in name.upper() or name.upper() == "GUID" for name in names)


def _anchor(column: Column, info: ClassInfo, source: SourceFile) -> ast.AST:
    """Report on the column if it is in this file, else on the model that inherits it."""
    return column.stmt if column.owner.source is source else info.node


def _created_at(source: SourceFile, info: ClassInfo, index: ProjectIndex) -> Iterator[Violation]:
    columns = index.columns(info.name)
    if columns is None:
        return
    column = columns.get("created_at")
    if column is None:
        yield violation(
            source,
            info.node,
            "BA202",
            f"model `{info.name}` has no `created_at` column; add `created_at: Mapped[datetime] = "
            "mapped_column(DateTime(timezone=True), server_default=func.now())`",
        )
        return
    default = column.option("server_default")
    if not (isinstance(default, ast.Call) and _is_func_now(default.func)):
        yield violation(
            source,
            _anchor(column, info, source),
            "BA202",
            f"`{info.name}.created_at` must have `server_default=func.now()`",
        )


def _is_func_now(node: ast.expr) -> bool:
    name = dotted(node)
    return name == "func.now" or name.endswith(".func.now")


def _foreign_keys(source: SourceFile, tree: ast.Module) -> Iterator[Violation]:
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and last_name(node.func) in COLUMN_FACTORIES):
            continue
        fk = next(
            (
                arg
                for arg in node.args
                if isinstance(arg, ast.Call) and last_name(arg.func) == "ForeignKey"
            ),
            None,
        )
        index_kw = next((kw for kw in node.keywords if kw.arg == "index"), None)
        if fk is not None and (index_kw is None or not is_true(index_kw.value)):
            target = ast.unparse(fk.args[0]) if fk.args else "?"
            yield violation(
                source,
                fk,
                "BA203",
                f"foreign key to {target} has no `index=True` on its column",
            )


def _password_columns(
    source: SourceFile, info: ClassInfo, index: ProjectIndex
) -> Iterator[Violation]:
    for column in class_columns(info, index).values():
        if PLAIN_PASSWORD_COLUMN.match(column.name.lower()):
            yield violation(
                source,
                column.stmt,
                "BA402",
                f"column `{info.name}.{column.name}` suggests a plain-text password; store a "
                "bcrypt hash in `hashed_password`",
            )


def _password_table_columns(source: SourceFile, tree: ast.Module) -> Iterator[Violation]:
    """`Column("password", ...)` inside `Table(...)` declarations."""
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and last_name(node.func) in COLUMN_FACTORIES
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
            and PLAIN_PASSWORD_COLUMN.match(node.args[0].value.lower())
        ):
            yield violation(
                source,
                node,
                "BA402",
                f"column `{node.args[0].value}` suggests a plain-text password; store a bcrypt "
                "hash in `hashed_password`",
            )


def _unindexed_filters(source: SourceFile, index: ProjectIndex) -> Iterator[Violation]:
    reported: set[int] = set()
    for (model, attr), places in sorted(index.queried.items()):
        columns = index.columns(model)
        column = columns.get(attr) if columns else None
        if (
            column is None
            or column.owner.source is not source
            or column.indexed
            or column.foreign_key is not None  # BA203's business
            or attr in index.table_arg_indexes.get(model, set())
            or id(column.stmt) in reported
        ):
            continue
        reported.add(id(column.stmt))
        yield violation(
            source,
            column.stmt,
            "BA204",
            f"`{model}.{attr}` is filtered on ({places[0]}) but not indexed; add `index=True` "
            "(or `unique=True`)",
        )
