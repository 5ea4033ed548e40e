"""Correlation with back-end logons and the verdict per organisation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ketenherstel.gateway.verdict import CLEAR, FOUND, SUSPECT, load_logons, render_html, verdicts
from ketenherstel.gateway.watch import GatewayInputError, scan
from tests.gateway.lines import T0, connstat, login, request


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
    assert "geen aanwijzing voor misbruik" in page and "fs01.om.local" in page


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
