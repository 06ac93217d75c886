import uuid

from sqlmodel import Session, select

from app.core.security import get_password_hash, verify_password
from app.models import Item, ItemCreate, User, UserCreate


def create_user(*, session: Session, user_create: UserCreate) -> User:  # expect: BA301
    db_obj = User.model_validate(
        user_create, update={"hashed_password": get_password_hash(user_create.password)}
    )
    session.add(db_obj)
    session.commit()
    session.refresh(db_obj)
    return db_obj


def get_user_by_email(*, session: Session, email: str) -> User | None:  # expect: BA301
    return session.exec(select(User).where(User.email == email)).first()


def authenticate(*, session: Session, email: str, password: str) -> User | None:  # expect: BA301
    user = get_user_by_email(session=session, email=email)
    if user is None or not verify_password(password, user.hashed_password):
        return None
    return user


def create_item(*, session: Session, item_in: ItemCreate, owner_id: uuid.UUID) -> Item:  # expect: BA301
    db_item = Item.model_validate(item_in, update={"owner_id": owner_id})
    session.add(db_item)
    session.commit()
    session.refresh(db_item)
    return db_item
