"""`ketenherstel gateway scan` through Typer's runner."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ketenherstel.store import open_store
from tests.gateway.cli import run
from tests.gateway.lines import access_probe, connstat, login, request
from tests.stores import made

pytestmark = pytest.mark.usefixtures("gateway_register")
SOON = (datetime.now(UTC).date() + timedelta(days=90)).isoformat()


def _hijacked(path: Path, user: str = "ann", sid: str = "7", to: str = "203.0.113.66") -> Path:
    """A log of one session that moves from 198.51.100.7 to ``to`` nine minutes in."""
    path.write_text(
        login(0, sid, user, "198.51.100.7")
        + connstat(9, sid, user, "198.51.100.7", to, "10.0.0.9:445"),
        encoding="latin-1",
    )
    return path


def test_scan_prints_findings_sessions_and_writes_json(tmp_path: Path) -> None:
    log = tmp_path / "ns.log"
    log.write_text(
        login(0, "7", "ann", "198.51.100.7")
        + connstat(9, "7", "ann", "198.51.100.7", "203.0.113.66", "10.0.0.9:445")
        + "not a line\n"
        + request(20, "8", "bob", "198.51.100.8"),
        encoding="latin-1",
    )
    access = tmp_path / "access.log"
    access.write_text(access_probe(15, "203.0.113.9"), encoding="latin-1")
    out_json = tmp_path / "findings.jsonl"
    code, out, err = run(
        "gateway",
        "scan",
        "--as",
        "soc-1",
        str(log),
        str(access),
        "--sessions",
        "--json",
        str(out_json),
    )
    assert code == 0, err
    assert "2 files, 5 lines, 4 events, 1 lines not parsed" in out
    assert "session-hijack" in out and "cb2-access-bare-login" in out
    assert "leak-then-replay" in out  # bob's session first seen 5 minutes after the probe
    assert "first line not parsed" in out
    records = [json.loads(x) for x in out_json.read_text().splitlines()]
    assert {next(iter(r)) for r in records} == {"finding", "session", "unparsed"}
    assert all(r["finding"]["evidence"] for r in records if "finding" in r)


def test_scan_refuses_bad_input(tmp_path: Path) -> None:
    code, _, err = run("gateway", "scan", "--as", "soc-1", str(tmp_path / "missing.log"))
    assert code == 2 and "missing.log" in err
    log = tmp_path / "ns.log"
    log.write_text("x\n")
    code, _, err = run("gateway", "scan", "--as", "soc-1", str(log), "--allow", "office")
    assert code == 2 and "no network" in err
    code, _, err = run("gateway", "scan", "--as", "soc-1", str(log), "--allow", "0.0.0.0/0")
    assert code == 2 and "too wide to allow" in err  # as `gateway allow` refuses it
    code, _, err = run(
        "gateway", "scan", "--as", "soc-1", str(log), "--kill-time", "2025-07-17T20:00:00"
    )
    assert code == 2 and "offset" in err


def test_listen_for_a_while_and_refuse_bad_addresses(tmp_path: Path) -> None:
    code, out, err = run(
        "gateway",
        "listen",
        "--as",
        "soc-1",
        "--udp",
        "127.0.0.1:0",
        "--tcp",
        "127.0.0.1:0",
        "--spool",
        str(tmp_path / "spool.log"),
        "--for",
        "0.2",
    )
    assert code == 0, err
    assert "listening on udp 127.0.0.1:" in out and "received 0 messages" in out
    code, _, err = run("gateway", "listen", "--as", "soc-1", "--udp", "nowhere", "--for", "0.1")
    assert code == 2 and "HOST:PORT" in err
    code, _, err = run(
        "gateway", "scan", "--as", "soc-1", str(tmp_path / "spool.log"), "--cef-to", "x"
    )
    assert code == 2 and "HOST:PORT" in err
    # A collector that can be none is said before the scan writes anything (a gateway review).
    for bad, says in (("256.1.1.1:514/tcp", "is no IP address"), ("h:0", "a port is 1 to")):
        code, out, err = run(
            "gateway", "scan", "--as", "soc-1", str(tmp_path / "spool.log"), "--cef-to", bad
        )
        assert code == 2 and says in err and "new findings" not in out, (bad, err)


def test_triage_a_collection(tmp_path: Path) -> None:
    from tests.gateway.test_triage import TAMPERED, write_dir

    root = write_dir(tmp_path / "c", TAMPERED)
    code, out, err = run(
        "gateway", "triage", "--as", "soc-1", str(root), "--ecs", str(tmp_path / "t.jsonl")
    )
    assert code == 0, err
    assert "triage-script-in-web-dir" in out and "triage-cron-nobody" in out
    assert len((tmp_path / "t.jsonl").read_text().splitlines()) >= 10
    code, _, err = run("gateway", "triage", "--as", "soc-1", str(tmp_path / "missing.tgz"))
    assert code == 2 and "missing.tgz" in err
    (tmp_path / "empty").mkdir()
    code, _, err = run("gateway", "triage", "--as", "soc-1", str(tmp_path / "empty"))
    assert code == 2 and "nothing to check" in err


def test_triage_findings_go_to_the_register_and_match_indicators(
    tmp_path: Path, gateway_register: Path
) -> None:
    from tests.gateway.test_triage import TAMPERED, write_dir

    root = write_dir(tmp_path / "c", TAMPERED)
    iocs = tmp_path / "iocs.csv"
    iocs.write_text("type,value\npath,/var/netscaler/logon/themes/x.php\n")
    code, out, err = run("gateway", "triage", "--as", "soc-1", str(root), "--indicators", str(iocs))
    assert code == 0, err
    assert "indicator-match" in out
    new = int(out.split(" new findings in the register")[0].split()[-1])
    assert new >= 10 and len(gateway_register.read_text().splitlines()) == new
    code, out, err = run("gateway", "triage", "--as", "soc-1", str(root), "--indicators", str(iocs))
    assert code == 0 and "0 new findings in the register" in out, err


def test_scan_and_triage_with_indicators(tmp_path: Path) -> None:
    iocs = tmp_path / "iocs.csv"
    iocs.write_text("type,value\nip,203.0.113.9\n")
    log = tmp_path / "access.log"
    log.write_text(access_probe(0, "203.0.113.9"), encoding="latin-1")
    code, out, err = run("gateway", "scan", "--as", "soc-1", str(log), "--indicators", str(iocs))
    assert code == 0, err
    assert "indicator-match" in out
    bad = tmp_path / "bad.csv"
    bad.write_text("planet,mars\n")
    code, _, err = run("gateway", "scan", "--as", "soc-1", str(log), "--indicators", str(bad))
    assert code == 2 and "bad.csv: row 1" in err


def test_report_writes_the_dutch_html(tmp_path: Path) -> None:
    log = _hijacked(tmp_path / "ns.log", "ann@om.nl")
    page = tmp_path / "rapport.html"
    om = "om.nl=Openbaar Ministerie"
    code, out, err = run(
        "gateway", "report", str(log), "--as", "x", "--out", str(page), "--org", om
    )
    assert code == 0, err
    assert "Openbaar Ministerie" in out and "misuse-found" in out  # English in the CLI
    assert "misbruik gevonden" not in out and "session 7 (ann@om.nl): session-hijack" in out
    assert "1 new findings in the register" in out  # as a scan's findings
    assert "Toegangspoort" in page.read_text(encoding="utf-8")
    own = tmp_path / "rapport-openbaar-ministerie.html"
    assert f"wrote {own}" in out.replace("\n", "")
    assert "ann@om.nl" in own.read_text(encoding="utf-8")
    written = json.loads((tmp_path / "verdicts.json").read_text(encoding="utf-8"))
    assert [(v["organisation"], v["report"]) for v in written["verdicts"]] == [
        ("Openbaar Ministerie", own.name)
    ]
    assert written["verdicts"][0]["code"] == "misuse-found"
    assert "misbruik gevonden" in own.read_text(encoding="utf-8")  # Dutch in the report
    code, _, err = run("gateway", "report", "--as", "soc-1", str(log), "--org", "om.nl")
    assert code == 2 and "DOMAIN_OR_USER=ORGANISATION" in err
    two = ("--org", "om.nl=A", "--org", "OM.nl=B")  # the last one won, unsaid (a review)
    code, _, err = run("gateway", "report", "--as", "soc-1", str(log), *two)
    assert code == 2 and "om.nl is given to 'A' already" in " ".join(err.split())
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    code, _, err = run(
        "gateway", "report", "--as", "soc-1", str(log), "--out", str(blocked / "rapport.html")
    )
    assert code == 2 and "--out" in err and "a-file" in err


def test_scan_and_report_split_a_large_file_with_the_same_result(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--workers 2 (the default) splits a large plain file (here: any file) over two processes;
    scan and report say what --workers 1 says."""
    from ketenherstel.gateway import ranges

    monkeypatch.setattr(ranges, "SPLIT_MIN_BYTES", 0)
    merged: list[int] = []
    real = ranges._merge
    monkeypatch.setattr(
        ranges, "_merge", lambda w, part, f: (merged.append(part.start), real(w, part, f))
    )
    log = tmp_path / "ns.log"
    log.write_text(
        "".join(
            login(i, str(i), f"u{i}@om.nl", f"198.51.100.{i}")
            + connstat(i + 0.5, str(i), f"u{i}@om.nl", f"198.51.100.{i}", "203.0.113.66", "x:1")
            for i in range(1, 40)
        ),
        encoding="latin-1",
    )
    said: dict[str, list[str]] = {}
    for workers in ("1", "2"):
        reg = tmp_path / f"register-{workers}.jsonl"
        code, out, err = run(
            "gateway",
            "scan",
            "--as",
            "soc-1",
            str(log),
            "--workers",
            workers,
            "--register",
            str(reg),
        )
        assert code == 0, err
        page = tmp_path / f"r{workers}" / "rapport.html"
        code, report, err = run(
            "gateway", "report", "--as", "soc-1", str(log), "--workers", workers,
            "--out", str(page), "--register", str(tmp_path / f"report-register-{workers}.jsonl"),
        )  # fmt: skip
        assert code == 0, err
        verdicts = json.loads((page.parent / "verdicts.json").read_text(encoding="utf-8"))
        said[workers] = [
            out.replace(str(reg), "REG"),
            report.replace(str(page.parent), "DIR").replace(f"report-register-{workers}", "R"),
            json.dumps(verdicts["verdicts"]),
        ]
    assert said["1"] == said["2"]
    assert len(merged) == 2  # the scan's and the report's
    for command in ("scan", "report"):
        reg = tmp_path / "untouched.jsonl"
        code, _, err = run(
            "gateway", command, str(log), "--as", "soc-1", "--workers", "0", "--register", str(reg)
        )
        assert code == 2 and "--workers" in err and not reg.exists()
    assert "session-hijack" in said["1"][0]


