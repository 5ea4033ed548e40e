"""A reconciliation report: its figures as JSON and a short Dutch HTML section for the
briefing (decision 0011). No person's data is in either: keys, types and counts only."""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from ketenherstel.reconcile._pair import PairFigures

__all__ = ["Report", "pair_totals", "render_html"]

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
_JSON = {
    "keys-a": "keysFrom",
    "keys-b": "keysTo",
    "matched": "matched",
    "bkey-a": "matchedByBusinessKeyFrom",
    "bkey-b": "matchedByBusinessKeyTo",
    "missing-a": "missingAtFrom",
    "missing-b": "missingAtTo",
    "conflicting": "conflicting",
    "late": "late",
    "duplicate-a": "duplicateFrom",
    "duplicate-b": "duplicateTo",
    "duplicate-bkey-a": "duplicateBusinessKeyFrom",
    "duplicate-bkey-b": "duplicateBusinessKeyTo",
    "unkeyed-a": "unkeyedFrom",
    "unkeyed-b": "unkeyedTo",
    "beyond-a": "onlyInToBeyondPartialFrom",
    "beyond-b": "onlyInFromBeyondPartialTo",
    "confirmed": "confirmedByHighWaterMark",
}
_CLASSES = tuple(_JSON)  # every class a pair counts, in the summary's order


_DUPLICATES = ("duplicate-a", "duplicate-b", "duplicate-bkey-a", "duplicate-bkey-b")


def pair_totals(pair: PairFigures) -> dict[str, int]:
    """Every class summed over the types, plus what the rows hold beyond keys, copies and
    unkeyed rows (a message fanned out to several receivers; zero otherwise)."""
    totals = {c: pair.total(c) for c in _CLASSES}
    totals["fanout-a"] = (
        pair.rows_a - totals["keys-a"] - totals["duplicate-a"] - totals["unkeyed-a"]
    )
    totals["fanout-b"] = (
        pair.rows_b - totals["keys-b"] - totals["duplicate-b"] - totals["unkeyed-b"]
    )
    return totals


def _pair_json(pair: PairFigures, live: dict[str, bool]) -> dict[str, Any]:
    totals = pair_totals(pair)
    return {
        "from": pair.a,
        "to": pair.b,
        "fromLive": live.get(pair.a, False),
        "toLive": live.get(pair.b, False),
        "matchOn": pair.match_on,
        "rowsFrom": pair.rows_a,
        "rowsTo": pair.rows_b,
        "totals": {_JSON[c]: totals[c] for c in _CLASSES}
        | {"fanOutFrom": totals["fanout-a"], "fanOutTo": totals["fanout-b"]},
        "perType": {
            t: {_JSON[c]: counts.get(c, 0) for c in _CLASSES}
            for t, counts in sorted(pair.per_type.items())
        },
        "highWaterMark": {
            "cleanGroups": pair.clean_groups,
            "dirtyGroups": pair.dirty_groups,
            "note": pair.hwm_note,
            "groups": pair.hwm,
        },
        "comparedRows": pair.compared_rows,
    }


@dataclass(slots=True)
class Report:
    id: str
    created_at: float
    hops: list[dict[str, Any]]
    pairs: list[PairFigures]
    detail_rows: int
    requests: int
    limits: dict[str, float]
    path: Path | None = field(default=None)

    @property
    def missing(self) -> int:
        return sum(p.total("missing-a") + p.total("missing-b") for p in self.pairs)

    def to_json(self) -> dict[str, Any]:
        live = {h["name"]: bool(h["live"]) for h in self.hops}
        return {
            "id": self.id,
            "createdAt": datetime.fromtimestamp(self.created_at, AMSTERDAM).isoformat(),
            "hops": self.hops,
            "pairs": [_pair_json(p, live) for p in self.pairs],
            "missing": self.missing,
            "detailRows": self.detail_rows,
            "requests": self.requests,
            "limits": self.limits,
        }


def _n(value: int) -> str:
    return f"{value:,}".replace(",", ".")


