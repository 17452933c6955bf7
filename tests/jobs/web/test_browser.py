"""One real-browser check: headless Debian Chromium, driven by Playwright, against `newsmon serve`.

Skipped with the reason when no browser is installed, except under CI=true, where it must run
(.ci/run installs Debian's chromium).
"""

import os
from pathlib import Path

import pytest

from storage.db import make_engine, prepare_for_writing
from tests.jobs.helpers import serving
from tests.storage.seed import seed

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


def _require_browser() -> None:
    reason = None
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing (apt-get install chromium)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            reason = "playwright is not installed (pip install playwright)"
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(f"the browser check must run under CI=true: {reason}")
        pytest.skip(reason)


@pytest.fixture
def served(tmp_path):
    """`newsmon serve` on a seeded database, in a child process; yields its base URL."""
    engine = make_engine(f"sqlite:///{tmp_path / 'newsmon.db'}")
    prepare_for_writing(engine)
    ids = seed(engine)
    engine.dispose()
    config = tmp_path / "config.yaml"
    config.write_text(
        "database: sqlite:///newsmon.db\nsources:\n  - name: dawn\n    feed: https://dawn.example/feed\n"
    )
    with serving(config) as port:
        yield f"http://127.0.0.1:{port}", ids


def test_typing_a_search_highlights_the_flagged_article(served):
    _require_browser()
    from playwright.sync_api import sync_playwright

    base_url, ids = served
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
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
