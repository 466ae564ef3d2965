"""Liveness, readiness and metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel

from peerqa.retrieval.hybrid import LiveIndex
from peerqa.service.deps import Index, ready_state
from peerqa.service.errors import error_responses
from peerqa.service.metrics import CONTENT_TYPE, Metrics

router = APIRouter(tags=["ops"])


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    status: str
    passages: int
    documents: int
    generation: int


@router.get("/healthz")
def healthz() -> Health:
    return Health(status="ok")


@router.get("/readyz", responses=error_responses(503))
def readyz(index: Index) -> Readiness:
    state = ready_state(index)
    return Readiness(
        status="ready",
        passages=len(index.passages),
        documents=len(state.documents),
        generation=state.generation,
    )


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
async def metrics(request: Request) -> Response:
    """This worker's request, answer and index metrics in the Prometheus text format.
    Not rate limited. Async on purpose: it reads counters only the event loop writes."""
    state = request.app.state
    recorded: Metrics = state.metrics
    index: LiveIndex | None = getattr(state, "index", None)  # what this worker serves now
    live = index.state if index is not None else None
    passages = len(index.passages) if index is not None and live is not None else 0
    return Response(recorded.render(live, passages), media_type=CONTENT_TYPE)
