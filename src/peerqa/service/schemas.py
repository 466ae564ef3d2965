"""The HTTP wire types: /v1 requests and responses, and the OpenAI-compatible chat
completions (a subset of the OpenAI wire format). Only the service and its callers (the CLI's
--json, MCP) speak them; the stages pass the domain types of peerqa/models.py.

Field names and shapes follow docs/API.md; extend, never rename.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from peerqa.models import Answer, Citation, Filters, Passage, ScoredPassage, Stance


class SearchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # The pattern needs a non-space character: a blank query is a 422, like a blank question.
    query: str = Field(min_length=1, max_length=2000, pattern=r"\S")
    top_k: int = Field(default=5, ge=1, le=50)
    filters: Filters | None = None


class SearchResponse(BaseModel):
    query: str
    results: list[ScoredPassage]


class PassageInContext(Passage):
    previous_id: str | None
    next_id: str | None


# --- HTTP API (../shared/API.md) -------------------------------------------------------

# Blank questions are a 422 like empty ones: stripped before the length check.
Question = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]


class ErrorResponse(BaseModel):
    """Every non-validation error: a one-line reason."""

    detail: str


class AskRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: Question
    top_k: int | None = Field(
        default=None, ge=1, le=50, description="Passages retrieved (default: the composer's, 8)"
    )
    filters: Filters | None = None
    session_id: str | None = Field(
        default=None,
        max_length=128,
        description="Continue this conversation; an unknown or expired id starts a new one",
    )


class AskResponse(Answer):
    session_id: str = Field(description="Send it back with the next question to follow up")


class StreamDelta(BaseModel):
    """Data of an `event: delta` of /v1/ask/stream: the next piece of the answer text."""

    text: str


class ThemeSummary(BaseModel):
    theme: str
    stance: Stance | None = Field(description="Stance of the theme's quotes (Tables 3-4)")
    quotes: int = Field(description="Participant quotes under this theme")
    passages: int = Field(description="All passages tagged with this theme")


class Mitigation(BaseModel):
    text: str = Field(description="Verbatim span of the paper on how programmes respond")
    passage_id: str = Field(description="The passage whose text contains `text`")


class Challenge(BaseModel):
    challenge: str = Field(description="A Table 4 challenge theme")
    mitigations: list[Mitigation]
    quotes: list[Passage] = Field(description="Table 4 quotes under this theme")


# --- OpenAI-compatible chat completions (a subset of the OpenAI wire format) -----------


class ContentPart(BaseModel):
    """A part of a multi-part message; only `text` parts are read."""

    model_config = ConfigDict(extra="allow")

    type: str
    text: str | None = None


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")  # name, tool_calls, … are accepted and ignored

    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[ContentPart] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):
            return "\n".join(p.text for p in self.content if p.type == "text" and p.text)
        return self.content or ""


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    include_usage: bool | None = Field(
        default=None, description="A last chunk with `usage` and no choices"
    )
    include_obfuscation: bool | None = Field(
        default=None, description="Only false: chunks carry no obfuscation padding"
    )


class JsonSchemaFormat(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    name: str = Field(max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    description: str | None = None
    schema_: dict[str, Any] | None = Field(
        default=None,
        alias="schema",
        description="The JSON Schema of the content: an object whose properties the service "
        "fills (see `response_format` in docs/API.md)",
    )
    strict: bool | None = None


class ResponseFormat(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["text", "json_object", "json_schema"]
    json_schema: JsonSchemaFormat | None = None


class OpenAIRequest(BaseModel):
    """The parameters OpenAI's chat-completions and Responses requests share. Every
    parameter of OpenAI's APIs is named in the two subclasses (an unknown one is a 422);
    what each does here, and which values are a 400, is service.openai_compat.PARAMETERS
    (the README's tables)."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field(description="`peerqa` (see GET /v1/models)")
    stream: bool | None = False
    stream_options: StreamOptions | None = None
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, ge=0, le=1)
    top_logprobs: int | None = None
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    parallel_tool_calls: bool | None = None
    metadata: dict[str, str] | None = None
    user: str | None = None
    safety_identifier: str | None = None
    prompt_cache_key: str | None = None
    prompt_cache_retention: str | None = None
    prompt_cache_options: dict[str, Any] | None = None
    service_tier: str | None = None
    store: bool | None = None
    moderation: dict[str, Any] | None = None


class ChatCompletionRequest(OpenAIRequest):
    """OpenAI's chat-completions request. The last user message is the question; earlier
    user messages are its history."""

    messages: list[ChatMessage] = Field(min_length=1)
    response_format: ResponseFormat | None = None
    n: int | None = Field(default=None, ge=1, le=128, description="Only 1 (one answer)")
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    stop: str | list[str] | None = Field(default=None)
    presence_penalty: float | None = Field(default=None, ge=-2, le=2)
    frequency_penalty: float | None = Field(default=None, ge=-2, le=2)
    seed: int | None = None
    functions: list[dict[str, Any]] | None = None
    function_call: str | dict[str, Any] | None = None
    logprobs: bool | None = None
    logit_bias: dict[str, float] | None = None
    modalities: list[str] | None = None
    audio: dict[str, Any] | None = None
    prediction: dict[str, Any] | None = None
    reasoning_effort: str | None = None
    verbosity: str | None = None
    web_search_options: dict[str, Any] | None = None

    @field_validator("messages")
    @classmethod
    def _has_question(cls, messages: list[ChatMessage]) -> list[ChatMessage]:
        asked = [m.text().strip() for m in messages if m.role == "user"]
        if not asked or not asked[-1]:
            raise ValueError("the last user message must contain text: it is the question")
        if len(asked[-1]) > 2000:
            raise ValueError("the last user message is longer than 2000 characters")
        return messages

    def question(self) -> str:
        return self.user_texts()[-1]

    def history(self) -> list[str]:
        return self.user_texts()[:-1]

    def user_texts(self) -> list[str]:
        return [t for m in self.messages if m.role == "user" and (t := m.text().strip())]


class AssistantMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


FinishReason = Literal["stop", "length"]


class CompletionChoice(BaseModel):
    index: int = 0
    message: AssistantMessage
    finish_reason: FinishReason = "stop"


class Usage(BaseModel):
    """Counted in words: there is no language model, hence no tokenizer."""

    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[CompletionChoice]
    usage: Usage
    citations: list[Citation] = Field(description="peerqa extension: the [n] passages")


def _is_none(value: object) -> bool:
    return value is None


class ChunkDelta(BaseModel):
    role: Literal["assistant"] | None = Field(default=None, exclude_if=_is_none)
    content: str | None = Field(default=None, exclude_if=_is_none)


class ChunkChoice(BaseModel):
    index: int = 0
    delta: ChunkDelta
    finish_reason: FinishReason | None = None


class ChatCompletionChunk(BaseModel):
    """One `data:` line of a streamed completion; the one that finishes carries
    `citations`; with `stream_options.include_usage` a last one has `usage` and no choices."""

    id: str
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int
    model: str
    choices: list[ChunkChoice]
    citations: list[Citation] | None = Field(default=None, exclude_if=_is_none)
    usage: Usage | None = Field(default=None, exclude_if=_is_none)


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]
