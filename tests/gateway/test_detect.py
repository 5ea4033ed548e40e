"""Detections on constructed logs whose answer is known, true and false positives both."""

from __future__ import annotations

import gzip
import re
import time
from datetime import timedelta
from pathlib import Path

import pytest

from ketenherstel.gateway.watch import GatewayInputError, Watch, load_rules, scan, shown
from tests.gateway.lines import T0, access_probe, connstat, login, logout, ns, probe, request


def write(path: Path, *lines: str) -> Path:
    path.write_bytes("".join(lines).encode("latin-1"))
    return path


def rules_of(result: object) -> list[str]:
    return [f.rule for f in result.findings]  # type: ignore[attr-defined]


def test_a_citrixbleed_2_probe_is_found_with_its_evidence(tmp_path: Path) -> None:
    log = write(tmp_path / "ns.log", login(0, "1", "ann", "198.51.100.7"), probe(5))
    r = scan([log])
    [finding] = [f for f in r.findings if f.rule == "cb2-aaa-leaked-bytes"]
    assert finding.confidence == "high"
    assert [str(e) for e in finding.evidence] == [
        f"{log}:{len(login(0, '1', 'ann', '198.51.100.7'))}"
    ]
    # The leaked memory (a session token may be in it, ASCII or not) goes nowhere: only its
    # length is in the finding, and so in the register, the SOC's feeds and the reports.
    assert finding.detail == (
        "Authentication is rejected for [10 bytes of leaked memory, not shown]"
    )


def test_no_finding_on_a_probe_line_carries_the_leaked_memory(tmp_path: Path) -> None:
    """The leak holds control bytes, so log poisoning matches the same line: its finding must
    not show the ASCII part of the leak (a session token) either."""
    log = write(tmp_path / "ns.log", probe(5, leaked=b"\xa0\x02SESSIONTOKEN=abc123deadbeef"))
    found = scan([log]).findings
    assert {"cb2-aaa-leaked-bytes", "log-poisoning-control"} <= {f.rule for f in found}
    for f in found:
        assert "SESSIONTOKEN" not in f.detail and "abc123" not in f.detail, f.rule
    [poison] = [f for f in found if f.rule == "log-poisoning-control"]
    assert poison.detail.endswith("[29 bytes of the rejected name, not shown]")


def test_a_finding_shows_no_control_bytes_or_other_bytes_outside_ascii(tmp_path: Path) -> None:
    log = write(
        tmp_path / "ns.log",
        ns(
            1, "AAA LOGIN_FAILED", "User ev\x1b[2Jil\xe9 - Client_ip 203.0.113.9 - Failure_reason x"
        ),
    )
    [finding] = [f for f in scan([log]).findings if f.rule == "log-poisoning-control"]
    assert finding.user == "ev[1 bytes][2Jil[1 bytes]"
    assert "\x1b" not in finding.detail and "[1 bytes][2Jil[1 bytes]" in finding.detail
    assert shown("plain text: 1-2 = 3") == "plain text: 1-2 = 3"


def test_a_probe_whose_leaked_memory_holds_a_quote_is_found(tmp_path: Path) -> None:
    """The message was cut at its first '"', so the bytes 0x80-0xFF after it went unseen and
    no rule matched (a review): random memory holds quotes as readily as anything."""
    log = write(tmp_path / "ns.log", probe(10, b'AB"\xa0\x91\xfeSECRET'))
    found = [f for f in scan([log]).findings if f.rule == "cb2-aaa-leaked-bytes"]
    assert len(found) == 1
    assert "SECRET" not in found[0].detail  # still only its length is shown


def test_a_line_not_parsed_shows_no_token_it_may_hold(tmp_path: Path) -> None:
    """A newline in a probe's leaked memory put the rest on a line of its own, unparsed, and
    its text (a session token) went to the console and --json (a gateway review)."""
    log = write(
        tmp_path / "ns.log", probe(10, b"\xa0\x91\nNSC_AAAC=0123456789abcdefSECRETTOKEN\xfe")
    )
    r = scan([log])
    kept = [text for _, _, text in r.unparsed_kept]
    assert kept and all("SECRET" not in t and "0123456789" not in t for t in kept), kept
    assert "[" in kept[-1] and "characters]" in kept[-1]


