"""Making, approving and printing briefings (decision 0013). Composition, like ``story``: it
gathers what the briefing takes from the registry, the reconciliation reports and the gateway
watch; the web UI and the CLI both call it."""

from __future__ import annotations

import json
import threading
from collections import Counter
from datetime import date, datetime, time
from html import escape
from pathlib import Path

from ketenherstel.bootstrap import Runtime
from ketenherstel.exchange.auth import LOCAL_READER_PREFIX, Principal
from ketenherstel.gateway.register import Register
from ketenherstel.picture import briefing
from ketenherstel.picture.charts import format_date, format_number
from ketenherstel.picture.series import TZ
from ketenherstel.picture.service import (
    Picture,
    PictureInputError,
    Said,
    parse_day,
    reason_of,
)
from ketenherstel.reconcile.service import find_report, list_reports
from ketenherstel.store.ports import AuditRecord, same_person

__all__ = ["BriefingService", "gateway_dir", "names_of"]


def _no_briefing(number: int) -> Said:
    return Said(f"er is geen briefing {number}", f"there is no briefing {number}")


def _approved(number: int) -> Said:
    return Said(f"briefing {number} is al goedgekeurd", f"briefing {number} is approved already")


def gateway_dir(rt: Runtime) -> Path:
    """Where `gateway report` and the demo's gateway story write the reports and verdicts."""
    return Path(rt.settings.gateway_report_location())


def names_of(rt: Runtime, picture: Picture) -> set[str]:
    """Every person's name the system holds outside the chain messages: the people the picture
    knows (credentials, its registers) and the audit trail's actors, the machine's login of a
    read at the command line without --as (``local-cli:LOGIN``) as that login. Partner keys
    and the command line's own name are not names."""
    partners = {p.key for p in rt.chain.partners}
    actors = {a.removeprefix(LOCAL_READER_PREFIX) for a in rt.store.audit_actors()}
    return picture.people() | {a for a in actors if a and a not in partners and a != "local-cli"}


