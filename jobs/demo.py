"""`newsmon demo`: the whole pipeline against a bundled site served on 127.0.0.1, no internet needed."""

from __future__ import annotations

import shutil
import sys
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
    from crawler.config import load_config
    from jobs.crawl import crawl_once
    from jobs.localsite import LocalSite
    from jobs.output import write_items
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
    with resources.as_file(site_root) as root, LocalSite(Path(root)) as site:
        config_path = directory / "demo.yaml"
        config_path.write_text(DEMO_CONFIG.format(base=site.base_url))
        config = load_config(config_path)
        engine = make_engine(config.database)
        prepare_for_writing(engine)
        print(f"Serving the demo site at {site.base_url}; crawling it now…\n", file=sys.stderr)
        code = crawl_once(config, [], engine)
    print("\nFlagged items:")
    write_items(search_items(engine, ItemQuery(keyword="Pakistan-US")).items, "table", sys.stdout)
    print(
        f"\nEverything stored: newsmon --config {config_path} items"
        f"\nOne item in full:  newsmon --config {config_path} show ID"
    )
    return code