def render_html(report: Report) -> str:
    """A section for the briefing, in Dutch."""
    at = datetime.fromtimestamp(report.created_at, AMSTERDAM).strftime("%d-%m-%Y %H:%M")
    rows = []
    for pair in report.pairs:
        t = pair_totals(pair)
        if pair.clean_groups and not pair.dirty_groups:
            hwm = f"schoon ({_n(pair.clean_groups)} groepen)"
        elif pair.dirty_groups:
            groups = _n(pair.clean_groups + pair.dirty_groups)
            hwm = f"{_n(pair.dirty_groups)} van {groups} groepen afwijkend"
        else:
            hwm = pair.hwm_note or "—"
        missing = []
        if t["missing-b"]:
            missing.append(f"{_n(t['missing-b'])} bij {_hop(pair.b)}")
        if t["missing-a"]:
            missing.append(f"{_n(t['missing-a'])} bij {_hop(pair.a)}")
        rows.append(
            "<tr>"
            f'<th scope="row">{html.escape(_hop(pair.a))} → {html.escape(_hop(pair.b))}</th>'
            f"<td>{_n(pair.rows_a)} / {_n(pair.rows_b)}</td>"
            f"<td>{_n(t['matched'])}</td>"
            f"<td>{_n(t['bkey-a'] + t['bkey-b'])}</td>"
            f"<td>{html.escape(', '.join(missing) or '0')}</td>"
            f"<td>{_n(sum(t[c] for c in _DUPLICATES))}</td>"
            f"<td>{_n(t['conflicting'])}</td>"
            f"<td>{_n(t['late'])}</td>"
            f"<td>{html.escape(hwm)}</td>"
            "</tr>"
        )
    verdict = (
        "Er ontbreekt niets: elk record is op elke overdracht teruggevonden."
        if report.missing == 0
        else (
            "Er ontbreekt 1 record; zie de details en de herstelacties."
            if report.missing == 1
            else f"Er ontbreken {_n(report.missing)} records; zie de details en de herstelacties."
        )
    )
    hops = ", ".join(
        f"{html.escape(_hop(h['name']))} ({_n(int(h['rows']))} rijen)" for h in report.hops
    )
    return (
        '<section class="reconciliatie" lang="nl">\n'
        # Named by what it compared: a briefing may hold two (the paper records, the
        # message hops) that would otherwise share one heading.
        f"<h2>Reconciliatie: {html.escape(' → '.join(_hop(h['name']) for h in report.hops))}</h2>\n"
        f"<p>Stand {html.escape(at)} (rapport {html.escape(report.id)}). Vergeleken: "
        f"{hops}.</p>\n"
        f"<p><strong>{html.escape(verdict)}</strong></p>\n"
        "<table>\n<caption>Per overdracht: rijen (van / naar) en hoe elk record is "
        "ingedeeld</caption>\n"
        '<thead><tr><th scope="col">Overdracht</th><th scope="col">Rijen</th>'
        '<th scope="col">Overeenkomend</th><th scope="col">Zelfde feit, ander id</th>'
        '<th scope="col">Ontbreekt</th><th scope="col">Dubbel</th>'
        '<th scope="col">Conflicterend</th><th scope="col">Te laat</th>'
        '<th scope="col">Hoogwaterstand</th></tr></thead>\n<tbody>\n'
        + "\n".join(rows)
        + "\n</tbody>\n</table>\n"
        f"<p>Verzoeken aan afzenders om opnieuw te sturen: {_n(report.requests)}.</p>\n"
        "</section>\n"
    )


# The live ledgers (ledger.LIVE) as the Dutch section names them; a ledger a user loaded keeps
# the name it was given.
_HOPS_NL = {
    "sent": "verzonden",
    "accepted": "aangenomen",
    "routed": "doorgezet",
    "delivered": "afgeleverd",
    "applied": "verwerkt",
    "manual": "op papier",
}


def _hop(name: str) -> str:
    return _HOPS_NL.get(name, name)
