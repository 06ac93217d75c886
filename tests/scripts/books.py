"""What a model would write to add a books resource to a fresh `backend-agent new` project, as
tool calls turn by turn, for end-to-end tests of the runner against a fake model server.

Paths are relative to the repo root. `tests/test_scaffold.py` applies these calls to a real
scaffold and runs its tests, ruff, the quality checker and Alembic on the result, so a change to
the template that breaks them fails there first."""

from __future__ import annotations

from typing import Any

ToolCall = dict[str, Any]
EDIT_TOOL = "str_replace_based_edit_tool"

INITIAL_REVISION = "c3a1f0e2b4d5"  # the scaffold's `create user table`
BOOK_REVISION = "d4b2e1f3a5c6"
ENDPOINTS_PATH = "app/api/endpoints/books.py"
MIGRATION_PATH = f"alembic/versions/{BOOK_REVISION}_create_book_table.py"


def create(path: str, file_text: str) -> ToolCall:
    return {"name": EDIT_TOOL, "input": {"command": "create", "path": path, "file_text": file_text}}


def str_replace(path: str, old_str: str, new_str: str) -> ToolCall:
    return {
        "name": EDIT_TOOL,
        "input": {"command": "str_replace", "path": path, "old_str": old_str, "new_str": new_str},
    }


def insert(path: str, insert_line: int, insert_text: str) -> ToolCall:
    """Lines of `insert_text` go after line `insert_line`; as in Anthropic's reference editor, a
    trailing newline in `insert_text` would add an empty line."""
    return {
        "name": EDIT_TOOL,
        "input": {
            "command": "insert",
            "path": path,
            "insert_line": insert_line,
            "insert_text": insert_text,
        },
    }


def bash(command: str) -> ToolCall:
    return {"name": "bash", "input": {"command": command}}


def books_turns() -> list[list[ToolCall]]:
    """The whole change in five turns: look, write the core, wire it up, test it, lint it."""
    return _turns(ENDPOINTS)


def books_rule_breaking_turns() -> list[list[ToolCall]]:
    """The same change, but `get_book` has neither `response_model=` nor a return annotation:
    tests and ruff pass, the quality checker (BA101) does not."""
    return _turns(ENDPOINTS.replace(GET_BOOK_FIXED, GET_BOOK_BROKEN))


def books_fix_turn() -> list[ToolCall]:
    """The model's answer to the checker's BA101 report after `books_rule_breaking_turns()`."""
    return [str_replace(ENDPOINTS_PATH, GET_BOOK_BROKEN, GET_BOOK_FIXED)]


def books_planted_500_turns() -> list[list[ToolCall]]:
    """The same change, but `list_books` takes `page` as text and calls `int()` on it unchecked,
    and its tests never send a bad page: tests, ruff, the checker and Alembic pass; the gate's
    fuzz check finds the 500 (`GET /books?page=a`, logged in)."""
    endpoints = ENDPOINTS
    for checked, unchecked in PLANTED_500:
        endpoints = endpoints.replace(checked, unchecked)
    return _turns(endpoints, TESTS.replace(BAD_PAGE_TEST, ""))


def books_planted_500_fix_turn() -> list[ToolCall]:
    """The model's answer to the fuzz finding: `page` validated as a bounded integer again."""
    return [str_replace(ENDPOINTS_PATH, unchecked, checked) for checked, unchecked in PLANTED_500]


def _turns(endpoints: str, tests: str | None = None) -> list[list[ToolCall]]:
    return [
        [bash("cat app/api/api.py app/models/__init__.py && ls alembic/versions")],
        [
            create("app/models/book.py", MODEL),
            create("app/schemas/book/__init__.py", ""),
            create("app/schemas/book/request.py", REQUEST_SCHEMAS),
            create("app/schemas/book/response.py", RESPONSE_SCHEMAS),
            create("app/services/book.py", SERVICE),
        ],
        [
            create(ENDPOINTS_PATH, endpoints),
            str_replace(
                "app/api/api.py",
                "from app.api.endpoints import auth\n",
                "from app.api.endpoints import auth, books\n",
            ),
            str_replace(
                "app/api/api.py",
                'prefix="/auth")\n',
                'prefix="/auth")\napi_router.include_router(books.router, tags=["Book"], '
                'prefix="/books")\n',
            ),
            # After line 3, `from app.models.base import Base`: Alembic's metadata needs the model.
            insert("app/models/__init__.py", 3, "from app.models.book import Book"),
            str_replace(
                "app/models/__init__.py",
                '__all__ = ["Base", "User"]',
                '__all__ = ["Base", "Book", "User"]',
            ),
            create(MIGRATION_PATH, MIGRATION),
        ],
        [create("tests/test_books.py", TESTS if tests is None else tests)],
        [bash("ruff check . && ruff format --check .")],
    ]


