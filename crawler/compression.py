"""Refuse truncated gzip bodies instead of handing half a page to the extractor.

Scrapy's gunzip is deliberately lenient: a body cut off mid-stream decompresses to whatever
came through, and the truncated page would be extracted and stored as if it were whole. This
middleware runs just before HttpCompressionMiddleware and checks the stream reaches its end.
"""

from __future__ import annotations

from scrapy import Request
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response

from crawler.components import Component
from crawler.http_rules import GZIP_ENCODINGS, gzip_is_complete


class BadGzip(IgnoreRequest):
    kind = "bad_gzip"


class StrictGzipMiddleware(Component):
    needs_context = False

    def configure(self) -> None:
        self.max_size = self.settings.getint("DOWNLOAD_MAXSIZE")

    def process_response(self, request: Request, response: Response) -> Response:
        encodings = response.headers.getlist(b"Content-Encoding")
        if encodings and encodings[-1].decode("latin-1").strip().lower() in GZIP_ENCODINGS:
            limit = request.meta.get("download_maxsize", self.max_size)
            if not gzip_is_complete(response.body, limit):
                raise BadGzip(f"truncated or corrupt gzip body: {response.url}")
        return response
