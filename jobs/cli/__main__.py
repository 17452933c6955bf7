"""`python -m jobs.cli`: the `newsmon` command, imported once, by name."""

from jobs.cli import main

main()
