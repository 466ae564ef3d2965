"""OpenAI-compatible chat completions, so chat front ends and the `openai` client can use
peerqa as model `peerqa`: the answer keeps its [n] markers and ends with its sources."""

from __future__ import annotations

import textwrap
import time
import uuid
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException

from peerqa.answer.compose import compose
from peerqa.config import Settings
from peerqa.models import ROLE_WORDS, Citation, study_label
from peerqa.retrieval.hybrid import IndexNotReady, LiveIndex
from peerqa.service.deps import AppSettings, Index, json_body
from peerqa.service.errors import body_error, error_responses, openai_error
from peerqa.service.middleware import note_abstained
from peerqa.service.openai_compat import Unsupported, check_parameters, structured_content
from peerqa.service.schemas import (
    AssistantMessage,
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
    ChunkChoice,
    ChunkDelta,
    CompletionChoice,
    FinishReason,
    ModelCard,
    ModelList,
    Usage,
)
from peerqa.service.streaming import event_stream, pieces, ref, stream_doc

MODEL = "peerqa"
OWNER = "peerqa"
STARTED = int(time.time())
EXCERPT_CHARS = 160
MAX_TURN_CHARS = 2000  # as a question (peerqa.models.Question)
STREAM_DOC = """With `"stream": true` the response is an OpenAI `chat.completion.chunk` stream
(`text/event-stream`): `data: {chunk}` lines — the first with the assistant role, then
content deltas (answer, then sources), then one with `finish_reason` and `citations`,
with `stream_options.include_usage` one with `usage` and no choices — and finally
`data: [DONE]`.

`response_format` `json_object` makes the content the answer as a JSON object (answer,
abstained, reason, reason_code, caveat, citations, question); `json_schema` makes it that
object cut to the schema's properties, when the schema accepts what the service fills
(else a 400). Every OpenAI parameter is listed in the README's table: honoured, accepted
with no effect (and why), or a 400 naming it."""


_QUESTION = {"role": "user", "content": "How do programmes prevent burnout?"}
CHAT_EXAMPLES = {
    "a question": {"value": {"model": MODEL, "messages": [_QUESTION]}},
    "streamed": {"value": {"model": MODEL, "messages": [_QUESTION], "stream": True}},
}


