"""Correlation with back-end logons and the verdict per organisation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ketenherstel.gateway.register import finding_id
from ketenherstel.gateway.verdict import (
    _GAP_RULES,
    CLEAR,
    FOUND,
    RULES_NL,
    SUSPECT,
    load_logons,
    render_html,
    verdicts,
    write_reports,
)
from ketenherstel.gateway.watch import GatewayInputError, scan
from tests.gateway.lines import T0, connstat, login, ns, request


def _log(tmp_path: Path) -> Path:
    log = tmp_path / "ns.log"
    log.write_text(
        # om.nl: ann's session moves to an unknown network and reaches a file server: misuse
        login(0, "7", "ann@om.nl", "198.51.100.7")
        + connstat(9, "7", "ann@om.nl", "198.51.100.7", "203.0.113.66", "10.0.0.9:445")
        # justid.nl: a session used without a login, 13 hours in: suspicious
        + login(1, "8", "bob@justid.nl", "198.51.100.8")
        + request(13 * 60, "9", "eve@justid.nl", "198.51.100.9")
        # rechtspraak.nl: ordinary use
        + login(2, "10", "carol@rechtspraak.nl", "192.0.2.5")
        + request(3, "10", "carol@rechtspraak.nl", "192.0.2.5"),
        encoding="latin-1",
    )
    return log


def test_each_organisation_gets_a_verdict_with_what_it_rests_on(tmp_path: Path) -> None:
    logons = tmp_path / "logons.csv"
    logons.write_text(
        "time,account,source,target\n"
        f"{T0.replace(minute=10).isoformat()},OM\\ann,10.1.1.1,fs01.om.local\n"
        f"{T0.replace(hour=20).isoformat()},ann,10.1.1.1,later.om.local\n"
    )
    result = scan([_log(tmp_path)])
    found = {v.organisation: v for v in verdicts(result, load_logons([logons]))}
    assert found["om.nl"].verdict == FOUND
    assert "fs01.om.local" in found["om.nl"].reasons[0]
    assert "later.om.local" not in found["om.nl"].reasons[0]  # long after the session
    assert found["justid.nl"].verdict == SUSPECT
    assert found["rechtspraak.nl"].verdict == CLEAR
    page = render_html(result, list(found.values()))
    assert '<html lang="nl">' in page and "misbruik gevonden" in page
    assert "Alle tijden in dit rapport zijn Nederlandse tijd" in page  # the details: UTC
    assert "geen aanwijzing voor misbruik" in page and "fs01.om.local" in page


def test_a_logon_of_the_same_name_at_another_organisation_is_not_joined(tmp_path: Path) -> None:
    """bob@om.nl's logon is not bob@politie.nl's: no verdict, and no report, rests on it."""
    log = tmp_path / "ns.log"
    log.write_text(
        login(0, "7", "bob@politie.nl", "198.51.100.7")
        + connstat(9, "7", "bob@politie.nl", "198.51.100.7", "203.0.113.66", "10.0.0.9:445"),
        encoding="latin-1",
    )
    logons = tmp_path / "logons.csv"
    at = T0.replace(minute=10).isoformat()
    logons.write_text(f"time,account,source,target\n{at},bob@om.nl,10.1.1.1,om-hr-db\n")
    result = scan([log])
    [politie] = verdicts(result, load_logons([logons]))
    assert politie.sessions and all(not v.logons for v in politie.sessions)
    assert "om-hr-db" not in " ".join(politie.reasons)
    assert "om-hr-db" not in render_html(result, [politie])
    # The same name with no mail domain (DOMAIN\\bob, bob) may be either: still joined.
    logons.write_text(f"time,account,source,target\n{at},POLITIE\\bob,10.1.1.1,pol-db\n")
    [politie] = verdicts(result, load_logons([logons]))
    assert [x.target for v in politie.sessions for x in v.logons] == ["pol-db"]
    assert politie.verdict == FOUND and "pol-db" in politie.reasons[0]


def test_log_poisoning_is_an_attack_in_the_report_not_a_gap_in_the_logging(
    tmp_path: Path,
) -> None:
    log = tmp_path / "ns.log"
    log.write_text(
        login(0, "7", "ann@om.nl", "198.51.100.7")
        + ns(1, "AAA LOGIN_FAILED", "User ev\x1bil - Client_ip 203.0.113.9 - Failure_reason x"),
        encoding="latin-1",
    )
    result = scan([log])
    assert "log-poisoning-control" in {f.rule for f in result.findings}
    page = render_html(result, verdicts(result))
    assert "Gaten in de logging: 0." in page and "1 logbestand (" in page
    assert "logvergiftiging" in page  # with the attacks on the gateway itself
    assert write_reports(tmp_path / "r.html", result, verdicts(result), 0.0)["logGaps"] == 0
    # Every built-in log- rule is one or the other.
    log_rules = {r for r in RULES_NL if r.startswith("log-")}
    assert log_rules - _GAP_RULES == {"log-poisoning-control", "log-poisoning-fake-header"}


def test_organisations_can_be_mapped(tmp_path: Path) -> None:
    result = scan([_log(tmp_path)])
    names = {v.organisation for v in verdicts(result, [], {"om.nl": "Openbaar Ministerie"})}
    assert "Openbaar Ministerie" in names and "om.nl" not in names


def test_logons_as_json_lines_and_bad_logon_files(tmp_path: Path) -> None:
    good = tmp_path / "l.jsonl"
    good.write_text(
        json.dumps({"time": "2025-07-10T08:10:00Z", "account": "ann", "target": "x"}) + "\n"
    )
    [logon] = load_logons([good])
    assert logon.target == "x" and str(logon.evidence) == f"{good}:0"
    bad = tmp_path / "bad.csv"
    bad.write_text("when,who\n1,2\n")
    with pytest.raises(GatewayInputError, match="no column account, target, time"):
        load_logons([bad])
    no_tz = tmp_path / "tz.csv"
    no_tz.write_text("time,account,target\n2025-07-10T08:10:00,ann,x\n")
    with pytest.raises(GatewayInputError, match=r"row 1: time .* has no offset"):
        load_logons([no_tz])
    not_json = tmp_path / "n.jsonl"
    not_json.write_text("{oops\n")
    with pytest.raises(GatewayInputError, match="row 1: not JSON"):
        load_logons([not_json])
    twice = tmp_path / "twice.jsonl"
    twice.write_text(
        good.read_text() + '{"time": "2025-07-10T08:11:00Z", "account": "ann", "account": "bob", '
        '"target": "x"}\n'
    )
    with pytest.raises(
        GatewayInputError, match="row 2: the key 'account' appears twice in the top-level object"
    ):
        load_logons([twice])


def test_reports_per_organisation_hold_only_that_organisation(tmp_path: Path) -> None:
    from ketenherstel.gateway.verdict import organisation_slug, read_verdicts

    result = scan([_log(tmp_path)])
    found = verdicts(result)
    out = tmp_path / "out" / "rapport.html"
    data = write_reports(out, result, found, 1_752_800_000.0)
    assert read_verdicts(out.parent) == data
    assert data["made"] == "2025-07-18T00:53:20+00:00" and data["lines"] == result.lines
    rows = {r["organisation"]: r for r in data["verdicts"]}
    assert {o: (r["verdict"], r["slug"], r["flaggedSessions"]) for o, r in rows.items()} == {
        "om.nl": (FOUND, "om-nl", 1),
        "justid.nl": (SUSPECT, "justid-nl", 1),
        "rechtspraak.nl": (CLEAR, "rechtspraak-nl", 0),
    }
    assert rows["om.nl"]["rules"] == ["session-hijack"]
    # verdicts.json is for viewers and the briefing: no account, no address
    text = (out.parent / "verdicts.json").read_text(encoding="utf-8")
    assert "ann" not in text and "eve" not in text and "198.51.100" not in text
    om = (out.parent / "rapport-om-nl.html").read_text(encoding="utf-8")
    assert "ann@om.nl" in om and "misbruik gevonden" in om and "bij om.nl" in om
    # the report is Dutch; the watch's own English detail is marked as such
    assert "sessie overgenomen" in om and "betrouwbaarheid hoog" in om
    assert 'technisch detail (Engels): <span lang="en">A session' in om
    # a gap in the logging in Dutch words and Dutch times (Europe/Amsterdam)
    assert "de poort logde een tijd niets: van 10-07-2025 10:09 tot 10-07-2025 23:00" in om
    assert "eve@justid.nl" not in om and "justid.nl" not in om and "rechtspraak" not in om
    justid = (out.parent / "rapport-justid-nl.html").read_text(encoding="utf-8")
    assert "eve@justid.nl" in justid and "ann@om.nl" not in justid
    everyone = out.read_text(encoding="utf-8")
    assert "ann@om.nl" in everyone and "eve@justid.nl" in everyone
    # two names with one slug keep a file each
    assert organisation_slug("Gemeente Den Haag") == "gemeente-den-haag"
    assert organisation_slug("***") == "onbekend"
    twins = verdicts(result, organisations={"om.nl": "A B", "justid.nl": "a-b"})
    mine = out.parent / "rapport-2025-11-30.html"  # a report the user named so, kept aside
    mine.write_text("mine", encoding="utf-8")
    slugs = [r["slug"] for r in write_reports(out, result, twins, 0.0)["verdicts"]]
    assert sorted(slugs) == ["a-b", "a-b-2", "rechtspraak-nl"]
    # the last run's reports of organisations this one has not are gone; a file the tool did
    # not write stays; nothing half made
    assert sorted(p.name for p in out.parent.iterdir()) == [
        "rapport-2025-11-30.html",
        "rapport-a-b-2.html",
        "rapport-a-b.html",
        "rapport-rechtspraak-nl.html",
        "rapport.html",
        "verdicts.json",
    ]


def test_a_damaged_verdicts_file_is_named(tmp_path: Path) -> None:
    from ketenherstel.gateway.verdict import read_verdicts

    assert read_verdicts(tmp_path) is None
    (tmp_path / "verdicts.json").write_text("{not json")
    with pytest.raises(GatewayInputError, match=r"verdicts\.json: not a verdicts file"):
        read_verdicts(tmp_path)
    (tmp_path / "verdicts.json").write_text('{"verdicts": 3}')
    with pytest.raises(GatewayInputError, match="no list of verdicts"):
        read_verdicts(tmp_path)
    # a report is only read by a name write_reports gives: no path out of the folder
    (tmp_path / "verdicts.json").write_text(
        '{"verdicts": [{"organisation": "x", "report": "../../etc/passwd"}]}'
    )
    with pytest.raises(GatewayInputError, match="without a report of its own"):
        read_verdicts(tmp_path)
    (tmp_path / "verdicts.json").write_text('{"made": "gisteren", "verdicts": []}')
    with pytest.raises(GatewayInputError, match="made 'gisteren' is not a time"):
        read_verdicts(tmp_path)


def test_every_built_in_rule_has_a_dutch_name_in_the_report() -> None:
    """The report is Dutch: each rule the watch and the triage ship with is named in Dutch
    (a user's own Sigma rule keeps its own title)."""
    import re

    from ketenherstel.gateway import triage, watch
    from ketenherstel.gateway.indicators import __file__ as indicators_file
    from ketenherstel.gateway.verdict import RULES_NL
    from ketenherstel.gateway.watch import load_rules

    ids = {rule.id for rule in load_rules().lines}
    for module in (watch.__file__, triage.__file__, indicators_file):
        text = Path(module).read_text(encoding="utf-8")
        ids |= set(re.findall(r'(?:Finding|_finding)\(\s*"([a-z0-9-]+)"', text))
    assert {"session-hijack", "triage-suid", "indicator-match", "cb1-oversized-host"} <= ids
    assert sorted(ids - RULES_NL.keys()) == []


def test_an_organisations_report_names_no_other_organisations_accounts(tmp_path: Path) -> None:
    """One address trying many accounts is a finding at the gateway itself; its detail lists
    the accounts, of any organisation, so only the report for all organisations shows it."""
    from ketenherstel.gateway.verdict import organisation_slug, write_reports
    from tests.gateway.lines import ns

    users = ["ann@om.nl", "bob@om.nl", "eve@justid.nl", "kim@justid.nl", "lou@om.nl", "max@om.nl"]
    log = tmp_path / "ns.log"
    log.write_text(
        login(0, "7", "ann@om.nl", "198.51.100.7")
        + login(1, "8", "eve@justid.nl", "198.51.100.8")
        + "".join(
            ns(2 + i, "AAA LOGIN_FAILED", f"User {u} - Client_ip 203.0.113.5 - Failure_reason x")
            for i, u in enumerate(users)
        ),
        encoding="latin-1",
    )
    result = scan([log])
    assert "many-accounts" in {f.rule for f in result.findings}
    out = tmp_path / "r" / "rapport.html"
    write_reports(out, result, verdicts(result), 0.0)
    everyone = out.read_text(encoding="utf-8")
    assert "kim@justid.nl" in everyone and "één adres gebruikte veel accounts" in everyone
    om = (out.parent / "rapport-om-nl.html").read_text(encoding="utf-8")
    assert "één adres gebruikte veel accounts" in om and "203.0.113.5" in om
    assert "justid" not in om and "kim@" not in om and "Zonder details" in om
    assert len(organisation_slug("x" * 200)) == 72  # room for a -2 and the API's 80


def test_a_finding_counts_only_for_its_own_session_not_another_with_the_same_id(
    tmp_path: Path,
) -> None:
    """Two organisations' sessions share SessionId 100 (the gateway reuses ids): ann's is
    hijacked, bob's is ordinary. Only om.nl is found, and politie.nl's report shows nothing of
    ann's session."""
    log = tmp_path / "ns.log"
    log.write_text(
        login(0, "100", "ann@om.nl", "192.0.2.10")
        + connstat(5, "100", "ann@om.nl", "198.51.100.20", "198.51.100.20", "10.0.0.5:443")
        + login(30, "100", "bob@politie.nl", "192.0.2.77")
        + request(40, "100", "bob@politie.nl", "192.0.2.77"),
        encoding="latin-1",
    )
    result = scan([log])
    assert len(result.sessions) == 2
    hijack = [f for f in result.findings if f.rule == "session-hijack"]
    assert len(hijack) == 1 and hijack[0].context == "ann@om.nl"
    found = {v.organisation: v for v in verdicts(result)}
    assert found["om.nl"].verdict == FOUND
    assert found["politie.nl"].verdict == CLEAR and not found["politie.nl"].sessions
    page = render_html(result, list(found.values()), "politie.nl")
    assert "198.51.100.20" not in page and "ann@om.nl" not in page


def test_findings_held_as_false_positives_do_not_count(tmp_path: Path) -> None:
    result = scan([_log(tmp_path)])
    ann = [f for f in result.findings if f.user == "ann@om.nl" and f.rule == "session-hijack"]
    assert ann
    found = {v.organisation: v for v in verdicts(result, dismissed={finding_id(ann[0])})}
    assert found["om.nl"].verdict == CLEAR and found["om.nl"].dismissed == 1
    assert found["justid.nl"].verdict == SUSPECT  # the other organisation's finding stands
    page = render_html(result, list(found.values()), "om.nl")
    assert "1 sessiebevinding(en) als vals-positief beoordeeld" in page
