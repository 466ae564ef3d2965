"""/docs (Swagger UI) and /redoc render every operation in Debian's headless Chromium with
every request that is not to the service itself blocked: their assets come from a Python
package, not a CDN, so they work on a network that reaches nothing else."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, Route, expect, sync_playwright

from peerqa.config import Settings
from peerqa.service.app import create_app
from peerqa.service.docs import CONTRACT_URL
from tests.test_browser import CHROMIUM, CHROMIUM_ARGS
from tests.workers import serving_in_thread

pytestmark = pytest.mark.browser

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


@pytest.fixture(scope="module")
def app_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    # The docs need no index: an empty store.
    return Settings(data_dir=tmp_path_factory.mktemp("docs") / "data", access_log=False)


@pytest.fixture(scope="module")
def base_url(app_settings: Settings) -> Iterator[str]:
    with serving_in_thread(create_app(app_settings)) as url:
        yield url


@pytest.fixture(scope="module")
def operations(app_settings: Settings) -> int:
    spec = create_app(app_settings).openapi()
    return sum(len(ops) for ops in spec["paths"].values())


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():  # never a skip: a missing browser must not pass
        pytest.fail(f"{CHROMIUM} not found: run `make browser`", pytrace=False)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class Offline:
    """A page whose requests reach only the loopback service; the rest are aborted and
    recorded, as are script errors and console errors."""

    def __init__(self, browser: Browser, base_url: str) -> None:
        self.context = browser.new_context(base_url=base_url)
        self.context.set_default_timeout(30_000)
        self.blocked: list[str] = []
        self.errors: list[str] = []
        self.context.route("**/*", self._route)
        self.page: Page = self.context.new_page()
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)

    def _route(self, route: Route) -> None:
        if urlsplit(route.request.url).hostname in LOOPBACK:
            route.continue_()
        else:
            self.blocked.append(route.request.url)
            route.abort("internetdisconnected")


@pytest.fixture
def offline(browser: Browser, base_url: str) -> Iterator[Offline]:
    page = Offline(browser, base_url)
    yield page
    page.context.close()


def test_swagger_ui_renders_every_operation_offline(offline: Offline, operations: int):
    offline.page.goto("/docs")
    expect(offline.page.locator(".opblock")).to_have_count(operations)
    expect(offline.page.locator(".info .title")).to_contain_text("peerqa")
    # The description links the contract, which is served.
    link = offline.page.locator(f'.info a[href="{CONTRACT_URL}"]')
    expect(link).to_have_text("docs/API.md")
    assert offline.page.request.get(CONTRACT_URL).ok
    assert offline.blocked == [] and offline.errors == []


def test_redoc_renders_every_operation_offline(offline: Offline, operations: int):
    offline.page.goto("/redoc")
    sections = offline.page.locator('[data-section-id^="operation/"]')
    expect(sections.first).to_be_attached()
    ids = sections.evaluate_all("els => els.map(e => e.dataset.sectionId)")
    assert len(set(ids)) == operations
    expect(offline.page.get_by_text("/v1/chat/completions").first).to_be_attached()
    assert offline.blocked == [] and offline.errors == []
