"""The service's edge: request ids, security headers, per-client rate limiting on /v1/*,
checks on JSON bodies, one access-log line and the metrics of every request.

It wraps the whole FastAPI stack (see service.app.PeerQAApp), outside even Starlette's
error and body-limit middleware, so it sees every final status and can answer in JSON
what those answer in plain text.
"""

from __future__ import annotations

import json
import logging
import math
import re
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from anyio import to_thread
from fastapi import Request
from fastapi.responses import JSONResponse
from starlette.datastructures import Headers
from starlette.middleware.body_limit import MAX_BODY_SIZE_SCOPE_KEY
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from peerqa.config import Settings
from peerqa.service.errors import body_error, openai_error
from peerqa.service.metrics import UNMATCHED, Metrics

ACCESS_LOGGER = "peerqa.access"
SCOPE_KEY = "peerqa.request"
MCP_PATH = "/mcp"
# Rate-limited paths (str.startswith prefixes): the HTTP API and its MCP face.
RATE_LIMITED_PREFIX = ("/v1/", MCP_PATH)
# Errors of these routes also carry OpenAI's `error` object (as service.routes.openai does).
OPENAI_PATHS = ("/v1/chat/completions", "/v1/models", "/v1/responses")
# A client's X-Request-ID is kept only when it is safe to echo in a header and a log line.
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:@/+=-]{1,128}")
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
]
BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# No request of the API nests deeper than 5; Python's parser and validators recurse.
MAX_JSON_DEPTH = 32
MAX_JSON_INT_DIGITS = 100
OFF_LOOP_BYTES = 64 * 1024
MAX_CLIENTS = 10_000  # rate-limit buckets kept (least recently seen dropped first)

log = logging.getLogger(ACCESS_LOGGER)


@dataclass
class RequestContext:
    """Per-request facts the routes add for the access log and the metrics."""

    id: str
    abstained: bool | None = None


def note_abstained(request: Request, abstained: bool) -> None:
    """Called by the answer routes: logged and counted with the request."""
    context = request.scope.get(SCOPE_KEY)
    if isinstance(context, RequestContext):
        context.abstained = abstained


def configure_access_log() -> None:
    """JSON lines on stderr, once per process; an embedding application that configured
    the logger itself keeps its own handlers."""
    if not log.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        log.propagate = False  # the message is already the whole JSON line


