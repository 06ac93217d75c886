import json

from httpx import AsyncClient


def ident(body: dict, name: str) -> str:
    """The id of a created resource, whether it is called `<name>_id` or `id`."""
    return str(body.get(f"{name}_id") or body["id"])


GOOD = {
    "name": "  PyCon  ",
    "capacity": 300,
    "starts_at": "2030-05-01T09:00:00+00:00",
    "ends_at": "2030-05-01T18:00:00+00:00",
}


async def rejected(client: AsyncClient, **changes: object) -> str:
    response = await client.post("/events", json={**GOOD, **changes})
    assert response.status_code == 422, (changes, response.text)
    return json.dumps(response.json()["detail"])


async def test_a_valid_event_is_created_and_read(logged_in_client: AsyncClient) -> None:
    created = await logged_in_client.post("/events", json=GOOD)
    assert created.status_code == 201, created.text
    assert (created.json()["name"], created.json()["capacity"]) == ("PyCon", 300)
    read = await logged_in_client.get(f"/events/{ident(created.json(), 'event')}")
    assert read.status_code == 200
    assert read.json()["name"] == "PyCon"


async def test_field_errors_name_the_field(logged_in_client: AsyncClient) -> None:
    assert "name" in await rejected(logged_in_client, name="   ")
    assert "name" in await rejected(logged_in_client, name="x" * 101)
    assert "capacity" in await rejected(logged_in_client, capacity=0)
    assert "capacity" in await rejected(logged_in_client, capacity=10001)
    assert "starts_at" in await rejected(logged_in_client, starts_at="2030-05-01T09:00:00")
    assert "ends_at" in await rejected(logged_in_client, ends_at="tomorrow")


async def test_ends_at_must_follow_starts_at(logged_in_client: AsyncClient) -> None:
    detail = await rejected(logged_in_client, ends_at="2030-05-01T08:00:00+00:00")
    assert "ends_at" in detail
    assert "ends_at" in await rejected(logged_in_client, ends_at=GOOD["starts_at"])


async def test_events_need_login(client: AsyncClient) -> None:
    assert (await client.post("/events", json=GOOD)).status_code == 401
