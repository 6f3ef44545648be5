"""Items: CRUD, ownership, unique names, filters and paging."""

import pytest

from fastapi_example.models import ItemPublic, ItemsPage
from tests.service.conftest import unique


def create(client, headers, name=None, description=None):
    body = {"name": name or unique("item"), "description": description}
    response = client.post("/items", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


def test_create_read_update_delete(client, new_account):
    owner = new_account()
    item = create(client, owner.headers, description="first")
    assert item["user_id"] == owner.id
    assert set(item) == {"id", "name", "description", "user_id", "created_at", "updated_at"}
    assert client.get(f"/items/{item['id']}", headers=owner.headers).json() == item
    patched = client.patch(
        f"/items/{item['id']}", json={"description": "second"}, headers=owner.headers
    )
    assert patched.status_code == 200
    assert patched.json()["description"] == "second" and patched.json()["name"] == item["name"]
    assert client.delete(f"/items/{item['id']}", headers=owner.headers).status_code == 204
    assert client.get(f"/items/{item['id']}", headers=owner.headers).status_code == 404


def test_every_user_reads_every_item(client, new_account):
    owner, reader = new_account(), new_account()
    item = create(client, owner.headers)
    assert client.get(f"/items/{item['id']}", headers=reader.headers).status_code == 200


def test_only_owner_or_admin_modifies(client, admin_headers, new_account):
    owner, other = new_account(), new_account()
    item = create(client, owner.headers)
    assert client.patch(f"/items/{item['id']}", json={}, headers=other.headers).status_code == 403
    assert client.delete(f"/items/{item['id']}", headers=other.headers).status_code == 403
    by_admin = client.patch(
        f"/items/{item['id']}", json={"description": "admin was here"}, headers=admin_headers
    )
    assert by_admin.status_code == 200
    assert client.delete(f"/items/{item['id']}", headers=admin_headers).status_code == 204


def test_duplicate_name_is_409(client, new_account):
    owner, other = new_account(), new_account()
    item = create(client, owner.headers)
    again = client.post("/items", json={"name": item["name"]}, headers=other.headers)
    assert again.status_code == 409
    assert again.json() == {"detail": "An item with that name already exists"}


def test_names_compare_exactly(client, new_account):
    owner = new_account()
    name = unique("Item")
    create(client, owner.headers, name=name)
    for variant in (name.lower(), name.upper(), "\u00e0" + name[1:]):
        create(client, owner.headers, name=variant)
    for padded in (name + " ", " " + name):
        response = client.post("/items", json={"name": padded}, headers=owner.headers)
        assert response.status_code == 422


def test_patch_with_own_name_is_fine_and_taken_name_is_409(client, new_account):
    owner = new_account()
    item, other = create(client, owner.headers), create(client, owner.headers)
    same = client.patch(f"/items/{item['id']}", json={"name": item["name"]}, headers=owner.headers)
    assert same.status_code == 200
    taken = client.patch(
        f"/items/{item['id']}", json={"name": other["name"]}, headers=owner.headers
    )
    assert taken.status_code == 409


def test_description_can_be_cleared(client, new_account):
    owner = new_account()
    item = create(client, owner.headers, description="something")
    cleared = client.patch(
        f"/items/{item['id']}", json={"description": None}, headers=owner.headers
    )
    assert cleared.status_code == 200
    assert cleared.json()["description"] is None
    null_name = client.patch(f"/items/{item['id']}", json={"name": None}, headers=owner.headers)
    assert null_name.status_code == 422


def test_filters_are_case_insensitive_substrings_with_literal_wildcards(client, new_account):
    owner = new_account()
    tag = unique("flt")
    names = [f"{tag}-50%-off", f"{tag}-a_b", f"{tag}-axb", f"{tag}-500-off"]
    for name in names:
        create(client, owner.headers, name=name, description=f"About {name.upper()}")

    def found(**params):
        body = client.get("/items", params=params, headers=owner.headers).json()
        return [item["name"] for item in body["items"]]

    assert found(name=f"{tag}-50%") == [f"{tag}-50%-off"]
    assert found(name=f"{tag}-a_b") == [f"{tag}-a_b"]
    assert found(name=tag.upper()) == names
    assert found(description=f"about {tag}-A_B".upper()) == [f"{tag}-a_b"]


def test_filters_ignore_the_case_of_any_letter_not_only_ascii(client, new_account):
    """SQLite's own lower() changes ASCII letters only: "Été" would not match "été"."""
    owner = new_account()
    tag = unique("uni")
    name = f"{tag}-Été Straße"
    create(client, owner.headers, name=name, description=f"{tag} ΩMEGA")

    def found(**params):
        body = client.get("/items", params=params, headers=owner.headers).json()
        return [item["name"] for item in body["items"]]

    for text in ("été", "ÉTÉ", "Été straße"):
        assert found(name=f"{tag}-{text}") == [name], text
    assert found(description=f"{tag} ωmega") == [name]
    assert found(name=f"{tag}-ete") == []  # case, not accents


def test_a_sigma_matches_whatever_its_case_and_place_in_a_word(client, new_account):
    """Lowercased, a capital sigma at a word's end is the final sigma in Python and the small
    one in MySQL: both sides of the comparison fold the final one."""
    owner = new_account()
    tag = unique("sigma")
    upper, lower = f"{tag}-ΟΔΥΣΣΕΑΣ", f"{tag}-ηρακλης"
    create(client, owner.headers, name=upper)
    create(client, owner.headers, name=lower)

    def found(text):
        params = {"name": f"{tag}-{text}"}
        body = client.get("/items", params=params, headers=owner.headers).json()
        return [item["name"] for item in body["items"]]

    for text in ("ΟΔΥΣ", "οδυσ", "ΟΔΥΣΣΕΑΣ", "οδυσσεας", "οδυσσεασ"):
        assert found(text) == [upper], text
    for text in ("ΗΡΑΚΛΗΣ", "ηρακλης", "ηρακλησ"):
        assert found(text) == [lower], text


def test_paging_echoes_real_values_and_orders_by_id(client, new_account):
    owner = new_account()
    tag = unique("pg")
    ids = [create(client, owner.headers, name=f"{tag}-{n}")["id"] for n in range(5)]
    pages = [
        client.get("/items", params={"name": tag, "limit": 2, "page": p}, headers=owner.headers)
        for p in (1, 2, 3, 4)
    ]
    bodies = [page.json() for page in pages]
    assert [b["page"] for b in bodies] == [1, 2, 3, 4]
    assert all(b["limit"] == 2 and b["total"] == 5 for b in bodies)
    assert [i["id"] for b in bodies for i in b["items"]] == ids
    assert bodies[3]["items"] == []


def test_paging_bounds(client, new_account):
    owner = new_account()
    for params in (
        {"page": 0},
        {"page": -1},
        {"limit": 0},
        {"limit": -5},
        {"limit": 101},
        {"page": "x"},
    ):
        response = client.get("/items", params=params, headers=owner.headers)
        assert response.status_code == 422, params
    ok = client.get("/items", params={"limit": 100}, headers=owner.headers)
    assert ok.status_code == 200 and ok.json()["limit"] == 100
    default = client.get("/items", headers=owner.headers).json()
    assert default["limit"] == 20 and default["page"] == 1


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("x" * 101, "String should have at most 100 characters"),
        ("", "String should have at least 1 character"),
    ],
)
@pytest.mark.parametrize("field", ["name", "description"])
def test_a_filter_of_the_wrong_length_is_a_422_that_says_characters(
    client, new_account, field, text, error
):
    response = client.get("/items", params={field: text}, headers=new_account().headers)
    assert response.status_code == 422
    [detail] = response.json()["detail"]
    assert detail["loc"] == ["query", field] and detail["msg"] == error


