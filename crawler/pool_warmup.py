"""Imported last by the extraction pool's fork server (crawler/pool.py): one warm-up there, so
every worker forks with trafilatura's first-call set-up and the MinHash permutations done,
instead of doing them itself (each worker the pool starts or recycles).

The fork server dies on an exception other than ImportError in what it preloads, so a warm-up
that fails is logged and skipped: the workers then warm up themselves.
"""

from __future__ import annotations

import logging

from crawler.extract import warm_up

try:
    warm_up()
except Exception as error:  # noqa: BLE001 - a cold worker is slower, not wrong
    logging.getLogger(__name__).warning("the extraction fork server did not warm up: %r", error)
