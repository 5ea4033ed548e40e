"""Messages that do not belong to a criminal case: screenings, information requests, ECRIS."""

from __future__ import annotations

from datetime import datetime, timedelta

from ketenherstel.sim import _types as t
from ketenherstel.sim._ids import COURTS, EU_MEMBER_STATES, OFFENCE_ARTICLES
from ketenherstel.sim._plan import Planned, Planner, Track, between, day, iso

__all__ = ["StreamPlanner"]

_H = timedelta(hours=1)
_D = timedelta(days=1)
_M = timedelta(minutes=1)
_SCREENING_PURPOSES = (
    "vog-natuurlijk-persoon",
    "vog-rechtspersoon",
    "continue-screening-kinderopvang",
    "continue-screening-taxi",
)
_CATEGORIES = tuple(OFFENCE_ARTICLES)


class StreamPlanner(Planner):
    """Plans the person-keyed messages beside the cases; the subject is the person's SKN."""

    __slots__ = ()

    def _person(self, known_share: float) -> tuple[str, int]:
        """(SKN, number of cases): someone with a record with ``known_share``, else a newcomer."""
        known = self._persons.known() if self._rng.random() < known_share else None
        if known is not None:
            return known.skn, known.cases
        return self._persons.new().skn, 0

    def screening(self, at: datetime) -> list[Planned]:
        """A JDS answer to Justis for a VOG or continuous screening."""
        rng = self._rng
        skn, cases = self._person(self._profile.screening_record_share)
        track = Track(skn)
        purpose = rng.choices(_SCREENING_PURPOSES, weights=(0.9, 0.03, 0.05, 0.02))[0]
        completeness = [
            {"source": source, "completeUpTo": iso(between(rng, at, -30 * _M, -1 * _M))}
            for source in ("om", "cjib", "eu-lidstaten")
        ]
        screening_id = self._ids.screening_id()
        track.add(
            at,
            "justid",
            t.SCREENING_ANSWER,
            {
                "screeningId": screening_id,
                "skn": skn,
                "purpose": purpose,
                "answeredAt": iso(at),
                "hasJudicialData": cases > 0,
                "recordCount": cases,
                "sourceCompleteness": completeness,
            },
        )
        if cases > 0:
            # Justis decides on an answer with judicial data by hand and tells the JDS (an
            # answer without any is decided at once, and its decision is not sent back).
            decided = between(rng, at, 1 * _D, 14 * _D)
            refused = rng.random() < 0.15
            track.add(
                decided,
                "justis",
                t.SCREENING_DECISION,
                {
                    "screeningId": screening_id,
                    "decision": ("geweigerd" if refused else "afgegeven")
                    if purpose.startswith("vog")
                    else ("bezwaar" if refused else "geen-bezwaar"),
                    "decidedAt": iso(decided),
                },
            )
        return track.items

    def municipal_information(self, at: datetime) -> list[Planned]:
        """Judicial information given to a municipality (Bibob, licences)."""
        rng = self._rng
        skn, cases = self._person(0.3)
        track = Track(skn)
        track.add(
            at,
            "justid",
            t.MUNICIPAL_INFORMATION,
            {
                "requestId": self._ids.information_request_id(),
                "skn": skn,
                "municipalityCode": rng.choice(COURTS).municipality,
                "purpose": rng.choices(
                    ("bibob", "vergunning", "benoeming", "overig"), weights=(5, 3, 1, 1)
                )[0],
                "answeredAt": iso(at),
                "hasJudicialData": cases > 0,
            },
        )
        return track.items

    def ecris_request(self, at: datetime) -> list[Planned]:
        """A member state's request to the JDS and Justid's answer (within 10 working days)."""
        rng = self._rng
        skn, cases = self._person(0.5)
        member_state = rng.choice(EU_MEMBER_STATES)
        request_id = self._ids.ecris_id(member_state)
        track = Track(skn)
        keys = {"requestId": request_id, "skn": skn, "requestingMemberState": member_state}
        purpose = rng.choices(
            ("strafrechtelijke-procedure", "werken-met-kinderen", "overig"), weights=(7, 2, 1)
        )[0]
        track.add(
            at,
            "eu-lidstaten",
            t.ECRIS_REQUEST,
            {**keys, "purpose": purpose, "requestedAt": iso(at)},
        )
        low, high = rng.choices(
            ((2 * _H, 1 * _D), (1 * _D, 3 * _D), (3 * _D, 9 * _D)), weights=(6, 3, 1)
        )[0]
        answered = between(rng, at, low, high)
        track.add(
            answered,
            "justid",
            t.ECRIS_ANSWER,
            {
                **keys,
                "answeredAt": iso(answered),
                "hasJudicialData": cases > 0,
                "convictionCount": cases,
            },
        )
        return track.items

    def foreign_conviction(self, at: datetime) -> list[Planned]:
        """A member state notifies the conviction of a Dutch national."""
        rng = self._rng
        skn, _ = self._person(0.4)
        member_state = rng.choice(EU_MEMBER_STATES)
        count = rng.choices((1, 2), weights=(0.85, 0.15))[0]
        track = Track(skn)
        track.add(
            at,
            "eu-lidstaten",
            t.ECRIS_FOREIGN_CONVICTION,
            {
                "notificationId": self._ids.ecris_id(member_state),
                "skn": skn,
                "convictingMemberState": member_state,
                "convictionDate": day(between(rng, at, -90 * _D, -20 * _D)),
                "offenceCategories": sorted(set(rng.sample(_CATEGORIES, count))),
                "notifiedAt": iso(at),
            },
        )
        return track.items
