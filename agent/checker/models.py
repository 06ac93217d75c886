"""Rules for ORM models (SQLAlchemy declarative classes, SQLModel tables), wherever they are
defined: keys, timestamps, indexes, password columns."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator

from agent.checker.astutil import dotted, is_true, keyword, last_name, names_in
from agent.checker.base import violation
from agent.checker.project import (
    COLUMN_FACTORIES,
    SQLMODEL_FIELD,
    ClassInfo,
    Column,
    ProjectIndex,
    SourceFile,
    aliased_type,
    class_columns,
    descends_from,
)
from agent.checker.rules import Violation

NOW_FUNCTIONS = frozenset({"now", "current_timestamp", "localtimestamp", "statement_timestamp"})
NOW_SQL = frozenset({"now()", "current_timestamp", "localtimestamp", "timezone('utc', now())"})
PLAIN_PASSWORD_COLUMN = re.compile(r"^(plain_?|raw_?|user_?|clear_?)?(password|passwd|pwd|pass)$")


def check_models(source: SourceFile, tree: ast.Module, index: ProjectIndex) -> Iterator[Violation]:
    yield from _foreign_keys(source, tree)
    for node in source.nodes:
        if not isinstance(node, ast.ClassDef):
            continue
        info = index.classes.get(node.name)
        if info is None or info.node is not node:
            continue
        if node.name in index.models or node.name in index.model_bases:
            yield from _password_columns(source, info, index)
        if node.name in index.models and _has_table(info, index):
            yield from _primary_key(source, info, index)
            yield from _created_at(source, info, index)
    yield from _password_table_columns(source, tree)
    yield from _unindexed_filters(source, index)


def _has_table(info: ClassInfo, index: ProjectIndex) -> bool:
    """Its own table: `__tablename__`/`__table__` in its body, a SQLModel table, or a
    declarative base that names tables itself (`@declared_attr __tablename__`); subclasses of
    another model without one share their parent's table."""
    node = info.node
    if info.sqlmodel_table or any(
        isinstance(stmt, ast.Assign | ast.AnnAssign)
        and {"__tablename__", "__table__"} & {dotted(t) for t in _targets(stmt)}
        for stmt in node.body
    ):
        return True
    lineage = index.lineage(info.name) or []
    return not any(ancestor.name in index.models for ancestor in lineage[1:])


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
    if column.type_args:
        first = column.type_args[0]
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
    if not _is_now(column.option("server_default")):
        yield violation(
            source,
            _anchor(column, info, source),
            "BA202",
            f"`{info.name}.created_at` must have `server_default=func.now()`",
        )


def _is_now(default: ast.expr | None) -> bool:
    """`func.now()`, or a synonym the database evaluates the same way."""
    if not isinstance(default, ast.Call):
        return False
    name = dotted(default.func)
    if name.partition("func.")[2] in NOW_FUNCTIONS:
        return True
    sql = default.args[0] if default.args and last_name(default.func) == "text" else None
    return isinstance(sql, ast.Constant) and str(sql.value).lower() in NOW_SQL


def _foreign_keys(source: SourceFile, tree: ast.Module) -> Iterator[Violation]:
    leading = _leading_primary_keys(source.nodes)
    for node in source.nodes:
        if not (
            isinstance(node, ast.Call)
            and last_name(node.func) in {*COLUMN_FACTORIES, SQLMODEL_FIELD}
        ):
            continue
        if last_name(node.func) == SQLMODEL_FIELD:
            fk = keyword(node, "foreign_key")
            target = ast.unparse(fk) if fk is not None else "?"
        else:
            fk = next((arg for arg in node.args if last_name(_called(arg)) == "ForeignKey"), None)
            target = ast.unparse(fk.args[0]) if isinstance(fk, ast.Call) and fk.args else "?"
        indexed = is_true(keyword(node, "index")) or is_true(keyword(node, "unique"))
        if fk is not None and not indexed and id(node) not in leading:
            yield violation(
                source,
                fk,
                "BA203",
                f"foreign key to {target} has no `index=True` on its column",
            )


def _called(node: ast.expr) -> ast.expr | None:
    return node.func if isinstance(node, ast.Call) else None


def _leading_primary_keys(nodes: list[ast.AST]) -> set[int]:
    """Column calls that lead their table's primary key, which indexes them already
    (a second column of a composite key is not covered by that index)."""
    out: set[int] = set()
    for node in nodes:
        if isinstance(node, ast.ClassDef):
            values = [
                stmt.value for stmt in node.body if isinstance(stmt, ast.Assign | ast.AnnAssign)
            ]
        elif isinstance(node, ast.Call) and last_name(node.func) == "Table":
            values = list(node.args)
        else:
            continue
        keys = [
            value
            for value in values
            if isinstance(value, ast.Call)
            and last_name(value.func) in {*COLUMN_FACTORIES, SQLMODEL_FIELD}
            and is_true(keyword(value, "primary_key"))
        ]
        if keys:
            out.add(id(keys[0]))
    return out


def _is_boolean(column: Column, index: ProjectIndex) -> bool:
    names = names_in(aliased_type(column, index)) | names_in(
        column.type_args[0] if column.type_args else None
    )
    return bool(names & {"bool", "Boolean"})


def _password_columns(
    source: SourceFile, info: ClassInfo, index: ProjectIndex
) -> Iterator[Violation]:
    sqlmodel = info.sqlmodel_table or descends_from(index, info, {"SQLModel"})
    for column in class_columns(info, index, sqlmodel=sqlmodel).values():
        if (
            PLAIN_PASSWORD_COLUMN.match(column.name.lower())
            and column.name not in index.hashed_columns
        ):
            yield violation(
                source,
                column.stmt,
                "BA402",
                f"column `{info.name}.{column.name}` suggests a plain-text password; store a "
                "bcrypt hash in `hashed_password`",
            )


def _password_table_columns(source: SourceFile, tree: ast.Module) -> Iterator[Violation]:
    """`Column("password", ...)` inside `Table(...)` declarations."""
    for node in source.nodes:
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
    defined_here = {info.name for info in index.classes.values() if info.source is source}
    for (model, attr), places in sorted(index.queried.items()):
        if not defined_here & {info.name for info in index.lineage(model) or []}:
            continue
        columns = index.columns(model)
        column = columns.get(attr) if columns else None
        if (
            column is None
            or column.owner.source is not source
            or column.indexed
            or column.foreign_key is not None  # BA203's business
            or _is_boolean(column, index)  # two values: an index rarely helps
            or attr in index.table_arg_indexes.get(model, set())
            or id(column.stmt) in reported
        ):
            continue
        reported.add(id(column.stmt))
        yield violation(
            source,
            column.stmt,
            "BA204",
            f"`{model}.{attr}` is filtered on (in {places[0]}) but not indexed; add `index=True` "
            "(or `unique=True`)",
        )
