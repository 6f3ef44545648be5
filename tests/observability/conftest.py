import pytest

from tests.support.tools import require_tool

HINT = "apt-get install prometheus (or run .ci/setup-observability.sh)"


@pytest.fixture(scope="session")
def promtool() -> str:
    return require_tool("promtool", HINT)


@pytest.fixture(scope="session")
def prometheus_bin() -> str:
    return require_tool("prometheus", HINT)
