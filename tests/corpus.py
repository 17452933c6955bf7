"""The pages the tests crawl, and the item each one must give.

jobs/demo_site, the site `newsmon demo` serves, is the article corpus. tests/fixtures/site
adds what only the tests need: feeds, sitemaps and listings in every format that point at the
corpus, pages in legacy encodings, and pages that hold no article. `fixture_site()` serves
both on one address. tests/fixtures/expected/NAME.json is the golden item of page NAME.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlsplit

from tests.localsite import LocalSite

REPO = Path(__file__).resolve().parents[1]
CORPUS_ROOT = REPO / "jobs" / "demo_site"
FIXTURES = REPO / "tests" / "fixtures"
FIXTURE_SITE_ROOT = FIXTURES / "site"
GOLDEN: dict[str, dict] = {
    path.stem: json.loads(path.read_text("utf-8"))
    for path in sorted((FIXTURES / "expected").glob("*.json"))
}
PAGES: dict[str, str] = {name: golden["page"] for name, golden in GOLDEN.items()}
# What a listing source follows on the fixture site: the corpus sections and the encoding pages.
ARTICLE_LINKS = "/(news|press-releases|statements|encoding)/"


def fixture_site() -> LocalSite:
    """The fixture site over the corpus, not yet started."""
    return LocalSite(FIXTURE_SITE_ROOT, CORPUS_ROOT)


def name_of(url: str) -> str:
    """The golden name of a page by its URL (any host, query ignored)."""
    path = urlsplit(url).path
    return next(name for name, page in PAGES.items() if page == path)
