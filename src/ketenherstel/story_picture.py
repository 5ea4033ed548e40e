"""The end of the demo: the picture of the scenario and its briefings (decision 0013).

What the scenario says about channels outside the exchange (e-mail lost from the cut-off, back
on 7 August) becomes hand-set statuses at their own times; the telephone calls to the OM are
simulated (ASSUMED volumes and answer rates, marked below); one bottleneck with a work agreement
is registered the way the recovery team would; then two briefings are made: one at the height
of the outage, approved by a second operator, and one at the end of the run, left a draft.
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from rich.console import Console

from ketenherstel.bootstrap import Runtime
from ketenherstel.briefings import BriefingService
from ketenherstel.exchange.auth import Principal
from ketenherstel.picture.db import open_picture_db
from ketenherstel.picture.series import TZ
from ketenherstel.picture.service import Picture
from ketenherstel.recovery.scenario import Scenario
from ketenherstel.store.manual_ports import manual_store

__all__ = ["BriefingFiles", "picture_story"]

# Pseudonymous officials of the recovery team (never real names).
AUTHOR = Principal("operator-a", "operator", None, "local")
APPROVER = Principal("operator-b", "operator", None, "local")
_STATE = {"restored": "normal", "down": "down", "manual": "manual", "draining": "draining"}
_CHANNEL = {"e-mail": "email", "email": "email", "telefoon": "telefoon", "phone": "telefoon"}
# ASSUMED: calls to the OM's front office from lawyers, partners and citizens per working day,
# and the share answered before, during and after the cut-off (the memo names poor telephone
# reachability; it gives no figures).
_CALLS_PER_DAY = 30
_ANSWERED = {"before": 0.92, "during": 0.45, "after": 0.8}


@dataclass(frozen=True, slots=True)
class BriefingFiles:
    html: Path
    pdf: Path
    public_html: Path
    public_pdf: Path


def picture_story(
    rt: Runtime, scenario: Scenario, out_dir: Path, console: Console, *, pdf: bool = True
) -> BriefingFiles | None:
    began = time.perf_counter()
    db = open_picture_db(rt.settings.picture_location(), synchronous=rt.settings.synchronous)
    try:
        picture = Picture(rt.store, manual_store(rt.store), rt.chain, db, rt.exchange.clock)
        if not db.briefings():
            _statuses(picture, scenario)
            _calls(picture, scenario)
            _bottleneck(picture, scenario)
        snap = picture.snapshot()
        service = BriefingService(rt, picture)
        cut = min((o.since for o in scenario.offline), default=scenario.start)
        middle = (cut + timedelta(days=28)).astimezone(TZ).date()
        last = snap.days[-1]
        first_id = service.create(middle.isoformat(), AUTHOR)
        service.approve(first_id, APPROVER)
        second_id = service.create(last.isoformat(), AUTHOR)
        files = _write(service, picture, second_id, out_dir, last, pdf=pdf)
        console.print(
            f"picture: {snap.rows:,} deliveries measured over {len(snap.days)} days; briefing "
            f"{first_id} as of {_d(middle)} (approved by a second operator) and briefing "
            f"{second_id} as of {_d(last)} (draft) in {time.perf_counter() - began:,.1f} s",
            highlight=False,
        )
        if pdf:
            console.print(
                f"briefing: {files.html} and {files.pdf}; publication version (Woo): "
                f"{files.public_html} and {files.public_pdf}",
                highlight=False,
            )
        else:
            console.print(
                f"briefing: {files.html}; publication version (Woo): {files.public_html} "
                f"(PDF: ketenherstel briefing export {second_id} --out DIR)",
                highlight=False,
            )
        return files
    finally:
        db.close()


def _d(day: date) -> str:
    return day.strftime("%d-%m-%Y")


def _statuses(picture: Picture, scenario: Scenario) -> None:
    for o in scenario.offline:
        picture.db.set_status(
            partner=o.partner,
            channel="email",
            state="down",
            reason="afgesloten van internet: e-mail aan de partner gaat verloren",
            at=o.since.timestamp(),
            actor=AUTHOR.name,
        )
    for entry in scenario.timeline:
        if entry.status is None:
            continue
        channel = _CHANNEL.get(entry.status["channel"], entry.status["channel"])
        state = _STATE.get(entry.status["state"], entry.status["state"])
        picture.db.set_status(
            partner=entry.status["partner"],
            channel=channel,
            state=state,
            reason=entry.status.get("reason", entry.what),  # the picture is Dutch
            at=entry.at.timestamp(),
            actor=AUTHOR.name,
        )


def _calls(picture: Picture, scenario: Scenario) -> None:
    """Calls to the OM on working days, up to where the run stopped (the store's last change;
    the scenario's end may lie months later): none after the picture's moment."""
    rng = random.Random(scenario.seed)
    offline = list(scenario.offline)
    rows: list[tuple[str, str, str, float, float | None, str]] = []
    day = scenario.start.astimezone(TZ).date()
    until = min(scenario.end.timestamp(), picture.snapshot().as_of)
    end = datetime.fromtimestamp(until, TZ).date()
    while day <= end:
        if day.weekday() < 5:
            for _ in range(_CALLS_PER_DAY):
                at = datetime(day.year, day.month, day.day, 8, tzinfo=TZ) + timedelta(
                    minutes=rng.randrange(9 * 60)
                )
                phase = "before"
                for o in offline:
                    if o.since <= at < o.until:
                        phase = "during"
                    elif at >= o.until:
                        phase = "after"
                answered: float | None = None
                if rng.random() < _ANSWERED[phase]:
                    wait = rng.expovariate(1 / (0.5 if phase == "before" else 6.0))
                    answered = at.timestamp() + wait * 3600
                caller = rng.choice(("advocaat", "advocaat", "ketenpartner", "burger"))
                if at.timestamp() > until:
                    continue  # the rng draws stay as they were: the same calls before it
                if answered is not None and answered > until:
                    answered = None  # not yet answered when the run stopped
                rows.append(("om", "telefoon", caller, at.timestamp(), answered, AUTHOR.name))
        day += timedelta(days=1)
    picture.db.add_contacts(rows)


def _bottleneck(picture: Picture, scenario: Scenario) -> None:
    cut = min((o.since for o in scenario.offline), default=scenario.start).astimezone(TZ)
    bottleneck = picture.db.add_bottleneck(
        title="Registraties van het OM bereiken het JDS niet",
        category="informatie",
        severity="kritiek",
        partner="justid",
        process=None,
        series_kind="receiver",
        series_key="justid#backlog",
        description=(
            "Sinds de afsluiting van het OM komen afdoeningen niet in het justitieel "
            "documentatiesysteem; VOG-beslissingen steunen op verouderde gegevens."
        ),
        started_at=datetime(cut.year, cut.month, cut.day, tzinfo=TZ).timestamp(),
        ended_at=None,
        registered_at=cut.timestamp(),
        registered_by=AUTHOR.name,
    )
    route_from = scenario.route_from or cut
    start = route_from.astimezone(TZ)
    picture.db.add_agreement(
        bottleneck_id=bottleneck,
        text=(
            "De politie meldt ernstige gewelds- en zedenzaken via de spoedroute rechtstreeks "
            "aan Justid"
        ),
        owner_role="ketenregisseur",
        starts_at=datetime(start.year, start.month, start.day, tzinfo=TZ).timestamp(),
        expected_effect="de zwaarste antecedenten staan binnen een dag in het JDS",
        residual_risk=(
            "andere afdoeningen ontbreken tot de inhaalslag; screenings kunnen ze missen"
        ),
        risk_accepted_role="directeur Justid",
        risk_accepted_by=APPROVER.name,
        risk_accepted_until=(scenario.end.timestamp()),
        registered_at=start.timestamp(),
        registered_by=AUTHOR.name,
    )


def _write(
    service: BriefingService,
    picture: Picture,
    briefing_id: int,
    out_dir: Path,
    day: date,
    *,
    pdf: bool,
) -> BriefingFiles:
    row = picture.db.briefing(briefing_id)
    assert row is not None
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = out_dir / f"briefing-{day.isoformat()}"
    files = BriefingFiles(
        html=stem.with_suffix(".html"),
        pdf=stem.with_suffix(".pdf"),
        public_html=Path(f"{stem}-publicatie.html"),
        public_pdf=Path(f"{stem}-publicatie.pdf"),
    )
    files.html.write_text(row.html, encoding="utf-8")
    files.public_html.write_text(row.public_html, encoding="utf-8")
    if pdf:
        files.pdf.write_bytes(service.pdf(briefing_id, False))
        files.public_pdf.write_bytes(service.pdf(briefing_id, True))
    (out_dir / f"briefing-{day.isoformat()}.json").write_text(
        json.dumps(json.loads(row.figures), ensure_ascii=False, indent=2), encoding="utf-8"
    )
    return files
