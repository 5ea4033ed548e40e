"""CloudEvents 1.0 String attributes: no control characters (U+0000-U+001F, U+007F-U+009F),
surrogates or noncharacters, in every attribute an event carries (an extension's too), and
checked cheaply on the ingest path (a str.isprintable fast path before one regex)."""

from __future__ import annotations

import sys
import unicodedata
from typing import Any

import pytest

from ketenherstel.chain import load_chain
from ketenherstel.exchange.envelope import Limits, _outside_a_string, check_events
from tests.factories import pv_event

CHAIN = load_chain(None)


def check(event: dict[str, Any]) -> list[tuple[str, str]]:
    envelopes, problems = check_events(
        [event],
        limits=Limits(),
        known_type=lambda t: CHAIN.message_type(t) is not None,
        validate_data=CHAIN.validate_data,
    )
    assert bool(envelopes) is not bool(problems)
    return [(p.field, p.reason) for p in problems]


def _not_allowed(code: int) -> bool:
    """CloudEvents 1.0's rule for a String, as the specification words it."""
    return (
        code <= 0x1F
        or 0x7F <= code <= 0x9F
        or 0xD800 <= code <= 0xDFFF
        or 0xFDD0 <= code <= 0xFDEF
        or code & 0xFFFE == 0xFFFE
    )


def test_every_code_point_a_string_may_not_hold_is_found_over_all_of_unicode() -> None:
    """The isprintable fast path skips none (each is Cc, Cs or Cn), nothing else is refused,
    and the answer is the first."""
    wrong = []
    for code in range(sys.maxunicode + 1):
        ch = chr(code)
        refused = _not_allowed(code)
        if refused and ch.isprintable():
            wrong.append(f"U+{code:04X} passes the fast path")
        found = _outside_a_string(f"ab{ch}c\x01")  # called for a text that is not printable
        if found != (ch if refused else "\x01"):
            wrong.append(f"U+{code:04X} ({unicodedata.category(ch)}): {found!r}")
    assert wrong == []


@pytest.mark.parametrize(
    ("field", "value", "named"),
    [
        ("id", "ctl\x00\x1b[31mred\x7f", "U+0000"),
        ("id", "c1\x85", "U+0085"),
        ("partitionkey", "pk\x00", "U+0000"),
        ("subject", "10-000001-25\x1b[2J", "U+001B"),
        ("subject", "nul\x00", "U+0000"),
        ("source", "urn:nld:oin:00000001003214345000:systeem:bv\n", "U+000A"),
        ("type", "nl.x\x9f", "U+009F"),
        ("dataschema", "https://example.org/\x07", "U+0007"),
        ("datacontenttype", "application/json\r\n", "U+000D"),
        ("traceparent", "00-\x1b-01", "U+001B"),  # an extension of string type
        ("subject", "nonchar\ufdd0", "U+FDD0"),
        ("subject", "nonchar\U0010ffff", "U+10FFFF"),
    ],
)
def test_a_string_attribute_with_a_character_cloudevents_disallows_is_refused_naming_both(
    field: str, value: str, named: str
) -> None:
    problems = check(pv_event(**{field: value}))
    said = f"'{field}' holds {named}: a CloudEvents string has no control characters"
    assert any(name == field and reason.startswith(said) for name, reason in problems), problems


@pytest.mark.parametrize(
    "subject",
    ["10-000001-25", "zaak\u00a0één", "links\u202erechts", "emoji \U0001f600", "tab-free é"],
)
def test_what_a_string_may_hold_passes(subject: str) -> None:
    """A no-break space, a formatting character or an emoji is a CloudEvents string (the
    profile's rule is the control characters, surrogates and noncharacters)."""
    assert check(pv_event(subject=subject)) == []


def test_data_is_no_attribute_and_an_extension_number_is_no_string() -> None:
    event = pv_event(extnumber=5, extflag=True)
    event["data"]["policeCaseNumber"] = "PL1300-2025123456"
    assert check(event) == []
