from datetime import datetime
from uuid import UUID

from app.schemas.base import CustomBaseModel


class BookResponse(CustomBaseModel):
    book_id: UUID
    title: str
    author: str
    created_at: datetime


class PaginatedBookResponse(CustomBaseModel):
    items: list[BookResponse]
    page: int
    pages: int
    size: int
    total: int
