"""The charts of the picture's pages, each with its table (decision 0013). Dutch labels."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from ketenherstel.picture.charts import Band, Marker, Series, data_table, line_chart
from ketenherstel.picture.db import Bottleneck
from ketenherstel.picture.matrix import Event
from ketenherstel.picture.series import TZ, View
from ketenherstel.picture.service import CONTACT_CHANNELS, METRICS, Picture, series_key

__all__ = [
    "Chart",
    "bottleneck_chart",
    "overview_charts",
    "reachability",
    "registry_charts",
    "selection_charts",
]

_TABLE_ROWS = 40


@dataclass(frozen=True, slots=True)
class Chart:
    id: str
    title: str
    svg: str
    table: str


def _chart(
    chart_id: str,
    title: str,
    series: Sequence[Series],
    unit: str,
    markers: Sequence[Marker] = (),
    bands: Sequence[Band] = (),
) -> Chart:
    return Chart(
        chart_id,
        title,
        line_chart(chart_id, title, series, unit=unit, markers=markers, bands=bands),
        data_table(chart_id, title, series, unit=unit, max_rows=_TABLE_ROWS),
    )


def markers(events: Sequence[Event]) -> list[Marker]:
    return [
        Marker(datetime.fromtimestamp(e.at, TZ), e.label)
        for e in events
        if e.kind in ("partner", "wave", "route", "status")
    ]


def _series(name: str, view: View, values: Sequence[float | None]) -> Series:
    return Series(
        name,
        tuple((s, float(v)) for s, v in zip(view.starts(), values, strict=True) if v is not None),
    )


def overview_charts(picture: Picture) -> list[Chart]:
    snap = picture.snapshot()
    marks = markers(picture.events())
    per_receiver = []
    for partner in sorted({r for _, r, _ in snap.per_key}):
        v = snap.view("receiver", partner)
        if v.peak:
            per_receiver.append(
                (v.peak, _series(picture.partner_names.get(partner, partner), v, v.backlog))
            )
    per_receiver.sort(key=lambda item: -item[0])
    total = snap.view("all")
    return [
        _chart(
            "voorraad",
            "Voorraad per ontvangende partner aan het einde van elke dag",
            [s for _, s in per_receiver[:8]],
            "berichten",
            marks,
        ),
        _chart(
            "stroom",
            "Instroom en uitstroom per dag, hele keten",
            [
                _series("instroom", total, total.inflow),
                _series("uitstroom", total, total.outflow),
            ],
            "berichten",
            marks,
        ),
        _chart(
            "doorlooptijd",
            "Doorlooptijd van afgeleverde berichten, hele keten",
            [
                _series("mediaan", total, total.lead_median),
                _series("90e percentiel", total, total.lead_p90),
            ],
            "uur",
            marks,
        ),
    ]


def selection_charts(picture: Picture, view: View, heading: str) -> list[Chart]:
    marks = markers(picture.events())
    return [
        _chart(
            "voorraad",
            f"Voorraad: {heading}",
            [_series("voorraad", view, view.backlog)],
            "berichten",
            marks,
        ),
        _chart(
            "stroom",
            f"Instroom en uitstroom per dag: {heading}",
            [_series("instroom", view, view.inflow), _series("uitstroom", view, view.outflow)],
            "berichten",
            marks,
        ),
        _chart(
            "doorlooptijd",
            f"Doorlooptijd: {heading}",
            [
                _series("mediaan", view, view.lead_median),
                _series("90e percentiel", view, view.lead_p90),
            ],
            "uur",
            marks,
        ),
        _chart(
            "oudste",
            f"Oudste wachtende bericht aan het einde van de dag: {heading}",
            [_series("oudste wachtende", view, view.oldest_hours)],
            "uur",
            marks,
        ),
        _chart(
            "termijnen",
            f"Wettelijke termijnen overschreden per dag: {heading}",
            [_series("overschreden", view, view.missed)],
            "berichten",
            marks,
        ),
    ]


def bottleneck_chart(picture: Picture, b: Bottleneck, heading: str) -> Chart | None:
    snap = picture.snapshot()
    try:
        view = snap.view(b.series_kind, series_key(b))
    except ValueError:
        return None
    metric = b.series_key.rpartition("#")[2] or "backlog"
    values = picture.metric(view, metric, b.partner)
    band = Band(
        datetime.fromtimestamp(b.started_at, TZ),
        datetime.fromtimestamp(b.ended_at, TZ) if b.ended_at else None,
        f"knelpunt: {b.title}",
    )
    agreement_marks = [
        Marker(datetime.fromtimestamp(a.starts_at, TZ), f"afspraak {a.id}")
        for a in picture.db.agreements(b.id)
    ]
    label = METRICS.get(metric, metric)
    return _chart(
        "knelpunt",
        f"{label}: {heading}",
        [_series(label, view, values)],
        "uur" if metric in ("lead", "oldest") else "aantal",
        agreement_marks,
        [band],
    )


@dataclass(frozen=True, slots=True)
class ReachRow:
    partner: str
    channel: str
    received: int
    answered: int
    pct: float | None
    median: float | None


def reachability(picture: Picture) -> tuple[list[Chart], list[ReachRow]]:
    contacts = picture.contacts()
    if not contacts:
        return [], []
    days_all = sorted({datetime.fromtimestamp(c.received_at, TZ).date() for c in contacts})
    first, last = days_all[0], days_all[-1]
    days = [date.fromordinal(o) for o in range(first.toordinal(), last.toordinal() + 1)]
    starts = [datetime(d.year, d.month, d.day, tzinfo=TZ) for d in days]
    rows: list[ReachRow] = []
    series: list[Series] = []
    for partner in sorted({c.partner for c in contacts}):
        for channel in sorted({c.channel for c in contacts if c.partner == partner}):
            per_day = picture.reachability(partner, days, channel, contacts)
            name = (
                f"{picture.partner_names.get(partner, partner)}, "
                f"{CONTACT_CHANNELS.get(channel, channel).lower()}"
            )
            series.append(
                Series(
                    f"{name}: beantwoord %",
                    tuple(
                        (s, 100.0 * a / r)
                        for s, (_, r, a, _) in zip(starts, per_day, strict=True)
                        if r
                    ),
                )
            )
            received = sum(r for _, r, _, _ in per_day)
            answered = sum(a for _, _, a, _ in per_day)
            waits = sorted(
                (c.answered_at - c.received_at) / 3600
                for c in contacts
                if c.partner == partner and c.channel == channel and c.answered_at is not None
            )
            rows.append(
                ReachRow(
                    picture.partner_names.get(partner, partner),
                    CONTACT_CHANNELS.get(channel, channel),
                    received,
                    answered,
                    100.0 * answered / received if received else None,
                    waits[len(waits) // 2] if waits else None,
                )
            )
    chart = _chart(
        "bereikbaarheid",
        "Beantwoorde contacten per dag (%)",
        series[:8],
        "procent",
        markers(picture.events()),
    )
    return [chart], rows


def registry_charts(picture: Picture, history: Sequence[tuple[float, str]]) -> list[Chart]:
    """The registry's freshness over time, from what it said in its answers: per source, the
    messages still waiting for it, and how far behind its complete-up-to time was."""
    if not history:
        return []
    waiting: dict[str, list[tuple[datetime, float]]] = {}
    behind: dict[str, list[tuple[datetime, float]]] = {}
    for as_of, body in history:
        at = datetime.fromtimestamp(as_of, TZ)
        day = datetime(at.year, at.month, at.day, tzinfo=TZ)
        for source in json.loads(body).get("sources", []):
            name = str(source.get("name") or source.get("partner"))
            waiting.setdefault(name, []).append((day, float(source.get("waiting") or 0)))
            upto = source.get("completeUpTo")
            if upto:
                lag = (as_of - datetime.fromisoformat(upto).timestamp()) / 3600
                behind.setdefault(name, []).append((day, max(0.0, lag)))
    marks = markers(picture.events())

    def top(series: dict[str, list[tuple[datetime, float]]]) -> list[Series]:
        ranked = sorted(series.items(), key=lambda item: -max(v for _, v in item[1]))
        return [Series(name, tuple(points)) for name, points in ranked[:6]]

    return [
        _chart(
            "register-wachtend",
            "Berichten die wachten op het documentatieregister, per bron",
            top(waiting),
            "berichten",
            marks,
        ),
        _chart(
            "register-achterstand",
            'Hoe ver het register achterliep: tijd sinds "volledig tot", per bron',
            top(behind),
            "uur",
            marks,
        ),
    ]
