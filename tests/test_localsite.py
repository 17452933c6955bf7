from __future__ import annotations

import gzip
import json
import socket
import struct
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.localsite import LocalSite, RecordedRequest, Response


def fetch(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, dict(response.headers.items()), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers.items()), error.read()


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "news").mkdir()
    (tmp_path / "news" / "index.html").write_text("<a href='{{BASE}}/news/a.html'>A</a>")
    (tmp_path / "news" / "a.html").write_text("<p>article</p>")
    (tmp_path / "latin.html").write_bytes("caf\u00e9 {{BASE}}".encode("cp1252"))
    (tmp_path / "photo.jpg").write_bytes(b"{{BASE}}\xff\xd8")
    (tmp_path / "sitemap.xml.gz").write_bytes(gzip.compress(b"<loc>{{BASE}}/news/a.html</loc>"))
    (tmp_path / "_headers.json").write_text(
        json.dumps({"/latin.html": {"Content-Type": "text/html; charset=windows-1252"}})
    )
    return tmp_path


@pytest.fixture
def site(root: Path):
    with LocalSite(root) as site:
        yield site


@pytest.mark.parametrize(
    ("name", "content_type"),
    [
        ("page.html", "text/html"),
        ("feed.xml", "application/xml"),
        ("feed.rss", "application/rss+xml"),
        ("feed.atom", "application/atom+xml"),
        ("feed.json", "application/feed+json"),
        ("notes.txt", "text/plain"),
        ("blob.bin", "application/octet-stream"),
    ],
)
def test_content_type_follows_the_extension(tmp_path: Path, name: str, content_type: str) -> None:
    (tmp_path / name).write_bytes(b"x")
    with LocalSite(tmp_path) as site:
        status, headers, body = fetch(site.url(name))
    assert (status, headers["Content-Type"], body) == (200, content_type, b"x")


def test_base_is_substituted_in_text_files_only(site: LocalSite) -> None:
    assert fetch(site.url("/news/"))[2] == f"<a href='{site.base_url}/news/a.html'>A</a>".encode()
    assert fetch(site.url("/photo.jpg"))[2] == b"{{BASE}}\xff\xd8"


def test_substitution_keeps_the_file_encoding(site: LocalSite) -> None:
    status, headers, body = fetch(site.url("/latin.html"))
    assert headers["Content-Type"] == "text/html; charset=windows-1252"  # from _headers.json
    assert body == f"caf\xe9 {site.base_url}".encode("cp1252")


def test_gzipped_file_is_served_raw_with_base_substituted_inside(site: LocalSite) -> None:
    status, headers, body = fetch(site.url("/sitemap.xml.gz"))
    assert headers["Content-Type"] == "application/gzip"
    assert "Content-Encoding" not in headers
    assert gzip.decompress(body) == f"<loc>{site.base_url}/news/a.html</loc>".encode()


def test_directory_without_slash_redirects_to_its_index(site: LocalSite) -> None:
    status, _, body = fetch(site.url("/news"))  # urllib follows the 301
    assert (status, body[:2]) == (200, b"<a")
    assert site.hits("/news") == 1 and site.hits("/news/") == 1


@pytest.mark.parametrize(
    "path", ["/missing.html", "/news/missing/", "/_headers.json", "/../etc/passwd"]
)
def test_missing_and_private_paths_are_404(site: LocalSite, path: str) -> None:
    assert fetch(site.url(path))[0] == 404


def test_default_robots_allows_everything(site: LocalSite) -> None:
    status, headers, body = fetch(site.url("/robots.txt"))
    assert (status, headers["Content-Type"]) == (200, "text/plain")
    assert body == b"User-agent: *\nDisallow:\n"


def test_a_site_robots_txt_wins(root: Path) -> None:
    (root / "robots.txt").write_text("User-agent: *\nDisallow: /news/\n")
    with LocalSite(root) as site:
        assert fetch(site.url("/robots.txt"))[2] == b"User-agent: *\nDisallow: /news/\n"


def test_the_first_root_with_a_path_serves_it(root: Path, tmp_path_factory) -> None:
    under = tmp_path_factory.mktemp("under")
    (under / "news").mkdir()
    (under / "news" / "a.html").write_text("<p>shadowed</p>")
    (under / "news" / "b.html").write_text("<p>only below</p>")
    (under / "latin.html").write_text("x")
    (under / "_headers.json").write_text(json.dumps({"/news/b.html": {"X-Root": "under"}}))
    with LocalSite(root, under) as site:
        assert fetch(site.url("/news/a.html"))[2] == b"<p>article</p>"
        status, headers, body = fetch(site.url("/news/b.html"))
        assert (status, headers["X-Root"], body) == (200, "under", b"<p>only below</p>")
        # The top root's headers stay with its own files.
        assert (
            fetch(site.url("/latin.html"))[1]["Content-Type"] == "text/html; charset=windows-1252"
        )
        assert fetch(site.url("/news/missing.html"))[0] == 404