def test_a_page_is_exactly_its_model_serialized(client, new_account):
    """The page's JSON is made from the rows, not the models: it must be the model's bytes."""
    owner = new_account()
    tag = unique("js")
    create(client, owner.headers, name=f"{tag}-é ✓", description="naïve “quotes” \\ \U0001f600")
    create(client, owner.headers, name=f"{tag}-plain")  # description null
    for params in ({"name": tag}, {"limit": 3}, {"name": tag, "page": 9}):
        response = client.get("/items", params=params, headers=owner.headers)
        assert response.headers["content-type"] == "application/json"
        page = ItemsPage.model_validate_json(response.content)
        assert response.content == page.model_dump_json().encode(), params
    assert [i["description"] for i in client.get(
        "/items", params={"name": tag}, headers=owner.headers
    ).json()["items"]] == ["naïve “quotes” \\ \U0001f600", None]  # fmt: skip


def test_an_item_is_exactly_its_model_serialized(client, new_account):
    """POST, GET and PATCH answer the bytes FastAPI writes from the response model."""
    owner = new_account()
    made = client.post(
        "/items",
        json={"name": unique("js-é ✓"), "description": "naïve “quotes” \\ \U0001f600"},
        headers=owner.headers,
    )
    item_id = made.json()["id"]
    read = client.get(f"/items/{item_id}", headers=owner.headers)
    patched = client.patch(f"/items/{item_id}", json={"description": None}, headers=owner.headers)
    assert [r.status_code for r in (made, read, patched)] == [201, 200, 200]
    for response in (made, read, patched):
        assert response.headers["content-type"] == "application/json"
        item = ItemPublic.model_validate_json(response.content)
        assert response.content == item.model_dump_json().encode()
    assert patched.json()["description"] is None and read.json()["user_id"] == owner.id


def test_a_patch_that_changes_nothing_leaves_the_item_as_it_was(client, new_account):
    owner, other = new_account(), new_account()
    item = create(client, owner.headers, description="kept")
    path, missing = f"/items/{item['id']}", "/items/2147483647"
    for same in ({}, {"name": item["name"]}, {"name": item["name"], "description": "kept"}):
        patched = client.patch(path, json=same, headers=owner.headers)
        assert patched.status_code == 200, patched.text
        assert patched.json() == item  # updated_at included
        # Nothing to change is still a change of someone else's item, or of none.
        assert client.patch(path, json=same, headers=other.headers).status_code == 403
        assert client.patch(missing, json=same, headers=owner.headers).status_code == 404
    assert client.get(path, headers=owner.headers).json() == item
    changes = {"name": item["name"], "description": "new"}
    patched = client.patch(path, json=changes, headers=owner.headers)
    assert patched.json()["description"] == "new"
    assert patched.json()["updated_at"] > item["updated_at"]
