"""Parse a project once and index what cross-file rules need to know.

Several rules depend on other files: "returns a model" needs the model class names, "column
queried but not indexed" needs every `.where()`, "service returns an ORM object" needs the
service's return annotation. Models and services are recognised by what they are (a class
built on a declarative base or a SQLModel table; a class or module that works with a
session), not by the folder they sit in, so `app/models.py`, `app/crud.py` and
`src/<pkg>/<area>/models.py` are all understood. Collecting it up front keeps each check a
pure function of (file, index).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeGuard

from agent.checker.astutil import (
    FunctionNode,
    decorator_names,
    dotted,
    is_true,
    keyword,
    last_name,
    names_in,
    walk_local,
)
from agent.checker.sources import SourceFile, discover, read_source

COLUMN_FACTORIES = frozenset({"mapped_column", "Column"})
SQLMODEL_FIELD = "Field"
DECLARATIVE_ROOTS = frozenset({"DeclarativeBase", "DeclarativeBaseNoMeta"})
DECLARATIVE_FACTORIES = frozenset({"declarative_base", "generate_base"})
# Bases that never contribute columns; anything else unknown makes model checks give up.
NEUTRAL_BASES = frozenset(
    {
        "Base",
        "AsyncAttrs",
        "object",
        "MappedAsDataclass",
        "Generic",
        "SQLModel",
        *DECLARATIVE_ROOTS,
    }
)
SCHEMA_ROOTS = frozenset({"BaseModel", "SQLModel", "BaseSettings", "RootModel"})
SESSION_NAMES = frozenset({"session", "db", "db_session", "async_session", "dbsession"})
SELF_SESSION_ATTRS = frozenset({"session", "db", "db_session", "_session", "_db", "_db_session"})
NOT_DB_SESSIONS = ("ClientSession", "CachedSession")
ROUTE_METHODS = frozenset({"get", "post", "put", "patch", "delete", "head", "options", "api_route"})
ROUTER_FACTORIES = frozenset({"APIRouter", "FastAPI"})
DEPENDENCY_MARKERS = frozenset({"Depends", "Security"})
DATA_METHODS = frozenset(
    {"execute", "query", "add", "add_all", "delete", "get", "scalar", "scalars", "merge", "exec"}
)
HASH_CHECKS = frozenset({"checkpw", "verify", "verify_password", "check_password_hash"})
ENGINE_FACTORIES = frozenset(
    {"create_engine", "create_async_engine", "sessionmaker", "async_sessionmaker"}
)


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

    @property
    def sqlmodel_table(self) -> bool:
        return any(kw.arg == "table" and is_true(kw.value) for kw in self.node.keywords)


@dataclass
class Column:
    name: str
    stmt: ast.stmt
    call: ast.Call | None  # mapped_column(...), Column(...) or SQLModel's Field(...)
    annotation: ast.expr | None  # the `Mapped[...]` (or SQLModel field) annotation, if any
    owner: ClassInfo

    @property
    def sa_call(self) -> ast.Call | None:
        """The SQLAlchemy column call: the call itself, or a Field's `sa_column=Column(...)`."""
        if self.call is None or last_name(self.call.func) != SQLMODEL_FIELD:
            return self.call
        sa_column = keyword(self.call, "sa_column")
        return sa_column if isinstance(sa_column, ast.Call) else None

    def option(self, name: str) -> ast.expr | None:
        if self.call is None:
            return None
        if last_name(self.call.func) != SQLMODEL_FIELD:
            return keyword(self.call, name)
        if self.sa_call is not None:
            return keyword(self.sa_call, name)
        value = keyword(self.call, name)
        extra = keyword(self.call, "sa_column_kwargs")
        if value is None and isinstance(extra, ast.Dict):
            for key, item in zip(extra.keys, extra.values, strict=True):
                if isinstance(key, ast.Constant) and key.value == name:
                    return item
        return value

    @property
    def foreign_key(self) -> ast.expr | None:
        if self.call is not None and last_name(self.call.func) == SQLMODEL_FIELD:
            target = keyword(self.call, "foreign_key")
            if target is not None:
                return target
        call = self.sa_call
        for arg in call.args if call is not None else []:
            if isinstance(arg, ast.Call) and last_name(arg.func) == "ForeignKey":
                return arg
        return None

    @property
    def type_args(self) -> list[ast.expr]:
        """Positional arguments of the SQLAlchemy column call (its type, when given)."""
        call = self.sa_call
        return list(call.args) if call is not None else []

    @property
    def primary_key(self) -> bool:
        return is_true(self.option("primary_key"))

    @property
    def indexed(self) -> bool:
        return self.primary_key or is_true(self.option("index")) or is_true(self.option("unique"))


