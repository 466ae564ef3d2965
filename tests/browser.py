"""The chat page in Debian's headless Chromium, driven by Playwright: what the browser
tests and scripts/screenshot.py share."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import Browser, ConsoleMessage, Page, Playwright, Response, expect

CHROMIUM = Path("/usr/bin/chromium")
# Playwright's own browser downloads are impossible here: Debian's build, headless.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DESKTOP = {"width": 1360, "height": 860}
PHONE = {"width": 375, "height": 740}


class MissingBrowser(RuntimeError):
    pass


def launch_chromium(playwright: Playwright) -> Browser:
    if not CHROMIUM.exists():
        raise MissingBrowser(
            f"{CHROMIUM} not found: the chat page needs Debian's chromium package. "
            "Run `make browser` (bash scripts/browser-deps.sh) to install it."
        )
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)


class ConsoleWatch:
    """Everything the page reports as an error: uncaught exceptions and console errors
    (a resource the CSP blocks, a failed request, a script's console.error)."""

    def __init__(self, page: Page) -> None:
        self.errors: list[str] = []
        self.allowed: list[re.Pattern[str]] = []
        page.on("pageerror", lambda error: self.errors.append(f"uncaught: {error}"))
        page.on("console", self._console)

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(f"{message.text} ({message.location.get('url', '')})")

    def allow(self, pattern: str) -> None:
        """Errors a test provokes on purpose (a failed request it routes)."""
        self.allowed.append(re.compile(pattern))

    def unexpected(self) -> list[str]:
        return [e for e in self.errors if not any(p.search(e) for p in self.allowed)]


_WATCHES: dict[Page, ConsoleWatch] = {}


def console_of(page: Page) -> ConsoleWatch:
    """The errors `page` has reported since it was opened by chat_page."""
    return _WATCHES[page]


@contextmanager
def chat_page(browser: Browser, base_url: str, viewport: dict, **options) -> Iterator[Page]:
    """A fresh browser context (empty storage) on the chat page at `viewport`, its console
    watched from the first request (see console_of); `options` go to new_context."""
    context = browser.new_context(
        base_url=base_url, viewport=viewport, device_scale_factor=1, **options
    )
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base_url)
    context.set_default_timeout(60_000)  # the first answer also warms the model up
    page = context.new_page()
    _WATCHES[page] = ConsoleWatch(page)
    try:
        page.goto("/")
        expect(page.locator("#question")).to_be_visible()
        yield page
    finally:
        context.close()
        del _WATCHES[page]


def done_body(stream: str) -> dict:
    """The `done` event's JSON from a /v1/ask/stream body."""
    for block in stream.replace("\r\n", "\n").split("\n\n"):
        lines = block.split("\n")
        if "event: done" in lines:
            return json.loads("\n".join(line[6:] for line in lines if line.startswith("data: ")))
    raise AssertionError(f"no done event in the stream: {stream[:300]!r}")


def is_answer(response: Response) -> bool:
    return response.url.endswith("/v1/ask/stream") and response.request.method == "POST"


def ask(page: Page, question: str) -> dict:
    """Type a question, press Enter, wait for the answer to finish; the /v1/ask body."""
    turns = page.locator(".turn").count()
    with page.expect_response(is_answer) as info:
        page.fill("#question", question)
        page.press("#question", "Enter")
    body = done_body(info.value.text())
    answer = page.locator(".turn").nth(turns).locator(".answer")
    expect(answer).to_have_attribute("data-state", "done")
    return body
