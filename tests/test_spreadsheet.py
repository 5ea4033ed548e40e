"""The spreadsheet guard: what a spreadsheet would run is shown as text, and read back whole."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from ketenherstel.spreadsheet import FORMULA_START, guard, guard_reversibly, unguard


def test_a_text_that_would_run_is_put_behind_an_apostrophe() -> None:
    for start in FORMULA_START:
        assert guard(f"{start}HYPERLINK(1)") == f"'{start}HYPERLINK(1)"
    assert guard("13-100001-25") == "13-100001-25"
    assert guard("'quoted") == "'quoted"  # not read back: left as it is
    assert guard_reversibly("'quoted") == "''quoted"
    assert guard_reversibly("=1+1") == "'=1+1"


@given(st.text())
def test_what_is_guarded_reversibly_is_read_back_exactly(text: str) -> None:
    written = guard_reversibly(text)
    assert not written.startswith(FORMULA_START)
    assert unguard(written) == text