@dataclass(frozen=True)
class Endpoint:
    func: FunctionNode
    route: ast.Call  # the `@router.<method>(...)` decorator call


@dataclass
class ProjectIndex:
    root: Path
    files: list[SourceFile]
    classes: dict[str, ClassInfo] = field(default_factory=dict)
    models: dict[str, ClassInfo] = field(default_factory=dict)
    # Classes models inherit from (mixins, CRUD bases): not services, not schemas.
    model_bases: set[str] = field(default_factory=set)
    schemas: set[str] = field(default_factory=set)
    # Service-like classes (they work with a session): class -> method -> function node.
    services: dict[str, dict[str, FunctionNode]] = field(default_factory=dict)
    # Functions used as FastAPI dependencies (`Depends(get_db)`): never service operations.
    dependencies: set[str] = field(default_factory=set)
    typevars: set[str] = field(default_factory=set)
    # `CurrentSession = Annotated[AsyncSession, ...]` -> {"CurrentSession": True}
    session_aliases: dict[str, bool] = field(default_factory=dict)
    # `UUIDpk = Annotated[UUID, mapped_column(primary_key=True)]`
    type_aliases: dict[str, ast.Subscript] = field(default_factory=dict)
    # (model, column) -> where it is filtered on, e.g. "app/services/book.py"
    queried: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    # Columns indexed through `__table_args__` (Index/UniqueConstraint), per model.
    table_arg_indexes: dict[str, set[str]] = field(default_factory=dict)
    declarative_names: set[str] = field(default_factory=set)
    # Column names a model verifies hashes against (`bcrypt.checkpw(pw, self.password)`) or
    # hashes into (`self.password = hash_password(pw)`): they hold hashes, whatever the name.
    hashed_columns: set[str] = field(default_factory=set)
    # Qualified names of module-level sync HTTP clients and password hashers -> what they are.
    blocking_objects: dict[str, str] = field(default_factory=dict)
    # Qualified names of the project's sync functions that block -> the blocking call.
    blocking_functions: dict[str, str] = field(default_factory=dict)
    # Module-level functions and methods by qualified name: "app.utils.auth.Hasher.hash".
    functions: dict[str, tuple[SourceFile, FunctionNode]] = field(default_factory=dict)
    _columns: dict[str, dict[str, Column] | None] = field(default_factory=dict, repr=False)
    _routes: dict[str, list[Endpoint]] = field(default_factory=dict, repr=False)
    _lineages: dict[str, list[ClassInfo] | None] = field(default_factory=dict, repr=False)

    def parsed(self) -> Iterator[tuple[SourceFile, ast.Module]]:
        for source in self.files:
            if source.tree is not None:
                yield source, source.tree

    def lineage(self, name: str) -> list[ClassInfo] | None:
        """The class and its project bases (own first); None if a base is unknown."""
        if name not in self._lineages:
            self._lineages[name] = self._lineage(name)
        return self._lineages[name]

    def _lineage(self, name: str) -> list[ClassInfo] | None:
        out: list[ClassInfo] = []
        pending = [name]
        seen: set[str] = set()
        while pending:
            current = pending.pop(0)
            if current in seen:
                continue
            seen.add(current)
            info = self.classes.get(current)
            if info is None:
                if current in NEUTRAL_BASES or current in self.declarative_names:
                    continue
                return None
            out.append(info)
            pending.extend(info.base_names)
        return out

    def columns(self, model: str) -> dict[str, Column] | None:
        if model in self._columns:
            return self._columns[model]
        lineage = self.lineage(model)
        merged: dict[str, Column] | None = None
        if lineage is not None:
            sqlmodel = self.models[model].sqlmodel_table if model in self.models else False
            merged = {}
            for info in reversed(lineage):
                merged.update(class_columns(info, self, sqlmodel=sqlmodel))
        self._columns[model] = merged
        return merged

    def routes(self, source: SourceFile) -> list[Endpoint]:
        """The endpoints defined in `source` (computed once per file)."""
        if source.rel not in self._routes:
            self._routes[source.rel] = list(endpoints(source.tree)) if source.tree else []
        return self._routes[source.rel]

    def is_session_annotation(self, annotation: ast.expr | None) -> bool:
        names = names_in(annotation)
        return any(_is_session_type(name) for name in names) or bool(
            names & set(self.session_aliases)
        )

    def is_async_session_annotation(self, annotation: ast.expr | None) -> bool:
        names = names_in(annotation)
        return "AsyncSession" in names or any(self.session_aliases.get(n) for n in names)

    def is_session_param(self, arg: ast.arg) -> bool:
        if arg.annotation is not None:
            return self.is_session_annotation(arg.annotation) or (
                arg.arg in SESSION_NAMES and not names_in(arg.annotation) & {"str", "int"}
            )
        return arg.arg in SESSION_NAMES


