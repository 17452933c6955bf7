"""`newsmon demo`: the whole pipeline against a bundled site served on 127.0.0.1, no internet needed."""

from __future__ import annotations

import shutil
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path

DEMO_CONFIG = """\
# Written by `newsmon demo`: a site bundled with newsmon, served on 127.0.0.1.
database: sqlite:///demo.db
user_agent: "newsmon-demo/0.1"
sources:
  - name: demo-news
    feed: {base}/feed.xml
  - name: demo-mofa
    listing: {base}/press-releases/
    pages: 2
  - name: demo-sitemap
    sitemap: {base}/sitemap.xml
politeness:
  delay: 0s
  autothrottle: false
keywords:
  - Pakistan-US
  - name: us-pakistan
    terms: ["Pakistan-US", "US-Pakistan", "Pak-US", "Pakistan and the United States"]
"""


def run_demo(workdir: str) -> int:
    from crawler.config.load import load_config
    from jobs.crawl import crawl_once
    from jobs.output import write_table
    from storage.db import make_engine, prepare_for_writing
    from storage.search import ItemQuery, search_items

    directory = Path(workdir).resolve()
    directory.mkdir(parents=True, exist_ok=True)
    # The site's port changes every run, so each demo starts from a fresh database (and locks).
    for stale in directory.glob("demo.db*"):
        if stale.is_dir():
            shutil.rmtree(stale)
        else:
            stale.unlink()
    site_root = resources.files("jobs") / "demo_site"
    with resources.as_file(site_root) as root, serve_site(Path(root)) as base_url:
        config_path = directory / "demo.yaml"
        config_path.write_text(DEMO_CONFIG.format(base=base_url))
        config = load_config(config_path)
        engine = make_engine(config.database)
        prepare_for_writing(engine)
        print(f"Serving the demo site at {base_url}; crawling it now…\n", file=sys.stderr)
        code = crawl_once(config, [], engine)
    print("\nFlagged items:")
    write_table(search_items(engine, ItemQuery(keyword="Pakistan-US")).items, sys.stdout)
    print(
        f"\nEverything stored: newsmon --config {config_path} items"
        f"\nOne item in full:  newsmon --config {config_path} show ID"
    )
    return code


@contextmanager
def serve_site(root: Path) -> Iterator[str]:
    """Serve a copy of `root` on 127.0.0.1 with `{{BASE}}` in its files replaced by the
    server's address (feeds and sitemaps hold absolute links); yields that address."""
    with tempfile.TemporaryDirectory(prefix="newsmon-demo-") as copy:
        server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_QuietHandler, directory=copy))
        base_url = f"http://127.0.0.1:{server.server_port}"
        try:
            for file in root.rglob("*"):
                if file.is_file():
                    target = Path(copy) / file.relative_to(root)
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(file.read_bytes().replace(b"{{BASE}}", base_url.encode()))
            thread = threading.Thread(target=server.serve_forever, daemon=True)
            thread.start()
            try:
                yield base_url
            finally:
                server.shutdown()
                thread.join()
        finally:
            server.server_close()


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass  # the demo prints its own output
