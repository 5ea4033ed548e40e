"""SVG charts and their data tables, drawn once on the server without any dependency.

The SVG is plain (no CSS variables, no ``foreignObject``, no script, font ``sans-serif``) so that
browsers and WeasyPrint render it alike. Every chart names itself to assistive technology with a
``<title>`` and a ``<desc>`` (series, period, highest value) referenced by ``aria-labelledby``;
lines differ by colour (each at least 3:1 against white) and by dash pattern, and a legend names
them. ``data_table`` gives the same figures as an accessible HTML table. Labels are Dutch,
numbers Dutch-formatted (``31.204``, ``2,5``), dates ``dd-mm-jjjj`` in the given time zone.
The output depends only on the input: the same call gives the same bytes.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

__all__ = [
    "Band",
    "Marker",
    "Series",
    "bar_chart",
    "data_table",
    "format_date",
    "format_number",
    "line_chart",
]

MONTHS = ("jan", "feb", "mrt", "apr", "mei", "jun", "jul", "aug", "sep", "okt", "nov", "dec")
# Rijkshuisstijl: lintblauw, robijnrood, groen, oranje, violet, hemelblauw, donkerbruin, paars.
COLOURS = ("#154273", "#ca005d", "#39870c", "#e17000", "#42145f", "#007bc7", "#673327", "#a90061")
DASHES = ("", "8 4", "2 3", "10 3 2 3", "5 5", "14 4", "1 4", "8 3 2 3 2 3")
NO_DATA = "Geen gegevens"
MISSING = "\u2013"  # en dash
TEXT = "#1b1b1b"
AXIS = "#6b6b6b"
GRID = "#d9d9d9"
MARKER = "#4d4d4d"
BAND = "#e17000"
BAR = "#154273"

# Characters XML 1.0 does not allow, even escaped: they are dropped from any text.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_ID = re.compile(r"[A-Za-z][A-Za-z0-9_-]*\Z")
_SWAP = str.maketrans(",.", ".,")
_CHAR = 6.8  # estimated width of one character at font-size 12
_PAD = 8

_Scale = Callable[[float], float]


@dataclass(frozen=True, slots=True)
class Series:
    """A named line: (moment, value) pairs with aware moments; a NaN value counts as missing."""

    name: str
    points: tuple[tuple[datetime, float], ...]
    # The points in time order as POSIX times and values, computed once here: a zoneinfo
    # time's timestamp() alone is slow enough to dominate drawing a chart.
    _times: tuple[float, ...] = field(init=False, repr=False, compare=False)
    _values: tuple[float, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        what = f"a point of series {self.name!r}"
        timed = sorted(
            ((_require_aware(at, what).timestamp(), float(v)) for at, v in self.points), key=_first
        )
        object.__setattr__(self, "_times", tuple(t for t, _ in timed))
        object.__setattr__(self, "_values", tuple(v for _, v in timed))


@dataclass(frozen=True, slots=True)
class Marker:
    """An event drawn as a dashed vertical line with a short label (e.g. "OM afgesloten")."""

    at: datetime
    label: str

    def __post_init__(self) -> None:
        _require_aware(self.at, f"marker {self.label!r}")


@dataclass(frozen=True, slots=True)
class Band:
    """A shaded period, e.g. a bottleneck; ``end`` None means until the chart's end."""

    start: datetime
    end: datetime | None
    label: str

    def __post_init__(self) -> None:
        _require_aware(self.start, f"band {self.label!r}")
        if self.end is not None:
            _require_aware(self.end, f"band {self.label!r}")
            if self.end < self.start:
                raise ValueError(
                    f"band {self.label!r} ends before it starts; give an end at or after the start"
                )


def format_number(value: float, decimals: int = 0) -> str:
    """Dutch number format: ``31204`` -> ``31.204``, ``-2.5`` (1 decimal) -> ``-2,5``.

    NaN and infinities are shown as an en dash (missing).
    """
    if decimals < 0:
        raise ValueError(f"decimals must be 0 or more, not {decimals}")
    if not math.isfinite(value):
        return MISSING
    text = f"{value:,.{decimals}f}"
    if text.startswith("-") and not text.strip("-0.,"):
        text = text[1:]  # no "-0" for a negative value that rounds to zero
    return text.translate(_SWAP)


