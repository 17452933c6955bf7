from collections.abc import Iterator

import pytest

from tests import corpus
from tests.localsite import LocalSite


@pytest.fixture
def site() -> Iterator[LocalSite]:
    """The fixture site over the corpus, fresh per test so its request counts belong to that
    test alone. Modules that serve a site of their own override it."""
    with corpus.fixture_site() as site:
        yield site
