"""The briefing (decision 0013): a ministry memo made from the picture as of a reference date.

:func:`figures` freezes every figure at the reference date into a JSON-able dict that names its
source; :func:`render` turns it into HTML, once for internal use and once as the publication
version (Woo), where every name and other personal data is replaced by a marked redaction with
its legal ground and the section that may not be made public is withheld whole. The briefing
never prints an official's name: people appear by role.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from importlib import resources
from typing import Any

import jinja2

from ketenherstel.picture.charts import (
    Band,
    Marker,
    Series,
    data_table,
    format_date,
    format_number,
    line_chart,
)
from ketenherstel.picture.matrix import HAND_CHANNELS, STATES, Event, Matrix
from ketenherstel.picture.series import TZ, Snapshot, View
from ketenherstel.picture.service import (
    CATEGORIES,
    METRICS,
    SEVERITIES,
    Picture,
    names_pattern,
    series_key,
)

__all__ = [
    "GROUND_NAMES",
    "GROUND_SECURITY",
    "Extras",
    "figures",
    "pdf",
    "render",
    "scrub",
]

GROUND_NAMES = "art. 5.1, tweede lid, onder e, Woo (eerbiediging van de persoonlijke levenssfeer)"
GROUND_SECURITY = "art. 5.1, tweede lid, onder i, Woo (het goed functioneren van de Staat)"
NAME_MARK = "\u27e6naam\u27e7"


@dataclass(frozen=True, slots=True)
class Extras:
    """What the briefing takes from the other capabilities, each with its own as-of time and
    source; the caller (web or CLI) gathers them."""

    registry_lines: tuple[str, ...] = ()
    registry_source: str = ""
    rescreen: Mapping[str, int] = field(default_factory=dict)
    reconciliation_html: str = ""
    reconciliation_source: str = ""
    gateway_html: str = ""
    gateway_source: str = ""
    not_frozen: Mapping[str, str] = field(default_factory=dict)
    """Per section (``herscreening``, ``afstemming``, ``voorportaal``) that is not kept as of
    a date, a Dutch sentence saying as of when it is instead."""


def _day_index(view: View, day: date) -> int:
    last = -1
    for i, d in enumerate(view.days):
        if d <= day:
            last = i
    return last


def _cut(values: Sequence[Any], i: int) -> list[Any]:
    return list(values[: i + 1]) if i >= 0 else []


def figures(
    picture: Picture, reference: date, extras: Extras, *, previous: Mapping[str, Any] | None
) -> dict[str, Any]:
    """Every figure of the briefing frozen at the end of ``reference`` (Europe/Amsterdam)."""
    snap = picture.snapshot()
    total = snap.view("all")
    i = _day_index(total, reference)
    ref_end = datetime.combine(reference, time(23, 59, 59), TZ).timestamp()
    levels = _cut(total.backlog, i)
    peak = max(levels, default=0)
    per_receiver = []
    for partner in sorted({r for _, r, _ in snap.per_key}):
        v = snap.view("receiver", partner)
        b = _cut(v.backlog, i)
        per_receiver.append(
            {
                "partner": partner,
                "naam": picture.partner_names.get(partner, partner),
                "voorraad": b[-1] if b else 0,
                "piek": max(b, default=0),
                "oudsteUur": _cut(v.oldest_hours, i)[-1] if b else None,
                "termijnenGemist": sum(_cut(v.missed, i)),
            }
        )
    week = [x for x in _cut(total.lead_median, i)[-7:] if x is not None]
    matrix = picture.matrix()
    cells = _matrix_at(matrix, ref_end, picture.partner_names)
    bottlenecks = []
    for bn in picture.db.bottlenecks():
        if bn.started_at > ref_end:
            continue
        agreements = []
        for a in picture.db.agreements(bn.id):
            if a.starts_at > ref_end:
                continue
            effect = picture.effect(bn, a, until=reference)
            agreements.append(
                {
                    "afspraak": a.text,
                    "eigenaar": a.owner_role,
                    "ingang": format_date(datetime.fromtimestamp(a.starts_at, TZ)),
                    "verwachtEffect": a.expected_effect,
                    "gemetenEffect": effect.text(),
                    "voor": effect.before,
                    "na": effect.after,
                    "restrisico": a.residual_risk,
                    "risicoAanvaardDoor": a.risk_accepted_role,
                    "risicoTot": (
                        format_date(datetime.fromtimestamp(a.risk_accepted_until, TZ))
                        if a.risk_accepted_until is not None
                        else None
                    ),
                }
            )
        bottlenecks.append(
            {
                "id": bn.id,
                "titel": bn.title,
                "categorie": CATEGORIES.get(bn.category, bn.category),
                "ernst": SEVERITIES.get(bn.severity, bn.severity),
                "partner": picture.partner_names.get(bn.partner, bn.partner),
                "omschrijving": bn.description,
                "reeks": _mid_sentence(picture.series_heading(bn.series_kind, series_key(bn))),
                "maat": METRICS.get(bn.series_key.rpartition("#")[2], ""),
                "sinds": format_date(datetime.fromtimestamp(bn.started_at, TZ)),
                "opgelost": bn.ended_at is not None and bn.ended_at <= ref_end,
                "werkafspraken": agreements,
            }
        )
    out: dict[str, Any] = {
        "peildatum": reference.isoformat(),
        "standVan": snap.as_of,
        "peilmoment": (
            format_date(datetime.fromtimestamp(snap.as_of, TZ), with_time=True)
            if snap.as_of < ref_end
            else None
        ),
        "aanleiding": _occasion(picture, ref_end),
        "bron": {
            "reeksen": f"uitwisseling: {format_number(snap.rows)} afleveringen, stand "
            f"{format_date(datetime.fromtimestamp(snap.as_of, TZ), with_time=True)}",
            "register": extras.registry_source,
            "afstemming": extras.reconciliation_source,
            "voorportaal": extras.gateway_source,
        },
        "kerncijfers": {
            "voorraad": levels[-1] if levels else 0,
            "piek": peak,
            "piekDatum": (total.days[levels.index(peak)].isoformat() if peak and levels else None),
            "ontvangen": sum(_cut(total.inflow, i)),
            "afgeleverd": sum(_cut(total.outflow, i)),
            "termijnenGemist": sum(_cut(total.missed, i)),
            "doorlooptijdMediaanUur": sum(week) / len(week) if week else None,
            "oudsteWachtendeUur": _cut(total.oldest_hours, i)[-1] if levels else None,
        },
        "perPartner": per_receiver,
        "matrix": cells,
        "knelpunten": bottlenecks,
        "register": list(extras.registry_lines),
        "herscreening": dict(extras.rescreen),
        "nietBevroren": dict(extras.not_frozen),
    }
    out["wijzigingen"] = _changes(previous, out)
    return out


def _mid_sentence(heading: str) -> str:
    """A series' heading after a colon: its kind in lower case (``kanaal Openbaar Ministerie →
    …``), the names as they are."""
    return heading[:1].lower() + heading[1:]


def _occasion(picture: Picture, until: float) -> str:
    """Which partners were cut off from the exchange, from when and until when (by then)."""
    parts = []
    events = sorted(
        picture.store.partner_events(partner=None, limit=100_000), key=lambda e: e.changed_at
    )
    for partner in sorted({e.partner for e in events}):
        mine = [e for e in events if e.partner == partner and e.changed_at <= until]
        cut = [e for e in mine if e.state == "isolated"]
        if not cut:
            continue
        name = picture.partner_names.get(partner, partner)
        since = format_date(datetime.fromtimestamp(cut[0].changed_at, TZ), with_time=True)
        back = [e for e in mine if e.state == "online" and e.changed_at > cut[0].changed_at]
        if back:
            again = format_date(datetime.fromtimestamp(back[0].changed_at, TZ), with_time=True)
            parts.append(f"{name} was van {since} tot {again} afgesloten van de uitwisseling.")
        else:
            parts.append(f"{name} is sinds {since} afgesloten van de uitwisseling.")
    return " ".join(parts)


def _matrix_at(matrix: Matrix, at: float, names: Mapping[str, str]) -> list[dict[str, Any]]:
    """Each cell's state at ``at``, replaying the changes (the newest first in the matrix);
    each partner by its name, as everywhere else in the briefing."""
    state: dict[tuple[str, str], tuple[str, str]] = {}
    for c in sorted(matrix.changes, key=lambda c: c.at):
        if c.at <= at:
            state[(c.partner, c.channel)] = (c.state, c.reason)
    rows = []
    for cell in matrix.cells:
        s, reason = state.get((cell.partner, cell.channel), ("normal", ""))
        if cell.hand_set and (cell.partner, cell.channel) not in state:
            continue
        rows.append(
            {
                "partner": cell.partner,
                "naam": names.get(cell.partner, cell.partner),
                "kanaal": cell.label,
                "status": s,
                "statusTekst": STATES.get(s, s),
                "reden": reason,
            }
        )
    return rows


_FIGURE_LABELS = {
    "voorraad": "Voorraad (berichten)",
    "piek": "Hoogste voorraad tot dan",
    "ontvangen": "Ontvangen",
    "afgeleverd": "Afgeleverd",
    "termijnenGemist": "Wettelijke termijnen overschreden",
    "doorlooptijdMediaanUur": "Doorlooptijd, mediaan (uur)",
    "oudsteWachtendeUur": "Oudste wachtende (uur)",
}


def _fmt(value: Any) -> str:
    if value is None:
        return "\u2013"
    if isinstance(value, int):
        return format_number(float(value))
    if isinstance(value, float):
        return format_number(value, 1)
    return str(value)


def _changes(previous: Mapping[str, Any] | None, now: Mapping[str, Any]) -> list[dict[str, Any]]:
    """What differs from the previous briefing: key figures, new bottlenecks, and the matrix
    cells that changed state, counted per change (the partners named)."""
    if not previous:
        return []
    out: list[dict[str, Any]] = []
    before, after = previous.get("kerncijfers", {}), now["kerncijfers"]
    for key, label in _FIGURE_LABELS.items():
        old, value = before.get(key), after.get(key)
        if old != value:
            out.append({"cijfer": label, "was": _fmt(old), "nu": _fmt(value)})
    old_b = {b["titel"] for b in previous.get("knelpunten", [])}
    for b in now["knelpunten"]:
        if b["titel"] not in old_b:
            out.append({"cijfer": "Nieuw knelpunt", "was": "\u2013", "nu": b["titel"]})
    old_m = {(c["partner"], c["kanaal"]): c["status"] for c in previous.get("matrix", [])}
    moved: dict[tuple[str, str], list[str]] = {}
    for c in now["matrix"]:
        was = old_m.get((c["partner"], c["kanaal"]))
        if was is not None and was != c["status"]:
            moved.setdefault((was, c["status"]), []).append(c.get("naam") or c["partner"])
    for (was, state), partners in sorted(moved.items()):
        names = ", ".join(sorted(set(partners)))
        out.append(
            {
                "cijfer": f"Kanalen in de herstelmatrix ({len(partners)}; {names})",
                "was": STATES.get(was, was),
                "nu": STATES.get(state, state),
            }
        )
    return out


def scrub(text: str, names: Iterable[str], mark: str = NAME_MARK) -> str:
    """Every whole-word occurrence of a known name replaced by ``mark``."""
    pattern = names_pattern(names)
    return text if pattern is None else pattern.sub(mark, text)


def _charts(
    picture: Picture, reference: date, events: Sequence[Event], names: Sequence[str]
) -> list[dict[str, str]]:
    """The briefing's two charts with their tables; labels typed by people are scrubbed of
    known names (the mark becomes a redaction in the publication version)."""
    snap: Snapshot = picture.snapshot()
    ref_end = datetime.combine(reference, time(23, 59, 59), TZ)
    markers = [
        Marker(datetime.fromtimestamp(e.at, TZ), e.label)
        for e in events
        if e.kind in ("partner", "wave", "route", "status") and e.at <= ref_end.timestamp()
    ]
    receivers = sorted({r for _, r, _ in snap.per_key})
    series = []
    for partner in receivers:
        v = snap.view("receiver", partner)
        i = _day_index(v, reference)
        pts = tuple(
            (s, float(b)) for s, b in zip(v.starts()[: i + 1], v.backlog[: i + 1], strict=True)
        )
        if any(b for _, b in pts):
            series.append(Series(picture.partner_names.get(partner, partner), pts))
    series.sort(key=lambda s: -max((b for _, b in s.points), default=0))
    series = series[:6]
    total = snap.view("all")
    i = _day_index(total, reference)
    starts = total.starts()[: i + 1]
    lead = [
        Series(
            "mediaan",
            tuple((s, v) for s, v in zip(starts, total.lead_median[: i + 1], strict=True) if v),
        ),
        Series(
            "90e percentiel",
            tuple((s, v) for s, v in zip(starts, total.lead_p90[: i + 1], strict=True) if v),
        ),
    ]
    bands = [
        Band(
            datetime.fromtimestamp(b.started_at, TZ),
            datetime.fromtimestamp(b.ended_at, TZ) if b.ended_at else None,
            scrub(b.title, names, mark="[gelakt]"),
        )
        for b in picture.db.bottlenecks()
        if b.started_at <= ref_end.timestamp()
    ]
    return [
        {
            "svg": line_chart(
                "b-voorraad",
                "Voorraad per ontvangende partner (einde dag)",
                series,
                unit="berichten",
                markers=markers,
            ),
            "table": data_table(
                "b-voorraad",
                "Voorraad per ontvangende partner",
                series,
                unit="berichten",
                max_rows=20,
            ),
        },
        {
            "svg": line_chart(
                "b-doorlooptijd",
                "Doorlooptijd van afgeleverde berichten (uur)",
                lead,
                unit="uur",
                markers=markers,
                bands=bands,
            ),
            "table": data_table(
                "b-doorlooptijd",
                "Doorlooptijd van afgeleverde berichten",
                lead,
                unit="uur",
                max_rows=20,
            ),
        },
    ]


def _env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FunctionLoader(_load),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["getal"] = lambda v, d=0: "\u2013" if v is None else format_number(float(v), d)
    env.filters["datum"] = lambda v: (
        "\u2013" if not v else format_date(datetime.combine(date.fromisoformat(v), time(12), TZ))
    )
    return env


def _load(name: str) -> str:
    return resources.files("ketenherstel.picture").joinpath("templates", name).read_text("utf-8")


_ENV: jinja2.Environment | None = None


def render(
    picture: Picture,
    data: Mapping[str, Any],
    extras: Extras,
    *,
    names: Iterable[str],
    public: bool,
    state: str = "concept",
    number: int | None = None,
) -> str:
    """The briefing as one self-contained HTML document (inline CSS and SVG, no links out)."""
    global _ENV
    if _ENV is None:
        _ENV = _env()
    reference = date.fromisoformat(data["peildatum"])
    names = list(names)
    charts = _charts(picture, reference, picture.events(), names)
    data = _scrub_all(data, names)
    extras = Extras(
        registry_lines=tuple(scrub(x, names) for x in extras.registry_lines),
        registry_source=extras.registry_source,
        rescreen=extras.rescreen,
        reconciliation_html=scrub(extras.reconciliation_html, names),
        reconciliation_source=extras.reconciliation_source,
        gateway_html=scrub(extras.gateway_html, names),
        gateway_source=extras.gateway_source,
        not_frozen=extras.not_frozen,
    )
    html = _ENV.get_template("briefing.html").render(
        f=data,
        charts=charts,
        extras=extras,
        public=public,
        state=state,
        number=number,
        hand_channels=HAND_CHANNELS,
        # What is not as of the reference date, each saying as of when (the gateway's section
        # is withheld from the publication version, so its note is too).
        notes=[
            text
            for section, text in data.get("nietBevroren", {}).items()
            if not (public and section == "voorportaal")
        ],
        states=STATES,
        ground_names=GROUND_NAMES,
        ground_security=GROUND_SECURITY,
        name_mark=NAME_MARK,
    )
    if public:
        return html.replace(NAME_MARK, f'<span class="lak">[gelakt: {GROUND_NAMES}]</span>')
    return html.replace(NAME_MARK, "[naam]")


def _scrub_all(value: Any, names: Sequence[str]) -> Any:
    if isinstance(value, str):
        return scrub(value, names)
    if isinstance(value, Mapping):
        return {k: _scrub_all(v, names) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub_all(v, names) for v in value]
    return value


def pdf(html: str) -> bytes:
    """The HTML as PDF (WeasyPrint; fonts and SVG rendered locally, nothing fetched)."""
    import weasyprint

    def no_fetch(url: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
        raise ValueError(f"the briefing fetches nothing: {url}")

    return bytes(weasyprint.HTML(string=html, url_fetcher=no_fetch).write_pdf())
