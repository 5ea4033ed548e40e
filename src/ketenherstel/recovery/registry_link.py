"""Justid's registry inside a scenario run: it consumes Justid's deliveries, answers the
simulated screenings itself, and its re-screen list is counted at the end (decision 0010)."""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from ketenherstel.recovery.figures import RegistryFigures
from ketenherstel.registry import Reader, Registry
from ketenherstel.registry.service import ScreeningRequest
from ketenherstel.store.ports import LeasedDelivery

__all__ = ["ECRIS_NOTIFIED", "SCREENING_ANSWER", "RegistryLink"]

SCREENING_ANSWER = "nl.strafrechtketen.registratie.screeningsantwoord-verstrekt.v1"
ECRIS_NOTIFIED = "nl.strafrechtketen.registratie.ecris-veroordeling-genotificeerd.v1"
# Pseudonymous: Justis' screening desk asks, on the ground the law gives it.
_READER = {
    purpose: Reader("justis", "screeningsmedewerker", "justis-screening", purpose, "art. 35 Wjsg")
    for purpose in (
        "vog-natuurlijk-persoon",
        "vog-rechtspersoon",
        "continue-screening-kinderopvang",
        "continue-screening-taxi",
    )
}
_OPERATOR = Reader("justid", "operator", "justid-herbeoordeling", "herbeoordeling", "art. 39f Wjsg")


class RegistryLink:
    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.figures = RegistryFigures()

    @property
    def receiver(self) -> str:
        return self.registry.receiver

    def consume(self, leased: Sequence[LeasedDelivery]) -> None:
        result = self.registry.consume(leased)
        f = self.figures
        f.applied += result.applied
        f.same_fact += result.same_fact
        f.redelivered += result.redelivered
        f.replaced += result.replaced
        f.not_registrations += result.not_registrations
        f.failed += len(result.failed)

    def answer(self, events: Sequence[dict[str, Any]]) -> None:
        """The registry answers these screenings; each answer message then carries what the
        registry found and how complete each source was."""
        if not events:
            return
        requests = []
        for event in events:
            data = event["data"]
            purpose = data["purpose"]
            requests.append(
                ScreeningRequest(
                    data["screeningId"],
                    "justis",
                    purpose,
                    data["skn"],
                    date.fromisoformat(data["answeredAt"][:10]),
                    _READER[purpose],
                )
            )
        answers = self.registry.screen_many(requests)
        for event, answer in zip(events, answers, strict=True):
            data = event["data"]
            data["hasJudicialData"] = bool(answer.cases)
            data["recordCount"] = len(answer.cases)
            data["sourceCompleteness"] = [
                {
                    "source": s.partner,
                    "completeUpTo": s.complete_up_to,
                    **(
                        {} if s.catch_up_percent is None else {"catchUpPercent": s.catch_up_percent}
                    ),
                }
                for s in answer.freshness.sources
                if s.complete_up_to is not None
            ]
        self.figures.screenings += len(events)

    def notifications(self) -> list[tuple[int, dict[str, Any]]]:
        """What the registry owes member states now: it learnt of those convictions from its
        catch-up, so during the outage they wait (the simulator's own notifications, which
        assume a registry that always knows, are left out of the run)."""
        return self.registry.notification_events(limit=10_000)

    def notified(self, ids: Sequence[int]) -> None:
        self.registry.mark_notified(ids)

    def sample(self, at: datetime, label: str) -> None:
        """Keep the registry's freshness as a consumer would have read it at ``at``."""
        fresh = self.registry.freshness(refresh=True)
        behind = [s.text() for s in fresh.sources if s.state != "online" or s.waiting or s.gaps]
        text = " | ".join(behind) or "geen achterstand bij enige bron"
        self.figures.freshness.append((at, label, text))

    def finish(self) -> RegistryFigures:
        f = self.figures
        items = [i for i in self.registry.rescreen(reader=_OPERATOR) if i.differs]
        f.rescreen = Counter((i.direction, i.profile) for i in items)
        delays = sorted(i.delay_days for i in items)
        f.delay_median_days = statistics.median(delays) if delays else 0.0
        f.delay_max_days = delays[-1] if delays else 0.0
        f.counts = self.registry.db.counts()
        owed = self.registry.notifications()
        late = sorted(n.delay_days for n in owed if n.late)
        f.ecris = {
            "owed": len(owed),
            "onTime": sum(1 for n in owed if n.state == "on-time"),
            "late": len(late),
            "unsent": sum(1 for n in owed if n.sent_at is None),
            "unsentLate": sum(1 for n in owed if n.sent_at is None and n.late),
            "lateMedianDays": statistics.median(late) if late else 0.0,
            "lateMaxDays": late[-1] if late else 0.0,
        }
        return f
