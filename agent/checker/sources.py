"""Finding and parsing a project's Python sources, wherever its packages live.

A project keeps its code in `app/`, in `src/<pkg>/` or in top-level packages; tests, docs,
virtual environments and Alembic migrations are not application code. Files are parsed from
bytes so a BOM or a `# -*- coding: ... -*-` cookie is honoured as Python itself does.
"""

from __future__ import annotations

import ast
import io
import re
import sys
import tokenize
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from agent.checker.astutil import dotted, last_name

SKIPPED_DIRS = frozenset(
    {
        "tests",
        "test",
        "testing",
        "__pycache__",
        "migrations",
        "alembic",
        "revisions",
        "node_modules",
        "venv",
        "docs",
        "docs_src",
        "site-packages",
        "build",
        "dist",
    }
)
SQL_PACKAGES = ("sqlalchemy", "sqlmodel")
SQL_ALIASES = frozenset({"sa", "sqlalchemy", "sqlmodel", "postgresql"})
NOT_SOURCE_ROOTS = frozenset({"scripts", "examples", "frontend"})
NOT_SOURCE_FILES = frozenset({"conftest.py", "setup.py", "noxfile.py"})


@dataclass
class SourceFile:
    path: Path
    rel: str  # posix path relative to the checked root, as printed
    module: str  # dotted module name, e.g. "app.services.book" or "dispatch.incident.views"
    text: str
    tree: ast.Module | None = None
    syntax_error: SyntaxError | None = None
    needs_python: str = ""  # "3.12": the file uses syntax newer than the running Python
    imports: dict[str, str] = field(default_factory=dict)  # local name -> qualified name

    @property
    def lines(self) -> list[str]:
        return self.text.splitlines()

    @cached_property
    def nodes(self) -> list[ast.AST]:
        """Every node of the tree, walked once: checks iterate this, not `ast.walk`."""
        return list(ast.walk(self.tree)) if self.tree is not None else []

    @property
    def package_parts(self) -> tuple[str, ...]:
        return tuple(self.module.split("."))

    def qualified(self, node: ast.AST | None) -> str:
        """`sa.select` -> `sqlalchemy.select` through this file's imports; unknown roots stay."""
        name = dotted(node)
        head, _, rest = name.partition(".")
        origin = self.imports.get(head)
        if origin is None:
            return name
        return f"{origin}.{rest}" if rest else origin

    def is_sql_call(self, call: ast.Call, names: frozenset[str]) -> bool:
        """`select(...)`/`sa.update(...)` from SQLAlchemy or SQLModel, not a project function
        that happens to be called `update`. A name neither imported nor defined here is
        taken as SQL (snippets often leave their imports out)."""
        func = call.func
        if last_name(func) not in names or not isinstance(func, ast.Name | ast.Attribute):
            return False
        head = dotted(func).partition(".")[0]
        if not head:
            return False
        origin = self.imports.get(head)
        if origin is not None:
            return origin.startswith(SQL_PACKAGES)
        if isinstance(func, ast.Name):
            return head not in self.defined
        return head in SQL_ALIASES

    @cached_property
    def defined(self) -> frozenset[str]:
        """Names bound at module level by `def`/`class`."""
        body = self.tree.body if self.tree is not None else []
        return frozenset(
            node.name
            for node in body
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
        )


def discover(root: Path) -> list[Path]:
    """Python files of the application: `app/`, `src/<pkg>/` and top-level packages."""
    out: list[Path] = []
    for source_root in source_roots(root):
        for path in sorted(source_root.rglob("*.py")):
            rel_parts = path.relative_to(root).parts
            if any(_skipped_dir(root, rel_parts[: i + 1]) for i in range(len(rel_parts) - 1)):
                continue
            if path.name.startswith("test_") or path.name in NOT_SOURCE_FILES:
                continue
            out.append(path)
    return sorted(set(out))


def source_roots(root: Path) -> list[Path]:
    if not root.is_dir():
        return []
    candidates = [root / "app"] if (root / "app").is_dir() else []
    src = root / "src"
    if src.is_dir():
        packages = [p for p in sorted(src.iterdir()) if _is_package(p)]
        # `src/<pkg>/__init__.py` is the src layout; without one, `src` itself is the
        # (namespace) package and the code imports `src.users...`.
        candidates += packages or ([src] if next(src.rglob("*.py"), None) else [])
    candidates += [
        p
        for p in sorted(root.iterdir())
        if p.name not in {"app", "src"} and p.name not in NOT_SOURCE_ROOTS and _is_package(p)
    ]
    return [p for p in candidates if not _skipped_dir(root, p.relative_to(root).parts)]


