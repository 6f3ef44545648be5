"""Finding the real tools the tests need: required in CI, a clear skip elsewhere."""

import os
import shutil
import sys
from pathlib import Path

import pytest

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
REPO = Path(__file__).resolve().parents[2]
# Tools the project installs itself (helm, kubectl) live here; see make/tools.mk.
TOOLS_BIN = REPO / ".tools" / "bin"


def missing(reason: str) -> None:
    """Fail in CI (nothing may skip there), skip with the reason on a user's machine."""
    if IN_CI:
        pytest.fail(f"required in CI: {reason}", pytrace=False)
    pytest.skip(reason)


def which(name: str) -> str | None:
    """.tools/bin first, then the running virtualenv's bin (not activated by `make test`), PATH."""
    for folder in (TOOLS_BIN, Path(sys.executable).parent):
        candidate = folder / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return shutil.which(name)


def require_tool(name: str, hint: str = "") -> str:
    """Path of a command-line tool, or fail/skip (see missing)."""
    path = which(name)
    if path is None:
        missing(f"{name} is not installed{': ' + hint if hint else ''}")
    return path
