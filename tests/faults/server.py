"""The fault server: LocalSite plus raw routes that control the socket (trickle, reset, lie).

`FaultSite.raw(path, handler)` hands the handler the connection's file objects, so it can send
headers late, stream a body forever, declare a wrong Content-Length or reset mid-body. Every
request, raw or not, is recorded with the time it arrived, and raw handlers report how many body
bytes they managed to send before the client went away.
"""

from __future__ import annotations

import socket
import ssl
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import ThreadingHTTPServer

from tests.localsite import LocalSite, RecordedRequest, _RequestHandler

RawHandler = Callable[["RawConnection"], None]


@dataclass
class RawConnection:
    """What a raw handler may do with one request's connection."""

    request: RecordedRequest
    socket: socket.socket
    stop: threading.Event  # set when the site stops: long-running handlers end early

    def send(self, data: bytes) -> bool:
        """Write `data`; False once the client has gone (reset, closed, aborted)."""
        try:
            self.socket.sendall(data)
        except OSError:
            return False
        return True

    def head(self, status: int = 200, headers: dict[str, str] | None = None) -> bool:
        lines = [f"HTTP/1.1 {status} X"] + [f"{k}: {v}" for k, v in (headers or {}).items()]
        return self.send(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))

    def reset(self) -> None:
        """Close with RST instead of FIN (SO_LINGER 0): a connection reset mid-body."""
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.socket.close()

    def sleep(self, seconds: float) -> bool:
        """Wait, unless the site is stopping; True if the full time passed."""
        return not self.stop.wait(seconds)


class QuietServer(ThreadingHTTPServer):
    tls: ssl.SSLContext | None = None

    def get_request(self) -> tuple[socket.socket, object]:
        connection, address = super().get_request()
        if self.tls is not None:  # the handshake runs in the request's own thread
            connection = self.tls.wrap_socket(
                connection, server_side=True, do_handshake_on_connect=False
            )
        return connection, address

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # clients that hang up, reset or refuse the certificate are the point of this server


class FaultSite(LocalSite):
    """A LocalSite whose routes may also be raw socket handlers; records every request."""

    def __init__(self, host: str = "127.0.0.1", tls: ssl.SSLContext | None = None) -> None:
        super().__init__(host=host)
        self.tls = tls  # serve HTTPS with this context
        self.raw_routes: dict[str, RawHandler] = {}
        self.arrivals: list[tuple[float, str]] = []  # (monotonic time, path) per request
        self.bytes_sent: dict[str, int] = {}  # raw routes: body bytes sent before the end
        self.stopping = threading.Event()

    def raw(self, path: str, handler: RawHandler) -> None:
        self.raw_routes[path] = handler

    def times(self, path: str) -> list[float]:
        with self._lock:
            return [at for at, seen in self.arrivals if seen.split("?", 1)[0] == path]

    def record(self, request: RecordedRequest) -> None:
        """Note a raw route's request; LocalSite.handle records the others."""
        with self._lock:
            self.requests.append(request)
            self.arrivals.append((time.monotonic(), request.path))

    def handle(self, request: RecordedRequest) -> object:
        with self._lock:
            self.arrivals.append((time.monotonic(), request.path))
        return super().handle(request)

    def start(self) -> FaultSite:
        site = self

        class Handler(_RequestHandler):
            def respond(self, request: RecordedRequest):  # type: ignore[no-untyped-def]
                return site.handle(request)

            def _reply(self, send_body: bool) -> None:
                path = self.path.split("?", 1)[0]
                raw = site.raw_routes.get(path)
                if raw is None:
                    super()._reply(send_body)
                    return
                request = RecordedRequest(self.command, self.path, dict(self.headers.items()))
                site.record(request)
                self.close_connection = True
                raw(RawConnection(request, self.connection, site.stopping))

        self._server = QuietServer((self.host, 0), Handler)
        self._server.tls = self.tls
        self._server.daemon_threads = True
        self._server.block_on_close = False
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        super().stop()

    @property
    def base_url(self) -> str:
        url = super().base_url
        return url.replace("http://", "https://", 1) if self.tls else url

    @property
    def port(self) -> int:
        return int(self.base_url.rsplit(":", 1)[1])
