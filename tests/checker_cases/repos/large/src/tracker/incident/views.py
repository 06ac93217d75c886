from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, status
from sqlalchemy.orm import Session

from tracker.database.core import get_db

from .models import IncidentCreate, IncidentRead, IncidentUpdate
from .service import create, delete, get, update

router = APIRouter()
DbSession = Annotated[Session, Depends(get_db)]


@router.get("/{incident_id}", response_model=IncidentRead)
def get_incident(db_session: DbSession, incident_id: int):
    incident = get(db_session=db_session, incident_id=incident_id)
    if not incident:
        raise HTTPException(status_code=status.HTTP_404_NOT_FOUND, detail="Incident not found")
    return incident


@router.post("", response_model=IncidentRead)
def create_incident(db_session: DbSession, incident_in: IncidentCreate):
    return create(db_session=db_session, incident_in=incident_in)


@router.put("/{incident_id}", response_model=IncidentRead)
def update_incident(db_session: DbSession, incident_id: int, incident_in: IncidentUpdate):
    incident = get(db_session=db_session, incident_id=incident_id)
    if not incident:
        raise HTTPException(status_code=status.HTTP_404_NOT_FOUND, detail="Incident not found")
    return update(db_session=db_session, incident=incident, incident_in=incident_in)


@router.delete("/{incident_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_incident(db_session: DbSession, incident_id: int) -> None:
    delete(db_session=db_session, incident_id=incident_id)


@router.get("/stats/open")
def open_count(db_session: DbSession):  # expect: BA101
    return {"open": len(get_all_by_status_open(db_session))}


def get_all_by_status_open(db_session: Session) -> list:
    from .service import get_all_by_status

    return get_all_by_status(db_session=db_session, status="open")
