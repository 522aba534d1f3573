"""Errors as `{"detail": "<field>: <problem>", "field": "<field>"}` with a 4xx status.

The service raises `ApiError` naming the request field; request validation errors from
pydantic are rewritten into the same one-line shape so that every client (the page, curl,
tests) reads one format.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException


class ApiError(Exception):
    def __init__(self, field: str | None, message: str, status_code: int = 422):
        super().__init__(message)
        self.field = field
        self.message = message
        self.status_code = status_code

    @property
    def detail(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message


class NotFound(ApiError):
    def __init__(self, field: str | None, message: str):
        super().__init__(field, message, status_code=404)


def error_body(detail: str, field: str | None = None) -> dict:
    return {"detail": detail, "field": field}


def _location(loc: tuple) -> str:
    """('body', 'sequence', 'values', 3, 1) -> 'sequence.values[3][1]'."""
    parts = [p for p in loc if p not in ("body", "query", "path", "header", "form")]
    text = ""
    for p in parts:
        if isinstance(p, int):
            text += f"[{p}]"
        else:
            text += f".{p}" if text else str(p)
    return text or "body"


def _drop_union_tags(loc: tuple) -> tuple:
    """pydantic puts the tagged-union member ('text', 'values', ...) into the location twice:
    ('sequence', 'values', 'values', 0) -> ('sequence', 'values', 0)."""
    out: list = []
    for p in loc:
        if out and p == out[-1] and isinstance(p, str):
            continue
        out.append(p)
    return tuple(out)


def validation_detail(exc: RequestValidationError) -> tuple[str, str | None]:
    messages = []
    first_field = None
    for error in exc.errors()[:5]:
        loc = tuple(error.get("loc", ()))
        message = error.get("msg", "invalid")
        if error.get("type") == "json_invalid":  # loc is ("body", character position)
            field = "body"
            ctx = error.get("ctx") or {}
            message = f"invalid JSON at character {loc[-1]}: {ctx.get('error', message)}"
        else:
            field = _location(_drop_union_tags(loc))
        first_field = first_field or field
        messages.append(f"{field}: {message}")
    return "; ".join(messages) or "invalid request", first_field


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(error_body(exc.detail, exc.field), status_code=exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        detail, field = validation_detail(exc)
        return JSONResponse(error_body(detail, field), status_code=422)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        return JSONResponse(error_body(detail), status_code=exc.status_code,
                            headers=getattr(exc, "headers", None))
