from httpx import AsyncClient


def ident(body: dict, name: str) -> str:
    """The id of a created resource, whether it is called `<name>_id` or `id`."""
    return str(body.get(f"{name}_id") or body["id"])


TITLES = ("Dune", "Children of Dune", "Emma", "dune road", "100% Dune")


async def add_books(client: AsyncClient) -> None:
    for title in TITLES:
        author = "Jane Austen" if title == "Emma" else "Frank Herbert"
        assert (await client.post("/books", json={"title": title, "author": author})).is_success


async def titles(client: AsyncClient, **params: str | int) -> set[str]:
    response = await client.get("/books", params=params)
    assert response.status_code == 200
    return {book["title"] for book in response.json()["items"]}


async def test_q_matches_part_of_the_title_ignoring_case(logged_in_client: AsyncClient) -> None:
    await add_books(logged_in_client)
    assert await titles(logged_in_client, q="dune") == set(TITLES) - {"Emma"}
    assert await titles(logged_in_client, q="EMM") == {"Emma"}
    assert await titles(logged_in_client, q="zzz") == set()


async def test_q_takes_percent_literally(logged_in_client: AsyncClient) -> None:
    await add_books(logged_in_client)
    assert await titles(logged_in_client, q="100%") == {"100% Dune"}


async def test_q_combines_with_author_and_pagination(logged_in_client: AsyncClient) -> None:
    await add_books(logged_in_client)
    page = await logged_in_client.get(
        "/books", params={"q": "dune", "author": "Frank Herbert", "size": 2}
    )
    body = page.json()
    assert (body["total"], body["pages"], len(body["items"])) == (4, 2, 2)
