"""The commands in README.md, docs/ and the chart's README stay true (issue 26): each fenced
shell block runs here, is run by a named test, or says what it needs that this machine lacks
(tests/docs/commands.yaml). Every block parses, and the make targets and repository paths it
names exist."""

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest
import yaml

from tests.support.tools import REPO, missing, require_tool

DOCS = [REPO / "README.md", REPO / "charts" / "fastapi-example" / "README.md"]
DOCS += sorted((REPO / "docs").rglob("*.md"))
LIST = yaml.safe_load((Path(__file__).parent / "commands.yaml").read_text())
LACKS = {"docker", "kind", "internet"}
FENCE = re.compile(r"^(\s*)```(bash|sh|shell|console)\s*$")
# Paths of this repository as commands name them (not URLs, not /absolute).
PATH = re.compile(r"(?<![\w./:-])((?:charts|k8s|kind|docs|service|tests|make|cluster)/[\w./-]*\w)")


def blocks(path: Path) -> list[tuple[int, str]]:
    """(line number, text) of each fenced shell block, indentation removed."""
    found, lines, i = [], path.read_text().splitlines(), 0
    while i < len(lines):
        match = FENCE.match(lines[i])
        if not match:
            i += 1
            continue
        indent, start, body = len(match.group(1)), i + 1, []
        i += 1
        while lines[i].strip() != "```":
            body.append(lines[i][indent:])
            i += 1
        found.append((start, "\n".join(body) + "\n"))
        i += 1
    return found


def first_line(text: str) -> str:
    return next(line for line in text.splitlines() if line.strip())


ALL = [(path, line, text) for path in DOCS for line, text in blocks(path)]
IDS = [f"{p.relative_to(REPO)}:{n}" for p, n, _ in ALL]


def listed(path: Path, text: str) -> list[dict]:
    entries, first = LIST.get(str(path.relative_to(REPO)), {}), first_line(text)
    # A whole first line wins over a prefix of it.
    return (
        [entries[first]]
        if first in entries
        else [v for k, v in entries.items() if first.startswith(k)]
    )


def entry(path: Path, text: str) -> dict:
    matches = listed(path, text)
    assert len(matches) == 1, f"list it in tests/docs/commands.yaml: {first_line(text)!r}"
    return matches[0]


def test_every_entry_of_the_list_matches_a_block():
    for name, entries in LIST.items():
        firsts = [first_line(text) for _, text in blocks(REPO / name)]
        for key in entries:
            assert any(f.startswith(key) for f in firsts), f"{name}: no block starts {key!r}"


def make_targets() -> set[str]:
    make = require_tool("make")
    done = subprocess.run(
        [make, "-pRrq", "-f", "Makefile", ":"], cwd=REPO, capture_output=True, text=True
    )
    return set(re.findall(r"^([a-z0-9][a-z0-9-]*):", done.stdout, re.M))


@pytest.fixture(scope="module")
def targets() -> set[str]:
    return make_targets()


@pytest.mark.parametrize(("path", "line", "text"), ALL, ids=IDS)
def test_each_block_is_listed_parses_and_names_what_exists(path, line, text, targets):
    what = entry(path, text)
    assert len(what) == 1 and set(what) <= {"run", "needs", "covered", "untested"}, what
    if "needs" in what:
        assert what["needs"] and set(what["needs"]) <= LACKS, what
    for cover in what.get("covered", []) and [what["covered"]]:
        by = (REPO / cover["by"]).read_text()
        for word in cover["runs"]:
            assert word in text and word in by, f"{word!r} in the block and in {cover['by']}"
    parsed = subprocess.run(["bash", "-n"], input=text, capture_output=True, text=True)
    assert parsed.returncode == 0, parsed.stderr
    for target in re.findall(r"\bmake (?:-s )?((?:[a-z0-9-]+ ?)+)", text):
        for name in target.split():
            assert name in targets, f"make {name}: no such target"
    for name in PATH.findall(text):
        assert (REPO / name).exists(), f"{name} does not exist"


@pytest.fixture
def make_run(tmp_path):
    """The README's `make run`, on a SQLite file of its own, serving on 127.0.0.1:8080."""
    for port in (8080, 8000):
        try:
            httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
            missing(f"port {port} is taken: the Quick start's commands need it")
        except httpx.TransportError:
            pass
    make = require_tool("make")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DB_", "ADMIN_"))}
    env["DATABASE_URL"] = f"sqlite:///{tmp_path}/quickstart.db"
    log = (tmp_path / "make-run.log").open("w")
    process = subprocess.Popen(
        [make, "run"],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            assert process.poll() is None, (tmp_path / "make-run.log").read_text()
            try:
                if httpx.get("http://127.0.0.1:8080/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, (tmp_path / "make-run.log").read_text()
            time.sleep(0.2)
        yield
    finally:
        os.killpg(process.pid, signal.SIGTERM)  # make and the API it started
        process.wait(30)
        log.close()


RUN = [(p, n, t) for p, n, t in ALL if any("run" in e for e in listed(p, t))]


@pytest.mark.parametrize(("path", "line", "text"), RUN, ids=[f"{p.name}:{n}" for p, n, _ in RUN])
def test_runnable_blocks_run_as_written(path, line, text, request):
    what = entry(path, text)["run"]
    if what.get("serve"):
        request.getfixturevalue("make_run")
    done = subprocess.run(
        ["bash", "-e"], input=text, cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    for expected in what.get("expect", []):
        assert expected in done.stdout, f"{expected!r} not in:\n{done.stdout}"
