from datetime import datetime
from uuid import UUID

from app.enum.role import Role
from app.schemas.base import CustomBaseModel


class UserResponse(CustomBaseModel):
    user_id: UUID
    email: str
    role: Role
    created_at: datetime


class UserMetadata(CustomBaseModel):
    user_id: UUID
    email: str
    role: Role
