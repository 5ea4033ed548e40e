"""Exchange.submit_many: several partners' submissions in one commit."""

from __future__ import annotations

import pytest

from ketenherstel.bootstrap import Runtime
from ketenherstel.exchange.errors import ConflictingEvent, Forbidden, InvalidInput
from tests.exchange.test_isolation import om_afdoening, partner, rt  # noqa: F401
from tests.factories import pv_event


def stored(rt: Runtime) -> int:  # noqa: F811
    return sum(rt.store.ledger_counts().messages.values())


def test_each_partner_submits_as_itself_in_one_commit(rt: Runtime) -> None:  # noqa: F811
    results = rt.exchange.submit_many(
        [
            (partner("politie"), [pv_event(case="10-000001-25"), pv_event(case="10-000002-25")]),
            (partner("om"), [om_afdoening(rt, "10-000001-25")]),
        ]
    )
    assert [r.accepted for r in results if not isinstance(r, Exception)] == [2, 1]
    assert stored(rt) == 3
    assert rt.exchange.submit_many([]) == []


def test_an_invalid_or_foreign_submission_stores_nothing(rt: Runtime) -> None:  # noqa: F811
    bad = pv_event(case="10-000003-25")
    bad["data"] = {"nonsense": True}
    with pytest.raises(InvalidInput):
        rt.exchange.submit_many(
            [(partner("politie"), [pv_event(case="10-000004-25")]), (partner("politie"), [bad])]
        )
    with pytest.raises(Forbidden):  # om may not send a police report
        rt.exchange.submit_many(
            [(partner("politie"), [pv_event(case="10-000005-25")]), (partner("om"), [pv_event()])]
        )
    assert stored(rt) == 0


def test_a_conflicting_submission_is_reported_in_its_place(rt: Runtime) -> None:  # noqa: F811
    first = pv_event(case="10-000006-25")
    rt.exchange.submit(principal=partner("politie"), events=[first])
    changed = {**first, "subject": "10-000007-25"}
    results = rt.exchange.submit_many(
        [(partner("politie"), [changed]), (partner("politie"), [pv_event(case="10-000008-25")])]
    )
    assert isinstance(results[0], ConflictingEvent)
    assert not isinstance(results[1], Exception) and results[1].accepted == 1
    assert stored(rt) == 2
