"""A network sandbox for a child `newsmon` process: names resolve from a script, and nothing
but loopback can be reached.

Imported by tests/faults/child.py (hook="tests.faults.sandbox") before newsmon starts:

- `FAULT_SANDBOX_DNS` names a JSON file {name: [answer, answer, ...]}. The n-th lookup of a
  name gets the n-th answer (the last one repeats): an address, or "EAI_AGAIN" for a lookup
  that fails. So "public address first, then 127.0.0.1" is DNS rebinding. Names not in the
  script resolve only to loopback ("localhost" and IP literals); anything else does not exist.
- Every connect() to an address outside 127.0.0.0/8 and ::1 is refused before it leaves, and
  written to the `FAULT_SANDBOX_LOG` file, as is every scripted lookup. Even a guard that lets a
  public answer through cannot reach outside this machine.
"""

from __future__ import annotations

import errno
import ipaddress
import json
import os
import socket
import threading
from pathlib import Path
from typing import Any

_lock = threading.Lock()
_lookups: dict[str, int] = {}


def _note(line: str) -> None:
    with _lock, open(os.environ["FAULT_SANDBOX_LOG"], "a", encoding="utf-8") as log:
        log.write(line + "\n")


def _scripted(host: str) -> str | None:
    """The next scripted answer for `host`, or None when the script does not name it."""
    script = json.loads(Path(os.environ["FAULT_SANDBOX_DNS"]).read_text(encoding="utf-8"))
    answers = script.get(host.lower().rstrip("."))
    if answers is None:
        return None
    with _lock:
        turn = _lookups.get(host, 0)
        _lookups[host] = turn + 1
    answer = str(answers[min(turn, len(answers) - 1)])
    _note(f"lookup {host} -> {answer}")
    if answer == "EAI_AGAIN":
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")
    return answer


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address.partition("%")[0]).is_loopback
    except ValueError:
        return False


def install() -> None:
    real_getaddrinfo = socket.getaddrinfo
    real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
        name = host.decode() if isinstance(host, bytes) else host
        if name is not None:
            answer = _scripted(name)
            if answer is not None:
                return real_getaddrinfo(answer, port, *args, **kwargs)
            if name.lower() != "localhost" and not _is_loopback(name):
                raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real_getaddrinfo(host, port, *args, **kwargs)

    def gethostbyname(host: str) -> str:
        return str(getaddrinfo(host, None, socket.AF_INET)[0][4][0])

    def gethostbyname_ex(host: str) -> tuple[str, list[str], list[str]]:
        return host, [], [gethostbyname(host)]

    def outside(sock: socket.socket, address: Any) -> bool:
        if sock.family not in (socket.AF_INET, socket.AF_INET6):
            return False
        if _is_loopback(str(address[0])):
            return False
        _note(f"connect {address[0]} refused")
        return True

    def connect(sock: socket.socket, address: Any) -> None:
        if outside(sock, address):
            raise ConnectionRefusedError(errno.ECONNREFUSED, "refused by the test sandbox")
        real_connect(sock, address)

    def connect_ex(sock: socket.socket, address: Any) -> int:
        if outside(sock, address):
            return errno.ECONNREFUSED
        return real_connect_ex(sock, address)

    socket.getaddrinfo = getaddrinfo
    socket.gethostbyname = gethostbyname
    socket.gethostbyname_ex = gethostbyname_ex
    socket.socket.connect = connect  # type: ignore[method-assign]
    socket.socket.connect_ex = connect_ex  # type: ignore[method-assign]
