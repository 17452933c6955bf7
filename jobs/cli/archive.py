"""The page archive's command: `reextract` (extract archived pages again).

Registered on the main group in jobs/cli/__init__.py; the WARC export is `newsmon export
--format warc` (jobs/cli/query.py) and the archive's size is in `newsmon stats`.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import click

from jobs.exits import EXIT_FAILED

if TYPE_CHECKING:
    from jobs.reextract import ReextractReport


@click.command(
    epilog="Example:\n\n\b\n  newsmon reextract\n  newsmon reextract --source mofa --since 30d\n"
    "  newsmon reextract --after 8120   # resume where a stopped run's last line says"
)
@click.option("--source", metavar="NAME", help="Only this source's archived pages.")
@click.option(
    "--since", metavar="DATE", help="Only items published (or fetched) since: 7d, 2025-07-01."
)
@click.option(
    "--after", type=click.IntRange(min=0), default=0, metavar="ID", help="Resume past this item."
)
@click.option("--alert", is_flag=True, help="Send alerts for newly flagged items (off by default).")
@click.pass_obj
def reextract(state: Any, source: str | None, since: str | None, after: int, alert: bool) -> None:
    """Extract the archived pages again and keep real text changes as versions.

    Run it after an extraction rule or trafilatura changed. Each changed item gets a new
    version (see `newsmon show ID --versions`) matched by the current keyword rules; an
    unchanged one is left as it is. Pages are read in batches, with a progress line on stderr
    after each; a stopped run can be run again (nothing is changed twice) or resumed with
    --after. Exit 1 when some page could not be extracted.
    """
    from jobs.crawl import deliver_alerts
    from jobs.reextract import reextract as run_reextract
    from jobs.when import parse_when

    config = state.config
    if source is not None and source not in {configured.name for configured in config.sources}:
        click.echo(f"source {source!r} is not configured: its archived pages are read", err=True)
    engine = state.engine(for_writing=True)
    report = run_reextract(
        config, engine, source, parse_when(since), alert, after, progress=_progress
    )
    if not report.pages:
        click.echo("no archived pages to extract (archiving is on with `archive: true`)")
        return
    click.echo(
        f"extracted {report.pages} pages again: {report.changed} changed (new versions),"
        f" {report.unchanged} unchanged, {report.not_article} no longer articles,"
        f" {report.failed} failed; {report.newly_flagged} newly flagged"
    )
    if alert:
        click.echo(f"alerts owed: {report.alerts_owed}")
        deliver_alerts(config, engine)
    if report.failed:
        sys.exit(EXIT_FAILED)


def _progress(report: ReextractReport) -> None:
    click.echo(
        f"reextract: {report.pages} pages, {report.changed} changed, {report.failed} failed;"
        f" done up to item {report.last_item_id} (--after {report.last_item_id} resumes)",
        err=True,
    )
