from httpx import AsyncClient


def ident(body: dict, name: str) -> str:
    """The id of a created resource, whether it is called `<name>_id` or `id`."""
    return str(body.get(f"{name}_id") or body["id"])


DUNE = {"title": "Dune", "author": "Frank Herbert"}


async def test_create_returns_201_and_the_book(logged_in_client: AsyncClient) -> None:
    response = await logged_in_client.post("/books", json=DUNE)
    assert response.status_code == 201
    body = response.json()
    assert (body["title"], body["author"]) == ("Dune", "Frank Herbert")
    assert ident(body, "book")


async def test_login_is_required(client: AsyncClient) -> None:
    assert (await client.post("/books", json=DUNE)).status_code == 401
    assert (await client.get("/books")).status_code == 401


async def test_invalid_books_are_422(logged_in_client: AsyncClient) -> None:
    assert (await logged_in_client.post("/books", json={"title": "Dune"})).status_code == 422
    blank = await logged_in_client.post("/books", json={**DUNE, "author": ""})
    assert blank.status_code == 422
    long = await logged_in_client.post("/books", json={**DUNE, "title": "x" * 256})
    assert long.status_code == 422


async def test_list_is_paginated(logged_in_client: AsyncClient) -> None:
    for n in range(5):
        await logged_in_client.post("/books", json={**DUNE, "title": f"Dune {n}"})
    response = await logged_in_client.get("/books", params={"page": 2, "size": 2})
    assert response.status_code == 200
    page = response.json()
    assert (page["page"], page["size"], page["total"], page["pages"]) == (2, 2, 5, 3)
    assert len(page["items"]) == 2


async def test_get_update_delete(logged_in_client: AsyncClient) -> None:
    book = (await logged_in_client.post("/books", json=DUNE)).json()
    url = f"/books/{ident(book, 'book')}"
    assert (await logged_in_client.get(url)).json()["title"] == "Dune"
    changed = await logged_in_client.patch(url, json={"title": "Dune Messiah"})
    assert changed.status_code == 200
    assert (changed.json()["title"], changed.json()["author"]) == ("Dune Messiah", "Frank Herbert")
    assert (await logged_in_client.delete(url)).status_code == 204
    assert (await logged_in_client.get(url)).status_code == 404


async def test_unknown_book_is_404(logged_in_client: AsyncClient) -> None:
    missing = "/books/00000000-0000-4000-8000-000000000000"
    assert (await logged_in_client.get(missing)).status_code == 404
    assert (await logged_in_client.patch(missing, json={"title": "x"})).status_code == 404
