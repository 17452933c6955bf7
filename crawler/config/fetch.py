"""How a source's requests go out: extra headers, cookies, a proxy, its own User-Agent, and
whether its pages are rendered in a browser (`render`). Validated here; the requests are built
from these in crawler/fetchoptions.py, once for the crawl and the probe."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import BeforeValidator, Field, field_validator, model_validator

from crawler.config.fields import Duration, StrictModel

TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")  # RFC 9110 field and cookie names
# Set by newsmon itself, or by a key of their own (cookies, user_agent, the URL's credentials).
RESERVED_HEADERS = {
    "host": "newsmon sets it from the URL",
    "content-length": "newsmon sets it",
    "transfer-encoding": "newsmon sets it",
    "connection": "newsmon sets it",
    "cookie": "use the source's `cookies` key",
    "user-agent": "use the source's `user_agent` key",
    "proxy-authorization": "give the credentials in the proxy URL",
}
PROXY_SCHEMES = ("http", "https")

RenderMode = Literal["browser", "http"]


def _render_shorthand(value: Any) -> Any:
    # `render: browser` renders every page the source fetches; `render: http` none.
    if isinstance(value, str):
        if value not in ("browser", "http"):
            raise ValueError(
                f"render {value!r}: use browser, http or a mapping (listing, articles, wait_for…)"
            )
        return {"articles": value}
    return value


class RenderOptions(StrictModel):
    """Which of a source's pages a browser renders, and the bounds on rendering."""

    listing: RenderMode | None = None  # a listing source's pages; None: as `articles`
    articles: RenderMode = "http"
    # CSS selector the rendered page must show before it is read; else network idle.
    wait_for: str | None = Field(None, min_length=1, max_length=500)
    timeout: Duration = Field(20.0, gt=0, le=300)  # per rendered page
    max_pages: int = Field(100, ge=1, le=10_000)  # rendered pages per run

    @property
    def listing_mode(self) -> RenderMode:
        return self.listing or self.articles

    @property
    def renders_anything(self) -> bool:
        return "browser" in (self.listing_mode, self.articles)

    @field_validator("wait_for")
    @classmethod
    def _one_line(cls, selector: str | None) -> str | None:
        if selector is not None and ("\n" in selector or not selector.strip()):
            raise ValueError("wait_for must be one CSS selector on one line")
        return selector


Render = Annotated[RenderOptions, BeforeValidator(_render_shorthand)]


class FetchOptions(StrictModel):
    """A source's own request options (besides politeness): every key optional."""

    headers: dict[str, str] = {}
    cookies: dict[str, str] = {}
    proxy: str | None = None
    user_agent: str | None = Field(None, min_length=1, max_length=500)
    render: Render = RenderOptions()

    @field_validator("headers")
    @classmethod
    def _valid_headers(cls, headers: dict[str, str]) -> dict[str, str]:
        for name, value in headers.items():
            if not TOKEN.match(name):
                raise ValueError(f"header name {name!r} is not a valid HTTP field name")
            reserved = RESERVED_HEADERS.get(name.lower())
            if reserved:
                raise ValueError(f"header {name!r} cannot be set here: {reserved}")
            _single_line(f"header {name}", value)
        return headers

    @field_validator("cookies")
    @classmethod
    def _valid_cookies(cls, cookies: dict[str, str]) -> dict[str, str]:
        for name, value in cookies.items():
            if not TOKEN.match(name):
                raise ValueError(f"cookie name {name!r} is not a valid cookie name")
            if any(char in value for char in ';,"\\ \r\n\0'):
                # No value is echoed: it usually is a secret from the environment.
                raise ValueError(
                    f"cookie {name!r}: its value may not hold spaces, quotes, ';', ',' or '\\'"
                )
        return cookies

    @field_validator("user_agent")
    @classmethod
    def _valid_user_agent(cls, user_agent: str | None) -> str | None:
        if user_agent is not None:
            _single_line("user_agent", user_agent)
        return user_agent

    @field_validator("proxy")
    @classmethod
    def _valid_proxy(cls, proxy: str | None) -> str | None:
        if proxy is None:
            return None
        try:
            parts = urlsplit(proxy)
            port = parts.port
        except ValueError:
            raise ValueError("proxy is not a valid URL (http://host:port)") from None
        scheme = parts.scheme.lower()
        if scheme.startswith("socks"):
            raise ValueError(
                f"proxy: {scheme}:// is not supported (newsmon's HTTP client speaks no SOCKS);"
                " use an http:// or https:// proxy"
            )
        if scheme not in PROXY_SCHEMES or not parts.hostname or port is None:
            raise ValueError("proxy must be an http://host:port or https://host:port URL")
        if parts.path not in ("", "/") or parts.query or parts.fragment:
            raise ValueError("proxy must be only scheme://[user:password@]host:port")
        return proxy

    @model_validator(mode="after")
    def _wait_for_renders(self) -> FetchOptions:
        if self.render.wait_for is not None and not self.render.renders_anything:
            raise ValueError("render.wait_for needs pages rendered (render: browser)")
        return self


def _single_line(what: str, value: str) -> None:
    if any(char in value for char in "\r\n\0"):
        raise ValueError(f"{what}: the value must be one line")
