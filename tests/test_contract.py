"""The contract ships with the code: docs/API.md is the team's shared contract
(../shared/API.md) copied verbatim, then extended; and it matches the app's routes and
MCP tools both ways, so neither the document nor the service promises what the other
lacks."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from fastapi.testclient import TestClient
from starlette.routing import Route

from peerqa.config import REPO_ROOT, Settings
from peerqa.service.app import create_app
from peerqa.service.docs import CONTRACT, CONTRACT_URL
from peerqa.service.mcp_server import build_server

ROUTE = re.compile(r"`(GET|POST|DELETE|PUT|PATCH) (/[^`\s]*)`")
TOOLS_LINE = re.compile(r"Tool names:\s*(.+?)\.\s*Results", re.S)
ADDITIONS = "\n---\n\n# Additions in this repository\n"


def shared_contract() -> Path | None:
    """../shared/API.md beside the repository (as in CI), or beside a folder holding it
    (a worktree)."""
    for folder in REPO_ROOT.parents:
        candidate = folder / "shared" / "API.md"
        if candidate.is_file():
            return candidate
    return None


def normalised(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.strip().splitlines())


def template(path: str) -> str:
    return re.sub(r"\{[^}]*\}", "{}", path)


def documented_routes() -> set[tuple[str, str]]:
    return {(m, template(p)) for m, p in ROUTE.findall(CONTRACT.read_text(encoding="utf-8"))}


def app_routes() -> set[tuple[str, str]]:
    """Every operation of the app's OpenAPI document, and its plain ASGI routes outside
    it (/mcp), but not the documentation pages."""
    app = create_app(Settings(access_log=False))
    served = {
        (method.upper(), template(path))
        for path, operations in app.openapi()["paths"].items()
        for method in operations
    }
    for route in app.routes:
        if type(route) is Route and route.include_in_schema:  # not an APIRoute
            methods = route.methods or {"POST"}  # /mcp takes any method; clients POST
            served |= {(m, template(route.path)) for m in methods if m != "HEAD"}
    return served


def test_docs_api_md_keeps_the_shared_contract_verbatim_then_extends_it():
    ours = normalised(CONTRACT.read_text(encoding="utf-8"))
    upstream, _, additions = ours.partition(normalised(ADDITIONS))
    assert additions, "docs/API.md must keep its 'Additions in this repository' part"
    shared = shared_contract()
    if shared is not None:
        assert upstream.strip() == normalised(shared.read_text(encoding="utf-8")), (
            f"docs/API.md is not in step with {shared}: copy it over the part above "
            "'Additions in this repository'"
        )
    else:  # a user's clone: the copy must still describe this service
        assert "# HTTP contract (v1)" in upstream
        assert documented_routes() <= app_routes()


def test_every_documented_route_is_served():
    missing = documented_routes() - app_routes()
    assert not missing, f"docs/API.md promises routes the app does not serve: {missing}"


def test_every_served_route_is_documented():
    undocumented = app_routes() - documented_routes()
    assert not undocumented, f"add a row to docs/API.md for: {sorted(undocumented)}"


def test_the_documented_mcp_tools_are_the_servers():
    text = CONTRACT.read_text(encoding="utf-8")
    named = set(re.findall(r"`(\w+)`", TOOLS_LINE.search(text).group(1)))
    tools = asyncio.run(build_server(lambda: None).list_tools())
    assert named == {tool.name for tool in tools}


def test_the_contract_is_served_and_linked_from_the_docs():
    client = TestClient(create_app(Settings(access_log=False)))
    r = client.get(CONTRACT_URL)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/markdown")
    assert r.text == CONTRACT.read_text(encoding="utf-8")
    assert f"]({CONTRACT_URL})" in client.get("/openapi.json").json()["info"]["description"]
    assert "](docs/API.md)" in (REPO_ROOT / "README.md").read_text(encoding="utf-8")
