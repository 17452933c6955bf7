"""The daemon's optional health endpoint on 127.0.0.1: /healthz (JSON) and /metrics (Prometheus).

Plain asyncio streams: one tiny request at a time needs no web framework.
"""

from __future__ import annotations

import asyncio
import json
import logging
import resource
from typing import TYPE_CHECKING, Any

from storage.models import utcnow

if TYPE_CHECKING:
    from jobs.daemon import Daemon

log = logging.getLogger(__name__)

READ_TIMEOUT_S = 5.0


def health_document(daemon: Daemon) -> dict[str, Any]:
    next_runs = daemon.next_runs()
    sources = {}
    for source in daemon.enabled_sources():
        report = daemon.last_reports.get(source.name)
        next_run = next_runs.get(source.name)
        sources[source.name] = {
            "running": source.name in daemon.children,
            "next_run": next_run.isoformat() if next_run else None,
            "last_status": report.status if report else None,
            "last_duration_s": round(report.duration, 2) if report else None,
        }
    return {
        "status": "stopping" if daemon.stopping.is_set() else "ok",
        "started_at": daemon.started_at.isoformat(),
        "uptime_s": round((utcnow() - daemon.started_at).total_seconds(), 1),
        "runs": sum(daemon.runs_total.values()),
        "sources": sources,
    }


def metrics_text(daemon: Daemon) -> str:
    """Prometheus text exposition, written by hand: three metric families need no library."""
    lines = [
        "# HELP newsmon_runs_total Crawl runs finished by this daemon, by source and outcome.",
        "# TYPE newsmon_runs_total counter",
    ]
    for (source, status), count in sorted(daemon.runs_total.items()):
        lines.append(f'newsmon_runs_total{{source="{source}",status="{status}"}} {count}')
    lines += [
        "# HELP newsmon_source_running Whether a crawl of the source is running now.",
        "# TYPE newsmon_source_running gauge",
    ]
    for source in daemon.enabled_sources():
        running = int(source.name in daemon.children)
        lines.append(f'newsmon_source_running{{source="{source.name}"}} {running}')
    lines += [
        "# HELP newsmon_daemon_max_rss_bytes Peak resident memory of the daemon process.",
        "# TYPE newsmon_daemon_max_rss_bytes gauge",
        f"newsmon_daemon_max_rss_bytes {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}",
    ]
    return "\n".join(lines) + "\n"


async def start_health_server(daemon: Daemon, port: int) -> asyncio.Server:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await asyncio.wait_for(reader.readline(), READ_TIMEOUT_S)
            parts = request.decode("latin-1").split()
            path = parts[1].split("?", 1)[0] if len(parts) >= 2 else ""
            if path == "/healthz":
                status, kind = "200 OK", "application/json"
                body = json.dumps(health_document(daemon)).encode()
            elif path == "/metrics":
                status, kind = "200 OK", "text/plain; version=0.0.4"
                body = metrics_text(daemon).encode()
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
