"""The MCP (Model Context Protocol) server: the HTTP API's read side as tools for AI
assistants, over stdio (`peerqa mcp`) and streamable HTTP (`/mcp` on the service).

Each tool calls the function its HTTP route calls and returns the route's own response
model as structured content, so a citation keeps every field it has over HTTP (id,
verbatim text, document, offsets, ...). Arguments are checked by the HTTP request models.
"""

from __future__ import annotations

import functools
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from types import SimpleNamespace
from typing import Annotated, Any, TypeVar

from fastapi import HTTPException
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from mcp_types import ToolAnnotations
from pydantic import BaseModel, Field, ValidationError
from starlette.types import Receive, Scope, Send

from peerqa.config import Settings
from peerqa.models import DocumentInfo, Filters, Programme
from peerqa.retrieval.hybrid import IndexNotReady, LiveIndex, UnknownFilterValue
from peerqa.service.deps import fresh_index
from peerqa.service.routes import answers, catalogue, evidence
from peerqa.service.schemas import (
    AskRequest,
    AskResponse,
    Challenge,
    PassageInContext,
    SearchRequest,
    SearchResponse,
)
from peerqa.service.sessions import SessionStore

NAME = "peerqa"
INSTRUCTIONS = (
    "Evidence about peer support programmes. search_evidence returns verbatim passages; "
    "ask returns a cited answer whose [n] markers resolve to its citations (or an honest "
    "abstention with its reason). Quote passages as given: each is an exact span of its "
    "source with character offsets."
)
READ_ONLY = ToolAnnotations(read_only_hint=True, open_world_hint=False)

_T = TypeVar("_T")


def _arg(model: type[BaseModel], field: str, description: str) -> Any:
    """The annotation of `model.field` with its constraints (length, range, pattern), so a
    tool argument is checked exactly as the HTTP request field is."""
    info = model.model_fields[field]
    return Annotated[(info.annotation, *info.metadata, Field(description=description))]


Query = _arg(SearchRequest, "query", "What to look for, in plain words")
TopK = _arg(SearchRequest, "top_k", "How many passages, best first")
Question = _arg(AskRequest, "question", "The question, as a user would ask it")
AskTopK = _arg(AskRequest, "top_k", "Passages retrieved for the answer (default 8)")
SessionId = _arg(
    AskRequest, "session_id", "Continue this conversation (from an earlier ask's session_id)"
)
FiltersArg = Annotated[
    Filters | None,
    Field(
        description="Optional: each key a list of allowed values (OR within a key, AND across "
        "keys); keys kind, stance, theme, programme, role, document"
    ),
]


class Challenges(BaseModel):
    challenges: list[Challenge]


class Programmes(BaseModel):
    programmes: list[Programme]


class Documents(BaseModel):
    documents: list[DocumentInfo]


