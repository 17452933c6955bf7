"""One real-browser check: headless Debian Chromium, driven by Playwright, against `newsmon serve`.

Skipped with the reason when no browser is installed, except under CI=true, where it must run
(.ci/run installs Debian's chromium).
"""

import pytest

from tests.jobs.helpers import serving
from tests.services import chromium
from tests.storage.seed import seeded_store

pytestmark = pytest.mark.slow

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


@pytest.fixture
def served(tmp_path):
    """`newsmon serve` on a seeded database, in a child process; yields its base URL."""
    config, ids = seeded_store(tmp_path)
    with serving(config) as port:
        yield f"http://127.0.0.1:{port}", ids


def test_typing_a_search_highlights_the_flagged_article(served):
    browser_path = chromium()
    from playwright.sync_api import sync_playwright

    base_url, ids = served
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(browser_path), headless=True, args=CHROMIUM_ARGS
        )
        try:
            page = browser.new_page(viewport={"width": 390, "height": 844})  # a phone
            page.goto(base_url + "/")
            page.fill("input[name=q]", '"stable relationship"')
            page.press("input[name=q]", "Enter")
            page.wait_for_url("**/?q=*")
            result = page.locator(f"li.result[data-id='{ids['dar']}']")
            assert result.get_attribute("class") == "result flagged"
            assert result.locator(".badge").inner_text() == "Pakistan-US"
            marks = result.locator("mark").all_inner_texts()
            assert "stable relationship" in [mark.lower() for mark in marks]
            # The highlight is visible, not only present in the markup.
            color = result.locator("mark").first.evaluate(
                "m => getComputedStyle(m).backgroundColor"
            )
            assert color not in ("rgba(0, 0, 0, 0)", "transparent")
            # Readable on a phone: nothing wider than the screen.
            assert page.evaluate("document.documentElement.scrollWidth") <= 390
        finally:
            browser.close()
