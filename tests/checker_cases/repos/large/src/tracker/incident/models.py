from sqlalchemy import Column, Integer, String

from tracker.database.core import Base
from tracker.models import ProjectMixin, TimeStampMixin, TrackerBase


class Incident(Base, TimeStampMixin, ProjectMixin):  # expect: BA202
    id = Column(Integer, primary_key=True)  # expect: BA201
    title = Column(String, nullable=False)
    status = Column(String, default="open")  # expect: BA204


class IncidentCreate(TrackerBase):
    title: str


class IncidentUpdate(TrackerBase):
    title: str | None = None
    status: str | None = None


class IncidentRead(TrackerBase):
    id: int
    title: str
    status: str
