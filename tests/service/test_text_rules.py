"""What text the API refuses (docs/api.md, Names): usernames that show as nothing or as
another name, item names and descriptions with control, invisible or reordering characters.
Rows stored before these rules are still read."""

import json
import re
import unicodedata
import uuid

import pytest
from pydantic import TypeAdapter, ValidationError
from sqlalchemy import text
from sqlmodel import Session

from fastapi_example.db import make_engine
from fastapi_example.errors import ECHO_CHARACTERS
from fastapi_example.item_text import NAME_PATTERN
from fastapi_example.models import Description, ItemName
from fastapi_example.names import username_key
from tests.service.conftest import ADMIN, unique


def digits(zero: str = "0") -> str:
    """Six random digits of the numbering system starting at `zero`: names must be unique."""
    return "".join(chr(ord(zero) + int(d)) for d in f"{uuid.uuid4().int % 10**6:06d}")


def assert_refused(response, field: str) -> None:
    """A 422 in FastAPI's shape naming the field, with a short message and a short echo."""
    assert response.status_code == 422, response.text
    [error] = response.json()["detail"]
    assert error["loc"] == ["body", field]
    assert error["type"] == "value_error"
    assert len(error["msg"]) < 100
    assert len(error["input"]) <= ECHO_CHARACTERS + 1


REFUSED_USERNAMES = [
    # Shown as nothing, or as another name: default-ignorable code points.
    "\u115f\u115f\u115f",  # Hangul choseong filler: a letter (Lo) that shows nothing
    "\u3164\u3164\u3164",  # Hangul filler
    "admin\u1160",  # Latin with Hangul is an allowed mix: "admin" plus nothing
    "ab\uffa0cd",  # half-width Hangul filler
    "adm\u034fin",  # combining grapheme joiner: a mark, after a letter
    "admin\ufe0f",  # variation selector 16
    "ab\U000e0100c",  # variation selector 17
    "\u1780\u17b4\u1781\u1780",  # Khmer inherent vowel AQ
    # Digits of another script than the letters'.
    "g\u09e6\u09e6gle",  # Bengali zeros
    "ad\u0e50be",  # Thai zero
    "admin\u0661",  # Arabic-Indic one
    "paypa\u07c1",  # NKo one
    "\u0e2a\u0e21\u0e0a\u0e32\u0e22\u0661\u0662",  # Thai letters, Arabic-Indic digits
    # Nothing to read, or a letter under a stack of marks.
    "...",
    "_-_",
    "a" + "\u0301" * 29,
    "abx\u0301\u0302\u0303\u0304",  # four marks on x (no precomposed form takes one)
]


@pytest.mark.parametrize("refused", REFUSED_USERNAMES)
def test_usernames_that_hide_or_mimic_a_name_are_422(client, admin_headers, refused):
    response = client.post("/users", json={"username": refused}, headers=admin_headers)
    assert_refused(response, "username")


def test_renaming_to_such_a_name_is_422(client, admin_headers, new_account):
    account = new_account()
    renamed = client.patch(
        f"/users/{account.id}", json={"username": "admin\u3164"}, headers=admin_headers
    )
    assert_refused(renamed, "username")


@pytest.mark.parametrize(
    ("name", "zero"),
    [
        ("José", "0"),
        ("Zoë", "0"),
        ("Zoe\u0308", "0"),  # decomposed: NFKC composes it
        ("Ωμέγα", "0"),
        ("名前", "0"),
        ("user_", "0"),
        ("Jean-Luc", "0"),
        ("김철수", "0"),
        ("محمد", "\u0660"),  # Arabic letters, Arabic-Indic digits
        ("علی", "\u06f0"),  # Persian letters, extended Arabic-Indic digits
        ("สมศักดิ์", "\u0e50"),  # Thai letters (two marks on one), Thai digits
        ("हिन्दी", "\u0966"),  # Devanagari letters and digits
        ("སྒྲུབ", "\u0f20"),  # Tibetan: three marks (subjoined letters, a vowel) on one letter
        ("שַּׁבָּת", "0"),  # Hebrew pointing: three marks on shin
        ("Nguye\u0302\u0303n", "0"),  # Vietnamese: NFKC makes it one letter
        ("abx\u0301\u0302\u0303", "0"),  # three marks: the most a letter takes
        ("", "\u0660"),  # digits alone, of one system
        ("", "0"),
    ],
)
def test_names_near_the_rules_are_kept(client, admin_headers, name, zero):
    username = name + digits(zero)
    created = client.post("/users", json={"username": username}, headers=admin_headers)
    assert created.status_code == 201, created.text
    assert created.json()["username"] == unicodedata.normalize("NFKC", username)


REFUSED_ITEM_NAMES = [
    "x\u009b31m",  # C1 control: the terminal's CSI
    "a\u0085b",  # C1 next line
    "line\u2028break",
    "para\u2029break",
    "\ufeffbom",
    "zero\u200bwidth",
    "bidi\u202eevil",
    "iso\u2066late\u2069",
    "soft\u00adhyphen",
    "tag\U000e0041\U000e007f",  # tag characters: invisible ASCII
    "\u3164",  # Hangul filler: a name that shows nothing
]


@pytest.mark.parametrize("refused", REFUSED_ITEM_NAMES)
def test_item_names_with_control_or_invisible_characters_are_422(client, admin_headers, refused):
    response = client.post("/items", json={"name": refused}, headers=admin_headers)
    assert_refused(response, "name")


