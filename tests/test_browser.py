"""The chat page in a real browser: Debian's headless Chromium, driven by Playwright,
against the real app (uvicorn on a loopback port) over the ingested bundled corpus.

Screenshots land in test-artifacts/browser/; with PEERQA_UPDATE_SCREENSHOTS=1 the run
also rewrites docs/chat.png, the README's picture of the page.
"""

from __future__ import annotations

import json
import os
import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import uvicorn
from playwright.sync_api import Browser, Page, Request, Response, expect, sync_playwright

from peerqa.config import REPO_ROOT, Settings
from service.app import create_app

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
ARTIFACTS = REPO_ROOT / "test-artifacts" / "browser"
DOCS_SCREENSHOT = REPO_ROOT / "docs" / "chat.png"
DESKTOP = {"width": 1360, "height": 860}
PHONE = {"width": 375, "height": 740}
ROLE_WORDS = {
    "programme_leader": "programme leader",
    "peer_supporter": "peer supporter",
    "peer_recipient": "peer recipient",
}

MATCHING = "How do programmes match peer supporters with patients?"
PHYSICIANS = "How did programmes convince sceptical physicians?"
LONELINESS = "Are social isolation and loneliness linked to poor health?"
MEDICAL_ADVICE = "What dose of sertraline should I take for my depression?"


# --- the app and the browser ------------------------------------------------------------


@pytest.fixture(scope="module")
def base_url(corpus_settings: Settings) -> Iterator[str]:
    """The real app on a free loopback port, served from a background thread."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))  # bound before uvicorn starts: no port race
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(create_app(corpus_settings), log_level="warning", access_log=False)
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            if server.started and httpx.get(f"{url}/readyz", timeout=5).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail(f"the app did not become ready at {url}", pytrace=False)
        time.sleep(0.2)
    yield url
    server.should_exit = True
    thread.join(timeout=15)
    sock.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        # Never a skip: a missing browser must not pass as green.
        pytest.fail(
            f"{CHROMIUM} not found: the browser tests need Debian's chromium package. "
            "Run `make browser` (bash scripts/browser-deps.sh) to install it.",
            pytrace=False,
        )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@contextmanager
def chat_page(browser: Browser, base_url: str, viewport: dict) -> Iterator[Page]:
    """The chat page at `viewport`; closed after, failing on any uncaught script error."""
    context = browser.new_context(base_url=base_url, viewport=viewport, device_scale_factor=1)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base_url)
    context.set_default_timeout(60_000)  # the first answer also warms the model up
    page = context.new_page()
    errors: list[str] = []  # uncaught exceptions: always a bug in app.js
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto("/")
    expect(page.locator("#question")).to_be_visible()
    yield page
    context.close()
    assert not errors, f"script errors on the page: {errors}"


@pytest.fixture
def page(browser: Browser, base_url: str) -> Iterator[Page]:
    with chat_page(browser, base_url, DESKTOP) as page:
        yield page


@pytest.fixture
def phone(browser: Browser, base_url: str) -> Iterator[Page]:
    with chat_page(browser, base_url, PHONE) as page:
        yield page


# --- helpers ------------------------------------------------------------------------------


def screenshot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path


def done_body(stream: str) -> dict:
    """The `done` event's JSON from a /v1/ask/stream body."""
    for block in stream.replace("\r\n", "\n").split("\n\n"):
        lines = block.split("\n")
        if "event: done" in lines:
            return json.loads("\n".join(line[6:] for line in lines if line.startswith("data: ")))
    raise AssertionError(f"no done event in the stream: {stream[:300]!r}")


def is_ask(request: Request) -> bool:
    return request.url.endswith("/v1/ask/stream") and request.method == "POST"


def is_answer(response: Response) -> bool:
    return is_ask(response.request)


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


def passage_json(page: Page, passage_id: str) -> dict:
    return page.request.get(f"/v1/passages/{passage_id}").json()


def attribution(p: dict) -> str:
    parts = [ROLE_WORDS[p["role"]]] if p["role"] else []
    return ", ".join(parts + ([f"Programme {p['programme']}"] if p["programme"] else []))


def assert_fits_width(page: Page, width: int) -> None:
    scroll_width = page.evaluate("document.scrollingElement.scrollWidth")
    assert scroll_width <= width, f"the page scrolls sideways: {scroll_width}px > {width}px"


# --- tests -------------------------------------------------------------------------------


