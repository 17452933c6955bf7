"""The config layer: config.yaml read, validated and modelled, for the whole application.

    file.py        YAML with line numbers, ${VAR}, $NEWSMON_DATABASE_URL, ConfigError (no pydantic)
    units.py       durations and sizes as people write them (no pydantic)
    schedules.py   5-field cron lines as APScheduler triggers (no pydantic)
    fields.py      the value types the models share
    modes.py       the registry of discovery modes: mode -> options model + spider
    models.py      sources, politeness, schedules, keyword rules, the whole Config
    operations.py  daemon, alerts and digests, near-duplicates, distributed workers
    load.py        load_config and the checks across models

The names below are re-exported lazily: `from crawler.config.file import ...` (what read-only
commands do) must not import pydantic. Prefer importing from the defining module.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "ConfigError": "file",
    "DATABASE_ENV": "file",
    "database_url": "file",
    "find_config_path": "file",
    "parse_duration": "units",
    "parse_size": "units",
    "cron_trigger": "schedules",
    "cron_weekdays": "schedules",
    "DiscoveryMode": "modes",
    "MODES": "modes",
    "register": "modes",
    "Config": "models",
    "KeywordRule": "models",
    "Near": "models",
    "Politeness": "models",
    "PolitenessOverride": "models",
    "Schedule": "models",
    "Source": "models",
    "Alert": "operations",
    "Daemon": "operations",
    "Digest": "operations",
    "Distributed": "operations",
    "NearDuplicates": "operations",
    "load_config": "load",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # once found, a plain attribute
    return value
