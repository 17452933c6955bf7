import subprocess
import sys
import textwrap

from tests.jobs.helpers import REPO


def test_unused_scrapy_components_are_never_loaded():
    """Scrapy loads every component its *_BASE settings name; the remote-control server (which
    runs code sent to it) and the cookie middleware must not even be imported."""
    script = textwrap.dedent(
        """
        import sys
        from scrapy.settings import Settings
        from crawler.config.models import Config
        from crawler.settings import process_settings

        config = Config.model_validate({"sources": [{"name": "a", "feed": "http://a.example/"}]})
        settings = Settings(process_settings(config))
        extensions = settings.get_component_priority_dict_with_base("EXTENSIONS")
        middlewares = settings.get_component_priority_dict_with_base("DOWNLOADER_MIDDLEWARES")
        names = {c if isinstance(c, str) else f"{c.__module__}.{c.__name__}"
                 for c in [*extensions, *middlewares]}
        print(sorted(name for name in names if "RemoteControl" in name or "Cookies" in name))
        print(sorted(m for m in ("aiohttp", "tldextract") if m in sys.modules))
        print("scrapy.extensions.logstats.LogStats" in names)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO, check=True
    )
    assert result.stdout.split("\n")[:3] == ["[]", "[]", "True"]


def test_certificates_are_verified_unless_a_source_opts_out():
    from crawler.config.models import Config
    from crawler.settings import source_settings

    config = Config.model_validate(
        {
            "sources": [
                {"name": "a", "feed": "https://a.example/feed"},
                {"name": "b", "feed": "https://intranet.example/feed", "tls_verify": False},
            ]
        }
    )
    verify = [
        source_settings(config, source)["DOWNLOAD_VERIFY_CERTIFICATES"] for source in config.sources
    ]
    assert verify == [True, False]


def test_the_resolver_knows_every_host_the_run_may_fetch_privately(monkeypatch):
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        monkeypatch.delenv(name, raising=False)
    from crawler.config.models import Config
    from crawler.settings import process_settings

    config = Config.model_validate(
        {
            "sources": [
                {
                    "name": "a",
                    "feed": "http://127.0.0.1:8080/feed",
                    "allow_private_hosts": ["x.lan"],
                },
                {"name": "b", "feed": "https://news.example/feed"},
            ]
        }
    )
    settings = process_settings(config, config.sources)
    assert settings["TWISTED_DNS_RESOLVER"] == "crawler.resolver.GuardedResolver"
    assert settings["NEWSMON_PRIVATE_HOSTS"] == ["127.0.0.1", "news.example", "x.lan"]
    assert process_settings(config, config.sources[1:])["NEWSMON_PRIVATE_HOSTS"] == ["news.example"]


def test_url_credentials_become_basic_auth_for_the_sources_own_host_only():
    from crawler.config.models import Config
    from crawler.settings import process_settings, source_settings

    config = Config.model_validate(
        {"sources": [{"name": "a", "feed": "https://news:pa%40ss@feeds.example:8443/f?key=k"}]}
    )
    [source] = config.sources
    settings = source_settings(config, source)
    assert source.url == "https://feeds.example:8443/f?key=k"
    assert (settings["HTTPAUTH_USER"], settings["HTTPAUTH_PASS"]) == ("news", "pa@ss")
    assert settings["HTTPAUTH_DOMAIN"] == "feeds.example:8443"
    assert process_settings(config, config.sources)["REFERRER_POLICY"] == "no-referrer"


def test_a_proxy_from_the_environment_stays_reachable(monkeypatch):
    from crawler.config.models import Config
    from crawler.settings import process_settings

    monkeypatch.setenv("https_proxy", "proxy.corp.lan:3128")  # Scrapy connects to it on purpose
    monkeypatch.setenv("http_proxy", "http://10.0.0.8:3128")
    config = Config.model_validate({"sources": [{"name": "b", "feed": "https://news.example/f"}]})
    hosts = process_settings(config, config.sources)["NEWSMON_PRIVATE_HOSTS"]
    assert hosts == ["10.0.0.8", "news.example", "proxy.corp.lan"]


def test_crawlers_of_one_host_in_one_process_share_its_budget():
    """Each Scrapy crawler keeps downloader slots of its own: two sources of one host crawled
    by one child get half the host's concurrency each and twice its delay."""
    from crawler.config.models import Config
    from crawler.settings import host_sharing, source_settings

    config = Config.model_validate(
        {
            "politeness": {"delay": "1s", "concurrency_per_host": 4},
            "sources": [
                {"name": "a", "feed": "https://News.example/feed"},
                {"name": "b", "sitemap": "https://news.example/sitemap.xml"},
                {"name": "c", "feed": "https://other.example/feed"},
            ],
        }
    )
    sharing = host_sharing(config.sources)
    assert sharing == {"a": 2, "b": 2, "c": 1}
    a, b, c = (source_settings(config, s, sharing[s.name]) for s in config.sources)
    assert (a["DOWNLOAD_DELAY"], a["CONCURRENT_REQUESTS_PER_DOMAIN"]) == (2.0, 2)
    assert (b["DOWNLOAD_DELAY"], b["CONCURRENT_REQUESTS_PER_DOMAIN"]) == (2.0, 2)
    assert (c["DOWNLOAD_DELAY"], c["CONCURRENT_REQUESTS_PER_DOMAIN"]) == (1.0, 4)
