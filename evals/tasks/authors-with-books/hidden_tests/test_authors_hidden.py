from httpx import AsyncClient


def ident(body: dict, name: str) -> str:
    """The id of a created resource, whether it is called `<name>_id` or `id`."""
    return str(body.get(f"{name}_id") or body["id"])


UNKNOWN = "00000000-0000-4000-8000-000000000000"


async def new_author(client: AsyncClient, name: str = "Frank Herbert") -> dict:
    response = await client.post("/authors", json={"name": name, "bio": "Wrote Dune."})
    assert response.status_code == 201, response.text
    return response.json()


async def test_create_and_list_authors(logged_in_client: AsyncClient) -> None:
    author = await new_author(logged_in_client)
    assert (author["name"], author["bio"]) == ("Frank Herbert", "Wrote Dune.")
    await new_author(logged_in_client, "Jane Austen")
    page = (await logged_in_client.get("/authors", params={"size": 1})).json()
    assert (page["total"], page["pages"], page["size"], len(page["items"])) == (2, 2, 1, 1)


async def test_authors_need_login_and_a_name(client: AsyncClient) -> None:
    assert (await client.post("/authors", json={"name": "X"})).status_code == 401
    assert (await client.get("/authors")).status_code == 401


async def test_author_validation(logged_in_client: AsyncClient) -> None:
    assert (await logged_in_client.post("/authors", json={"bio": "x"})).status_code == 422
    assert (await logged_in_client.post("/authors", json={"name": ""})).status_code == 422


async def test_author_comes_with_their_books(logged_in_client: AsyncClient) -> None:
    author = await new_author(logged_in_client)
    author_id = ident(author, "author")
    for title in ("Dune", "Dune Messiah"):
        book = await logged_in_client.post(
            "/books", json={"title": title, "author": "Frank Herbert", "author_id": author_id}
        )
        assert book.status_code == 201
        assert book.json()["author_id"] == author_id
    await logged_in_client.post("/books", json={"title": "Emma", "author": "Jane Austen"})
    detail = await logged_in_client.get(f"/authors/{author_id}")
    assert detail.status_code == 200
    assert detail.json()["name"] == "Frank Herbert"
    assert sorted(b["title"] for b in detail.json()["books"]) == ["Dune", "Dune Messiah"]


async def test_a_book_can_be_moved_to_an_author(logged_in_client: AsyncClient) -> None:
    author_id = ident(await new_author(logged_in_client), "author")
    book = (await logged_in_client.post("/books", json={"title": "Dune", "author": "F"})).json()
    assert book["author_id"] is None
    url = f"/books/{ident(book, 'book')}"
    moved = await logged_in_client.patch(url, json={"author_id": author_id})
    assert moved.json()["author_id"] == author_id
    books = (await logged_in_client.get(f"/authors/{author_id}")).json()["books"]
    assert [b["title"] for b in books] == ["Dune"]


async def test_unknown_authors_are_404(logged_in_client: AsyncClient) -> None:
    assert (await logged_in_client.get(f"/authors/{UNKNOWN}")).status_code == 404
    book = {"title": "Dune", "author": "F", "author_id": UNKNOWN}
    assert (await logged_in_client.post("/books", json=book)).status_code == 404