def test_page_loads_with_labelled_controls_and_programme_filters(page: Page):
    expect(page).to_have_title(re.compile("peerqa"))
    expect(page.get_by_label("Your question")).to_be_editable()
    expect(page.locator("#ask-button")).to_be_enabled()
    expect(page.locator(".suggestion")).to_have_count(4)
    page.click("#filters summary")
    # Programme chips name each programme's condition, from GET /v1/programmes.
    programmes = page.request.get("/v1/programmes").json()
    assert [p["programme"] for p in programmes] == list("ABCDEFG")
    for p in programmes:
        chip = page.locator(f'.chip[data-key="programme"][data-value="{p["programme"]}"]')
        expect(chip).to_have_attribute("aria-label", re.compile(re.escape(p["condition"])))
    expect(page.locator('.chip[data-key="stance"]')).to_have_text(
        ["Benefit", "Challenge", "Mitigation"]
    )
    expect(page.locator('.chip[data-key="role"]')).to_have_count(3)
    screenshot(page, "desktop-start")


def test_answer_streams_in_with_clickable_citations(page: Page):
    page.fill("#question", MATCHING)
    page.press("#question", "Enter")
    answer = page.locator(".answer").first
    # Seen mid-stream: pieces have arrived and the answer is still marked busy.
    page.wait_for_function(
        """() => {
            const a = document.querySelector('.answer');
            return a && a.dataset.state === 'streaming' && Number(a.dataset.deltas) > 0
                && a.getAttribute('aria-busy') === 'true';
        }"""
    )
    expect(answer).to_have_attribute("data-state", "done")
    expect(answer).to_have_attribute("aria-busy", "false")
    assert int(answer.get_attribute("data-deltas")) > 1, "the answer arrived in one piece"
    expect(page.locator("#thread")).to_have_attribute("aria-live", "polite")

    markers = answer.locator(".answer-text .marker")
    assert markers.count() >= 1
    sources = answer.locator(".source")
    cited = {sources.nth(i).get_attribute("data-marker") for i in range(sources.count())}
    for i in range(markers.count()):
        assert markers.nth(i).get_attribute("data-marker") in cited
        assert markers.nth(i).evaluate("m => m.tagName") == "BUTTON"
    # Every resolved marker became a button: no bare "[n]" left in the text.
    assert not re.search(r"\[\d+\]", answer.locator(".answer-text").inner_text())
    screenshot(page, "desktop-answer")


def test_follow_up_continues_the_session_and_new_conversation_resets_it(page: Page):
    first = ask(page, MATCHING)
    with page.expect_request(is_ask) as follow_up:
        page.fill("#question", "And how do they handle rare conditions?")
        page.press("#question", "Enter")
    assert follow_up.value.post_data_json["session_id"] == first["session_id"]
    expect(page.locator(".answer").nth(1)).to_have_attribute("data-state", "done")
    expect(page.locator(".turn")).to_have_count(2)

    page.click("#new-conversation")
    expect(page.locator(".turn")).to_have_count(0)
    expect(page.locator("#intro")).to_be_visible()
    with page.expect_request(is_ask) as fresh:
        page.fill("#question", MATCHING)
        page.press("#question", "Enter")
    assert "session_id" not in fresh.value.post_data_json


def test_marker_opens_the_passage_with_section_and_neighbours(page: Page):
    body = ask(page, PHYSICIANS)
    citation = next((c for c in body["citations"] if c["kind"] == "quote"), body["citations"][0])
    marker = page.locator(f'.answer-text .marker[data-marker="{citation["marker"]}"]').first
    marker.click()

    panel = page.locator("#panel")
    expect(panel).to_be_visible()
    expect(page.locator("#panel-title")).to_have_text(citation["section"])
    expect(page.locator("#panel-eyebrow")).to_have_text(f"Source {citation['marker']}")
    shown = passage_json(page, citation["id"])
    expect(panel.locator(".passage-text")).to_have_text(shown["text"])
    if shown["role"]:
        expect(panel.locator(".passage-who")).to_have_text(f"— {attribution(shown)}")
    # Neighbours, dimmed before and after.
    assert shown["previous_id"] or shown["next_id"]
    if shown["previous_id"]:
        before = passage_json(page, shown["previous_id"])
        expect(panel.locator(".ctx-before .ctx-text")).to_have_text(before["text"])
    if shown["next_id"]:
        after = passage_json(page, shown["next_id"])
        expect(panel.locator(".ctx-after .ctx-text")).to_have_text(after["text"])
    expect(marker).to_have_class(re.compile("is-active"))
    screenshot(page, "desktop-passage")
    if os.environ.get("PEERQA_UPDATE_SCREENSHOTS") == "1":
        DOCS_SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(DOCS_SCREENSHOT))

    # Next → moves the panel to the following passage.
    if shown["next_id"]:
        page.click("#passage-next")
        expect(panel.locator(".passage")).to_have_attribute("data-passage-id", shown["next_id"])
        page.click("#passage-prev")
        expect(panel.locator(".passage")).to_have_attribute("data-passage-id", citation["id"])

    # Keyboard: Escape closes and returns focus to the marker; Enter on it reopens.
    page.keyboard.press("Escape")
    expect(panel).to_be_hidden()
    expect(marker).to_be_focused()
    page.keyboard.press("Enter")
    expect(panel).to_be_visible()
    expect(panel.locator(".passage")).to_have_attribute("data-passage-id", citation["id"])


