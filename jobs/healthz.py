"""The daemon's optional health endpoint on 127.0.0.1: /healthz (JSON) and /metrics (Prometheus).

Plain asyncio streams: one tiny request at a time needs no web framework. What it reports comes
from a DaemonStatus snapshot the daemon hands over (Daemon.status), so this module never
imports the daemon.
"""

from __future__ import annotations

import asyncio
import json
import logging
import resource
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from storage.clock import utcnow

log = logging.getLogger(__name__)

READ_TIMEOUT_S = 5.0
POLL_OUTCOMES = ("unchanged", "changed", "failed")


@dataclass(frozen=True)
class SourceStatus:
    """One enabled source as the daemon sees it now."""

    name: str
    running: bool
    next_run: datetime | None
    last_status: str | None  # of the last run this daemon finished, if any
    last_duration_s: float | None


@dataclass(frozen=True)
class DaemonStatus:
    """What /healthz and /metrics report, taken when a request arrives."""

    started_at: datetime
    stopping: bool
    runs_total: Mapping[tuple[str, str], int]  # (source, status) -> runs finished
    sources: tuple[SourceStatus, ...]  # the enabled ones, in config order
    polls_total: Mapping[str, int] = field(default_factory=dict)  # by outcome


def health_document(status: DaemonStatus) -> dict[str, Any]:
    sources = {
        source.name: {
            "running": source.running,
            "next_run": source.next_run.isoformat() if source.next_run else None,
            "last_status": source.last_status,
            "last_duration_s": (
                round(source.last_duration_s, 2) if source.last_duration_s is not None else None
            ),
        }
        for source in status.sources
    }
    return {
        "status": "stopping" if status.stopping else "ok",
        "started_at": status.started_at.isoformat(),
        "uptime_s": round((utcnow() - status.started_at).total_seconds(), 1),
        "runs": sum(status.runs_total.values()),
        "polls": {outcome: status.polls_total.get(outcome, 0) for outcome in POLL_OUTCOMES},
        "sources": sources,
    }


def metrics_text(status: DaemonStatus) -> str:
    """Prometheus text exposition, written by hand: four metric families need no library."""
    lines = [
        "# HELP newsmon_runs_total Crawl runs finished by this daemon, by source and outcome.",
        "# TYPE newsmon_runs_total counter",
    ]
    for (source, outcome), count in sorted(status.runs_total.items()):
        lines.append(f'newsmon_runs_total{{source="{source}",status="{outcome}"}} {count}')
    lines += [
        "# HELP newsmon_polls_total Polls the daemon made itself, by outcome.",
        "# TYPE newsmon_polls_total counter",
    ]
    for outcome in POLL_OUTCOMES:
        lines.append(
            f'newsmon_polls_total{{outcome="{outcome}"}} {status.polls_total.get(outcome, 0)}'
        )
    lines += [
        "# HELP newsmon_source_running Whether a crawl of the source is running now.",
        "# TYPE newsmon_source_running gauge",
    ]
    for entry in status.sources:
        lines.append(f'newsmon_source_running{{source="{entry.name}"}} {int(entry.running)}')
    lines += [
        "# HELP newsmon_daemon_max_rss_bytes Peak resident memory of the daemon process.",
        "# TYPE newsmon_daemon_max_rss_bytes gauge",
        f"newsmon_daemon_max_rss_bytes {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}",
    ]
    return "\n".join(lines) + "\n"


async def start_health_server(status_of: Callable[[], DaemonStatus], port: int) -> asyncio.Server:
    """Serve on 127.0.0.1:`port`; every request reports a fresh `status_of()`."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await asyncio.wait_for(reader.readline(), READ_TIMEOUT_S)
            parts = request.decode("latin-1").split()
            path = parts[1].split("?", 1)[0] if len(parts) >= 2 else ""
            if path == "/healthz":
                status, kind = "200 OK", "application/json"
                body = json.dumps(health_document(status_of())).encode()
            elif path == "/metrics":
                status, kind = "200 OK", "text/plain; version=0.0.4"
                body = metrics_text(status_of()).encode()
            else:
                status, kind, body = "404 Not Found", "text/plain", b"not found\n"
            head = (
                f"HTTP/1.1 {status}\r\nContent-Type: {kind}\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
            )
            writer.write(head.encode() + body)
            await writer.drain()
        except (TimeoutError, ConnectionError) as error:
            log.debug("health request dropped: %r", error)
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", port)
    log.info("health endpoint on http://127.0.0.1:%d/healthz", port)
    return server
