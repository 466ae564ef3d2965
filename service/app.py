"""HTTP: FastAPI app per ../shared/API.md. Model and index load once, at startup."""

from __future__ import annotations

import time
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse

from peerqa.config import Settings, get_settings
from peerqa.models import PassageInContext, SearchRequest, SearchResponse
from retrieval.hybrid import IndexNotReady, LiveIndex, UnknownFilterValue

POINTER_CHECK_SECONDS = 2.0  # how stale a worker may be after another process publishes


def live_index(request: Request) -> LiveIndex:
    state = request.app.state
    if time.monotonic() - state.checked_at > POINTER_CHECK_SECONDS:
        state.checked_at = time.monotonic()
        state.index.refresh()
    return state.index


Index = Annotated[LiveIndex, Depends(live_index)]


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.index = LiveIndex(settings)
        app.state.checked_at = time.monotonic()
        yield

    app = FastAPI(
        title="peerqa",
        version="1",
        summary="Cited, verbatim answers about peer support programmes.",
        lifespan=lifespan,
    )

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

    @app.get("/healthz", tags=["ops"])
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["ops"], responses={503: {"description": "Index not loaded"}})
    def readyz(index: Index) -> dict:
        if not index.ready:
            raise IndexNotReady("the index is empty: run `peerqa ingest` first")
        return {
            "status": "ready",
            "passages": len(index.passages),
            "documents": len(index.state.documents),
            "generation": index.state.generation,
        }

    @app.post("/v1/search", tags=["evidence"], response_model=SearchResponse)
    def search(body: SearchRequest, index: Index) -> SearchResponse:
        results = index.search(body.query, top_k=body.top_k, filters=body.filters)
        return SearchResponse(query=body.query, results=results)

    @app.get(
        "/v1/passages/{passage_id}",
        tags=["evidence"],
        response_model=PassageInContext,
        responses={404: {"description": "Unknown passage id"}},
    )
    def passage(passage_id: str, index: Index) -> PassageInContext:
        index.require()
        found = index.passages.get(passage_id)
        if found is None:
            raise HTTPException(404, f"no passage with id {passage_id!r}")
        previous_id, next_id = index.neighbours(passage_id)
        return PassageInContext(**found.model_dump(), previous_id=previous_id, next_id=next_id)

    return app