def test_report_goes_where_the_api_and_the_briefing_read_it(tmp_path: Path) -> None:
    """By default into the store's gateway folder: KETENHERSTEL_STORE's (k.db), or --store's."""
    log = tmp_path / "ns.log"
    log.write_text(login(0, "7", "ann@om.nl", "198.51.100.7"), encoding="latin-1")
    code, out, err = run("gateway", "report", "--as", "soc-1", str(log))
    assert code == 0, err
    folder = tmp_path / "k.gateway"
    assert "verdicts.json" in out
    assert (folder / "rapport.html").is_file() and (folder / "rapport-om-nl.html").is_file()
    assert json.loads((folder / "verdicts.json").read_text())["verdicts"][0]["slug"] == "om-nl"
    other = made(f"sqlite:///{tmp_path}/other.db")
    code, out, err = run("gateway", "report", "--as", "soc-1", str(log), "--store", other)
    assert code == 0, err
    assert (tmp_path / "other.gateway" / "rapport-om-nl.html").is_file()


def test_the_register_keeps_findings_decisions_and_the_allowlist(
    tmp_path: Path, gateway_register: Path
) -> None:
    log = tmp_path / "ns.log"
    log.write_text(
        login(0, "7", "ann", "198.51.100.7")
        + connstat(9, "7", "ann", "198.51.100.7", "192.0.2.44", "10.0.0.9:445"),
        encoding="latin-1",
    )
    code, out, _ = run("gateway", "scan", "--as", "soc-1", str(log))
    assert code == 0 and "1 new findings in the register" in out
    code, out, _ = run("gateway", "scan", "--as", "soc-1", str(log))
    assert "0 new findings" in out  # the same lines again: nothing twice
    from ketenherstel.gateway.register import Register

    [fid] = list(Register(gateway_register).findings)
    code, _, err = run("gateway", "decide", fid, "false-positive", "--as", "soc-1")
    assert code == 2 and "needs a reason" in err
    code, out, _ = run(
        "gateway", "decide", fid, "false-positive", "--as", "soc-1", "--reason", "second office"
    )
    assert code == 0 and "is now false-positive" in out
    store = made(str(tmp_path / "k.db"))
    code, out, _ = run(
        "gateway", "findings", "--status", "false-positive", "--as", "soc-1", "--store", store
    )
    assert fid in out and "soc-1" in out and "second office" in out  # who decided, and why
    code, out, err = run(
        "gateway",
        "allow",
        "192.0.2.0/24",
        "--reason",
        "office Zwolle",
        "--until",
        SOON,
        "--as",
        "soc-1",
    )
    assert code == 0, err
    code, out, _ = run("gateway", "allowlist")
    assert "192.0.2.0/24" in out and "office Zwolle" in out
    # Allowed already: refused, and the allowlist keeps one entry; nor may one last for ever.
    again = ("gateway", "allow", "192.0.2.9/24", "--reason", "again", "--as", "soc-2")
    code, _, err = run(*again, "--until", SOON)
    assert code == 2 and f"192.0.2.0/24 is already allowed until {SOON}" in err
    far = ("gateway", "allow", "198.51.100.0/24", "--reason", "r", "--as", "a")
    code, _, err = run(*far, "--until", "9999-12-31")
    assert code == 2 and "until 9999-12-31: at most 366 days ahead" in err
    code, out, _ = run("gateway", "allowlist")
    assert out.count("192.0.2.0/24") == 1 and "198.51.100.0/24" not in out
    log2 = tmp_path / "ns2.log"
    log2.write_text(
        login(100, "8", "ann", "198.51.100.7")
        + connstat(109, "8", "ann", "198.51.100.7", "192.0.2.45", "10.0.0.9:445"),
        encoding="latin-1",
    )
    code, out, _ = run("gateway", "scan", "--as", "soc-1", str(log2))
    assert "session-hijack" not in out  # the allowlist came from the register
    code, _, err = run("gateway", "allow", "x", "--reason", "r", "--until", SOON, "--as", "a")
    assert code == 2 and "no network" in err
    code, _, err = run(
        "gateway", "allow", "10.0.0.0/8", "--reason", "r", "--until", "2001-01-01", "--as", "a"
    )
    assert code == 2 and "has passed" in err
    code, _, err = run(
        "gateway", "allow", "0.0.0.0/0", "--reason", "r", "--until", SOON, "--as", "a"
    )
    assert code == 2 and "too wide" in err
    code, _, err = run("gateway", "withdraw", "192.0.2.0/24", "--reason", "", "--as", "soc-2")
    assert code == 2 and "reason" in err
    code, out, err = run(
        "gateway", "withdraw", "192.0.2.0/24", "--reason", "office closed", "--as", "soc-2"
    )
    assert code == 0 and "withdrew 192.0.2.0/24" in out, err
    code, out, _ = run("gateway", "allowlist")
    assert "withdrawn by soc-2" in out
    log3 = _hijacked(tmp_path / "ns3.log", sid="9", to="192.0.2.46")
    code, out, _ = run("gateway", "scan", "--as", "soc-1", str(log3))
    assert "session-hijack" in out  # withdrawn: the move counts again


def test_reading_the_findings_is_audited_as_the_api_does_and_needs_a_name_and_a_store(
    tmp_path: Path,
) -> None:
    """Findings name addresses and users: each listing is in the store's audit trail
    (gateway-findings-read, who, which status); without --as or a store nothing is listed."""
    code, out, err = run("gateway", "scan", "--as", "soc-1", str(_hijacked(tmp_path / "ns.log")))
    assert code == 0 and "1 new findings in the register" in out, err
    store = made(str(tmp_path / "k.db"))
    code, out, err = run("gateway", "findings", "--as", "soc-1", "--store", store)
    assert code == 0 and "203.0.113.66" in out, err  # the address the session moved to
    code, out, err = run(
        "gateway", "findings", "--status", "new", "--as", "soc-2", "--store", store
    )
    assert code == 0 and "203.0.113.66" in out, err
    opened = open_store(store)
    try:
        reads = [
            (a.actor, a.action, a.object)
            for a in opened.audit_log(limit=10)
            if a.action == "gateway-findings-read"
        ]
    finally:
        opened.close()
    assert sorted(reads) == [
        ("soc-1", "gateway-findings-read", "*"),
        ("soc-2", "gateway-findings-read", "new"),
    ]
    code, out, err = run("gateway", "findings", "--store", store)
    assert code == 2 and "--as" in err and "203.0.113.66" not in out
    code, out, err = run("gateway", "findings", "--as", " ", "--store", store)
    assert code == 2 and "--as" in err and "203.0.113.66" not in out
    code, out, err = run("gateway", "findings", "--as", "soc-1", "--store", str(tmp_path / "no.db"))
    assert code == 1 and "no store" in err and "203.0.113.66" not in out
    assert not (tmp_path / "no.db").exists()


