"""om-2025's portal logs: ordinary use and five injected attacks, each found by the rule that
should find it, and no high-confidence finding that no attack explains."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from ketenherstel.gateway.verdict import CLEAR, FOUND, load_logons, verdicts
from ketenherstel.gateway.watch import Watch, load_rules
from ketenherstel.sim.portal import generate_portal


def test_the_injected_attacks_are_found_and_nothing_else_at_high_confidence(tmp_path: Path) -> None:
    logs = generate_portal(tmp_path, days=14, users_per_org=12)
    again = generate_portal(tmp_path / "again", days=14, users_per_org=12)
    assert logs.native.read_bytes() != b"" and logs.attacks == again.attacks  # deterministic
    watch = Watch(load_rules(), allow=logs.allow, kill_time=logs.kill_time.timestamp())
    for path in (logs.native, logs.access):
        watch.scan_file(path)
    r = watch.finish()
    assert r.unparsed == 0
    for attack in logs.attacks:
        assert any(
            f.rule == attack["rule"]
            and (f.address == attack["address"] or f.session == attack.get("session"))
            for f in r.findings
        ), attack
    attackers = {a["address"] for a in logs.attacks}
    sessions = {a.get("session") for a in logs.attacks}
    probe_rules = {a.get("also") for a in logs.attacks}
    stray = [
        f
        for f in r.findings
        if f.confidence == "high"
        and f.address not in attackers
        and f.session not in sessions
        and f.rule not in probe_rules
    ]
    assert stray == []
    found = {v.organisation: v.verdict for v in verdicts(r, load_logons([logs.logons]))}
    assert found["om.nl"] == FOUND and found["politie.nl"] == FOUND and found["cjib.nl"] == FOUND
    assert found["rechtspraak.nl"] == CLEAR
    assert all(datetime.fromisoformat(a["at"]) for a in logs.attacks)
