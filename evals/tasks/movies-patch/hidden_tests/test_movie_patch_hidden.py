from httpx import AsyncClient


def ident(body: dict, name: str) -> str:
    """The id of a created resource, whether it is called `<name>_id` or `id`."""
    return str(body.get(f"{name}_id") or body["id"])


ALIEN = {"title": "Alien", "year": 1979, "director": "Ridley Scott"}


async def new_movie(client: AsyncClient) -> str:
    created = await client.post("/movies", json=ALIEN)
    assert created.status_code == 201
    return f"/movies/{ident(created.json(), 'movie')}"


async def test_patch_changes_only_what_is_sent(logged_in_client: AsyncClient) -> None:
    url = await new_movie(logged_in_client)
    changed = await logged_in_client.patch(url, json={"year": 1986})
    assert changed.status_code == 200
    assert {k: changed.json()[k] for k in ALIEN} == {**ALIEN, "year": 1986}
    again = await logged_in_client.patch(url, json={"title": "Aliens", "director": "Cameron"})
    assert (again.json()["title"], again.json()["year"]) == ("Aliens", 1986)
    assert (await logged_in_client.get(url)).json()["director"] == "Cameron"


async def test_patch_validates_what_is_sent(logged_in_client: AsyncClient) -> None:
    url = await new_movie(logged_in_client)
    for body in ({"title": ""}, {"year": 1700}, {"year": "soon"}, {"title": None}):
        assert (await logged_in_client.patch(url, json=body)).status_code == 422, body
    assert (await logged_in_client.get(url)).json()["title"] == "Alien"


async def test_patch_needs_a_known_movie_and_login(logged_in_client: AsyncClient) -> None:
    url = await new_movie(logged_in_client)
    unknown = "/movies/00000000-0000-4000-8000-000000000000"
    assert (await logged_in_client.patch(unknown, json={"year": 1986})).status_code == 404
    await logged_in_client.post("/auth/logout")
    assert (await logged_in_client.patch(url, json={"year": 1986})).status_code == 401
