from httpx import AsyncClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession


def ident(body: dict, name: str) -> str:
    """The id of a created resource, whether it is called `<name>_id` or `id`."""
    return str(body.get(f"{name}_id") or body["id"])


async def test_a_deleted_book_is_kept_with_deleted_at(
    logged_in_client: AsyncClient, session: AsyncSession
) -> None:
    book = (await logged_in_client.post("/books", json={"title": "Dune", "author": "F"})).json()
    book_id = ident(book, "book")
    assert (await logged_in_client.delete(f"/books/{book_id}")).status_code == 204
    row = await session.execute(
        text("SELECT deleted_at FROM book WHERE book_id = :id"), {"id": book_id}
    )
    deleted_at = row.scalar_one()
    assert deleted_at is not None


async def test_a_deleted_book_is_gone_for_the_api(logged_in_client: AsyncClient) -> None:
    keep = (await logged_in_client.post("/books", json={"title": "Emma", "author": "A"})).json()
    gone = (await logged_in_client.post("/books", json={"title": "Dune", "author": "F"})).json()
    url = f"/books/{ident(gone, 'book')}"
    assert (await logged_in_client.delete(url)).status_code == 204
    listing = (await logged_in_client.get("/books")).json()
    assert [ident(b, "book") for b in listing["items"]] == [ident(keep, "book")]
    assert listing["total"] == 1
    assert (await logged_in_client.get(url)).status_code == 404
    assert (await logged_in_client.patch(url, json={"title": "x"})).status_code == 404
    assert (await logged_in_client.delete(url)).status_code == 404