def format_date(at: datetime, tz: str = "Europe/Amsterdam", *, with_time: bool = False) -> str:
    """``17-07-2025`` (or ``17-07-2025 21:40`` with_time) in time zone ``tz``."""
    local = _require_aware(at, "format_date's moment").astimezone(ZoneInfo(tz))
    text = f"{local.day:02d}-{local.month:02d}-{local.year:04d}"
    return f"{text} {local.hour:02d}:{local.minute:02d}" if with_time else text


def line_chart(
    chart_id: str,
    title: str,
    series: Sequence[Series],
    *,
    unit: str,
    markers: Sequence[Marker] = (),
    bands: Sequence[Band] = (),
    width: int = 900,
    height: int = 320,
    tz: str = "Europe/Amsterdam",
) -> str:
    """Inline SVG (no XML declaration). unit is the y-axis label, e.g. "berichten" or "uur".

    The time axis spans the points; markers outside it are left out, bands clipped to it.
    """
    _check_id(chart_id)
    zone = ZoneInfo(tz)
    kept = [(s, *_finite(s)) for s in series]
    filled = [(s, times, values) for s, times, values in kept if times]
    legend, legend_h = _legend(series, width)
    if not filled:
        desc = f"Lijngrafiek in {unit}: {NO_DATA.lower()}."
        if series:
            desc += f" Reeksen zonder gegevens: {', '.join(s.name for s in series)}."
        top = _PAD + legend_h + 4
        body = [
            f'<rect x="{_PAD}" y="{top}" width="{width - 2 * _PAD}" height="{height - top - _PAD}"'
            f' fill="none" stroke="{AXIS}"/>',
            _text(width / 2, (top + height - _PAD) / 2 + 5, NO_DATA, anchor="middle", size=14),
        ]
        return _svg(chart_id, title, desc, width, height, [*legend, *body])

    first = min(times[0] for _, times, _ in filled)
    last = max(times[-1] for _, times, _ in filled)
    top_v = max(max(values) for _, _, values in filled)
    top_t, owner = min(
        (times[values.index(top_v)], s.name) for s, times, values in filled if top_v in values
    )
    t0, t1 = (first - 86400, last + 86400) if first == last else (first, last)
    low_v = min(min(values) for _, _, values in filled)
    low, high, step, decimals = _nice_scale(min(0.0, low_v), top_v)
    tick_labels = [format_number(low + i * step, decimals) for i in range(_steps(low, high, step))]

    left = max(48.0, max(len(s) for s in tick_labels) * _CHAR + 30)
    right = width - 20.0
    plot_w = right - left

    xk = plot_w / (t1 - t0)
    xo = left - t0 * xk

    def x_of(t: float) -> float:
        return xo + xk * t

    shown = [m for m in sorted(markers, key=lambda m: m.at) if t0 <= m.at.timestamp() <= t1]
    mark_x = [x_of(m.at.timestamp()) for m in shown]
    mark_text = [_clip(m.label, 28) for m in shown]
    spans = [_span(x, s, left, right) for x, s in zip(mark_x, mark_text, strict=True)]
    mark_rows, mark_room = _stack([(a, b) for a, b, _ in spans], 3)
    mark_text = [_fit(text, room) for text, room in zip(mark_text, mark_room, strict=True)]
    label_top = _PAD + legend_h + 4
    plot_top = label_top + (max(mark_rows) + 1) * 14 + 8 if shown else label_top + 8
    bottom = height - 30.0
    plot_h = max(bottom - plot_top, 20.0)

    yk = plot_h / (high - low)
    yo = bottom + low * yk

    def y_of(v: float) -> float:
        return yo - yk * v

    out: list[str] = []
    out.extend(_bands(bands, t0, t1, x_of, plot_top, plot_h))
    for i, label in enumerate(tick_labels):
        y = y_of(low + i * step)
        colour = AXIS if abs(low + i * step) < step / 2 else GRID
        out.append(_hline(left, right, y, colour))
        out.append(_text(left - 6, y + 4, label, anchor="end"))
    mid = (plot_top + bottom) / 2
    out.append(
        f'<text transform="translate(14,{mid:.1f}) rotate(-90)" text-anchor="middle">'
        f"{_esc(unit)}</text>"
    )
    out.append(
        f'<line x1="{left:.1f}" y1="{plot_top:.1f}" x2="{left:.1f}" y2="{bottom:.1f}"'
        f' stroke="{AXIS}"/>'
    )
    for t, label in _time_ticks(t0, t1, zone, plot_w):
        x = x_of(t)
        out.append(
            f'<line x1="{x:.1f}" y1="{bottom:.1f}" x2="{x:.1f}" y2="{bottom + 5:.1f}"'
            f' stroke="{AXIS}"/>'
        )
        out.append(_text(x, bottom + 18, label, anchor="middle"))
    for x, text, row, (_, _, anchor) in zip(mark_x, mark_text, mark_rows, spans, strict=True):
        y = label_top + 11 + row * 14
        out.append(
            f'<line x1="{x:.1f}" y1="{y + 3:.1f}" x2="{x:.1f}" y2="{bottom:.1f}"'
            f' stroke="{MARKER}" stroke-width="1.2" stroke-dasharray="4 3"/>'
        )
        if text:
            out.append(_text(x + 3 if anchor == "start" else x - 3, y, text, anchor=anchor))
    for i, s in enumerate(series):
        out.extend(_line(s, i, (xo, xk, yo, yk)))
    out.extend(legend)

    with_time = not _all_midnight(set().union(*(times for _, times, _ in filled)), zone)
    desc = (
        f"Lijngrafiek in {unit} van {_date(first, tz, with_time)} tot en met "
        f"{_date(last, tz, with_time)}. {'Reeks' if len(series) == 1 else 'Reeksen'}: "
        f"{', '.join(s.name for s in series)}. Hoogste waarde: "
        f"{format_number(top_v, _decimals([top_v]))} {unit} "
        f"({owner}, {_date(top_t, tz, with_time)})."
    )
    if shown:
        desc += (
            " Gebeurtenissen: "
            + "; ".join(f"{m.label} ({_date(m.at.timestamp(), tz, True)})" for m in shown)
            + "."
        )
    drawn = [b for b in bands if _band_range(b, t0, t1) is not None]
    if drawn:
        desc += (
            " Perioden: "
            + "; ".join(
                f"{b.label} vanaf {_date(b.start.timestamp(), tz, True)}"
                + ("" if b.end is None else f" tot {_date(b.end.timestamp(), tz, True)}")
                for b in drawn
            )
            + "."
        )
    return _svg(chart_id, title, desc, width, height, out)