def _audited(store: str, action: str) -> list[tuple[str, str, str]]:
    """(who, object, detail) of the store's audit records of ``action``, oldest first."""
    opened = open_store(store)
    try:
        return [
            (a.actor, a.object, a.detail)
            for a in reversed(opened.audit_log(limit=100))
            if a.action == action
        ]
    finally:
        opened.close()


def test_a_decision_is_audited_as_the_apis_is_and_a_refused_one_changes_nothing(
    tmp_path: Path, gateway_register: Path
) -> None:
    """`gateway decide` moved a finding with no record in the store's audit trail, where the
    API's decision route keeps one: now gateway-finding-decided, who, the finding's id and its
    new status (the reason, which may name someone, stays in the register)."""
    code, out, err = run("gateway", "scan", "--as", "soc-1", str(_hijacked(tmp_path / "ns.log")))
    assert code == 0 and "1 new findings in the register" in out, err
    from ketenherstel.gateway.register import Register

    [fid] = list(Register(gateway_register).findings)
    store = f"sqlite:///{tmp_path}/k.db"  # KETENHERSTEL_STORE
    code, out, err = run(
        "gateway", "decide", fid, "false-positive", "--as", " soc-1 ", "--reason", "ann at home"
    )
    assert code == 0 and "is now false-positive" in out, err
    assert _audited(store, "gateway-finding-decided") == [("soc-1", f"{fid} false-positive", "")]
    other = made(f"sqlite:///{tmp_path}/other.db")
    code, out, err = run(
        "gateway", "decide", fid, "under-review", "--as", "soc-2", "--store", other
    )
    assert code == 0 and "is now under-review" in out, err
    assert _audited(other, "gateway-finding-decided") == [("soc-2", f"{fid} under-review", "")]
    assert len(_audited(store, "gateway-finding-decided")) == 1
    register = gateway_register.read_bytes()
    for args, code_wanted, said in [
        ((fid, "confirmed"), 2, "Missing option '--as'"),
        ((fid, "confirmed", "--as", " "), 2, "--as: a decision needs the name of who decides"),
        ((fid, "confirmed", "--as", "soc-1", "--store", f"{tmp_path}/no.db"), 1, "no store"),
        ((fid, "closed", "--as", "soc-1"), 2, "status 'closed'"),
        ((fid, "false-positive", "--as", "soc-1"), 2, "needs a reason"),
        (("F000000000000", "confirmed", "--as", "soc-1"), 2, "no finding"),
        ((fid, "under-review", "--as", "soc-1"), 2, "cannot become under-review"),
    ]:
        code, out, err = run("gateway", "decide", *args)
        assert code == code_wanted and said in " ".join(err.split()), (args, err)
        assert gateway_register.read_bytes() == register
        assert len(_audited(store, "gateway-finding-decided")) == 1
        assert len(_audited(other, "gateway-finding-decided")) == 1
    assert not (tmp_path / "no.db").exists()


def test_making_a_report_is_audited_per_organisation_and_a_refused_one_changes_nothing(
    tmp_path: Path, gateway_register: Path
) -> None:
    """`gateway report` wrote reports naming users and addresses with no record in the store's
    audit trail: now gateway-report-written, who, '*' for the report of all organisations and
    each organisation's slug, with the file written (no user, no address); recorded before
    anything is shown or written, and not at all for a report refused."""
    log = _hijacked(tmp_path / "ns.log", "ann@om.nl")
    with log.open("a", encoding="latin-1") as fh:
        fh.write(login(30, "8", "bob@politie.nl", "198.51.100.8"))
    page = tmp_path / "out" / "rapport.html"
    store = f"sqlite:///{tmp_path}/k.db"  # KETENHERSTEL_STORE
    om = ("--org", "om.nl=Openbaar Ministerie")
    code, out, err = run("gateway", "report", str(log), "--as", "soc-1", "--out", str(page), *om)
    assert code == 0 and "misuse-found" in out, err
    made_by = _audited(store, "gateway-report-written")
    assert made_by == [
        ("soc-1", "*", str(page)),
        ("soc-1", "openbaar-ministerie", str(page.parent / "rapport-openbaar-ministerie.html")),
        ("soc-1", "politie-nl", str(page.parent / "rapport-politie-nl.html")),
    ]
    assert not any(x in str(made_by) for x in ("ann", "bob", "198.51.100", "203.0.113"))
    before = {p.name: p.read_bytes() for p in page.parent.iterdir()}
    register = gateway_register.read_bytes()
    garbage = tmp_path / "garbage.bin"
    garbage.write_bytes(bytes(range(256)) * 4)
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    for args, code_wanted, said in [
        ((str(log), "--out", str(page)), 2, "Missing option '--as'"),
        ((str(log), "--as", " ", "--out", str(page)), 2, "--as: a report names users"),
        ((str(log), "--as", "soc-1", "--out", str(page), "--store", f"{tmp_path}/no.db"), 1,
         "no store"),
        ((str(garbage), "--as", "soc-1", "--out", str(page)), 2, "no report written"),
        ((str(log), "--as", "soc-1", "--out", str(blocked / "r.html")), 2, "is not a directory"),
        # a folder not made yet, given with its slash: the report was written as a file of
        # its name, the organisations' reports in the folder above
        ((str(log), "--as", "soc-1", "--out", f"{page.parent}/new/"), 2,
         f"--out {page.parent}/new: give the report's file name, ending in .html"),
    ]:  # fmt: skip
        code, out, err = run("gateway", "report", *args)
        assert code == code_wanted and said in " ".join(err.split()), (args, err)
        assert "wrote" not in out and "ann@om.nl" not in out
        assert {p.name: p.read_bytes() for p in page.parent.iterdir()} == before
        assert gateway_register.read_bytes() == register
        assert _audited(store, "gateway-report-written") == made_by
    assert not (tmp_path / "no.db").exists()


def test_follow_a_directory_for_a_while(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "ns.log").write_text(login(0, "1", "ann", "198.51.100.7"), encoding="latin-1")
    code, out, err = run(
        "gateway", "follow", "--as", "soc-1", str(logs), "--for", "0", "--interval", "0.1"
    )
    assert code == 0, err
    assert "read 1 lines from 1 files" in out
    code, _, err = run("gateway", "follow", "--as", "soc-1", str(tmp_path / "nope"), "--for", "0")
    assert code == 2 and "not a directory" in err


