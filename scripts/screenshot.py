"""Regenerate docs/chat.png, the README's picture of the chat page.

Ingests the bundled corpus into a throwaway data dir (or serves an existing one with
--data-dir), serves the app on a loopback port, asks the README's question in Debian's
headless Chromium, opens the first cited passage (its cited sentence highlighted) and
saves the page.

    .venv/bin/python scripts/screenshot.py [--out docs/chat.png] [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests/ holds the browser harness the browser tests use

from playwright.sync_api import expect, sync_playwright  # noqa: E402

from peerqa.config import Settings  # noqa: E402
from peerqa.index.pipeline import ingest  # noqa: E402
from peerqa.service.app import create_app  # noqa: E402
from tests.browser import DESKTOP, ask, chat_page, launch_chromium  # noqa: E402
from tests.workers import serving_in_thread  # noqa: E402

QUESTION = "How did programmes convince sceptical physicians?"


def shoot(settings: Settings, out: Path, question: str = QUESTION) -> None:
    app = create_app(settings)
    with serving_in_thread(app) as url, sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            with chat_page(browser, url, DESKTOP, reduced_motion="reduce") as page:
                ask(page, question)
                page.locator(".answer-text .marker").first.click()
                expect(page.locator("#panel mark.cited")).to_be_visible()
                out.parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(out))
        finally:
            browser.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "chat.png")
    parser.add_argument("--data-dir", type=Path, help="an ingested data dir to serve as is")
    parser.add_argument("--question", default=QUESTION)
    args = parser.parse_args(argv)
    quiet = {"chroma_url": None, "access_log": False, "rate_limit_per_minute": 0}
    if args.data_dir:
        shoot(Settings(data_dir=args.data_dir, **quiet), args.out, args.question)
        return
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp) / "data", **quiet)
        ingest([], settings)  # the bundled corpus
        shoot(settings, args.out, args.question)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