def bar_chart(
    chart_id: str, title: str, bars: Sequence[tuple[str, float]], *, unit: str, width: int = 900
) -> str:
    """Horizontal bars, label left, value at bar end (Dutch number format)."""
    _check_id(chart_id)
    if not bars:
        desc = f"Staafdiagram in {unit}: {NO_DATA.lower()}."
        body = [_text(width / 2, 45, NO_DATA, anchor="middle", size=14)]
        return _svg(chart_id, title, desc, width, 80, body)
    decimals = _decimals([v for _, v in bars])
    values = [format_number(v, decimals) for _, v in bars]
    labels = [_clip(label, max(8, int(width * 0.35 / _CHAR))) for label, _ in bars]
    left = _PAD + max(len(s) for s in labels) * _CHAR + 8
    reserve = max(len(s) for s in values) * _CHAR + 14
    vmax = max((v for _, v in bars if math.isfinite(v)), default=0.0)
    scale = (width - left - reserve - _PAD) / (vmax if vmax > 0 else 1.0)
    row_h, top = 28, _PAD
    height = top + len(bars) * row_h + 26
    out: list[str] = []
    for i, ((_, v), label, value) in enumerate(zip(bars, labels, values, strict=True)):
        y = top + i * row_h
        w = max(v, 0.0) * scale if math.isfinite(v) else 0.0
        if w > 0:
            out.append(
                f'<rect x="{left:.1f}" y="{y + 4}" width="{max(w, 1.0):.1f}" height="20"'
                f' fill="{BAR}"/>'
            )
        out.append(_text(left - 8, y + 18, label, anchor="end"))
        out.append(_text(left + w + 6, y + 18, value))
    end = top + len(bars) * row_h
    out.append(f'<line x1="{left:.1f}" y1="{top}" x2="{left:.1f}" y2="{end}" stroke="{AXIS}"/>')
    out.append(_text(width - _PAD, end + 18, f"in {unit}", anchor="end"))
    listed = "; ".join(f"{label}: {value}" for (label, _), value in zip(bars, values, strict=True))
    desc = (
        f"Staafdiagram in {unit}, {len(bars)} {'staaf' if len(bars) == 1 else 'staven'}. {listed}."
    )
    return _svg(chart_id, title, desc, width, height, out)


