"""Read-only commands over what was collected: items, show, export, stats, serve.

Registered on the main group by jobs/cli/__init__.py. Nothing here imports Scrapy or trafilatura, and the
heavy parts (SQLAlchemy queries, pyarrow, the web app) load inside the commands that need them.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

import click

from jobs.cli.state import State, fail, format_option, pass_state
from jobs.exits import EXIT_CONFIG, EXIT_FAILED, EXIT_USAGE
from storage.filters import FILTERS, Filter, ItemQuery

if TYPE_CHECKING:
    from storage.search import Hit, Page

WEB_TOKEN_ENV = "NEWSMON_WEB_TOKEN"
WEB_HOSTS_ENV = "NEWSMON_WEB_ALLOWED_HOSTS"


def _when(_ctx: click.Context, _param: click.Parameter, value: str | None) -> datetime | None:
    from jobs.when import parse_when

    return parse_when(value)


def _filter_option(item_filter: Filter) -> Callable[..., Any]:
    """The click option of one filter of storage/filters.py."""
    settings: dict[str, Any] = {"help": item_filter.help}
    if item_filter.kind == "flag":
        settings["is_flag"] = True
    elif item_filter.kind == "choice":
        settings.update(
            type=click.Choice(list(item_filter.choices)),
            default=item_filter.default,
            show_default=True,
        )
    else:
        settings["metavar"] = item_filter.metavar
        if item_filter.kind == "date":
            settings["callback"] = _when
    return click.option(item_filter.option, **settings)


def filter_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The filters shared by items, export and stats: one option per filter of FILTERS."""
    for item_filter in reversed(FILTERS):
        command = _filter_option(item_filter)(command)
    return command


def _query(limit: int = 50, **filters: Any) -> ItemQuery:
    return ItemQuery(limit=limit, **filters)


def _fields(value: str | None, fmt: str, searching: bool) -> list[str]:
    from jobs.output import default_fields, parse_fields

    try:
        return parse_fields(value) or default_fields(fmt, searching=searching)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--fields") from None


@click.command(
    epilog="Example:\n\n\b\n  newsmon items --keyword Pakistan-US --since 2025-07-01\n"
    "  newsmon items --search '\"stable relationship\" OR relat*' --format jsonl\n"
    "  newsmon items --source mofa --format csv --fields id,title,url > mofa.csv\n"
    "  newsmon items --limit 100 --cursor TOKEN   # the next page; TOKEN from stderr"
)
@filter_options
@click.option(
    "--sort",
    type=click.Choice(["newest", "relevance"]),
    help="Default: relevance with --search or --keyword (title hits first), else newest.",
)
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=50,
    show_default=True,
    help="How many items; past one page they are streamed, page by page.",
)
@click.option("--cursor", metavar="TOKEN", help="Resume after the previous page (see stderr).")
@format_option("table", "json", "jsonl", "csv")
@click.option("--fields", metavar="A,B,C", help="Columns to print, e.g. id,title,url,keywords.")
@click.option(
    "--collapse-duplicates",
    is_flag=True,
    help="One row per story: near-duplicate copies hide behind their earliest item.",
)
@click.pass_obj
def items(state: Any, fmt: str, fields: str | None, **options: Any) -> None:
    """List stored items, newest first (or best match first with --search).

    When more items follow, the last line on stderr is `next-cursor: TOKEN`;
    pass it to --cursor for the next page.
    """
    from jobs import output
    from storage.search import QueryError

    query = _query(**options)
    chosen = _fields(fields, fmt, bool(query.search))
    try:
        page = _first_page(state.engine(), query)
    except QueryError as error:
        fail(str(error), EXIT_USAGE)
    hits: Iterable[Hit] = page.hits
    if query.limit > len(page.hits) and page.next_cursor:
        hits = _stream(state.engine(), query, page)
    if fmt == "table" and not fields and not query.search:
        output.write_table((hit.item for hit in hits), sys.stdout)
    elif fmt == "table":
        if not fields:
            chosen = ["id", "source", "title", "snippet"]
        output.write_field_table(output.rows(hits, chosen), sys.stdout, chosen)
    else:
        output.write_rows(output.rows(hits, chosen), fmt, sys.stdout, chosen)
    if query.limit <= len(page.hits) and page.next_cursor:
        sys.stdout.flush()
        click.echo(f"next-cursor: {page.next_cursor}", err=True)


def _first_page(engine: Any, query: ItemQuery) -> Page:
    """The first page: the whole answer up to one page, else the first page of a stream."""
    from storage.search import MAX_PAGE, search_items

    return search_items(engine, replace(query, limit=min(query.limit, MAX_PAGE)))


