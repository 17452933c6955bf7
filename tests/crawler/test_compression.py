"""Whole gzip streams only (crawler/compression.py): a truncated body is refused, not kept."""

from __future__ import annotations

import gzip

from crawler.compression import gzip_is_complete


def test_a_gzip_stream_is_complete_only_to_its_end():
    body = gzip.compress(b"<html>" + b"x" * 100_000)
    assert gzip_is_complete(body)
    assert not gzip_is_complete(body[:-10])
    assert not gzip_is_complete(b"not gzip at all")
    bomb = gzip.compress(b" " * 5_000_000)
    assert gzip_is_complete(bomb, max_output=100_000)  # the size limit reports it, not us