def data_table(
    chart_id: str,
    title: str,
    series: Sequence[Series],
    *,
    unit: str,
    tz: str = "Europe/Amsterdam",
    max_rows: int | None = None,
) -> str:
    """An HTML ``<table>`` of the series: a date column (``dd-mm-jjjj``, with ``HH:MM`` when the
    points are not all at local midnight) and one column per series; missing values an en dash.

    With max_rows, evenly spaced rows are kept, always including the first and the last.
    """
    _check_id(chart_id)
    if max_rows is not None and max_rows < 1:
        raise ValueError(f"max_rows must be 1 or more (or None for all rows), not {max_rows}")
    zone = ZoneInfo(tz)
    columns = [dict(zip(s._times, s._values, strict=True)) for s in series]
    moments = sorted({t for column in columns for t in column})
    total = len(moments)
    with_time = not _all_midnight(moments, zone)
    # The unit once: a title that names it already ("Doorlooptijd (uur)") is not given it again.
    caption = title if f"({unit})" in title else f"{title} ({unit})"
    if max_rows is not None and total > max_rows:
        if max_rows == 1:
            moments = [moments[-1]]
        else:
            moments = [moments[i * (total - 1) // (max_rows - 1)] for i in range(max_rows)]
        caption += f"; {max_rows} van {total} rijen, gelijk verdeeld, met de laatste"
    cell = "utrecht-table__cell"
    numeric_head = "utrecht-table__header-cell utrecht-table__header-cell--numeric-column"
    numeric = f"{cell} {cell}--numeric-column {cell}--numeric-data"
    out = [
        f'<table class="rhc-table utrecht-table" id="{chart_id}-table">',
        f'<caption class="utrecht-table__caption">{_esc(caption)}</caption>',
        '<thead class="utrecht-table__header"><tr class="utrecht-table__row">'
        '<th scope="col" class="utrecht-table__header-cell">'
        f"{'Datum en tijd' if with_time else 'Datum'}</th>"
        + "".join(f'<th scope="col" class="{numeric_head}">{_esc(s.name)}</th>' for s in series)
        + "</tr></thead>",
        '<tbody class="utrecht-table__body">',
    ]
    decimals = [_decimals(column.values()) for column in columns]
    for t in moments:
        cells = "".join(
            f'<td class="{numeric}">{format_number(column.get(t, math.nan), d)}</td>'
            for column, d in zip(columns, decimals, strict=True)
        )
        out.append(
            '<tr class="utrecht-table__row"><th scope="row" class="utrecht-table__header-cell">'
            f"{_date(t, tz, with_time)}</th>{cells}</tr>"
        )
    if not moments:
        out.append(
            f'<tr class="utrecht-table__row"><td class="{cell}" colspan="{len(series) + 1}">'
            f"{NO_DATA}</td></tr>"
        )
    out.append("</tbody>\n</table>")
    return "\n".join(out)


# --- helpers ---------------------------------------------------------------------------------


def _esc(text: str) -> str:
    """Text made safe for XML and HTML: markup characters escaped, disallowed ones dropped."""
    return html.escape(_NOT_XML.sub("", text))


def _require_aware(at: datetime, what: str) -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"{what} is a naive datetime ({at}); give it a time zone (e.g. UTC)")
    return at


def _check_id(chart_id: str) -> None:
    if not _ID.match(chart_id):
        raise ValueError(
            f"chart_id {chart_id!r} is not a usable id; use a letter followed by letters, digits,"
            " '-' or '_'"
        )


def _first(point: tuple[float, float]) -> float:
    return point[0]


def _svg(chart_id: str, title: str, desc: str, width: int, height: int, body: list[str]) -> str:
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}"'
        f' viewBox="0 0 {width} {height}" role="img"'
        f' aria-labelledby="{chart_id}-title {chart_id}-desc" font-family="sans-serif"'
        f' font-size="12" fill="{TEXT}">\n'
        f'<title id="{chart_id}-title">{_esc(title)}</title>\n'
        f'<desc id="{chart_id}-desc">{_esc(desc)}</desc>\n'
    )
    return head + "\n".join(body) + "\n</svg>"


