from httpx import AsyncClient


def ident(body: dict, name: str) -> str:
    """The id of a created resource, whether it is called `<name>_id` or `id`."""
    return str(body.get(f"{name}_id") or body["id"])


async def create(client: AsyncClient, title: str, tags: list[str]) -> dict:
    response = await client.post("/books", json={"title": title, "author": "X", "tags": tags})
    assert response.status_code == 201, response.text
    return response.json()


async def test_tags_are_normalised_and_sorted(logged_in_client: AsyncClient) -> None:
    book = await create(logged_in_client, "Dune", ["SciFi", " classic ", "scifi"])
    assert book["tags"] == ["classic", "scifi"]
    fetched = (await logged_in_client.get(f"/books/{ident(book, 'book')}")).json()
    assert fetched["tags"] == ["classic", "scifi"]


async def test_books_share_tags_and_filter_by_them(logged_in_client: AsyncClient) -> None:
    await create(logged_in_client, "Dune", ["scifi", "classic"])
    await create(logged_in_client, "Neuromancer", ["scifi"])
    await create(logged_in_client, "Emma", ["classic"])
    scifi = (await logged_in_client.get("/books", params={"tag": "scifi"})).json()
    assert sorted(b["title"] for b in scifi["items"]) == ["Dune", "Neuromancer"]
    assert scifi["total"] == 2
    none = (await logged_in_client.get("/books", params={"tag": "poetry"})).json()
    assert none["items"] == []


async def test_patch_replaces_the_tags(logged_in_client: AsyncClient) -> None:
    book = await create(logged_in_client, "Dune", ["scifi"])
    url = f"/books/{ident(book, 'book')}"
    changed = await logged_in_client.patch(url, json={"tags": ["desert", "epic"]})
    assert changed.status_code == 200
    assert changed.json()["tags"] == ["desert", "epic"]
    untouched = await logged_in_client.patch(url, json={"title": "Dune!"})
    assert untouched.json()["tags"] == ["desert", "epic"]
    scifi = (await logged_in_client.get("/books", params={"tag": "scifi"})).json()
    assert scifi["total"] == 0


async def test_bad_tags_are_422(logged_in_client: AsyncClient) -> None:
    for tags in ([""], ["x" * 51], "scifi"):
        body = {"title": "Dune", "author": "X", "tags": tags}
        assert (await logged_in_client.post("/books", json=body)).status_code == 422
