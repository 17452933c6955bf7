"""The private-address guard: what it refuses, what a lookup pins, where connections may go."""

import asyncio
import ipaddress
import socket

import pytest

from crawler.addresses import (
    AddressGuard,
    LookupFailed,
    connectable,
    open_checked,
    pinned_resolver,
)


def check(guard: AddressGuard, url: str) -> str | None:
    return asyncio.run(guard.check(url))


@pytest.mark.parametrize(
    ("url", "blocked"),
    [
        ("http://127.0.0.1:1/x", "127.0.0.1"),
        ("http://10.0.0.5/", "10.0.0.5"),
        ("http://169.254.169.254/latest/meta-data", "169.254.169.254"),
        ("http://[::1]/", "::1"),
        ("http://[::ffff:127.0.0.1]/", "::ffff:7f00:1"),
        ("http://2130706433/", "127.0.0.1"),
        ("http://0x7f.1/", "127.0.0.1"),
        ("http://0177.0.0.1/", "127.0.0.1"),
        ("http://0/", "0.0.0.0"),
        ("https://user@192.168.0.1:8443/", "192.168.0.1"),
    ],
)
def test_guard_refuses_private_ip_literals(url, blocked):
    reason = check(AddressGuard(), url)
    assert reason is not None
    assert blocked in reason


def test_guard_allows_public_ip_literals_without_dns():
    assert check(AddressGuard(), "http://93.184.216.34/") is None
    assert check(AddressGuard(), "http://[2606:4700::1111]/") is None


def test_guard_resolves_localhost():
    assert (
        check(AddressGuard(), "http://localhost:8080/") == "private address 127.0.0.1 (localhost)"
    )


@pytest.mark.parametrize(
    ("allowed", "url"),
    [
        (["127.0.0.1"], "http://127.0.0.1:1/x"),
        (["127.0.0.1"], "http://2130706433/"),
        (["LocalHost"], "http://localhost/"),
        (["[::1]"], "http://[::1]/"),
        (["::1"], "http://[0::1]/"),
        (["LOCALHOST."], "http://localhost/"),
    ],
)
def test_guard_lets_allowed_hosts_through(allowed, url):
    assert check(AddressGuard(allowed), url) is None
    assert check(AddressGuard(), url) is not None


def test_allowing_one_host_does_not_allow_another():
    assert check(AddressGuard(["127.0.0.1"]), "http://10.0.0.1/") is not None


@pytest.fixture
def no_such_names(monkeypatch):
    """Every name lookup fails, as for a name that does not exist (and no query leaves)."""

    def getaddrinfo(host, *args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


def test_a_name_that_does_not_resolve_fails_rather_than_passes(no_such_names):
    with pytest.raises(LookupFailed, match="nothing-here.invalid"):
        check(AddressGuard(), "http://nothing-here.invalid/")


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "ftp://10.0.0.1/", "http:///nohost", "http://[::1/"]
)
def test_guard_refuses_what_is_not_an_http_url_with_a_host(url):
    assert check(AddressGuard(), url) is not None


def fake_resolver(answers: dict[str, list[str]], calls: list[str]):
    async def getaddrinfo(host, port, *, type=0, **kwargs):
        calls.append(host)
        await asyncio.sleep(0)
        if host not in answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [
            (socket.AF_INET6 if ":" in a else socket.AF_INET, type, 6, "", (a, 0))
            for a in answers[host]
        ]

    return getaddrinfo


def run_with_resolver(answers, coro_factory):
    calls: list[str] = []

    async def main():
        asyncio.get_running_loop().getaddrinfo = fake_resolver(answers, calls)
        return await coro_factory()

    return asyncio.run(main()), calls


def test_guard_refuses_a_name_with_any_private_address():
    guard = AddressGuard()
    answers = {
        "public.test": ["93.184.216.34", "2606:4700::1111"],
        "mixed.test": ["93.184.216.34", "fe80::1%eth0"],
        "rebound.test": ["10.1.2.3"],
    }

    async def checks():
        return [
            await guard.check("http://public.test/a"),
            await guard.check("http://mixed.test/a"),
            await guard.check("https://rebound.test/a"),
        ]

    verdicts, _ = run_with_resolver(answers, checks)
    assert verdicts == [
        None,
        "private address fe80::1 (mixed.test)",
        "private address 10.1.2.3 (rebound.test)",
    ]


def test_guard_resolves_each_host_once_while_cached():
    guard = AddressGuard()

    async def checks():
        first = await asyncio.gather(*(guard.check(f"http://a.test/{n}") for n in range(10)))
        return [*first, await guard.check("http://A.TEST/again")]

    verdicts, calls = run_with_resolver({"a.test": ["10.0.0.1"]}, checks)
    assert set(verdicts) == {"private address 10.0.0.1 (a.test)"}
    assert calls == ["a.test"]


def test_guard_does_not_keep_a_failed_resolution():
    guard = AddressGuard()

    async def checks():
        failures = []
        for _ in range(2):
            try:
                await guard.check("http://gone.test/")
            except LookupFailed as error:
                failures.append(str(error))
        return failures

    failures, calls = run_with_resolver({}, checks)
    assert len(failures) == 2 and "gone.test" in failures[0]
    assert calls == ["gone.test", "gone.test"]


def test_an_answer_is_pinned_for_the_whole_crawl_and_shared_with_the_connection():
    # The first answer is the one every later check and every connection sees: a name that
    # changes its answer (rebinding) cannot slip a second one in.
    answers = {"rebind.test": ["93.184.216.34"]}

    async def checks():
        first = await AddressGuard().check("http://rebind.test/a")
        answers["rebind.test"] = ["127.0.0.1"]
        again = await AddressGuard().check("http://rebind.test/b")
        return first, again, await pinned_resolver().addresses("rebind.test")

    (first, again, pinned), calls = run_with_resolver(answers, checks)
    assert (first, again) == (None, None)
    assert pinned == [ipaddress.ip_address("93.184.216.34")]
    assert calls == ["rebind.test"]


@pytest.mark.parametrize(
    ("host", "answer", "allowed", "kept"),
    [
        ("public.test", ["93.184.216.34"], [], ["93.184.216.34"]),
        ("mixed.test", ["93.184.216.34", "10.0.0.1"], [], ["93.184.216.34"]),
        (
            "mixed.test",
            ["93.184.216.34", "10.0.0.1"],
            ["MIXED.test."],
            ["93.184.216.34", "10.0.0.1"],
        ),
        ("::1", ["::1"], ["[::1]"], ["::1"]),
        ("::1", ["::1"], [], []),
    ],
)
def test_connectable_keeps_private_addresses_only_for_allowed_hosts(host, answer, allowed, kept):
    addresses = [ipaddress.ip_address(a) for a in answer]
    assert [str(a) for a in connectable(host, addresses, allowed)] == kept


def test_open_checked_connects_only_to_an_accepted_address():
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        with pytest.raises(OSError, match="private"):
            open_checked(("127.0.0.1", port), 5, allowed=[])
        with open_checked(("127.0.0.1", port), 5, allowed=["127.0.0.1"]) as sock:
            assert sock.getpeername() == ("127.0.0.1", port)


def test_open_checked_fails_a_failed_lookup(no_such_names):
    with pytest.raises(LookupFailed):
        open_checked(("nothing-here.invalid", 80), 5, allowed=["nothing-here.invalid"])
