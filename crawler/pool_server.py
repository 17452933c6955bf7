"""Imported only by the extraction pool's fork server (crawler/pool.py preloads it first).

Importing it makes the fork server die with the crawl process that started it, and tells the
workers it forks who their parent must be, so each can die with it in turn. It also loads
what every worker needs in memory and only the workers need (the language model).
"""

from __future__ import annotations

import os

from crawler.lifeline import OWNER_ENV, SERVER_ENV, die_with_parent

owner = os.environ.get(OWNER_ENV, "")
if owner.isdigit():
    die_with_parent(int(owner))
    os.environ[SERVER_ENV] = str(os.getpid())

# After the lifeline: the language model, loaded once here, so every worker forks with it.
from crawler.language import identifier  # noqa: E402

identifier()
