"""Per-request access to what the app loaded at startup (see service.app.lifespan)."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import Depends, Request

from peerqa.config import Settings
from peerqa.store import IndexState
from retrieval.hybrid import LiveIndex
from service.sessions import SessionStore

POINTER_CHECK_SECONDS = 2.0  # how stale a worker may be after another process publishes


def live_index(request: Request) -> LiveIndex:
    state = request.app.state
    if time.monotonic() - state.checked_at > POINTER_CHECK_SECONDS:
        state.checked_at = time.monotonic()
        state.index.refresh()
    return state.index


def app_settings(request: Request) -> Settings:
    return request.app.state.settings


def session_store(request: Request) -> SessionStore:
    return request.app.state.sessions


Index = Annotated[LiveIndex, Depends(live_index)]
AppSettings = Annotated[Settings, Depends(app_settings)]
Sessions = Annotated[SessionStore, Depends(session_store)]


def ready_state(index: LiveIndex) -> IndexState:
    """The live index state; IndexNotReady (503) when nothing has been ingested."""
    index.require()
    assert index.state is not None  # require() guarantees it
    return index.state
