from uuid import UUID

from fastapi import APIRouter, Query, status

from app.api.deps import CurrentSession, CurrentUser
from app.schemas.book.request import CreateBookRequest, UpdateBookRequest
from app.schemas.book.response import BookResponse, PaginatedBookResponse
from app.services.book import BookService

router = APIRouter()


@router.post("", response_model=BookResponse)
async def create_book(
    session: CurrentSession,
    user: CurrentUser,
    book: CreateBookRequest,
) -> BookResponse:
    new_book = await BookService.create(session, data=book)
    return BookResponse.model_validate(new_book)


@router.get("", response_model=PaginatedBookResponse)
async def list_books(
    session: CurrentSession,
    page: int = Query(1, ge=1),
    size: int = Query(50, ge=1, le=100),
) -> PaginatedBookResponse:
    result = await BookService.get_all_paginated(session, page=page, size=size)
    return PaginatedBookResponse.model_validate(result)


@router.get("/{book_id}", response_model=BookResponse)
async def get_book(session: CurrentSession, book_id: UUID) -> BookResponse:
    book = await BookService.get(session, book_id)
    return BookResponse.model_validate(book)


@router.get("/by-owner/{owner_id}", response_model=list[BookResponse])
async def books_by_owner(session: CurrentSession, owner_id: UUID) -> list[BookResponse]:
    books = await BookService.get_by_author(session, owner_id)
    return [BookResponse.model_validate(book) for book in books]


@router.patch("/{book_id}", response_model=BookResponse)
async def update_book(
    session: CurrentSession, user: CurrentUser, book_id: UUID, data: UpdateBookRequest
) -> BookResponse:
    book = await BookService.update(session, book_id, data)
    return BookResponse.model_validate(book)


@router.delete("/{book_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_book(session: CurrentSession, user: CurrentUser, book_id: UUID) -> None:
    await BookService.delete(session, book_id)
