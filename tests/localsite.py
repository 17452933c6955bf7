"""A tiny HTTP server on 127.0.0.1 for the tests and bench/ scripts.

Serves a directory of files (with `{{BASE}}` in text files replaced by the server's own
address, so feeds and sitemaps can hold absolute links to an ephemeral port) plus in-memory
routes that tests add. Records every request it sees.
"""

from __future__ import annotations

import gzip
import json
import logging
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import unquote, urlsplit

logger = logging.getLogger(__name__)

CONTENT_TYPES = {
    ".html": "text/html",
    ".htm": "text/html",
    ".xml": "application/xml",
    ".rss": "application/rss+xml",
    ".atom": "application/atom+xml",
    ".rdf": "application/rdf+xml",
    ".json": "application/feed+json",
    ".txt": "text/plain",
    ".gz": "application/gzip",  # served as raw bytes: a gzipped sitemap, not Content-Encoding
}
TEXT_SUFFIXES = {".html", ".htm", ".xml", ".rss", ".atom", ".rdf", ".json", ".txt"}
HEADERS_FILE = "_headers.json"
DEFAULT_ROBOTS = b"User-agent: *\nDisallow:\n"


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str  # as sent, query included
    headers: dict[str, str]
    body: bytes = b""  # what a POST sent (a webhook receiver records it)


@dataclass
class Response:
    body: bytes = b""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[RecordedRequest], Response]


class LocalSite:
    """Serve the files of `roots` (the first that has a path wins) and routes added with
    `add`/`route` on an ephemeral local port."""

    def __init__(self, *roots: Path, host: str = "127.0.0.1") -> None:
        self.roots = [Path(root).resolve() for root in roots]
        self.host = host
        self.requests: list[RecordedRequest] = []
        self.routes: dict[str, Handler] = {}
        self._lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._file_headers: dict[str, dict[str, str]] = {}
        for root in reversed(self.roots):
            if (root / HEADERS_FILE).is_file():
                self._file_headers.update(json.loads((root / HEADERS_FILE).read_text("utf-8")))

    # --- lifecycle ---------------------------------------------------------------------------

    def start(self) -> LocalSite:
        site = self

        class RequestHandler(_RequestHandler):
            def respond(self, request: RecordedRequest) -> Response:
                return site.handle(request)

        self._server = _Server((self.host, 0), RequestHandler)
        self._server.daemon_threads = True
        self._server.block_on_close = False  # keep-alive clients must not hold up stop()
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        logger.debug("serving %s at %s", self.roots, self.base_url)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> LocalSite:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the site is not started")
        return f"http://{self.host}:{self._server.server_port}"

    def url(self, path: str) -> str:
        return self.base_url + ("" if path.startswith("/") else "/") + path

    # --- routes ------------------------------------------------------------------------------

    def add(
        self,
        path: str,
        body: bytes | str,
        *,
        status: int = 200,
        headers: dict[str, str] | None = None,
        content_type: str | None = None,
    ) -> None:
        """Serve a fixed response at `path` (query included if given), shadowing any file."""
        raw = body.encode("utf-8") if isinstance(body, str) else body
        all_headers = dict(headers or {})
        if content_type is not None:
            all_headers["Content-Type"] = content_type
        self.route(path, lambda _request: Response(raw, status, dict(all_headers)))

    def route(self, path: str, handler: Handler) -> None:
        """Answer requests for `path` with `handler(request)`: for dynamic or faulty responses."""
        self.routes[path] = handler

    def hits(self, path: str) -> int:
        """Requests seen for `path`; the query is compared only when `path` has one."""
        with self._lock:
            seen = [r.path if "?" in path else r.path.split("?", 1)[0] for r in self.requests]
        return seen.count(path)

    def handle(self, request: RecordedRequest) -> Response:
        with self._lock:
            self.requests.append(request)
        bare = urlsplit(request.path).path
        handler = self.routes.get(request.path) or self.routes.get(bare)
        if handler is not None:
            return handler(request)
        return self.serve_file(unquote(bare))

    def serve_file(self, path: str) -> Response:
        file = self._find(path)
        if file is None:
            if path == "/robots.txt":
                return Response(DEFAULT_ROBOTS, headers={"Content-Type": "text/plain"})
            return Response(b"Not found\n", 404, {"Content-Type": "text/plain"})
        if file.is_dir():  # a directory asked for without its slash
            return Response(status=301, headers={"Location": path + "/"})
        body = self._with_base(file.read_bytes(), file)
        content_type = CONTENT_TYPES.get(file.suffix, "application/octet-stream")
        return Response(body, headers={"Content-Type": content_type, **self._headers_for(path)})

    def _with_base(self, body: bytes, file: Path) -> bytes:
        """Replace {{BASE}} in text files, inside a gzipped one too (a .xml.gz sitemap)."""
        base = self.base_url.encode("ascii")
        if file.suffix in TEXT_SUFFIXES:
            return body.replace(b"{{BASE}}", base)
        if file.suffix == ".gz" and Path(file.stem).suffix in TEXT_SUFFIXES:
            return gzip.compress(gzip.decompress(body).replace(b"{{BASE}}", base), mtime=0)
        return body

    def _find(self, path: str) -> Path | None:
        for root in self.roots:
            file = (root / path.lstrip("/")).resolve()
            if not file.is_relative_to(root) or file.name == HEADERS_FILE:
                continue
            if path.endswith("/"):
                file = file / "index.html"
            if file.exists():
                return file
        return None

    def _headers_for(self, path: str) -> dict[str, str]:
        found = self._file_headers.get(path)
        if found is None and path.endswith("/"):
            found = self._file_headers.get(path + "index.html")
        return dict(found or {})


class _Server(ThreadingHTTPServer):
    # socketserver's default backlog of 5 drops connections a crawler opens at once; each
    # dropped SYN comes back only after a 1 s retransmit.
    request_queue_size = 128

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client hanging up mid-response (a size limit, a cancelled download) is routine for
        # a test server; socketserver would print a traceback between the tests' output.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as crawlers expect
    # As real servers do: with Nagle on, a response's last segment waits for the client's
    # delayed ACK (up to 40 ms) on every keep-alive request.
    disable_nagle_algorithm = True
    timeout = 30  # an idle keep-alive connection frees its thread

    def respond(self, request: RecordedRequest) -> Response:
        raise NotImplementedError

    def do_GET(self) -> None:
        self._reply(send_body=True)

    def do_HEAD(self) -> None:
        self._reply(send_body=False)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self._reply(send_body=True, body=self.rfile.read(length) if length else b"")

    def _reply(self, send_body: bool, body: bytes = b"") -> None:
        request = RecordedRequest(self.command, self.path, dict(self.headers.items()), body)
        response = self.respond(request)
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        if not any(name.lower() == "content-length" for name in response.headers):
            self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if send_body:
            self.wfile.write(response.body)

    def log_message(self, format: str, *args: object) -> None:
        pass  # quiet: tests and the demo print their own output