def test_passage_panel_lists_the_references_it_cites(page: Page):
    body = ask(page, LONELINESS)
    citation = next(c for c in body["citations"] if c["references"])
    page.locator(f'.answer-text .marker[data-marker="{citation["marker"]}"]').first.click()
    refs = page.locator("#panel .refs li")
    expect(refs).to_have_count(len(citation["references"]))
    for i, ref in enumerate(citation["references"]):
        expect(refs.nth(i)).to_have_text(f"{ref['n']}. {ref['citation']}")


def test_programme_filter_is_sent_and_applied(page: Page):
    page.click("#filters summary")
    page.click('.chip[data-key="programme"][data-value="F"]')
    expect(page.locator('.chip[data-value="F"]')).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#filter-summary")).to_have_text("Programme F")

    with page.expect_request(is_ask) as request:
        body = ask(page, MATCHING)
    assert request.value.post_data_json["filters"] == {"programme": ["F"]}
    assert body["citations"] and all(c["programme"] == "F" for c in body["citations"])
    sources = page.locator(".answer .source")
    expect(sources).to_have_count(len(body["citations"]))
    for i in range(sources.count()):
        expect(sources.nth(i)).to_have_attribute("data-programme", "F")
    expect(page.locator(".question-filters")).to_have_text("Filtered: Programme F")
    screenshot(page, "desktop-filtered")


def test_challenges_view_lists_challenges_with_mitigations_and_quotes(page: Page):
    page.get_by_role("button", name="Challenges").click()
    expect(page).to_have_url(re.compile("#challenges$"))
    challenges = page.request.get("/v1/challenges").json()
    cards = page.locator(".challenge")
    expect(cards).to_have_count(7)
    expect(page.locator(".challenge-title")).to_have_text(
        [re.compile(re.escape(c["challenge"]) + "$") for c in challenges]
    )
    for i, challenge in enumerate(challenges):
        card = cards.nth(i)
        assert challenge["mitigations"], f"{challenge['challenge']} has no mitigations"
        expect(card.locator(".mitigation")).to_have_text(
            [m["text"] for m in challenge["mitigations"]]
        )
        expect(card.locator(".quote figcaption span")).to_have_text(
            [f"— {attribution(q)[0].upper()}{attribution(q)[1:]}" for q in challenge["quotes"]]
        )

    # A mitigation opens the passage that contains it.
    mitigation = challenges[0]["mitigations"][0]
    cards.first.locator(".mitigation").first.click()
    passage = page.locator("#panel .passage")
    expect(passage).to_have_attribute("data-passage-id", mitigation["passage_id"])
    expect(passage.locator(".passage-text")).to_contain_text(mitigation["text"])
    # A quote opens in context with its speaker in words.
    quote = challenges[0]["quotes"][0]
    cards.first.locator(".quote-open").first.click()
    expect(passage).to_have_attribute("data-passage-id", quote["id"])
    expect(passage.locator(".passage-who")).to_have_text(f"— {attribution(quote)}")
    screenshot(page, "desktop-challenges")


def test_copy_puts_the_answer_and_numbered_sources_on_the_clipboard(page: Page):
    body = ask(page, MATCHING)
    page.get_by_role("button", name="Copy with citations").click()
    expect(page.locator("#toast")).to_contain_text("copied")
    expect(page.locator(".copy")).to_contain_text("Copied")
    copied = page.evaluate("navigator.clipboard.readText()")
    expected = [body["answer"].strip(), "", "Sources:"] + [
        f"{c['marker']} {c['section']} — {c['text']} ({c['id']})" for c in body["citations"]
    ]
    assert copied == "\n".join(expected)


def test_abstained_answer_is_a_plain_notice_without_citations(page: Page):
    body = ask(page, MEDICAL_ADVICE)
    assert body["abstained"]
    answer = page.locator(".answer").first
    notice = answer.locator(".notice-abstain")
    expect(notice).to_be_visible()
    expect(notice).to_contain_text(body["answer"])
    # The reason in words: "medical_advice: asks for a dose" reads
    # "Reason: individual medical advice — asks for a dose".
    why = body["reason"].partition(": ")[2] or body["reason"]
    expect(notice.locator(".notice-reason")).to_have_text(
        re.compile(rf"^Reason: .*{re.escape(why)}$")
    )
    expect(answer.locator(".marker")).to_have_count(0)
    expect(answer.locator(".source")).to_have_count(0)
    screenshot(page, "desktop-abstained")


