"""The findings register: statuses and who decided, the allowlist's expiry, and a crash mid-write
losing nothing acknowledged."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from ketenherstel.gateway.register import (
    MAX_ALLOW_DAYS,
    MAX_NAME,
    MAX_REASON,
    Register,
    finding_id,
)
from ketenherstel.gateway.watch import Evidence, Finding, GatewayInputError

TODAY = datetime.now(UTC).date()
SOON = (TODAY + timedelta(days=90)).isoformat()


def f(n: int) -> Finding:
    return Finding("session-hijack", "t", "high", 1.0, session=str(n), evidence=[Evidence("a", n)])


def test_findings_are_kept_once_and_decisions_follow_the_rules(tmp_path: Path) -> None:
    reg = Register(tmp_path / "r.jsonl")
    assert reg.add([f(1), f(2), f(1)]) == [finding_id(f(1)), finding_id(f(2))]
    assert reg.add([f(1)]) == []
    fid = finding_id(f(1))
    reg.decide(fid, "under-review", by="soc-1", reason="")
    reg.decide(fid, "confirmed", by="soc-2", reason="replayed token")
    with pytest.raises(GatewayInputError, match="is confirmed; it cannot become confirmed"):
        reg.decide(fid, "confirmed", by="soc-2", reason="")
    with pytest.raises(GatewayInputError, match="no finding"):
        reg.decide("Fnope", "confirmed", by="x", reason="")
    again = Register(tmp_path / "r.jsonl")  # replayed from the file
    kept = again.findings[fid]
    assert kept.status == "confirmed"
    assert [(h["to"], h["by"]) for h in kept.history] == [
        ("under-review", "soc-1"),
        ("confirmed", "soc-2"),
    ]
    assert again.findings[finding_id(f(2))].status == "new"


def test_a_torn_last_line_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    Register(path).add([f(1)])
    with path.open("ab") as fh:
        fh.write(b'{"record": "finding", "id": "Fhalf", "fin')  # the crash, mid-line
    reg = Register(path)
    assert list(reg.findings) == [finding_id(f(1))]


def test_a_write_after_a_torn_line_cuts_it_off_and_the_register_stays_readable(
    tmp_path: Path,
) -> None:
    path = tmp_path / "r.jsonl"
    Register(path).add([f(1)])
    with path.open("ab") as fh:
        fh.write(b'{"record": "decision", "id": "F0f')  # the crash, mid-line
    reg = Register(path)
    reg.allow("10.9.0.0/16", reason="office", until=SOON, by="piet")
    reg.add([f(2)])
    again = Register(path)  # the torn line is gone, both later records are there
    assert set(again.findings) == {finding_id(f(1)), finding_id(f(2))}
    assert again.allowed_networks() == ["10.9.0.0/16"]
    assert b"F0f" not in path.read_bytes()


@pytest.mark.parametrize(
    "content",
    [
        b"important notes, one line",  # text without its last newline
        bytes(range(256)) * 8,  # binary, with newlines in it but none at its end
        bytes(range(11, 256)) * 8,  # binary without a newline: refused at the first change
        b"",  # empty: no register yet, and none made by a refused change
    ],
)
def test_a_refused_change_leaves_a_file_that_is_not_a_register_as_it_was(
    tmp_path: Path, content: bytes
) -> None:
    """It was cut to nothing (its one line taken for a torn record) before the change was
    refused; an allowlist entry turned a 2,000-byte binary into a register."""
    path = tmp_path / "notes.txt"
    path.write_bytes(content)
    try:
        reg = Register(path)
    except GatewayInputError:
        assert path.read_bytes() == content  # refused when read: left alone
        return
    with pytest.raises(GatewayInputError, match="no finding"):
        reg.decide("Fnope", "confirmed", by="anna", reason="")
    assert path.read_bytes() == content
    if content:
        with pytest.raises(GatewayInputError, match="not a register record"):
            reg.allow("192.0.2.0/24", reason="office", until=SOON, by="anna")
        assert path.read_bytes() == content
    else:  # an empty file is a register with nothing in it yet
        reg.allow("192.0.2.0/24", reason="office", until=SOON, by="anna")
        assert Register(path).allowed_networks() == ["192.0.2.0/24"]


def test_a_register_whose_last_line_is_not_a_record_names_where_to_cut_it(
    tmp_path: Path,
) -> None:
    path = tmp_path / "r.jsonl"
    Register(path).add([f(1)])
    whole = path.stat().st_size
    with path.open("ab") as fh:
        fh.write(b"garbage, no newline")
    before = path.read_bytes()
    reg = Register(path)
    with pytest.raises(GatewayInputError, match=f"from byte {whole}.*truncate -s {whole}"):
        reg.add([f(2)])
    assert path.read_bytes() == before


@pytest.mark.parametrize("torn", [b"{", b'{"rec', b'{"record": "dec', b"\x00" * 4096])
def test_a_torn_record_however_short_is_still_cut(tmp_path: Path, torn: bytes) -> None:
    path = tmp_path / "r.jsonl"
    Register(path).add([f(1)])
    with path.open("ab") as fh:
        fh.write(torn)
    Register(path).add([f(2)])
    assert set(Register(path).findings) == {finding_id(f(1)), finding_id(f(2))}


def test_the_allowlist_expires(tmp_path: Path) -> None:
    reg = Register(tmp_path / "r.jsonl")
    reg.allow("192.0.2.0/24", reason="office", until=SOON, by="soc-1")
    assert reg.allowed_networks() == ["192.0.2.0/24"]
    assert reg.allowed_networks(date(2100, 1, 1)) == []
    with pytest.raises(GatewayInputError, match="reason"):
        reg.allow("192.0.2.0/24", reason=" ", until=SOON, by="soc-1")


def test_an_allowlist_entry_can_be_withdrawn_and_a_network_too_wide_is_refused(
    tmp_path: Path,
) -> None:
    path = tmp_path / "r.jsonl"
    reg = Register(path)
    for wide in ("0.0.0.0/0", "10.0.0.0/7", "::/0", "2001::/15", "::ffff:0:0/96", "::/16"):
        with pytest.raises(GatewayInputError, match="too wide"):
            reg.allow(wide, reason="x", until=SOON, by="soc-1")
    reg.allow("10.0.0.0/8", reason="the ministry's own network", until=SOON, by="soc-1")
    reg.allow("::ffff:192.0.2.0/120", reason="office", until=SOON, by="soc-1")  # kept as IPv4
    with pytest.raises(GatewayInputError, match="reason"):
        reg.withdraw("192.0.2.0/24", reason="", by="soc-2")
    with pytest.raises(GatewayInputError, match="not on the allowlist"):
        reg.withdraw("198.51.100.0/24", reason="gone", by="soc-2")
    (ended,) = reg.withdraw("192.0.2.0/24", reason="office closed", by="soc-2")
    assert "soc-2" in ended.withdrawn and "office closed" in ended.withdrawn
    assert reg.allowed_networks() == ["10.0.0.0/8"]
    assert Register(path).allowed_networks() == ["10.0.0.0/8"]  # replayed from the file
    # `allowlist` shows it as withdrawn: the refusal says so (it said "not on the allowlist")
    with pytest.raises(GatewayInputError, match="is not on the allowlist: withdrawn already"):
        reg.withdraw("192.0.2.0/24", reason="again", by="soc-2")


def test_a_network_allowed_and_active_is_not_allowed_again_and_nothing_is_added(
    tmp_path: Path,
) -> None:
    path = tmp_path / "r.jsonl"
    reg = Register(path)
    reg.allow("192.0.2.0/24", reason="office Zwolle", until=SOON, by="soc-1")
    for same in ("192.0.2.0/24", "192.0.2.77/24"):  # the same network, however written
        with pytest.raises(GatewayInputError, match=r"192\.0\.2\.0/24 is already allowed until"):
            reg.allow(same, reason="again", until=SOON, by="soc-2")
    before = path.read_bytes()
    with pytest.raises(GatewayInputError, match="withdraw it first"):
        Register(path).allow("192.0.2.0/24", reason="again", until=SOON, by="soc-2")
    assert path.read_bytes() == before and len(Register(path).allowlist) == 1
    # A narrower or wider network is another entry; after a withdrawal it may be allowed again.
    reg.allow("192.0.2.0/25", reason="one floor", until=SOON, by="soc-1")
    reg.withdraw("192.0.2.0/24", reason="moved", by="soc-2")
    reg.allow("192.0.2.0/24", reason="back", until=SOON, by="soc-2")
    assert sorted(Register(path).allowed_networks()) == ["192.0.2.0/24", "192.0.2.0/25"]


def test_an_allowlist_entry_ends_within_a_year(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    reg = Register(path)
    last = TODAY + timedelta(days=MAX_ALLOW_DAYS)
    for far in ("9999-12-31", (last + timedelta(days=1)).isoformat()):
        with pytest.raises(GatewayInputError, match=f"at most {MAX_ALLOW_DAYS} days ahead"):
            reg.allow("192.0.2.0/24", reason="office", until=far, by="soc-1")
    assert not path.exists()
    # the last day allowed, in ISO's basic form too, kept as YYYY-MM-DD
    entry = reg.allow("192.0.2.0/24", reason="office", until=f"{last:%Y%m%d}", by="soc-1")
    assert entry.until == last.isoformat() == Register(path).allowlist[0].until


def test_a_network_is_kept_as_a_network_and_withdrawn_however_it_is_written(
    tmp_path: Path,
) -> None:
    path = tmp_path / "r.jsonl"
    reg = Register(path)
    reg.allow("192.0.2.5/24", reason="office", until=SOON, by="soc-1")
    assert reg.allowed_networks() == ["192.0.2.0/24"]
    (ended,) = reg.withdraw("192.0.2.0/24", reason="closed", by="soc-2")
    assert ended.network == "192.0.2.0/24" and Register(path).allowed_networks() == []
    # An entry an older version kept as typed is still withdrawn by its network.
    path.write_text(
        '{"record": "allow", "network": "198.51.100.9/24", "reason": "x", "until": "2099-12-31",'
        ' "by": "a", "at": "2025-07-01T00:00:00+00:00"}\n'
    )
    assert len(Register(path).withdraw("198.51.100.0/24", reason="y", by="b")) == 1
    assert Register(path).allowed_networks() == []


@pytest.mark.parametrize(
    ("content", "says"),
    [
        ('{"record": "finding"}\n', "line 1: not a register record (KeyError"),
        ("[]\n", "line 1: not a register record"),
        ('{"record": "allow", "network": "192.0.2.0/24", "reason": "x", "until": "never",'
         ' "by": "a", "at": "2025-07-01T00:00:00+00:00"}\n', "line 1: not a register record"),
        ('{"record": "hello"}\n', "no record kind 'hello'"),
        ('{"record": "finding", "id": "F1", "finding": null}\n', "line 1: not a register record"),
        ('{"record": "decision", "id": "F1", "from": "new", "to": "gone", "by": "a", "reason":'
         ' "r", "at": "2025"}\n', "a decision goes between new"),
        ('{"record": "withdraw", "network": "x", "reason": "r", "by": "b", "at": "2025-07-01"}'
         "\nnot json\n", "line 2: not JSON"),
    ],
)  # fmt: skip
def test_a_damaged_register_is_named_with_its_line(tmp_path: Path, content: str, says: str) -> None:
    path = tmp_path / "r.jsonl"
    path.write_text(content)
    with pytest.raises(GatewayInputError, match=re.escape(says)):
        Register(path)


def test_a_register_location_that_cannot_hold_it_is_refused_up_front(tmp_path: Path) -> None:
    with pytest.raises(GatewayInputError, match="is a directory"):
        Register(tmp_path)
    (tmp_path / "ns.log").write_text("x")
    with pytest.raises(GatewayInputError, match=r"ns\.log is not a directory"):
        Register(tmp_path / "ns.log" / "reg.jsonl")


_CHILD = """
import sys
from pathlib import Path
from ketenherstel.gateway.register import Register
from ketenherstel.gateway.watch import Evidence, Finding
reg = Register(Path(sys.argv[1]))
for n in range(100000):
    f = Finding("r", "t", "high", 1.0, session=str(n), evidence=[Evidence("a", n)])
    for fid in reg.add([f]):
        print(fid, flush=True)
