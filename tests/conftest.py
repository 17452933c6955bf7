"""Shared fixtures: the two local sites, served on 127.0.0.1 for the whole session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from jobs.localsite import LocalSite

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures"
FIXTURE_SITE_ROOT = FIXTURES / "site"
DEMO_SITE_ROOT = REPO / "jobs" / "demo_site"


@pytest.fixture(scope="session")
def fixture_site() -> Iterator[LocalSite]:
    """tests/fixtures/site: feeds, sitemaps, listings, odd encodings and bad pages."""
    with LocalSite(FIXTURE_SITE_ROOT) as site:
        yield site


@pytest.fixture(scope="session")
def demo_site() -> Iterator[LocalSite]:
    """jobs/demo_site, the site `newsmon demo` crawls."""
    with LocalSite(DEMO_SITE_ROOT) as site:
        yield site
