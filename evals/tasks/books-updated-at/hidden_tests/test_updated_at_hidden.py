from datetime import datetime

from httpx import AsyncClient


def ident(body: dict, name: str) -> str:
    """The id of a created resource, whether it is called `<name>_id` or `id`."""
    return str(body.get(f"{name}_id") or body["id"])


def when(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


async def test_updated_at_is_set_on_create(logged_in_client: AsyncClient) -> None:
    book = (await logged_in_client.post("/books", json={"title": "Dune", "author": "F"})).json()
    assert when(book["updated_at"]) >= when(book["created_at"])
    url = f"/books/{ident(book, 'book')}"
    assert (await logged_in_client.get(url)).json()["updated_at"] == book["updated_at"]
    listed = (await logged_in_client.get("/books")).json()["items"][0]
    assert listed["updated_at"] == book["updated_at"]


async def test_updated_at_moves_forward_on_patch(logged_in_client: AsyncClient) -> None:
    book = (await logged_in_client.post("/books", json={"title": "Dune", "author": "F"})).json()
    url = f"/books/{ident(book, 'book')}"
    changed = (await logged_in_client.patch(url, json={"title": "Dune Messiah"})).json()
    assert changed["created_at"] == book["created_at"]
    assert when(changed["updated_at"]) >= when(book["updated_at"])
    again = (await logged_in_client.get(url)).json()
    assert again["updated_at"] == changed["updated_at"]