def test_follow_with_a_relative_directory_names_files_as_a_scan_does(
    tmp_path: Path, gateway_register: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One finding in the register, whether its file was followed as `logs` or scanned by its
    full path (the register's ids come from the evidence)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "logs").mkdir()
    _hijacked(tmp_path / "logs" / "ns.log")
    code, _, err = run(
        "gateway", "follow", "--as", "soc-1", "logs", "--for", "0", "--interval", "0.1"
    )
    assert code == 0, err
    code, _, err = run("gateway", "scan", "--as", "soc-1", str(tmp_path / "logs" / "ns.log"))
    assert code == 0, err
    findings = [json.loads(x) for x in gateway_register.read_text().splitlines()]
    evidence = [r["finding"]["evidence"][0] for r in findings if "finding" in r]
    assert len(evidence) == 1 and evidence[0].startswith(str(tmp_path / "logs" / "ns.log"))


def test_refused_follow_and_listen_leave_no_files_behind(tmp_path: Path) -> None:
    import socket

    ecs = tmp_path / "soc.jsonl"
    code, _, err = run(
        "gateway",
        "follow",
        "--as",
        "soc-1",
        str(tmp_path / "nope"),
        "--for",
        "0",
        "--ecs",
        str(ecs),
    )
    assert code == 2 and "not a directory" in err and not ecs.exists()
    spool = tmp_path / "spool.log"
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, _, err = run(
            "gateway", "listen", "--as", "soc-1", "--udp", "", "--tcp", f"127.0.0.1:{port}",
            "--for", "0.1", "--spool", str(spool), "--ecs", str(ecs),
        )  # fmt: skip
    assert code == 2 and f"cannot listen on tcp 127.0.0.1:{port}" in err
    assert not ecs.exists() and not spool.exists()
    code, _, err = run(
        "gateway", "listen", "--as", "soc-1", "--udp", "127.0.0.1:0", "--spool", str(tmp_path)
    )
    assert code == 2 and "is a directory" in err


def test_follow_sends_each_finding_to_the_register_ecs_and_a_cef_collector(
    tmp_path: Path, gateway_register: Path
) -> None:
    import socket

    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "ns.log").write_text(
        login(0, "7", "ann", "198.51.100.7")
        + connstat(9, "7", "ann", "198.51.100.7", "203.0.113.66", "10.0.0.9:445"),
        encoding="latin-1",
    )
    ecs = tmp_path / "soc.jsonl"
    ecs.write_text('{"earlier": "line"}\n')  # appended to, never overwritten
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as collector:
        collector.bind(("127.0.0.1", 0))
        collector.settimeout(5)
        port = collector.getsockname()[1]
        code, out, err = run(
            "gateway", "follow", "--as", "soc-1", str(logs), "--for", "0", "--interval", "0.1",
            "--ecs", str(ecs), "--cef-to", f"127.0.0.1:{port}",
        )  # fmt: skip
        assert code == 0, err
        datagram = collector.recv(65535).decode()
    assert "CEF:0|" in datagram and "session-hijack" in datagram
    lines = [json.loads(x) for x in ecs.read_text().splitlines()]
    assert lines[0] == {"earlier": "line"}
    assert [x["rule"]["id"] for x in lines[1:]] == ["session-hijack"]
    registered = [json.loads(x) for x in gateway_register.read_text().splitlines()]
    assert [r["finding"]["rule"] for r in registered if "finding" in r] == ["session-hijack"]
    assert "session-hijack (high)" in out
    code, _, err = run(
        "gateway", "follow", "--as", "soc-1", str(logs), "--for", "0", "--cef-to", "nowhere"
    )
    assert code == 2 and "HOST:PORT" in err
    code, _, err = run(
        "gateway",
        "follow",
        "--as",
        "soc-1",
        str(logs),
        "--for",
        "0",
        "--ecs",
        str(tmp_path / "no" / "x.jsonl"),
    )
    assert code == 2 and "--ecs" in err


def test_scan_with_a_users_sigma_rules(tmp_path: Path) -> None:
    from tests.gateway.test_sigma import USER_RULES

    rules = tmp_path / "mine.yml"
    rules.write_text(USER_RULES, encoding="utf-8")
    log = tmp_path / "ns.log"
    log.write_text(login(0, "1", "ann", "198.51.100.7", agent="curl/8.0"), encoding="latin-1")
    code, out, err = run("gateway", "scan", "--as", "soc-1", str(log), "--sigma", str(rules))
    assert code == 0, err
    assert "scripted-login" in out
    code, _, err = run(
        "gateway", "scan", "--as", "soc-1", str(log), "--sigma", str(tmp_path / "none.yml")
    )
    assert code == 2 and "none.yml" in err


@pytest.mark.parametrize(
    ("option", "what"),
    [
        ("--rules", "rules"),
        ("--sigma", "Sigma"),
        ("--asn", "ASN table"),
        ("--indicators", "indicators"),
    ],
)
def test_a_user_file_that_is_not_utf8_is_refused_in_one_line(
    tmp_path: Path, option: str, what: str
) -> None:
    """--rules read a binary file into a UnicodeDecodeError traceback (exit 1), and --sigma,
    --asn and --indicators answered with Python's decode message; each is bad input named in
    one line, with the first bad byte and where."""
    data = tmp_path / "bin.log"
    data.write_bytes(b"\xfa\x00\xff" + bytes(range(256)))
    log = tmp_path / "ns.log"
    log.write_text("x\n")
    code, _, err = run("gateway", "scan", "--as", "soc-1", str(log), option, str(data))
    assert code == 2, err
    assert (
        err.startswith(f"error: {what} ")
        and "bin.log: not UTF-8 text (byte 0xfa at offset 0)" in err
    )
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_an_attackers_markup_in_the_logs_is_printed_as_text(tmp_path: Path) -> None:
    """User names and agents in a log are an attacker's text: '[/x]' in them used to crash
    scan --sessions and report (Rich markup); now it is shown as it is."""
    log = tmp_path / "ns.log"
    log.write_text(
        login(0, "7", "ev[/il]@om.nl", "198.51.100.7", agent="[/bold]x")
        + connstat(9, "7", "ev[/il]@om.nl", "198.51.100.7", "203.0.113.66", "10.0.0.9:445"),
        encoding="latin-1",
    )
    code, out, err = run("gateway", "scan", "--as", "soc-1", str(log), "--sessions")
    assert code == 0, err
    assert "ev[/il]@om.nl" in out and "session-hijack" in out
    code, out, err = run(
        "gateway", "report", "--as", "soc-1", str(log), "--out", str(tmp_path / "r.html")
    )
    assert code == 0, err
    assert "ev[/il]@om.nl" in out


def test_scan_refuses_an_output_it_cannot_write_before_keeping_anything(
    tmp_path: Path, gateway_register: Path
) -> None:
    log = _hijacked(tmp_path / "ns.log")
    code, _, err = run(
        "gateway", "scan", "--as", "soc-1", str(log), "--json", str(tmp_path / "no" / "x.json")
    )
    assert code == 2 and "--json" in err and "no directory" in err
    code, _, err = run("gateway", "scan", "--as", "soc-1", str(log), "--ecs", str(tmp_path))
    assert code == 2 and "--ecs" in err and "is a directory" in err
    code, _, err = run("gateway", "triage", "--as", "soc-1", str(tmp_path), "--ecs", str(tmp_path))
    assert code == 2 and "is a directory" in err
    code, _, err = run("gateway", "report", "--as", "soc-1", str(log), "--out", str(tmp_path))
    assert code == 2 and "is a directory" in err
    assert not gateway_register.exists()  # nothing was kept


def test_a_finding_is_registered_once_however_the_path_is_typed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, gateway_register: Path
) -> None:
    (tmp_path / "in").mkdir()
    log = _hijacked(tmp_path / "in" / "ns.log")
    code, out, err = run("gateway", "scan", "--as", "soc-1", str(log))
    assert code == 0 and "1 new findings" in out, err
    monkeypatch.chdir(tmp_path / "in")
    code, out, err = run("gateway", "scan", "--as", "soc-1", "ns.log")
    assert code == 0 and "0 new findings" in out, err
    monkeypatch.chdir(tmp_path)
    code, out, err = run("gateway", "scan", "--as", "soc-1", "in/../in/ns.log")
    assert code == 0 and "0 new findings" in out, err


def test_report_leaves_out_findings_decided_as_false_positives(
    tmp_path: Path, gateway_register: Path
) -> None:
    log = _hijacked(tmp_path / "ns.log", "ann@om.nl")
    code, out, err = run(
        "gateway", "report", "--as", "soc-1", str(log), "--out", str(tmp_path / "r.html")
    )
    assert code == 0 and "misuse-found" in out, err
    fid = json.loads(gateway_register.read_text().splitlines()[0])["id"]
    code, _, err = run(
        "gateway", "decide", fid, "false-positive", "--as", "soc-1", "--reason", "home office"
    )
    assert code == 0, err
    code, out, err = run(
        "gateway", "report", "--as", "soc-1", str(log), "--out", str(tmp_path / "r.html")
    )
    assert code == 0, err
    assert "no-sign-of-misuse" in out and "1 false positive(s) not counted" in out
    written = json.loads((tmp_path / "verdicts.json").read_text(encoding="utf-8"))
    assert written["verdicts"][0]["dismissed"] == 1


@pytest.mark.parametrize("workers", ["1", "2"])
def test_every_line_not_parsed_is_kept_with_file_and_offset(tmp_path: Path, workers: str) -> None:
    log = tmp_path / "garbage.log"
    # One log line, then garbage (a log of garbage alone is refused: nothing would be checked).
    good = login(0, "7", "ann", "198.51.100.7")
    lines = [f"garbage line {i}\n" for i in range(1500)]
    log.write_text(good + "".join(lines), encoding="latin-1")
    out_json = tmp_path / "g.jsonl"
    code, out, err = run(
        "gateway", "scan", "--as", "soc-1", str(log), "--json", str(out_json), "--workers", workers
    )
    assert code == 0, err
    assert "1,500 lines not parsed (each kept with file and offset, the first 1,000 with" in out
    kept = [
        r["unparsed"]
        for x in out_json.read_text().splitlines()
        if "unparsed" in (r := json.loads(x))
    ]
    assert len(kept) == 1500
    offsets = [len(good)]
    for line in lines[:-1]:
        offsets.append(offsets[-1] + len(line))
    assert [k["offset"] for k in kept] == offsets
    assert {k["file"] for k in kept} == {str(log)}
    assert sum("line" in k for k in kept) == 1000
    assert kept[3]["line"] == "garbage line 3"


