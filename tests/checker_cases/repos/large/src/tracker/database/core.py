import re

from sqlalchemy import create_engine
from sqlalchemy.orm import declarative_base, declared_attr, sessionmaker

engine = create_engine("postgresql://tracker@localhost/tracker")
SessionLocal = sessionmaker(bind=engine)


def resolve_table_name(name: str) -> str:
    return "_".join(part.lower() for part in re.findall("[A-Z][^A-Z]*", name))


class CustomBase:
    @declared_attr
    def __tablename__(self) -> str:
        return resolve_table_name(self.__name__)


Base = declarative_base(cls=CustomBase)


def get_db():
    session = SessionLocal()
    try:
        yield session
    finally:
        session.close()
