"""The HTTP error handlers: every problem answered as `{"detail", "field"}` (app/errors.py)."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException

from app.api.middleware import security_headers
from app.errors import ApiError, describe_errors, error_body

log = logging.getLogger("gatescope")


def validation_detail(exc: RequestValidationError | ValidationError) -> tuple[str, str | None]:
    return describe_errors(list(exc.errors()))


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        if exc.status_code >= 500:
            log.error("%s %s: %s", request.method, request.url.path, exc.detail)
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

    @app.exception_handler(MemoryError)
    async def out_of_memory(request: Request, exc: MemoryError) -> JSONResponse:
        # The server's memory (an address-space limit it runs under, or the machine's) ran
        # out for this request alone: what it allocated is freed, others go on being served.
        log.error("%s %s: out of memory", request.method, request.url.path)
        return JSONResponse(error_body(
            "the server has not enough memory for this request now; ask for fewer steps, a "
            "smaller hidden_size or a shorter window, or try again later"), status_code=503)

    @app.exception_handler(Exception)
    async def server_fault(request: Request, exc: Exception) -> JSONResponse:
        # Starlette answers this outside every middleware, so the security headers are
        # added here; the details go to the log, not to the client.
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse(
            error_body("the server failed to answer this request; the error is in its log"),
            status_code=500, headers=security_headers(
                request.url.path, request.app.state.settings.frame_ancestors))
