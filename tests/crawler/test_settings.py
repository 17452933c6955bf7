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
        from crawler.config import Config
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