def test_a_rejected_name_without_leaked_bytes_is_not_a_probe(tmp_path: Path) -> None:
    log = write(tmp_path / "ns.log", probe(5, leaked=b"ann.jansen"))
    assert "cb2-aaa-leaked-bytes" not in rules_of(scan([log]))


def test_access_log_probes(tmp_path: Path) -> None:
    log = write(
        tmp_path / "access.log",
        access_probe(1, "203.0.113.9"),
        "2025-07-10 08:02:00 gw1 - HTTP/1.1 203.0.113.10 5 GET "
        "/oauth/idp/.well-known/openid-configuration - 200 5 9 " + "H" * 200 + "\n",
        "2025-07-10 08:03:00 gw1 ann HTTP/1.1 198.51.100.7 5 POST /p/u/doAuthentication.do - "
        '200 900 100 "Mozilla/5.0" username=ann&password=x\n',
    )
    found = rules_of(scan([log]))
    assert found.count("cb2-access-bare-login") == 1
    assert found.count("cb2-access-doauth") == 1  # the ordinary logon: low confidence only
    assert "cb1-openid-configuration" in found and "cb1-oversized-host" in found


def test_a_session_moving_to_an_unknown_network_is_a_hijack(tmp_path: Path) -> None:
    log = write(
        tmp_path / "ns.log",
        login(0, "7", "ann", "198.51.100.7"),
        connstat(5, "7", "ann", "198.51.100.7", "198.51.100.7", "10.0.0.5:3389"),
        connstat(9, "7", "ann", "198.51.100.7", "203.0.113.66", "10.0.0.9:445"),
    )
    r = scan([log])
    [hijack] = [f for f in r.findings if f.rule == "session-hijack"]
    assert hijack.session == "7" and "203.0.113.66" in hijack.detail
    s = next(iter(r.sessions.values()))
    assert s.addresses.keys() == {"198.51.100.7", "203.0.113.66"}
    assert s.reached == {"10.0.0.5:3389": 1, "10.0.0.9:445": 1}


