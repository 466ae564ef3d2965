"""HTTP: the FastAPI app per ../shared/API.md. Model, index and sessions load once, at
startup; routes live in service/routes/ by area and call the same library functions as
the CLI."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from peerqa.config import Settings, get_settings
from retrieval.hybrid import IndexNotReady, LiveIndex, UnknownFilterValue
from service.errors import error_responses
from service.routes import admin, answers, catalogue, evidence, openai, ops
from service.sessions import SessionStore
from service.streaming import document_streamed_models

STATIC_DIR = Path(__file__).parent / "static"
SESSIONS_FILE = "sessions.sqlite3"
# Multipart framing around an uploaded file; the file itself is held to max_upload_bytes.
MULTIPART_SLACK = 64 * 1024


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.index = LiveIndex(settings)
        app.state.checked_at = time.monotonic()
        # In the data dir even with a Chroma server: every worker on the machine shares it.
        app.state.sessions = SessionStore(
            settings.data_dir / SESSIONS_FILE,
            ttl_seconds=settings.session_ttl_seconds,
            max_turns=settings.session_max_turns,
        )
        yield

    app = FastAPI(
        title="peerqa",
        version="1",
        summary="Cited, verbatim answers about peer support programmes.",
        lifespan=lifespan,
        max_body_size=settings.max_request_bytes,
    )
    app.state.settings = settings
    _add_error_handlers(app)
    for area in (ops, evidence, answers, openai, catalogue):
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
        return FileResponse(page)

    app.mount("/static", StaticFiles(directory=STATIC_DIR, check_dir=False), name="static")
    document_streamed_models(app)
    return app


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

    @app.exception_handler(Exception)
    async def unexpected(_: Request, err: Exception) -> JSONResponse:
        # A bug, not bad input (input errors are 4xx above): the server logs the traceback;
        # the client gets JSON like every other error, and no internals.
        return JSONResponse({"detail": "internal server error"}, status_code=500)
