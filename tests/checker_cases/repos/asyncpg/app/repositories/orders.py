import time
from uuid import UUID

import asyncpg
import requests

from app.config import SCHEMA

TABLE = "orders"


async def set_schema(conn: asyncpg.Connection, schema: str) -> None:
    await conn.execute(f'SET search_path TO "{schema}"')


async def list_orders(conn: asyncpg.Connection, status: str | None) -> list[asyncpg.Record]:
    query = f"SELECT id, customer, status FROM {SCHEMA}.{TABLE}"
    if status is None:
        return await conn.fetch(query)
    return await conn.fetch(query + " WHERE status = $1", status)


async def find_by_customer(conn: asyncpg.Connection, customer: str) -> list[asyncpg.Record]:
    return await conn.fetch(f"SELECT * FROM orders WHERE customer = '{customer}'")  # expect: BA401


async def search(conn: asyncpg.Connection, term: str, limit: int) -> list[asyncpg.Record]:
    sql = "SELECT * FROM orders WHERE note ILIKE $1"
    sql += f" LIMIT {limit}"
    return await conn.fetch(sql, f"%{term}%")  # expect: BA401


async def get(conn: asyncpg.Connection, order_id: UUID) -> asyncpg.Record | None:
    for attempt in range(3):
        try:
            return await conn.fetchrow("SELECT * FROM orders WHERE id = $1", order_id)
        except asyncpg.PostgresConnectionError:
            time.sleep(0.1 * attempt)  # expect: BA306
    return None


async def notify_shipping(order_id: UUID) -> None:
    requests.post("https://shipping.internal/orders", json={"id": str(order_id)}, timeout=5)  # expect: BA306


def parse_order_id(raw: str) -> UUID | None:
    order_id = None
    try:
        order_id = UUID(raw)
    except ValueError:
        pass
    return order_id


async def audit(conn: asyncpg.Connection, order_id: UUID) -> None:
    try:
        await conn.execute("INSERT INTO audit (order_id) VALUES ($1)", order_id)
    except asyncpg.PostgresError:  # expect: BA106
        pass
