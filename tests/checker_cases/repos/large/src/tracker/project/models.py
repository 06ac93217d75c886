from uuid import UUID, uuid4

from sqlalchemy import Column, DateTime, String, func
from sqlalchemy.dialects.postgresql import UUID as PG_UUID

from tracker.database.core import Base


class Project(Base):
    id = Column(PG_UUID(as_uuid=True), primary_key=True, default=uuid4)
    name = Column(String, unique=True)
    created_at = Column(DateTime(timezone=True), server_default=func.now())
