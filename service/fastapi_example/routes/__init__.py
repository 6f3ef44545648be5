"""The API's routers, one module per resource, and what they share: their router class and
what a PATCH changes."""

from typing import Any

from fastapi import APIRouter
from starlette.routing import Match, get_route_path
from starlette.types import Scope


class PrefixedRouter(APIRouter):
    """An APIRouter that FastAPI passes over at once for a path outside its prefix.

    FastAPI tries the included routers in turn and, in each, matches every route's pattern
    without first looking at the prefix they share, so a request paid for matching the
    routes of every router included before its own (docs/decisions/0003-prefixed-routers.md).
    The check reads this router's own prefix: include it without one of include_router's.
    """

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if not get_route_path(scope).startswith(self.prefix):
            return Match.NONE, {}
        return super().matches(scope)


def changed(row: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """The changes that would change the row. A PATCH that repeats what is there leaves the
    row as it is, its updated_at included, as applying a JSON merge patch of those values
    would (a new password always counts: its hash has a salt of its own)."""
    return {name: value for name, value in changes.items() if name not in row or row[name] != value}
