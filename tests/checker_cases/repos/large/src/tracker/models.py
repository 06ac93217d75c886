from datetime import datetime

from pydantic import BaseModel
from sqlalchemy import Column, DateTime, ForeignKey, Integer
from sqlalchemy.orm import declared_attr


class TimeStampMixin:
    created_at = Column(DateTime, default=datetime.utcnow)
    updated_at = Column(DateTime, default=datetime.utcnow)


class ProjectMixin:
    @declared_attr
    def project_id(cls):
        return Column(Integer, ForeignKey("project.id", ondelete="CASCADE"))  # expect: BA203


class TrackerBase(BaseModel):
    model_config = {"from_attributes": True}
