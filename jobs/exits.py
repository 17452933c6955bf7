"""The exit codes of every `newsmon` command and of the child runs the daemon and workers start.

One table, so that a parent reading a child's code (the daemon, a Celery worker) and the child
writing it cannot disagree.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILED = 1  # some source (or delivery) failed; the others were still done
EXIT_CONFIG = 2  # the config (or the database schema) is invalid
EXIT_USAGE = 2  # the command line is invalid: bad --search syntax, parquet to stdout
EXIT_LOCKED = 75  # EX_TEMPFAIL: another crawl holds the source's lock; try again later
