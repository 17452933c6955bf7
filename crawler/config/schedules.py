"""Standard 5-field crontab lines as APScheduler 3 triggers.

APScheduler 3 numbers weekdays from Monday (0) while cron counts from Sunday (0 or 7), so the
weekday field is translated to day names before APScheduler reads it.
"""

from __future__ import annotations

from typing import Any

DAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


def cron_trigger(expression: str, timezone: str | None = None, jitter: float | None = None) -> Any:
    """A CronTrigger for `expression`; ValueError names what is wrong."""
    from apscheduler.triggers.cron import CronTrigger

    fields = expression.split()
    if len(fields) != 5:
        raise ValueError(f"needs 5 fields (minute hour day month weekday), found {len(fields)}")
    minute, hour, day, month, weekday = fields
    return CronTrigger(
        minute=minute,
        hour=hour,
        day=day,
        month=month,
        day_of_week=cron_weekdays(weekday),
        timezone=timezone or "UTC",
        jitter=int(jitter) if jitter else None,
    )


def cron_weekdays(field: str) -> str:
    """Cron's weekday field ('1-5', '0,6', '*/2', 'mon-fri') as APScheduler day names."""
    if field == "*":
        return field
    days: set[int] = set()
    for part in field.split(","):
        span, _, step_text = part.partition("/")
        step = _number(step_text, "step") if step_text else 1
        if step < 1:
            raise ValueError(f"weekday step must be at least 1 in {part!r}")
        if span == "*":
            first, last = 0, 6
        elif "-" in span:
            low, high = span.split("-", 1)
            first, last = _day(low), _day(high)
            if last == 0 and first > 0:  # 5-7 or fri-sun: Sunday as the week's end
                last = 7
            if first > last:
                raise ValueError(f"weekday range {span!r} runs backwards")
        else:
            first = _day(span)
            last = 6 if step_text else first
        days.update(day % 7 for day in range(first, last + 1, step))
    return ",".join(DAY_NAMES[day] for day in sorted(days))


def _day(text: str) -> int:
    lowered = text.strip().lower()[:3]
    if lowered in DAY_NAMES:
        return DAY_NAMES.index(lowered)
    day = _number(text, "weekday")
    if not 0 <= day <= 7:
        raise ValueError(f"weekday {text!r} is out of range (0-7, 0 and 7 are Sunday)")
    return day  # 7 stays 7 here so that a range such as 5-7 works; callers take it mod 7


def _number(text: str, what: str) -> int:
    if not text.isdigit():
        raise ValueError(f"{what} {text!r} is not a number or day name")
    return int(text)
