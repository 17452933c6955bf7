import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crawler.urls import InvalidURL, canonicalize, host_of, is_public_ip, url_key


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        # tracking parameters, any case, are dropped; the rest are kept
        ("http://ex.com/a?utm_source=x&UTM_Medium=y&id=7", "http://ex.com/a?id=7"),
        ("http://ex.com/a?fbclid=1&gclid=2&_ga=3&xtor=RSS-1", "http://ex.com/a"),
        ("http://ex.com/a?ref=home", "http://ex.com/a?ref=home"),
        # fragment
        ("http://ex.com/a#comments", "http://ex.com/a"),
        # scheme and host case, path case kept
        ("HTTP://Ex.COM/Path", "http://ex.com/Path"),
        ("http://ex.com./a", "http://ex.com/a"),
        # default ports dropped, others kept
        ("http://ex.com:80/a", "http://ex.com/a"),
        ("https://ex.com:443/a", "https://ex.com/a"),
        ("http://ex.com:443/a", "http://ex.com:443/a"),
        ("https://ex.com:8443/a", "https://ex.com:8443/a"),
        # query sorted by key; values of one key keep their order; blanks kept
        ("http://ex.com/?b=2&a=1", "http://ex.com/?a=1&b=2"),
        ("http://ex.com/?id=2&x=0&id=1", "http://ex.com/?id=2&id=1&x=0"),
        ("http://ex.com/?b=&a&&c=3", "http://ex.com/?a&b=&c=3"),
        ("http://ex.com/?utm_source=x", "http://ex.com/"),
        # empty path
        ("http://ex.com", "http://ex.com/"),
        ("http://ex.com?q=1", "http://ex.com/?q=1"),
        # IDN host
        ("http://bücher.de/", "http://xn--bcher-kva.de/"),
        ("http://BÜCHER.de/", "http://xn--bcher-kva.de/"),
        # percent-encoding: case, unreserved characters, non-ASCII
        ("http://ex.com/%7euser/a%2fb", "http://ex.com/~user/a%2Fb"),
        ("http://ex.com/é?q=é", "http://ex.com/%C3%A9?q=%C3%A9"),
        ("http://ex.com/a b", "http://ex.com/a%20b"),
        # '+' in a query is a space; an encoded plus stays a plus
        ("http://ex.com/?q=a+b&r=a%20b", "http://ex.com/?q=a+b&r=a+b"),
        ("http://ex.com/?q=a%2Bb", "http://ex.com/?q=a%2Bb"),
        ("http://ex.com/c++", "http://ex.com/c++"),
        # a value in another charset survives byte for byte
        ("http://ex.com/?q=caf%E9", "http://ex.com/?q=caf%E9"),
        # dot segments
        ("http://ex.com/a/./b/../c", "http://ex.com/a/c"),
        # IP hosts, including the numeric forms getaddrinfo accepts
        ("http://[::0:1]:80/", "http://[::1]/"),
        ("http://2130706433/", "http://127.0.0.1/"),
        ("http://0x7f.1/", "http://127.0.0.1/"),
        ("http://017700000001/", "http://127.0.0.1/"),
        # whitespace around
        ("  http://ex.com/a\n", "http://ex.com/a"),
    ],
)
def test_canonicalize(url, expected):
    assert canonicalize(url) == expected
    assert canonicalize(expected) == expected


@pytest.mark.parametrize(
    ("url", "base", "expected"),
    [
        ("../c?x=1#f", "http://ex.com/a/b/", "http://ex.com/a/c?x=1"),
        ("/top", "https://ex.com/a/b", "https://ex.com/top"),
        ("//other.org/p", "https://ex.com/", "https://other.org/p"),
        ("?page=2", "http://ex.com/list?page=1", "http://ex.com/list?page=2"),
        ("http://abs.org/x", "http://ex.com/", "http://abs.org/x"),
    ],
)
def test_canonicalize_resolves_against_base(url, base, expected):
    assert canonicalize(url, base=base) == expected


@pytest.mark.parametrize(
    "url",
    [
        "",
        "not a url",
        "/relative/without/base",
        "mailto:someone@ex.com",
        "javascript:void(0)",
        "ftp://ex.com/file",
        "file:///etc/passwd",
        "http://",
        "http:///path",
        "http://exa mple.com/",
        "http://.ex.com/",
        "http://ex.com:99999/",
        "http://ex.com:port/",
        "http://[::1/",
        "http://[fe80::1%25eth0]/",
    ],
)
def test_canonicalize_rejects_junk(url):
    with pytest.raises(InvalidURL):
        canonicalize(url)


