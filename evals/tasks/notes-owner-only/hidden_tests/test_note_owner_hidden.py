from httpx import AsyncClient

from tests.conftest import PASSWORD


def ident(body: dict, name: str) -> str:
    """The id of a created resource, whether it is called `<name>_id` or `id`."""
    return str(body.get(f"{name}_id") or body["id"])


async def login_as(client: AsyncClient, email: str) -> None:
    credentials = {"email": email, "password": PASSWORD}
    await client.post("/auth/logout")
    await client.post("/auth/register", json=credentials)
    assert (await client.post("/auth/login", json=credentials)).status_code == 200


async def test_owner_id_is_the_creator(logged_in_client: AsyncClient) -> None:
    me = (await logged_in_client.get("/auth/me")).json()
    note = await logged_in_client.post("/notes", json={"title": "Mine", "body": "b"})
    assert note.status_code == 201
    assert note.json()["owner_id"] == me["user_id"]


async def test_only_the_owner_may_change_a_note(logged_in_client: AsyncClient) -> None:
    note = (await logged_in_client.post("/notes", json={"title": "Mine", "body": "b"})).json()
    url = f"/notes/{ident(note, 'note')}"
    await login_as(logged_in_client, "intruder@example.com")
    assert (await logged_in_client.get(url)).status_code == 200
    assert (await logged_in_client.patch(url, json={"title": "Ha"})).status_code == 403
    assert (await logged_in_client.delete(url)).status_code == 403
    await login_as(logged_in_client, "reader@example.com")
    changed = await logged_in_client.patch(url, json={"title": "Still mine"})
    assert changed.status_code == 200
    assert changed.json()["title"] == "Still mine"
    assert (await logged_in_client.delete(url)).status_code == 204


async def test_unknown_notes_are_still_404(logged_in_client: AsyncClient) -> None:
    url = "/notes/00000000-0000-4000-8000-000000000000"
    assert (await logged_in_client.patch(url, json={"title": "x"})).status_code == 404
    assert (await logged_in_client.delete(url)).status_code == 404
