"""The MCP server, driven end to end by the official `mcp` SDK client (ClientSession) over
both transports: `peerqa mcp` spawned over stdio, and streamable HTTP at /mcp of the app
served by uvicorn on a loopback port. Both read the ingested bundled corpus.

Every tool's structured content is compared with what the HTTP route returns for the
same request: the MCP face is the same API, not a second one.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from fastapi.testclient import TestClient
from mcp.client import Client, ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp_types import CallToolResult
from pydantic import SecretStr

from peerqa.config import Settings
from peerqa.service.app import create_app
from tests.conftest import CORPUS_TEXT
from tests.workers import serving_in_thread

pytestmark = pytest.mark.server

TOOLS = {
    "search_evidence",
    "ask",
    "get_passage",
    "list_challenges",
    "list_programmes",
    "list_documents",
}
DOCUMENT = "joo-2022-peer-support"
QUERY = "How do programmes keep peer supporters from burning out?"
PEERQA = Path(sys.executable).with_name("peerqa")  # the installed console script


class Tools:
    """A connected ClientSession, called from synchronous tests through a portal (an
    event loop in a thread that holds the connection for the whole module)."""

    def __init__(self, portal: BlockingPortal, session: ClientSession) -> None:
        self.portal, self.session = portal, session

    def list(self) -> list:
        return self.portal.call(self.session.list_tools).tools

    def call(self, name: str, **arguments: Any) -> CallToolResult:
        return self.portal.call(self.session.call_tool, name, arguments)

    def data(self, name: str, **arguments: Any) -> dict:
        result = self.call(name, **arguments)
        assert not result.is_error, result.content
        return result.structured_content


@asynccontextmanager
async def over_stdio(settings: Settings) -> AsyncIterator[ClientSession]:
    env = {
        "PEERQA_DATA_DIR": str(settings.data_dir),
        "PEERQA_COLLECTION_PREFIX": settings.collection_prefix,
        "HF_HUB_OFFLINE": "1",
    }
    if settings.chroma_url:
        env["PEERQA_CHROMA_URL"] = settings.chroma_url
    params = StdioServerParameters(command=str(PEERQA), args=["mcp"], env=env)
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        yield session


@asynccontextmanager
async def over_http(url: str) -> AsyncIterator[ClientSession]:
    async with (
        httpx2.AsyncClient(trust_env=False, timeout=120) as http,
        streamable_http_client(f"{url}/mcp", http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        yield session


@pytest.fixture(scope="module")
def base_url(corpus_settings: Settings) -> Iterator[str]:
    with serving_in_thread(create_app(corpus_settings)) as url:
        yield url


@pytest.fixture(scope="module")
def http(base_url: str) -> Iterator[httpx.Client]:
    """The HTTP API, for the answers the tools must match."""
    with httpx.Client(base_url=base_url, trust_env=False, timeout=120) as client:
        yield client


@asynccontextmanager
async def over_http_negotiated(url: str) -> AsyncIterator[Client]:
    """The SDK's high-level Client in its default mode: it discovers the newest protocol
    version it and the server share before falling back to the initialize handshake."""
    async with (
        httpx2.AsyncClient(trust_env=False, timeout=120) as http,
        Client(streamable_http_client(f"{url}/mcp", http_client=http), mode="auto") as client,
    ):
        yield client


@pytest.fixture(scope="module", params=["stdio", "http", "http-negotiated"])
def tools(request: pytest.FixtureRequest, corpus_settings: Settings) -> Iterator[Tools]:
    if request.param == "stdio":
        connection = over_stdio(corpus_settings)
    elif request.param == "http":
        connection = over_http(request.getfixturevalue("base_url"))
    else:
        connection = over_http_negotiated(request.getfixturevalue("base_url"))
    with start_blocking_portal() as portal, portal.wrap_async_context_manager(connection) as s:
        yield Tools(portal, s)


def assert_same_search(found: dict, served: dict) -> None:
    """The same passages in the same order; scores equal to 1e-4, because `peerqa mcp`
    is another process whose query vector may differ in the sixth decimal (ONNX vs torch)."""

    def unscored(body: dict) -> list[dict]:
        return [{k: v for k, v in r.items() if k != "score"} for r in body["results"]]

    assert found["query"] == served["query"] and unscored(found) == unscored(served)
    scores = [r["score"] for r in served["results"]]
    assert [r["score"] for r in found["results"]] == pytest.approx(scores, abs=1e-4)


def assert_verbatim(passage: dict) -> None:
    if passage["document"] == DOCUMENT:
        assert CORPUS_TEXT[passage["char_start"] : passage["char_end"]] == passage["text"]


def test_the_tools_of_the_contract_with_structured_output(tools: Tools):
    listed = {tool.name: tool for tool in tools.list()}
    assert set(listed) == TOOLS
    for tool in listed.values():
        assert tool.description and tool.output_schema, tool.name
    search = listed["search_evidence"].input_schema
    assert {"query", "top_k", "filters"} <= set(search["properties"])
    assert search["properties"]["query"]["maxLength"] == 2000  # the HTTP field's limits
    assert {"question", "session_id", "filters"} <= set(listed["ask"].input_schema["properties"])
    assert listed["get_passage"].annotations.read_only_hint is True


def test_search_evidence_is_the_http_search(tools: Tools, http: httpx.Client):
    request = {"query": QUERY, "top_k": 4, "filters": {"kind": ["quote", "paragraph"]}}
    found = tools.data("search_evidence", **request)
    assert_same_search(found, http.post("/v1/search", json=request).json())
    assert len(found["results"]) == 4
    for passage in found["results"]:
        assert passage["kind"] in ("quote", "paragraph")
        assert_verbatim(passage)
    # The text content mirrors the structured content, for clients that read only text.
    assert found["results"][0]["text"] in tools.call("search_evidence", **request).content[0].text


def test_ask_cites_verbatim_passages_and_follows_up_in_its_session(tools: Tools):
    first = tools.data("ask", question="What makes matching peers difficult?")
    assert not first["abstained"] and first["citations"]
    for citation in first["citations"]:
        assert citation["marker"] in first["answer"]
        assert {"id", "text", "document", "char_start", "char_end"} <= set(citation)
        assert_verbatim(citation)
    follow_up = tools.data(
        "ask", question="How do programmes fix that?", session_id=first["session_id"]
    )
    assert follow_up["session_id"] == first["session_id"]
    themes = {c["theme"] for c in follow_up["citations"]}
    assert "Matching based on condition and cultural similarity" in themes


def test_ask_declines_individual_medical_advice(tools: Tools):
    answer = tools.data("ask", question="What dose of sertraline should I take?")
    assert answer["abstained"] and answer["reason"] and answer["citations"] == []


def test_get_passage_walks_its_neighbours(tools: Tools, http: httpx.Client):
    first = tools.data("search_evidence", query=QUERY, top_k=1)["results"][0]
    passage = tools.data("get_passage", id=first["id"])
    assert passage == http.get(f"/v1/passages/{first['id']}").json()
    assert_verbatim(passage)
    assert passage["next_id"] and passage["previous_id"]
    following = tools.data("get_passage", id=passage["next_id"])
    assert following["previous_id"] == passage["id"]
    assert following["char_start"] >= passage["char_end"]


@pytest.mark.parametrize(
    ("tool", "key", "route"),
    [
        ("list_challenges", "challenges", "/v1/challenges"),
        ("list_programmes", "programmes", "/v1/programmes"),
        ("list_documents", "documents", "/v1/documents"),
    ],
)
def test_catalogue_tools_are_the_http_catalogue(tools, http, tool, key, route):
    listed = tools.data(tool)[key]
    assert listed and listed == http.get(route).json()


@pytest.mark.parametrize(
    ("tool", "arguments", "message"),
    [
        ("search_evidence", {"query": "burnout", "filters": {"colour": ["red"]}}, "colour"),
        ("search_evidence", {"query": "burnout", "filters": {"programme": ["Z"]}}, "programme"),
        ("search_evidence", {"query": "burnout", "filters": {"theme": ["Nope"]}}, "theme"),
        ("search_evidence", {"query": "   "}, "query"),
        ("search_evidence", {"query": "burnout", "top_k": 51}, "top_k"),
        ("ask", {"question": ""}, "question"),
        ("get_passage", {"id": "no-such-passage"}, "no-such-passage"),
    ],
)
def test_bad_arguments_are_tool_errors_naming_them(tools, tool, arguments, message):
    result = tools.call(tool, **arguments)
    assert result.is_error
    assert message in result.content[0].text


# --- the HTTP transport's edge: the same limits as the HTTP API --------------------------

INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-11-25",
        "capabilities": {},
        "clientInfo": {"name": "test", "version": "1"},
    },
}
MCP_HEADERS = {"Accept": "application/json, text/event-stream"}


def test_http_mcp_is_rate_limited_like_the_api(corpus_settings: Settings):
    limited = corpus_settings.model_copy(update={"rate_limit_per_minute": 2})
    with TestClient(create_app(limited)) as client:
        codes = [
            client.post("/mcp", json=INITIALIZE, headers=MCP_HEADERS).status_code for _ in range(3)
        ]
        assert codes == [200, 200, 429]
        assert client.get("/healthz").status_code == 200  # only /v1/* and /mcp are limited
        metrics = client.get("/metrics").text
    assert 'method="POST",route="/mcp",status="429"' in metrics
    assert 'method="POST",route="/mcp",status="200"' in metrics


def test_http_mcp_refuses_an_oversized_body_with_413(corpus_settings: Settings):
    small = corpus_settings.model_copy(update={"max_request_bytes": 2048})
    body = {**INITIALIZE, "params": {**INITIALIZE["params"], "padding": "x" * 3000}}
    with TestClient(create_app(small)) as client:
        r = client.post("/mcp", json=body, headers=MCP_HEADERS)
    assert r.status_code == 413
    assert "2048-byte limit" in r.json()["detail"]


def test_http_mcp_is_public_like_the_read_routes_even_with_an_api_key(
    corpus_settings: Settings,
):
    keyed = corpus_settings.model_copy(update={"api_key": SecretStr("secret")})
    with TestClient(create_app(keyed)) as client:
        r = client.post("/mcp", json=INITIALIZE, headers=MCP_HEADERS)
        assert r.status_code == 200
        assert r.json()["result"]["serverInfo"]["name"] == "peerqa"
        # The admin routes stay closed; the MCP server has no admin tool.
        assert client.delete(f"/v1/documents/{DOCUMENT}").status_code == 401


def test_stdio_server_reports_an_empty_index_as_a_tool_error(tmp_path: Path):
    empty = Settings(data_dir=tmp_path / "empty")

    async def search() -> CallToolResult:
        async with over_stdio(empty) as session:
            return await session.call_tool("search_evidence", {"query": "burnout"})

    with start_blocking_portal() as portal:
        result = portal.call(search)
    assert result.is_error and "peerqa ingest" in result.content[0].text
