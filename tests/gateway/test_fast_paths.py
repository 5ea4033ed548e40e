"""The scan's shortcuts give what the plain way gives (issue 6's speed work): each is checked
against the code it replaced, kept here as the reference, on generated input."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ketenherstel.gateway import parse as parse_mod
from ketenherstel.gateway import watch as watch_mod
from ketenherstel.gateway.parse import (
    _ACCESS_HTTPD,
    _ACCESS_NSWL,
    _DASHFIX,
    _PRI,
    _RFC3164,
    _TAGS,
    Event,
    LineParser,
    _after,
    split_fields,
)
from ketenherstel.gateway.sigma import load_sigma
from ketenherstel.gateway.watch import Watch, load_rules, scan
from tests.gateway.lines import login, ns, request

# -- the references: the code as it was before the shortcuts -----------------------------------

_OLD_DASHFIX = re.compile(r"(\d)- (?=[A-Z])")
_OLD_FAKE_HEADER = re.compile(
    r"\d{2}/\d{2}/\d{4}:\d{2}:\d{2}:\d{2}[^\"]*PPE-\d+ : default [A-Z]+ [A-Z_]+ \d+", re.S
)


def reference_split_fields(body: str) -> dict[str, str]:
    body = _OLD_DASHFIX.sub(r"\1 - ", body)
    out: dict[str, str] = {}
    segments: list[str] = []
    for index, piece in enumerate(body.split('"')):
        parts = piece.split(" - ") if index % 2 == 0 else [piece]
        if index % 2 == 1:
            segments[-1] += '"' + piece + '"'
            continue
        if segments:
            segments[-1] += parts[0]
            segments.extend(parts[1:])
        else:
            segments.extend(parts)
    for segment in segments:
        segment = segment.strip()
        if not segment:
            continue
        key, _, value = segment.partition(" ")
        key = key.rstrip(":")
        value = value.strip()
        if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
            value = value[1:-1]
        if value.startswith('\\"') and value.endswith('\\"') and len(value) >= 4:
            value = value[2:-2]
        out.setdefault(key, value.replace('\\"', '"'))
    return out


def reference_time(a: str, b: str, y: str, hms: str, order: str) -> float | None:
    month, day = (int(a), int(b)) if order == "mdy" else (int(b), int(a))
    try:
        h, mi, s = (int(x) for x in hms.split(":"))
        return datetime(int(y), month, day, h, mi, s, tzinfo=UTC).timestamp()
    except ValueError:
        return None


# What field bodies are made of: the separators, quotes, escapes and digits the splitter cares
# about, some letters and a non-ASCII byte.
FIELD_TEXT = st.text(alphabet=' -"\\:019AZaz_\t()@.\xe9', max_size=60)


@settings(max_examples=400, deadline=None)
@given(FIELD_TEXT)
def test_split_fields_gives_what_the_reference_gives(body: str) -> None:
    assert split_fields(body) == reference_split_fields(body)


@settings(max_examples=400, deadline=None)
@given(FIELD_TEXT)
def test_the_dash_fix_replaces_what_the_old_pattern_replaced(body: str) -> None:
    assert _DASHFIX.sub(" - ", body) == _OLD_DASHFIX.sub(r"\1 - ", body)


def test_split_fields_on_real_shapes() -> None:
    body = (
        'Context u@x@198.18.0.2 - SessionId: 7 - User u@x - Client_ip 198.18.0.2 - Nat_ip "Mapped'
        ' Ip" - Browser_type "a - b \\"c\\"" - Duration 00:00:01- Total_bytes_send 10 - '
        'Group(s) \\"STAF\\" - User second'
    )
    assert split_fields(body) == reference_split_fields(body)
    assert split_fields(body)["Total_bytes_send"] == "10"
    assert split_fields(body)["User"] == "u@x"


TWO_DIGITS = st.text(alphabet="0123456789", min_size=2, max_size=2)


@settings(max_examples=500, deadline=None)
@given(
    TWO_DIGITS,
    TWO_DIGITS,
    st.text(alphabet="0123456789", min_size=4, max_size=4),
    st.tuples(TWO_DIGITS, TWO_DIGITS, TWO_DIGITS).map(":".join),
    st.sampled_from(["mdy", "dmy"]),
)
def test_native_time_gives_what_datetime_gives(
    a: str, b: str, y: str, hms: str, order: str
) -> None:
    """Days are kept by the parser; impossible days, hours, minutes and seconds are refused
    as datetime refuses them (month 13, 30 February, 24:00:00, year 0000)."""
    parser = LineParser(order)
    line = f"<134> {a}/{b}/{y}:{hms} GMT gw 0-PPE-0 : default SSLVPN LOGOUT 5 0 : User x"
    expected = reference_time(a, b, y, hms, order)
    for _ in range(2):  # the second time from the parser's kept days
        event = parser.parse(line)
        assert (None if event is None else event.at) == expected


def test_a_parser_keeps_a_bounded_number_of_days(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parse_mod, "_DAYS_KEPT", 3)
    parser = LineParser()
    for day in range(1, 29):
        line = f"<134> 02/{day:02d}/2025:10:00:00 GMT gw 0-PPE-0 : default SSLVPN LOGOUT 5 0 : x"
        event = parser.parse(line)
        assert event is not None
        assert event.at == datetime(2025, 2, day, 10, tzinfo=UTC).timestamp()
        assert len(parser._days) <= 3


@settings(max_examples=400, deadline=None)
@given(TWO_DIGITS, st.text(alphabet=' -"1A:a.[]/<>GMT', max_size=40))
def test_a_native_header_fits_no_other_shape(digits: str, rest: str) -> None:
    """What lets parse go straight to the native shape: a body starting with two digits and a
    "/" is no RFC 5424 or RFC 3164 line, and no access log line."""
    body = digits + "/" + rest
    assert not body.startswith("1 ")
    assert _RFC3164.match(body) is None
    assert _ACCESS_NSWL.match(body) is None
    assert _ACCESS_HTTPD.match(body) is None


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=" <>[]134xa\t", max_size=30))
def test_after_cuts_what_sub_would(text: str) -> None:
    for prefix in (_PRI, _TAGS):
        assert _after(prefix, text) == prefix.sub("", text)


@settings(max_examples=400, deadline=None)
@given(
    st.text(alphabet='0123456789/: "PPE-defaultSLVNOGI_A', max_size=40),
    st.text(alphabet='0123456789/: "PPE-defaultSLVNOGI_A', max_size=40),
    st.booleans(),
)
def test_the_fake_header_rule_finds_what_the_old_pattern_found(
    before: str, after: str, forged: bool
) -> None:
    rule = next(r for r in load_rules().lines if r.id == "log-poisoning-fake-header")
    header = "01/02/2025:10:11:12 h 0-PPE-1 : default SSLVPN LOGIN 12" if forged else ""
    text = before + header + after
    event = Event("f", 0, None, "", "SSLVPN LOGOUT", 1, {}, text)
    assert rule.matches(event) == (_OLD_FAKE_HEADER.search(text) is not None)


# -- the rules a scan runs on an event of a kind ------------------------------------------------

SIGMA = """
title: Login with a scripted agent, any case of kind
name: scripted
logsource: {product: citrix, service: netscaler}
detection:
  selection:
    kind: sslvpn login
    Browser_type|contains: curl
  condition: selection
