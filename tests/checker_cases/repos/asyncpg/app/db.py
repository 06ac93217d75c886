import asyncpg

from app.config import DATABASE_DSN

pool: asyncpg.Pool | None = None


async def connect() -> asyncpg.Pool:
    global pool
    pool = await asyncpg.create_pool(DATABASE_DSN)
    return pool
