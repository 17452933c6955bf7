"""The read-only web view: JSON API, a search page and Atom feeds, all over storage/search.py.

Scraped text is untrusted: templates autoescape, snippets are escaped before <mark> goes in,
feeds are built by ElementTree, and HTML pages carry a CSP that allows no script at all.

The view itself is defended too. Only requests naming an allowed host are served (localhost
names by default), so a DNS-rebinding page cannot read it through the browser of someone who
runs it. With a token, a page opened with ?token= is redirected to itself without it, the token
moving into an HttpOnly cookie, so no link, form or feed carries it; authenticated responses are
never cached, and no response may be sniffed into another type.
"""

from __future__ import annotations

import hmac
import inspect
import logging
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

import jinja2
from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel
from sqlalchemy import Engine
from starlette.middleware.trustedhost import TrustedHostMiddleware

from crawler.config.models import Config
from crawler.redact import redact_url
from jobs.web import pages
from jobs.web.feeds import atom_feed
from storage.clock import to_utc
from storage.filters import FILTERS, Filter
from storage.search import (
    ItemQuery,
    QueryError,
    StoredItem,
    get_item,
    list_keywords,
    list_sources,
    search_items,
)
from storage.text import plain_snippet

log = logging.getLogger(__name__)

TEMPLATES = Path(__file__).with_name("templates")
FEED_ENTRIES = 50
LOCAL_HOSTS = ("127.0.0.1", "localhost", "[::1]")
TOKEN_COOKIE = "newsmon_token"
HTML_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
}
PAGE_OPTIONS = ("days", "token")  # query parameters that still leave `/` the dashboard
EVERY_RESPONSE = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}


class MatchOut(BaseModel):
    keyword: str
    field: str
    start: int
    end: int
    context: str


class ItemOut(BaseModel):
    id: int
    url: str
    source: str
    title: str | None
    author: str | None
    published_at: datetime | None
    fetched_at: datetime
    language: str | None
    keywords: list[str]
    duplicate_of: int | None = None
    language_source: str | None = None
    accessible_for_free: bool | None = None
    snippet: str | None = None
    text: str | None = None
    matches: list[MatchOut] | None = None


class PageOut(BaseModel):
    items: list[ItemOut]
    next_cursor: str | None


class SourceOut(BaseModel):
    name: str
    mode: str
    url: str
    items: int


