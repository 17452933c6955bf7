"""One real-browser check: headless Debian Chromium, driven by Playwright, against `newsmon serve`.

Skipped with the reason when no browser is installed, except under CI=true, where it must run
(.ci/run installs Debian's chromium). Screenshots of the analyst's pages are saved in
$NEWSMON_ARTEFACTS, else tmp/artefacts in the checkout.
"""

import os
from pathlib import Path

import pytest

from tests.jobs.helpers import REPO, serving
from tests.services import chromium
from tests.storage.recent import recent_store
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


def artefacts() -> Path:
    """Where screenshots go: $NEWSMON_ARTEFACTS, else tmp/artefacts in the checkout."""
    folder = Path(os.environ.get("NEWSMON_ARTEFACTS") or REPO / "tmp" / "artefacts")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def analyst(tmp_path):
    """`newsmon serve` on the recent database (tests/storage/recent.py)."""
    config, stored = recent_store(tmp_path)
    with serving(config) as port:
        yield f"http://127.0.0.1:{port}", stored


def test_the_analysts_pages_show_what_was_stored_without_any_script(analyst):
    browser_path = chromium()
    from playwright.sync_api import sync_playwright

    base_url, stored = analyst
    today = stored.now.date().isoformat()
    problems: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(browser_path), headless=True, args=CHROMIUM_ARGS
        )
        try:
            page = browser.new_page(viewport={"width": 1000, "height": 900})
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda error: problems.append(str(error)))

            def visit(path: str, name: str) -> None:
                response = page.goto(base_url + path)
                assert response is not None and response.status == 200, path
                assert response.headers["content-security-policy"].startswith("default-src 'none'")
                assert page.evaluate("document.scripts.length") == 0, path
                page.screenshot(path=str(artefacts() / f"{name}.png"), full_page=True)

            visit("/", "dashboard")
            chart = page.locator("svg[data-keyword='Pakistan-US']")
            assert chart.locator("g.day").count() == 30
            bar = chart.locator(f"g[data-day='{today}']")
            assert int(bar.get_attribute("data-count")) == stored.count(
                "Pakistan-US", stored.now.date()
            )
            assert bar.locator("path.spike-mark").count() == 1
            assert chart.bounding_box()["height"] > 100  # drawn, not only present
            assert "Pakistan-US" in page.locator("section.spikes").inner_text()
            story = page.locator(f"li[data-id='{stored.ids['story']}']")
            assert story.locator(".copies").inner_text() == "and 2 copies: app, tribune"
            urdu = page.locator(f"li[data-id='{stored.ids['urdu']}'] a.title")
            assert urdu.evaluate("a => getComputedStyle(a).direction") == "rtl"
            health = page.locator("ul.health").inner_text()
            assert "1 broken" in health and "1 silent" in health
            page.set_viewport_size({"width": 390, "height": 844})  # a phone: nothing too wide
            assert page.evaluate("document.documentElement.scrollWidth") <= 390
            page.screenshot(path=str(artefacts() / "dashboard-phone.png"), full_page=True)
            page.set_viewport_size({"width": 1000, "height": 900})

            visit("/?q=Rubio", "search")
            assert page.locator(f"li.result[data-id='{stored.ids['story']}'] mark").count() >= 1

            visit(f"/items/{stored.ids['story']}", "story")
            assert page.locator("ol.members li").count() == 2
            assert page.locator("p.context").count() == 1
            assert "Kashmir, Pakistan-US" in page.locator("p.context").inner_text()
            changed = page.locator("table.diff tr.replace")
            assert "three hours" in changed.locator("td.new").inner_text()
            assert "two hours" in changed.locator("td.old").inner_text()

            visit(f"/items/{stored.ids['urdu']}", "urdu")
            assert page.locator("h2").evaluate("h => getComputedStyle(h).direction") == "rtl"

            visit("/sources", "sources")
            assert page.locator("tr[data-state='broken']").get_attribute("data-source") == "tribune"
            assert "<script>" in page.locator("tr[data-source='tribune']").inner_text()  # as text

            visit("/alerts", "alerts")
            assert page.locator("tr[data-alert='desk'] td.pending").inner_text() == "1"
            assert "bad gateway" in page.locator("tr[data-alert='wire'] td.error").inner_text()
        finally:
            browser.close()
    assert problems == []
