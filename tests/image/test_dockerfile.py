"""service/Dockerfile and .dockerignore: hadolint clean, right defaults for a normal build."""

import re
import subprocess

from tests.support.tools import REPO, require_tool

DOCKERFILE = REPO / "service" / "Dockerfile"


def test_hadolint_is_clean():
    hadolint = require_tool("hadolint", "make venv (pinned in requirements-dev.txt)")
    done = subprocess.run(
        [hadolint, "--failure-threshold", "style", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_hadolint_can_fail(tmp_path):
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN pip install fastapi\nCMD python app.py\n")
    hadolint = require_tool("hadolint", "make venv (pinned in requirements-dev.txt)")
    done = subprocess.run([hadolint, str(bad)], capture_output=True, text=True, check=False)
    assert done.returncode != 0


def test_defaults_serve_a_normal_build():
    text = DOCKERFILE.read_text()
    assert re.search(r"^ARG BASE_IMAGE=python:3\.12-slim-bookworm$", text, re.M)
    froms = re.findall(r"^FROM (\S+)", text, re.M)
    assert froms.count("${BASE_IMAGE}") == 2  # build and final stage share the interpreter
    assert re.search(r'^ARG PIP_ARGS=""$', text, re.M)  # pip from the index by default
    assert re.search(r'^ENTRYPOINT \["/opt/venv/bin/fastapi-example"\]$', text, re.M)
    assert re.search(r'^CMD \["serve"\]$', text, re.M)
    assert re.search(r"^USER 10001:10001$", text, re.M)
    commands = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    assert not [c for c in commands if re.search(r"\bpython\s", c)]  # Debian: python3 only


def test_dockerignore_keeps_the_context_small():
    lines = [
        line.strip()
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines[0] == "*"
    assert {"!service/", "!cronjobs/"} <= set(lines)
    assert {"**/.env", "**/__pycache__"} <= set(lines)
