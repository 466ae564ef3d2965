"""HTTP: the FastAPI app per ../shared/API.md. Model, index and sessions load once, at
startup; routes live in service/routes/ by area and call the same library functions as
the CLI."""

from __future__ import annotations

import asyncio
import ctypes
import os
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, HTTPException, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.body_limit import MAX_BODY_SIZE_SCOPE_KEY
from starlette.middleware.cors import CORSMiddleware
from starlette.routing import Route
from starlette.types import ASGIApp

from peerqa.config import Settings, get_settings, go_offline
from peerqa.retrieval.hybrid import IndexNotReady, LiveIndex, UnknownFilterValue
from peerqa.service import admin_worker
from peerqa.service.docs import DESCRIPTION as DOCS_DESCRIPTION
from peerqa.service.docs import add_docs
from peerqa.service.errors import body_error, error_responses
from peerqa.service.mcp_server import HttpEndpoint
from peerqa.service.metrics import Metrics
from peerqa.service.middleware import (
    MCP_PATH,
    RATE_LIMITED_PREFIX,
    EdgeMiddleware,
    RouteTemplates,
    configure_access_log,
)
from peerqa.service.routes import admin, answers, catalogue, evidence, openai, ops, responses
from peerqa.service.sessions import SessionStore
from peerqa.service.streaming import document_streamed_models

