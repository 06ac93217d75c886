from app.schemas.base import CustomBaseModel


class CreateBookRequest(CustomBaseModel):
    title: str
    author: str


class UpdateBookRequest(CustomBaseModel):
    title: str | None = None
    author: str | None = None
