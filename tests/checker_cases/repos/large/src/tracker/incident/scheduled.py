from sqlalchemy.orm import Session

from tracker.scheduler import scheduler

from .models import Incident


@scheduler.add(every_minutes=5, name="incident-close-stale")
def close_stale_incidents(db_session: Session) -> None:
    for incident in db_session.query(Incident).filter(Incident.status == "stale"):
        incident.status = "closed"
    db_session.commit()