def test_document_text_is_rendered_as_text_never_as_html(page: Page):
    markup = '<img src="x" onerror="window.pwned = true"><b>bold</b>'
    citation = {
        "id": "evil:0001",
        "text": f"A passage quoting {markup} verbatim.",
        "document": "evil",
        "section": f"Results > {markup}",
        "kind": "paragraph",
        "stance": None,
        "theme": None,
        "programme": None,
        "role": None,
        "ref_numbers": [],
        "references": [],
        "char_start": 0,
        "char_end": 10,
        "marker": "[1]",
        "score": 1.0,
    }
    answer = f"The evidence says {markup}. [1]"
    done = {
        "question": "q",
        "answer": answer,
        "abstained": False,
        "reason": None,
        "citations": [citation],
        "session_id": "s",
    }
    stream = "".join(
        f"event: {event}\ndata: {json.dumps(data)}\n\n"
        for event, data in [("citations", [citation]), ("delta", {"text": answer}), ("done", done)]
    )
    page.route(
        "**/v1/ask/stream",
        lambda route: route.fulfill(body=stream, content_type="text/event-stream"),
    )
    page.fill("#question", "anything")
    page.press("#question", "Enter")
    shown = page.locator(".answer").first
    expect(shown).to_have_attribute("data-state", "done")
    expect(shown.locator(".answer-text")).to_contain_text(markup)
    expect(shown.locator(".source-section")).to_have_text(f"Results > {markup}")
    expect(shown.locator("img, b")).to_have_count(0)
    assert page.evaluate("window.pwned") is None


@pytest.mark.parametrize(
    ("status", "message"),
    [
        (429, "Too many questions in a short time. Please try again in 7 seconds."),
        (500, "The evidence service had a problem (error 500). Please try again."),
        (None, "Could not reach the evidence service. Check the connection and try again."),
    ],
)
def test_errors_are_shown_inline(page: Page, status: int | None, message: str):
    def fail(route):
        if status is None:
            route.abort("connectionrefused")
        else:
            detail = {"detail": "internal server error"}
            route.fulfill(status=status, json=detail, headers={"Retry-After": "7"})

    page.route("**/v1/ask/stream", fail)
    page.fill("#question", MATCHING)
    page.press("#question", "Enter")
    answer = page.locator(".answer").first
    expect(answer).to_have_attribute("data-state", "error")
    expect(answer.locator(".error-message")).to_have_text(message)
    expect(page.locator(".question-text")).to_have_text(MATCHING)
    expect(page.locator("#ask-button")).to_be_enabled()
    screenshot(page, f"desktop-error-{status or 'network'}")

    # "Try again" once the service is back: the failed turn is replaced by an answer.
    page.unroute("**/v1/ask/stream")
    answer.get_by_role("button", name="Try again").click()
    expect(page.locator(".turn")).to_have_count(1)
    expect(page.locator(".answer").first).to_have_attribute("data-state", "done")


def test_phone_width_single_column_and_bottom_sheet(phone: Page):
    width, height = PHONE["width"], PHONE["height"]
    assert_fits_width(phone, width)
    screenshot(phone, "phone-start")
    for control in ("#new-conversation", ".view-tab[data-view=challenges]", "#ask-button"):
        box = phone.locator(control).bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= width, control

    ask(phone, PHYSICIANS)
    assert_fits_width(phone, width)
    answer_box = phone.locator(".answer").first.bounding_box()
    assert answer_box["width"] > width * 0.85, "the answer should take the full column"
    screenshot(phone, "phone-answer")

    phone.locator(".answer-text .marker").first.click()
    sheet = phone.locator("#panel")
    expect(sheet).to_be_visible()
    expect(phone.locator("#backdrop")).to_be_visible()
    box = sheet.bounding_box()
    assert box["x"] == 0 and box["width"] == width, box
    assert abs(box["y"] + box["height"] - height) <= 1, "the sheet sits on the bottom edge"
    assert box["y"] > 0, "the sheet leaves the page visible above it"
    expect(sheet.locator(".passage-text")).to_be_visible()
    screenshot(phone, "phone-passage")

    phone.locator("#backdrop").click(position={"x": 20, "y": 20})
    expect(sheet).to_be_hidden()

    phone.locator(".view-tab[data-view=challenges]").click()
    expect(phone.locator(".challenge")).to_have_count(7)
    assert_fits_width(phone, width)
    screenshot(phone, "phone-challenges")