def _is_package(path: Path) -> bool:
    return path.is_dir() and (path / "__init__.py").is_file()


def _skipped_dir(root: Path, parts: tuple[str, ...]) -> bool:
    name = parts[-1]
    if name in SKIPPED_DIRS or name.startswith("."):
        return True
    return (root.joinpath(*parts) / "pyvenv.cfg").is_file()


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if len(parts) > 2 and parts[0] == "src" and _is_package(root / "src" / parts[1]):
        parts = parts[1:]
    if parts and parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def read_source(root: Path, path: Path) -> SourceFile:
    rel = path.relative_to(root).as_posix()
    module = module_name(root, path)
    try:
        data = path.read_bytes()
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
        text = data.decode(encoding)
    except (OSError, SyntaxError, UnicodeDecodeError, LookupError) as exc:
        error = SyntaxError(f"cannot read file: {exc}")
        error.lineno, error.offset = 1, 1
        return SourceFile(path, rel, module, "", syntax_error=error)
    text = text.removeprefix("\ufeff")
    try:
        tree = ast.parse(data, filename=str(path))
    except SyntaxError as exc:
        needs = newer_syntax(text, exc)
        return SourceFile(path, rel, module, text, syntax_error=exc, needs_python=needs)
    source = SourceFile(path, rel, module, text, tree=tree)
    source.imports = _imports(tree, module, is_package=path.name == "__init__.py")
    return source


def _imports(tree: ast.Module, module: str, *, is_package: bool) -> dict[str, str]:
    package = module.split(".") if is_package else module.split(".")[:-1]
    out: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    out[alias.asname] = alias.name
                else:
                    head = alias.name.partition(".")[0]
                    out[head] = head
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package[: len(package) - (node.level - 1)] if node.level > 1 else package
                base = ".".join([*anchor, *([base] if base else [])])
            for alias in node.names:
                if alias.name != "*":
                    out[alias.asname or alias.name] = f"{base}.{alias.name}" if base else alias.name
    return out


# Syntax added after 3.11, recognised in the source so the report can say which Python
# parses the file (a file that newer Python accepts is not a violation of anything).
_NEWER_SYNTAX: tuple[tuple[tuple[int, int], re.Pattern[str]], ...] = (
    ((3, 14), re.compile(r"^\s*except\*?\s+(?!\()[^:#]*,[^:#]*(\s+as\s|:)")),
    ((3, 14), re.compile(r"(?<![\w'\"])[tT][rR]?['\"]")),
    ((3, 12), re.compile(r"^\s*(async\s+)?def\s+\w+\s*\[")),
    ((3, 12), re.compile(r"^\s*class\s+\w+\s*\[")),
    ((3, 12), re.compile(r"^\s*type\s+\w+\s*(\[[^\]]*\])?\s*=")),
)


def newer_syntax(text: str, error: SyntaxError) -> str:
    """ "3.X" if the line that fails uses syntax of a Python newer than this one, else ""."""
    lines = text.splitlines()
    line = lines[error.lineno - 1] if error.lineno and 0 < error.lineno <= len(lines) else ""
    for version, pattern in _NEWER_SYNTAX:
        if sys.version_info < version and pattern.search(line):
            return f"{version[0]}.{version[1]}"
    if sys.version_info < (3, 12) and str(error.msg).startswith("f-string") and _pep701(line):
        return "3.12"
    return ""


_FSTRING = re.compile(r"(?<![\w])[fF][rR]?(?P<quote>['\"])")


def _pep701(line: str) -> bool:
    """An f-string whose replacement field reuses its own quote or holds a backslash."""
    for match in _FSTRING.finditer(line):
        quote = match.group("quote")
        depth = 0
        for char in line[match.end() :]:
            if char == "{":
                depth += 1
            elif char == "}":
                depth = max(depth - 1, 0)
            elif depth and char in (quote, "\\"):
                return True
            elif not depth and char == quote:
                break
    return False
