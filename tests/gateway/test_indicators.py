"""Indicator import in each format (STIX 2.1, MISP JSON, CSV), and matches in logs and triage
that say where each indicator came from."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ketenherstel.gateway.indicators import load_indicators
from ketenherstel.gateway.triage import read_collection, triage
from ketenherstel.gateway.watch import GatewayInputError, scan
from tests.gateway.lines import access_probe, login, request
from tests.gateway.test_triage import TAMPERED, write_dir

STIX = {
    "type": "bundle",
    "id": "bundle--1",
    "objects": [
        {
            "type": "indicator",
            "id": "indicator--a",
            "name": "CitrixBleed 2 scanner",
            "pattern": "[ipv4-addr:value = '203.0.113.9']",
            "pattern_type": "stix",
        },
        {
            "type": "indicator",
            "id": "indicator--b",
            "pattern": "[file:hashes.'SHA-256' = 'ab' * 1] OR [url:value = "
            "'https://gw.example.nl/var/netscaler/logon/themes/x.php']",
            "pattern_type": "stix",
        },
        {"type": "malware", "id": "malware--c", "name": "not an indicator"},
    ],
}
MISP = {
    "Event": {
        "id": "1234",
        "Attribute": [
            {"type": "ip-src", "value": "198.51.100.250", "uuid": "u1", "comment": "VPS"},
            {"type": "user-agent", "value": "python-requests/2.31", "uuid": "u2"},
            {"type": "vulnerability", "value": "CVE-2025-5777", "uuid": "u3"},
        ],
        "Object": [{"Attribute": [{"type": "sha256", "value": "CD" * 32, "uuid": "u4"}]}],
    }
}
CSV = (
    "type,value,note\nip,192.0.2.66,honeypot hit\ncidr,203.0.113.0/24,scanner range\n"
    "path,/p/u/doAuthentication.do,CB2 endpoint\n"
)


def files(tmp_path: Path) -> list[Path]:
    (tmp_path / "feed.stix.json").write_text(json.dumps(STIX))
    (tmp_path / "misp.json").write_text(json.dumps(MISP))
    (tmp_path / "iocs.csv").write_text(CSV)
    return [tmp_path / "feed.stix.json", tmp_path / "misp.json", tmp_path / "iocs.csv"]


def test_each_format_is_imported_with_its_provenance(tmp_path: Path) -> None:
    iocs = load_indicators(files(tmp_path))
    got = {(i.kind, i.value, i.source) for i in iocs.items}
    assert ("ip", "203.0.113.9", "feed.stix.json indicator--a") in got
    assert (
        "path",
        "https://gw.example.nl/var/netscaler/logon/themes/x.php",
        "feed.stix.json indicator--b",
    ) in got
    assert ("ip", "198.51.100.250", "misp.json event 1234 attribute u1") in got
    assert ("user_agent", "python-requests/2.31", "misp.json event 1234 attribute u2") in got
    assert ("hash", "CD" * 32, "misp.json event 1234 attribute u4") in got
    assert ("cidr", "203.0.113.0/24", "iocs.csv row 3") in got
    assert not any(i.value == "CVE-2025-5777" for i in iocs.items)


def test_matches_in_logs_and_in_triage(tmp_path: Path) -> None:
    iocs = load_indicators(files(tmp_path))
    log = tmp_path / "access.log"
    log.write_text(access_probe(0, "203.0.113.9") + login(1, "1", "ann", "198.51.100.7"))
    r = scan([log], indicators=iocs)
    matches = [f for f in r.findings if f.rule == "indicator-match"]
    sources = sorted(f.detail for f in matches)
    assert any("feed.stix.json indicator--a" in s for s in sources)  # the address
    assert any("iocs.csv row 3" in s for s in sources)  # the CIDR covers it too
    assert any("misp.json event 1234 attribute u2" in s for s in sources)  # the user agent
    assert any("iocs.csv row 4" in s for s in sources)  # the path
    assert all(str(f.evidence[0]) == f"{log}:0" for f in matches)  # the access line only
    found = triage(read_collection(write_dir(tmp_path / "c", TAMPERED)), iocs)
    hits = [f for f in found if f.rule == "indicator-match"]
    assert len(hits) == 1 and "x.php" in hits[0].detail and "indicator--b" in hits[0].detail


@pytest.mark.parametrize(
    ("name", "text", "says"),
    [
        ("bad.csv", "type,value\nplanet,mars\n", "row 2: type 'planet'"),
        ("bad2.csv", "ip,not-an-ip\n", "row 1: 'not-an-ip' is no address"),
        ("bad.json", "{", "not JSON"),
        # json.loads kept the second value: the feed would have flagged another address.
        (
            "twice.json",
            '{"Event": {"Attribute": [{"type": "ip-src", "value": "192.0.2.1", '
            '"value": "198.51.100.1"}]}}',
            r"twice.json: the key 'value' appears twice in the object at Event.Attribute\[0\]",
        ),
        ("other.json", '{"hello": 1}', "not a MISP export"),
        ("objects.json", '{"type": "bundle", "objects": 5}', "objects must be a list"),
        ("event.json", '{"Event": "x"}', "not a MISP export"),
        ("attrs.json", '{"Event": {"Attribute": ["x"]}}', "Attribute must be a list of objects"),
        ("attrs2.json", '{"Event": {"Attribute": 5}}', "Attribute must be a list of objects"),
        (
            "objs.json",
            '{"Event": {"Object": [{"Attribute": 7}]}}',
            "Object's Attribute must be a list",
        ),
        (
            "badip.json",
            '{"Event": {"Attribute": [{"type": "ip-src", "value": "nope"}]}}',
            "'nope' is no address",
        ),
        # An empty value would match every event without a host: refused, in every format.
        ("emptydom.csv", "type,value,note\ndomain,,empty\n", "row 2: a domain indicator without"),
        (
            "emptydom.json",
            '{"Event": {"Attribute": [{"type": "domain", "value": ""}]}}',
            "a domain indicator without a value",
        ),
        # A feed that gives nothing to match (only a header, or patterns this does not read).
        ("header.csv", "type,value,note\n", "no indicator in it"),
        (
            "unread.json",
            '{"type": "bundle", "objects": [{"type": "indicator", "pattern_type": "stix", '
            '"pattern": "[ipv4-addr:value = 999.1.1.1]"}]}',
            "no indicator in it",
        ),
    ],
)
def test_bad_indicator_files_are_named(tmp_path: Path, name: str, text: str, says: str) -> None:
    (tmp_path / name).write_text(text)
    with pytest.raises(GatewayInputError, match=says):
        load_indicators([tmp_path / name])


def test_networks_connections_and_sites_match_as_a_feed_means_them(tmp_path: Path) -> None:
    """A STIX network (ISSUBSET) or a connection's source, a MISP ip-src with a prefix, a CSV
    ip with a prefix: each matches the addresses inside it. A MISP url of a bare site names the
    site, and must not match every request's '/'."""
    stix = {
        "type": "bundle",
        "objects": [
            {
                "type": "indicator",
                "id": "indicator--net",
                "pattern": "[ipv4-addr:value ISSUBSET '203.0.113.0/24']",
            },
            {
                "type": "indicator",
                "id": "indicator--conn",
                "pattern": "[network-traffic:src_ref.value = '198.51.100.7']",
            },
        ],
    }
    misp = {
        "Event": {
            "id": "9",
            "Attribute": [
                {"type": "ip-src", "value": "192.0.2.0/28", "uuid": "n1"},
                {"type": "url", "value": "https://attacker.example/", "uuid": "n2"},
            ],
        }
    }
    (tmp_path / "n.stix.json").write_text(json.dumps(stix))
    (tmp_path / "n.misp.json").write_text(json.dumps(misp))
    (tmp_path / "n.csv").write_text("type,value\nip,10.0.0.0/8\n")
    iocs = load_indicators([tmp_path / "n.stix.json", tmp_path / "n.misp.json", tmp_path / "n.csv"])
    assert sorted(i.kind for i in iocs.items) == ["cidr", "cidr", "cidr", "domain", "ip"]
    assert [i.source for i in iocs.match_address("203.0.113.77")] == ["n.stix.json indicator--net"]
    assert [i.source for i in iocs.match_address("198.51.100.7")] == ["n.stix.json indicator--conn"]
    assert len(iocs.match_address("192.0.2.3")) == 1 and not iocs.match_address("192.0.2.30")
    assert len(iocs.match_address("10.20.30.40")) == 1
    log = tmp_path / "ns.log"
    log.write_text(request(0, "5", "carol", "192.0.2.200", "/Citrix/Roaming/Accounts"))
    r = scan([log], indicators=iocs)
    assert not [f for f in r.findings if f.rule == "indicator-match"]  # "/" is not an indicator


def test_an_indicator_written_as_ipv6_matches_the_ipv4_address_it_is(tmp_path: Path) -> None:
    """Copied from a dual-stack log, ::ffff:203.0.113.9 matched nothing once the scan read such
    addresses as IPv4 (a review of 6786ff3): the indicator is read so too."""
    log = tmp_path / "ns.log"
    log.write_text(
        login(0, "1", "jan", "::ffff:203.0.113.9") + login(1, "2", "piet", "198.51.100.7"),
        encoding="latin-1",
    )
    ioc = tmp_path / "ioc.csv"
    ioc.write_text(
        "type,value,note\nip,::ffff:203.0.113.9,from the log\ncidr,::ffff:198.51.100.0/120,net\n",
        encoding="utf-8",
    )
    r = scan([log], indicators=load_indicators([ioc]))
    hits = {f.address for f in r.findings if f.rule == "indicator-match"}
    assert hits == {"203.0.113.9", "198.51.100.7"}
