from httpx import AsyncClient


def ident(body: dict, name: str) -> str:
    """The id of a created resource, whether it is called `<name>_id` or `id`."""
    return str(body.get(f"{name}_id") or body["id"])


NEWS = {"title": "Closed on Monday", "body": "The library is closed on Monday."}


async def test_anonymous_create_is_401_and_stores_nothing(client: AsyncClient) -> None:
    response = await client.post("/announcements", json=NEWS)
    assert response.status_code == 401
    listing = await client.get("/announcements")
    assert listing.status_code == 200
    assert listing.json()["total"] == 0


async def test_a_forged_cookie_is_401(client: AsyncClient) -> None:
    client.cookies.set("access_token", "not-a-token", domain="test")
    assert (await client.post("/announcements", json=NEWS)).status_code == 401


async def test_logged_in_users_create_and_everyone_reads(logged_in_client: AsyncClient) -> None:
    created = await logged_in_client.post("/announcements", json=NEWS)
    assert created.status_code == 201
    assert created.json()["title"] == NEWS["title"]
    await logged_in_client.post("/auth/logout")
    listing = await logged_in_client.get("/announcements")
    assert listing.status_code == 200
    assert [a["title"] for a in listing.json()["items"]] == [NEWS["title"]]
