"""The rule table: every code, the spec line it enforces, and whether it is a heuristic.

The table is the single source of truth for codes; checks may only emit codes listed here,
and `select`/`ignore` are validated against it so a typo in pyproject fails loudly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple


@dataclass(frozen=True, order=True)
class Violation:
    path: str
    line: int
    col: int
    code: str
    message: str


class Rule(NamedTuple):
    summary: str
    spec: str  # the line of system_prompts/backend.md this rule enforces
    heuristic: bool  # True: approximates intent from names/shapes, so a noqa comment may be right


RULES: dict[str, Rule] = {
    "BA001": Rule("File cannot be parsed (syntax error)", "(checker) every file must parse", False),
    # Endpoints
    "BA101": Rule(
        "Endpoint has neither `response_model=` nor a return annotation",
        "Every Endpoint Must Have: Response model defined",
        False,
    ),
    "BA102": Rule(
        "Endpoint parameter without a type annotation",
        "Every Endpoint Must Have: Type-annotated parameters",
        False,
    ),
    "BA103": Rule(
        "`status_code` is not a valid HTTP status code",
        "Every Endpoint Must Have: Proper HTTP status codes",
        False,
    ),
    "BA104": Rule(
        "`HTTPException` raised with a non-error (<400) status code",
        "Every Endpoint Must Have: Proper HTTP status codes",
        False,
    ),
    "BA105": Rule(
        "204/304 endpoint declares a response body",
        "Every Endpoint Must Have: Proper HTTP status codes",
        False,
    ),
    "BA106": Rule(
        "Exception swallowed (`except` body is only `pass`/`...`/`continue`)",
        "Every Endpoint Must Have: Error handling for expected failures; "
        "Every Service Method Must: Handle database errors",
        False,
    ),
    # Heuristic: any session method call (add/execute/commit/scalar/get/...) or a
    # select()/insert()/update()/delete()/text() construct in the endpoint body.
    "BA110": Rule(
        "Endpoint accesses the database directly (session calls or SQL constructs)",
        "Never Do: Put business logic in endpoints",
        True,
    ),
    "BA111": Rule(
        "Endpoint contains a loop",
        "Never Do: Put business logic in endpoints",
        True,
    ),
    "BA112": Rule(
        "Endpoint body has more than 10 statements (nested ones included)",
        "Never Do: Put business logic in endpoints",
        True,
    ),
    # Heuristic: returns a model constructor call, `session.get(Model, ...)`, or the result
    # of a service/CRUD method whose return annotation names a model, Self, a TypeVar, Any or
    # is missing; also `response_model=`/return annotation naming a model.
    "BA120": Rule(
        "Endpoint returns a database model instead of a response schema",
        "Never Do: Return database models directly (use response schemas)",
        True,
    ),
    # Models
    "BA201": Rule(
        "Model has no UUID primary key",
        "Every Model Must Have: UUID primary key",
        False,
    ),
    "BA202": Rule(
        "Model has no `created_at` with `server_default=func.now()`",
        "Every Model Must Have: `created_at` timestamp with `server_default=func.now()`",
        False,
    ),
    "BA203": Rule(
        "Foreign key column without `index=True`",
        "Every Model Must Have: Foreign keys with `index=True`",
        False,
    ),
    # Heuristic: `Model.column` used inside `.where()`/`.filter()`/`.having()` anywhere under
    # app/ without index=True/unique=True/primary_key or an Index in __table_args__.
    "BA204": Rule(
        "Column filtered on in a query but not indexed",
        "Every Model Must Have: Proper indexes on frequently queried columns",
        True,
    ),
    # Services: classes that take or hold a session and touch the project's data (not models,
    # their mixins, schemas or value types), wherever they live; and public session-first
    # functions over the project's models outside route, dependency and engine-setup modules
    # (`app/crud.py`), except jobs registered with a decorator (`@scheduler.add(...)`).
    "BA301": Rule(
        "Service method is not a `@staticmethod` (or is a module-level service function)",
        "Every Service Method Must: Be a static method",
        False,
    ),
    "BA302": Rule(
        "Service method does not take the session as first parameter",
        "Every Service Method Must: Accept session as first parameter",
        False,
    ),
    "BA303": Rule(
        "Service method writes (`add`/`delete`/insert/update) without `await session.commit()`",
        "Every Service Method Must: Commit transactions explicitly",
        True,  # writes: session.add/delete/merge, execute(insert/update/delete), CRUD writes
    ),
    "BA304": Rule(
        "AsyncSession method called without `await`",
        "Every Service Method Must: Commit transactions explicitly (an un-awaited commit "
        "never runs); Stack: SQLAlchemy 2.0 async",
        False,
    ),
    "BA305": Rule(
        "Service raises `HTTPException` directly instead of an `AppError`",
        "Every Service Method Must: Handle database errors and raise appropriate `AppError`",
        False,
    ),
    # Heuristic: known blocking APIs resolved through imports (bcrypt, hashlib KDFs,
    # time.sleep, requests, httpx/urllib sync calls, subprocess, passlib/pwdlib hashers,
    # sync HTTP client objects), and the project's sync functions that call them.
    "BA306": Rule(
        "Blocking call inside `async def` (bcrypt, hashlib KDFs, `time.sleep`, sync HTTP)",
        "Stack: FastAPI with async/await (a blocking call stalls every request on the event "
        "loop; hand it to `run_in_threadpool`/`asyncio.to_thread`)",
        True,
    ),
    # Security / "Never Do"
    # Heuristic: a value formatted into SQL text (after `=`, inside quotes, `LIMIT`...);
    # identifiers (`FROM {table}`, `"{schema}".`, `SET search_path TO {s}`), module
    # constants and `__tablename__` cannot be bound parameters and are not flagged.
    "BA401": Rule(
        "Raw SQL with a value formatted in (f-string, `%`, `.format()`, concatenation)",
        "Never Do: Use raw SQL without parameterization",
        True,
    ),
    # Heuristic (names): column `password`/`passwd`/`pwd`/`plain_password`...;
    # BA403: a password-named value (not a call such as hash_password(...)) assigned to a
    # model keyword or attribute; BA404: ==/!= with a password-named side, except two inputs
    # of the same object (data.new_password == data.current_password) and confirm/repeat names.
    "BA402": Rule(
        "Model column stores a password under a plain name (use `hashed_password`)",
        "Never Do: Store passwords in plain text",
        True,
    ),
    "BA403": Rule(
        "Plain-text password assigned to a model field",
        "Never Do: Store passwords in plain text",
        True,
    ),
    "BA404": Rule(
        "Password compared with `==`/`!=` instead of `bcrypt.checkpw`",
        "Never Do: Store passwords in plain text (Auth: bcrypt password hashing)",
        True,
    ),
    "BA410": Rule(
        "Endpoint parameter typed `dict`/`Any`/`object` instead of a Pydantic schema",
        "Never Do: Skip validation on user input",
        False,
    ),
    "BA411": Rule(
        "Endpoint reads the raw request body (`request.json()`/`.body()`/`.form()`)",
        "Never Do: Skip validation on user input",
        False,
    ),
}

# Spec lines with no rule of their own, and why.
UNCHECKED: dict[str, str] = {
    "Every Endpoint Must Have: Error handling for expected failures": (
        "whether a failure is 'expected' is semantic; only swallowed exceptions (BA106) are flagged"
    ),
    "Every Endpoint Must Have: Proper HTTP status codes": (
        "partly: validity (BA103), error codes on HTTPException (BA104) and bodiless 204 "
        "(BA105) are checked; '201 on create' is not required because the spec's own "
        "create_book example uses the default 200"
    ),
    "Every Service Method Must: Handle database errors and raise appropriate `AppError`": (
        "requiring try/except around every commit would flag the spec's own "
        "BookService.create; only HTTPException-instead-of-AppError (BA305) and swallowed "
        "exceptions (BA106) are checked"
    ),
    "Every Model Must Have: Proper indexes on frequently queried columns": (
        "query frequency is a runtime property; BA204 approximates it with columns used in "
        "`.where()`/`.filter()` anywhere under app/ (`filter_by(col=...)` is not seen)"
    ),
}


def _matching_length(code: str, selectors: Sequence[str]) -> int:
    """Length of the most specific selector matching `code` (0 if none), ruff-style."""
    best = 0
    for selector in selectors:
        if selector == "ALL":
            best = max(best, 1)
        elif code.startswith(selector):
            best = max(best, len(selector) + 1)
    return best


def validate_selectors(selectors: Sequence[str]) -> None:
    """Reject selectors that match no rule, so a typo in config does not silently pass."""
    for selector in selectors:
        if selector == "ALL":
            continue
        if not any(code.startswith(selector) for code in RULES):
            raise ValueError(
                f"unknown rule selector: {selector!r} (codes are {min(RULES)}-{max(RULES)} or "
                "a prefix such as BA1; list them with `python -m agent.checker --rules`)"
            )


def enabled_codes(select: Sequence[str] | None, ignore: Sequence[str]) -> frozenset[str]:
    """The more specific selector wins; on a tie `ignore` wins (as in ruff)."""
    chosen = ["ALL"] if select is None else list(select)
    validate_selectors(chosen)
    validate_selectors(ignore)
    enabled = set()
    for code in RULES:
        picked = _matching_length(code, chosen)
        dropped = _matching_length(code, ignore)
        if picked and picked > dropped:
            enabled.add(code)
    return frozenset(enabled)


def format_rules() -> str:
    """A plain-text table of all rules, for `--rules`-style help and the README."""
    lines = []
    for code, rule in RULES.items():
        kind = "heuristic" if rule.heuristic else "exact"
        lines.append(f"{code}  [{kind:9}]  {rule.summary}\n        spec: {rule.spec}")
    lines.append("\nNot (fully) statically checkable:")
    lines.extend(f"  - {line}: {why}" for line, why in UNCHECKED.items())
    return "\n".join(lines)
