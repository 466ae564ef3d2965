"""Per-request access to what the app loaded at startup (see service.app.lifespan)."""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import Depends, Request, Response
from pydantic import BaseModel

from peerqa.config import Settings
from peerqa.retrieval.hybrid import LiveIndex
from peerqa.service import admin_worker
from peerqa.service.sessions import SessionStore
from peerqa.store import IndexState

POINTER_CHECK_SECONDS = 2.0  # how stale a worker may be after another process publishes


def live_index(request: Request) -> LiveIndex:
    return fresh_index(request.app.state)


def fresh_index(state: Any) -> LiveIndex:
    """`state.index`, refreshed when another process may have published since the last
    check (`state` is the app's, or the stdio MCP server's: see service.mcp_server)."""
    index = state.index
    # An admin write of this process loads what it publishes itself (admin_worker.write):
    # meanwhile this request is served from the loaded generation, as it is while another
    # thread loads one (wait=False), instead of loading it on its own latency.
    if time.monotonic() - state.checked_at > POINTER_CHECK_SECONDS and (
        not index.ready or not admin_worker.in_progress()
    ):
        state.checked_at = time.monotonic()
        index.refresh(wait=False)
    return index


# async: FastAPI runs a plain `def` dependency on its thread pool, a hop per request for
# what is an attribute read. (live_index stays sync: a refresh may load a generation.)
async def app_settings(request: Request) -> Settings:
    return request.app.state.settings


async def session_store(request: Request) -> SessionStore:
    return request.app.state.sessions


Index = Annotated[LiveIndex, Depends(live_index)]
AppSettings = Annotated[Settings, Depends(app_settings)]
Sessions = Annotated[SessionStore, Depends(session_store)]


def json_body(model: BaseModel) -> Response:
    """`model` as the JSON response, serialised once by pydantic-core. Returned as a model,
    FastAPI would dump it, validate the dump against the response model and serialise
    that: ~2x the CPU of a search response. Routes returning this name their
    `response_model`, so the schema stays documented (and checked by schemathesis)."""
    return Response(model.model_dump_json(), media_type="application/json")


def ready_state(index: LiveIndex) -> IndexState:
    """The live index state; IndexNotReady (503) when nothing has been ingested."""
    index.require()
    assert index.state is not None  # require() guarantees it
    return index.state
