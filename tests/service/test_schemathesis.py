"""schemathesis against the served API's own OpenAPI, authenticated as an admin: what
`schemathesis run --checks all` does, inside pytest.

schemathesis' own engine runs the phases its command line runs (coverage, fuzzing, and
stateful sequences through the links it infers between operations) with every check it
registers, so a check a later release adds runs here too. Nothing may fail, and the API's
log must show no 5xx. Generation is deterministic so a failure reproduces.
"""

import uuid

import httpx
import pytest
import schemathesis
from schemathesis.checks import CHECKS, load_all_checks
from schemathesis.config import CacheConfig, SchemathesisConfig
from schemathesis.core.failures import AcceptedNegativeData
from schemathesis.engine import events, from_schema
from schemathesis.openapi.checks import RejectedPositiveData

from tests.support import mariadb
from tests.support.api_process import ADMIN, bearer, login, served

pytestmark = pytest.mark.slow
MAX_EXAMPLES = 100  # per operation and phase
MIN_REQUESTS = 2000
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


def configured(raw: dict, url: str):
    """The schema with the command line's `--checks all --generation-deterministic`."""
    # No cache (.schemathesis/ in the working directory): a run must not depend on the last.
    config = SchemathesisConfig(cache=CacheConfig(enabled=False))
    schema = schemathesis.openapi.from_dict(raw, config=config)
    schema.config.update(base_url=url, request_timeout=30)
    schema.config.checks.update(included_check_names=["all"])
    schema.config.generation.update(max_examples=MAX_EXAMPLES, deterministic=True)
    load_all_checks()
    enabled = schema.config.checks_config_for()
    assert all(enabled.get_by_name(name=name).enabled for name in CHECKS.get_all_names())
    return schema


def answered_426_by_design(failure, case, response, supported: set[str]) -> bool:
    """An X-Version the API does not support is answered 426 before anything else is read,
    by design (README: absent, empty or supported passes, anything else gets 426), and the
    schema cannot name the versions a deployment supports. For such a case, and only then, a
    426 is the right answer to valid data and a rejection of invalid data: not the 2xx or
    400/422 that positive_data_acceptance and negative_data_rejection expect."""
    headers = {name.lower(): value for name, value in (case.headers or {}).items()}
    version = headers.get("x-version")
    return (
        isinstance(failure, RejectedPositiveData | AcceptedNegativeData)
        and response.status_code == 426
        and bool(version)
        and version not in supported
    )


def rejected_by_a_rule_the_schema_cannot_state(failure, response) -> bool:
    """A 422 for valid data whose every error is a deliberate rule JSON Schema cannot say:
    - a username's alphabet and its 3 to 30 characters once in NFKC (names.py; docs/api.md):
      one character can be three in NFKC, so the schema's bounds are wider on purpose;
    - a body's integer sent as 1.0: bodies are strict (models.Body), and JSON Schema's
      "integer" admits 1.0 (it is the same number to it);
    - a role_id no role has: the schema cannot name the roles a database holds."""
    if not isinstance(failure, RejectedPositiveData) or response.status_code != 422:
        return False

    def by_design(error: dict) -> bool:
        if error["loc"] == ["body", "username"] and error["type"] == "value_error":
            return True
        if error["loc"] == ["body", "role_id"] and error["msg"] == "Unknown role":
            return True
        value = error.get("input")
        return error["type"] == "int_type" and isinstance(value, float) and value.is_integer()

    return all(by_design(error) for error in response.json()["detail"])


def described(event, case_id: str, check: str, info) -> str:
    """A failure as the command line shows it: the check, why, the answer, a curl."""
    interaction = event.recorder.interactions.get(case_id)
    response = interaction.response if interaction else None
    answer = f"{response.status_code} {response.text[:300]}" if response else "no response"
    why = f"{info.failure.title}\n{info.failure.message}"
    return f"{event.phase.value} {check}: {why}\n{answer}\n{info.code_sample}"


def fuzz(api) -> tuple[dict[str, int], list[str]]:
    """(requests sent per phase, failures found) over every operation and phase."""
    with api.client() as client:
        raw = client.get("/openapi.json", auth=ADMIN)
        assert raw.status_code == 200, raw.text
        supported = {v["version"] for v in client.get("/versions").json() if v["supported"]}
        schema = configured(raw.json(), api.url)
        identity = Identity(client)
        sent: dict[str, int] = {}

        @schema.auth(refresh_interval=None)  # asked every case: Identity keeps the token
        class Admin:
            def get(self, case, context):
                return identity.current()

            def set(self, case, headers, context):
                case.headers = {**(case.headers or {}), **headers}

        @schema.hook
        def after_call(context, case, response):
            phase = case.meta.phase.name.value if case.meta else "other"
            sent[phase] = sent.get(phase, 0) + 1
            if case.operation.label in RISKY and response.status_code < 400:
                identity.headers = None  # log in again (or make a new identity)

        @schema.hook
        def filter_failure(context, failure, case, response):
            return not (
                answered_426_by_design(failure, case, response, supported)
                or rejected_by_a_rule_the_schema_cannot_state(failure, response)
            )

        failures = []
        for event in from_schema(schema).execute():
            if isinstance(event, events.ScenarioFinished):
                for case_id, nodes in event.recorder.checks.items():
                    failures += [
                        described(event, case_id, node.name, node.failure_info)
                        for node in nodes
                        if node.failure_info is not None
                    ]
            elif isinstance(event, events.NonFatalError | events.FatalError):
                failures.append(f"error: {event!r}")
            elif isinstance(event, events.EngineFinished):
                failures += [f"after the run: {failure!r}" for failure in event.failures]
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
    checks = ", ".join(sorted(CHECKS.get_all_names()))
    print(f"schemathesis on {backend}: {sent} requests; checks: {checks}")  # shown with -rP
    assert {"coverage", "fuzzing", "stateful"} <= set(sent)
    assert sum(sent.values()) >= MIN_REQUESTS