@pytest.mark.parametrize("command", ["follow", "listen"])
def test_stopped_by_its_service_manager_it_still_reports_the_session_findings(
    tmp_path: Path, command: str
) -> None:
    """SIGTERM ends a follow or a listen as Ctrl-C does: the findings of sessions still open
    (a hijack not yet logged out) reach the register."""
    import os
    import signal
    import socket
    import subprocess
    import sys
    import time

    register = tmp_path / "r.jsonl"
    logs = tmp_path / "logs"
    logs.mkdir()
    if command == "follow":
        args = ["follow", str(logs), "--as", "soc-1", "--interval", "0.2"]
    else:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        args = ["listen", "--as", "soc-1", "--udp", "", "--tcp", f"127.0.0.1:{port}"]
        args += ["--spool", str(tmp_path / "s")]
    proc = subprocess.Popen(
        [sys.executable, "-m", "ketenherstel.cli", "gateway", *args, "--register", str(register)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "COLUMNS": "200"},
    )
    try:
        assert proc.stdout is not None
        assert b"following" in proc.stdout.readline() or command == "listen"
        lines = login(0, "7", "ann", "198.51.100.7") + connstat(
            9, "7", "ann", "198.51.100.7", "203.0.113.66", "10.0.0.9:445"
        )
        if command == "follow":
            (logs / "ns.log").write_text(lines, encoding="latin-1")
        else:
            for _ in range(100):  # until it listens
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=1) as c:
                        c.sendall(lines.encode("latin-1"))
                    break
                except OSError:
                    time.sleep(0.1)
        time.sleep(1.5)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert "session-hijack" in register.read_text()


def test_triage_refuses_a_listing_or_ncsc_output_it_cannot_read(
    tmp_path: Path, gateway_register: Path
) -> None:
    """'0 findings' for a listing in another format read as a clean appliance: it is refused,
    naming the file and what was expected, and nothing is written."""
    from tests.gateway.test_triage import TAMPERED, write_dir

    ecs = tmp_path / "t.jsonl"
    root = write_dir(tmp_path / "c", {**TAMPERED, "listing.txt": b"-rw-r--r-- 1 root x\n"})
    code, out, err = run("gateway", "triage", "--as", "soc-1", str(root), "--ecs", str(ecs))
    assert code == 2 and out == ""
    assert f"{(root / 'listing.txt').resolve()}: no line in the listing's format" in err
    assert "%p|%u|%g|%m|%T@|%C@|%s" in err and len(err.strip().splitlines()) == 1
    root = write_dir(tmp_path / "d", {"custom_checks.log": b"hello\n"})
    code, out, err = run("gateway", "triage", "--as", "soc-1", str(root), "--ecs", str(ecs))
    assert code == 2 and "custom_checks.log: not the output of NCSC-NL's check script" in err
    assert not ecs.exists() and not gateway_register.exists()


def test_report_refuses_input_of_which_no_line_is_a_log_line_and_keeps_the_last_report(
    tmp_path: Path, gateway_register: Path
) -> None:
    """A report over random bytes replaced the last verdicts.json with an empty one."""
    log = _hijacked(tmp_path / "ns.log", "ann@om.nl")
    page = tmp_path / "out" / "rapport.html"
    code, _, err = run("gateway", "report", "--as", "soc-1", str(log), "--out", str(page))
    assert code == 0, err
    before = {p.name: p.read_bytes() for p in page.parent.iterdir()}
    assert set(before) == {"rapport.html", "rapport-om-nl.html", "verdicts.json"}
    register = gateway_register.read_bytes()
    garbage = tmp_path / "garbage.bin"
    garbage.write_bytes(bytes(range(256)) * 40)
    empty = tmp_path / "empty.log"
    empty.write_bytes(b"")
    for given in ([garbage], [empty], [garbage, empty]):
        code, out, err = run(
            "gateway", "report", "--as", "soc-1", *map(str, given), "--out", str(page)
        )
        assert code == 2 and "wrote" not in out, out
        assert len(err.strip().splitlines()) == 1 and "no report written" in err
        assert {p.name: p.read_bytes() for p in page.parent.iterdir()} == before
        assert gateway_register.read_bytes() == register
    assert f"{garbage}: none of its 41 lines is a NetScaler log line" in err
    assert f"{empty}: empty" in err
    # A log with a file that is none beside it: the report, and the file is named.
    code, out, err = run(
        "gateway", "report", "--as", "soc-1", str(garbage), str(log), "--out", str(page)
    )
    assert code == 0, err
    assert f"{garbage}: none of its 41 lines is a NetScaler log line" in out
    assert "misuse-found" in out
    written = json.loads((page.parent / "verdicts.json").read_text(encoding="utf-8"))
    assert written["files"] == 2 and written["unparsed"] == 41
    assert [v["code"] for v in written["verdicts"]] == ["misuse-found"]


def test_scan_refuses_input_of_which_no_line_is_a_log_line(
    tmp_path: Path, gateway_register: Path
) -> None:
    """A scan of random bytes said "0 findings": it read as a clean gateway."""
    garbage = tmp_path / "garbage.bin"
    garbage.write_bytes(bytes(range(256)) * 40)
    empty = tmp_path / "empty.log"
    empty.write_bytes(b"")
    ecs = tmp_path / "ecs.jsonl"
    for given in ([garbage], [empty], [garbage, empty]):
        code, out, err = run(
            "gateway", "scan", "--as", "soc-1", *map(str, given), "--ecs", str(ecs)
        )
        assert code == 2 and "findings" not in out, out
        assert len(err.strip().splitlines()) == 1 and "nothing scanned" in err
        assert not gateway_register.exists() and not ecs.exists()
    assert f"{garbage}: none of its 41 lines is a NetScaler log line" in err
    assert f"{empty}: empty" in err
    log = _hijacked(tmp_path / "ns.log", "ann@om.nl")
    code, out, err = run("gateway", "scan", "--as", "soc-1", str(garbage), str(log))
    assert code == 0, err
    assert f"{garbage}: none of its 41 lines is a NetScaler log line" in out
    assert "session-hijack" in out


def test_scan_warns_of_an_assumed_date_order_only_for_native_dates_read_either_way(
    tmp_path: Path,
) -> None:
    access = tmp_path / "access.log"
    access.write_text(access_probe(0, "203.0.113.9"), encoding="latin-1")
    empty = tmp_path / "empty.log"
    empty.write_text("")
    native = tmp_path / "ns.log"
    native.write_text(login(0, "7", "ann", "198.51.100.7"), encoding="latin-1")  # 07/10/2025
    code, out, err = run("gateway", "scan", "--as", "soc-1", str(access), str(empty), str(native))
    assert code == 0, err
    warned = [line for line in out.splitlines() if "no date in it has a day above 12" in line]
    assert len(warned) == 1 and warned[0].startswith(f"{native}:")


def _unwritable(tmp_path: Path) -> Path:
    """A register location no write reaches, also as root: a directory without write
    permission stops anyone else; root is stopped by a directory that cannot be made in
    /proc."""
    import os

    if os.geteuid() != 0:
        closed = tmp_path / "read-only"
        closed.mkdir()
        closed.chmod(0o555)
        return closed / "register.jsonl"
    if not Path("/proc/self").is_dir():
        pytest.skip("running as root without /proc: no register location refuses a write")
    return Path("/proc/ketenherstel-no-such-dir/register.jsonl")


