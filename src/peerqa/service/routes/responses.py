"""OpenAI's newer Responses API (`client.responses.create`), over the same machinery as
/v1/chat/completions: a request is read as the equivalent chat-completions request, so
every parameter is honoured, accepted with its effect stated, or refused with a 400
exactly as there (service.openai_compat), plus the Responses-only ones below."""

from __future__ import annotations

import json
import time
import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from peerqa.service.deps import AppSettings, Index
from peerqa.service.errors import error_responses
from peerqa.service.openai_compat import Parameter, Unsupported, refused
from peerqa.service.routes.openai import MODEL, OpenAIErrorRoute, complete
from peerqa.service.schemas import ChatCompletionRequest, ChatMessage, OpenAIRequest
from peerqa.service.streaming import event_stream, pieces, sse, stream_doc

router = APIRouter(tags=["openai"], route_class=OpenAIErrorRoute)


class InputContent(BaseModel):
    model_config = ConfigDict(extra="allow")

    type: str
    text: str | None = None


class InputMessage(BaseModel):
    model_config = ConfigDict(extra="allow")

    type: Literal["message"] = "message"
    role: Literal["user", "assistant", "system", "developer"]
    content: str | list[InputContent]


class TextFormat(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    type: Literal["text", "json_object", "json_schema"]
    name: str | None = None
    description: str | None = None
    schema_: dict[str, Any] | None = Field(default=None, alias="schema")
    strict: bool | None = None


class TextConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    format: TextFormat | None = None
    verbosity: str | None = None


class ResponsesRequest(OpenAIRequest):
    """OpenAI's Responses request: the shared parameters, and these."""

    input: str | list[InputMessage] = Field(description="The question, or messages")
    instructions: str | None = None
    text: TextConfig | None = None
    max_output_tokens: int | None = Field(default=None, ge=1)
    max_tool_calls: int | None = None
    truncation: str | None = None
    background: bool | None = None
    background_options: dict[str, Any] | None = None
    conversation: str | dict[str, Any] | None = None
    previous_response_id: str | None = None
    prompt: dict[str, Any] | None = None
    reasoning: dict[str, Any] | None = None
    include: list[str] | None = None
    image: dict[str, Any] | None = None
    access_programs: list[Any] | dict[str, Any] | None = None
    context_management: list[Any] | dict[str, Any] | None = None


NOT_STORED = "responses are not stored: each request stands alone"
# The Responses-only parameters; the others are the chat-completions parameters of the
# same name (or `text.format` -> response_format, `max_output_tokens` -> max_tokens).
RESPONSES_PARAMETERS: dict[str, Parameter] = {
    "input": Parameter(
        "supported",
        "a string is the question; in a message list the last user message is the "
        "question and earlier user messages its history (others are not read)",
    ),
    "instructions": Parameter("accepted", "not read, like a system message"),
    "text": Parameter("supported", "`format` as chat's `response_format`; `verbosity` is a 400"),
    "max_output_tokens": Parameter(
        "supported", "as chat's `max_tokens`: status `incomplete`, reason `max_output_tokens`"
    ),
    "max_tool_calls": Parameter("accepted", "no effect: no tool is ever called"),
    "truncation": Parameter("accepted", "no effect: the input is never truncated"),
    "store": refused(NOT_STORED, "true is a 400"),
    "previous_response_id": refused(NOT_STORED),
    "conversation": refused(NOT_STORED),
    "background": refused("responses are answered in the request", "true is a 400"),
    "background_options": refused("responses are answered in the request"),
    "prompt": refused("there are no stored prompts"),
    "reasoning": refused("peerqa is not a reasoning model"),
    "include": refused("there is nothing extra to include", "a non-empty list is a 400"),
    "image": refused("there is no image output"),
    "access_programs": refused("not available"),
    "context_management": refused("not available"),
}
# Passed on to the chat-completions request unchanged.
SHARED = tuple(name for name in OpenAIRequest.model_fields if name != "model")


def as_chat_request(body: ResponsesRequest) -> ChatCompletionRequest:
    """The equivalent chat-completions request; Unsupported for what has none."""
    for name, parameter in RESPONSES_PARAMETERS.items():
        if (why := parameter.refuse(getattr(body, name))) is not None:
            raise Unsupported(name, why)
    if body.text and body.text.verbosity:
        raise Unsupported("text.verbosity", "the answer's length is the evidence's")
    messages: list[dict[str, Any]] = []
    if isinstance(body.input, str):
        messages.append({"role": "user", "content": body.input})
    for i, item in enumerate(body.input if isinstance(body.input, list) else []):
        content = item.content
        if isinstance(content, list):
            for j, part in enumerate(content):
                if item.role == "user" and part.type != "input_text":
                    raise Unsupported(
                        f"input.{i}.content.{j}.type",
                        f"only input_text parts are read; a {part.type!r} part cannot be",
                    )
            content = [{"type": "text", "text": p.text} for p in content if p.text]
        messages.append({"role": item.role, "content": content})
    fmt = body.text.format if body.text else None
    response_format = None
    if fmt is not None:
        response_format = {"type": fmt.type}
        if fmt.type == "json_schema":
            response_format["json_schema"] = {
                "name": fmt.name or "answer",
                "schema": fmt.schema_,
                "strict": fmt.strict,
            }
    try:
        return ChatCompletionRequest(
            model=body.model,
            messages=[ChatMessage.model_validate(m) for m in messages],
            response_format=response_format,
            max_completion_tokens=body.max_output_tokens,
            **{name: getattr(body, name) for name in SHARED},
        )
    except ValidationError as err:  # the messages made of `input`: a 422 naming `input`
        errors = [{**e, "loc": ("body", "input", *e["loc"][1:])} for e in err.errors()]
        raise RequestValidationError(errors) from err


@router.post(
    "/v1/responses",
    description="OpenAI's Responses API: the answer as one `output_text` message, with a "
    "top-level `citations` list; `stream` gives OpenAI's `response.*` events.",
    responses={
        200: stream_doc(
            "An OpenAI `response` object, or with `stream` its `response.*` events",
            {"type": "object", "required": ["type", "sequence_number"]},
        ),
        **error_responses(
            (400, "A parameter value the service cannot honour (`error.param` names it)"),
            (404, "Unknown model"),
            413,
            503,
        ),
    },
)
def responses(
    body: Annotated[
        ResponsesRequest,
        Body(
            openapi_examples={
                "a question": {
                    "value": {"model": MODEL, "input": "How do programmes prevent burnout?"}
                }
            }
        ),  # fmt: skip
    ],
    index: Index,
    settings: AppSettings,
    request: Request,
) -> Response:
    chat = as_chat_request(body)
    done = complete(chat, index, settings, request)
    response_id, message_id = f"resp_{uuid.uuid4().hex}", f"msg_{uuid.uuid4().hex}"
    created = int(time.time())
    part = {"type": "output_text", "text": done.content, "annotations": []}
    message = {
        "type": "message",
        "id": message_id,
        "status": "completed",
        "role": "assistant",
        "content": [part],
    }
    incomplete = done.finish == "length"
    whole = {
        "id": response_id,
        "object": "response",
        "created_at": created,
        "status": "incomplete" if incomplete else "completed",
        "incomplete_details": {"reason": "max_output_tokens"} if incomplete else None,
        "error": None,
        "model": MODEL,
        "output": [message],
        "instructions": body.instructions,
        "max_output_tokens": body.max_output_tokens,
        "parallel_tool_calls": bool(body.parallel_tool_calls),
        "tool_choice": body.tool_choice or "auto",
        "tools": [],
        "temperature": body.temperature,
        "top_p": body.top_p,
        "text": {"format": {"type": chat.response_format.type if chat.response_format else "text"}},
        "metadata": body.metadata or {},
        "usage": {
            "input_tokens": done.usage.prompt_tokens,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": done.usage.completion_tokens,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": done.usage.total_tokens,
        },
        "citations": [json.loads(c.model_dump_json()) for c in done.citations],
    }
    if not body.stream:
        return Response(json.dumps(whole, ensure_ascii=False), media_type="application/json")
    return _event_stream(whole, message, part, done.content)


def _event_stream(whole: dict, message: dict, part: dict, content: str) -> Response:
    sequence = iter(range(1_000_000))
    begun = {**whole, "status": "in_progress", "output": [], "usage": None}

    def event(kind: str, **data: Any) -> str:
        return sse(json.dumps({"type": kind, "sequence_number": next(sequence), **data}), kind)

    where = {"item_id": message["id"], "output_index": 0, "content_index": 0}
    events = [
        event("response.created", response=begun),
        event("response.in_progress", response=begun),
        event(
            "response.output_item.added",
            output_index=0,
            item={**message, "status": "in_progress", "content": []},
        ),
        event("response.content_part.added", **where, part={**part, "text": ""}),
        *(
            event("response.output_text.delta", **where, delta=text, logprobs=[])
            for text in pieces(content)
        ),
        event("response.output_text.done", **where, text=content, logprobs=[]),
        event("response.content_part.done", **where, part=part),
        event("response.output_item.done", output_index=0, item=message),
        event(
            "response.incomplete" if whole["status"] == "incomplete" else "response.completed",
            response=whole,
        ),
    ]
    return event_stream(events)
