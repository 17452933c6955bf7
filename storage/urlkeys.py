"""How a table keeps a URL that may carry a secret: keyed by a digest, shown redacted.

A discovery URL may carry a password or an api_key in its query. A table keyed by URL
(http_validators, discovery_walks) uses `url_digest` of the URL as requested for the key, so
lookups stay exact, and keeps only `redact_url` of it for a person to read:

    http://newsmon:s3cret@host/feed.xml?api_key=k3y&page=2
    -> http://newsmon:***@host/feed.xml?api_key=***&page=***

Every query value is hidden, not only those with a telling name: newsmon cannot know which
parameter of a site's API is the key. Redaction lives here, below the crawler, so that the
store itself can refuse to keep a secret; crawler/redact.py builds text and log redaction on
it. Standard library only.
"""

from __future__ import annotations

import hashlib
from urllib.parse import urlsplit, urlunsplit

HIDDEN = "***"


def url_digest(url: str) -> str:
    """The key a table keeps `url` under: SHA-256 of the URL exactly as requested."""
    return hashlib.sha256(url.encode("utf-8", "surrogatepass")).hexdigest()


def redact_url(url: str) -> str:
    """`url` with its password (or a bare username, often a token) and query values hidden."""
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. an unclosed [IPv6 bracket: keep only what cannot be secret
        scheme, sep, rest = url.split("?", 1)[0].partition("://")
        return scheme + sep + rest.rpartition("@")[2]
    netloc = parts.netloc
    userinfo, at, host = netloc.rpartition("@")
    if at:
        user, colon, _password = userinfo.partition(":")
        netloc = f"{user}:{HIDDEN}@{host}" if colon else f"{HIDDEN}@{host}"
    query = "&".join(
        field.partition("=")[0] + ("=" + HIDDEN if "=" in field else "")
        for field in parts.query.split("&")
        if field
    )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
