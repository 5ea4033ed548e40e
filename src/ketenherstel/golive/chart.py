"""A line chart (SVG, no dependencies) of a forecast: each channel's backlog at the end of each
day, with the plan's waves marked."""

from __future__ import annotations

import math
from datetime import date
from html import escape

from ketenherstel.golive.forecast import ForecastResult
from ketenherstel.golive.model import Plan

__all__ = ["render_svg"]

_COLOURS = (
    "#01689b", "#e17000", "#39870c", "#a90061", "#8fcae7", "#ffb612",
    "#42145f", "#d52b1e", "#007bc7", "#673327", "#76d2b6", "#94710a",
)  # fmt: skip
_WIDTH, _HEIGHT, _LEFT, _RIGHT, _TOP, _BOTTOM = 1040, 460, 80, 220, 50, 50


def render_svg(
    result: ForecastResult, plan: Plan | None = None, *, title: str | None = None
) -> str:
    """The chart as an SVG document; ``title`` replaces the forecast's own title."""
    days = sorted({point.day for c in result.channels for point in c.series})
    first, last = (days[0], days[-1]) if days else (result.start.date(), result.start.date())
    span = max((last - first).days, 1)
    top = _nice(max((p.backlog for c in result.channels for p in c.series), default=1.0))
    plot_w, plot_h = _WIDTH - _LEFT - _RIGHT, _HEIGHT - _TOP - _BOTTOM

    def x(day: date) -> float:
        return _LEFT + plot_w * (day - first).days / span

    def y(value: float) -> float:
        return _TOP + plot_h * (1 - value / top)

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_WIDTH}" height="{_HEIGHT}" '
        'font-family="sans-serif" font-size="12">',
        '<rect width="100%" height="100%" fill="white"/>',
        '<text x="10" y="22" font-size="15" font-weight="bold">'
        + escape(
            title or f"Forecast of plan {result.plan}: backlog per channel at the end of each day"
        )
        + "</text>",
    ]
    for i in range(5):
        value = top * i / 4
        out.append(
            f'<line x1="{_LEFT}" y1="{y(value):.1f}" x2="{_LEFT + plot_w}" y2="{y(value):.1f}" '
            f'stroke="#ddd"/><text x="{_LEFT - 6}" y="{y(value) + 4:.1f}" text-anchor="end" '
            f'fill="#555">{value:,.0f}</text>'
        )
    for day in days[:: max(1, len(days) // 10)]:
        out.append(
            f'<text x="{x(day):.1f}" y="{_TOP + plot_h + 18}" text-anchor="middle" '
            f'fill="#555">{day:%d-%m}</text>'
        )
    for wave in plan.waves if plan is not None else ():
        day = wave.at.astimezone(result.start.tzinfo).date()
        if first <= day <= last:
            out.append(
                f'<line x1="{x(day):.1f}" y1="{_TOP}" x2="{x(day):.1f}" y2="{_TOP + plot_h}" '
                f'stroke="#999" stroke-dasharray="4 3"/><text x="{x(day) + 3:.1f}" '
                f'y="{_TOP + 10}" fill="#555" font-size="10">{escape(wave.name)}</text>'
            )
    for n, channel in enumerate(result.channels):
        colour = _COLOURS[n % len(_COLOURS)]
        points = " ".join(f"{x(p.day):.1f},{y(p.backlog):.1f}" for p in channel.series)
        if points:
            out.append(
                f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="2"/>'
            )
        ly = _TOP + 16 * n
        out.append(
            f'<rect x="{_WIDTH - _RIGHT + 16}" y="{ly}" width="12" height="12" fill="{colour}"/>'
            f'<text x="{_WIDTH - _RIGHT + 32}" y="{ly + 10}">{escape(channel.channel)}</text>'
        )
    out.append("</svg>")
    return "\n".join(out)


def _nice(value: float) -> float:
    """The next round number (1, 2 or 5 times a power of ten) at or above ``value``."""
    if value <= 1:
        return 1.0
    power = 10.0 ** math.floor(math.log10(value))
    return next(m * power for m in (1.0, 2.0, 5.0, 10.0) if m * power >= value)
