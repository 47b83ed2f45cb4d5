"""The OpenAPI operation of the public list of auctions (``GET /api/v1/public/auctions``,
served by :mod:`api.http.public`): a table :mod:`api.http.openapi` assembles, like the
other resources' operation tables."""

from __future__ import annotations

from typing import Any

from api.http.operations import operation
from api.http.public import LIST_LIMIT

__all__ = ["openapi_paths"]

_TIME = {"type": "integer", "minimum": 0, "description": "server time, microseconds"}
_MAYBE_TIME = {"anyOf": [_TIME, {"type": "null"}]}

_ENTRY = {
    "type": "object",
    "required": ["id", "format", "phase", "currency", "starts_at", "ends_at", "next_deadline"],
    "additionalProperties": False,
    "properties": {
        "id": {"type": "string"},
        "format": {"enum": ["english", "reverse", "dutch", "sealed", "multiround"]},
        "phase": {"enum": ["scheduled", "running", "paused"]},
        "currency": {"type": "string", "pattern": "^[A-Z]{3}$"},
        "starts_at": _TIME,
        "ends_at": _MAYBE_TIME,
        "next_deadline": _MAYBE_TIME,
    },
}

_LIST = {
    "type": "object",
    "required": ["server_time", "auctions", "more"],
    "additionalProperties": False,
    "properties": {
        "server_time": _TIME,
        "auctions": {"type": "array", "maxItems": LIST_LIMIT, "items": _ENTRY},
        "more": {"type": "boolean", "description": f"more than {LIST_LIMIT} were listable"},
    },
}


def openapi_paths() -> dict[str, Any]:
    """OpenAPI 3.1 path item of the public list (for :mod:`api.http.openapi`)."""
    return {
        "/api/v1/public/auctions": {
            "get": operation(
                "get",
                "/public/auctions",
                "public_auctions",
                "Live and upcoming auctions, newest first, for anyone",
                "none",
                200,
                success=_LIST,
                statuses=(429,),
                description=f"At most {LIST_LIMIT}; ended and cancelled auctions are not "
                "listed; no prices, bidders or reserve, never more than an observer sees.",
            )
        }
    }
