"""The trend chart of one keyword rule as SVG: flagged items per day, stacked by source, spikes
marked. Drawn here once, for the dashboard (inline, under a CSP without script) and for
`newsmon stats --chart` (a standalone file, `chart_document`).

Every name in the picture is escaped: source and rule names come from a config, but the SVG
must stay well-formed and inert whatever they hold.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from html import escape

from sqlalchemy import Engine

from storage.spikes import day_spikes
from storage.trends import Trend, flagged_per_day

WIDTH, HEIGHT = 640, 200
LEFT, RIGHT, TOP, BOTTOM = 34, 8, 24, 40  # margins around the plot, in px
PALETTE = ("#3b6fb6", "#e08a2c", "#4c9a5a", "#b8474a", "#7d5ea8", "#8a6d3b", "#d16fa6", "#6b7b8c")
OTHER = "#b0b0b0"  # sources past the palette share one colour and one legend entry
BASELINE_DAYS = 14  # days before the period a day's spike mark is judged against
FONTS = "system-ui, 'Noto Naskh Arabic', 'Noto Nastaliq Urdu', sans-serif"


def charted_trends(
    engine: Engine, days: int, keyword: str | None = None, today: date | None = None
) -> list[tuple[Trend, list[bool]]]:
    """Per rule, its trend over `days` and which of those days were spikes against the
    days before them."""
    charted = []
    for trend in flagged_per_day(engine, days + BASELINE_DAYS, keyword, today):
        marks = day_spikes(trend.counts, BASELINE_DAYS)[BASELINE_DAYS:]
        charted.append((Trend(trend.keyword, trend.days[BASELINE_DAYS:]), marks))
    return charted


def chart_document(charts: Sequence[tuple[Trend, Sequence[bool]]]) -> str:
    """A standalone SVG file: the charts of several rules, one under the other."""
    height = HEIGHT * max(len(charts), 1)
    inner = [
        trend_svg(trend, spikes, offset=n * HEIGHT, fixed_size=True)
        for n, (trend, spikes) in enumerate(charts)
    ]
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}"'
        f' viewBox="0 0 {WIDTH} {height}"><rect width="100%" height="100%" fill="#fff"/>'
        + "".join(inner)
        + "</svg>\n"
    )


def trend_svg(
    trend: Trend, spikes: Sequence[bool] = (), *, offset: int = 0, fixed_size: bool = False
) -> str:
    """The chart of `trend`, one bar per day; `spikes[n]` marks day n as a spike. Inline it
    fills its box's width; in a document it is `offset` px down, at its own size."""
    size = f'width="{WIDTH}" height="{HEIGHT}"' if fixed_size else 'width="100%"'
    days = trend.days
    counts = trend.counts
    names = trend.sources
    colours = {name: PALETTE[n] if n < len(PALETTE) else OTHER for n, name in enumerate(names)}
    top = max([*counts, 1])
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = plot_w / max(len(days), 1)
    bar_w = max(step * 0.8, 1.0)
    scale = plot_h / top
    title = (
        f"{trend.keyword}: flagged items per day, {days[0].day} to {days[-1].day}" if days else ""
    )
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="trend" viewBox="0 0 {WIDTH} {HEIGHT}"'
        f' y="{offset}" {size} role="img" aria-label="{escape(title)}"'
        f' data-keyword="{escape(trend.keyword)}" font-family="{FONTS}" font-size="11">',
        f"<title>{escape(title)}</title>",
        f'<text x="{LEFT}" y="14" font-weight="bold" direction="ltr">{escape(trend.keyword)}</text>',
        # Axis: the top count and zero.
        f'<line x1="{LEFT}" y1="{TOP + plot_h}" x2="{WIDTH - RIGHT}" y2="{TOP + plot_h}"'
        ' stroke="#999"/>',
        f'<text x="{LEFT - 4}" y="{TOP + 4}" text-anchor="end">{top}</text>',
        f'<text x="{LEFT - 4}" y="{TOP + plot_h}" text-anchor="end">0</text>',
    ]
    for n, day in enumerate(days):
        x = LEFT + n * step + (step - bar_w) / 2
        spike = n < len(spikes) and spikes[n]
        parts.append(
            f'<g class="day{" spike" if spike else ""}" data-day="{day.day}"'
            f' data-count="{day.total}"><title>{day.day}: {day.total}'
            f"{' (spike)' if spike else ''}</title>"
        )
        y: float = TOP + plot_h
        for name in names:
            count = day.by_source.get(name, 0)
            if not count:
                continue
            height = count * scale
            y -= height
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{height:.1f}"'
                f' fill="{colours[name]}" data-source="{escape(name)}" data-count="{count}"/>'
            )
        if spike:
            cx = x + bar_w / 2
            parts.append(
                f'<path class="spike-mark" d="M{cx:.1f} {y - 10:.1f} l-5 -8 h10 z" fill="#c00"/>'
            )
        parts.append("</g>")
    if days:
        baseline = TOP + plot_h + 14
        parts.append(f'<text x="{LEFT}" y="{baseline}">{days[0].day}</text>')
        parts.append(
            f'<text x="{WIDTH - RIGHT}" y="{baseline}" text-anchor="end">{days[-1].day}</text>'
        )
    parts.extend(_legend(names, colours, HEIGHT - 8))
    parts.append("</svg>")
    return "".join(parts)


def _legend(names: Sequence[str], colours: dict[str, str], y: float) -> list[str]:
    """One swatch per source (those past the palette as one 'others')."""
    shown = list(names[: len(PALETTE)])
    entries = [(name, colours[name]) for name in shown]
    if len(names) > len(shown):
        entries.append((f"{len(names) - len(shown)} others", OTHER))
    parts, x = [], float(LEFT)
    for name, colour in entries:
        parts.append(f'<rect x="{x:.0f}" y="{y - 9}" width="10" height="10" fill="{colour}"/>')
        label = name if len(name) <= 24 else name[:23] + "…"
        parts.append(
            f'<text class="legend" x="{x + 14:.0f}" y="{y}" direction="ltr">{escape(label)}</text>'
        )
        x += 22 + 7 * len(label)
    return parts
