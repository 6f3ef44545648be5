"""The docs page works offline: Redoc comes from the package (pinned, with its licence), the
page names nothing outside the API's origin, its Content-Security-Policy allows nothing else,
and headless Chromium with every other host unreachable renders the API's operations."""

import hashlib
import re
import subprocess

import pytest

from fastapi_example.settings import PACKAGE_DIR
from tests.support.api_process import served
from tests.support.tools import require_tool

pytestmark = pytest.mark.slow
REDOC = PACKAGE_DIR / "static" / "redoc"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    # Any host but the API's goes to a proxy that is not there: nothing else is reachable.
    "--proxy-server=http://127.0.0.1:9",
    "--proxy-bypass-list=<-loopback>;127.0.0.1",
]


def test_the_bundle_is_the_pinned_release_with_its_licences():
    pinned = dict(
        line.split(": ", 1) for line in (REDOC / "VERSION").read_text().splitlines() if line
    )
    bundle = (REDOC / "redoc.standalone.js").read_bytes()
    assert hashlib.sha256(bundle).hexdigest() == pinned["sha256"]
    assert "MIT License" in (REDOC / "LICENSE").read_text()
    assert (REDOC / "redoc.standalone.js.LICENSE.txt").stat().st_size > 0


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    with served(tmp_path_factory.mktemp("docs"), DOCS_ACCESS="public") as api:
        yield api


def test_the_page_names_only_its_own_origin_and_says_so_in_its_policy(api):
    with api.client() as client:
        page = client.get("/docs")
        assert page.status_code == 200
        for url in re.findall(r'(?:src|href|spec-url)="([^"]*)"', page.text):
            assert url.startswith("/") and not url.startswith("//"), url
            assert client.get(url).status_code == 200, url
        policy = page.headers["content-security-policy"]
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";") if d.strip())
    assert directives["default-src"] == "'none'"
    assert directives["script-src"] == "'self'"
    assert "http" not in policy


def test_headless_chromium_renders_the_operations_offline(api, tmp_path):
    chromium = require_tool("chromium", "apt-get install chromium (.ci/setup-chromium.sh)")
    rendered = subprocess.run(
        [
            chromium,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={tmp_path / 'profile'}",
            "--virtual-time-budget=30000",
            "--dump-dom",
            f"{api.url}/docs",
        ],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert rendered.returncode == 0, rendered.stderr[-2000:]
    dom = rendered.stdout
    with api.client() as client:
        paths = client.get("/openapi.json").json()["paths"]
    summaries = [op["summary"] for ops in paths.values() for op in ops.values()]
    assert len(summaries) > 10
    missing = [summary for summary in summaries if summary not in dom]
    assert missing == [], f"not rendered: {missing}"
