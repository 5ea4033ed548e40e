"""Sigma rules (pySigma) evaluated on parsed gateway events: the built-in ones, and a user's."""

from __future__ import annotations

from pathlib import Path

import pytest

from ketenherstel.gateway.parse import LineParser
from ketenherstel.gateway.sigma import builtin_sigma, load_sigma
from ketenherstel.gateway.watch import GatewayInputError, load_rules, scan
from tests.gateway.lines import login, ns

USER_RULES = """
title: Logins with a scripted user agent
name: scripted-login
status: experimental
logsource: {product: citrix, service: netscaler}
detection:
  selection_kind:
    kind: SSLVPN LOGIN
  selection_agent:
    Browser_type|contains:
      - python-requests
      - curl/
  filter_lab:
    Client_ip|startswith: '192.0.2.'
  condition: all of selection_* and not filter_lab
level: high
---
title: Keyword in any line
name: keyword-sample
status: experimental
logsource: {product: citrix, service: netscaler}
detection:
  keywords:
    - 'ns_aaa_dialogue_handler'
  condition: keywords
level: low
"""


def test_builtin_sigma_rules_load_and_keep_their_names() -> None:
    names = {r.id for r in builtin_sigma()}
    assert {"cb1-openid-configuration", "cb1-oversized-host", "cli-shell-command"} <= names
    assert names <= {r.id for r in load_rules().lines}


def test_a_users_sigma_rules(tmp_path: Path) -> None:
    path = tmp_path / "mine.yml"
    path.write_text(USER_RULES, encoding="utf-8")
    scripted, keyword = load_sigma([path])
    assert (scripted.id, scripted.confidence, keyword.confidence) == (
        "scripted-login",
        "high",
        "low",
    )
    p = LineParser()
    bad = p.parse(login(0, "1", "ann", "198.51.100.7", agent="python-requests/2.31"))
    lab = p.parse(login(0, "2", "ann", "192.0.2.7", agent="curl/8.0"))
    fine = p.parse(login(0, "3", "ann", "198.51.100.7"))
    assert bad is not None and lab is not None and fine is not None
    assert scripted.matches(bad) and not scripted.matches(lab) and not scripted.matches(fine)
    line = p.parse(ns(1, "AAA Message", '"core 12: ns_aaa_dialogue_handler: dialogue resp"'))
    assert line is not None and keyword.matches(line) and not keyword.matches(fine)
    log = tmp_path / "ns.log"
    log.write_text(login(0, "1", "ann", "198.51.100.7", agent="python-requests/2.31"))
    found = [f.rule for f in scan([log], rules=load_rules(sigma=[path])).findings]
    assert found == ["scripted-login"]


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("title: x\nlogsource: {}\ndetection: {condition: sel}\n", "Sigma"),
        ("title: [unclosed\n", "Sigma"),
        # pySigma's own reading (yaml.safe_load_all) kept the last condition and said nothing.
        (
            USER_RULES.replace(
                "  condition: keywords\n", "  condition: keywords\n  condition: x\n"
            ),
            "Sigma .*bad.yml: line 26, column 3: the key 'condition' is given twice in one "
            "mapping \\(first on line 25\\)",
        ),
    ],
)
def test_bad_sigma_files_are_named(tmp_path: Path, text: str, says: str) -> None:
    path = tmp_path / "bad.yml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(GatewayInputError, match=says) as caught:
        load_sigma([path])
    assert "bad.yml" in str(caught.value)


@pytest.mark.parametrize(
    ("command", "flagged"),
    [
        ("shell", True),
        ("shell cat /flash/nsconfig/ns.conf", True),
        ("bash -i", True),
        ("sh -c 'id'", True),
        ("cp /tmp/x.php /var/netscaler/logon/x.php", True),
        ("chmod 4755 /var/tmp/sh", True),
        ("curl -o /tmp/a http://198.51.100.9/a", True),
        ("rm -rf /var/log/ns.log", True),
        ("sh ns ip", False),  # the CLI's "show"
        ("show ns ip", False),
        ("rm lb vserver old_vs", False),  # the CLI's "remove"
        ("set ns config -IPAddress 10.0.0.1", False),
    ],
)
def test_the_shell_rule_tells_a_shell_from_the_netscaler_cli(command: str, flagged: bool) -> None:
    line = ns(0, "CLI CMD_EXECUTED", f'User nsroot - Remote_ip 10.0.0.5 - Command "{command}"')
    event = LineParser().parse(line)
    assert event is not None
    hits = [r.id for r in load_rules().lines if r.matches(event)]
    assert ("cli-shell-command" in hits) is flagged
