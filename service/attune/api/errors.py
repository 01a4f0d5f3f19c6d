"""Our exceptions -> HTTP errors with one body shape, documented in the OpenAPI."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from attune.errors import (
    AttuneError,
    AuthError,
    ConfigError,
    ConflictError,
    ForbiddenError,
    NotFoundError,
)


class ErrorBody(BaseModel):
    """Every error the API itself raises (422 validation errors keep FastAPI's shape)."""

    code: str
    detail: str


# Exception -> (status, code); a subclass maps as its nearest listed base.
_STATUS: dict[type[AttuneError], tuple[int, str]] = {
    AuthError: (401, "unauthenticated"),
    ForbiddenError: (403, "forbidden"),
    NotFoundError: (404, "not_found"),
    ConflictError: (409, "conflict"),
    ConfigError: (422, "invalid_settings"),
}
_DESCRIPTIONS = {
    401: "No valid credential: sign in, or use a valid link token.",
    403: "The credential does not allow this (role, another session's link, another origin).",
    404: "No such resource (or not yours).",
    409: "Clashes with what is stored.",
    422: "The request is not valid.",
}


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for the error statuses a route can return."""
    return {
        status: {"model": ErrorBody, "description": _DESCRIPTIONS[status]}
        for status in statuses
        if status != HTTPStatus.UNPROCESSABLE_ENTITY  # FastAPI documents its own 422s
    }


async def _handle(request: Request, exc: Exception) -> JSONResponse:
    del request
    status, code = next(_STATUS[c] for c in type(exc).__mro__ if c in _STATUS)
    headers = {"WWW-Authenticate": "Bearer"} if status == HTTPStatus.UNAUTHORIZED else None
    return JSONResponse(
        ErrorBody(code=code, detail=str(exc)).model_dump(), status_code=status, headers=headers
    )


async def _handle_http(request: Request, exc: Exception) -> Response:
    """Starlette's own errors (400 for a body that is not JSON, 404, 405) in the same shape."""
    del request
    assert isinstance(exc, StarletteHTTPException)  # noqa: S101 - registered for it alone
    status = HTTPStatus(exc.status_code)
    body = ErrorBody(code=status.phrase.lower().replace(" ", "_"), detail=str(exc.detail))
    return JSONResponse(body.model_dump(), status_code=status, headers=exc.headers)


def install(app: FastAPI) -> None:
    for exc_type in _STATUS:
        app.add_exception_handler(exc_type, _handle)
    app.add_exception_handler(StarletteHTTPException, _handle_http)
