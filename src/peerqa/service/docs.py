"""/docs (Swagger UI) and /redoc from assets a Python package ships (fastapi-offline), not
a CDN: the pages render on a network that reaches nothing but this service. Also the
HTTP contract itself, API.md (shipped in the package; docs/API.md links to it), which the
OpenAPI description links to."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import fastapi_offline
from fastapi import FastAPI
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import FileResponse, HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

ASSETS = Path(fastapi_offline.__file__).parent / "static"
ASSETS_URL = "/docs-assets"
CONTRACT = Path(__file__).with_name("API.md")
CONTRACT_URL = "/docs/API.md"
DESCRIPTION = f"""The HTTP contract, with what each route promises (citations, abstention,
sessions, errors, the OpenAI-compatible and MCP faces, CORS): [docs/API.md]({CONTRACT_URL}).
An MCP server (streamable HTTP) is at `/mcp`; it is not an OpenAPI operation."""


# ReDoc's bundle shows its maker's logo from a CDN (hidden when it fails to load): served
# with the packaged favicon instead, so the page requests nothing from elsewhere.
REDOC_LOGO = b'src:"https://cdn.redoc.ly/redoc/logo-mini.svg"'
REDOC_JS_URL = "/docs-offline/redoc.standalone.js"


@lru_cache(maxsize=1)
def redoc_bundle() -> bytes:
    bundle = (ASSETS / "redoc.standalone.js").read_bytes()
    return bundle.replace(REDOC_LOGO, f'src:"{ASSETS_URL}/favicon.png"'.encode())


def add_docs(app: FastAPI) -> None:
    """Routes for an app made with docs_url=None and redoc_url=None."""
    app.mount(ASSETS_URL, StaticFiles(directory=ASSETS), name="docs-assets")
    favicon = f"{ASSETS_URL}/favicon.png"
    assert app.openapi_url and app.swagger_ui_oauth2_redirect_url

    @app.get(REDOC_JS_URL, include_in_schema=False)
    async def redoc_js() -> Response:
        return Response(redoc_bundle(), media_type="text/javascript; charset=utf-8")

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url,
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=favicon,
            oauth2_redirect_url=app.swagger_ui_oauth2_redirect_url,
        )

    @app.get(app.swagger_ui_oauth2_redirect_url, include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url=app.openapi_url,
            title=f"{app.title} - ReDoc",
            redoc_js_url=REDOC_JS_URL,
            redoc_favicon_url=favicon,
            with_google_fonts=False,
        )

    @app.get(CONTRACT_URL, include_in_schema=False)
    def contract() -> FileResponse:
        return FileResponse(CONTRACT, media_type="text/markdown; charset=utf-8")
