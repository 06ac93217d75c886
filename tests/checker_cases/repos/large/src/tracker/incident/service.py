from sqlalchemy.orm import Session

from .models import Incident, IncidentCreate, IncidentUpdate


def get(*, db_session: Session, incident_id: int) -> Incident | None:  # expect: BA301
    return db_session.query(Incident).filter(Incident.id == incident_id).one_or_none()


def get_all_by_status(*, db_session: Session, status: str) -> list[Incident]:  # expect: BA301
    return db_session.query(Incident).filter(Incident.status == status).all()


def create(*, db_session: Session, incident_in: IncidentCreate) -> Incident:  # expect: BA301
    incident = Incident(**incident_in.model_dump())
    db_session.add(incident)
    db_session.commit()
    return incident


def update(*, db_session: Session, incident: Incident, incident_in: IncidentUpdate) -> Incident:  # expect: BA301
    for field, value in incident_in.model_dump(exclude_unset=True).items():
        setattr(incident, field, value)
    db_session.commit()
    return incident


def delete(*, db_session: Session, incident_id: int) -> None:  # expect: BA301
    db_session.query(Incident).filter(Incident.id == incident_id).delete()
    db_session.commit()
