"""The API's routers, one module per concern, and the router class they share."""

from fastapi import APIRouter
from starlette.routing import Match, get_route_path
from starlette.types import Scope


class PrefixedRouter(APIRouter):
    """An APIRouter that FastAPI passes over at once for a path outside its prefix.

    FastAPI 0.165 tries the included routers in turn and, in each, every route's pattern, with
    no look at the prefix they all share: a request to the third router paid for matching the
    first two (the same skip is proposed upstream, fastapi/fastapi#16159). The check reads
    this router's own prefix, so include it without one of `include_router`'s.
    """

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if not get_route_path(scope).startswith(self.prefix):
            return Match.NONE, {}
        return super().matches(scope)