class RateLimiter:
    """A token bucket per client: `per_minute / 60` tokens a second, at most `burst` saved.

    State is this process's memory (each worker limits on its own). At most `max_clients`
    buckets are kept; the least recently seen client is forgotten first (and starts again
    with a full bucket), which bounds memory whatever addresses clients come from.
    """

    def __init__(
        self,
        per_minute: int,
        burst: int | None = None,
        max_clients: int = MAX_CLIENTS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(burst or per_minute)
        self.max_clients = max_clients
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # client -> (tokens, at)

    def acquire(self, client: str) -> float:
        """0 when the request may go ahead (spending a token), else seconds until a token."""
        now = self.clock()
        tokens, at = self._buckets.pop(client, (self.burst, now))
        tokens = min(self.burst, tokens + (now - at) * self.rate)
        wait = 0.0
        if tokens >= 1:
            tokens -= 1
        else:
            wait = (1 - tokens) / self.rate
        self._buckets[client] = (tokens, now)  # re-inserted: dicts keep insertion order
        if len(self._buckets) > self.max_clients:
            del self._buckets[next(iter(self._buckets))]
        return wait


class RouteTemplates:
    """Path -> route template, for requests refused here before FastAPI routed them (it
    records the route it matched in the scope for all others)."""

    def __init__(self, templates: Callable[[], list[str]]) -> None:
        self._source = templates
        self._compiled: list[tuple[re.Pattern[str], str]] | None = None

    def match(self, path: str) -> str:
        if self._compiled is None:  # on first use: the app's routes are all added by then
            self._compiled = [(compile_path(t)[0], t) for t in self._source()]
        return next((t for pattern, t in self._compiled if pattern.match(path)), UNMATCHED)


class EdgeMiddleware:
    def __init__(
        self, app: ASGIApp, settings: Settings, metrics: Metrics, templates: RouteTemplates
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.templates = templates
        self.json_limit = settings.max_request_bytes
        self.trust_forwarded_for = settings.trust_forwarded_for
        self.access_log = settings.access_log
        self.limiter = (
            RateLimiter(settings.rate_limit_per_minute, settings.rate_limit_burst)
            if settings.rate_limit_per_minute
            else None
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # lifespan
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        headers = Headers(scope=scope)
        context = RequestContext(id=_request_id(headers.get("x-request-id")))
        scope[SCOPE_KEY] = context
        client = self._client(scope, headers)
        status = 500  # what the client gets if the app fails before it answers
        replacement: bytes | None = None  # a JSON body for Starlette's plain-text 413

        async def send_with_headers(message: Message) -> None:
            nonlocal status, replacement
            if message["type"] == "http.response.start":
                status = message["status"]
                raw = list(message.get("headers", []))
                if status == 413 and _content_type(raw).startswith(b"text/plain"):
                    # Starlette's body limit refuses a declared-too-large body in plain text.
                    limit = scope.get(MAX_BODY_SIZE_SCOPE_KEY, self.json_limit)
                    json_413 = _too_large(scope["path"], limit)
                    raw, replacement = list(json_413.raw_headers), json_413.body
                raw += [(b"x-request-id", context.id.encode()), *SECURITY_HEADERS]
                message = {**message, "headers": raw}
            elif message["type"] == "http.response.body" and replacement is not None:
                if message.get("more_body"):
                    return  # the plain text is replaced as a whole, on its last part
                message = {**message, "body": replacement}
            await send(message)

        self.metrics.in_flight += 1
        try:
            refusal, receive = await self._screen(scope, headers, client, receive)
            app = refusal or self.app
            await app(scope, receive, send_with_headers)
        finally:
            self.metrics.in_flight -= 1
            self._record(scope, context, client, status, time.perf_counter() - started)

    async def _screen(
        self, scope: Scope, headers: Headers, client: str, receive: Receive
    ) -> tuple[ASGIApp | None, Receive]:
        """A response that refuses the request outright, or None; and the receive channel
        the app should read (the body again, when it was read here to be checked)."""
        path: str = scope["path"]
        if self.limiter and path.startswith(RATE_LIMITED_PREFIX):
            wait = self.limiter.acquire(client)
            if wait > 0:
                self.metrics.rate_limited += 1
                return _rate_limited(path, wait, self.limiter), receive
        if scope["method"] not in BODY_METHODS or not _is_json(headers.get("content-type")):
            return None, receive
        declared = headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > self.json_limit:
            return _too_large(path, self.json_limit), receive
        body, replay = await _read_body(receive, self.json_limit)
        if body is None:
            return _too_large(path, self.json_limit), receive
        if len(body) < OFF_LOOP_BYTES:
            problem = json_problem(body)
        else:  # milliseconds of parsing and walking: not on the event loop
            problem = await to_thread.run_sync(json_problem, body)
        if problem:
            loc, message = problem
            return _error(path, 422, body_error(message, loc), message, loc), replay
        return None, replay

    def _client(self, scope: Scope, headers: Headers) -> str:
        if self.trust_forwarded_for and (forwarded := headers.get("x-forwarded-for")):
            return forwarded.rsplit(",", 1)[-1].strip()[:64] or "unknown"
        peer = scope.get("client")
        return peer[0] if peer else "unknown"

    def _record(
        self, scope: Scope, context: RequestContext, client: str, status: int, seconds: float
    ) -> None:
        route = getattr(scope.get("route"), "path", None) or self.templates.match(scope["path"])
        self.metrics.observe(scope["method"], route, status, seconds, context.abstained)
        if not self.access_log:
            return
        entry: dict[str, Any] = {
            "ts": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "event": "request",
            "request_id": context.id,
            "method": scope["method"],
            "route": route,
            "path": scope["path"][:256],
            "status": status,
            "latency_ms": round(seconds * 1000, 1),
            "client": client,
        }
        if context.abstained is not None:
            entry["abstained"] = context.abstained
        log.info(json.dumps(entry, ensure_ascii=True), extra={"peerqa": entry})


def _content_type(raw: list[tuple[bytes, bytes]]) -> bytes:
    return next((v for k, v in raw if k.lower() == b"content-type"), b"")


def _request_id(given: str | None) -> str:
    return given if given and _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex


def _is_json(content_type: str | None) -> bool:
    """Whether FastAPI would parse the body as JSON: no content type, or application/json
    or application/*+json."""
    if not content_type:
        return True
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


async def _read_body(receive: Receive, limit: int) -> tuple[bytes | None, Receive]:
    """The whole body (None past `limit` bytes), and a receive that hands it to the app
    again before passing on the server's later messages (a disconnect)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":  # the client went away
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None, receive
        chunks.append(chunk)
        if not message.get("more_body"):
            break
    body = b"".join(chunks)
    pending = [{"type": "http.request", "body": body, "more_body": False}]

    async def replay() -> Message:
        return pending.pop() if pending else await receive()

    return body, replay


def json_problem(body: bytes) -> tuple[list[str | int], str] | None:
    """What in a JSON body would break the service rather than fail validation: not UTF-8,
    NaN or infinite numbers, numbers too long to convert, nesting too deep to walk, and
    lone surrogates (\\ud800), which no UTF-8 encoder downstream accepts. Returns the location
    (under `body`) and the reason, or None; plain syntax errors are left to FastAPI, which
    reports where they are."""
    try:
        text = body.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as err:
        return [], f"the body is not valid UTF-8 (byte {err.start}): JSON bodies must be UTF-8"
    try:
        data = json.loads(
            text, parse_constant=_no_constant, parse_float=_finite_float, parse_int=_short_int
        )
    except json.JSONDecodeError:
        return None
    except _BadNumber as err:
        return [], str(err)
    except RecursionError:
        return [], f"the body is nested more than {MAX_JSON_DEPTH} levels deep"
    too_deep = f"the body is nested more than {MAX_JSON_DEPTH} levels deep"
    stack: list[tuple[Any, list[str | int]]] = [(data, [])]
    while stack:
        value, loc = stack.pop()
        if len(loc) > MAX_JSON_DEPTH:
            return loc[:MAX_JSON_DEPTH], too_deep
        if isinstance(value, dict):
            for key, item in value.items():
                if not _valid_unicode(key):
                    return loc, "a key holds a lone UTF-16 surrogate (not valid Unicode)"
                stack.append((item, [*loc, key]))
        elif isinstance(value, list):
            stack.extend((item, [*loc, i]) for i, item in enumerate(value))
        elif isinstance(value, str) and not _valid_unicode(value):
            return loc, "the string holds a lone UTF-16 surrogate (not valid Unicode)"
    return None


class _BadNumber(ValueError):
    pass


def _no_constant(name: str) -> float:
    raise _BadNumber(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _BadNumber(f"the number {text[:40]} is out of range")
    return value


def _short_int(text: str) -> int:
    if len(text) > MAX_JSON_INT_DIGITS:
        raise _BadNumber(f"an integer of {len(text)} digits is too long")
    return int(text)


def _valid_unicode(text: str) -> bool:
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _error(
    path: str,
    status: int,
    detail: Any,
    message: str,
    param: list[str | int] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {"detail": detail}
    if path.startswith(OPENAI_PATHS):
        field = ".".join(str(p) for p in param) if param else None
        body["error"] = openai_error(status, message, field)
    return JSONResponse(body, status, headers=headers)


def _too_large(path: str, limit: int) -> JSONResponse:
    message = f"request body over the {limit}-byte limit"
    return _error(path, 413, message, message)


def _rate_limited(path: str, wait: float, limiter: RateLimiter) -> JSONResponse:
    seconds = max(1, math.ceil(wait))
    per_minute = round(limiter.rate * 60)
    message = (
        f"rate limit exceeded: {per_minute} requests a minute per client; retry after {seconds} s"
    )
    return _error(path, 429, message, message, headers={"Retry-After": str(seconds)})
