"""The life of one criminal case, planned in criminal-procedure order.

police report (sometimes arrest, custody and voorgeleiding first) → OM decision (dagvaarding,
strafbeschikking, transactie or sepot) → for a dagvaarding: hearing, judgment and, unless appealed,
the transfer to CJIB/AICE and execution by DJI, probation, police or CJIB itself. Registrations in
the JDS run beside the procedure. An appealed case is followed up to the appeal only: the appeal
proceedings take longer than the simulation looks ahead.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ketenherstel.sim import _types as t
from ketenherstel.sim._ids import Court, Person, pick_court, pick_offences
from ketenherstel.sim._plan import Planned, Planner, Track, between, day, iso
from ketenherstel.sim.profile import DECISIONS

__all__ = ["CasePlanner"]

_H = timedelta(hours=1)
_D = timedelta(days=1)
_M = timedelta(minutes=1)


@dataclass(slots=True)
class _Case:
    court: Court
    person: Person
    police: str
    parket: str
    police_case: str
    offences: list[dict[str, str]]
    arrested_at: datetime
    detained: bool = False

    def keys(self) -> dict[str, Any]:
        return {"parketnummer": self.parket, "skn": self.person.skn}


class CasePlanner(Planner):
    """Plans every message of a new case from its first moment."""

    __slots__ = ()

    def plan(self, start: datetime) -> list[Planned]:
        """The case that starts at ``start`` (the offence reported or the suspect arrested)."""
        rng, profile = self._rng, self._profile
        court = pick_court(rng)
        person = self._persons.suspect(
            recidivist_share=profile.recidivist_share,
            eu_national_share=profile.eu_national_share,
        )
        case = _Case(
            court=court,
            person=person,
            police="kmar" if rng.random() < profile.kmar_share else "politie",
            parket=self._ids.parketnummer(court, start),
            police_case=self._ids.police_case_number(court, start),
            offences=pick_offences(rng),
            arrested_at=start,
        )
        track = Track(case.parket)
        last, presented = self._investigation(track, case)
        decision = rng.choices(DECISIONS, weights=profile.decision_weights)[0]
        if presented:  # a suspect brought before the examining judge is summoned
            decision = "dagvaarding"
            decided_at = between(rng, last, 3 * _D, 20 * _D)
        else:
            decided_at = between(rng, last, 7 * _D, 90 * _D)
        if decision == "dagvaarding":
            self._summons(track, case, decided_at)
        elif decision == "strafbeschikking":
            self._punishment_order(track, case, decided_at)
        elif decision == "transactie":
            self._settlement(track, case, decided_at)
        else:
            self._dismissal(track, case, decided_at, decision.removeprefix("sepot-"))
        return track.items

    # --- opsporing -----------------------------------------------------------------------

    def _investigation(self, track: Track, case: _Case) -> tuple[datetime, bool]:
        """Arrest, custody, report and voorgeleiding: (last moment, brought before the judge)."""
        rng, profile = self._rng, self._profile
        start = case.arrested_at
        custody = rng.random() < profile.custody_share
        pretrial = custody and rng.random() < profile.pretrial_share
        police = {"policeCaseNumber": case.police_case, **case.keys()}
        if custody:
            track.add(
                between(rng, start, 5 * _M, 45 * _M),
                case.police,
                t.ARREST,
                {
                    **police,
                    "arrestedAt": iso(start),
                    "municipalityCode": case.court.municipality,
                    "offences": case.offences,
                },
            )
            ordered = between(rng, start, 3 * _H, 9 * _H)
            track.add(
                ordered,
                case.police,
                t.CUSTODY,
                {
                    **police,
                    "arrestedAt": iso(start),
                    "orderedAt": iso(ordered),
                    "endsAt": iso(ordered + 3 * _D),
                    "extended": not pretrial and rng.random() < 0.1,
                },
            )
        if pretrial:
            reported = between(rng, start, 12 * _H, 42 * _H)
        elif custody:
            reported = between(rng, start, 1 * _D, 10 * _D)
        else:
            reported = between(rng, start, 1 * _D, 45 * _D)
        track.add(
            reported,
            case.police,
            t.REPORT,
            {
                **police,
                "completedAt": iso(reported),
                "offences": case.offences,
                "suspectDetained": custody,
                "victimCount": rng.choices((0, 1, 2, 3), weights=(0.35, 0.5, 0.1, 0.05))[0],
                "pageCount": rng.randint(3, 400),
            },
        )
        self._emergency_report(track, case, reported)
        if pretrial:
            return self._pretrial_detention(track, case), True
        return reported, False

    def _emergency_report(self, track: Track, case: _Case, reported: datetime) -> None:
        rng, profile = self._rng, self._profile
        categories = {offence["category"] for offence in case.offences}
        if not profile.emergency_route or not categories & {"geweld", "zeden"}:
            return
        if rng.random() >= profile.serious_offence_share:
            return
        at = between(rng, reported, 1 * _H, 6 * _H)
        track.add(
            at,
            case.police,
            t.EMERGENCY_REPORT,
            {
                "policeCaseNumber": case.police_case,
                **case.keys(),
                "offenceCategory": "zedendelict"
                if "zeden" in categories
                else "zwaar-geweldsdelict",
                "arrestedAt": iso(case.arrested_at),
                "reportedAt": iso(at),
            },
        )

    def _pretrial_detention(self, track: Track, case: _Case) -> datetime:
        """Voorgeleiding, bewaring and gevangenhouding; the time of the last decision."""
        rng = self._rng
        court = case.court.key
        presented = between(rng, case.arrested_at, 2 * _D, 3 * _D + 12 * _H)
        track.add(
            presented,
            "om",
            t.PRESENTATION,
            {
                **case.keys(),
                "arrestedAt": iso(case.arrested_at),
                "presentedAt": iso(presented),
                "court": court,
            },
        )
        decided = between(rng, presented, 1 * _H, 6 * _H)
        granted = rng.random() < self._profile.bewaring_granted_share
        outcome = "bevolen" if granted else "afgewezen"
        self._detention_decision(track, case, "bewaring", outcome, decided, 14)
        if not granted:
            return decided
        requested = between(rng, decided, 10 * _D, 12 * _D)
        track.add(
            requested,
            "om",
            t.DETENTION_REQUESTED,
            {
                **case.keys(),
                "measure": "gevangenhouding",
                "requestedAt": iso(requested),
                "court": court,
            },
        )
        decided = between(rng, requested, 6 * _H, 36 * _H)
        outcome = rng.choices(("bevolen", "geschorst", "afgewezen"), weights=(0.8, 0.15, 0.05))[0]
        self._detention_decision(track, case, "gevangenhouding", outcome, decided, 30)
        case.detained = outcome == "bevolen"
        return decided

    def _detention_decision(
        self,
        track: Track,
        case: _Case,
        measure: str,
        decision: str,
        decided: datetime,
        days: int,
    ) -> None:
        data: dict[str, Any] = {
            **case.keys(),
            "measure": measure,
            "decision": decision,
            "decidedAt": iso(decided),
            "court": case.court.key,
        }
        if decision == "bevolen":
            data["validUntil"] = iso(decided + days * _D)
        track.add(decided, "rechtspraak", t.DETENTION_DECIDED, data)

    # --- vervolging ----------------------------------------------------------------------

    def _register_decision(self, track: Track, case: _Case, decided: datetime, kind: str) -> None:
        track.add(
            between(self._rng, decided, 10 * _M, 2 * _D),
            "om",
            t.DECISION_REGISTERED,
            {
                **case.keys(),
                "decisionKind": kind,
                "decidedAt": iso(decided),
                "offences": case.offences,
            },
        )

    def _feedback(self, track: Track, case: _Case, decided: datetime, disposal: str) -> datetime:
        return track.add(
            between(self._rng, decided, 1 * _H, 1 * _D),
            "om",
            t.DISPOSAL_FEEDBACK,
            {
                "parketnummer": case.parket,
                "policeCaseNumber": case.police_case,
                "disposal": disposal,
                "decidedAt": iso(decided),
            },
        )

    def _dismissal(self, track: Track, case: _Case, decided: datetime, kind: str) -> None:
        rng = self._rng
        ground = "technisch" if kind == "onvoorwaardelijk" and rng.random() < 0.5 else "beleid"
        codes = ("01", "02") if ground == "technisch" else ("41", "43", "46", "50", "56")
        track.add(
            decided,
            "om",
            t.DISMISSAL,
            {
                "parketnummer": case.parket,
                "policeCaseNumber": case.police_case,
                "skn": case.person.skn,
                "decidedAt": iso(decided),
                "kind": kind,
                "ground": ground,
                "reasonCode": rng.choice(codes),
            },
        )
        self._register_decision(track, case, decided, f"sepot-{kind}")

    def _punishment_order(self, track: Track, case: _Case, decided: datetime) -> None:
        rng = self._rng
        sanctions: list[dict[str, Any]] = []
        if rng.random() < 0.85:
            sanctions.append(_fine(rng, 100, 1500))
        else:
            sanctions.append(
                {"kind": "taakstraf", "conditional": False, "hours": rng.choice((20, 30, 40, 60))}
            )
        if any(o["category"] == "verkeer" for o in case.offences) and rng.random() < 0.3:
            sanctions.append(
                {"kind": "ontzegging-rijbevoegdheid", "conditional": False, "days": 180}
            )
        data: dict[str, Any] = {
            **case.keys(),
            "decidedAt": iso(decided),
            "offences": case.offences,
            "sanctions": sanctions,
        }
        if sanctions[0]["kind"] == "geldboete":
            data["paymentDueDate"] = day(decided + 56 * _D)
        track.add(decided, "om", t.PUNISHMENT_ORDER, data)
        after = self._feedback(track, case, decided, "strafbeschikking")
        self._register_decision(track, case, decided, "strafbeschikking")
        self._execute(track, case, sanctions, after)

    def _settlement(self, track: Track, case: _Case, offered: datetime) -> None:
        rng = self._rng
        track.add(
            offered,
            "om",
            t.SETTLEMENT,
            {
                **case.keys(),
                "offeredAt": iso(offered),
                "amountCents": rng.randrange(50, 1000) * 100,
                "paymentDueDate": day(offered + 28 * _D),
            },
        )
        after = self._feedback(track, case, offered, "transactie")
        self._register_decision(track, case, offered, "transactie")
        if rng.random() < self._profile.fine_paid_share:
            self._register_execution(
                track, case, between(rng, after, 7 * _D, 28 * _D), "transactie", "betaald"
            )

    def _summons(self, track: Track, case: _Case, issued: datetime) -> None:
        rng = self._rng
        if case.detained:
            chamber = rng.choices(("meervoudige-kamer", "politierechter"), weights=(0.7, 0.3))[0]
            # trial within 104 days of the arrest; the summons ≥ 10 days before the hearing
            hearing = max(between(rng, case.arrested_at, 60 * _D, 100 * _D), issued + 14 * _D)
        else:
            chamber = rng.choices(
                ("politierechter", "meervoudige-kamer", "kantonrechter", "kinderrechter"),
                weights=(0.6, 0.25, 0.1, 0.05),
            )[0]
            hearing = between(rng, issued, 30 * _D, 180 * _D)
        track.add(
            issued,
            "om",
            t.SUMMONS,
            {
                **case.keys(),
                "issuedAt": iso(issued),
                "hearingDate": day(hearing),
                "court": case.court.key,
                "chamber": chamber,
                "offences": case.offences,
                "suspectDetained": case.detained,
            },
        )
        fed_back = self._feedback(track, case, issued, "dagvaarding")
        self._register_decision(track, case, issued, "dagvaarding")
        planned = between(rng, fed_back, 1 * _H, 3 * _D)
        track.add(
            planned,
            "rechtspraak",
            t.HEARING_PLANNED,
            {
                "parketnummer": case.parket,
                "court": case.court.key,
                "chamber": chamber,
                "hearingDate": day(hearing),
                "plannedAt": iso(planned),
                "suspectDetained": case.detained,
            },
        )
        judged = hearing + (14 * _D if chamber == "meervoudige-kamer" else timedelta(0))
        self._judgment(track, case, judged)

    # --- berechting ----------------------------------------------------------------------

    def _judgment(self, track: Track, case: _Case, judged: datetime) -> None:
        rng, profile = self._rng, self._profile
        guilty = rng.random() < profile.guilty_share
        if guilty:
            verdict = "veroordeling"
            sanctions = _sentence(rng, detained=case.detained)
        else:
            verdict = rng.choices(
                ("vrijspraak", "ontslag-van-alle-rechtsvervolging"), weights=(0.8, 0.2)
            )[0]
            sanctions = []
        signed = between(rng, judged, 1 * _D, 10 * _D)
        judgment = {
            **case.keys(),
            "court": case.court.key,
            "judgmentDate": day(judged),
            "verdict": verdict,
            "sanctions": sanctions,
        }
        track.add(signed, "rechtspraak", t.JUDGMENT, {**judgment, "signedAt": iso(signed)})
        appeal_share = profile.appeal_share if guilty else profile.appeal_share / 2
        if rng.random() < appeal_share:
            filed = between(rng, signed, 1 * _H, max(judged + 14 * _D - signed, 2 * _H))
            appellant = "verdachte" if guilty and rng.random() < 0.75 else "openbaar-ministerie"
            track.add(
                filed,
                "rechtspraak",
                t.APPEAL,
                {
                    **case.keys(),
                    "appellant": appellant,
                    "judgmentDate": day(judged),
                    "filedAt": iso(filed),
                    "courtOfAppeal": case.court.court_of_appeal,
                },
            )
            registered = between(rng, signed, 1 * _H, 3 * _D)
            track.add(
                registered,
                "om",
                t.JUDGMENT_REGISTERED,
                {**_registered(judgment, case), "final": False},
            )
            return
        enforceable = judged + 15 * _D
        registered = between(rng, max(enforceable, signed), 1 * _H, 3 * _D)
        track.add(
            registered, "om", t.JUDGMENT_REGISTERED, {**_registered(judgment, case), "final": True}
        )
        if guilty and case.person.nationality != "NL":
            self._notify_member_state(track, case, judged, registered)
        executable = [s for s in sanctions if not s["conditional"]]
        if not executable:
            return
        transferred = between(rng, enforceable, 1 * _D, 14 * _D)
        track.add(
            transferred,
            "om",
            t.EXECUTION_TRANSFER,
            {
                **case.keys(),
                "judgmentDate": day(judged),
                "enforceableDate": day(enforceable),
                "sanctions": executable,
                "transferredAt": iso(transferred),
            },
        )
        self._execute(track, case, executable, transferred)

    def _notify_member_state(
        self, track: Track, case: _Case, judged: datetime, registered: datetime
    ) -> None:
        notified = between(self._rng, registered, 1 * _D, 10 * _D)
        categories = sorted({offence["category"] for offence in case.offences})
        track.add(
            notified,
            "justid",
            t.ECRIS_NOTIFICATION,
            {
                "notificationId": self._ids.ecris_id("NL"),
                **case.keys(),
                "memberState": case.person.nationality,
                "convictionDate": day(judged),
                "offenceCategories": categories,
                "notifiedAt": iso(notified),
            },
        )

    # --- tenuitvoerlegging ---------------------------------------------------------------

    def _execute(
        self, track: Track, case: _Case, sanctions: list[dict[str, Any]], after: datetime
    ) -> None:
        rng = self._rng
        for sanction in sanctions:
            kind = sanction["kind"]
            assigned = between(rng, after, 1 * _D, 14 * _D)
            if kind == "gevangenisstraf":
                self._custodial(track, case, sanction["days"], assigned)
            elif kind == "taakstraf":
                track.add(
                    assigned,
                    "cjib",
                    t.COMMUNITY_SERVICE_ASSIGNED,
                    {
                        **case.keys(),
                        "assignedAt": iso(assigned),
                        "hours": sanction["hours"],
                        "completeBy": day(assigned + 365 * _D),
                    },
                )
                done = between(rng, assigned, 30 * _D, 180 * _D)
                outcome = "voltooid" if rng.random() < 0.85 else "voortijdig-beeindigd"
                self._completed(track, case, "reclassering", done, "taakstraf", outcome)
                self._register_execution(track, case, done, "taakstraf", outcome)
            elif kind == "geldboete":
                self._fine(track, case, sanction["amountCents"], after)

    def _custodial(self, track: Track, case: _Case, days: int, assigned: datetime) -> None:
        rng = self._rng
        self_report = not case.detained and rng.random() < 0.6
        track.add(
            assigned,
            "cjib",
            t.CUSTODIAL_ASSIGNED,
            {
                **case.keys(),
                "assignedAt": iso(assigned),
                "sanctionKind": "gevangenisstraf",
                "days": days,
                "selfReport": self_report,
            },
        )
        begins = between(rng, assigned, 14 * _D, 90 * _D) if self_report else assigned + _D
        if self_report and rng.random() < 0.1:
            ordered = between(rng, assigned, 30 * _D, 60 * _D)
            self._arrest_order(track, case, ordered, "zelfmelder-niet-verschenen", days)
            begins = between(rng, ordered, 3 * _D, 60 * _D)
        done = begins + days * _D
        self._completed(track, case, "dji", done, "gevangenisstraf", "voltooid")
        self._register_execution(track, case, done, "gevangenisstraf", "voltooid")

    def _fine(self, track: Track, case: _Case, amount_cents: int, after: datetime) -> None:
        rng = self._rng
        if rng.random() < self._profile.fine_paid_share:
            paid = between(rng, after, 14 * _D, 70 * _D)
            self._register_execution(track, case, paid, "geldboete", "betaald")
            return
        ordered = between(rng, after, 90 * _D, 150 * _D)
        days = max(1, min(365, amount_cents // 5000))
        self._arrest_order(track, case, ordered, "geldboete-onbetaald", days)
        done = between(rng, ordered, 7 * _D, 90 * _D)
        outcome = "voltooid" if rng.random() < 0.7 else "niet-uitvoerbaar"
        self._completed(track, case, "politie", done, "vervangende-hechtenis", outcome)
        self._register_execution(track, case, done, "vervangende-hechtenis", outcome)

    def _arrest_order(
        self, track: Track, case: _Case, ordered: datetime, reason: str, days: int
    ) -> None:
        track.add(
            ordered,
            "cjib",
            t.ARREST_ASSIGNED,
            {**case.keys(), "assignedAt": iso(ordered), "reason": reason, "days": days},
        )

    def _completed(
        self, track: Track, case: _Case, executor: str, done: datetime, kind: str, outcome: str
    ) -> None:
        track.add(
            done,
            executor,
            t.EXECUTION_COMPLETED,
            {**case.keys(), "sanctionKind": kind, "completedAt": iso(done), "outcome": outcome},
        )

    def _register_execution(
        self, track: Track, case: _Case, done: datetime, kind: str, outcome: str
    ) -> None:
        track.add(
            between(self._rng, done, 1 * _H, 2 * _D),
            "cjib",
            t.EXECUTION_REGISTERED,
            {**case.keys(), "completedAt": iso(done), "sanctionKind": kind, "outcome": outcome},
        )


def _registered(judgment: dict[str, Any], case: _Case) -> dict[str, Any]:
    keys = ("parketnummer", "skn", "court", "judgmentDate", "verdict", "sanctions")
    found = {key: judgment[key] for key in keys}
    if case.person.nationality != "NL":  # the JDS notifies that member state (ECRIS)
        found["nationality"] = case.person.nationality
    return found


def _fine(rng: random.Random, low_euros: int, high_euros: int) -> dict[str, Any]:
    return {
        "kind": "geldboete",
        "conditional": False,
        "amountCents": rng.randrange(low_euros, high_euros) * 100,
    }


def _sentence(rng: random.Random, *, detained: bool) -> list[dict[str, Any]]:
    """Sanctions of a conviction (2022: prison 30k, community service 24k, fine 14k); some
    join a prison term and community service, each executed and reported by its own partner."""
    weights = (0.85, 0.1, 0.05) if detained else (0.44, 0.35, 0.21)
    primary = rng.choices(("gevangenisstraf", "taakstraf", "geldboete"), weights=weights)[0]
    sanctions: list[dict[str, Any]]
    if primary == "gevangenisstraf":
        days = rng.choices(
            (7, 14, 30, 60, 90, 180, 365, 730), weights=(14, 14, 18, 14, 12, 12, 10, 6)
        )[0]
        sanctions = [{"kind": "gevangenisstraf", "conditional": False, "days": days}]
        if not detained and rng.random() < 0.15:  # a short prison term and community service
            hours = rng.choice((40, 60, 80, 120))
            sanctions.append({"kind": "taakstraf", "conditional": False, "hours": hours})
    elif primary == "taakstraf":
        hours = rng.choice((20, 40, 60, 80, 120, 180, 240))
        sanctions = [{"kind": "taakstraf", "conditional": False, "hours": hours}]
    else:
        sanctions = [_fine(rng, 150, 2500)]
    if rng.random() < 0.3:
        days = rng.choice((14, 30, 60, 90))
        sanctions.append({"kind": "gevangenisstraf", "conditional": True, "days": days})
    return sanctions