def create_app(
    engine: Engine,
    token: str | None = None,
    allowed_hosts: Sequence[str] = LOCAL_HOSTS,
    config: Config | None = None,
) -> FastAPI:
    """The ASGI app. Requests must name one of `allowed_hosts` in their Host header; with
    `token`, every request needs it too (Bearer header, the cookie, or ?token=). `config`
    names the sources and channels /sources and /alerts report on."""
    app = FastAPI(
        title="newsmon",
        summary="Read-only access to the items newsmon collected.",
        version="1",
    )
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True, undefined=jinja2.StrictUndefined
    )
    templates = Jinja2Templates(env=env)

    if token:

        @app.middleware("http")
        async def require_token(request: Request, call_next: Any) -> Response:
            if not _token_ok(request, token):
                return JSONResponse(
                    {"detail": "a token is required: Authorization: Bearer TOKEN or ?token=TOKEN"},
                    status_code=401,
                    headers={"WWW-Authenticate": "Bearer"},
                )
            if "token" in request.query_params and _is_page(request):
                # Out of the URL (history, logs, links, Referer) and into a cookie.
                response: Response = RedirectResponse(_without_token(request), status_code=303)
                response.set_cookie(TOKEN_COOKIE, token, httponly=True, samesite="strict", path="/")
                return response
            return await call_next(request)

    @app.middleware("http")
    async def hardening_headers(request: Request, call_next: Any) -> Response:
        response: Response = await call_next(request)
        response.headers.update(EVERY_RESPONSE)
        if token:
            response.headers["Cache-Control"] = "no-store"
        return response

    # Added last, so it runs first: a request for another host gets nothing else.
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=list(allowed_hosts))

    @app.exception_handler(QueryError)
    async def bad_query(_request: Request, error: QueryError) -> JSONResponse:
        return JSONResponse({"detail": str(error)}, status_code=400)

    @app.get("/api/items", response_model=PageOut, tags=["items"])
    def api_items(query: Annotated[ItemQuery, Depends(item_query)]) -> PageOut:
        """Items matching the filters, a page at a time: pass `next_cursor` back as `cursor`."""
        page = search_items(engine, query)
        return PageOut(
            items=[_item_out(hit.item, plain_snippet(hit.snippet)) for hit in page.hits],
            next_cursor=page.next_cursor,
        )

    @app.get("/api/items/{item_id}", response_model=ItemOut, tags=["items"])
    def api_item(item_id: int) -> ItemOut:
        """One item with its text and every keyword match in context."""
        item = _item_or_404(engine, item_id)
        return _item_out(item, None, full=True)

    @app.get("/api/sources", response_model=list[SourceOut], tags=["sources"])
    def api_sources() -> list[dict[str, Any]]:
        """Every source with its number of stored items."""
        # Stored URLs are redacted since issue 14; older rows may still carry an api_key.
        return [{**row, "url": redact_url(row["url"])} for row in list_sources(engine)]

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def search_page(request: Request) -> Response:
        """The dashboard, or the search results once a query or filter is given."""
        params = request.query_params
        if not any(value for name, value in params.items() if name not in PAGE_OPTIONS):
            return _dashboard(request, params.get("days"))
        context: dict[str, Any] = {
            "params": params,
            "sources": list_sources(engine),
            "keywords": list_keywords(engine),
            "results": [],
            "error": None,
            "next_url": None,
        }
        try:
            query = item_query(**search_form(params), limit=25, cursor=params.get("cursor") or None)
            page = search_items(engine, query)
        except (QueryError, HTTPException) as error:
            context["error"] = getattr(error, "detail", None) or str(error)
            status = 400
        else:
            status = 200
            context["results"] = [pages.result(hit.item, hit.snippet) for hit in page.hits]
            if page.next_cursor:
                kept = {k: v for k, v in params.items() if k not in ("cursor", "token") and v}
                context["next_url"] = "/?" + urlencode({**kept, "cursor": page.next_cursor})
        return templates.TemplateResponse(
            request, "search.html", context, status_code=status, headers=HTML_HEADERS
        )

    def _dashboard(request: Request, days: str | None) -> Response:
        period = int(days) if days and days.isdigit() else pages.DEFAULT_PERIOD
        if period not in pages.PERIODS:
            period = pages.DEFAULT_PERIOD
        context = pages.dashboard(engine, config, period)
        status = 400 if context["error"] else 200
        return templates.TemplateResponse(
            request, "dashboard.html", context, status_code=status, headers=HTML_HEADERS
        )

    @app.get("/items/{item_id}", response_class=HTMLResponse, include_in_schema=False)
    def item_page(request: Request, item_id: int) -> Response:
        item = _item_or_404(engine, item_id)
        context = pages.story_page(engine, item)
        return templates.TemplateResponse(request, "item.html", context, headers=HTML_HEADERS)

    @app.get("/sources", response_class=HTMLResponse, include_in_schema=False)
    def sources_page(request: Request) -> Response:
        context = pages.sources_page(engine, config)
        return templates.TemplateResponse(request, "sources.html", context, headers=HTML_HEADERS)

    @app.get("/sources/{name}/runs", response_class=HTMLResponse, include_in_schema=False)
    def runs_page(request: Request, name: str) -> Response:
        from jobs.sources import run_row
        from storage.runs import list_runs

        if name not in {source["name"] for source in list_sources(engine)}:
            raise HTTPException(404, f"no source named {name!r}")
        context = {"name": name, "runs": [run_row(run) for run in list_runs(engine, name, 100)]}
        return templates.TemplateResponse(request, "runs.html", context, headers=HTML_HEADERS)

    @app.get("/alerts", response_class=HTMLResponse, include_in_schema=False)
    def alerts_page(request: Request) -> Response:
        context = pages.alerts_page(engine, config)
        return templates.TemplateResponse(request, "alerts.html", context, headers=HTML_HEADERS)

    @app.get("/feeds/keyword/{name}.atom", tags=["feeds"])
    def keyword_feed(request: Request, name: str) -> Response:
        """Atom feed of the newest items flagged for keyword rule `name`."""
        # Feed readers want the newest entries, not title hits first.
        query = ItemQuery(keyword=name, sort="newest", limit=FEED_ENTRIES)
        return _feed(request, engine, query, "keyword", name)

    @app.get("/feeds/source/{name}.atom", tags=["feeds"])
    def source_feed(request: Request, name: str) -> Response:
        """Atom feed of the newest items from source `name`."""
        if name not in {source["name"] for source in list_sources(engine)}:
            raise HTTPException(404, f"no source named {name!r}")
        return _feed(request, engine, ItemQuery(source=name, limit=FEED_ENTRIES), "source", name)

    return app


def _web_parameter(item_filter: Filter) -> inspect.Parameter:
    """The API query parameter of one filter of storage/filters.py."""
    description = item_filter.web_help or item_filter.help
    annotation: Any
    if item_filter.kind == "flag":
        annotation = Annotated[bool, Query(description=description)]
    elif item_filter.kind == "choice":
        pattern = "^(" + "|".join(item_filter.choices) + ")$"
        annotation = Annotated[str, Query(pattern=pattern, description=description)]
    else:
        annotation = Annotated[str | None, Query(description=description)]
    return inspect.Parameter(
        item_filter.parameter,
        inspect.Parameter.KEYWORD_ONLY,
        default=item_filter.default,
        annotation=annotation,
    )


