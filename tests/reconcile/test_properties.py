"""Property: a random ledger with random injected faults is classified exactly as injected."""

from __future__ import annotations

import tempfile
from datetime import timedelta
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.reconcile.helpers import COLUMNS, details, row, run, write

FAULTS = ("ok", "missing-b", "missing-a", "conflicting", "dup-a", "dup-b", "late", "resent")


@st.composite
def ledgers(
    draw: st.DrawFn,
) -> tuple[list[dict[str, object]], list[dict[str, object]], dict[str, set[str]]]:
    """Records m0..mN each with one fault; types and senders drawn; the expected classes."""
    n = draw(st.integers(min_value=0, max_value=40))
    faults = draw(st.lists(st.sampled_from(FAULTS), min_size=n, max_size=n))
    types = draw(st.lists(st.sampled_from(["t.a", "t.b", "t.c"]), min_size=n, max_size=n))
    senders = draw(st.lists(st.sampled_from(["om", "politie"]), min_size=n, max_size=n))
    a: list[dict[str, object]] = []
    b: list[dict[str, object]] = []
    expect: dict[str, set[str]] = {f: set() for f in FAULTS}
    for i, (fault, type_name, sender) in enumerate(zip(faults, types, senders, strict=True)):
        ident = f"m{i}"
        rec = row(ident, type=type_name, sender=sender, source=sender, sequence=i)
        expect[fault].add(ident)
        if fault == "missing-b":
            a.append(rec)
        elif fault == "missing-a":
            b.append(rec)
        elif fault == "conflicting":
            a.append(rec)
            b.append({**rec, "hash": "other"})
        elif fault == "dup-a":
            a += [rec, rec]
            b.append(rec)
        elif fault == "dup-b":
            a.append(rec)
            b += [rec, rec]
        elif fault == "late":
            a.append(rec)
            b.append({**rec, "recorded_at": "2025-07-20T10:00:00+02:00"})
        elif fault == "resent":
            # The sender re-sent the fact under a new id; the exchange folded it into the first.
            a += [rec, {**rec, "id": ident + "-bis"}]
            b.append(rec)
        else:
            a.append(rec)
            b.append(rec)
    order = draw(st.randoms(use_true_random=False))
    order.shuffle(a)
    order.shuffle(b)
    return a, b, expect


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ledgers(), st.booleans())
def test_random_faults_are_classified_as_injected(
    case: tuple[list[dict[str, object]], list[dict[str, object]], dict[str, set[str]]],
    hwm: bool,
) -> None:
    a, b, expect = case
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        cols = list(COLUMNS)
        report = run(
            tmp,
            [f"sent={write(tmp / 'a.csv', a, cols)}", f"accepted={write(tmp / 'b.csv', b, cols)}"],
            limits={"*": timedelta(days=7)} if expect["late"] else None,
            hwm=hwm,
        )
        found: dict[str, set[str]] = {}
        for d in details(report):
            key = {
                ("missing", "accepted"): "missing-b",
                ("missing", "sent"): "missing-a",
                ("conflicting", None): "conflicting",
                ("late", None): "late",
                ("duplicate", "sent"): "dup-a",
                ("duplicate", "accepted"): "dup-b",
                ("matched-bkey", "sent"): "resent",
                ("duplicate-bkey", "sent"): "resent-bkey",
            }[(d["class"], d["hop"])]
            found.setdefault(key, set()).add(str(d["id"] if d["id"] else d["bkey"]))
        totals = report.to_json()["pairs"][0]["totals"]
    for fault in ("missing-b", "missing-a", "conflicting", "late", "dup-a", "dup-b"):
        assert found.get(fault, set()) == expect[fault], fault
    assert found.get("resent", set()) == {i + "-bis" for i in expect["resent"]}
    assert found.get("resent-bkey", set()) == {f"k-{i}" for i in expect["resent"]}
    ok = len(expect["ok"]) + len(expect["dup-a"]) + len(expect["dup-b"]) + len(expect["resent"])
    assert totals["matched"] == ok
    assert totals["missingAtTo"] == len(expect["missing-b"])
    assert totals["missingAtFrom"] == len(expect["missing-a"])
    assert totals["conflicting"] == len(expect["conflicting"])
    assert totals["late"] == len(expect["late"])
    assert totals["duplicateFrom"] == len(expect["dup-a"])
    assert totals["duplicateTo"] == len(expect["dup-b"])
    assert totals["matchedByBusinessKeyFrom"] == len(expect["resent"])
