"""HTTP validators on SQLite and PostgreSQL: saved by URL, read back by URL."""

from storage.validators import Validators, save_validators, validators_for


def test_validators_read_back_by_url(engine):
    url = "https://example.com/feed"
    assert validators_for(engine, [url]) == {}
    save_validators(
        engine,
        [{"url": url, "etag": '"v1"', "last_modified": None, "body_hash": "ab", "status": 200}],
    )
    assert validators_for(engine, [url, "https://example.com/other"]) == {
        url: Validators('"v1"', None, "ab")
    }