def _stream(engine: Any, query: ItemQuery, first: Page) -> Iterator[Hit]:
    """Up to `query.limit` hits, page after page from `first`: memory stays one page."""
    from storage.search import MAX_PAGE, search_items

    left = query.limit
    page = first
    while True:
        yield from page.hits[:left]
        left -= len(page.hits)
        if left <= 0 or page.next_cursor is None:
            return
        page = search_items(
            engine, replace(query, limit=min(left, MAX_PAGE), cursor=page.next_cursor)
        )


@click.command(epilog="Example:\n\n\b\n  newsmon show 42\n  newsmon show 42 --versions")
@click.argument("item_id", type=int)
@click.option(
    "--versions", is_flag=True, help="Also print every stored version and what changed (a diff)."
)
@pass_state
def show(state: State, item_id: int, versions: bool) -> None:
    """Show one item in full, with each keyword match in context."""
    from jobs import output
    from storage.search import QueryError, get_item

    try:
        item = get_item(state.engine(), item_id)
    except QueryError as error:
        fail(str(error), EXIT_CONFIG)
    if item is None:
        fail(f"no item with id {item_id}")
    output.write_item(item, sys.stdout)
    if versions:
        from jobs.versions import write_versions
        from storage.incremental import list_versions

        write_versions(list_versions(state.engine(), item_id), sys.stdout)


@click.command(
    epilog="Example:\n\n\b\n  newsmon export --format csv --out flagged.csv --flagged --since 30d\n"
    "  newsmon export --format parquet --out items.parquet   # needs newsmon[parquet]\n"
    "  newsmon export --format jsonl --out - --keyword Pakistan-US | jq .title\n"
    "  newsmon export --format warc --out mofa.warc.gz --source mofa   # archived pages"
)
@filter_options
@format_option("jsonl", "csv", "parquet", "warc")
@click.option("--out", "out", required=True, metavar="FILE", help="Where to write; - for stdout.")
@click.option("--fields", metavar="A,B,C", help="Columns to export (default: all; csv: no text).")
@click.pass_obj
def export(state: Any, fmt: str, out: str, fields: str | None, **options: Any) -> None:
    """Export every matching item, streamed page by page (bounded memory).

    `--format warc` writes the archived pages of the matching items (sources with
    `archive: true`) as gzipped WARC response records instead.
    """
    from pathlib import Path

    from jobs import output
    from jobs.export import ExportError, write_parquet
    from storage.search import QueryError, iter_items

    query = _query(**options)
    if fmt == "warc":
        _export_warc(state.engine(), query, out)
        return
    chosen = _fields(fields, fmt, bool(query.search))
    if fmt == "parquet" and out == "-":
        fail("parquet needs a file: --out items.parquet", EXIT_USAGE)
    rows = output.rows(iter_items(state.engine(), query), chosen)
    try:
        if fmt == "parquet":
            count = write_parquet(rows, Path(out), chosen)
        elif out == "-":
            count = output.write_rows(rows, fmt, sys.stdout, chosen)
        else:
            with open(out, "w", encoding="utf-8", newline="") as handle:
                count = output.write_rows(rows, fmt, handle, chosen)
    except QueryError as error:
        fail(str(error), EXIT_USAGE)
    except ExportError as error:
        fail(str(error), EXIT_FAILED)
    click.echo(f"exported {count} items to {out}", err=True)


def _export_warc(engine: Any, query: ItemQuery, out: str) -> None:
    from pathlib import Path

    from jobs.export import write_warc
    from storage.archive import ArchiveError, iter_pages
    from storage.fulltext import search_condition
    from storage.search import QueryError, validate_query

    if out == "-":
        fail("warc needs a file: --out pages.warc.gz", EXIT_USAGE)
    try:
        validate_query(query)
        search = [search_condition(engine.dialect.name, query.search)] if query.search else []
        batches = iter_pages(engine, query, conditions=search)
        count = write_warc((page for batch in batches for page in batch), Path(out))
    except QueryError as error:
        fail(str(error), EXIT_USAGE)
    except ArchiveError as error:
        fail(str(error), EXIT_FAILED)
    click.echo(f"exported {count} archived pages to {out}", err=True)