STATIC_DIR = Path(__file__).parent / "static"
# How long a CPU-bound thread (a new index generation loading and warming after an upload)
# may hold the GIL before a waiting request thread gets it. An ask hands the GIL back and
# forth many times (ONNX, numpy, Chroma); at Python's default 5 ms each hand-back during a
# load cost it up to half a second, at 0.5 ms it stays near its idle latency.
GIL_SWITCH_SECONDS = 0.0005
SESSIONS_FILE = "sessions.sqlite3"
CORS_METHODS = ["GET", "POST", "DELETE"]
# What a browser script may read: the retry wait of a 429, the request id, MCP's session.
CORS_EXPOSED = ["Retry-After", "X-Request-ID", "Mcp-Session-Id"]
CORS_MAX_AGE = 600
# Multipart framing around an uploaded file; the file itself is held to max_upload_bytes.
MULTIPART_SLACK = 64 * 1024
# The chat page loads only its own script and style, and sets evidence text as text: no
# inline script, nothing from elsewhere, no framing (defence in depth for untrusted docs).
CHAT_PAGE_CSP = (
    "default-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)


# glibc gives each thread that allocates its own malloc arena (up to 8 per core) and keeps
# what it frees there: the request thread pool then holds hundreds of MB it no longer
# uses. Two arenas cut the served 100k-passage index's peak RSS by ~220 MB, at no
# measured cost in latency.
MALLOC_ARENAS = 2
_M_ARENA_MAX = -8  # glibc's mallopt parameter


def cap_malloc_arenas() -> None:
    if os.environ.get("MALLOC_ARENA_MAX"):  # the operator's own setting wins
        return
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:  # not glibc (macOS, musl): nothing to cap
        return
    libc.mallopt(_M_ARENA_MAX, MALLOC_ARENAS)


class PeerQAApp(FastAPI):
    """FastAPI with service.middleware.EdgeMiddleware around its whole middleware stack
    (app.add_middleware would put it inside the error and body-limit middleware)."""

    def build_middleware_stack(self) -> ASGIApp:
        stack = super().build_middleware_stack()
        templates = RouteTemplates(lambda: [*self.openapi().get("paths", {}), MCP_PATH])
        settings = self.state.settings
        edge = EdgeMiddleware(stack, settings, self.state.metrics, templates)
        if not settings.cors_origins:
            return edge
        # Outermost: the edge's own refusals (429, 413) reach a browser with CORS headers,
        # and a preflight is answered here, before rate limiting.
        return CORSMiddleware(
            edge,
            allow_origins=settings.cors_origins,
            allow_methods=CORS_METHODS,
            allow_headers=["*"],
            expose_headers=CORS_EXPOSED,
            max_age=CORS_MAX_AGE,
        )


def create_app(settings: Settings | None = None) -> FastAPI:
    go_offline()  # an entry point of its own under uvicorn's factory
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        cap_malloc_arenas()  # before the index and the request threads allocate
        sys.setswitchinterval(GIL_SWITCH_SECONDS)
        app.state.index = LiveIndex(settings)
        app.state.checked_at = time.monotonic()
        # In the data dir even with a Chroma server: every worker on the machine shares it.
        app.state.sessions = SessionStore(
            settings.data_dir / SESSIONS_FILE,
            ttl_seconds=settings.session_ttl_seconds,
            max_turns=settings.session_max_turns,
        )
        try:
            async with mcp_endpoint.running():
                yield
        finally:
            await asyncio.to_thread(admin_worker.shutdown)

    app = PeerQAApp(
        title="peerqa",
        version="1",
        summary="Cited, verbatim answers about peer support programmes.",
        description=DOCS_DESCRIPTION,
        docs_url=None,  # service.docs serves /docs and /redoc from packaged assets
        redoc_url=None,
        lifespan=lifespan,
        max_body_size=settings.max_request_bytes,
    )
    app.state.settings = settings
    app.state.metrics = Metrics()
    mcp_endpoint = HttpEndpoint(lambda: app.state, settings)
    if settings.access_log:
        configure_access_log()
    _add_error_handlers(app)
    add_docs(app)
    for area in (ops, evidence, answers, openai, responses, catalogue):
        app.include_router(area.router)
    app.include_router(admin.router, max_body_size=settings.max_upload_bytes + MULTIPART_SLACK)

    @app.get(
        "/",
        tags=["chat page"],
        response_class=FileResponse,
        responses={200: {"content": {"text/html": {}}}, **error_responses(404)},
    )
    def chat_page() -> FileResponse:
        """The chat page (service/static/index.html; its assets are under /static)."""
        page = STATIC_DIR / "index.html"
        if not page.is_file():
            raise HTTPException(404, "the chat page is not installed")
        return FileResponse(page, headers={"Content-Security-Policy": CHAT_PAGE_CSP})

    app.mount("/static", StaticFiles(directory=STATIC_DIR, check_dir=False), name="static")
    # MCP over streamable HTTP (service/mcp_server.py): a plain ASGI route, so not in the
    # OpenAPI document; rate-limited and body-checked by EdgeMiddleware like /v1/*.
    app.router.routes.append(Route(MCP_PATH, mcp_endpoint, name="mcp"))
    document_streamed_models(app)
    _document_edge_responses(app)
    return app


def _document_edge_responses(app: FastAPI) -> None:
    """Add what EdgeMiddleware may answer to every operation it applies to: 429 on /v1/*
    (documented whether or not a limit is set: settings do not change the contract), 413
    wherever there is a request body."""
    generate = app.openapi
    too_large, rate_limited = (error_responses(code)[code] for code in (413, 429))

    def openapi() -> dict:
        spec = generate()  # cached by FastAPI: the additions below are made once
        for path, operations in spec.get("paths", {}).items():
            for operation in operations.values():
                responses = operation.setdefault("responses", {})
                if path.startswith(RATE_LIMITED_PREFIX):
                    responses.setdefault("429", _as_openapi(rate_limited))
                if "requestBody" in operation:
                    responses.setdefault("413", _as_openapi(too_large))
        return spec

    app.openapi = openapi  # type: ignore[method-assign]


def _as_openapi(response: dict) -> dict:
    return {
        "description": response["description"],
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}},
    }


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(IndexNotReady)
    async def not_ready(_: Request, err: IndexNotReady) -> JSONResponse:
        return JSONResponse({"detail": str(err)}, status_code=503)

    @app.exception_handler(UnknownFilterValue)
    async def unknown_filter(_: Request, err: UnknownFilterValue) -> JSONResponse:
        detail = [
            {
                "loc": ["body", "filters", err.key],
                "msg": str(err),
                "type": "enum",
                "input": err.value,
                "ctx": {"allowed": err.allowed},
            }
        ]
        return JSONResponse({"detail": detail}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, err: StarletteHTTPException) -> Response:
        if err.status_code == 400:
            # Only body parsing raises 400 here (multipart, form): invalid input, so a 422
            # naming the body like every other.
            message = f"the request body could not be parsed: {err.detail}"
            return JSONResponse({"detail": body_error(message)}, status_code=422)
        if err.status_code == 413 and err.detail == "Content Too Large":  # Starlette's limit
            limit = request.scope.get(MAX_BODY_SIZE_SCOPE_KEY)
            detail = f"request body over the {limit}-byte limit" if limit else err.detail
            return JSONResponse({"detail": detail}, status_code=413)
        return await http_exception_handler(request, err)

    @app.exception_handler(Exception)
    async def unexpected(_: Request, err: Exception) -> JSONResponse:
        # A bug, not bad input (input errors are 4xx above): the server logs the traceback;
        # the client gets JSON like every other error, and no internals.
        return JSONResponse({"detail": "internal server error"}, status_code=500)
