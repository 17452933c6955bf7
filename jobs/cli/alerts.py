"""Keyword and alert commands: `reflag` (re-apply the rules) and `alerts` (deliveries).

Registered on the main group in jobs/cli/__init__.py. Neither imports Scrapy; Apprise is imported only
when something is sent. The CLI's State arrives as the click context object.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from jobs.exits import EXIT_FAILED, EXIT_OK


@click.command(
    epilog="Example:\n\n\b\n  newsmon reflag\n  newsmon reflag --keyword us-pakistan --since 30d\n"
    "  newsmon reflag --alert   # also alert for items that are newly flagged"
)
@click.option(
    "--keyword", metavar="NAME", help="Only this rule (a removed rule loses its matches)."
)
@click.option(
    "--since", metavar="DATE", help="Only items published (or fetched) since: 7d, 2025-07-01."
)
@click.option("--alert", is_flag=True, help="Send alerts for newly flagged items (off by default).")
@click.pass_obj
def reflag(state: Any, keyword: str | None, since: str | None, alert: bool) -> None:
    """Re-apply the current keyword rules to stored items.

    Adds the matches that are new, removes those that no longer hold (including those of
    rules renamed or removed) and prints the counts. Items are read in batches, so memory
    stays flat however large the database. Old items are never alerted unless --alert.
    """
    from jobs.crawl import deliver_alerts
    from jobs.reflag import reflag as run_reflag
    from jobs.when import parse_when

    config = state.config
    if keyword is not None and keyword not in {rule.name for rule in config.keywords}:
        click.echo(
            f"keyword {keyword!r} is not configured: its stored matches are removed", err=True
        )
    engine = state.engine(for_writing=True)
    report = run_reflag(config, engine, keyword, parse_when(since), alert)
    click.echo(
        f"scanned {report.items} items: {report.added} matches added, {report.removed} removed; "
        f"{report.newly_flagged} items newly flagged, {report.unflagged} unflagged"
    )
    if alert:
        click.echo(f"alerts owed: {report.alerts_owed}")
        deliver_alerts(config, engine)


@click.command(
    epilog="Example:\n\n\b\n  newsmon alerts            # list pending and failed deliveries\n"
    "  newsmon alerts --send     # send what is due\n"
    "  newsmon alerts --retry    # send everything unsent now, failed ones too"
)
@click.option("--send", is_flag=True, help="Send the deliveries that are due.")
@click.option(
    "--retry",
    is_flag=True,
    help="Make every pending or failed delivery due now (digests too), then send.",
)
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True)
@click.pass_obj
def alerts(state: Any, send: bool, retry: bool, limit: int) -> None:
    """List alert deliveries not yet sent; with --send or --retry, send them.

    Exit 1 when a send was attempted and some delivery failed (it is retried later).
    """
    from storage import deliveries

    config = state.config
    if send or retry:
        if not config.alerts:
            click.echo("no alerts configured", err=True)
            sys.exit(EXIT_OK)
        from jobs.alerts import Dispatcher

        engine = state.engine(for_writing=True)
        if retry:
            deliveries.make_due_now(engine, [alert.name for alert in config.alerts])
        report = Dispatcher(config.alerts, engine).deliver_due(force=retry)
        click.echo(
            f"sent {report.messages} messages ({report.sent} deliveries), {report.failed} failed"
        )
        if report.failed:
            sys.exit(EXIT_FAILED)
        return
    from jobs.output import printable

    engine = state.engine()
    counts = deliveries.delivery_counts(engine)
    click.echo(
        f"pending {counts.pending}, failing {counts.failing}, given up {counts.given_up}, "
        f"sent {counts.sent}"
    )
    configured = {alert.name for alert in config.alerts}
    for row in deliveries.list_unsent(engine, limit):
        due = f"{row.next_attempt_at:%Y-%m-%d %H:%M}" if row.next_attempt_at else "given up"
        note = "" if row.alert in configured else "  [alert no longer configured]"
        error = f"  {row.last_error}" if row.last_error else ""
        click.echo(
            f"{row.id:>6}  {row.alert:<12} {row.status:<8} tries={row.attempts} next={due}  "
            f"item {row.item_id} [{row.keyword}] {printable(row.item.title or row.item.url)}"
            f"{error}{note}"
        )