def _text(x: float, y: float, text: str, *, anchor: str = "start", size: int = 12) -> str:
    extra = "" if size == 12 else f' font-size="{size}"'
    middle = "" if anchor == "start" else f' text-anchor="{anchor}"'
    return f'<text x="{x:.1f}" y="{y:.1f}"{middle}{extra}>{_esc(text)}</text>'


def _hline(x1: float, x2: float, y: float, colour: str) -> str:
    return f'<line x1="{x1:.1f}" y1="{y:.1f}" x2="{x2:.1f}" y2="{y:.1f}" stroke="{colour}"/>'


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "\u2026"


def _style(index: int) -> tuple[str, str]:
    dash = DASHES[(index + index // len(COLOURS)) % len(DASHES)]
    return COLOURS[index % len(COLOURS)], f' stroke-dasharray="{dash}"' if dash else ""


def _legend(series: Sequence[Series], width: int) -> tuple[list[str], int]:
    out: list[str] = []
    x, row = float(_PAD), 0
    for i, s in enumerate(series):
        name = _clip(s.name, 40)
        item = 34 + len(name) * _CHAR + 18
        if x > _PAD and x + item > width - _PAD:
            x, row = float(_PAD), row + 1
        y = _PAD + 10 + row * 18
        colour, dash = _style(i)
        out.append(
            f'<line x1="{x:.1f}" y1="{y - 4}" x2="{x + 28:.1f}" y2="{y - 4}"'
            f' stroke="{colour}" stroke-width="2.5"{dash}/>'
        )
        out.append(_text(x + 34, y, name))
        x += item
    return out, (row + 1) * 18 if series else 0


def _finite(series: Series) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """The series' times and values without its missing (NaN or infinite) values."""
    if math.isfinite(sum(series._values)):
        return series._times, series._values
    kept = [(t, v) for t, v in zip(series._times, series._values, strict=True) if math.isfinite(v)]
    return tuple(t for t, _ in kept), tuple(v for _, v in kept)


def _line(
    series: Series,
    index: int,
    scale: tuple[float, float, float, float],
) -> list[str]:
    """The series as one path (x = xo + xk * t, y = yo - yk * v), broken where a value is NaN."""
    colour, dash = _style(index)
    xo, xk, yo, yk = scale
    segments: list[list[str]] = []
    points = zip(series._times, series._values, strict=True)
    if math.isfinite(sum(series._values)):
        segments.append([f"{xo + xk * t:.1f},{yo - yk * v:.1f}" for t, v in points])
    else:
        current: list[str] = []
        for t, v in points:
            if math.isfinite(v):
                current.append(f"{xo + xk * t:.1f},{yo - yk * v:.1f}")
            elif current:
                segments.append(current)
                current = []
        segments.append(current)
    segments = [segment for segment in segments if segment]
    if not segments:
        return []
    d = "".join("M" + "L".join(segment) for segment in segments)
    out = [
        f'<path d="{d}" data-series="{_esc(series.name)}" fill="none" stroke="{colour}"'
        f' stroke-width="2" stroke-linejoin="round"{dash}/>'
    ]
    for segment in segments:
        if len(segment) == 1:  # a lone point draws no line: show it as a dot
            cx, cy = segment[0].split(",")
            out.append(f'<circle cx="{cx}" cy="{cy}" r="3" fill="{colour}"/>')
    return out


def _band_range(band: Band, t0: float, t1: float) -> tuple[float, float] | None:
    start = band.start.timestamp()
    end = t1 if band.end is None else band.end.timestamp()
    if end < t0 or start > t1:
        return None
    return max(start, t0), min(end, t1)


def _bands(
    bands: Sequence[Band], t0: float, t1: float, x_of: _Scale, top: float, height: float
) -> list[str]:
    out: list[str] = []
    labels: list[tuple[float, float, str]] = []
    for band in bands:
        clipped = _band_range(band, t0, t1)
        if clipped is None:
            continue
        x0, x1 = x_of(clipped[0]), x_of(clipped[1])
        w = max(x1 - x0, 2.0)
        out.append(
            f'<rect x="{x0:.1f}" y="{top:.1f}" width="{w:.1f}" height="{height:.1f}"'
            f' fill="{BAND}" fill-opacity="0.12"/>'
        )
        fits = int((w - 8) / _CHAR)
        if fits >= 4:
            text = _clip(band.label, fits)
            labels.append((x0 + 4, x0 + 4 + len(text) * _CHAR, text))
    labels.sort()
    rows, room = _stack([(a, b) for a, b, _ in labels], 2)
    for (x, _, label), row, space in zip(labels, rows, room, strict=True):
        if text := _fit(label, space):
            out.append(_text(x, top + 13 + row * 14, text))
    return out


def _span(x: float, text: str, left: float, right: float) -> tuple[float, float, str]:
    """Where a marker's label goes: right of its line, or left of it near the right edge."""
    w = len(text) * _CHAR
    if x + 3 + w <= right + 16 or x - 3 - w < left:
        return x + 3, x + 3 + w, "start"
    return x - 3 - w, x - 3, "end"


def _stack(spans: list[tuple[float, float]], max_rows: int) -> tuple[list[int], list[float]]:
    """Rows for labels, left to right, so that they do not overlap, and each label's room.

    When all max_rows rows are taken, a label goes to the row that frees up first and the label
    before it in that row gets less room, so that it ends before this one.
    """
    ends: list[float] = []
    last: list[int] = []  # the last label in each row
    rows: list[int] = []
    room = [b - a for a, b in spans]
    for i, (a, b) in enumerate(spans):
        row = next((r for r, end in enumerate(ends) if end + 6 <= a), None)
        if row is None and len(ends) < max_rows:
            row = len(ends)
            ends.append(b)
            last.append(i)
        elif row is None:
            row = min(range(len(ends)), key=ends.__getitem__)
            before = last[row]
            room[before] = min(room[before], a - 6 - spans[before][0])
        ends[row], last[row] = b, i
        rows.append(row)
    return rows, room


def _fit(text: str, room: float) -> str:
    """The text shortened to its room; empty when not even a few characters fit."""
    chars = int(room / _CHAR + 0.01)
    if chars >= len(text):
        return text
    return _clip(text, chars) if chars >= 4 else ""


def _steps(low: float, high: float, step: float) -> int:
    return round((high - low) / step) + 1


def _nice_scale(low: float, high: float) -> tuple[float, float, float, int]:
    """(bottom, top, step, decimals) of a y axis with 4 to 6 intervals around low..high."""
    if not high - low > 1e-9:  # flat, or too small a spread to scale: show 0 to 5
        high = low + 5
    exponent = math.floor(math.log10((high - low) / 6))
    for e in (exponent, exponent + 1, exponent + 2):
        for m in (1.0, 2.0, 2.5, 5.0):
            step = m * 10.0**e
            bottom = math.floor(low / step + 1e-9)
            top = math.ceil(high / step - 1e-9)
            if top - bottom <= 6:
                decimals = max(0, -e + (1 if m == 2.5 else 0))
                return bottom * step, top * step, step, decimals
    raise AssertionError("unreachable: a step of 10 ** (exponent + 2) always fits")


def _decimals(values: Iterable[float]) -> int:
    finite = [v for v in values if math.isfinite(v)]
    if all(v == int(v) for v in finite):
        return 0
    return 1 if max(abs(v) for v in finite) >= 1 else 2


def _date(t: float, tz: str, with_time: bool) -> str:
    return format_date(datetime.fromtimestamp(t, ZoneInfo(tz)), tz, with_time=with_time)


def _all_midnight(moments: Iterable[float], zone: ZoneInfo) -> bool:
    for t in moments:
        local = datetime.fromtimestamp(t, zone)
        if local.hour or local.minute or local.second or local.microsecond:
            return False
    return True


def _midnight(day: date, zone: ZoneInfo) -> float:
    return datetime.combine(day, time(), tzinfo=zone).timestamp()


_UNITS = (
    [("hour", n, 3600 * n) for n in (1, 2, 3, 6, 12)]
    + [("day", n, 86400 * n) for n in (1, 2)]
    + [("week", n, 604800 * n) for n in (1, 2)]
    + [("month", n, 2629746 * n) for n in (1, 3, 6)]
    + [("year", n, 31556952 * n) for n in (1, 2, 5, 10, 25, 50, 100)]
)


def _label_width(kind: str) -> float:
    return (8 if kind == "month" else 6) * _CHAR + 14


def _time_ticks(t0: float, t1: float, zone: ZoneInfo, plot_w: float) -> list[tuple[float, str]]:
    """Ticks at local hour, day, Monday, month or year boundaries, as many as fit plot_w."""
    kind, n, _ = next(
        (u for u in _UNITS if ((t1 - t0) / u[2] + 1) * _label_width(u[0]) <= plot_w), _UNITS[-1]
    )
    ticks: list[tuple[float, str]] = []
    if kind == "hour":
        t = math.ceil(t0 / 3600) * 3600.0
        while t <= t1:
            local = datetime.fromtimestamp(t, zone)
            if local.minute == 0 and local.hour % n == 0:
                label = (
                    f"{local.day} {MONTHS[local.month - 1]}"
                    if local.hour == 0
                    else (f"{local.hour:02d}:00")
                )
                ticks.append((t, label))
            t += 3600
        return ticks
    day = datetime.fromtimestamp(t0, zone).date()
    if _midnight(day, zone) < t0:
        day += timedelta(days=1)
    if kind in ("day", "week"):
        if kind == "week":
            day += timedelta(days=-day.weekday() % 7)
        stride = 7 if kind == "week" else 1
        while (t := _midnight(day, zone)) <= t1:
            if (day.toordinal() // stride) % n == 0:
                ticks.append((t, f"{day.day} {MONTHS[day.month - 1]}"))
            day += timedelta(days=stride)
        return ticks
    if kind == "year":
        year = day.year if (day.month, day.day) == (1, 1) else day.year + 1
        year += -year % n
        while (t := _midnight(date(year, 1, 1), zone)) <= t1:
            ticks.append((t, str(year)))
            year += n
        return ticks
    year, month = day.year, day.month
    if day.day != 1:
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    while (t := _midnight(date(year, month, 1), zone)) <= t1:
        if (year * 12 + month - 1) % n == 0:
            ticks.append((t, f"{MONTHS[month - 1]} {year}"))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return ticks