def _is_session_type(name: str) -> bool:
    return "Session" in name and not name.endswith(NOT_DB_SESSIONS) and name != "sessionmaker"


def class_columns(
    info: ClassInfo, index: ProjectIndex, *, sqlmodel: bool = False
) -> dict[str, Column]:
    """Columns declared in one class body (not inherited ones)."""
    out: dict[str, Column] = {}
    for stmt in info.node.body:
        if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
            name = stmt.target.id
            column = (
                _sqlmodel_field(stmt, name, info)
                if sqlmodel
                else _annotated_column(stmt, name, info, index)
            )
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


def _sqlmodel_field(stmt: ast.AnnAssign, name: str, info: ClassInfo) -> Column | None:
    if name.startswith("_") or name == "model_config" or "ClassVar" in names_in(stmt.annotation):
        return None
    call = stmt.value if isinstance(stmt.value, ast.Call) else None
    if call is not None and last_name(call.func) == "Relationship":
        return None
    if call is not None and last_name(call.func) not in {SQLMODEL_FIELD, *COLUMN_FACTORIES}:
        call = None
    return Column(name, stmt, call, stmt.annotation, info)


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


def load(root: Path) -> ProjectIndex:
    files = [read_source(root, path) for path in discover(root)]
    index = ProjectIndex(root=root, files=[f for f in files if not _is_migration(f)])
    _index_functions(index)
    _index_definitions(index)
    _index_queries(index)
    return index


def _index_functions(index: ProjectIndex) -> None:
    for source, tree in index.parsed():
        for stmt in tree.body:
            if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
                index.functions[f"{source.module}.{stmt.name}"] = (source, stmt)
            elif isinstance(stmt, ast.ClassDef):
                for item in stmt.body:
                    if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
                        key = f"{source.module}.{stmt.name}.{item.name}"
                        index.functions[key] = (source, item)


def resolve_function(
    source: SourceFile, func: ast.expr, index: ProjectIndex
) -> tuple[SourceFile, FunctionNode] | None:
    """The project function a call's target names, through imports or this module."""
    name = source.qualified(func)
    return index.functions.get(name) or index.functions.get(f"{source.module}.{name}")


def _is_migration(source: SourceFile) -> bool:
    """An Alembic revision script, wherever its folder is and whatever it is called."""
    if source.tree is None:
        return False
    assigned = {
        target.id
        for stmt in source.tree.body
        if isinstance(stmt, ast.Assign | ast.AnnAssign)
        for target in (stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target])
        if isinstance(target, ast.Name)
    }
    return {"revision", "down_revision"} <= assigned