level: high
---
title: Either of two kinds
name: either
logsource: {product: citrix, service: netscaler}
detection:
  one:
    kind: AAA Message
  two:
    kind|contains: LOGOUT
  condition: one or two
level: low
---
title: Not a logout
name: not-logout
logsource: {product: citrix, service: netscaler}
detection:
  sel:
    kind: SSLVPN LOGOUT
  condition: not sel
level: low
---
title: Keyword
name: keyword
logsource: {product: citrix, service: netscaler}
detection:
  keywords:
    - curl
  condition: keywords
level: low
---
title: Two kinds at once
name: never
logsource: {product: citrix, service: netscaler}
detection:
  a:
    kind: SSLVPN LOGIN
  b:
    kind: SSLVPN LOGOUT
  condition: a and b
level: low
"""


def test_sigma_rules_know_the_kinds_they_can_match(tmp_path: Path) -> None:
    path = tmp_path / "r.yml"
    path.write_text(SIGMA, encoding="utf-8")
    kinds = {r.id: r.kinds for r in load_sigma([path])}
    assert kinds == {
        "scripted": frozenset({"sslvpn login"}),
        "either": None,  # kind|contains: any kind may contain it
        "not-logout": None,
        "keyword": None,
        "never": frozenset(),
    }


KINDS = st.sampled_from(
    ["SSLVPN LOGIN", "sslvpn login", "SSLVPN LOGOUT", "AAA Message", "ACCESS", "CLI CMD_EXECUTED"]
)


@pytest.fixture(scope="module")
def all_rules(tmp_path_factory: pytest.TempPathFactory) -> watch_mod.Rules:
    path = tmp_path_factory.mktemp("sigma") / "r.yml"
    path.write_text(SIGMA, encoding="utf-8")
    return load_rules(sigma=[path])


@settings(max_examples=300, deadline=None)
@given(
    KINDS,
    st.sampled_from(["", "curl/8", "Mozilla"]),
    st.sampled_from(["x", "curl", "Authentication is rejected for \xe9", "POST"]),
    st.sampled_from(["", "POST"]),
)
def test_a_scan_runs_every_rule_that_matches(
    all_rules: watch_mod.Rules, kind: str, agent: str, text: str, method: str
) -> None:
    fields = {"Browser_type": agent, "method": method, "uri": "/p/u/doAuthentication.do"}
    event = Event("f", 0, None, "", kind, 1, fields, text)
    watch = Watch(all_rules)
    every = [r.id for r in all_rules.lines if r.matches(event)]
    assert [r.id for r in watch._rules_for(kind) if r.matches(event)] == every
    assert watch._rules_of[kind] == watch._rules_for(kind)


def test_rules_are_kept_for_a_bounded_number_of_kinds(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(watch_mod, "_KINDS_KEPT", 2)
    log = tmp_path / "ns.log"
    lines = [ns(i, f"MOD{i} EVENT{i}", "User x") for i in range(5)]
    lines.append(ns(6, "AAA Message", '"Authentication is rejected for \xe9\xe9"'))
    log.write_bytes("".join(lines).encode("latin-1"))
    watch = Watch()
    watch.scan_file(log)
    result = watch.finish()
    assert len(watch._rules_of) == 2
    assert [f.rule for f in result.findings] == ["cb2-aaa-leaked-bytes"]


def test_login_networks_are_kept_for_a_bounded_number_of_addresses(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A user who logged in from 198.51.100.0/24 may move within it: a hijack is found only on
    the move to a network never logged in from, however few networks the scan keeps."""
    monkeypatch.setattr(watch_mod, "_NETS_KEPT", 1)
    log = tmp_path / "ns.log"
    log.write_bytes(
        "".join(
            [
                login(0, "1", "u@x.example", "198.51.100.7"),
                login(1, "2", "u@x.example", "203.0.113.9"),
                request(2, "1", "u@x.example", "203.0.113.10"),
                login(3, "3", "v@x.example", "192.0.2.1"),
                request(4, "3", "v@x.example", "100.64.0.1"),
            ]
        ).encode("latin-1")
    )
    result = scan([log])
    hijacked = sorted(f.session for f in result.findings if f.rule == "session-hijack")
    assert hijacked == ["3"]