GET_BOOK_FIXED = """\
@router.get("/{book_id}", response_model=BookResponse, responses=error_responses(404))
async def get_book(session: CurrentSession, user: CurrentUser, book_id: UUID) -> BookResponse:
"""
GET_BOOK_BROKEN = """\
@router.get("/{book_id}", responses=error_responses(404))
async def get_book(session: CurrentSession, user: CurrentUser, book_id: UUID):
"""

# (checked, unchecked) pairs of lines of ENDPOINTS
PLANTED_500 = [
    ("import PageNumber, PageSize\n", "import PageSize\n"),
    ("    page: PageNumber = 1,\n", '    page: Annotated[str, Query(max_length=6)] = "1",\n'),
    ("(session, page=page, size=size,", "(session, page=int(page), size=size,"),
]
BAD_PAGE_TEST = """\
    assert (await logged_in_client.get("/books", params={"page": 0})).status_code == 422
"""

MODEL = """\
from datetime import datetime
from uuid import UUID, uuid4

from sqlalchemy import DateTime, ForeignKey, Index, String, func
from sqlalchemy.dialects.postgresql import UUID as PG_UUID
from sqlalchemy.orm import Mapped, mapped_column

from app.crud.base import CRUD
from app.models.base import Base


class Book(Base, CRUD):
    __tablename__ = "book"
    # The list order (newest first), so that a page needs no sort of the whole table.
    __table_args__ = (Index("ix_book_created_at_book_id", "created_at", "book_id"),)

    book_id: Mapped[UUID] = mapped_column(PG_UUID(as_uuid=True), primary_key=True, default=uuid4)
    title: Mapped[str] = mapped_column(String(255), nullable=False)
    author: Mapped[str] = mapped_column(String(255), nullable=False, index=True)
    owner_id: Mapped[UUID] = mapped_column(
        PG_UUID(as_uuid=True),
        ForeignKey("user.user_id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    )
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
"""

REQUEST_SCHEMAS = """\
from app.schemas.base import CustomBaseModel, Text


class CreateBookRequest(CustomBaseModel):
    title: Text
    author: Text


class UpdateBookRequest(CustomBaseModel):
    title: Text | None = None
    author: Text | None = None
"""

RESPONSE_SCHEMAS = """\
from datetime import datetime
from uuid import UUID

from app.schemas.base import CustomBaseModel


class BookResponse(CustomBaseModel):
    book_id: UUID
    title: str
    author: str
    owner_id: UUID
    created_at: datetime
"""