def test_a_hijack_is_stamped_with_the_time_and_address_of_the_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The finding carried the session's last time and its first address (the employee's):
    now the time of the line where the session moved and the address it moved to, or, for a
    user agent that changes, the time and address of that line; the evidence keeps its lines
    (and so the finding its id)."""
    lines = [
        login(0, "7", "ann", "198.51.100.7"),
        *(
            connstat(m, "7", "ann", "198.51.100.7", "198.51.100.7", "10.0.0.5:3389")
            for m in range(6)
        ),
        connstat(9, "7", "ann", "198.51.100.7", "203.0.113.66", "10.0.0.9:445"),  # the move
        connstat(40, "7", "ann", "198.51.100.7", "198.51.100.7", "10.0.0.5:3389"),
        connstat(50, "7", "ann", "198.51.100.7", "203.0.113.66", "10.0.0.9:445"),
    ]
    log = write(tmp_path / "ns.log", *lines)
    offset = sum(len(line) for line in lines[:7])
    at = (T0 + timedelta(minutes=9)).timestamp()
    from ketenherstel.gateway import ranges

    monkeypatch.setattr(ranges, "SPLIT_MIN_BYTES", 0)
    for workers in (1, 2, 3):  # split, the move is read in another process and merged
        watch = Watch(load_rules())
        watch.scan_file(log, workers=workers)
        assert len(ranges.splits(log, workers, watch)) == workers
        [hijack] = [f for f in watch.finish().findings if f.rule == "session-hijack"]
        assert (hijack.at, hijack.address) == (at, "203.0.113.66"), workers
        assert [str(e) for e in hijack.evidence] == [f"{log}:0", f"{log}:{offset}"]
        assert "from 198.51.100.7 to 203.0.113.66" in hijack.detail
    # A user agent that changes mid-session (a second login line of the same session).
    agent = write(
        tmp_path / "agent.log",
        login(0, "8", "bob", "198.51.100.8"),
        login(12, "8", "bob", "198.51.100.8", agent="python-requests/2.31"),
        connstat(30, "8", "bob", "198.51.100.8", "198.51.100.8", "10.0.0.5:3389"),
    )
    [hijack] = [f for f in scan([agent]).findings if f.rule == "session-hijack"]
    assert hijack.confidence == "medium" and "python-requests" in hijack.detail
    assert (hijack.at, hijack.address) == ((T0 + timedelta(minutes=12)).timestamp(), "198.51.100.8")


def test_a_user_moving_between_two_known_offices_is_not_a_hijack(tmp_path: Path) -> None:
    lines = (
        login(0, "7", "ann", "198.51.100.7"),
        connstat(9, "7", "ann", "198.51.100.7", "192.0.2.44", "10.0.0.9:445"),
    )
    log = write(tmp_path / "ns.log", *lines)
    assert "session-hijack" in rules_of(scan([log]))
    assert "session-hijack" not in rules_of(scan([log], allow=["192.0.2.0/24"]))
    # A network the same user logged in from before is known too.
    earlier = write(tmp_path / "e.log", login(-60, "3", "ann", "192.0.2.10"), *lines)
    assert "session-hijack" not in rules_of(scan([earlier]))
    # Within the same /24 the address may change (a NAT pool).
    same = write(
        tmp_path / "s.log",
        login(0, "7", "ann", "198.51.100.7"),
        connstat(9, "7", "ann", "198.51.100.7", "198.51.100.99", "10.0.0.9:445"),
    )
    assert "session-hijack" not in rules_of(scan([same]))


def test_a_hijack_is_found_whatever_order_the_files_are_given_in(tmp_path: Path) -> None:
    """Given newest first (as a rotated log lists), the attacker's address was taken for the
    one the session began from, and the user's own was cleared as its login network (a
    review): the session's addresses are ordered by time, not by the files' order."""
    old = write(
        tmp_path / "ns.log.1",
        login(0, "1", "jan", "198.51.100.10"),
        connstat(5, "1", "jan", "198.51.100.10", "198.51.100.10", "10.0.0.5:3389"),
    )
    new = write(
        tmp_path / "ns.log",
        connstat(70, "1", "jan", "198.51.100.10", "203.0.113.9", "10.0.0.9:445"),
    )
    for files, workers in (([old, new], 1), ([new, old], 1), ([new, old], 2)):
        r = scan(files, workers=workers)
        [hijack] = [f for f in r.findings if f.rule == "session-hijack"]
        assert "from 198.51.100.10 to 203.0.113.9" in hijack.detail, files
        assert str(hijack.evidence[0]) == f"{old}:0", files  # where the session began
        [s] = r.sessions.values()
        assert s.to_json()["addresses"] == ["198.51.100.10", "203.0.113.9"], files


def test_a_user_agent_change_is_found_whatever_order_the_files_are_given_in(
    tmp_path: Path,
) -> None:
    """As the addresses: given newest first, the user's own browser was the one the session
    "changed to" (a review of aa33faf)."""
    old = write(tmp_path / "b.log.1", login(0, "1", "jan", "198.51.100.10", agent="Mozilla (u)"))
    new = write(
        tmp_path / "b.log",
        ns(
            70,
            "SSLVPN TCPCONNSTAT",
            "Context jan@198.51.100.10 - SessionId: 1 - User jan - Client_ip 198.51.100.10 - "
            'Vserver 192.0.2.10:443 - Browser_type "curl/8.0 (attacker)" - '
            "Destination 10.0.0.5:3389",
        ),
    )
    said = set()
    for files, workers in (([old, new], 1), ([new, old], 1), ([new, old], 2)):
        [hijack] = [f for f in scan(files, workers=workers).findings if f.rule == "session-hijack"]
        assert "user agent changed to 'curl/8.0 (attacker)'" in hijack.detail, files
        said.add((hijack.at, hijack.detail))
    assert len(said) == 1


def test_an_ipv4_address_written_as_ipv6_is_that_ipv4_address(tmp_path: Path) -> None:
    """A dual-stack listener logs 198.51.100.7 as ::ffff:198.51.100.7. Read as two addresses,
    a move between the forms was a hijack, and the allowlist entry ::ffff:0:0/96, whose width
    was judged as IPv6, cleared every IPv4 move written so (a review allowed it)."""
    log = write(
        tmp_path / "ns.log",
        login(0, "7", "ann", "::ffff:198.51.100.7"),
        connstat(5, "7", "ann", "198.51.100.7", "198.51.100.7", "10.0.0.5:3389"),
        connstat(9, "7", "ann", "198.51.100.7", "::FFFF:203.0.113.66", "10.0.0.9:445"),
    )
    r = scan([log])
    [hijack] = [f for f in r.findings if f.rule == "session-hijack"]
    assert "from 198.51.100.7 to 203.0.113.66" in hijack.detail
    assert hijack.address == "203.0.113.66"
    [s] = r.sessions.values()
    assert s.addresses.keys() == {"198.51.100.7", "203.0.113.66"}
    for wide in ("::ffff:0:0/96", "::/16", "::ffff:10.0.0.0/100"):
        with pytest.raises(GatewayInputError, match="too wide"):
            scan([log], allow=[wide])
    # A mapped network is the IPv4 network it writes, and clears as that.
    assert "session-hijack" not in rules_of(scan([log], allow=["::ffff:203.0.113.0/120"]))
    assert "session-hijack" in rules_of(scan([log], allow=["::ffff:192.0.2.0/120"]))


def test_a_session_used_after_its_logout(tmp_path: Path) -> None:
    """Its logout was recorded and no rule read it (a gateway review): a session used well
    after it was logged out had its token outlive the logout. What a gateway writes as the
    session ends, just after the logout line, is no such use."""
    lines = (
        login(2, "300", "kees", "192.0.2.30"),
        logout(40, "300", "kees", "192.0.2.30"),
        connstat(41, "300", "kees", "192.0.2.30", "192.0.2.30", "10.0.0.5:3389"),
    )
    assert "session-after-logout" not in rules_of(scan([write(tmp_path / "ok.log", *lines)]))
    used = (*lines, request(60, "300", "kees", "192.0.2.30"))
    log = write(tmp_path / "used.log", *used)
    [found] = [f for f in scan([log]).findings if f.rule == "session-after-logout"]
    assert (found.confidence, found.session) == ("high", "300")
    offsets = [e.offset for e in found.evidence]
    assert offsets == [len(lines[0]), sum(len(x) for x in lines)]  # the logout, the use
    assert found.at == (T0 + timedelta(minutes=60)).timestamp()
    # The log grows: the same finding (it was stamped with the last use, a new one each day a
    # growing log was scanned again; a review).
    grown = write(tmp_path / "grown.log", *used, request(90, "300", "kees", "198.51.100.99"))
    [again] = [f for f in scan([grown]).findings if f.rule == "session-after-logout"]
    assert (again.at, again.evidence[1].offset, again.address) == (
        found.at,
        found.evidence[1].offset,
        "192.0.2.30",
    )
    # Files given newest first: the same finding.
    older = write(tmp_path / "a.log.1", *lines)
    newer = write(tmp_path / "a.log", request(60, "300", "kees", "192.0.2.30"))
    assert "session-after-logout" in rules_of(scan([newer, older]))


def test_leak_then_replay_inside_and_outside_the_window(tmp_path: Path) -> None:
    inside = write(
        tmp_path / "in.log",
        login(-600, "1", "bob", "198.51.100.7"),
        probe(0),
        request(10, "42", "carol", "203.0.113.66"),
    )
    # The probe's own address is the access log's; a native AAA line has none, so give it one.
    r = scan([inside, write(tmp_path / "a.log", access_probe(0, "203.0.113.9"))])
    replay = [f for f in r.findings if f.rule == "leak-then-replay"]
    assert len(replay) == 1 and replay[0].session == "42"
    assert replay[0].confidence == "high"  # the session has no login
    outside = write(tmp_path / "out.log", request(45, "43", "carol", "203.0.113.66"))
    r = scan([write(tmp_path / "a2.log", access_probe(0, "203.0.113.9")), outside])
    assert "leak-then-replay" not in rules_of(r)
    same = write(tmp_path / "same.log", request(10, "44", "carol", "203.0.113.9"))
    r = scan([write(tmp_path / "a3.log", access_probe(0, "203.0.113.9")), same])
    assert "leak-then-replay" not in rules_of(r)  # first seen from the probing address itself
    # Carol's own session, begun before the log did, from the network she logs in from: no
    # replay (each ordinary session after a probe at the log's start was one; a review).
    own = write(
        tmp_path / "own.log",
        login(-600, "41", "carol", "203.0.113.20"),
        probe(0),
        request(10, "42", "carol", "203.0.113.66"),
    )
    r = scan([own, write(tmp_path / "a4.log", access_probe(0, "203.0.113.9"))])
    assert "leak-then-replay" not in rules_of(r)


def test_a_session_without_login_and_one_alive_after_the_kill(tmp_path: Path) -> None:
    log = write(
        tmp_path / "ns.log",
        login(0, "1", "ann", "198.51.100.7"),
        request(1, "1", "ann", "198.51.100.7"),
        request(13 * 60, "99", "eve", "203.0.113.66"),  # 13 h later, never logged in
        request(14 * 60, "1", "ann", "198.51.100.7"),
    )
    kill = T0.timestamp() + 12 * 3600
    r = scan([log], kill_time=kill)
    no_login = [f for f in r.findings if f.rule == "session-without-login"]
    assert [f.session for f in no_login] == ["99"]
    after = sorted(f.session for f in r.findings if f.rule == "session-after-kill")
    assert after == ["1"]  # 99 began after the kill: a new session, not one that survived it
    early = write(tmp_path / "early.log", request(1, "5", "ann", "198.51.100.7"))
    assert "session-without-login" not in rules_of(scan([early]))  # may predate the log


def test_one_address_with_many_accounts(tmp_path: Path) -> None:
    failed = [
        ns(i, "AAA LOGIN_FAILED", f'User user{i} - Client_ip 203.0.113.5 - Failure_reason "x"')
        for i in range(6)
    ]
    assert rules_of(scan([write(tmp_path / "f.log", *failed)])).count("many-accounts") == 1
    spread = [
        ns(i * 30, "AAA LOGIN_FAILED", f"User user{i} - Client_ip 203.0.113.5 - Failure_reason x")
        for i in range(6)
    ]
    assert "many-accounts" not in rules_of(scan([write(tmp_path / "s.log", *spread)]))
    # One account typed five ways is one account (a gateway review found it flagged), and a
    # login as JAN makes the network known for jan.
    typed = [
        ns(i, "AAA LOGIN_FAILED", f"User {u} - Client_ip 203.0.113.5 - Failure_reason x")
        for i, u in enumerate(("jan@om.nl", "Jan@om.nl", "JAN@om.nl", "jan@OM.NL", "Jan@Om.nl"))
    ]
    assert "many-accounts" not in rules_of(scan([write(tmp_path / "t.log", *typed)]))
    moved = write(
        tmp_path / "m.log",
        login(-60, "3", "JAN@om.nl", "192.0.2.50"),
        login(0, "1", "jan@om.nl", "198.51.100.10"),
        connstat(9, "1", "jan@om.nl", "198.51.100.10", "192.0.2.51", "10.0.0.9:445"),
    )
    assert "session-hijack" not in rules_of(scan([moved]))


def test_log_integrity_silence_and_sequence_going_back(tmp_path: Path) -> None:
    log = write(
        tmp_path / "ns.log",
        ns(0, "SSLVPN LOGOUT", "User a", seq=500_000),
        ns(10, "SSLVPN LOGOUT", "User a", seq=500_010),
        ns(200, "SSLVPN LOGOUT", "User a", seq=500_020),
        ns(201, "SSLVPN LOGOUT", "User a", seq=12),
    )
    found = rules_of(scan([log]))
    assert found.count("log-silence") == 1 and found.count("log-sequence-back") == 1


def test_log_poisoning_and_cli_shell(tmp_path: Path) -> None:
    log = write(
        tmp_path / "ns.log",
        ns(0, "AAA LOGIN_FAILED", "User ann\x1b[2J - Client_ip 203.0.113.5 - Failure_reason x"),
        ns(
            1,
            "CLI CMD_EXECUTED",
            'User nsroot - Remote_ip 10.0.0.1 - Command "shell cat /etc/passwd"',
        ),
        ns(2, "CLI CMD_EXECUTED", 'User nsroot - Remote_ip 10.0.0.1 - Command "show ns ip"'),
    )
    found = rules_of(scan([log]))
    assert found.count("log-poisoning-control") == 1 and found.count("cli-shell-command") == 1


def test_gzip_files_truncated_gzip_and_unparsed_lines_kept(tmp_path: Path) -> None:
    body = (login(0, "1", "ann", "198.51.100.7") + "garbage\n" + probe(1)).encode("latin-1")
    gz = tmp_path / "ns.log.gz"
    gz.write_bytes(gzip.compress(body))
    r = scan([gz])
    assert r.events == 2 and r.unparsed == 1
    assert r.unparsed_kept == [(str(gz), len(login(0, "1", "ann", "198.51.100.7")), "garbage")]
    cut = tmp_path / "cut.log.gz"
    cut.write_bytes(gzip.compress(body * 100)[:-30])
    r = scan([cut])  # read as far as it goes; the rest is a gap in the log, named
    [truncated] = [f for f in r.findings if f.rule == "log-file-truncated"]
    assert r.events > 0 and "unreadable" in truncated.detail
    # Damaged inside (not cut off) was a zlib.error traceback (a gateway review): the same.
    packed = bytearray(gzip.compress(body * 2000))
    packed[200:260] = bytes(b ^ 0xFF for b in packed[200:260])
    damaged = tmp_path / "damaged.log.gz"
    damaged.write_bytes(bytes(packed))
    r = scan([damaged])
    [truncated] = [f for f in r.findings if f.rule == "log-file-truncated"]
    assert "unreadable after byte" in truncated.detail
    binary = write(tmp_path / "bin.log", "\x00\xff\xfe" * 1000 + "\n", probe(1))
    r = scan([binary])
    assert r.unparsed == 1 and r.events == 1


def test_rules_are_data_and_bad_rules_are_named(tmp_path: Path) -> None:
    assert {r.id for r in load_rules().lines} >= {
        "cb2-aaa-leaked-bytes",
        "cb1-openid-configuration",
    }
    bad = tmp_path / "rules.yaml"
    bad.write_text("line_rules:\n  - id: x\n    text: {regex: '('}\n", encoding="utf-8")
    with pytest.raises(GatewayInputError, match="rule x"):
        load_rules(bad)
    bad.write_text("line_rules:\n  - id: y\n    text: {like: a}\n", encoding="utf-8")
    with pytest.raises(GatewayInputError, match="unknown test 'like'"):
        load_rules(bad)
    with pytest.raises(GatewayInputError, match="no network"):
        Watch(allow=["not-a-net"])


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("lines:\n  - id: x\n", "unknown keys lines; a rules file has line_rules and sessions"),
        ("sessions: {}\n", "no line_rules (write line_rules: [] to run without any)"),
        ("[1, 2]\n", "a rules file is a mapping"),
        ("line_rules: 5\n", "line_rules is a list"),
        ("line_rules: []\nsessions: 5\n", "sessions is a mapping"),
        ("line_rules: []\nsessions: {hijak: {}}\n", "sessions.hijak: unknown"),
        (
            "line_rules: []\nsessions: {hijack: {ipv4_prefix: abc}}\n",
            "sessions.hijack.ipv4_prefix: 'abc' is not a whole number from 0 to 32",
        ),
        (
            "line_rules: []\nsessions: {many_accounts: {accounts: 2.5}}\n",
            "sessions.many_accounts.accounts: 2.5 is not a whole number from 2 to 1e+06",
        ),
        (
            "line_rules: []\nsessions: {silence: {confidence: sure}}\n",
            "sessions.silence.confidence: 'sure' is not high, medium or low",
        ),
        # Read by yaml.safe_load, the second regex silently replaced the first.
        (
            "line_rules:\n  - id: x\n    text: {regex: 'NSC_TASS'}\n    text: {regex: 'x'}\n",
            "line 4, column 5: the key 'text' is given twice in one mapping (first on line 3)",
        ),
    ],
)
def test_a_rules_file_that_would_turn_detections_off_or_fail_mid_scan_is_refused(
    tmp_path: Path, text: str, says: str
) -> None:
    bad = tmp_path / "rules.yaml"
    bad.write_text(text, encoding="utf-8")
    with pytest.raises(GatewayInputError, match=re.escape(says)):
        load_rules(bad)


def test_a_contains_test_of_a_number_is_the_text_of_it(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text("line_rules:\n  - id: five\n    text: {contains: 5}\n", encoding="utf-8")
    log = write(tmp_path / "ns.log", probe(5, leaked=b"ann5"))
    assert "five" in rules_of(scan([log], rules=load_rules(rules)))


def test_asns_in_the_ledger_and_a_move_within_one_asn_is_less_telling(tmp_path: Path) -> None:
    from ketenherstel.gateway.asn import load_asn_table

    table = tmp_path / "asn.csv"
    table.write_text(
        "prefix,asn,name\n198.51.100.0/24,64500,Kantoor-ISP\n203.0.113.0/24,64511,VPS-hoster\n"
        "198.51.0.0/16,64501,Breder\n"
    )
    asns = load_asn_table(table)
    assert asns.lookup("198.51.100.7") == "AS64500 Kantoor-ISP"  # the longest prefix
    assert asns.lookup("198.51.7.7") == "AS64501 Breder" and asns.lookup("10.0.0.1") == ""
    away = write(
        tmp_path / "away.log",
        login(0, "7", "ann", "198.51.100.7"),
        connstat(9, "7", "ann", "198.51.100.7", "203.0.113.66", "10.0.0.9:445"),
    )
    r = scan([away], asn=asns)
    [hijack] = [f for f in r.findings if f.rule == "session-hijack"]
    assert (
        hijack.confidence == "high" and "AS64500 Kantoor-ISP -> AS64511 VPS-hoster" in hijack.detail
    )
    assert next(iter(r.sessions.values())).to_json()["asns"] == [
        "AS64500 Kantoor-ISP",
        "AS64511 VPS-hoster",
    ]
    near = write(
        tmp_path / "near.log",
        login(0, "8", "bob", "198.51.7.7"),
        connstat(9, "8", "bob", "198.51.7.7", "198.51.99.8", "10.0.0.9:445"),
    )
    [same] = [f for f in scan([near], asn=asns).findings if f.rule == "session-hijack"]
    assert same.confidence == "medium"  # another address of the same ISP
    bad = tmp_path / "bad.csv"
    bad.write_text("nonsense,1\n")
    with pytest.raises(GatewayInputError, match="row 1: 'nonsense' is not a prefix"):
        load_asn_table(bad)


def test_a_file_missing_between_two_rotated_files_is_a_gap(tmp_path: Path) -> None:
    one = write(
        tmp_path / "ns.log.2", ns(0, "SSLVPN LOGOUT", "User a"), ns(60, "SSLVPN LOGOUT", "User a")
    )
    three = write(tmp_path / "ns.log.0", ns(600, "SSLVPN LOGOUT", "User a"))
    two = write(
        tmp_path / "ns.log.1", ns(61, "SSLVPN LOGOUT", "User a"), ns(599, "SSLVPN LOGOUT", "User a")
    )
    assert "log-rotation-gap" not in rules_of(scan([three, one, two]))  # complete, any order
    r = scan([three, one])  # ns.log.1 was not collected
    [gap] = [f for f in r.findings if f.rule == "log-rotation-gap"]
    assert [str(e) for e in gap.evidence] == [
        f"{one}:{len(ns(0, 'SSLVPN LOGOUT', 'User a'))}",
        f"{three}:0",
    ]


def test_many_files_parsed_in_parallel_give_what_one_by_one_gives(tmp_path: Path) -> None:
    files = [
        write(tmp_path / "a.log", login(0, "7", "ann", "198.51.100.7"), probe(1), "junk\n"),
        write(
            tmp_path / "b.log",
            connstat(9, "7", "ann", "198.51.100.7", "203.0.113.66", "10.0.0.9:445"),
            request(10, "8", "bob", "203.0.113.66"),
        ),
        write(tmp_path / "c.log", access_probe(2, "203.0.113.9")),
    ]
    one_by_one = scan(files)
    parallel = scan(files, workers=2)
    assert [f.to_json() for f in parallel.findings] == [f.to_json() for f in one_by_one.findings]
    assert parallel.sessions.keys() == one_by_one.sessions.keys()
    assert (parallel.lines, parallel.events, parallel.unparsed) == (6, 5, 1)
    assert parallel.unparsed_kept == one_by_one.unparsed_kept
    cut = tmp_path / "cut.log.gz"
    cut.write_bytes(gzip.compress(probe(1).encode("latin-1") * 500)[:-30])
    with_cut = scan([files[0], cut], workers=2)  # the same as one by one, truncation named
    assert [f.to_json() for f in with_cut.findings] == [
        f.to_json() for f in scan([files[0], cut]).findings
    ]
    assert "log-file-truncated" in {f.rule for f in with_cut.findings}
    unreadable = tmp_path / "gone.log"
    unreadable.mkdir()  # a directory where a file was expected: an error, not a gap
    with pytest.raises(GatewayInputError):
        scan([files[0], unreadable], workers=2)


def test_a_reading_process_that_hangs_stops_the_scan_with_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not a wait without end: after _READER_WAIT_S without a batch, the file is named."""
    from ketenherstel.gateway import watch as watch_mod

    monkeypatch.setattr(watch_mod, "_READER_WAIT_S", 1.0)
    monkeypatch.setattr(watch_mod, "_parse_file", _hang)  # what the spawned process runs
    files = [write(tmp_path / f"{n}.log", probe(1)) for n in "ab"]
    with pytest.raises(GatewayInputError, match=r"a\.log: the process reading it sent nothing"):
        scan(files, workers=2)


