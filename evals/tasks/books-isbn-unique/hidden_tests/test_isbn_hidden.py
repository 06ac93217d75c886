from httpx import AsyncClient


def ident(body: dict, name: str) -> str:
    """The id of a created resource, whether it is called `<name>_id` or `id`."""
    return str(body.get(f"{name}_id") or body["id"])


DUNE = {"title": "Dune", "author": "Frank Herbert", "isbn": "978-0-441-17271-9"}


async def test_isbn_is_stored_without_hyphens(logged_in_client: AsyncClient) -> None:
    created = await logged_in_client.post("/books", json=DUNE)
    assert created.status_code == 201
    assert created.json()["isbn"] == "9780441172719"
    plain = await logged_in_client.post("/books", json={"title": "Emma", "author": "Austen"})
    assert plain.status_code == 201
    assert plain.json()["isbn"] is None


async def test_a_duplicate_isbn_is_409(logged_in_client: AsyncClient) -> None:
    assert (await logged_in_client.post("/books", json=DUNE)).status_code == 201
    again = await logged_in_client.post("/books", json={**DUNE, "isbn": "9780441172719"})
    assert again.status_code == 409
    assert "isbn" in again.json()["detail"].lower()


async def test_changing_to_a_taken_isbn_is_409(logged_in_client: AsyncClient) -> None:
    await logged_in_client.post("/books", json=DUNE)
    emma = (await logged_in_client.post("/books", json={"title": "Emma", "author": "A"})).json()
    url = f"/books/{ident(emma, 'book')}"
    assert (await logged_in_client.patch(url, json={"isbn": DUNE["isbn"]})).status_code == 409
    mine = await logged_in_client.patch(url, json={"isbn": "0141439580"})
    assert mine.status_code == 200
    assert mine.json()["isbn"] == "0141439580"


async def test_malformed_isbns_are_422(logged_in_client: AsyncClient) -> None:
    for isbn in ("12345", "97804411727190", "ISBN0441172719"):
        response = await logged_in_client.post("/books", json={**DUNE, "isbn": isbn})
        assert response.status_code == 422, isbn