SERVICE = """\
from typing import Any
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from app.models.book import Book
from app.schemas.book.request import CreateBookRequest, UpdateBookRequest
from app.utils.exceptions import AppError
from app.utils.pagination import paginate


class BookService:
    @staticmethod
    async def create(session: AsyncSession, owner_id: UUID, data: CreateBookRequest) -> Book:
        book = Book(**data.model_dump(), owner_id=owner_id)
        session.add(book)
        try:
            await session.commit()
        except SQLAlchemyError:
            await session.rollback()
            raise AppError.DATABASE_ERROR from None
        await session.refresh(book)
        return book

    @staticmethod
    async def get_all_paginated(
        session: AsyncSession, page: int = 1, size: int = 50, author: str | None = None
    ) -> dict[str, Any]:
        statement = select(Book).order_by(Book.created_at.desc(), Book.book_id.desc())
        if author is not None:
            statement = statement.where(Book.author == author)
        try:
            return await paginate(session, statement, page=page, size=size)
        except SQLAlchemyError:
            raise AppError.DATABASE_ERROR from None

    @staticmethod
    async def get(session: AsyncSession, book_id: UUID) -> Book:
        try:
            book = await Book.get(session, book_id)
        except SQLAlchemyError:
            raise AppError.DATABASE_ERROR from None
        if book is None:
            raise AppError.RESOURCES_NOT_FOUND_ERROR
        return book

    @staticmethod
    async def update(
        session: AsyncSession, book_id: UUID, user_id: UUID, data: UpdateBookRequest
    ) -> Book:
        book = await BookService.get(session, book_id)
        if book.owner_id != user_id:
            raise AppError.FORBIDDEN_ERROR
        for field, value in data.model_dump(exclude_unset=True, exclude_none=True).items():
            setattr(book, field, value)
        try:
            await session.commit()
        except SQLAlchemyError:
            await session.rollback()
            raise AppError.DATABASE_ERROR from None
        await session.refresh(book)
        return book

    @staticmethod
    async def delete(session: AsyncSession, book_id: UUID, user_id: UUID) -> None:
        book = await BookService.get(session, book_id)
        if book.owner_id != user_id:
            raise AppError.FORBIDDEN_ERROR
        await session.delete(book)
        try:
            await session.commit()
        except SQLAlchemyError:
            await session.rollback()
            raise AppError.DATABASE_ERROR from None
"""

ENDPOINTS = """\
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, status

from app.api.deps import CurrentSession, CurrentUser
from app.schemas.base import TEXT_PATTERN, PaginatedResponse
from app.schemas.book.request import CreateBookRequest, UpdateBookRequest
from app.schemas.book.response import BookResponse
from app.services.book import BookService
from app.utils.exceptions import error_responses
from app.utils.pagination import PageNumber, PageSize

router = APIRouter(responses=error_responses(401))


@router.post("", response_model=BookResponse, status_code=status.HTTP_201_CREATED)
async def create_book(
    session: CurrentSession,
    user: CurrentUser,
    book: CreateBookRequest,
) -> BookResponse:
    new_book = await BookService.create(session, owner_id=user.user_id, data=book)
    return BookResponse.model_validate(new_book)


@router.get("", response_model=PaginatedResponse[BookResponse])
async def list_books(
    session: CurrentSession,
    user: CurrentUser,
    page: PageNumber = 1,
    size: PageSize = 50,
    author: Annotated[str | None, Query(max_length=255, pattern=TEXT_PATTERN)] = None,
) -> PaginatedResponse[BookResponse]:
    books = await BookService.get_all_paginated(session, page=page, size=size, author=author)
    return PaginatedResponse[BookResponse].model_validate(books)


@router.get("/{book_id}", response_model=BookResponse, responses=error_responses(404))
async def get_book(session: CurrentSession, user: CurrentUser, book_id: UUID) -> BookResponse:
    book = await BookService.get(session, book_id=book_id)
    return BookResponse.model_validate(book)


@router.patch("/{book_id}", response_model=BookResponse, responses=error_responses(403, 404))
async def update_book(
    session: CurrentSession,
    user: CurrentUser,
    book_id: UUID,
    changes: UpdateBookRequest,
) -> BookResponse:
    book = await BookService.update(session, book_id=book_id, user_id=user.user_id, data=changes)
    return BookResponse.model_validate(book)


@router.delete(
    "/{book_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_model=None,
    responses=error_responses(403, 404),
)
async def delete_book(session: CurrentSession, user: CurrentUser, book_id: UUID) -> None:
    await BookService.delete(session, book_id=book_id, user_id=user.user_id)
"""

MIGRATION = '''\
"""create book table

Revision ID: d4b2e1f3a5c6
Revises: c3a1f0e2b4d5
Create Date: 2025-01-02 00:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "d4b2e1f3a5c6"
down_revision: str | None = "c3a1f0e2b4d5"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "book",
        sa.Column("book_id", sa.UUID(), nullable=False),
        sa.Column("title", sa.String(length=255), nullable=False),
        sa.Column("author", sa.String(length=255), nullable=False),
        sa.Column("owner_id", sa.UUID(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["user.user_id"], name=op.f("fk_book_owner_id_user"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("book_id", name=op.f("pk_book")),
    )
    op.create_index(op.f("ix_book_author"), "book", ["author"], unique=False)
    op.create_index("ix_book_created_at_book_id", "book", ["created_at", "book_id"], unique=False)
    op.create_index(op.f("ix_book_owner_id"), "book", ["owner_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_book_owner_id"), table_name="book")
    op.drop_index("ix_book_created_at_book_id", table_name="book")
    op.drop_index(op.f("ix_book_author"), table_name="book")
    op.drop_table("book")
'''

