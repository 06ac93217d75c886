from sqlmodel import Session, create_engine, select

from app import crud
from app.models import User, UserCreate

engine = create_engine("postgresql+psycopg://app@localhost/app")


def init_db(session: Session) -> None:
    user = session.exec(select(User).where(User.email == "admin@example.com")).first()
    if not user:
        crud.create_user(session=session, user_create=UserCreate(email="admin@example.com", password="change-me-now"))
