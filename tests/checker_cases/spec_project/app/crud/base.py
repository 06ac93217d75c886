from typing import Self
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession


class CRUD:
    @classmethod
    async def get_by_id(cls, session: AsyncSession, pk: UUID) -> Self | None:
        return await session.get(cls, pk)

    @classmethod
    async def get_all(cls, session: AsyncSession) -> list[Self]:
        result = await session.execute(select(cls))
        return list(result.scalars().all())
