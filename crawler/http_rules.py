"""The HTTP semantics the poller (crawler/probe.py) and the crawl's middlewares share.

One home for what both must decide alike: a body decoded within a size bound, a gzip stream
that reaches its end, robots.txt's status policy (RFC 9309), the conditional headers a
discovery URL goes out with, and when an answer means "unchanged". No Scrapy here: the
daemon polls with this module alone.
"""

from __future__ import annotations

import zlib
from enum import Enum

from storage.validators import Validators, body_hash

CHUNK = 64 * 1024
GZIP_ENCODINGS = frozenset({"gzip", "x-gzip"})
DISALLOW_ALL = b"User-agent: *\nDisallow: /\n"


def too_large(size: int, limit: int) -> bool:
    """A body of `size` bytes is refused past `limit` (max_page_bytes, Scrapy's DOWNLOAD_MAXSIZE)."""
    return size > limit


def decode_body(body: bytes, content_encoding: str | None, limit: int) -> bytes | None:
    """`body` without its Content-Encoding; None when the encoding is unknown, the stream is
    incomplete or corrupt, or the decoded body is larger than `limit`."""
    encoding = (content_encoding or "identity").strip().lower()
    if encoding == "identity":
        return None if too_large(len(body), limit) else body
    if encoding in GZIP_ENCODINGS:
        decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
    elif encoding == "deflate":  # zlib-wrapped as RFC 9110 says, or raw as some servers send
        decoder = zlib.decompressobj(zlib.MAX_WBITS if body[:1] == b"x" else -zlib.MAX_WBITS)
    else:
        return None
    try:
        decoded = decoder.decompress(body, limit + 1)
    except zlib.error:
        return None
    return None if too_large(len(decoded), limit) or not decoder.eof else decoded


def gzip_is_complete(body: bytes, max_output: int = 0) -> bool:
    """True if `body` is a gzip stream that ends properly (or exceeds `max_output`, which the
    size bound reports itself). Output is discarded chunk by chunk."""
    decompressor = zlib.decompressobj(zlib.MAX_WBITS | 16)
    produced, data = 0, body
    try:
        while data and not decompressor.eof:
            produced += len(decompressor.decompress(data, CHUNK))
            data = decompressor.unconsumed_tail
            if max_output and produced > max_output:
                return True
    except zlib.error:
        return False
    return decompressor.eof


class RobotsRule(Enum):
    """What a robots.txt answer means (RFC 9309 §2.3.1)."""

    PARSE = "parse"  # 2xx: the body holds the rules
    ALLOW_ALL = "allow_all"  # 4xx: "unavailable", no rules
    DISALLOW_ALL = "disallow_all"  # 5xx or unreachable: assume complete disallow
    REDIRECT = "redirect"  # 3xx: follow it (the crawl's redirect checks do)


def robots_rule(status: int | None) -> RobotsRule:
    """The policy for a robots.txt response of `status` (None: the server was unreachable)."""
    if status is None or status >= 500:
        return RobotsRule.DISALLOW_ALL
    if status >= 400:
        return RobotsRule.ALLOW_ALL
    if status >= 300:
        return RobotsRule.REDIRECT
    if status >= 200:
        return RobotsRule.PARSE
    return RobotsRule.DISALLOW_ALL  # 1xx is no answer a client keeps


def robots_allows(body: bytes, url: str, user_agent: str) -> bool:
    """Whether a 2xx robots.txt `body` lets `user_agent` fetch `url`, read as Scrapy reads it."""
    if not body.strip():
        return True
    from protego import Protego  # what Scrapy's robots.txt middleware parses with

    rules = Protego.parse(body.decode("utf-8-sig", errors="ignore"))
    return bool(rules.can_fetch(url, user_agent))


def conditional_headers(validators: Validators) -> dict[str, str]:
    """If-None-Match / If-Modified-Since from the stored validators (empty when none)."""
    headers = {}
    if validators.etag:
        headers["If-None-Match"] = validators.etag
    if validators.last_modified:
        headers["If-Modified-Since"] = validators.last_modified
    return headers


def unchanged(status: int, decoded_body: bytes | None, validators: Validators) -> bool:
    """A 304, or a 200 whose decoded body hashes as the stored one: nothing new below it."""
    if status == 304:
        return True
    if status != 200 or decoded_body is None or validators.body_hash is None:
        return False
    return body_hash(decoded_body) == validators.body_hash


def same_validators(etag: str | None, last_modified: str | None, validators: Validators) -> bool:
    """Whether a response's ETag / Last-Modified are the stored ones (a conditional GET would
    have been answered 304): an ETag decides when both sides have one."""
    if validators.etag and etag:
        return etag.strip() == validators.etag.strip()
    if validators.last_modified and last_modified:
        return last_modified.strip() == validators.last_modified.strip()
    return False
