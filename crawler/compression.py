"""Refuse truncated gzip bodies instead of handing half a page to the extractor.

Scrapy's gunzip is deliberately lenient: a body cut off mid-stream decompresses to whatever
came through, and the truncated page would be extracted and stored as if it were whole. This
middleware runs just before HttpCompressionMiddleware and checks the stream reaches its end.
"""

from __future__ import annotations

import zlib

from scrapy import Request
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response

from crawler.components import Component

CHUNK = 64 * 1024
GZIP_ENCODINGS = {b"gzip", b"x-gzip"}


class BadGzip(IgnoreRequest):
    kind = "bad_gzip"


def gzip_is_complete(body: bytes, max_output: int = 0) -> bool:
    """True if `body` is a gzip stream that ends properly (or exceeds `max_output`, which the
    decompressing middleware reports itself). Output is discarded chunk by chunk."""
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


class StrictGzipMiddleware(Component):
    needs_context = False

    def configure(self) -> None:
        self.max_size = self.settings.getint("DOWNLOAD_MAXSIZE")

    def process_response(self, request: Request, response: Response) -> Response:
        encodings = response.headers.getlist(b"Content-Encoding")
        if encodings and encodings[-1].strip().lower() in GZIP_ENCODINGS:
            limit = request.meta.get("download_maxsize", self.max_size)
            if not gzip_is_complete(response.body, limit):
                raise BadGzip(f"truncated or corrupt gzip body: {response.url}")
        return response