TESTS = """\
from uuid import uuid4

from httpx import AsyncClient

from tests.conftest import PASSWORD

DUNE = {"title": "Dune", "author": "Frank Herbert"}


async def test_create_book(logged_in_client: AsyncClient) -> None:
    response = await logged_in_client.post("/books", json=DUNE)

    assert response.status_code == 201
    body = response.json()
    assert {body["title"], body["author"]} == {"Dune", "Frank Herbert"}
    assert set(body) == {"book_id", "title", "author", "owner_id", "created_at"}


async def test_books_require_login(client: AsyncClient) -> None:
    assert (await client.post("/books", json=DUNE)).status_code == 401
    assert (await client.get("/books")).status_code == 401


async def test_create_book_validates_input(logged_in_client: AsyncClient) -> None:
    missing_author = await logged_in_client.post("/books", json={"title": "Dune"})
    blank_title = await logged_in_client.post("/books", json={**DUNE, "title": "  "})

    assert missing_author.status_code == 422
    assert blank_title.status_code == 422


async def test_list_books_is_paginated_and_filters_by_author(
    logged_in_client: AsyncClient,
) -> None:
    for title in ("Dune", "Dune Messiah", "Children of Dune"):
        await logged_in_client.post("/books", json={**DUNE, "title": title})
    await logged_in_client.post("/books", json={"title": "Emma", "author": "Jane Austen"})

    first = await logged_in_client.get("/books", params={"page": 1, "size": 3})
    herbert = await logged_in_client.get("/books", params={"author": "Frank Herbert"})

    assert first.status_code == 200
    page = first.json()
    assert len(page["items"]) == 3
    assert (page["page"], page["pages"], page["size"], page["total"]) == (1, 2, 3, 4)
    assert herbert.json()["total"] == 3
    assert {book["author"] for book in herbert.json()["items"]} == {"Frank Herbert"}


async def test_list_books_rejects_bad_page_parameters(logged_in_client: AsyncClient) -> None:
    assert (await logged_in_client.get("/books", params={"page": 0})).status_code == 422
    assert (await logged_in_client.get("/books", params={"size": 101})).status_code == 422


async def test_get_book_and_unknown_book(logged_in_client: AsyncClient) -> None:
    created = (await logged_in_client.post("/books", json=DUNE)).json()

    found = await logged_in_client.get(f"/books/{created['book_id']}")
    missing = await logged_in_client.get(f"/books/{uuid4()}")

    assert found.status_code == 200
    assert found.json() == created
    assert missing.status_code == 404


async def test_update_book(logged_in_client: AsyncClient) -> None:
    created = (await logged_in_client.post("/books", json=DUNE)).json()

    response = await logged_in_client.patch(
        f"/books/{created['book_id']}", json={"title": "Dune Messiah"}
    )

    assert response.status_code == 200
    assert response.json()["title"] == "Dune Messiah"
    assert response.json()["author"] == "Frank Herbert"


async def test_delete_book(logged_in_client: AsyncClient) -> None:
    created = (await logged_in_client.post("/books", json=DUNE)).json()

    deleted = await logged_in_client.delete(f"/books/{created['book_id']}")

    assert deleted.status_code == 204
    assert deleted.content == b""
    assert (await logged_in_client.get(f"/books/{created['book_id']}")).status_code == 404


async def test_only_the_owner_may_change_a_book(logged_in_client: AsyncClient) -> None:
    created = (await logged_in_client.post("/books", json=DUNE)).json()
    other = {"email": "other@example.com", "password": PASSWORD}
    await logged_in_client.post("/auth/logout")
    await logged_in_client.post("/auth/register", json=other)
    await logged_in_client.post("/auth/login", json=other)

    update = await logged_in_client.patch(f"/books/{created['book_id']}", json={"title": "Mine"})
    delete = await logged_in_client.delete(f"/books/{created['book_id']}")

    assert update.status_code == 403
    assert delete.status_code == 403
"""
