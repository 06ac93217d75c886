from typing import Any
from uuid import UUID

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.models.book import Book
from app.schemas.book.request import CreateBookRequest, UpdateBookRequest
from app.utils.exceptions import AppError


class BookService:
    @staticmethod
    async def create(session: AsyncSession, data: CreateBookRequest) -> Book:
        book = Book(**data.model_dump())
        session.add(book)
        await session.commit()
        await session.refresh(book)
        return book

    @staticmethod
    async def get(session: AsyncSession, book_id: UUID) -> Book:
        book = await session.get(Book, book_id)
        if book is None:
            raise AppError.RESOURCES_NOT_FOUND_ERROR
        return book

    @staticmethod
    async def get_by_author(session: AsyncSession, owner_id: UUID) -> list[Book]:
        result = await session.execute(select(Book).where(Book.owner_id == owner_id))
        return list(result.scalars().all())

    @staticmethod
    async def update(session: AsyncSession, book_id: UUID, data: UpdateBookRequest) -> Book:
        book = await BookService.get(session, book_id)
        for field, value in data.model_dump(exclude_unset=True).items():
            setattr(book, field, value)
        try:
            await session.commit()
        except IntegrityError as exc:
            await session.rollback()
            raise AppError.bad_request("book could not be updated") from exc
        await session.refresh(book)
        return book

    @staticmethod
    async def delete(session: AsyncSession, book_id: UUID) -> None:
        book = await BookService.get(session, book_id)
        await session.delete(book)
        await session.commit()

    @staticmethod
    async def get_all_paginated(
        session: AsyncSession, page: int = 1, size: int = 50
    ) -> dict[str, Any]:
        skip = (page - 1) * size
        total = await session.scalar(select(func.count()).select_from(Book))
        result = await session.execute(select(Book).offset(skip).limit(size))
        pages = (total + size - 1) // size if total else 0
        return {
            "items": result.scalars().all(),
            "page": page,
            "pages": pages,
            "size": size,
            "total": total,
        }
