"""schemathesis against the served API's own OpenAPI, authenticated as an admin.

Every operation gets positive and negative generated requests; each response must be no
5xx and agree with the schema (status code, content type, body). Hypothesis runs
derandomized so a failure reproduces.
"""

import uuid

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.support import mariadb
from tests.support.api_process import ADMIN, bearer, login, served

pytestmark = pytest.mark.slow
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
EXAMPLES = {GenerationMode.POSITIVE: 50, GenerationMode.NEGATIVE: 30}
MIN_REQUESTS = 1000
# Calls that can end the identity's session or account (its own id is a small int, so the
# fuzzer does hit it): after one of them the identity is checked before the next case.
RISKY = {"POST /auth/logout", "PATCH /users/{user_id}", "DELETE /users/{user_id}"}


class Identity:
    """A fuzzing admin created by the first admin; made anew if the fuzzer disables it."""

    def __init__(self, client: httpx.Client):
        self.client = client
        self.headers: dict[str, str] | None = None
        self.username = self.password = ""
        self.recreated = 0

    def current(self) -> dict[str, str]:
        if self.headers is None:
            self.headers = self._login() or self._create()
        return self.headers

    def _login(self) -> dict[str, str] | None:
        if not self.username:
            return None
        body = {"username": self.username, "password": self.password}
        response = self.client.post("/auth/token", json=body)
        return bearer(response.json()) if response.status_code == 200 else None

    def _create(self) -> dict[str, str]:
        self.username, self.password = f"fuzz{uuid.uuid4().hex[:8]}", "pw-" + uuid.uuid4().hex
        admin = bearer(login(self.client, *ADMIN))
        body = {"username": self.username, "password": self.password, "role_id": 1}
        created = self.client.post("/users", json=body, headers=admin)
        assert created.status_code == 201, created.text
        self.recreated += 1
        return bearer(login(self.client, self.username, self.password))


def fuzz_operation(api, identity: Identity, operation, mode: GenerationMode) -> int:
    """Requests sent for one operation in one mode; raises on the first failing response."""
    sent = 0

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES[mode],
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.explicit, Phase.generate],
    )
    def run(case):
        nonlocal sent
        headers = identity.current()
        response = case.call(base_url=api.url, headers=headers, timeout=30)
        sent += 1
        if operation.label in RISKY and response.status_code < 400:
            identity.headers = None  # log in again (or make a new identity)
        case.validate_response(response, checks=CHECKS, headers=headers)

    run()
    return sent


def fuzz(api) -> tuple[int, list[str]]:
    """(requests sent, failures found) over every operation and both generation modes."""
    with api.client() as client:
        raw = client.get("/openapi.json", auth=ADMIN)
        assert raw.status_code == 200, raw.text
        schema = schemathesis.openapi.from_dict(raw.json())
        identity = Identity(client)
        sent, failures = 0, []
        operations = [result.ok() for result in schema.get_all_operations()]
        assert len(operations) >= 19
        for operation in operations:
            for mode in EXAMPLES:
                try:
                    sent += fuzz_operation(api, identity, operation, mode)
                except Unsatisfiable:
                    # No parameters at all: there is nothing to make invalid.
                    assert mode == GenerationMode.NEGATIVE and not operation.path_parameters
                except (Exception, BaseExceptionGroup) as error:
                    failures.append(f"{operation.label} [{mode.value}]: {error}")
    return sent, failures


@pytest.mark.parametrize("backend", ["sqlite", "mariadb"])
def test_generated_requests_get_no_5xx_and_agree_with_the_schema(backend, tmp_path):
    if backend == "sqlite":
        with served(tmp_path) as api:
            sent, failures = fuzz(api)
    else:
        with mariadb.fresh_database() as name, served(tmp_path, name) as api:
            sent, failures = fuzz(api)
    server_errors = [
        e for e in api.log_entries() if e.get("status", 0) >= 500 or e["level"] == "ERROR"
    ]
    assert failures == [], "\n\n".join(failures)
    assert server_errors == []
    print(f"schemathesis on {backend}: {sent} generated requests")  # shown with -rP
    assert sent >= MIN_REQUESTS