def _index_definitions(index: ProjectIndex) -> None:
    candidates: dict[str, list[ClassInfo]] = {}
    for source, tree in index.parsed():
        for node in source.nodes:
            if isinstance(node, ast.ClassDef):
                candidates.setdefault(node.name, []).append(ClassInfo(node, source))
        for stmt in tree.body:
            _index_module_assignment(index, stmt)
        for node in source.nodes:
            if isinstance(node, ast.Call) and last_name(node.func) in DEPENDENCY_MARKERS:
                index.dependencies.update(last_name(arg) for arg in node.args)
    index.classes = {name: infos[0] for name, infos in candidates.items()}
    _index_models(index, candidates)
    for name, infos in candidates.items():
        for info in infos:
            if name in index.models and index.models[name] is info:
                continue
            if descends_from(index, info, SCHEMA_ROOTS) and not info.sqlmodel_table:
                index.schemas.add(name)
    for source, _tree in index.parsed():
        if index.routes(source):
            continue
        for node in source.nodes:
            if isinstance(node, ast.ClassDef) and is_service_class(node, index):
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
    elif isinstance(value, ast.Call) and last_name(value.func) in DECLARATIVE_FACTORIES:
        index.declarative_names.add(target.id)
    elif isinstance(value, ast.Subscript) and last_name(value.value) == "Annotated":
        index.type_aliases[target.id] = value
        first = value.slice.elts[0] if isinstance(value.slice, ast.Tuple) else value.slice
        names = names_in(first)
        if any(_is_session_type(name) for name in names):
            index.session_aliases[target.id] = "AsyncSession" in names


def descends_from(index: ProjectIndex, info: ClassInfo, roots: frozenset[str] | set[str]) -> bool:
    pending, seen = [info], set()
    while pending:
        current = pending.pop()
        if current.name in seen:
            continue
        seen.add(current.name)
        for base in current.base_names:
            if base in roots:
                return True
            parent = index.classes.get(base)
            if parent is not None and parent is not current:
                pending.append(parent)
    return False


def _is_declarative_root(info: ClassInfo) -> bool:
    return bool(set(info.base_names) & DECLARATIVE_ROOTS) or "as_declarative" in decorator_names(
        info.node
    )


def _index_models(index: ProjectIndex, candidates: dict[str, list[ClassInfo]]) -> None:
    """Models: classes built on a declarative base (not abstract), SQLModel tables, and any
    class that names its `__tablename__`."""
    roots = set(index.declarative_names)
    roots |= {name for name, infos in candidates.items() if any(map(_is_declarative_root, infos))}
    for name, infos in candidates.items():
        for info in infos:
            if name in roots or _abstract(info.node):
                continue
            mapped = (
                info.sqlmodel_table
                or _class_attr(info.node, "__tablename__") is not None
                or descends_from(index, info, roots)
            )
            if mapped:
                index.models[name] = info
                index.classes[name] = info
                break
    for info in index.models.values():
        index.hashed_columns |= _hashed_columns(info.node)
        for ancestor in index.lineage(info.name) or []:
            if ancestor.name != info.name:
                index.model_bases.add(ancestor.name)
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


def _hashed_columns(node: ast.ClassDef) -> set[str]:
    out: set[str] = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.Call) and last_name(sub.func) in HASH_CHECKS:
            out |= {arg.attr for arg in sub.args if _self_attribute(arg)}
        elif (
            isinstance(sub, ast.Assign)
            and isinstance(sub.value, ast.Call)
            and "hash" in last_name(sub.value.func).lower()
        ):
            out |= {target.attr for target in sub.targets if _self_attribute(target)}
    return out


def _self_attribute(node: ast.expr) -> TypeGuard[ast.Attribute]:
    return isinstance(node, ast.Attribute) and dotted(node.value) == "self"


def _abstract(node: ast.ClassDef) -> bool:
    value = _class_attr(node, "__abstract__")
    return is_true(value)


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
    for source, _tree in index.parsed():
        for node in source.nodes:
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
                        places = index.queried.setdefault((sub.value.id, sub.attr), [])
                        if source.rel not in places:
                            places.append(source.rel)


# --- what a service is ------------------------------------------------------------------

NON_SERVICE_BASE_SUFFIXES = (
    "Model",
    "Enum",
    "Exception",
    "Error",
    "TypedDict",
    "Protocol",
    "NamedTuple",
    "Settings",
)