def _tool_errors(fn: Callable[..., _T]) -> Callable[..., _T]:
    """What the HTTP API answers with a 4xx or 503 becomes a tool error with the same
    message, which the assistant reads; anything else is a bug and the SDK reports it."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> _T:
        try:
            return fn(*args, **kwargs)
        except ValidationError as err:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'arguments'}: {e['msg']}"
                for e in err.errors()
            )
            raise ToolError(f"invalid arguments: {problems}") from err
        except (UnknownFilterValue, IndexNotReady) as err:
            raise ToolError(str(err)) from err
        except HTTPException as err:
            raise ToolError(str(err.detail)) from err

    return wrapper


def build_server(state: Callable[[], Any]) -> MCPServer:
    """The tools over what `state()` holds: `index`, `checked_at`, `settings`, `sessions`
    (the FastAPI app's state, or stdio_state's)."""
    # The SDK calls logging.basicConfig at this level: WARNING keeps the root logger as
    # quiet as Python's default (INFO would print every library's chatter in the service).
    server = MCPServer(NAME, instructions=INSTRUCTIONS, version="1", log_level="WARNING")

    def index() -> LiveIndex:
        return fresh_index(state())

    @server.tool(annotations=READ_ONLY)
    @_tool_errors
    def search_evidence(
        query: Query, top_k: TopK = 5, filters: FiltersArg = None
    ) -> SearchResponse:
        """Ranked evidence passages for a query (dense + keyword retrieval, fused), best
        first, each with its verbatim text, document, section, offsets and score."""
        body = SearchRequest(query=query, top_k=top_k, filters=filters)
        return evidence.search_passages(body, index())

    @server.tool()
    @_tool_errors
    def ask(
        question: Question,
        session_id: SessionId = None,
        filters: FiltersArg = None,
        top_k: AskTopK = None,
    ) -> AskResponse:
        """A cited answer from the evidence: each evidence sentence ends with a marker [n]
        that resolves to an entry of `citations` (verbatim passages). `abstained` is true
        when the evidence does not answer (or the question asks for individual medical
        advice), with `reason`. Send `session_id` back to ask a follow-up."""
        body = AskRequest(question=question, session_id=session_id, filters=filters, top_k=top_k)
        s = state()
        return answers.answer_turn(body, fresh_index(s), s.sessions)

    @server.tool(annotations=READ_ONLY)
    @_tool_errors
    def get_passage(id: Annotated[str, Field(description="A passage id")]) -> PassageInContext:
        """One passage by id, with the ids of the passages before and after it in its
        document (previous_id, next_id; null at either end) to read its context."""
        return evidence.passage(id, index())

    @server.tool(annotations=READ_ONLY)
    @_tool_errors
    def list_challenges() -> Challenges:
        """Each challenge theme with verbatim spans on how programmes address it
        (mitigations, each with the passage containing it) and its participant quotes."""
        return Challenges(challenges=catalogue.challenges(index(), state().settings))

    @server.tool(annotations=READ_ONLY)
    @_tool_errors
    def list_programmes() -> Programmes:
        """The peer support programmes the documents describe: condition, setting, reach,
        description and number of interviewees."""
        return Programmes(programmes=catalogue.programmes(index()))

    @server.tool(annotations=READ_ONLY)
    @_tool_errors
    def list_documents() -> Documents:
        """Every indexed document with its citation metadata and passage counts."""
        return Documents(documents=catalogue.documents(index()))

    return server


def stdio_state(settings: Settings) -> SimpleNamespace:
    """What the tools read in `peerqa mcp`: the index and sessions in the data dir, as
    the service loads them (service.app.lifespan)."""
    from peerqa.service.app import SESSIONS_FILE

    return SimpleNamespace(
        settings=settings,
        index=LiveIndex(settings),
        checked_at=time.monotonic(),
        sessions=SessionStore(
            settings.data_dir / SESSIONS_FILE,
            ttl_seconds=settings.session_ttl_seconds,
            max_turns=settings.session_max_turns,
        ),
    )


def run_stdio(settings: Settings) -> None:
    state = stdio_state(settings)
    build_server(lambda: state).run("stdio")


class HttpEndpoint:
    """The ASGI endpoint at /mcp: streamable HTTP, stateless (every request stands alone,
    so any worker can answer it; conversation state is the `ask` session, in SQLite) and
    answered in JSON. A new session manager per app lifespan (the SDK's runs only once)."""

    def __init__(self, state: Callable[[], Any], settings: Settings) -> None:
        self.server = build_server(state)
        self.settings = settings
        self.manager: StreamableHTTPSessionManager | None = None

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        self.server.streamable_http_app(
            stateless_http=True,
            json_response=True,
            max_request_body_size=self.settings.max_request_bytes,
            # The read-only tools are as public as /v1/search, which checks no Host or
            # Origin either; browsers are governed by PEERQA_CORS_ORIGINS like /v1.
            transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
        )
        self.manager = self.server.session_manager
        async with self.manager.run():
            yield
        self.manager = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.manager is None:
            raise IndexNotReady("the MCP endpoint is not running (the app's lifespan is not)")
        await self.manager.handle_request(scope, receive, send)