def _hang(path: str, queue: object) -> None:
    time.sleep(120)


@pytest.mark.parametrize("workers", [1, 2])
def test_lines_removed_from_a_log_that_counts_up_by_one_are_found(
    tmp_path: Path, workers: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """5,000 lines numbered one by one, 20 of them cut out: one gap, with the lines around
    it as evidence; a log whose numbers skip all the time (the gateway numbers messages it
    sends elsewhere) shows none."""
    from ketenherstel.gateway import ranges

    monkeypatch.setattr(ranges, "SPLIT_MIN_BYTES", 0)  # so that two workers split this file
    cut = set(range(2_020, 2_040))
    log = tmp_path / "ns.log"
    log.write_text(
        "".join(
            ns(i / 100, "SSLVPN HTTPREQUEST", f"x {i}", seq=i) for i in range(5_000) if i not in cut
        ),
        encoding="latin-1",
    )
    r = scan([log], workers=workers)
    gaps = [f for f in r.findings if f.rule == "log-sequence-gap"]
    assert len(gaps) == 1 and "20 sequence numbers missing" in gaps[0].title
    data = log.read_bytes()
    before, after = (data[e.offset :].split(b"\n")[0] for e in gaps[0].evidence)
    assert b" 2019 0 :" in before and b" 2040 0 :" in after
    skipping = tmp_path / "skips.log"
    skipping.write_text(
        "".join(ns(i / 100, "SSLVPN HTTPREQUEST", f"x {i}", seq=i * 7) for i in range(5_000)),
        encoding="latin-1",
    )
    assert not [f for f in scan([skipping]).findings if f.rule == "log-sequence-gap"]


@pytest.mark.parametrize("workers", [1, 2])
def test_a_truncated_gzip_is_read_as_far_as_it_goes_and_the_other_files_too(
    tmp_path: Path, workers: int
) -> None:
    good = tmp_path / "ns.log"
    good.write_text(login(0, "1", "ann", "198.51.100.7"), encoding="latin-1")
    lines = "".join(request(i, "2", "bob", "198.51.100.8") for i in range(2_000))
    whole = gzip.compress(lines.encode("latin-1"))
    cut = tmp_path / "ns.log.1.gz"
    cut.write_bytes(whole[: len(whole) // 2])  # copied while it was still being written
    r = scan([good, cut], workers=workers)
    assert r.files[0]["lines"] == 1 and 0 < r.files[1]["lines"] < 2_000
    [truncated] = [f for f in r.findings if f.rule == "log-file-truncated"]
    assert truncated.evidence[0].file == str(cut) and truncated.evidence[0].offset > 0
    assert r.unparsed == 0