def test_added_route_overrides_a_file(site: LocalSite) -> None:
    site.add("/news/a.html", "gone", status=410, headers={"X-Why": "test"}, content_type="text/x")
    status, headers, body = fetch(site.url("/news/a.html"))
    assert (status, headers["X-Why"], headers["Content-Type"], body) == (
        410,
        "test",
        "text/x",
        b"gone",
    )


def test_added_route_works_without_a_root() -> None:
    with LocalSite() as site:
        site.add("/only", b"\x00\x01")
        assert fetch(site.url("only"))[:3:2] == (200, b"\x00\x01")
        assert fetch(site.url("/other"))[0] == 404


def test_a_route_with_a_query_matches_only_that_query(site: LocalSite) -> None:
    site.add("/news/a.html?page=2", "second")
    assert fetch(site.url("/news/a.html?page=2"))[2] == b"second"
    assert fetch(site.url("/news/a.html?page=3"))[2] == b"<p>article</p>"


def test_handler_route_sees_the_request(site: LocalSite) -> None:
    def echo(request: RecordedRequest) -> Response:
        return Response(request.headers.get("X-Probe", "none").encode(), 202)

    site.route("/echo", echo)
    assert fetch(site.url("/echo"), {"X-Probe": "hello"})[:3:2] == (202, b"hello")


def test_requests_are_recorded_and_counted(site: LocalSite) -> None:
    fetch(site.url("/news/a.html"), {"User-Agent": "probe/1"})
    fetch(site.url("/news/a.html?utm=x"))
    fetch(site.url("/missing"))
    assert [(r.method, r.path) for r in site.requests] == [
        ("GET", "/news/a.html"),
        ("GET", "/news/a.html?utm=x"),
        ("GET", "/missing"),
    ]
    assert site.requests[0].headers["User-Agent"] == "probe/1"
    assert site.hits("/news/a.html") == 2
    assert site.hits("/news/a.html?utm=x") == 1
    assert site.hits("/missing") == 1
    assert site.hits("/never") == 0


def test_head_has_headers_but_no_body(site: LocalSite) -> None:
    request = urllib.request.Request(site.url("/news/a.html"), method="HEAD")
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.headers["Content-Length"] == str(len(b"<p>article</p>"))
        assert response.read() == b""


def test_stop_frees_the_port(root: Path) -> None:
    site = LocalSite(root).start()
    url = site.url("/news/a.html")
    site.stop()
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(url, timeout=2)
    with pytest.raises(RuntimeError):
        site.base_url  # noqa: B018


DAR_RUBIO = "/news/dar-seeks-stable-relationship-with-us.html"


def test_bundled_sites_serve_their_entry_points(
    fixture_site: LocalSite, demo_site: LocalSite
) -> None:
    for site, path, expected in [
        (demo_site, "/feed.xml", demo_site.url("/news/")),
        (demo_site, "/sitemap.xml", demo_site.url("/statements/")),
        (demo_site, "/robots.txt", demo_site.url("/sitemap.xml")),
        (demo_site, "/press-releases/", 'rel="next" href="/press-releases/page/2/"'),
        (fixture_site, "/feeds/rss2.xml", fixture_site.url("/news/")),
        (fixture_site, DAR_RUBIO, fixture_site.url(DAR_RUBIO)),  # a corpus page, its canonical
        (fixture_site, "/sitemaps/index.xml", fixture_site.url("/sitemaps/b.xml.gz")),
    ]:
        status, _, body = fetch(site.url(path))
        assert status == 200, path
        assert expected.encode() in body and b"{{BASE}}" not in body, path


def test_a_burst_of_connections_is_served_without_syn_retransmits(root: Path) -> None:
    """A crawler opens many connections at once; a dropped SYN would cost each one a 1 s retry."""
    body = b"x" * 100_000
    latencies: list[float] = []

    def get(url: str) -> None:
        host, port = url.split("//")[1].split("/")[0].split(":")
        began = time.perf_counter()
        with socket.create_connection((host, int(port)), timeout=5) as connection:
            connection.sendall(b"GET /big HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            while connection.recv(65536):
                pass
        latencies.append(time.perf_counter() - began)

    with LocalSite(root) as site:
        site.add("/big", body=body)
        threads = [threading.Thread(target=get, args=(site.base_url,)) for _ in range(64)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert len(latencies) == 64
    assert max(latencies) < 0.9


def test_a_client_hanging_up_mid_response_prints_nothing(capfd) -> None:
    with LocalSite() as site:
        site.add("/big", b"x" * 5_000_000)
        client = socket.create_connection(("127.0.0.1", int(site.base_url.rsplit(":", 1)[1])))
        client.sendall(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
        client.recv(100)
        # Linger 0: close with a reset, as a crawler cancelling an oversized download may.
        client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        client.close()
        time.sleep(0.5)  # the server's write fails after this side is gone
        assert site.hits("/big") == 1
    assert "Traceback" not in capfd.readouterr().err
