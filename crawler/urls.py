"""URL identity (canonical form, dedup key), and what a host name or address denotes.

No Scrapy here: the spiders, the pipelines and read-only commands all use it. The guard
against private addresses that builds on it is crawler/addresses.py.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from urllib.parse import quote_plus, unquote, unquote_to_bytes, urljoin, urlsplit, urlunsplit

from w3lib.url import canonicalize_url

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Query parameters that only say where a click came from; they never change the page.
TRACKING_PREFIXES = ("utm_",)
TRACKING_PARAMS = frozenset(
    {
        "fbclid",
        "gclid",
        "gclsrc",
        "gbraid",
        "wbraid",
        "dclid",
        "msclkid",
        "twclid",
        "yclid",
        "igshid",
        "mc_cid",
        "mc_eid",
        "_ga",
        "_gl",
        "_hsenc",
        "_hsmi",
        "mkt_tok",
        "ref_src",
        "cmpid",
        "ocid",
        "ncid",
        "smid",
        "spm",
        "xtor",
        "at_medium",
        "at_campaign",
    }
)

DEFAULT_PORTS = {"http": 80, "https": 443}
# What is left of a host name after IDNA: letters, digits, '-' and '_' (seen in the wild).
HOST_NAME = re.compile(r"[a-z0-9_-]+(\.[a-z0-9_-]+)*")
IPV4_PART = re.compile(r"0[xX][0-9a-fA-F]*|0[0-7]*|[1-9][0-9]*")
NAT64_PREFIX = ipaddress.IPv6Network("64:ff9b::/96")


class InvalidURL(ValueError):
    """Not an http(s) URL with a host; the only exception canonicalize() lets out."""


def canonicalize(url: str, base: str | None = None) -> str:
    """The display and identity form of an http(s) URL. Idempotent.

    Resolves against base; lowercases scheme and host; IDNA host; numeric IPv4 hosts
    (2130706433, 0x7f.1) in dotted form; drops default ports, the fragment and tracking
    parameters; sorts the query by key (values of one key keep their order); normalises
    percent-encoding. Raises InvalidURL, and nothing else, on anything else.
    """
    try:
        return _canonicalize(url, base)
    except InvalidURL:
        raise
    except ValueError as exc:  # includes UnicodeError
        raise InvalidURL(f"cannot parse URL {url!r}: {exc}") from exc


@functools.lru_cache(maxsize=4096)  # one URL is canonicalised several times per page
def _canonicalize(url: str, base: str | None) -> str:
    text = url.strip()
    if base is not None:
        text = urljoin(base.strip(), text)
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise InvalidURL(f"not an http(s) URL: {url!r}")
    if not parts.hostname:
        raise InvalidURL(f"URL has no host: {url!r}")
    parts.port  # noqa: B018 -- raises ValueError on a bad port before w3lib sees it

    # w3lib does the path, the host's case and IDNA; the query is done here because
    # w3lib sorts by key *and* value, which would merge ?id=2&id=1 with ?id=1&id=2.
    core = urlsplit(canonicalize_url(urlunsplit(parts._replace(query="", fragment=""))))
    host = normalise_host(core.hostname or "")
    is_ipv6 = ":" in host and "%" not in host and ip_literal(host) is not None
    if not (is_ipv6 or HOST_NAME.fullmatch(host)):
        raise InvalidURL(f"not a valid host: {host!r} in {url!r}")
    netloc = f"[{host}]" if ":" in host else host
    if core.port is not None and core.port != DEFAULT_PORTS[scheme]:
        netloc = f"{netloc}:{core.port}"
    userinfo, at, _ = core.netloc.rpartition("@")
    if at:
        netloc = f"{userinfo}@{netloc}"
    return urlunsplit((scheme, netloc, core.path or "/", _canonical_query(parts.query), ""))


def _canonical_query(query: str) -> str:
    params = []
    for field in query.split("&"):
        if not field:
            continue
        raw_key, equals, raw_value = field.partition("=")
        key = _form_decode(raw_key)
        if _is_tracking(key):
            continue
        value = _form_decode(raw_value)
        # Keep a bare "?flag" bare: some servers tell "flag" and "flag=" apart.
        params.append((key, quote_plus(key) + equals + quote_plus(value)))
    params.sort(key=lambda param: param[0])  # stable: values of one key keep their order
    return "&".join(encoded for _, encoded in params)


def _form_decode(component: str) -> bytes:
    # Bytes, not str: a value percent-encoded in another charset must survive as-is.
    return unquote_to_bytes(component.replace("+", " "))


def _is_tracking(key: bytes) -> bool:
    name = key.decode("utf-8", "replace").lower()
    return name in TRACKING_PARAMS or name.startswith(TRACKING_PREFIXES)


@functools.lru_cache(maxsize=4096)  # a page's URL is keyed at discovery, fetch and store
def url_key(url: str) -> str:
    """The dedup identity: canonical URL without scheme, "www." or a trailing slash.

    http/https and www/bare variants of one article are the same article on every news
    site we know of; so are /story/ and /story (CMSes redirect one to the other), while
    fetching still uses the canonical URL, which keeps the slash. Credentials are dropped.
    e.g. "https://www.example.com/a/b/?x=1" -> "example.com/a/b?x=1".
    """
    parts = urlsplit(canonicalize(url))
    netloc = parts.netloc.rpartition("@")[2].removeprefix("www.")
    path = parts.path.rstrip("/") or "/"
    return f"{netloc}{path}?{parts.query}" if parts.query else f"{netloc}{path}"


def split_credentials(url: str) -> tuple[str, tuple[str, str] | None]:
    """`url` without its user:password@, and the (user, password) it carried, percent-decoded.

    Credentials go in an Authorization header, never in the request line or a log line.
    """
    parts = urlsplit(url)
    userinfo, at, host = parts.netloc.rpartition("@")
    if not at:
        return url, None
    user, _, password = userinfo.partition(":")
    bare = urlunsplit(parts._replace(netloc=host))
    return bare, (unquote(user), unquote(password))


def host_key(url: str) -> str:
    """The host:port whose politeness budget a URL's requests share (polls, crawls, workers)."""
    return urlsplit(url).netloc.lower()


