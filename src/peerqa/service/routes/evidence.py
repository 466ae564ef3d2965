"""Evidence: ranked passages for a query, and one passage with its neighbours."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Response

from peerqa.retrieval.hybrid import LiveIndex
from peerqa.service.deps import Index, json_body
from peerqa.service.errors import error_responses
from peerqa.service.schemas import PassageInContext, SearchRequest, SearchResponse

router = APIRouter(tags=["evidence"])


@router.post("/v1/search", response_model=SearchResponse, responses=error_responses(413, 503))
def search(body: SearchRequest, index: Index) -> Response:
    """Ranked passages (dense + BM25, fused), best first."""
    return json_body(search_passages(body, index))


def search_passages(body: SearchRequest, index: LiveIndex) -> SearchResponse:
    results = index.search(body.query, top_k=body.top_k, filters=body.filters)
    return SearchResponse(query=body.query, results=results)


@router.get(
    "/v1/passages/{passage_id}", responses=error_responses((404, "Unknown passage id"), 503)
)
def passage(
    passage_id: Annotated[
        str,
        Path(openapi_examples={"a quote": {"value": "joo-2022-peer-support:0100"}}),
    ],
    index: Index,
) -> PassageInContext:
    """A passage with the ids of the passages before and after it in its document."""
    index.require()
    found = index.passages.get(passage_id)
    if found is None:
        raise HTTPException(404, f"no passage with id {passage_id!r}")
    previous_id, next_id = index.neighbours(passage_id)
    return PassageInContext(**found.model_dump(), previous_id=previous_id, next_id=next_id)
