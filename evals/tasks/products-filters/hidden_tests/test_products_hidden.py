from httpx import AsyncClient


def ident(body: dict, name: str) -> str:
    """The id of a created resource, whether it is called `<name>_id` or `id`."""
    return str(body.get(f"{name}_id") or body["id"])


CATALOGUE = [
    ("Pen", 150, "office"),
    ("Desk", 25000, "furniture"),
    ("Stapler", 900, "office"),
    ("Chair", 12000, "furniture"),
    ("Paper", 500, "office"),
]


async def stock(client: AsyncClient) -> None:
    for name, price, category in CATALOGUE:
        body = {"name": name, "price_cents": price, "category": category}
        response = await client.post("/products", json=body)
        assert response.status_code == 201, response.text


async def names(client: AsyncClient, **params: str | int) -> list[str]:
    response = await client.get("/products", params=params)
    assert response.status_code == 200, response.text
    return [p["name"] for p in response.json()["items"]]


async def test_create_returns_the_product(logged_in_client: AsyncClient) -> None:
    body = {"name": "Pen", "price_cents": 150, "category": "office"}
    response = await logged_in_client.post("/products", json=body)
    assert response.status_code == 201
    assert {k: response.json()[k] for k in body} == body
    assert ident(response.json(), "product")


async def test_list_is_paginated_cheapest_first(logged_in_client: AsyncClient) -> None:
    await stock(logged_in_client)
    page = (await logged_in_client.get("/products", params={"size": 2, "page": 2})).json()
    assert (page["total"], page["pages"], page["page"], page["size"]) == (5, 3, 2, 2)
    assert [p["name"] for p in page["items"]] == ["Stapler", "Chair"]


async def test_filters_combine(logged_in_client: AsyncClient) -> None:
    await stock(logged_in_client)
    assert await names(logged_in_client, category="office") == ["Pen", "Paper", "Stapler"]
    assert await names(logged_in_client, min_price=500, max_price=12000) == [
        "Paper",
        "Stapler",
        "Chair",
    ]
    assert await names(logged_in_client, category="office", min_price=600) == ["Stapler"]
    assert await names(logged_in_client, category="garden") == []


async def test_bad_input_is_422(logged_in_client: AsyncClient) -> None:
    bad = {"name": "Pen", "price_cents": -1, "category": "office"}
    assert (await logged_in_client.post("/products", json=bad)).status_code == 422
    missing = {"name": "Pen", "price_cents": 1}
    assert (await logged_in_client.post("/products", json=missing)).status_code == 422
    inverted = await logged_in_client.get("/products", params={"min_price": 9, "max_price": 1})
    assert inverted.status_code == 422


async def test_login_is_required(client: AsyncClient) -> None:
    assert (await client.get("/products")).status_code == 401