_PAGE_PARAMETERS = [
    inspect.Parameter(
        "sort",
        inspect.Parameter.KEYWORD_ONLY,
        default=None,
        annotation=Annotated[str | None, Query(pattern="^(newest|relevance)$")],
    ),
    inspect.Parameter(
        "limit",
        inspect.Parameter.KEYWORD_ONLY,
        default=50,
        annotation=Annotated[int, Query(ge=1, le=200)],
    ),
    inspect.Parameter(
        "cursor", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=str | None
    ),
]
_ITEM_QUERY = inspect.Signature(
    [*(_web_parameter(item_filter) for item_filter in FILTERS), *_PAGE_PARAMETERS],
    return_annotation=ItemQuery,
)


def item_query(**parameters: Any) -> ItemQuery:
    """The query parameters shared by /api/items and the search page: one per filter of
    storage/filters.py (FastAPI reads them from the signature below), then sort, limit, cursor."""
    bound = _ITEM_QUERY.bind(**parameters)
    bound.apply_defaults()
    values = dict(bound.arguments)
    filters: dict[str, Any] = {}
    for item_filter in FILTERS:
        value = values.pop(item_filter.parameter)
        filters[item_filter.name] = (
            _when(value, item_filter.parameter) if item_filter.kind == "date" else value
        )
    return ItemQuery(**filters, **values)


item_query.__signature__ = _ITEM_QUERY  # type: ignore[attr-defined]


def search_form(params: Any) -> dict[str, Any]:
    """The search page's form fields as item_query() arguments (a checkbox sends 1)."""
    return {
        item_filter.parameter: params.get(item_filter.parameter) == "1"
        if item_filter.kind == "flag"
        else params.get(item_filter.parameter) or None
        for item_filter in FILTERS
        if item_filter.on_search_page
    }


def _when(value: str | None, name: str) -> datetime | None:
    if not value:
        return None
    try:
        return to_utc(value)
    except ValueError:
        raise HTTPException(400, f"{name}: use an ISO date (2025-07-25) or datetime") from None
    except OverflowError:
        raise HTTPException(400, f"{name}: {value} is outside the years 1 to 9999 in UTC") from None


def _token_ok(request: Request, token: str) -> bool:
    header = request.headers.get("authorization", "")
    offered = (
        header[7:]
        if header.lower().startswith("bearer ")
        else request.query_params.get("token") or request.cookies.get(TOKEN_COOKIE, "")
    )
    return hmac.compare_digest(offered.encode(), token.encode())


def _is_page(request: Request) -> bool:
    """An HTML page a browser shows (the API and feeds are read by programs, which keep
    sending ?token= and follow no cookie)."""
    return request.method == "GET" and not request.url.path.startswith(("/api/", "/feeds/"))


def _without_token(request: Request) -> str:
    """The request's path and query, less ?token=."""
    kept = [(k, v) for k, v in request.query_params.multi_items() if k != "token"]
    return request.url.path + ("?" + urlencode(kept) if kept else "")


def _item_or_404(engine: Engine, item_id: int) -> StoredItem:
    item = get_item(engine, item_id)
    if item is None:
        raise HTTPException(404, f"no item with id {item_id}")
    return item


def _item_out(item: StoredItem, snippet: str | None, *, full: bool = False) -> ItemOut:
    return ItemOut(
        id=item.id,
        url=item.url,
        source=item.source_name,
        title=item.title,
        author=item.author,
        published_at=item.published_at,
        fetched_at=item.fetched_at,
        language=item.language,
        keywords=item.keywords,
        duplicate_of=item.duplicate_of,
        language_source=item.language_source,
        accessible_for_free=item.accessible_for_free,
        snippet=snippet,
        text=item.text if full else None,
        matches=[
            MatchOut(
                keyword=m.keyword,
                field=m.field,
                start=m.start,
                end=m.end,
                context=plain_snippet(item.context(m)) or "",
            )
            for m in item.matches
        ]
        if full
        else None,
    )


def _feed(request: Request, engine: Engine, query: ItemQuery, kind: str, name: str) -> Response:
    page = search_items(engine, query)
    alternate = str(request.url_for("search_page")) + "?" + urlencode({kind: name})
    body = atom_feed(
        feed_id=f"urn:newsmon:{kind}:{name}",
        title=f"newsmon: {kind} {name}",
        self_url=str(request.base_url).rstrip("/") + _without_token(request),
        alternate_url=alternate,
        items=page.items,
    )
    return Response(body, media_type="application/atom+xml; charset=utf-8")
