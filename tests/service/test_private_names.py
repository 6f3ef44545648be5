"""No module of the API or its jobs uses a private name of the frameworks or the standard
library: such a name can change or vanish in any release, pins or not.

An AST walk over service/ and cronjobs/: imports of private names or modules
(`from fastapi.routing import _x`, `import sqlalchemy.util._concurrency`), attribute access
through an imported name (`logging._srcfile`, `fastapi.routing._x`), and, in a class that
extends a framework's class, `self._x` that the class does not define itself.
"""

import ast
import sys
from pathlib import Path

import pytest

from tests.support.tools import REPO

WATCHED = {"fastapi", "starlette", "pydantic", "pydantic_core", "sqlalchemy", "sqlmodel"}
WATCHED |= {"uvicorn", *sys.stdlib_module_names}
SOURCES = sorted([*(REPO / "service").rglob("*.py"), *(REPO / "cronjobs").rglob("*.py")])


def is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def watched(module: str | None) -> bool:
    return module is not None and module.split(".")[0] in WATCHED


def private_uses(source: str) -> list[str]:
    """Each private name the source takes from a watched package, with its line."""
    tree = ast.parse(source)
    imported: set[str] = set()  # names bound to a watched module or to one of its objects
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if watched(alias.name):
                    if any(is_private(part) for part in alias.name.split(".")):
                        found.append(f"{node.lineno}: import {alias.name}")
                    imported.add(alias.asname or alias.name.split(".")[0])
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and watched(node.module):
            if any(is_private(part) for part in node.module.split(".")):
                found.append(f"{node.lineno}: from {node.module}")
            for alias in node.names:
                if is_private(alias.name):
                    found.append(f"{node.lineno}: from {node.module} import {alias.name}")
                imported.add(alias.asname or alias.name)
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and is_private(node.attr):
            base = node.value
            while isinstance(base, ast.Attribute):
                base = base.value
            if isinstance(base, ast.Name) and base.id in imported:
                found.append(f"{node.lineno}: {ast.unparse(node)}")
        elif isinstance(node, ast.ClassDef):
            found += _inherited_private_uses(node, imported)
    return found


def _inherited_private_uses(cls: ast.ClassDef, imported: set[str]) -> list[str]:
    """`self._x` in a class extending an imported class, where the class never sets `_x`."""
    bases = [base for base in cls.bases if isinstance(base, ast.Name | ast.Attribute)]
    if not any(ast.unparse(base).split(".")[0] in imported for base in bases):
        return []
    own = {
        target.attr
        for node in ast.walk(cls)
        if isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign)
        for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
        if isinstance(target, ast.Attribute)
    }
    own |= {
        node.name for node in cls.body if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    }
    own |= {
        target.id
        for node in cls.body
        if isinstance(node, ast.Assign | ast.AnnAssign)
        for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
        if isinstance(target, ast.Name)
    }
    return [
        f"{node.lineno}: {ast.unparse(node)}"
        for node in ast.walk(cls)
        if isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == "self"
        and is_private(node.attr)
        and node.attr not in own
    ]


@pytest.mark.parametrize("path", SOURCES, ids=lambda path: str(path.relative_to(REPO)))
def test_no_private_name_of_a_framework_or_the_standard_library(path: Path):
    assert private_uses(path.read_text()) == []


def test_the_sources_are_found():
    names = {path.name for path in SOURCES}
    assert {"main.py", "db.py", "token_cleanup.py"} <= names


@pytest.mark.parametrize(
    "source",
    [
        "import logging\nlogging._srcfile = None",
        "from fastapi.routing import _get_scope_effective_route_context",
        "import fastapi.routing\nfastapi.routing._get_scope_effective_route_context(scope)",
        "from sqlalchemy import util as u\nu._concurrency_py3k",
        "import sqlalchemy.util._concurrency_py3k",
        "from starlette import _exception_handler",
        "from fastapi.routing import APIRoute\n"
        "class R(APIRoute):\n    def f(self):\n        return self._embed_body_fields",
    ],
)
def test_the_walk_finds_each_kind_of_private_use(source: str):
    assert private_uses(source)


@pytest.mark.parametrize(
    "source",
    [
        "import logging\nlogging.__name__",
        "from fastapi import APIRouter\nclass R(APIRouter):\n"
        "    def __init__(self):\n        self._mine = 1\n"
        "    def f(self):\n        return self._mine",
        "import asyncmy\nasyncmy._anything",  # not a watched package
        "from fastapi_example import logs\nlogs._own",  # the project's own names
    ],
)
def test_the_walk_leaves_public_and_own_names_alone(source: str):
    assert private_uses(source) == []
