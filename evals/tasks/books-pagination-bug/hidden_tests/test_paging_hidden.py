from httpx import AsyncClient


def ident(body: dict, name: str) -> str:
    """The id of a created resource, whether it is called `<name>_id` or `id`."""
    return str(body.get(f"{name}_id") or body["id"])


async def test_page_two_holds_the_next_books(logged_in_client: AsyncClient) -> None:
    created = []
    for title in ("One", "Two", "Three"):
        book = await logged_in_client.post("/books", json={"title": title, "author": "A"})
        created.append(ident(book.json(), "book"))
    first = (await logged_in_client.get("/books", params={"size": 2, "page": 1})).json()
    second = (await logged_in_client.get("/books", params={"size": 2, "page": 2})).json()
    assert second["page"] == 2
    assert len(first["items"]) == 2
    assert len(second["items"]) == 1
    seen = [ident(b, "book") for b in first["items"] + second["items"]]
    assert sorted(seen) == sorted(created)


async def test_a_page_past_the_end_is_empty(logged_in_client: AsyncClient) -> None:
    await logged_in_client.post("/books", json={"title": "One", "author": "A"})
    response = await logged_in_client.get("/books", params={"size": 5, "page": 3})
    assert response.status_code == 200
    assert response.json()["items"] == []
    assert response.json()["total"] == 1
