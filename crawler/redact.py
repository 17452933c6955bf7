"""Hiding the secrets a URL may carry (a password, an api_key in the query) wherever newsmon
shows, logs, stores or serves one: `redact_url` (storage/urlkeys.py, where the store uses it
too) for one URL, and here the same for URLs inside free text and log records. Light on
purpose (no w3lib): the CLI's log handler and read-only commands use it.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import urlsplit, urlunsplit

from storage.urlkeys import HIDDEN, redact_url

__all__ = [
    "HIDDEN",
    "RedactingFilter",
    "hide_parts_of",
    "redact_text",
    "redact_url",
    "sealed",
    "unsealed",
]

# A URL inside free text: up to whitespace, a quote or an angle bracket (Scrapy logs <GET url>),
# less the punctuation that ends a sentence or precedes a reason ("URL: http_500").
URL_IN_TEXT = re.compile(r"""\b[a-z][a-z0-9+.-]*://[^\s'"<>]*[^\s'"<>:,.;!?)\]]""", re.IGNORECASE)


def sealed(url: str, configured: str) -> str:
    """`url`, one a source's pages led to (a listing's next page), as it may be stored: without
    user:password@, and with each query value that the source's `configured` URL carries under
    the same name (its api_key) hidden. `unsealed` puts the configured values back."""
    secrets = {(name, value) for name, eq, value in _fields(urlsplit(configured).query) if eq}
    parts = urlsplit(url)
    query = "&".join(
        name + eq + (HIDDEN if (name, value) in secrets else value)
        for name, eq, value in _fields(parts.query)
    )
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2], query=query))


def unsealed(url: str, configured: str) -> str:
    """A `sealed` URL with the secrets of the source's `configured` URL (as it is now) back."""
    values = {name: value for name, eq, value in _fields(urlsplit(configured).query) if eq}
    parts = urlsplit(url)
    query = "&".join(
        name + eq + (values.get(name, value) if value == HIDDEN else value)
        for name, eq, value in _fields(parts.query)
    )
    return urlunsplit(parts._replace(query=query))


def _fields(query: str) -> list[tuple[str, str, str]]:
    return [field.partition("=") for field in query.split("&")] if query else []


def redact_text(text: str) -> str:
    """`text` with every URL in it redacted."""
    if "://" not in text:
        return text
    return URL_IN_TEXT.sub(lambda found: redact_url(found.group()), text)


def hide_parts_of(secret_url: str, text: str) -> str:
    """`text` without any piece of `secret_url` that may be a credential: an Apprise URL keeps
    its tokens where redact_url does not look, even in the host (slack://T00/B00/XXXX). Pieces
    are runs of 6 or more characters between URL separators."""
    pieces = {p for p in re.split(r"[/:@?&=#]+", secret_url.partition("://")[2]) if len(p) >= 6}
    for piece in sorted(pieces, key=len, reverse=True):
        text = text.replace(piece, HIDDEN)
    return redact_text(text)


class RedactingFilter(logging.Filter):
    """Redacts the URLs in every record a handler emits, its traceback included."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact_text(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_text(record.exc_text)
        return True
