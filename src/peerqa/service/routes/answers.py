"""Answers: a cited answer (or an honest abstention) within a chat session, whole or
streamed as server-sent events; a session's kept turns, read back."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field, TypeAdapter

from peerqa.answer.compose import DEFAULT_TOP_K, compose
from peerqa.answer.scope import about
from peerqa.models import Citation
from peerqa.retrieval.hybrid import LiveIndex
from peerqa.service.deps import Index, Sessions, json_body
from peerqa.service.errors import error_responses
from peerqa.service.middleware import note_abstained
from peerqa.service.schemas import AskRequest, AskResponse, StreamDelta
from peerqa.service.sessions import SessionStore
from peerqa.service.streaming import event_stream, pieces, ref, sse, stream_doc

router = APIRouter(tags=["answers"])

_CITATIONS = TypeAdapter(list[Citation])
STREAM_DOC = """`text/event-stream`, in this order:

- `event: citations` — data: the JSON list of citations (as in `/v1/ask`);
- `event: delta` (one or more) — data: `{"text": "..."}`, consecutive pieces of the answer;
  joined they are exactly the answer;
- `event: done` — data: the full `/v1/ask` response body.

Errors (422, 503, …) are ordinary JSON responses: nothing is streamed before the answer
is ready."""


def answer_turn(body: AskRequest, index: LiveIndex, sessions: SessionStore) -> AskResponse:
    """One turn: resolve the question against the session's earlier questions and the
    paper it is on, answer it, and record it with the papers it was about."""
    session = sessions.resume(body.session_id)
    answer = compose(
        index,
        body.question,
        top_k=body.top_k or DEFAULT_TOP_K,
        filters=body.filters,
        history=session.history,
        focus=session.focus,
    )
    # A declined turn naming no paper leaves the conversation on the paper it was on.
    documents = session.focus if answer.abstained and not answer.scope else about(answer)
    sessions.record(session.id, body.question, answer.answer, documents)
    return AskResponse(**answer.model_dump(exclude={"session_id"}), session_id=session.id)


@router.post("/v1/ask", response_model=AskResponse, responses=error_responses(413, 503))
def ask(body: AskRequest, index: Index, sessions: Sessions, request: Request) -> Response:
    """A cited answer: every evidence sentence ends with a marker `[n]` of `citations`."""
    reply = answer_turn(body, index, sessions)
    note_abstained(request, reply.abstained)
    return json_body(reply)


@router.post(
    "/v1/ask/stream",
    response_class=StreamingResponse,
    description=STREAM_DOC,
    responses={
        200: stream_doc(
            "Server-sent events: citations, delta…, done",
            {
                "oneOf": [
                    {"type": "array", "items": ref(Citation)},
                    ref(StreamDelta),
                    ref(AskResponse),
                ]
            },
            events=("citations", "delta", "done"),
        ),
        **error_responses(413, 503),
    },
)
def ask_stream(
    body: AskRequest, index: Index, sessions: Sessions, request: Request
) -> StreamingResponse:
    reply = answer_turn(body, index, sessions)
    note_abstained(request, reply.abstained)
    events = [sse(_CITATIONS.dump_json(reply.citations).decode(), "citations")]
    events += [
        sse(StreamDelta(text=piece).model_dump_json(), "delta") for piece in pieces(reply.answer)
    ]
    events.append(sse(reply.model_dump_json(), "done"))
    return event_stream(events)


class SessionTurn(BaseModel):
    question: str
    answer: str = Field(description="The answer text as sent (with its [n] markers)")
    asked_at: datetime
    documents: list[str] | None = Field(
        default=None,
        description="The papers the turn was about (the next question naming none stays on "
        "them); null when not recorded",
    )


class SessionTurns(BaseModel):
    session_id: str
    turns: list[SessionTurn] = Field(description="The kept turns, oldest first")
    expires_at: datetime = Field(description="When the session ends unless it is continued")


def _utc(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


@router.get(
    "/v1/sessions/{session_id}",
    response_model=SessionTurns,
    responses=error_responses((404, "Unknown or expired session")),
)
def session_turns(session_id: Annotated[str, Path(max_length=128)], sessions: Sessions) -> Response:
    """A live session's kept turns (questions and answer texts), e.g. for a client that
    resumes a conversation after a reload. Reading does not extend the session."""
    kept = sessions.turns(session_id)
    if kept is None:
        raise HTTPException(404, "unknown or expired session")
    turns, expires_at = kept
    return json_body(
        SessionTurns(
            session_id=session_id,
            turns=[
                SessionTurn(
                    question=t.question,
                    answer=t.answer,
                    asked_at=_utc(t.asked_at),
                    documents=list(t.documents) if t.documents is not None else None,
                )
                for t in turns
            ],
            expires_at=_utc(expires_at),
        )
    )