class BriefingService:
    def __init__(self, rt: Runtime, picture: Picture) -> None:
        self.rt = rt
        self.picture = picture
        self._pdfs: dict[tuple[int, bool, str], bytes] = {}
        self._lock = threading.Lock()

    def extras(self, reference_end: float) -> briefing.Extras:
        """What the other capabilities said as of ``reference_end``: the registry's freshness
        as it gave it in its last answer by then (each answer stores it), the re-screen counts
        and the newest reconciliation and gateway verdicts (each names its own source). The last
        three are not kept as of a date: the briefing says they are as of when it was made
        (``not_frozen``)."""
        rt = self.rt
        made = _when(rt.exchange.clock())
        not_frozen: dict[str, str] = {}
        lines: tuple[str, ...] = ()
        source = ""
        rescreen: dict[str, int] = {}
        try:
            snapshot = rt.registry.db.freshness_at(reference_end)
            if snapshot is not None:
                ident, as_of, body = snapshot
                lines = tuple(s["text"] for s in json.loads(body).get("sources", []))
                source = (
                    f"documentatieregister, versheid zoals gegeven in zijn antwoorden "
                    f"(momentopname {ident}, "
                    f"{format_date(datetime.fromtimestamp(as_of, TZ), with_time=True)})"
                )
            counts = Counter(i.direction for i in rt.registry.rescreen() if i.differs)
            rescreen = {
                "antecedent gemist": counts.get("missed", 0),
                "onterecht getoond": counts.get("wrongly-shown", 0),
            }
            source += "; herscreeningslijst van het register, stand bij het maken"
            not_frozen["herscreening"] = (
                f"Herscreening: de stand bij het maken van deze nota ({made}), niet die op de "
                "peildatum."
            )
        except Exception:  # a registry that cannot answer leaves its lines out, said below
            source = "documentatieregister: niet beschikbaar bij het maken"
        recon_html, recon_source, recon_times = self._reconciliation()
        if recon_html:
            not_frozen["afstemming"] = (
                "Afstemming van de ketenregisters: de nieuwste rapporten bij het maken van deze "
                f"nota, met de stand van hun eigen moment ({', '.join(recon_times)}), niet die "
                "op de peildatum."
            )
        gateway_html, gateway_source, verdicts_made = self._gateway()
        if gateway_html:
            verdicts = f"het oordeel van {verdicts_made} en " if verdicts_made else ""
            not_frozen["voorportaal"] = (
                f"Voorportaal: {verdicts}het bevindingenregister zoals bij het maken van deze "
                f"nota ({made}), niet op de peildatum."
            )
        return briefing.Extras(
            registry_lines=lines,
            registry_source=source,
            rescreen=rescreen,
            reconciliation_html=recon_html,
            reconciliation_source=recon_source,
            gateway_html=gateway_html,
            gateway_source=gateway_source,
            not_frozen=not_frozen,
        )

    def _reconciliation(self) -> tuple[str, str, list[str]]:
        """The newest report of each chain of hops (at most four), each its own section, and
        when each was made."""
        folder = Path(self.rt.settings.reconcile_location())
        seen: set[str] = set()
        sections, ids, times = [], [], []
        for summary in list_reports(folder):
            chain = "->".join(h["name"] for h in summary.get("hops", []))
            if chain in seen or len(seen) == 4:
                continue
            seen.add(chain)
            page = find_report(folder, str(summary["id"])) / "report.html"
            if page.is_file():
                sections.append(_body(page.read_text(encoding="utf-8")))
                ids.append(str(summary["id"]))
                times.append(_when_text(summary.get("createdAt")))
        if not sections:
            return "", "", []
        return "".join(sections), "afstemmingsrapporten " + ", ".join(ids), times

    def _gateway(self) -> tuple[str, str, str]:
        """The gateway's section, its source, and when its verdicts were made ("" if none)."""
        rows = []
        path = gateway_dir(self.rt) / "verdicts.json"
        source = ""
        made = ""
        if path.is_file():
            data = json.loads(path.read_text(encoding="utf-8"))
            made = _when_text(data.get("made"))
            for v in data.get("verdicts", []):
                rows.append(
                    f'<tr><th scope="row">{escape(str(v["organisation"]))}</th>'
                    f"<td>{escape(str(v['verdict']))}</td>"
                    f'<td class="num">{format_number(float(v["users"]))}</td></tr>'
                )
            source = f"oordeel voorportaal, {path.name}"
        register = Register(Path(self.rt.settings.gateway_register_location()))
        status = Counter(r.status for r in register.findings.values())
        if not rows and not status:
            return "", "", ""
        out = []
        if rows:
            out.append(
                "<table><caption>Oordeel per organisatie achter het voorportaal</caption>"
                '<thead><tr><th scope="col">Organisatie</th><th scope="col">Oordeel</th>'
                '<th scope="col" class="num">Gebruikers</th></tr></thead><tbody>'
                + "".join(rows)
                + "</tbody></table>"
            )
        if status:
            labels = {
                "new": "nieuw",
                "under-review": "in onderzoek",
                "false-positive": "vals alarm",
                "confirmed": "bevestigd",
            }
            parts = ", ".join(
                f"{labels.get(k, k)} {format_number(float(n))}" for k, n in sorted(status.items())
            )
            out.append(f"<p>Bevindingenregister: {parts}.</p>")
            source = (source + "; " if source else "") + "bevindingenregister voorportaal"
        return "".join(out), source, made

    def check_reference(self, reference: date, field: str = "peildatum") -> None:
        """A briefing is made only as of a day the picture measured."""
        snap = self.picture.snapshot()
        first, last = snap.days[0], snap.days[-1]
        if not first <= reference <= last:
            raise PictureInputError(
                {
                    field: Said(
                        f"kies een dag waarover gemeten is: {_d(first)} t/m {_d(last)}",
                        f"choose a day the picture measured: {first.isoformat()} to "
                        f"{last.isoformat()}",
                    )
                }
            )

    def create(self, reference_text: str, principal: Principal) -> int:
        """A new draft briefing as of the end of that day; PictureInputError names a bad date."""
        try:
            reference = parse_day(reference_text)
        except ValueError as exc:
            raise PictureInputError({"peildatum": reason_of(exc)}) from None
        self.check_reference(reference)
        reference_end = datetime.combine(reference, time(23, 59, 59, 999999), TZ).timestamp()
        extras = self.extras(reference_end)
        rows = self.picture.db.briefings()
        reference_at = datetime.combine(reference, time(), TZ).timestamp()
        earlier = [r for r in rows if r.state == "approved" and r.reference_at < reference_at]
        previous = (
            json.loads(max(earlier, key=lambda r: (r.reference_at, r.id)).figures)
            if (earlier)
            else None
        )
        data = briefing.figures(self.picture, reference, extras, previous=previous)
        names = sorted(names_of(self.rt, self.picture) | {principal.name})
        number = (rows[0].id + 1) if rows else 1
        html = briefing.render(self.picture, data, extras, names=names, public=False, number=number)
        public = briefing.render(
            self.picture, data, extras, names=names, public=True, number=number
        )
        new_id = self.picture.db.add_briefing(
            reference_at=datetime.combine(reference, time(), TZ).timestamp(),
            created_at=self.rt.exchange.clock(),
            created_by=principal.name,
            figures=json.dumps(data, ensure_ascii=False, sort_keys=True),
            html=html,
            public_html=public,
        )
        self._audit(principal, "briefing-created", new_id, reference.isoformat())
        return new_id

    def why_not_approver(self, author: str, approver: str) -> Said | None:
        """Why ``approver`` may not approve a briefing ``author`` made, or None: the author
        never, nor an operator who made the other's credential (decision 0004)."""
        if same_person(author, approver):
            return Said(
                "de maker van een briefing mag haar niet zelf goedkeuren; vraag een andere "
                "operator",
                "the author of a briefing may not approve it; ask another operator",
            )
        why = self.rt.exchange.not_independent(author, approver)
        if why is None:
            return None
        return Said(
            "de goedkeurder moet een andere, onafhankelijke operator zijn: de een heeft een "
            "inlogsleutel van de ander gemaakt en kan dus als die ander handelen; vraag een "
            "andere operator",
            f"the approver must be another, independent operator: {why}; ask another operator",
        )

    def approve(self, briefing_id: int, principal: Principal) -> None:
        row = self.picture.db.briefing(briefing_id)
        if row is None:
            raise PictureInputError({"briefing": _no_briefing(briefing_id)})
        if row.state == "approved":
            raise PictureInputError({"briefing": _approved(briefing_id)})
        why = self.why_not_approver(row.created_by, principal.name)
        if why is not None:
            raise PictureInputError({"briefing": why})
        # The approval is written into the document itself (by role, never by name).
        draft = '<span class="concept">concept, nog niet goedgekeurd</span>'
        done = "<strong>goedgekeurd door een operator</strong>"
        html = row.html.replace(draft, done)
        public = row.public_html.replace(draft, done)
        if not self.picture.db.approve_briefing(
            briefing_id,
            at=self.rt.exchange.clock(),
            by=principal.name,
            html=html,
            public_html=public,
        ):
            raise PictureInputError({"briefing": _approved(briefing_id)})
        self._audit(principal, "briefing-approved", briefing_id, "")

    def pdf(self, briefing_id: int, public: bool) -> bytes:
        """The PDF of the document as it is now (cached per state: an approval, also by
        another process, makes a new one)."""
        row = self.picture.db.briefing(briefing_id)
        if row is None:
            raise PictureInputError({"briefing": _no_briefing(briefing_id)})
        key = (briefing_id, public, row.state)
        with self._lock:
            cached = self._pdfs.get(key)
        if cached is not None:
            return cached
        body = briefing.pdf(row.public_html if public else row.html)
        with self._lock:
            self._pdfs[key] = body
        return body

    def _audit(self, principal: Principal, action: str, briefing_id: int, detail: str) -> None:
        self.rt.store.audit(
            AuditRecord(
                self.rt.exchange.clock(), principal.name, action, f"briefing/{briefing_id}", detail
            )
        )


def _when(epoch: float) -> str:
    return format_date(datetime.fromtimestamp(epoch, TZ), with_time=True)


def _when_text(text: object) -> str:
    """An ISO time as the briefing writes times; "onbekend" when missing or malformed."""
    try:
        at = datetime.fromisoformat(str(text))
    except ValueError:
        return "onbekend"
    if at.tzinfo is None:
        return "onbekend"
    return _when(at.timestamp())


def _d(day: date) -> str:
    return day.strftime("%d-%m-%Y")


def _body(html: str) -> str:
    """The inside of an HTML document's body (a section can be a whole document)."""
    lower = html.lower()
    start = lower.find("<body")
    if start < 0:
        return html
    start = lower.find(">", start) + 1
    end = lower.rfind("</body>")
    return html[start : end if end > 0 else len(html)]