"""


@pytest.mark.slow
def test_a_register_killed_mid_write_keeps_every_acknowledged_finding(tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys
    import time

    path = tmp_path / "r.jsonl"
    proc = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(path)], stdout=subprocess.PIPE, text=True
    )
    acknowledged = []
    assert proc.stdout is not None
    deadline = time.monotonic() + 30
    while len(acknowledged) < 300 and time.monotonic() < deadline:
        acknowledged.append(proc.stdout.readline().strip())
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    kept = Register(path).findings
    assert set(acknowledged) <= set(kept)  # nothing acknowledged is lost
    lines = [x for x in path.read_bytes().split(b"\n") if x.strip()]
    ids = [x.split(b'"id": "')[1][:13] for x in lines if x.endswith(b"}")]
    assert len(ids) == len(set(ids))  # nothing written twice


def test_an_allowlist_entry_has_an_id_the_same_at_every_replay_and_unlike_any_other(
    tmp_path: Path,
) -> None:
    """The audit trail names an entry by its id: the same when the register is read again,
    another for the same network allowed again (also by the same person within a second), and
    a withdrawal returns the entries it ended, not those ended before."""
    path = tmp_path / "r.jsonl"
    reg = Register(path)
    first = reg.allow("192.0.2.0/24", reason="office", until=SOON, by="soc-1")
    (ended,) = reg.withdraw("192.0.2.0/24", reason="moved", by="soc-1")
    second = reg.allow("192.0.2.0/24", reason="office", until=SOON, by="soc-1")
    assert ended.id == first.id and second.id != first.id
    assert [a.id for a in Register(path).allowlist] == [first.id, second.id]
    assert re.fullmatch(r"A[0-9a-f]{12}", first.id) and "office" not in first.audited()
    (ended,) = reg.withdraw("192.0.2.0/24", reason="closed", by="soc-2")
    assert ended.id == second.id


@pytest.mark.parametrize(
    ("reason", "by", "says"),
    [
        (
            "test\x1b[31m rood",
            "soc-1",
            r"a reason holds no control or invisible characters \(U\+001B\)",
        ),
        ("a\u202eb", "soc-1", r"\(U\+202E\)"),
        ("x" * (MAX_REASON + 1), "soc-1", f"a reason is at most {MAX_REASON} characters, not 501"),
        ("why", "a\x1b[31mb", r"a name holds no control or invisible characters \(U\+001B\)"),
        ("why", "s" * (MAX_NAME + 1), f"a name is at most {MAX_NAME} characters, not 201"),
    ],
)
def test_a_reason_or_a_name_that_would_rewrite_a_terminal_or_is_too_long_is_refused(
    tmp_path: Path, reason: str, by: str, says: str
) -> None:
    """Reasons and names are shown again (`gateway findings`, `allowlist`, the API, the
    briefing): an escape sequence in one recoloured the terminal, and a 100 KB one was kept;
    the register now refuses them as the exchange refuses its reasons, and keeps nothing."""
    path = tmp_path / "r.jsonl"
    reg = Register(path)
    reg.add([f(1)])
    reg.allow("192.0.2.0/24", reason="office", until=SOON, by="soc-1")
    before = path.read_bytes()
    for attempt in (
        lambda: reg.decide(finding_id(f(1)), "false-positive", by=by, reason=reason),
        lambda: reg.allow("198.51.100.0/24", reason=reason, until=SOON, by=by),
        lambda: reg.withdraw("192.0.2.0/24", reason=reason, by=by),
    ):
        with pytest.raises(GatewayInputError, match=says):
            attempt()
        assert path.read_bytes() == before
    # Tabs and line breaks are text; the longest reason and name are kept.
    reg.decide(finding_id(f(1)), "under-review", by="s" * MAX_NAME, reason="x" * MAX_REASON)
    reg.allow("198.51.100.0/24", reason="two\tlines\nhere", until=SOON, by="soc-1")


def test_a_rescan_with_an_older_log_keeps_a_decided_hijack_as_it_is(tmp_path: Path) -> None:
    """A hijack decided a false positive came back as a second one, status new, once the older
    rotated log was scanned too: its evidence began in that file, so its id changed (a gateway
    review). The same rule, session, moment and address is the same finding."""
    from ketenherstel.gateway.watch import scan
    from tests.gateway.lines import connstat, login

    old = tmp_path / "b.log.1"
    old.write_text(login(0, "1", "jan", "198.51.100.10"), encoding="latin-1")
    new = tmp_path / "b.log"
    new.write_text(
        connstat(5, "1", "jan", "198.51.100.10", "198.51.100.10", "10.0.0.5:3389")
        + connstat(70, "1", "jan", "198.51.100.10", "203.0.113.9", "10.0.0.9:445"),
        encoding="latin-1",
    )
    reg = Register(tmp_path / "r.jsonl")
    [first] = reg.add(f for f in scan([new]).findings if f.rule == "session-hijack")
    reg.decide(first, "false-positive", by="soc-1", reason="mobiel netwerk")
    again = [f for f in scan([old, new]).findings if f.rule == "session-hijack"]
    assert len(again) == 1 and finding_id(again[0]) != first  # it begins in the older file
    assert reg.add(again) == []
    assert [r.status for r in Register(tmp_path / "r.jsonl").findings.values()] == [
        "false-positive"
    ]
    # And the verdict does not count it either (the register held it, the verdict did not).
    from ketenherstel.gateway.verdict import verdicts

    [verdict] = verdicts(scan([old, new]), [], {}, reg.dismissed())
    assert (verdict.verdict, verdict.dismissed) == ("geen aanwijzing voor misbruik", 1)
