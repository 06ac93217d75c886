from app.db.repositories.base import BaseRepository

TABLE = "articles"


class ArticlesRepository(BaseRepository):
    async def delete_article(self, *, slug: str) -> None:
        async with self.connection.transaction():
            await self.connection.execute(f"DELETE FROM {TABLE} WHERE slug = $1", slug)

    async def add_favorite(self, *, slug: str) -> None:
        await self.connection.execute("INSERT INTO favorites (slug) VALUES ($1)", slug)

    async def count(self, schema: str) -> int:
        return await self.connection.fetchval(f'SELECT count(*) FROM "{schema}".articles')
