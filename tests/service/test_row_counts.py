"""The unfiltered item list's total comes from row_counts: it must stay the real count."""

from datetime import UTC, datetime

from sqlalchemy import text

from fastapi_example.db import make_engine
from fastapi_example.migrate import migrate
from tests.service.conftest import unique


def counted(settings) -> int:
    engine = make_engine(settings)
    try:
        with engine.connect() as connection:
            return connection.execute(text("SELECT COUNT(*) FROM items")).scalar_one()
    finally:
        engine.dispose()


def listed(client, headers) -> int:
    response = client.get("/items", params={"limit": 1}, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()["total"]


def test_total_follows_creates_deletes_and_refused_writes(client, api_settings, new_account):
    owner = new_account()
    assert listed(client, owner.headers) == counted(api_settings)
    names = [unique("counted") for _ in range(3)]
    ids = []
    for name in names:
        response = client.post("/items", json={"name": name}, headers=owner.headers)
        assert response.status_code == 201, response.text
        ids.append(response.json()["id"])
    taken = client.post("/items", json={"name": names[0]}, headers=owner.headers)
    assert taken.status_code == 409
    assert client.delete(f"/items/{ids[0]}", headers=owner.headers).status_code == 204
    assert client.delete(f"/items/{ids[0]}", headers=owner.headers).status_code == 404
    assert listed(client, owner.headers) == counted(api_settings)


def test_filtered_totals_still_count_their_matches(client, new_account):
    owner = new_account()
    tag = unique("tag")
    for n in range(3):
        body = {"name": f"{tag}-{n}"}
        assert client.post("/items", json=body, headers=owner.headers).status_code == 201
    response = client.get("/items", params={"name": tag, "limit": 1}, headers=owner.headers)
    assert response.json()["total"] == 3


def test_migrate_recounts_rows_written_outside_the_api(client, api_settings, new_account):
    owner = new_account()
    engine = make_engine(api_settings)
    try:
        now = datetime.now(UTC).replace(tzinfo=None)
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO items (name, description, user_id, created_at, updated_at)"
                    " VALUES (:name, NULL, :user_id, :now, :now)"
                ),
                {"name": unique("bulk"), "user_id": owner.id, "now": now},
            )
        migrate(engine, api_settings)
    finally:
        engine.dispose()
    assert listed(client, owner.headers) == counted(api_settings)
