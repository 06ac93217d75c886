import asyncio
import hashlib
from uuid import UUID

import anyio
from fastapi import APIRouter, Depends, HTTPException, Response, status
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from app import db
from app.repositories import orders

router = APIRouter(prefix="/orders")


class Order(BaseModel):
    id: UUID
    customer: str
    status: str


class ApiKey(BaseModel):
    key: str


async def connection():
    async with db.pool.acquire() as conn:
        yield conn


@router.get("", response_model=list[Order])
async def list_orders(status: str | None = None, conn=Depends(connection)) -> list[Order]:  # expect: BA102
    rows = await orders.list_orders(conn, status)
    return [Order(**row) for row in rows]


@router.delete("/{order_id}", status_code=status.HTTP_204_NO_CONTENT)
async def cancel_order(order_id: UUID, conn=Depends(connection)):  # expect: BA102
    await conn.execute("UPDATE orders SET status = 'cancelled' WHERE id = $1", order_id)


@router.post("/{order_id}/ship")
async def ship(order_id: UUID) -> Response:
    await orders.notify_shipping(order_id)
    return Response(status_code=status.HTTP_202_ACCEPTED)


@router.post("/keys", response_model=ApiKey)
async def new_key(secret: str) -> ApiKey:
    salt = b"orders"
    derived = await run_in_threadpool(hashlib.pbkdf2_hmac, "sha256", secret.encode(), salt, 100_000)
    again = await asyncio.to_thread(hashlib.pbkdf2_hmac, "sha256", secret.encode(), salt, 100_000)
    third = await anyio.to_thread.run_sync(lambda: hashlib.pbkdf2_hmac("sha256", b"x", salt, 1))

    def digest() -> bytes:
        return hashlib.scrypt(secret.encode(), salt=salt, n=2, r=8, p=1)

    if derived != again or not third:
        raise HTTPException(status_code=500, detail="key derivation differs")
    weak = hashlib.pbkdf2_hmac("sha256", secret.encode(), salt, 1)  # expect: BA306
    return ApiKey(key=(derived + weak + digest()).hex())