@pytest.mark.parametrize("command", ["scan", "triage", "report"])
def test_a_register_that_cannot_be_written_is_one_line_and_nothing_else_is_written(
    tmp_path: Path, command: str
) -> None:
    """The register's write error was a traceback (scan and triage caught an OSError the
    register never lets out; report caught nothing, after it had written its reports and
    recorded them in the audit trail): now one line naming the register and the problem,
    exit code 2, with no --json, --ecs, report or audit record written."""
    from tests.gateway.test_triage import TAMPERED, write_dir

    register = _unwritable(tmp_path)
    ecs = tmp_path / "soc.jsonl"
    page = tmp_path / "out" / "rapport.html"
    log = str(_hijacked(tmp_path / "ns.log"))
    args = {
        "scan": [log, "--as", "soc-1", "--json", str(tmp_path / "f.jsonl"), "--ecs", str(ecs)],
        "triage": [str(write_dir(tmp_path / "c", TAMPERED)), "--as", "soc-1", "--ecs", str(ecs)],
        "report": [log, "--as", "soc-1", "--out", str(page)],
    }[command]
    code, out, err = run("gateway", command, *args, "--register", str(register))
    assert code == 2, err
    said = " ".join(err.split())
    assert said.startswith(f"error: register {register}: cannot write it (")
    assert "Traceback" not in err and "new findings" not in out
    assert not ecs.exists() and not (tmp_path / "f.jsonl").exists() and not page.parent.exists()
    assert _audited(f"sqlite:///{tmp_path}/k.db", "gateway-report-written") == []


def test_a_running_watch_stops_at_a_register_it_cannot_write_with_one_line(
    tmp_path: Path,
) -> None:
    """`gateway follow` ended with a traceback when its register could not be written; now
    one line naming the register and the problem, exit code 2, and the finding it could not
    keep is not sent on (no --ecs line)."""
    register = _unwritable(tmp_path)
    logs = tmp_path / "logs"
    logs.mkdir()
    _hijacked(logs / "ns.log")
    ecs = tmp_path / "soc.jsonl"
    code, _, err = run(
        "gateway", "follow", "--as", "soc-1", str(logs), "--for", "0.3", "--interval", "0.1",
        "--register", str(register), "--ecs", str(ecs),
    )  # fmt: skip
    assert code == 2 and "Traceback" not in err, err
    assert " ".join(err.split()).startswith(f"error: register {register}: cannot write it (")
    assert not ecs.exists()


def test_a_listener_stops_at_a_register_it_cannot_write_with_one_line(tmp_path: Path) -> None:
    """`gateway listen` logged a traceback from its event loop and went on listening with a
    register it could not write (each finding lost from it); now it stops at once with one line
    naming the register and the problem, exit code 2."""
    import os
    import socket
    import subprocess
    import sys

    from tests.gateway.lines import probe

    register = _unwritable(tmp_path)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ecs = tmp_path / "soc.jsonl"
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "ketenherstel.cli", "gateway", "listen", "--as", "soc-1",
            "--udp", f"127.0.0.1:{port}", "--spool", str(tmp_path / "spool.log"),
            "--for", "60", "--register", str(register), "--ecs", str(ecs),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "COLUMNS": "200"},
    )  # fmt: skip
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            for _ in range(100):  # until it listens (a datagram before that is lost)
                s.sendto(probe(1).encode("latin-1"), ("127.0.0.1", port))
                try:
                    proc.wait(timeout=0.2)
                    break
                except subprocess.TimeoutExpired:
                    continue
        _, err_bytes = proc.communicate(timeout=30)
    finally:
        proc.kill()
    err = err_bytes.decode()
    assert proc.returncode == 2 and "Traceback" not in err, err
    assert " ".join(err.split()).startswith(f"error: register {register}: cannot write it (")
    assert not ecs.exists()


def test_a_register_name_the_system_cannot_look_up_is_one_line(tmp_path: Path) -> None:
    """A register's name longer than the file system takes was a traceback from looking it
    up; now one line naming it, before anything is read."""
    register = tmp_path / ("r" * 300)
    code, out, err = run("gateway", "scan", "--as", "soc-1", str(_hijacked(tmp_path / "ns.log")),
                         "--register", str(register))  # fmt: skip
    assert code == 2 and "Traceback" not in err, err
    assert " ".join(err.split()).startswith(f"error: register {register}: ")
    assert "findings" not in out


def test_allowing_and_withdrawing_a_network_is_audited_and_a_refused_one_changes_nothing(
    tmp_path: Path, gateway_register: Path
) -> None:
    """An allowlist entry clears a network from hijack detection, yet `gateway allow` and
    `gateway withdraw` left no record in the store's audit trail: now gateway-allow-added and
    gateway-allow-withdrawn, who, the network, and the entry's id, network and end date (the
    reason, which may name someone, stays in the register); a refused one records nothing."""
    from ketenherstel.gateway.register import Register

    store = f"sqlite:///{tmp_path}/k.db"  # KETENHERSTEL_STORE
    allow = ("gateway", "allow", "192.0.2.9/24", "--until", SOON)
    code, out, err = run(*allow, "--reason", "ann works from home", "--as", " soc-1 ")
    assert code == 0, err
    [first] = Register(gateway_register).allowlist
    assert f"(entry {first.id})" in out and first.added_by == "soc-1"
    added = [("soc-1", "192.0.2.0/24", f"{first.id} 192.0.2.0/24 until {SOON}")]
    assert _audited(store, "gateway-allow-added") == added
    code, out, err = run(
        "gateway", "withdraw", "192.0.2.0/24", "--reason", "ann left", "--as", "soc-2"
    )
    assert code == 0 and f"(1 entry: {first.id})" in out, err
    withdrawn = [("soc-2", "192.0.2.0/24", f"{first.id} 192.0.2.0/24 until {SOON}")]
    assert _audited(store, "gateway-allow-withdrawn") == withdrawn
    # Allowed again and withdrawn again: the second withdrawal ends the second entry only.
    other = made(f"sqlite:///{tmp_path}/other.db")
    code, _, err = run(*allow, "--reason", "again", "--as", "soc-1", "--store", other)
    assert code == 0, err
    second = Register(gateway_register).allowlist[1]
    assert second.id != first.id
    code, out, err = run(
        "gateway", "withdraw", "192.0.2.0/24", "--reason", "r", "--as", "soc-2", "--store", other
    )
    assert code == 0 and f"(1 entry: {second.id})" in out, err
    assert _audited(other, "gateway-allow-added") == [
        ("soc-1", "192.0.2.0/24", f"{second.id} 192.0.2.0/24 until {SOON}")
    ]
    assert _audited(other, "gateway-allow-withdrawn") == [
        ("soc-2", "192.0.2.0/24", f"{second.id} 192.0.2.0/24 until {SOON}")
    ]
    trail = str(_audited(store, "gateway-allow-added") + _audited(other, "gateway-allow-added"))
    assert "ann" not in trail and "again" not in trail
    register = gateway_register.read_bytes()
    for command, args, code_wanted, said in [
        ("allow", ("10.0.0.0/8", "--until", SOON, "--reason", "r"), 2, "Missing option '--as'"),
        ("allow", ("10.0.0.0/8", "--until", SOON, "--reason", "r", "--as", " "), 2,
         "--as: an allowlist entry needs the name of who allows it"),
        ("allow", ("10.0.0.0/8", "--until", SOON, "--reason", "r", "--as", "a", "--store",
                   f"{tmp_path}/no.db"), 1, "no store"),
        ("allow", ("x", "--until", SOON, "--reason", "r", "--as", "a"), 2, "no network"),
        ("allow", ("10.0.0.0/8", "--until", SOON, "--reason", " ", "--as", "a"), 2, "reason"),
        ("withdraw", ("192.0.2.0/24", "--reason", "r"), 2, "Missing option '--as'"),
        ("withdraw", ("192.0.2.0/24", "--reason", "r", "--as", ""), 2,
         "--as: withdrawing an allowlist entry needs the name of who does it"),
        ("withdraw", ("192.0.2.0/24", "--reason", "r", "--as", "a", "--store",
                      f"{tmp_path}/no.db"), 1, "no store"),
        ("withdraw", ("192.0.2.0/24", "--reason", "r", "--as", "a"), 2, "not on the allowlist"),
    ]:  # fmt: skip
        code, out, err = run("gateway", command, *args)
        assert code == code_wanted and said in " ".join(err.split()), (command, args, err)
        assert gateway_register.read_bytes() == register
        for s in (store, other):
            assert len(_audited(s, "gateway-allow-added")) == 1
            assert len(_audited(s, "gateway-allow-withdrawn")) == 1
    assert not (tmp_path / "no.db").exists()
    code, out, _ = run("gateway", "allowlist")
    assert first.id in out and second.id in out


def test_the_store_option_says_what_the_store_gives_each_command() -> None:
    """The shared --store help said "its register and its gateway folder are the defaults" for
    every command, though only `report` writes to the gateway folder."""

    def store_help(command: str) -> str:
        code, out, err = run("gateway", command, "--help")
        assert code == 0, err
        words = " ".join(out.replace("│", " ").split())
        return re.split(r" --[a-z-]+ <", words.split("--store <str> ")[1])[0]

    for command in ("findings", "decide", "allow", "withdraw", "allowlist"):
        said = store_help(command)
        assert "its register is the default" in said and "gateway folder" not in said, said
    said = store_help("report")
    assert "who made the report" in said and "gateway folder" in said and "--out" in said


