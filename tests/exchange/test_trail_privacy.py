"""A partner reading a message's trail sees which change held or opened it, never who made it."""

from __future__ import annotations

from ketenherstel.bootstrap import Runtime
from tests.exchange.test_isolation import OP_A, OP_B, om_afdoening, partner, rt  # noqa: F401
from tests.factories import pv_event


def test_partners_see_holds_without_the_operators_names(rt: Runtime) -> None:  # noqa: F811
    ex = rt.exchange
    ex.set_partner_state(principal=OP_A, partner="om", state="isolated", reason="Citrix")
    event = pv_event(case="10-000009-25")
    ex.submit(principal=partner("politie"), events=[event])
    ex.set_partner_state(principal=OP_A, partner="om", state="returning", reason="back")
    ex.set_channel(principal=OP_B, receiver="om", sender="politie", state="open", reason="wave 2")
    as_operator = ex.trail(principal=OP_A, source=event["source"], id=event["id"])
    caused = [e for e in as_operator.entries if e.cause is not None]
    assert {e.event for e in caused} >= {"held", "opened"}
    assert {e.actor for e in caused} <= {"op-a", "op-b"}
    as_sender = ex.trail(principal=partner("politie"), source=event["source"], id=event["id"])
    hidden = [e for e in as_sender.entries if e.cause is not None]
    assert [e.event for e in hidden] == [e.event for e in caused]
    for entry in hidden:
        assert entry.actor == "operator" and entry.cause is not None
        assert entry.cause.actor == "operator"
        assert "op-a" not in entry.detail and "op-b" not in entry.detail
    assert "Citrix" in " ".join(e.detail for e in hidden)  # the why stays visible