REFUSED_DESCRIPTIONS = [
    "\u009b31m red",  # C1 CSI
    "next\u0085line",
    "esc \x1b[31m red",  # C0 ESC: a terminal's escape sequences
    "bell\x07",
    "bidi \u202e evil",
    "\u2066isolate\u2069",
    "\u202aembedding\u202c",
]


@pytest.mark.parametrize("refused", REFUSED_DESCRIPTIONS)
def test_descriptions_with_controls_or_bidi_overrides_are_422(client, admin_headers, refused):
    body = {"name": unique("item"), "description": refused}
    response = client.post("/items", json=body, headers=admin_headers)
    assert_refused(response, "description")


def test_a_patch_with_such_text_is_422(client, admin_headers):
    item = client.post("/items", json={"name": unique("item")}, headers=admin_headers).json()
    renamed = client.patch(f"/items/{item['id']}", json={"name": "x\u009b"}, headers=admin_headers)
    assert_refused(renamed, "name")
    described = client.patch(
        f"/items/{item['id']}", json={"description": "\u202e"}, headers=admin_headers
    )
    assert_refused(described, "description")


@pytest.mark.parametrize(
    "name",
    [
        "José's shop",
        "名前",
        "Ωmega",  # items have no script rule
        "\U0001f468\u200d\U0001f469\u200d\U0001f467 family",  # zero-width joiners
        "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645",  # Persian: zero-width non-joiner
        "\u2764\ufe0f love",  # variation selector 16: the emoji's presentation
        "שלום",
    ],
)
def test_item_names_near_the_rules_are_kept(client, admin_headers, name):
    name = f"{name} {unique('')}"
    created = client.post("/items", json={"name": name}, headers=admin_headers)
    assert created.status_code == 201, created.text
    assert created.json()["name"] == name


@pytest.mark.parametrize(
    "description",
    [
        "line one\nline two\n",
        "a\tb",
        "windows\r\nline",
        "zero\u200bwidth",
        "right-to-left mark \u200f",
        "line\u2028separator",
        "\U0001f468\u200d\U0001f4bb at work",
    ],
)
def test_descriptions_near_the_rules_are_kept(client, admin_headers, description):
    body = {"name": unique("item"), "description": description}
    created = client.post("/items", json=body, headers=admin_headers)
    assert created.status_code == 201, created.text
    assert created.json()["description"] == description


def test_rows_stored_before_the_rules_are_still_read(client, admin_headers, api_settings):
    """Reads never validate input rules: a row written before them answers as stored."""
    user = client.post("/users", json={"username": unique()}, headers=admin_headers).json()
    item = client.post("/items", json={"name": unique("item")}, headers=admin_headers).json()
    old_name = "\u3164\u3164" + digits()
    item_name, description = "x\u009b\u202e" + unique(), "esc \x1b[31m \u202e"
    engine = make_engine(api_settings)
    try:
        with Session(engine) as db:
            db.exec(
                text("UPDATE users SET username = :u, username_key = :k WHERE id = :i"),
                params={"u": old_name, "k": username_key(old_name), "i": user["id"]},
            )
            db.exec(
                text("UPDATE items SET name = :n, description = :d WHERE id = :i"),
                params={"n": item_name, "d": description, "i": item["id"]},
            )
            db.commit()
    finally:
        engine.dispose()
    read = client.get(f"/users/{user['id']}", headers=admin_headers)
    assert read.status_code == 200 and read.json()["username"] == old_name
    listed = client.get("/users", params={"username": old_name}, headers=admin_headers)
    assert [u["id"] for u in listed.json()["users"]] == [user["id"]]
    got = client.get(f"/items/{item['id']}", headers=admin_headers)
    assert got.status_code == 200
    assert (got.json()["name"], got.json()["description"]) == (item_name, description)
    page = client.get("/items", params={"name": item_name}, headers=admin_headers)
    assert [i["id"] for i in page.json()["items"]] == [item["id"]]
    # A change to another field leaves the stored name alone.
    patched = client.patch(
        f"/items/{item['id']}", json={"description": "new"}, headers=admin_headers
    )
    assert patched.status_code == 200 and patched.json()["name"] == item_name


def accepted(adapter: TypeAdapter, value: str) -> bool:
    try:
        adapter.validate_python(value)
    except ValidationError:
        return False
    return True


def code_points():
    """The planes that hold controls, format characters and default-ignorables."""
    for plane in (range(0x10000), range(0x10000, 0x20000), range(0xE0000, 0xE1000)):
        for point in plane:
            if not 0xD800 <= point <= 0xDFFF:  # surrogates: refused as text, not as characters
                yield chr(point)


def test_the_openapi_patterns_state_the_item_rules(client):
    """The OpenAPI states each rule the validators check, so clients (and schemathesis)
    know which text is valid: the patterns and the validators agree on every character."""
    schemas = client.get("/openapi.json", auth=ADMIN).json()["components"]["schemas"]["ItemCreate"]
    name_pattern = schemas["properties"]["name"]["pattern"]
    description_pattern = next(
        choice["pattern"]
        for choice in schemas["properties"]["description"]["anyOf"]
        if choice.get("type") == "string"
    )
    assert name_pattern == NAME_PATTERN
    names, descriptions = TypeAdapter(ItemName), TypeAdapter(Description)
    name_rule, description_rule = re.compile(name_pattern), re.compile(description_pattern)
    for char in code_points():
        for name in (f"a{char}a", char):
            assert bool(name_rule.search(name)) == accepted(names, name), json.dumps(name)
        described = f"a{char}a"
        assert bool(description_rule.search(described)) == accepted(descriptions, described), (
            json.dumps(described)
        )