def host_of(url: str) -> str:
    """The URL's host as the guard compares it: IDNA, lowercase, no port or brackets.

    "" for a URL without a usable host, so a caller building an allow-list need not guard it.
    """
    try:
        return urlsplit(canonicalize(url)).hostname or ""
    except InvalidURL:
        return ""


def normalise_host(host: str) -> str:
    host = host.strip().lower().removeprefix("[").removesuffix("]").rstrip(".")
    ip = ip_literal(host)
    if ip is not None:
        return str(ip)
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:
        return host


def ip_literal(host: str) -> IPAddress | None:
    """The address a host name denotes by itself, the way getaddrinfo reads it, or None."""
    if ":" in host:
        try:
            return ipaddress.IPv6Address(host)
        except ValueError:
            return None
    return _loose_ipv4(host)


def _loose_ipv4(host: str) -> ipaddress.IPv4Address | None:
    # inet_aton() forms: 1-4 parts, each decimal, octal (0…) or hex (0x…); the last part
    # fills the remaining bytes, so "2130706433" and "0x7f.1" are both 127.0.0.1.
    parts = host.split(".")
    if len(parts) > 4 or not all(IPV4_PART.fullmatch(part) for part in parts):
        return None
    *head, last = [_ipv4_number(part) for part in parts]
    if any(number > 255 for number in head) or last >= 256 ** (4 - len(head)):
        return None
    value = last
    for position, number in enumerate(head):
        value += number << (8 * (3 - position))
    return ipaddress.IPv4Address(value)


def _ipv4_number(part: str) -> int:
    if part[:2] in ("0x", "0X"):
        return int(part[2:] or "0", 16)
    return int(part, 8 if part.startswith("0") else 10)


def is_public_ip(ip: IPAddress) -> bool:
    """True only for globally routable unicast addresses, judging IPv6 forms by the IPv4 inside."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return is_public_ip(ip.ipv4_mapped)
        if ip in NAT64_PREFIX:
            return is_public_ip(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
        embedded = ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if (embedded is not None and not is_public_ip(embedded)) or ip.is_site_local:
            return False
    return ip.is_global and not (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
    )