def test_a_reason_or_a_name_with_a_control_character_or_too_long_is_refused_and_kept_nowhere(
    tmp_path: Path, gateway_register: Path
) -> None:
    """`gateway decide ID false-positive --reason $'test\\x1b[31m rood'` was kept, and
    `gateway findings` then printed the raw escape (the terminal turned red); a 100 KB reason
    was kept too. Reasons (decide, allow, withdraw) and --as names are refused as the rest of
    the system refuses them, and nothing is kept or audited."""
    from ketenherstel.gateway.register import Register

    code, out, err = run("gateway", "scan", "--as", "soc-1", str(_hijacked(tmp_path / "ns.log")))
    assert code == 0, err
    code, _, err = run(
        "gateway", "allow", "192.0.2.0/24", "--reason", "office", "--until", SOON, "--as", "a"
    )
    assert code == 0, err
    [fid] = list(Register(gateway_register).findings)
    store = f"sqlite:///{tmp_path}/k.db"  # KETENHERSTEL_STORE
    register = gateway_register.read_bytes()
    trail = _audited(store, "gateway-allow-added")
    escape, long = "test\x1b[31m rood", "x" * 100_000
    for command, args, said in [
        ("decide", (fid, "false-positive", "--reason", escape, "--as", "a"),
         "a reason holds no control or invisible characters (U+001B)"),
        ("decide", (fid, "false-positive", "--reason", long, "--as", "a"),
         "a reason is at most 500 characters, not 100,000"),
        ("decide", (fid, "confirmed", "--reason", "r", "--as", "a\x1b[31mb"),
         "--as: a name holds no control or invisible characters (U+001B)"),
        ("decide", (fid, "confirmed", "--as", "a" * 201),
         "--as: a name is at most 200 characters, not 201"),
        ("allow", ("198.51.100.0/24", "--reason", "a\x07b", "--until", SOON, "--as", "a"),
         "(U+0007)"),
        ("allow", ("198.51.100.0/24", "--reason", long, "--until", SOON, "--as", "a"),
         "at most 500 characters"),
        ("withdraw", ("192.0.2.0/24", "--reason", escape, "--as", "a"), "(U+001B)"),
        ("withdraw", ("192.0.2.0/24", "--reason", "r", "--as", "\u202eadmin"),
         "--as: a name holds no control or invisible characters (U+202E)"),
        ("findings", ("--as", "a\x1b[2Jb"), "--as: a name holds no control"),
    ]:  # fmt: skip
        code, out, err = run("gateway", command, *args)
        assert code == 2 and said in " ".join(err.split()), (command, err)
        assert "\x1b" not in out and gateway_register.read_bytes() == register
    assert _audited(store, "gateway-allow-added") == trail
    assert _audited(store, "gateway-finding-decided") == []
    assert _audited(store, "gateway-findings-read") == []


@pytest.mark.parametrize(
    ("moment", "says"),
    [
        ("9999-12-31T23:59:59+00:00", "lies after"),
        ("2199-12-31T23:59:59-23:59", "lies after"),  # 2200-01-01 in UTC
        ("0001-01-01T00:00:00+23:59", "lies before"),  # no overflow either
        ("1999-12-31T23:59:59+00:00", "lies before"),
    ],
)
def test_a_kill_time_outside_the_dates_taken_here_is_refused(
    tmp_path: Path, gateway_register: Path, moment: str, says: str
) -> None:
    """--kill-time took any year (9999, or year 1 with an offset), and a kill time then calls
    every session after it abuse, or none: refused as the rest of the system refuses such
    dates (2000-01-01 to 2199-12-31), naming the option, before anything is read or kept."""
    log = str(_hijacked(tmp_path / "ns.log"))
    page = tmp_path / "out" / "rapport.html"
    for args in (
        ["scan", log, "--as", "soc-1"],
        ["report", log, "--as", "soc-1", "--out", str(page)],
    ):
        code, out, err = run("gateway", *args, "--kill-time", moment)
        assert code == 2 and out == "", err
        said = " ".join(err.split())
        assert f"--kill-time {moment!r}: {says} the dates taken here" in said
        assert "(2000-01-01 to 2199-12-31 UTC)" in said
        assert not gateway_register.exists() and not page.parent.exists()
    code, out, err = run(
        "gateway", "scan", "--as", "soc-1", log, "--kill-time", "2000-01-01T00:00:00Z"
    )
    assert code == 0, err


