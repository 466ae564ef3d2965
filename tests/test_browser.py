"""The chat page in a real browser: Debian's headless Chromium, driven by Playwright,
against the real app (uvicorn on a loopback port) over the ingested bundled corpus.

Every page must end with no console error (a CSP-blocked resource, a failed request, an
uncaught exception) unless the test provokes it. Screenshots land in
test-artifacts/browser/; `scripts/screenshot.py` regenerates docs/chat.png for the README.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from contextlib import ExitStack

import pytest
from playwright.sync_api import Browser, Page, Request, expect, sync_playwright

from peerqa.config import REPO_ROOT, Settings
from peerqa.service.app import create_app

# CHROMIUM and CHROMIUM_ARGS stay importable from here: test_docs_offline.py takes them.
from tests.browser import (
    CHROMIUM,  # noqa: F401
    CHROMIUM_ARGS,  # noqa: F401
    DESKTOP,
    PHONE,
    MissingBrowser,
    ask,
    chat_page,
    console_of,
    launch_chromium,
)
from tests.workers import serving_in_thread

pytestmark = pytest.mark.browser

ARTIFACTS = REPO_ROOT / "test-artifacts" / "browser"
ROLE_WORDS = {
    "programme_leader": "programme leader",
    "peer_supporter": "peer supporter",
    "peer_recipient": "peer recipient",
}
JOO = "Joo et al. 2022, Family Practice"  # the bundled corpus's study, as a reader cites it

MATCHING = "How do programmes match peer supporters with patients?"
PHYSICIANS = "How did programmes convince sceptical physicians?"
LONELINESS = "Are social isolation and loneliness linked to poor health?"
MEDICAL_ADVICE = "What dose of sertraline should I take for my depression?"
FOLLOW_UP = "And how do they handle rare conditions?"
SIZES = pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])


# --- the app and the browser ------------------------------------------------------------


@pytest.fixture(scope="module")
def base_url(corpus_settings: Settings) -> Iterator[str]:
    """The real app on a free loopback port, served from a background thread."""
    settings = corpus_settings.model_copy(update={"access_log": False})
    with serving_in_thread(create_app(settings)) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        try:
            browser = launch_chromium(playwright)
        except MissingBrowser as missing:
            # Never a skip: a missing browser must not pass as green.
            pytest.fail(str(missing), pytrace=False)
        yield browser
        browser.close()


@pytest.fixture
def open_page(browser: Browser, base_url: str) -> Iterator[Callable[[dict], Page]]:
    """Opens the chat page at a viewport; each page fails its test on any console error
    the test did not allow (allow_console_errors)."""
    with ExitStack() as stack:
        pages: list[Page] = []

        def open_at(viewport: dict) -> Page:
            pages.append(stack.enter_context(chat_page(browser, base_url, viewport)))
            return pages[-1]

        yield open_at
        errors = [e for p in pages for e in console_of(p).unexpected()]
        assert not errors, f"errors on the page: {errors}"


@pytest.fixture
def page(open_page) -> Page:
    return open_page(DESKTOP)


@pytest.fixture
def phone(open_page) -> Page:
    return open_page(PHONE)


# --- helpers ------------------------------------------------------------------------------


def screenshot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


def allow_console_errors(page: Page, pattern: str) -> None:
    console_of(page).allow(pattern)


def is_ask(request: Request) -> bool:
    return request.url.endswith("/v1/ask/stream") and request.method == "POST"


def passage_json(page: Page, passage_id: str) -> dict:
    return page.request.get(f"/v1/passages/{passage_id}").json()


def attribution(p: dict) -> str:
    parts = [ROLE_WORDS[p["role"]]] if p["role"] else []
    return ", ".join(parts + ([f"Programme {p['programme']}"] if p["programme"] else []))


def section_words(section: str) -> str:
    """A section path in words: "Results > Matching" reads "Results, “Matching”"."""
    parts = section.split(" > ")
    return f"{parts[0]}, “{parts[-1]}”" if len(parts) > 1 else section


def cited_sentences(answer: str) -> list[tuple[str, str]]:
    """(marker, the answer's sentence before it), per the answer layout of answer/compose.py:
    every piece of evidence is "verbatim sentence [n]", a quote line ends "[n] — who"."""
    pairs = []
    for line in answer.split("\n"):
        last, previous = 0, ""
        for match in re.finditer(r"\[\d+\]", line):
            sentence = line[last : match.start()].strip() or previous
            pairs.append((match.group(), sentence))
            previous, last = sentence, match.end()
    return pairs


def squeeze(text: str) -> str:
    return " ".join(text.split())


def fake_stream(answer: str, citations: list[dict], **done: object) -> str:
    """A /v1/ask/stream body, for what the bundled corpus cannot produce."""
    body = {
        "question": "q",
        "answer": answer,
        "abstained": False,
        "reason": None,
        "reason_code": None,
        "caveat": None,
        "citations": citations,
        "session_id": "s",
    } | done
    events = [("citations", citations), ("delta", {"text": answer}), ("done", body)]
    return "".join(f"event: {e}\ndata: {json.dumps(data)}\n\n" for e, data in events)


def serve_stream(page: Page, stream: str) -> None:
    page.route(
        "**/v1/ask/stream",
        lambda route: route.fulfill(body=stream, content_type="text/event-stream"),
    )


def serve_passage(page: Page, cited: dict) -> None:
    """GET /v1/passages/{id} answers with the (made-up) cited passage, no neighbours."""
    passage = {k: v for k, v in cited.items() if k not in ("marker", "score")}
    page.route(
        "**/v1/passages/*",
        lambda route: route.fulfill(json=passage | {"previous_id": None, "next_id": None}),
    )


def citation(text: str, section: str = "Results > Outcomes", **fields: object) -> dict:
    return {
        "id": "other:0001",
        "text": text,
        "document": "other",
        "section": section,
        "kind": "paragraph",
        "stance": None,
        "theme": None,
        "programme": None,
        "role": None,
        "ref_numbers": [],
        "references": [],
        "char_start": 0,
        "char_end": len(text),
        "marker": "[1]",
        "score": 1.0,
    } | fields


def in_view(page: Page, selector: str) -> dict:
    """Where the element stands between the top bar and the question box."""
    return page.evaluate(
        """(selector) => {
            const node = [...document.querySelectorAll(selector)].at(-1);
            const box = node.getBoundingClientRect();
            const top = document.querySelector('.topbar').getBoundingClientRect().bottom;
            const bottom = document.querySelector('#ask-form').getBoundingClientRect().top;
            return {top: box.top, bottom: box.bottom, room_top: top, room_bottom: bottom};
        }""",
        selector,
    )


def assert_reload_starts_afresh(page: Page) -> None:
    """After a reload: the introduction, no turns, and the next question in a new session."""
    page.reload()
    expect(page.locator("#intro")).to_be_visible()
    expect(page.locator(".turn")).to_have_count(0)
    with page.expect_request(is_ask) as fresh:
        ask(page, MATCHING)
    assert "session_id" not in fresh.value.post_data_json


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
        page.fill("#question", FOLLOW_UP)
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


def test_marker_opens_the_passage_with_its_study_section_and_neighbours(page: Page):
    body = ask(page, PHYSICIANS)
    cited = next((c for c in body["citations"] if c["kind"] == "quote"), body["citations"][0])
    marker = page.locator(f'.answer-text .marker[data-marker="{cited["marker"]}"]').first
    marker.click()

    panel = page.locator("#panel")
    expect(panel).to_be_visible()
    # Headed by where it stands, in words, and the study; never by the passage id.
    expect(page.locator("#panel-title")).to_have_text(section_words(cited["section"]))
    expect(page.locator("#panel-study")).to_have_text(JOO)
    expect(page.locator("#panel-eyebrow")).to_have_text(f"Source {cited['marker']}")
    expect(panel.locator(".panel-head")).not_to_contain_text(cited["id"])
    expect(panel.locator(".panel-doc cite")).to_have_text(
        page.request.get("/v1/documents").json()[0]["title"]
    )
    shown = passage_json(page, cited["id"])
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

    # Next → moves the panel to the following passage.
    if shown["next_id"]:
        page.click("#passage-next")
        expect(panel.locator(".passage")).to_have_attribute("data-passage-id", shown["next_id"])
        page.click("#passage-prev")
        expect(panel.locator(".passage")).to_have_attribute("data-passage-id", cited["id"])

    # Keyboard: Escape closes and returns focus to the marker; Enter on it reopens.
    page.keyboard.press("Escape")
    expect(panel).to_be_hidden()
    expect(marker).to_be_focused()
    page.keyboard.press("Enter")
    expect(panel).to_be_visible()
    expect(panel.locator(".passage")).to_have_attribute("data-passage-id", cited["id"])


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
    assert copied.startswith(body["answer"].strip() + "\n\nSources:\n")
    # One entry a source (a passage's text may hold line breaks of its own).
    entries = re.split(r"\n(?=\[\d+\] )", copied.split("Sources:\n", 1)[1])
    assert len(entries) == len(body["citations"])
    for line, c in zip(entries, body["citations"], strict=True):
        # "[1] Joo et al. 2022, Family Practice. Results, “Matching”: “text” (id)"
        assert line.startswith(f"{c['marker']} {JOO}. ")
        assert line.endswith(f": “{c['text']}” ({c['id']})")
        assert section_words(c["section"]) in line


@SIZES
def test_a_safety_refusal_reads_as_one(open_page, viewport: dict):
    page = open_page(viewport)
    body = ask(page, MEDICAL_ADVICE)
    assert body["abstained"]
    answer = page.locator(".answer").first
    expect(answer).to_have_attribute("data-reason-code", "medical_advice")
    expect(answer.locator(".answer-status")).to_have_text("Declined for safety")
    notice = answer.locator(".notice-safety")
    expect(notice).to_be_visible()
    expect(notice.locator(".notice-title")).to_have_text("Not individual medical advice")
    expect(notice).to_contain_text(body["answer"])
    # Not dressed as a gap in the evidence.
    expect(page.get_by_text("The evidence does not answer this")).to_have_count(0)
    # The reason as a sentence, without the old "medical_advice:" code in front.
    why = body["reason"] if body.get("reason_code") else body["reason"].partition(": ")[2]
    expect(notice.locator(".notice-reason")).to_have_text(f"Why: {why[0].upper()}{why[1:]}")
    expect(answer.locator(".marker, .source")).to_have_count(0)
    assert_fits_width(page, viewport["width"])
    screenshot(page, f"{'phone' if viewport is PHONE else 'desktop'}-safety-refusal")


@pytest.mark.parametrize(
    ("done", "title", "why"),
    [
        (
            {"reason_code": "medical_advice", "reason": "It asks what one patient should do."},
            "Not individual medical advice",
            "Why: It asks what one patient should do.",
        ),
        (
            {"reason_code": "out_of_scope", "reason": "The evidence does not cover tax law."},
            "The evidence does not answer this",
            "Why: The evidence does not cover tax law.",
        ),
        # A service from before reason_code: the code leads `reason`.
        (
            {"reason_code": None, "reason": "medical_advice: asks for a dose"},
            "Not individual medical advice",
            "Why: Asks for a dose",
        ),
        (
            {"reason_code": None, "reason": "out_of_scope: nothing in the evidence matches"},
            "The evidence does not answer this",
            "Why: Nothing in the evidence matches",
        ),
    ],
    ids=["safety", "not-covered", "old-safety", "old-not-covered"],
)
def test_a_decline_is_told_by_its_reason_code(page: Page, done: dict, title: str, why: str):
    serve_stream(page, fake_stream("I can't answer that.", [], abstained=True, **done))
    page.fill("#question", "anything")
    page.press("#question", "Enter")
    answer = page.locator(".answer").first
    expect(answer).to_have_attribute("data-state", "done")
    safety = title.startswith("Not individual")
    expect(answer.locator(".notice-safety" if safety else ".notice-abstain")).to_be_visible()
    expect(answer.locator(".notice-title")).to_have_text(title)
    expect(answer.locator(".notice-reason")).to_have_text(why)


def test_document_text_is_rendered_as_text_never_as_html(page: Page):
    markup = '<img src="x" onerror="window.pwned = true"><b>bold</b>'
    evil = citation(
        f"A passage quoting {markup} verbatim.",
        section=f"Results > {markup}",
        study={"title": markup, "authors": [markup], "year": 2020, "journal": markup},
    )
    serve_stream(page, fake_stream(f"A passage quoting {markup} verbatim. [1]", [evil]))
    page.fill("#question", "anything")
    page.press("#question", "Enter")
    shown = page.locator(".answer").first
    expect(shown).to_have_attribute("data-state", "done")
    expect(shown.locator(".answer-text")).to_contain_text(markup)
    expect(shown.locator(".source-where")).to_contain_text(markup)
    expect(shown.locator(".source-study")).to_contain_text(markup)
    expect(shown.locator(".source-text mark")).to_contain_text(markup)
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
    allow_console_errors(page, r"Failed to load resource.*(status of (429|500)|ERR_)")
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


# --- the conversation across reloads ------------------------------------------------------


@SIZES
def test_reload_keeps_the_conversation_and_its_session(open_page, viewport: dict):
    page = open_page(viewport)
    first = ask(page, MATCHING)
    shown = page.locator(".answer-text").first.inner_text()

    page.reload()
    expect(page.locator(".turn")).to_have_count(1)
    expect(page.locator("#intro")).to_be_hidden()
    expect(page.locator(".question-text")).to_have_text(MATCHING)
    answer = page.locator(".answer").first
    expect(answer).to_have_attribute("data-state", "done")
    expect(answer.locator(".answer-text")).to_have_text(shown)
    expect(answer.locator(".source")).to_have_count(len(first["citations"]))
    # Its citations still open their passages.
    answer.locator(".answer-text .marker").first.click()
    expect(page.locator("#panel .passage-text")).to_be_visible()
    page.keyboard.press("Escape")

    # The service's session continues: the follow-up is asked within it.
    with page.expect_request(is_ask) as follow_up:
        ask(page, FOLLOW_UP)
    assert follow_up.value.post_data_json["session_id"] == first["session_id"]
    kept = page.request.get(f"/v1/sessions/{first['session_id']}").json()
    assert [t["question"] for t in kept["turns"]] == [MATCHING, FOLLOW_UP]

    page.reload()
    expect(page.locator(".question-text")).to_have_text([MATCHING, FOLLOW_UP])
    screenshot(page, f"{'phone' if viewport is PHONE else 'desktop'}-reloaded")

    # "New conversation" forgets it, across reloads too.
    page.click("#new-conversation")
    expect(page.locator(".turn")).to_have_count(0)
    assert_reload_starts_afresh(page)


def test_reload_after_the_session_expired_says_so_and_starts_afresh(page: Page):
    body = ask(page, MATCHING)
    # The service no longer knows the session (expired, or its data dir was reset).
    page.evaluate(
        """() => {
            const saved = JSON.parse(localStorage.getItem('peerqa.conversation.v1'));
            saved.sessionId = 'expired-session';
            localStorage.setItem('peerqa.conversation.v1', JSON.stringify(saved));
        }"""
    )
    allow_console_errors(page, r"status of 404.*/v1/sessions/expired-session")
    with page.expect_response(re.compile(r"/v1/sessions/expired-session$")) as check:
        page.reload()
    assert check.value.status == 404
    expect(page.locator(".session-note")).to_contain_text("expired")
    expect(page.locator(".answer-text")).to_have_count(1)  # the answer stays, for reference
    with page.expect_request(is_ask) as fresh:
        follow = ask(page, FOLLOW_UP)
    assert "session_id" not in fresh.value.post_data_json
    assert follow["session_id"] != body["session_id"]


@pytest.mark.parametrize(
    "saved",
    [
        "not json",
        json.dumps({"sessionId": "s", "turns": [{"question": "q", "body": {"answer": 3}}]}),
        json.dumps({"sessionId": "s", "turns": [{"question": "q", "body": {"answer": "a"}}]}),
        json.dumps(
            {"turns": [{"question": "q", "body": {"answer": "a", "citations": [{"x": 1}]}}]}
        ),
    ],
    ids=["not-json", "wrong-type", "no-citations", "broken-citation"],
)
def test_a_saved_conversation_this_page_cannot_show_starts_clean(page: Page, saved: str):
    page.evaluate("(saved) => localStorage.setItem('peerqa.conversation.v1', saved)", saved)
    assert_reload_starts_afresh(page)


# --- no console errors ------------------------------------------------------------------


@SIZES
def test_no_console_errors_on_load_after_asking_and_reading_a_source(open_page, viewport: dict):
    page = open_page(viewport)
    # The favicon is served by the page's own origin, as its CSP allows.
    icon = page.locator("link[rel=icon]").get_attribute("href")
    assert icon.startswith("/static/") and page.request.get(icon).ok
    ask(page, PHYSICIANS)
    page.locator(".answer-text .marker").first.click()
    expect(page.locator("#panel .passage-text")).to_be_visible()
    page.keyboard.press("Escape")
    page.locator(".view-tab[data-view=challenges]").click()
    expect(page.locator(".challenge").first).to_be_visible()
    assert console_of(page).errors == []


# --- citations name the study -----------------------------------------------------------


@SIZES
def test_sources_name_the_study_and_say_where_in_words(open_page, viewport: dict):
    page = open_page(viewport)
    body = ask(page, PHYSICIANS)
    sources = page.locator(".answer .source")
    expect(sources).to_have_count(len(body["citations"]))
    expect(sources.locator(".source-study")).to_have_text([JOO] * len(body["citations"]))
    for i, c in enumerate(body["citations"]):
        where = sources.nth(i).locator(".source-where")
        expect(where).to_contain_text(section_words(c["section"]))
        # No technical labels: not the path syntax, the kind code or the passage id.
        expect(where).not_to_have_text(re.compile(r" > |Paragraph|table_row|:\d{4}"))
        expect(sources.nth(i)).not_to_contain_text(c["id"])
    marker = page.locator(".answer-text .marker").first
    expect(marker).to_have_attribute("aria-label", re.compile(rf"^Source 1: {JOO}, "))
    screenshot(page, f"{'phone' if viewport is PHONE else 'desktop'}-sources")


def test_a_citation_s_own_study_is_preferred(page: Page):
    text = "Peer mentors reduced readmissions in the first year."
    berg = {
        "title": "Peer mentoring after discharge",
        "authors": ["Berg, Anna", "Lee, K.", "Osei, B."],
        "year": 2021,
        "journal": "PLoS One",
        "doi": "10.1371/journal.pone.0000001",
    }
    pair = {"title": "Two authors", "authors": ["Anna Berg", "Kim Lee"], "year": 2019}
    cites = [
        citation(text, study=berg),
        citation(text, id="other:0002", document="other-2", marker="[2]", study=pair),
    ]
    serve_stream(page, fake_stream(f"{text} [1] [2]", cites))
    page.fill("#question", "anything")
    page.press("#question", "Enter")
    expect(page.locator(".answer").first).to_have_attribute("data-state", "done")
    expect(page.locator(".source-study")).to_have_text(
        ["Berg et al. 2021, PLoS One", "Berg and Lee 2019"]
    )


# --- the cited sentence, highlighted -----------------------------------------------------


@SIZES
def test_the_cited_sentence_is_highlighted_in_its_passage(open_page, viewport: dict):
    page = open_page(viewport)
    # A sentence that is not its passage's first: the highlight, not the opening, shows.
    for question in (PHYSICIANS, MATCHING, LONELINESS):
        body = ask(page, question)
        by_marker = {c["marker"]: c for c in body["citations"]}
        picks = [
            (i, marker, sentence)
            for i, (marker, sentence) in enumerate(cited_sentences(body["answer"]))
            if squeeze(by_marker[marker]["text"]).find(squeeze(sentence)) > 0
        ]
        if picks:
            break
    assert picks, "no answer cites a sentence from within a passage"
    i, marker, sentence = picks[0]
    page.locator(".turn").last.locator(".answer-text .marker").nth(i).click()
    panel = page.locator("#panel")
    mark = panel.locator(".passage-text mark.cited")
    expect(mark).to_have_count(1)
    assert squeeze(mark.inner_text()) == squeeze(sentence)
    expect(panel.locator(".passage-text")).to_have_text(by_marker[marker]["text"])
    # Scrolled to: the highlight is inside the visible part of the panel.
    body_box = panel.locator(".panel-body").bounding_box()
    mark_box = mark.bounding_box()
    assert mark_box["y"] >= body_box["y"] - 1
    assert mark_box["y"] < body_box["y"] + body_box["height"] - 10
    screenshot(page, f"{'phone' if viewport is PHONE else 'desktop'}-highlight")

    # The source list's snippet is the cited sentence too, not the passage's opening.
    page.keyboard.press("Escape")
    source = page.locator(".turn").last.locator(f'.source[data-marker="{marker}"] .source-text')
    expect(source.locator("mark.cited").first).to_be_visible()
    marked = [squeeze(t) for t in source.locator("mark.cited").all_inner_texts()]
    assert squeeze(sentence) in marked


def test_a_caveat_leads_the_answer_and_the_highlight_skips_it(page: Page):
    caveat = {"kind": "not_reported", "text": "The study does not report survival."}
    text = "Peer mentors met weekly. Patients said the calls helped them through treatment."
    cited = "Patients said the calls helped them through treatment."
    answer = f"{caveat['text']} {cited} [1]"
    source = citation(text)
    serve_stream(page, fake_stream(answer, [source], caveat=caveat))
    serve_passage(page, source)
    page.fill("#question", "Does peer support improve survival?")
    page.press("#question", "Enter")
    shown = page.locator(".answer").first
    expect(shown).to_have_attribute("data-state", "done")
    expect(shown.locator(".caveat")).to_have_text(caveat["text"])
    expect(shown.locator(".source-text mark.cited")).to_have_text(cited)
    shown.locator(".answer-text .marker").click()
    expect(page.locator("#panel .passage-text mark.cited")).to_have_text(cited)


def test_a_table_row_reads_as_one_with_its_columns(page: Page):
    row = citation(
        "F | Breast cancer | Community | National",
        section="Table 2",
        kind="table_row",
        header="Programme | Condition | Setting | Reach",
    )
    serve_stream(page, fake_stream("F | Breast cancer | Community | National [1]", [row]))
    serve_passage(page, row)
    page.fill("#question", "Which programme serves breast cancer?")
    page.press("#question", "Enter")
    expect(page.locator(".answer").first).to_have_attribute("data-state", "done")
    expect(page.locator(".source-where")).to_have_text("Row of Table 2")
    page.locator(".answer-text .marker").click()
    expect(page.locator("#panel .passage-header")).to_have_text(row["header"])
    expect(page.locator("#panel-position")).to_have_text("Table row")


def test_a_mitigation_is_highlighted_in_its_passage(page: Page):
    page.get_by_role("button", name="Challenges").click()
    mitigation = page.request.get("/v1/challenges").json()[0]["mitigations"][0]
    page.locator(".challenge").first.locator(".mitigation").first.click()
    expect(page.locator("#panel .passage-text mark.cited")).to_have_text(mitigation["text"])


# --- the newest answer in view ----------------------------------------------------------


@SIZES
def test_the_newest_answer_is_in_view_after_a_follow_up(open_page, viewport: dict):
    page = open_page(viewport)
    ask(page, MATCHING)
    ask(page, FOLLOW_UP)
    expect(page.locator(".turn")).to_have_count(2)
    # In view between the top bar and the question box once scrolling settles: all of
    # the turn when it fits, else its question at the top with the answer below it.
    page.wait_for_function(
        """() => {
            const turn = [...document.querySelectorAll('.turn')].at(-1);
            const box = turn.getBoundingClientRect();
            const top = document.querySelector('.topbar').getBoundingClientRect().bottom;
            const bottom = document.querySelector('#ask-form').getBoundingClientRect().top;
            if (box.height <= bottom - top) return box.top >= top - 1 && box.bottom <= bottom + 1;
            return Math.abs(box.top - top) <= 2;
        }""",
        timeout=5_000,
    )
    where = in_view(page, ".turn .answer")
    assert where["top"] < where["room_bottom"] - 100, "the answer is hidden below the question box"
    assert where["top"] >= where["room_top"] - 1
    screenshot(page, f"{'phone' if viewport is PHONE else 'desktop'}-follow-up")