@click.command(
    epilog="Example:\n\n\b\n  newsmon stats\n  newsmon stats --since 7d --format json\n"
    "  newsmon stats --chart trend.svg --keyword Pakistan-US --days 90"
)
@filter_options
@click.option(
    "--days",
    type=click.IntRange(1, 3650),
    default=14,
    show_default=True,
    help="Days per-day counts cover.",
)
@format_option("table", "json")
@click.option(
    "--chart",
    metavar="FILE.svg",
    help="Write the trend chart (flagged items per day per rule, or --keyword's) as SVG.",
)
@click.pass_obj
def stats(state: Any, days: int, fmt: str, chart: str | None, **options: Any) -> None:
    """Counts of stored items per source, per keyword and per day."""
    import json

    from storage.search import QueryError
    from storage.stats import collect_stats

    if chart:
        _write_chart(state, chart, days, options["keyword"])
        return

    try:
        collected = collect_stats(state.engine(), _query(**options), days=days)
    except QueryError as error:
        fail(str(error), EXIT_USAGE)
    if fmt == "json":
        click.echo(json.dumps(collected.as_dict(), indent=2, ensure_ascii=False))
        return
    click.echo(f"items: {collected.total}  flagged: {collected.flagged}")
    archive = collected.archive
    click.echo(
        f"archive: {archive.pages} pages, {_megabytes(archive.stored_bytes)} compressed"
        f" ({_megabytes(archive.body_bytes)} as fetched)"
    )
    click.echo("\nper source:")
    for row in collected.sources:
        last = row.last_fetched.strftime("%Y-%m-%d %H:%M") if row.last_fetched else "-"
        click.echo(f"  {row.name:<20} {row.items:>8} items {row.flagged:>6} flagged  last {last}")
    click.echo("\nper keyword:")
    for name, count in collected.keywords:
        click.echo(f"  {name:<20} {count:>8}")
    if not collected.keywords:
        click.echo("  (no keyword matches)")
    click.echo(f"\nper day (last {days} days, by published date, else fetch date):")
    for day, count in collected.days:
        click.echo(f"  {day}  {count:>8}")
    if not collected.days:
        click.echo("  (none)")


def _write_chart(state: Any, path: str, days: int, keyword: str | None) -> None:
    """`stats --chart`: the dashboard's trend charts as one standalone SVG file."""
    from pathlib import Path

    from jobs.charts import chart_document, charted_trends

    charted = charted_trends(state.engine(), days, keyword)
    if keyword and not charted:
        fail(f"keyword rule {keyword!r} has flagged nothing", EXIT_FAILED)
    Path(path).write_text(chart_document(charted), encoding="utf-8")
    click.echo(f"chart: {len(charted)} rule(s), {days} days -> {path}", err=True)


def _megabytes(size: int) -> str:
    return f"{size / 1e6:.1f} MB"


@click.command(
    epilog="Example:\n\n\b\n  newsmon serve            # http://127.0.0.1:8080/\n"
    f"  {WEB_TOKEN_ENV}=s3cret newsmon serve --host 0.0.0.0 --allowed-host news.example.org"
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True)
@click.option(
    "--allowed-host",
    "allowed_hosts",
    multiple=True,
    metavar="NAME",
    envvar=WEB_HOSTS_ENV,
    help="A host name clients reach the view by, besides localhost (repeatable;"
    f" *.example.org for subdomains; or {WEB_HOSTS_ENV}, space-separated).",
)
@click.pass_obj
def serve(state: Any, host: str, port: int, allowed_hosts: tuple[str, ...]) -> None:
    """Serve a read-only web view: search page, JSON API (/docs) and Atom feeds.

    Set NEWSMON_WEB_TOKEN to require `Authorization: Bearer TOKEN` or ?token=TOKEN. Only
    requests whose Host header names localhost, the --host address or an --allowed-host are
    served, so a web page cannot read the view by rebinding its own name to this address.
    """
    import os

    import uvicorn

    from jobs.web.app import LOCAL_HOSTS, create_app

    token = os.environ.get(WEB_TOKEN_ENV) or None
    local = host in ("127.0.0.1", "localhost", "::1")
    if token is None and not local:
        click.echo(
            f"newsmon: warning: listening on {host} without {WEB_TOKEN_ENV}: anyone who can"
            " reach it can read every item",
            err=True,
        )
    names = [*LOCAL_HOSTS, *allowed_hosts]
    if host not in ("0.0.0.0", "::"):
        names.append(f"[{host}]" if ":" in host else host)
    elif not allowed_hosts:
        click.echo(
            f"newsmon: note: only requests naming {', '.join(LOCAL_HOSTS)} are served; add"
            " --allowed-host NAME for each name or address clients use",
            err=True,
        )
    app = create_app(state.engine(), token=token, allowed_hosts=names, config=state.config)
    click.echo(f"newsmon: serving http://{host}:{port}/ (Ctrl-C stops)", err=True)
    uvicorn.run(app, host=host, port=port, log_level="warning")


def register(group: click.Group) -> None:
    """Add these commands to the `newsmon` group (replacing an older `items`)."""
    for command in (items, show, export, stats, serve):
        group.add_command(command)