def is_service_class(node: ast.ClassDef, index: ProjectIndex) -> bool:
    """A class that works with a session and is not a model, a model's base, a schema or a
    value type: its methods are service methods."""
    if node.name in index.models or node.name in index.model_bases or node.name in index.schemas:
        return False
    if "dataclass" in decorator_names(node):
        return False
    bases = [
        last_name(base.value if isinstance(base, ast.Subscript) else base) for base in node.bases
    ]
    if any(base.endswith(NON_SERVICE_BASE_SUFFIXES) or base in SCHEMA_ROOTS for base in bases):
        return False
    methods = [
        item for item in node.body if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef)
    ]
    return any(uses_session(item, index) for item in methods) and touches_data(node, index)


def touches_data(node: ast.AST, index: ProjectIndex) -> bool:
    """Names one of the project's models, or runs a query/write on something session-like;
    a class that only passes sessions around (a tracker, a factory) is not a service."""
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name) and sub.id in index.models:
            return True
        if (
            isinstance(sub, ast.Call)
            and isinstance(sub.func, ast.Attribute)
            and sub.func.attr in DATA_METHODS
            and any(part in dotted(sub.func.value).lower() for part in ("session", "db"))
        ):
            return True
    return False


def uses_session(func: FunctionNode, index: ProjectIndex) -> bool:
    """Takes a session, reads one off `self`/`cls`, or opens one with `async with`."""
    args = [*func.args.posonlyargs, *func.args.args, *func.args.kwonlyargs]
    if any(index.is_session_param(arg) for arg in args):
        return True
    for node in walk_local(func.body):
        if (
            isinstance(node, ast.Attribute)
            and node.attr in SELF_SESSION_ATTRS
            and dotted(node.value) in {"self", "cls"}
        ):
            return True
    return bool(opened_sessions(func))


def opened_sessions(func: FunctionNode, *, async_only: bool = False) -> set[str]:
    """Names bound by `async with factory() as session` / `with Session(engine) as db`."""
    kinds = ast.AsyncWith if async_only else (ast.AsyncWith, ast.With)
    out = set()
    for node in walk_local(func.body):
        if isinstance(node, kinds):
            for item in node.items:
                name = item.optional_vars
                if isinstance(name, ast.Name) and (
                    "session" in name.id.lower() or name.id in SESSION_NAMES
                ):
                    out.add(name.id)
    return out


def is_infrastructure(tree: ast.Module) -> bool:
    """Engine/session-factory setup modules and scripts: their session functions are wiring
    (`init_db(session)`), not service operations."""
    for stmt in tree.body:
        value = stmt.value if isinstance(stmt, ast.Assign | ast.AnnAssign) else None
        if isinstance(value, ast.Call) and last_name(value.func) in ENGINE_FACTORIES:
            return True
        if isinstance(stmt, ast.If) and "__main__" in ast.unparse(stmt.test):
            return True
    return False


# --- where the routes are ---------------------------------------------------------------


def router_names(tree: ast.Module) -> set[str]:
    """`router` plus any module-level name bound to `APIRouter(...)` or `FastAPI(...)`."""
    names = {"router"}
    for stmt in tree.body:
        value = stmt.value if isinstance(stmt, ast.Assign | ast.AnnAssign) else None
        if isinstance(value, ast.Call) and last_name(value.func) in ROUTER_FACTORIES:
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
            names.update(t.id for t in targets if isinstance(t, ast.Name))
    return names


def endpoints(tree: ast.Module) -> Iterator[Endpoint]:
    routers = router_names(tree)
    for node in ast.walk(tree):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for dec in node.decorator_list:
            if (
                isinstance(dec, ast.Call)
                and isinstance(dec.func, ast.Attribute)
                and dec.func.attr in ROUTE_METHODS
                and dotted(dec.func.value) in routers
            ):
                yield Endpoint(node, dec)
                break


def session_param_names(func: FunctionNode, index: ProjectIndex) -> set[str]:
    """Parameters that hold a session: annotated with a Session type/alias, or so named."""
    names = set(SESSION_NAMES)
    for arg in [*func.args.posonlyargs, *func.args.args, *func.args.kwonlyargs]:
        if index.is_session_param(arg):
            names.add(arg.arg)
    return names


def called_on(call: ast.Call, receivers: set[str]) -> str:
    """The method name if `call` is `<receiver>.<method>(...)` for one of `receivers`."""
    if isinstance(call.func, ast.Attribute) and dotted(call.func.value) in receivers:
        return call.func.attr
    return ""