def test_invalid_url_is_a_value_error():
    assert issubclass(InvalidURL, ValueError)


URLISH = st.from_regex(
    r"\A(https?|HTTPS?|ftp|)(:|://|///)?"
    r"[A-Za-z0-9.\-\[\]:@%_üß ]{0,20}"
    r"(/[A-Za-z0-9%._~+\-/;=&?#:@üé ]{0,30})?\Z"
)


@given(st.one_of(URLISH, st.text()), st.one_of(st.none(), URLISH))
def test_canonicalize_is_idempotent_and_raises_only_invalid_url(url, base):
    try:
        canonical = canonicalize(url, base=base)
    except InvalidURL:
        return
    assert canonicalize(canonical) == canonical
    assert url_key(canonical) == url_key(url if base is None else canonical)
    assert canonical.startswith(("http://", "https://"))


@pytest.mark.parametrize(
    "variants",
    [
        [
            "http://example.com/a/b?x=1",
            "https://example.com/a/b?x=1",
            "https://www.example.com/a/b?x=1",
            "https://WWW.Example.com:443/a/b/?x=1&utm_campaign=rss#top",
            "http://example.com/a/b?fbclid=abc&x=1",
            "https://user:secret@example.com/a/b?x=1",
        ],
        ["https://ex.org/", "http://www.ex.org", "https://ex.org/?utm_source=feed"],
    ],
)
def test_url_key_variants_collide(variants):
    keys = {url_key(url) for url in variants}
    assert len(keys) == 1, keys


def test_url_key_form():
    assert url_key("https://www.example.com/a/b/?x=1") == "example.com/a/b?x=1"
    assert url_key("https://example.com/") == "example.com/"
    assert url_key("https://example.com:8080/a") == "example.com:8080/a"


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("https://ex.com/a", "https://ex.com/b"),
        ("https://ex.com/a?id=1", "https://ex.com/a?id=2"),
        ("https://ex.com/a?id=1", "https://ex.com/a"),
        ("https://ex.com/a?id=1&id=2", "https://ex.com/a?id=2&id=1"),
        ("https://ex.com/A", "https://ex.com/a"),
        ("https://ex.com/a", "https://other.com/a"),
        ("https://news.ex.com/a", "https://ex.com/a"),
        ("https://ex.com/a", "https://ex.com:8080/a"),
    ],
)
def test_url_key_keeps_different_pages_apart(one, other):
    assert url_key(one) != url_key(other)


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("https://News.Example.com:8443/x", "news.example.com"),
        ("http://bücher.de/", "xn--bcher-kva.de"),
        ("http://[::1]:8080/", "::1"),
        ("http://0x7f.1/", "127.0.0.1"),
        ("not a url", ""),
    ],
)
def test_host_of(url, host):
    assert host_of(url) == host


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("8.8.8.8", True),
        ("93.184.216.34", True),
        ("2606:4700::1111", True),
        ("127.0.0.1", False),
        ("127.255.0.9", False),
        ("10.0.0.5", False),
        ("172.16.3.4", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),
        ("100.64.0.1", False),
        ("0.0.0.0", False),
        ("224.0.0.1", False),
        ("239.255.255.250", False),
        ("240.0.0.1", False),
        ("255.255.255.255", False),
        ("192.0.2.1", False),
        ("198.51.100.1", False),
        ("203.0.113.1", False),
        ("198.18.0.1", False),
        ("::1", False),
        ("::", False),
        ("fe80::1", False),
        ("fc00::1", False),
        ("fd12:3456::1", False),
        ("fec0::1", False),
        ("ff02::1", False),
        ("2001:db8::1", False),
        # IPv6 forms carrying an IPv4 address are judged by it
        ("::ffff:127.0.0.1", False),
        ("::ffff:169.254.169.254", False),
        ("::ffff:8.8.8.8", True),
        ("::127.0.0.1", False),
        ("2002:7f00:1::", False),
        ("2002:a00:5::1", False),
        ("2002:808:808::1", True),
        ("2001:0:4136:e378:8000:63bf:80ff:fffe", False),
        ("64:ff9b::7f00:1", False),
        ("64:ff9b::a00:5", False),
        ("64:ff9b::808:808", True),
    ],
)
def test_is_public_ip(address, public):
    assert is_public_ip(ipaddress.ip_address(address)) is public
