from httpx import AsyncClient


def ident(body: dict, name: str) -> str:
    """The id of a created resource, whether it is called `<name>_id` or `id`."""
    return str(body.get(f"{name}_id") or body["id"])


async def test_status_defaults_to_want_to_read(logged_in_client: AsyncClient) -> None:
    created = await logged_in_client.post("/books", json={"title": "Dune", "author": "F"})
    assert created.status_code == 201
    assert created.json()["status"] == "want_to_read"


async def test_status_is_set_changed_and_validated(logged_in_client: AsyncClient) -> None:
    book = await logged_in_client.post(
        "/books", json={"title": "Dune", "author": "F", "status": "reading"}
    )
    assert book.json()["status"] == "reading"
    url = f"/books/{ident(book.json(), 'book')}"
    done = await logged_in_client.patch(url, json={"status": "read"})
    assert done.status_code == 200
    assert done.json()["status"] == "read"
    assert (await logged_in_client.patch(url, json={"status": "lost"})).status_code == 422
    bad = await logged_in_client.post(
        "/books", json={"title": "Emma", "author": "A", "status": "finished"}
    )
    assert bad.status_code == 422


async def test_list_filters_by_status(logged_in_client: AsyncClient) -> None:
    for title, status in (("A", "reading"), ("B", "read"), ("C", "reading"), ("D", None)):
        body = {"title": title, "author": "X"} | ({"status": status} if status else {})
        await logged_in_client.post("/books", json=body)
    reading = (await logged_in_client.get("/books", params={"status": "reading"})).json()
    assert sorted(b["title"] for b in reading["items"]) == ["A", "C"]
    assert reading["total"] == 2
    assert (await logged_in_client.get("/books", params={"status": "lost"})).status_code == 422
