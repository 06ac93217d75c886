"""Parse the `app/` package once and index what cross-file rules need to know.

Several rules depend on other files: "returns a model" needs the model class names, "column
queried but not indexed" needs every `.where()` under app/, "service returns an ORM object"
needs the service's return annotation. Collecting all of that up front keeps each check a
pure function of (file, index).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from agent.checker.astutil import (
    FunctionNode,
    dotted,
    is_true,
    keyword,
    last_name,
    names_in,
)

SKIPPED_DIRS = frozenset(
    {"tests", "test", "__pycache__", "migrations", "alembic", "node_modules", "venv"}
)
COLUMN_FACTORIES = frozenset({"mapped_column", "Column"})
# Bases that never contribute columns; anything else unknown makes model checks give up.
NEUTRAL_BASES = frozenset(
    {"Base", "DeclarativeBase", "AsyncAttrs", "CRUD", "object", "MappedAsDataclass", "Generic"}
)


@dataclass
class SourceFile:
    path: Path
    rel: str  # posix path relative to the checked root, as printed
    app_parts: tuple[str, ...]  # path parts below app/, e.g. ("services", "book.py")
    text: str
    tree: ast.Module | None = None
    syntax_error: SyntaxError | None = None

    @property
    def area(self) -> str:
        return self.app_parts[0] if len(self.app_parts) > 1 else ""

    @property
    def lines(self) -> list[str]:
        return self.text.splitlines()


@dataclass
class ClassInfo:
    node: ast.ClassDef
    source: SourceFile

    @property
    def name(self) -> str:
        return self.node.name

    @property
    def base_names(self) -> list[str]:
        out = []
        for base in self.node.bases:
            target = base.value if isinstance(base, ast.Subscript) else base
            out.append(last_name(target))
        return out


@dataclass
class Column:
    name: str
    stmt: ast.stmt
    call: ast.Call | None  # the mapped_column(...)/Column(...) call, if any
    annotation: ast.expr | None  # the `Mapped[...]` annotation, if any
    owner: ClassInfo

    def option(self, name: str) -> ast.expr | None:
        return keyword(self.call, name) if self.call else None

    @property
    def foreign_key(self) -> ast.Call | None:
        if self.call is None:
            return None
        for arg in self.call.args:
            if isinstance(arg, ast.Call) and last_name(arg.func) == "ForeignKey":
                return arg
        return None

    @property
    def primary_key(self) -> bool:
        return is_true(self.option("primary_key"))

    @property
    def indexed(self) -> bool:
        return self.primary_key or is_true(self.option("index")) or is_true(self.option("unique"))


@dataclass
class ProjectIndex:
    root: Path
    files: list[SourceFile]
    classes: dict[str, ClassInfo] = field(default_factory=dict)
    models: dict[str, ClassInfo] = field(default_factory=dict)
    # Service-like classes (app/services, app/crud): class -> method -> function node.
    services: dict[str, dict[str, FunctionNode]] = field(default_factory=dict)
    typevars: set[str] = field(default_factory=set)
    # `CurrentSession = Annotated[AsyncSession, ...]` -> {"CurrentSession": True}
    session_aliases: dict[str, bool] = field(default_factory=dict)
    # `UUIDpk = Annotated[UUID, mapped_column(primary_key=True)]`
    type_aliases: dict[str, ast.Subscript] = field(default_factory=dict)
    # (model, column) -> where it is filtered on, e.g. "app/services/book.py:12"
    queried: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    # Columns indexed through `__table_args__` (Index/UniqueConstraint), per model.
    table_arg_indexes: dict[str, set[str]] = field(default_factory=dict)

    def parsed(self) -> Iterator[tuple[SourceFile, ast.Module]]:
        for source in self.files:
            if source.tree is not None:
                yield source, source.tree

    def lineage(self, name: str) -> list[ClassInfo] | None:
        """The class and its project bases (own first); None if a base is unknown."""
        out: list[ClassInfo] = []
        pending = [name]
        seen: set[str] = set()
        while pending:
            current = pending.pop(0)
            if current in seen or (current in NEUTRAL_BASES and current not in self.classes):
                continue
            seen.add(current)
            info = self.classes.get(current)
            if info is None:
                return None
            out.append(info)
            pending.extend(info.base_names)
        return out

    def columns(self, model: str) -> dict[str, Column] | None:
        lineage = self.lineage(model)
        if lineage is None:
            return None
        merged: dict[str, Column] = {}
        for info in reversed(lineage):
            merged.update(class_columns(info, self))
        return merged

    def is_session_annotation(self, annotation: ast.expr | None) -> bool:
        names = names_in(annotation)
        return any("Session" in name for name in names) or bool(names & set(self.session_aliases))

    def is_async_session_annotation(self, annotation: ast.expr | None) -> bool:
        names = names_in(annotation)
        return "AsyncSession" in names or any(self.session_aliases.get(n) for n in names)


def class_columns(info: ClassInfo, index: ProjectIndex) -> dict[str, Column]:
    """Columns declared in one class body (not inherited ones)."""
    out: dict[str, Column] = {}
    for stmt in info.node.body:
        if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
            column = _annotated_column(stmt, stmt.target.id, info, index)
            if column is not None:
                out[column.name] = column
        elif (
            isinstance(stmt, ast.Assign)
            and len(stmt.targets) == 1
            and isinstance(stmt.targets[0], ast.Name)
            and isinstance(stmt.value, ast.Call)
            and last_name(stmt.value.func) in COLUMN_FACTORIES
        ):
            name = stmt.targets[0].id
            out[name] = Column(name, stmt, stmt.value, None, info)
    return out


def _annotated_column(
    stmt: ast.AnnAssign, name: str, info: ClassInfo, index: ProjectIndex
) -> Column | None:
    if isinstance(stmt.value, ast.Call):
        if last_name(stmt.value.func) not in COLUMN_FACTORIES:
            return None  # relationship(), column_property(), ...
        return Column(name, stmt, stmt.value, stmt.annotation, info)
    if stmt.value is not None or last_name(_subscripted(stmt.annotation)) != "Mapped":
        return None
    inner = _mapped_inner(stmt.annotation)
    if names_in(inner) & set(index.models):
        return None  # a relationship target, not a column
    alias = index.type_aliases.get(last_name(inner))
    call = _alias_column_call(alias) if alias is not None else None
    return Column(name, stmt, call, stmt.annotation, info)


def _subscripted(node: ast.expr | None) -> ast.expr | None:
    return node.value if isinstance(node, ast.Subscript) else node


def _mapped_inner(annotation: ast.expr | None) -> ast.expr | None:
    if isinstance(annotation, ast.Subscript) and last_name(annotation.value) == "Mapped":
        return annotation.slice
    return annotation


def _alias_column_call(alias: ast.Subscript) -> ast.Call | None:
    elts = alias.slice.elts if isinstance(alias.slice, ast.Tuple) else []
    for elt in elts[1:]:
        if isinstance(elt, ast.Call) and last_name(elt.func) in COLUMN_FACTORIES:
            return elt
    return None


def aliased_type(column: Column, index: ProjectIndex) -> ast.expr | None:
    """The Python type inside `Mapped[...]`, looking through `Annotated` aliases."""
    inner = _mapped_inner(column.annotation)
    alias = index.type_aliases.get(last_name(inner))
    if alias is not None:
        elts = alias.slice.elts if isinstance(alias.slice, ast.Tuple) else [alias.slice]
        return elts[0]
    return inner


def discover(root: Path) -> list[Path]:
    app = root / "app"
    if not app.is_dir():
        return []
    out = []
    for path in sorted(app.rglob("*.py")):
        rel_parts = path.relative_to(app).parts
        if any(part in SKIPPED_DIRS or part.startswith(".") for part in rel_parts[:-1]):
            continue
        if path.name.startswith("test_") or path.name == "conftest.py":
            continue
        out.append(path)
    return out


def load(root: Path) -> ProjectIndex:
    files = []
    for path in discover(root):
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            error = SyntaxError(f"cannot read file: {exc}")
            error.lineno, error.offset = 1, 1
            files.append(_source(root, path, "", error=error))
            continue
        try:
            tree = ast.parse(text, filename=str(path))
        except SyntaxError as exc:
            files.append(_source(root, path, text, error=exc))
            continue
        files.append(_source(root, path, text, tree=tree))
    index = ProjectIndex(root=root, files=files)
    _index_definitions(index)
    _index_queries(index)
    return index


def _source(
    root: Path,
    path: Path,
    text: str,
    *,
    tree: ast.Module | None = None,
    error: SyntaxError | None = None,
) -> SourceFile:
    app_parts = path.relative_to(root / "app").parts
    rel = path.relative_to(root).as_posix()
    return SourceFile(path, rel, app_parts, text, tree=tree, syntax_error=error)


def _index_definitions(index: ProjectIndex) -> None:
    # Models first, so a model wins over a same-named class elsewhere.
    ordered = sorted(index.parsed(), key=lambda item: item[0].area != "models")
    for source, tree in ordered:
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                index.classes.setdefault(node.name, ClassInfo(node, source))
        for stmt in tree.body:
            _index_module_assignment(index, stmt)
    _index_models(index)
    for source, tree in index.parsed():
        if source.area not in {"services", "crud"}:
            continue
        for node in tree.body:
            if isinstance(node, ast.ClassDef):
                index.services[node.name] = {
                    item.name: item
                    for item in node.body
                    if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef)
                }


def _index_module_assignment(index: ProjectIndex, stmt: ast.stmt) -> None:
    if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
        target, value = stmt.targets[0], stmt.value
    elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
        target, value = stmt.target, stmt.value
    else:
        return
    if not isinstance(target, ast.Name):
        return
    if isinstance(value, ast.Call) and last_name(value.func) == "TypeVar":
        index.typevars.add(target.id)
    elif isinstance(value, ast.Subscript) and last_name(value.value) == "Annotated":
        index.type_aliases[target.id] = value
        first = value.slice.elts[0] if isinstance(value.slice, ast.Tuple) else value.slice
        names = names_in(first)
        if any("Session" in name for name in names):
            index.session_aliases[target.id] = "AsyncSession" in names


def _index_models(index: ProjectIndex) -> None:
    """Models: classes with `__tablename__` in app/models, and their mapped subclasses."""
    for name, info in index.classes.items():
        if info.source.area == "models" and _class_attr(info.node, "__tablename__") is not None:
            index.models[name] = info
    changed = True
    while changed:  # single-table inheritance subclasses have no __tablename__
        changed = False
        for name, info in index.classes.items():
            if name in index.models or info.source.area != "models":
                continue
            if any(base in index.models for base in info.base_names):
                index.models[name] = info
                changed = True
    for name, info in index.models.items():
        table_args = _class_attr(info.node, "__table_args__")
        if table_args is None:
            continue
        indexed: set[str] = set()
        for node in ast.walk(table_args):
            if isinstance(node, ast.Call) and last_name(node.func) in {
                "Index",
                "UniqueConstraint",
                "PrimaryKeyConstraint",
            }:
                for arg in node.args:
                    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                        indexed.add(arg.value)
                    elif last_name(arg):
                        indexed.add(last_name(arg))
        index.table_arg_indexes[name] = indexed


def _class_attr(node: ast.ClassDef, attr: str) -> ast.expr | None:
    for stmt in node.body:
        if isinstance(stmt, ast.Assign):
            if any(isinstance(t, ast.Name) and t.id == attr for t in stmt.targets):
                return stmt.value
        elif isinstance(stmt, ast.AnnAssign) and dotted(stmt.target) == attr:
            return stmt.value
    return None


FILTER_METHODS = frozenset({"where", "filter", "having"})


def _index_queries(index: ProjectIndex) -> None:
    for source, tree in index.parsed():
        for node in ast.walk(tree):
            if not (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in FILTER_METHODS
            ):
                continue
            for arg in node.args:
                for sub in ast.walk(arg):
                    if (
                        isinstance(sub, ast.Attribute)
                        and isinstance(sub.value, ast.Name)
                        and sub.value.id in index.models
                    ):
                        where = f"{source.rel}:{sub.lineno}"
                        index.queried.setdefault((sub.value.id, sub.attr), []).append(where)


def session_param_names(func: FunctionNode, index: ProjectIndex) -> set[str]:
    """Parameters that hold a session: annotated with a Session type/alias, or so named."""
    names = {"session", "db", "db_session"}
    for arg in [*func.args.posonlyargs, *func.args.args, *func.args.kwonlyargs]:
        if index.is_session_annotation(arg.annotation):
            names.add(arg.arg)
    return names


def called_on(call: ast.Call, receivers: set[str]) -> str:
    """The method name if `call` is `<receiver>.<method>(...)` for one of `receivers`."""
    if isinstance(call.func, ast.Attribute) and dotted(call.func.value) in receivers:
        return call.func.attr
    return ""
