"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from service.deps import Index, ready_state
from service.errors import error_responses

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
