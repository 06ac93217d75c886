from uuid import uuid4

import bcrypt
from sqlalchemy import Column, DateTime, LargeBinary, String, func
from sqlalchemy.dialects.postgresql import UUID as PG_UUID

from tracker.database.core import Base


class TrackerUser(Base):
    id = Column(PG_UUID(as_uuid=True), primary_key=True, default=uuid4)
    email = Column(String, unique=True)
    password = Column(LargeBinary, nullable=False)
    created_at = Column(DateTime(timezone=True), server_default=func.now())

    def verify_password(self, password: str) -> bool:
        return bcrypt.checkpw(password.encode(), self.password)

    def set_password(self, password: str) -> None:
        self.password = bcrypt.hashpw(password.encode(), bcrypt.gensalt())

    def __repr__(self) -> str:
        return f"TrackerUser({self.email})"
