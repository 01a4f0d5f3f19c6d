"""Keeping the HTTP surface true to the OpenAPI document.

FastAPI registers one route per method, so a wrong method on a path with several (``GET`` and
``POST /api/clients``) gets a 405 whose ``Allow`` names only one of them, and a body that is
not JSON gets a 400 that no operation documents. Both are fixed here, once, for every route.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from starlette.routing import compile_path

from attune.api.errors import ErrorBody

_BAD_BODY = {
    "description": "The body is not valid JSON.",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}},
}


def install(app: FastAPI) -> None:
    """Document 400 on every operation with a body, and answer 405s with the true Allow."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            document["components"]["schemas"].setdefault("ErrorBody", ErrorBody.model_json_schema())
            for operations in document["paths"].values():
                for operation in operations.values():
                    if "requestBody" in operation:
                        operation["responses"].setdefault("400", _BAD_BODY)
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def allowed_methods(app: FastAPI, path: str) -> str | None:
    """The ``Allow`` value for an API path (every method its operations take), or None when
    the path is not an API operation's."""
    if not hasattr(app.state, "allow_table"):
        table: list[tuple[re.Pattern[str], set[str]]] = []
        for template, operations in app.openapi()["paths"].items():
            regex, _, _ = compile_path(template)
            methods = {m.upper() for m in operations}
            table.append((regex, methods | ({"HEAD"} if "GET" in methods else set())))
        app.state.allow_table = table
    found = set().union(*(m for regex, m in app.state.allow_table if regex.match(path)))
    return ", ".join(sorted(found)) if found else None
