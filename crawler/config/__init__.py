"""The config layer: config.yaml read, validated and modelled, for the whole application.

    file.py        YAML with line numbers, ${VAR}, $NEWSMON_DATABASE_URL, ConfigError (no pydantic)
    units.py       durations and sizes as people write them (no pydantic)
    schedules.py   5-field cron lines as APScheduler triggers (no pydantic)
    fields.py      the value types the models share
    modes.py       the registry of discovery modes: mode -> options model + spider
    models.py      sources, politeness, schedules, keyword rules, the whole Config
    operations.py  daemon, alerts and digests, near-duplicates, distributed workers
    load.py        load_config and the checks across models

Import from the defining module: `crawler.config.file` (what read-only commands use) must stay
free of pydantic, so this package imports none of its modules.
"""
