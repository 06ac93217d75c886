import logging

from sqlalchemy import text
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)


class SessionTracker:
    """Counts open sessions for the metrics endpoint; never queries anything."""

    active: dict[int, Session] = {}

    @classmethod
    def track(cls, session: Session) -> None:
        cls.active[id(session)] = session

    def __len__(self) -> int:
        return len(self.active)


class Highlighter:
    def __init__(self, tag: str = "mark") -> None:
        self.tag = tag

    def wrap(self, word: str) -> str:
        return f"<{self.tag}>{word}</{self.tag}>"


class SearchService:
    @staticmethod
    def search(db_session: Session, schema: str, table: str, term: str) -> list:
        db_session.execute(text(f'SET search_path TO "{schema}"'))
        sql = text(f"SELECT id FROM {schema}.{table} WHERE search_vector @@ plainto_tsquery(:term)")
        return list(db_session.execute(sql, {"term": term}).scalars())