def test_the_allowlist_is_the_stores_as_allow_and_withdraw_keep_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`gateway allowlist` had no --store: without KETENHERSTEL_STORE it read a register
    beside the current directory and printed an empty table with exit code 0, so an operator
    who allowed a network with --store was told nothing is allowed. It now takes --store (or
    KETENHERSTEL_STORE) as `allow` does and lists that store's register; a store that does not
    exist is refused."""
    monkeypatch.delenv("KETENHERSTEL_GATEWAY_REGISTER")
    monkeypatch.delenv("KETENHERSTEL_STORE")
    monkeypatch.chdir(tmp_path)
    store = made(f"sqlite:///{tmp_path}/other.db")
    code, _, err = run(
        "gateway", "allow", "192.0.2.0/24", "--reason", "office", "--until", SOON,
        "--as", "soc-1", "--store", store,
    )  # fmt: skip
    assert code == 0, err
    code, out, err = run("gateway", "allowlist", "--store", store)
    assert code == 0 and "192.0.2.0/24" in out and "office" in out, err
    assert f"1 entry in the register {tmp_path}/other.gateway-register.jsonl" in out
    code, out, err = run("gateway", "allowlist")  # no store: refused, not an empty list
    assert code == 1 and "no store" in err and out == "", out
    assert not (tmp_path / "var").exists()
    monkeypatch.setenv("KETENHERSTEL_STORE", store)
    code, out, err = run("gateway", "allowlist")
    assert code == 0 and "192.0.2.0/24" in out, err
    code, out, err = run("gateway", "allowlist", "--register", str(tmp_path / "none.jsonl"))
    assert code == 0 and "0 entries in the register" in out, err


def test_a_report_place_that_cannot_be_written_is_refused_before_the_audit_trail_records_it(
    tmp_path: Path, gateway_register: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`gateway report --out /proc/x/rapport.html` (as root, whom os.access lets write
    anywhere) printed the verdicts and failed writing, and the audit trail said
    gateway-report-written for files never written. The place is now tried before the scan
    (its folders made, a file written, both removed again): refused with one line, nothing
    shown, kept or recorded. A write that fails after all is recorded as failed."""
    store = f"sqlite:///{tmp_path}/k.db"  # KETENHERSTEL_STORE
    log = str(_hijacked(tmp_path / "ns.log", "ann@om.nl"))
    page = _unwritable(tmp_path).parent / "sub" / "rapport.html"
    code, out, err = run("gateway", "report", log, "--as", "soc-1", "--out", str(page))
    assert code == 2 and out == "", out
    assert " ".join(err.split()).startswith(f"error: --out {page}: cannot write there (")
    assert _audited(store, "gateway-report-written") == []
    assert not gateway_register.exists() and not page.parent.exists()
    # The try leaves no folder behind when the report is refused later.
    deep = tmp_path / "a" / "b" / "rapport.html"
    garbage = tmp_path / "garbage.bin"
    garbage.write_bytes(bytes(range(256)) * 4)
    code, _, err = run("gateway", "report", str(garbage), "--as", "soc-1", "--out", str(deep))
    assert code == 2 and "no report written" in err and not (tmp_path / "a").exists()
    # A disk that fills up between the try and the write: the trail says the write failed.
    from ketenherstel.cli_gateway import _report

    def full(*args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(_report, "write_reports", full)
    code, out, err = run("gateway", "report", log, "--as", "soc-1", "--out", str(deep))
    assert code == 2 and "writing the reports failed" in " ".join(err.split())
    assert "wrote" not in out
    assert _audited(store, "gateway-report-write-failed") == [
        ("soc-1", "*", f"{deep}: No space left on device")
    ]


def test_scan_and_triage_are_audited_and_need_a_name_and_a_store_as_report_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`gateway scan` and `gateway triage` printed accounts (ann@om.nl), client addresses and
    the session ledger, kept findings and wrote --json/--ecs with no --as, no store and no
    audit record, while `findings` and `report` (the same data) were audited; `scan --allow`
    cleared hijacks into a network unaudited while `gateway allow` is audited. Both now need
    --as and a store (its register the default) and write gateway-scan / gateway-triage before
    anything is shown or written: counts, file names and --allow's networks, never a user or
    an address of the findings. Refused, they show, keep, write and record nothing."""
    from tests.gateway.test_triage import TAMPERED, write_dir

    monkeypatch.delenv("KETENHERSTEL_GATEWAY_REGISTER")  # the store's register, by default
    store = f"sqlite:///{tmp_path}/k.db"  # KETENHERSTEL_STORE
    register = tmp_path / "k.gateway-register.jsonl"
    log = str(_hijacked(tmp_path / "ns.log", "ann@om.nl"))
    out_json, ecs = tmp_path / "f.jsonl", tmp_path / "e.jsonl"
    collection = str(write_dir(tmp_path / "c", TAMPERED))
    for command, args, code_wanted, said in [
        ("scan", (log, "--sessions"), 2, "Missing option '--as'"),
        ("scan", (log, "--as", " "), 2, "--as: a scan shows users and addresses"),
        ("scan", (log, "--as", "a\x1bb"), 2, "--as: a name holds no control"),
        ("scan", (log, "--as", "soc-1", "--store", f"{tmp_path}/no.db"), 1, "no store"),
        ("scan", (log, "--as", "soc-1", "--allow", "0.0.0.0/0"), 2, "too wide to allow"),
        ("triage", (collection,), 2, "Missing option '--as'"),
        ("triage", (collection, "--as", ""), 2, "--as: a triage shows what the appliance"),
        ("triage", (collection, "--as", "soc-1", "--store", f"{tmp_path}/no.db"), 1, "no store"),
    ]:  # fmt: skip
        code, out, err = run(
            "gateway", command, *args, "--json" if command == "scan" else "--ecs",
            str(out_json if command == "scan" else ecs),
        )  # fmt: skip
        assert code == code_wanted and said in " ".join(err.split()), (args, err)
        assert "ann@om.nl" not in out and "203.0.113" not in out and "triage-" not in out
        assert not register.exists() and not out_json.exists() and not ecs.exists()
        assert not (tmp_path / "no.db").exists()
    assert _audited(store, "gateway-scan") == _audited(store, "gateway-triage") == []
    code, out, err = run(
        "gateway", "scan", log, "--as", " soc-1 ", "--sessions", "--allow", "192.0.2.9/24",
        "--json", str(out_json), "--ecs", str(ecs),
    )  # fmt: skip
    assert code == 0 and "ann@om.nl" in out, err
    assert f"1 new findings in the register {register}" in out
    assert _audited(store, "gateway-scan") == [
        (
            "soc-1",
            "1 file",
            f"1 findings, 1 sessions (listed); --json {out_json}; --ecs {ecs}; "
            "--allow 192.0.2.0/24",
        )
    ]
    code, out, err = run("gateway", "triage", collection, "--as", "soc-2")
    assert code == 0 and "triage-" in out, err
    [(who, what, detail)] = _audited(store, "gateway-triage")
    assert (who, what) == ("soc-2", str(Path(collection).resolve()))
    assert re.fullmatch(r"\d+ artefacts, \d+ findings", detail), detail
    other = made(f"sqlite:///{tmp_path}/other.db")
    code, out, err = run("gateway", "scan", log, "--as", "soc-3", "--store", other)
    assert code == 0 and f"in the register {tmp_path}/other.gateway-register.jsonl" in out, err
    assert _audited(other, "gateway-scan") == [("soc-3", "1 file", "1 findings, 1 sessions")]
    trail = str(_audited(store, "gateway-scan") + _audited(store, "gateway-triage"))
    assert not any(x in trail for x in ("ann", "198.51.100", "203.0.113"))


def test_a_running_watch_is_audited_at_its_start_and_needs_a_name_and_a_store(
    tmp_path: Path, gateway_register: Path
) -> None:
    """`gateway follow` and `gateway listen` print each finding (users, addresses) as it comes
    and ran with no --as, no store and no audit record. They run as services, so their start
    is audited (gateway-follow-started, gateway-listen-started: who, what it watches, where
    findings go); refused, they read, keep and record nothing."""
    store = f"sqlite:///{tmp_path}/k.db"  # KETENHERSTEL_STORE
    logs = tmp_path / "logs"
    logs.mkdir()
    _hijacked(logs / "ns.log", "ann@om.nl")
    spool = tmp_path / "spool.log"
    follow = ("follow", str(logs), "--for", "0", "--interval", "0.1")
    listen = ("listen", "--udp", "127.0.0.1:0", "--for", "0.1", "--spool", str(spool))
    for args, code_wanted, said in [
        (follow, 2, "Missing option '--as'"),
        ((*follow, "--as", " "), 2, "--as: a watch shows users and addresses"),
        ((*follow, "--as", "a", "--store", f"{tmp_path}/no.db"), 1, "no store"),
        (listen, 2, "Missing option '--as'"),
        ((*listen, "--as", "\x07"), 2, "--as: a name holds no control"),
        ((*listen, "--as", "a", "--store", f"{tmp_path}/no.db"), 1, "no store"),
    ]:
        code, out, err = run("gateway", *args)
        assert code == code_wanted and said in " ".join(err.split()), (args, err)
        assert "ann@om.nl" not in out and not gateway_register.exists() and not spool.exists()
    assert _audited(store, "gateway-follow-started") == []
    assert _audited(store, "gateway-listen-started") == []
    code, out, err = run("gateway", *follow, "--as", "soc-1", "--ecs", str(tmp_path / "e.jsonl"))
    assert code == 0 and "session-hijack" in out and "ann@om.nl" in out, err
    assert _audited(store, "gateway-follow-started") == [
        ("soc-1", str(logs), f"pattern *; --ecs {tmp_path / 'e.jsonl'}")
    ]
    code, out, err = run("gateway", *listen, "--as", "soc-2", "--allow", "192.0.2.0/24")
    assert code == 0 and "listening on udp 127.0.0.1:" in out, err
    [(who, where, detail)] = _audited(store, "gateway-listen-started")
    assert who == "soc-2" and re.fullmatch(r"udp 127\.0\.0\.1:\d+", where), where
    assert detail == f"spool {spool}; --allow 192.0.2.0/24"


def test_a_watch_refuses_bad_times_before_it_starts(tmp_path: Path, gateway_register: Path) -> None:
    """--for nan never stopped, --for -5 ran and exited 0, --interval 1e308 overflowed the
    sleep after gateway-follow-started was audited; listen took --for nan and -1 too. --for is
    a finite number of seconds (0 or more), --interval 0.1 to 3600 s: exit code 2 naming the
    option, before anything is read, kept or audited. (Cases that would hang without the
    check come last: the ones before them fail first.)"""
    store = f"sqlite:///{tmp_path}/k.db"  # KETENHERSTEL_STORE
    logs = tmp_path / "logs"
    logs.mkdir()
    _hijacked(logs / "ns.log", "ann@om.nl")
    spool = tmp_path / "spool.log"
    follow = ("follow", str(logs), "--as", "soc-1")
    listen = ("listen", "--as", "soc-1", "--udp", "127.0.0.1:0", "--spool", str(spool))
    for args, option in [
        ((*follow, "--for", "-5", "--interval", "0.1"), "--for -5"),
        ((*follow, "--for", "0", "--interval", "1e308"), "--interval 1e+308"),
        ((*follow, "--for", "inf", "--interval", "1e308"), "--for inf"),
        ((*follow, "--for", "nan", "--interval", "1e308"), "--for nan"),
        ((*follow, "--for", "0", "--interval", "3601"), "--interval 3601"),
        ((*follow, "--for", "0", "--interval", "0.01"), "--interval 0.01"),
        ((*listen, "--for", "-1"), "--for -1"),
        ((*listen, "--for", "nan"), "--for nan"),
        ((*follow, "--for", "nan", "--interval", "0.1"), "--for nan"),
        ((*listen, "--for", "inf"), "--for inf"),
    ]:
        code, out, err = run("gateway", *args)
        assert code == 2 and err.startswith(f"error: {option}: give "), (args, err)
        assert len(err.strip().splitlines()) == 1, err
        assert "ann@om.nl" not in out and not gateway_register.exists() and not spool.exists()
    assert _audited(store, "gateway-follow-started") == []
    assert _audited(store, "gateway-listen-started") == []
    code, out, err = run("gateway", *follow, "--for", "0", "--interval", "3600")
    assert code == 0 and "every 3600 s" in out, err
