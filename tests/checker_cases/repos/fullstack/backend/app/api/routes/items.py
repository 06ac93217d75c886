import uuid
from typing import Any

from fastapi import APIRouter, HTTPException
from sqlmodel import func, select

from app import crud
from app.api.deps import CurrentUser, SessionDep
from app.models import Item, ItemCreate, ItemPublic, ItemsPublic, Message

router = APIRouter(prefix="/items", tags=["items"])


@router.get("/", response_model=ItemsPublic)
def read_items(session: SessionDep, current_user: CurrentUser, skip: int = 0, limit: int = 100) -> Any:
    count = session.exec(select(func.count()).select_from(Item)).one()  # expect: BA110
    items = session.exec(select(Item).offset(skip).limit(limit)).all()  # expect: BA110
    return ItemsPublic(data=items, count=count)


@router.get("/{id}", response_model=ItemPublic)
def read_item(session: SessionDep, current_user: CurrentUser, id: uuid.UUID) -> Any:
    item = session.get(Item, id)  # expect: BA110
    if not item:
        raise HTTPException(status_code=404, detail="Item not found")
    return item


@router.post("/", response_model=ItemPublic)
def create_item(*, session: SessionDep, current_user: CurrentUser, item_in: ItemCreate) -> Any:
    return crud.create_item(session=session, item_in=item_in, owner_id=current_user.id)


@router.delete("/{id}")
def delete_item(session: SessionDep, current_user: CurrentUser, id: uuid.UUID) -> Message:
    item = session.get(Item, id)  # expect: BA110
    if not item:
        raise HTTPException(status_code=404, detail="Item not found")
    session.delete(item)  # expect: BA110
    session.commit()  # expect: BA110
    return Message(message="Item deleted successfully")