class OpenAIErrorRoute(APIRoute):
    """Errors carry OpenAI's `error` object (message, type, param) beside the usual
    `detail`: OpenAI clients and chat front ends show `error.message` to the user."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def with_openai_errors(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as err:
                errors = jsonable_encoder(err.errors())
                fields = [".".join(str(part) for part in e["loc"][1:]) for e in errors]
                message = "; ".join(f"{f}: {e['msg']}" for f, e in zip(fields, errors, strict=True))
                return _error(422, errors, message, fields[0] or None)
            except StarletteHTTPException as err:  # FastAPI's, and the body-size limit's
                if err.status_code == 400:  # an unreadable body: invalid input like any other
                    message = f"the request body could not be parsed: {err.detail}"
                    return _error(422, body_error(message), message)
                return _error(err.status_code, err.detail, str(err.detail), headers=err.headers)
            except IndexNotReady as err:
                return _error(503, str(err), str(err))
            except Unsupported as err:
                return _error(400, str(err), str(err), err.param)

        return with_openai_errors


def _error(
    status: int,
    detail: Any,
    message: str,
    param: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body = {"detail": detail, "error": openai_error(status, message, param)}
    return JSONResponse(body, status, headers=headers)


router = APIRouter(tags=["openai"], route_class=OpenAIErrorRoute)


@router.get("/v1/models")
def list_models() -> ModelList:
    return ModelList(data=[_card()])


@router.get("/v1/models/{model_id}", responses=error_responses((404, "Unknown model")))
def get_model(model_id: str) -> ModelCard:
    _check_model(model_id)
    return _card()


@router.post(
    "/v1/chat/completions",
    response_model=ChatCompletion,
    description=STREAM_DOC,
    responses={
        200: stream_doc(
            "A chat.completion, or with `stream` chat.completion.chunk events, then [DONE]",
            ref(ChatCompletionChunk),
            last="[DONE]",
        ),
        **error_responses(
            (400, "A parameter value the service cannot honour (OpenAI's `error.param` names it)"),
            (404, "Unknown model"),
            413,
            503,
        ),
    },
)
def chat_completions(
    body: Annotated[ChatCompletionRequest, Body(openapi_examples=CHAT_EXAMPLES)],
    index: Index,
    settings: AppSettings,
    request: Request,
) -> Response:
    done = complete(body, index, settings, request)
    completion_id, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())
    if body.stream:
        with_usage = bool(body.stream_options and body.stream_options.include_usage)
        return event_stream(
            _chunks(
                completion_id,
                created,
                pieces(done.content),
                done.finish,
                done.citations,
                done.usage if with_usage else None,
            )
        )
    completion = ChatCompletion(
        id=completion_id,
        created=created,
        model=MODEL,
        choices=[
            CompletionChoice(
                message=AssistantMessage(content=done.content), finish_reason=done.finish
            )
        ],
        usage=done.usage,
        citations=done.citations,
    )
    return json_body(completion)


@dataclass(frozen=True)
class Completed:
    content: str
    finish: FinishReason
    usage: Usage
    citations: list[Citation]


def complete(
    body: ChatCompletionRequest, index: LiveIndex, settings: Settings, request: Request
) -> Completed:
    """The reply to a chat-completions request (or its /v1/responses equivalent), once
    every parameter is known to be honoured: Unsupported (a 400) before any work if not."""
    _check_model(body.model)
    check_parameters(body)
    # Earlier turns come from the client, unbounded but for the body limit: cut each to a
    # question's length, as a session's history would be.
    history = [turn[:MAX_TURN_CHARS] for turn in body.history()[-settings.session_max_turns :]]
    answer = compose(index, body.question(), history=history)
    note_abstained(request, answer.abstained)
    structured = structured_content(answer, body)
    text = structured if structured is not None else answer.answer + sources_text(answer.citations)
    content, finish = limited(text, body)
    prompt_words = sum(len(m.text().split()) for m in body.messages)
    completion_words = len(content.split())
    usage = Usage(
        prompt_tokens=prompt_words,
        completion_tokens=completion_words,
        total_tokens=prompt_words + completion_words,
    )
    return Completed(content, finish, usage, answer.citations)


def limited(content: str, body: ChatCompletionRequest) -> tuple[str, FinishReason]:
    """`content` cut before the first stop sequence, then to `max_tokens` words (usage
    counts words: there is no tokenizer), with the finish reason OpenAI would give."""
    stops = [body.stop] if isinstance(body.stop, str) else body.stop or []
    cuts = [i for s in stops if s and (i := content.find(s)) >= 0]
    if cuts:
        content = content[: min(cuts)]
    limit = body.max_completion_tokens or body.max_tokens
    if limit is not None:
        words = pieces(content, 1)
        if len(words) > limit:
            return "".join(words[:limit]), "length"
    return content, "stop"


def sources_text(citations: Sequence[Citation]) -> str:
    """What follows the answer: one line per citation,
    `[1] section — Programme E, peer supporter — excerpt… (passage id)`."""
    if not citations:
        return ""
    lines = []
    for c in citations:
        who = ", ".join(
            part
            for part in (c.programme and f"Programme {c.programme}", ROLE_WORDS.get(c.role or ""))
            if part
        )
        excerpt = textwrap.shorten(c.text, EXCERPT_CHARS, placeholder=" …")
        lines.append(
            " — ".join(
                p for p in (f"{c.marker} {c.section}", study_label(c.study), who, excerpt) if p
            )
            + f" ({c.id})"
        )
    return "\n\nSources:\n" + "\n".join(lines)


def _chunks(
    completion_id: str,
    created: int,
    texts: list[str],
    finish: FinishReason,
    citations: list[Citation],
    usage: Usage | None,
) -> list[str]:
    def chunk(choices: list[ChunkChoice], **extra: Any) -> str:
        body = ChatCompletionChunk(
            id=completion_id, created=created, model=MODEL, choices=choices, **extra
        )
        return f"data: {body.model_dump_json()}\n\n"

    return [
        chunk([ChunkChoice(delta=ChunkDelta(role="assistant", content=""))]),
        *(chunk([ChunkChoice(delta=ChunkDelta(content=text))]) for text in texts),
        chunk([ChunkChoice(delta=ChunkDelta(), finish_reason=finish)], citations=citations),
        *([chunk([], usage=usage)] if usage else []),
        "data: [DONE]\n\n",
    ]


def _check_model(model_id: str) -> None:
    if model_id != MODEL:
        raise HTTPException(404, f"unknown model {model_id!r}: this server serves {MODEL!r}")


def _card() -> ModelCard:
    return ModelCard(id=MODEL, created=STARTED, owned_by=OWNER)
