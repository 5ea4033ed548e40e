"""The access portal's logs for om-2025 (decision 0012): the client organisations' ordinary use of
the NetScaler gateway, with a few attacks injected whose ground truth is known.

Ordinary use: pseudonymous users of each organisation log in on workdays from their office
network or their own home address, open the store, launch a desktop (a back-end logon follows),
and log out; now and then a password is mistyped. Some users work at a second office of their
organisation (an allowed network). Injected, with the rule that should find each:

- a CitrixBleed 2 probe campaign (leaked bytes in rejected names; bare ``login`` POSTs);
- leak then replay: a session first seen from the attacker's address minutes after the probes,
  without a login, reaching a file server;
- a hijacked session: an employee's session continues from the attacker's address;
- a password spray: one address, many accounts;
- a session still used after the sessions were killed.

Everything is deterministic for a seed. Addresses are documentation ranges; people are
pseudonyms.
"""

from __future__ import annotations

import gzip
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

__all__ = ["ORGANISATIONS", "PortalLogs", "generate_portal"]

# organisation domain -> (office network prefix, second office prefix)
ORGANISATIONS = {
    "om.nl": ("198.51.100.", "192.0.2."),
    "politie.nl": ("198.18.10.", "198.18.11."),
    "justid.nl": ("198.18.20.", "198.18.21."),
    "rechtspraak.nl": ("198.18.30.", "198.18.31."),
    "cjib.nl": ("198.18.40.", "198.18.41."),
}
ATTACKER = "203.0.113."
KILL = datetime(2025, 7, 17, 20, 0, tzinfo=UTC)


@dataclass(slots=True)
class PortalLogs:
    native: Path
    access: Path
    logons: Path
    lines: int
    attacks: list[dict[str, str]] = field(default_factory=list)
    allow: list[str] = field(default_factory=list)
    kill_time: datetime = KILL


class _Writer:
    def __init__(self) -> None:
        self.native: list[tuple[float, str, str]] = []
        self.access: list[tuple[float, str]] = []
        self.logons: list[tuple[float, str]] = []
        self.seq = 10_000_000

    def ns(self, at: datetime, kind: str, body: str) -> None:
        """A native line; its sequence number is given in time order when written."""
        stamp = at.strftime("%m/%d/%Y:%H:%M:%S")
        self.native.append(
            (
                at.timestamp(),
                f"<134> {stamp} GMT vpn-gw01 0-PPE-0 : default {kind} ",
                f" 0 : {body}\n",
            )
        )

    def numbered(self) -> list[str]:
        out = []
        for _, head, tail in sorted(self.native, key=lambda x: x[0]):
            self.seq += random.randint(1, 40)
            out.append(f"{head}{self.seq}{tail}")
        return out

    def web(self, at: datetime, ip: str, method: str, uri: str, status: int, rest: str) -> None:
        stamp = at.strftime("%Y-%m-%d %H:%M:%S")
        self.access.append(
            (
                at.timestamp(),
                f"{stamp} vpn-gw01 - HTTP/1.1 {ip} {random.randint(1024, 65000)} "
                f"{method} {uri} - {status} {random.randint(200, 900)} "
                f"{random.randint(500, 90000)} {rest}\n",
            )
        )

    def logon(self, at: datetime, account: str, source: str, target: str) -> None:
        self.logons.append((at.timestamp(), f"{at.isoformat()},{account},{source},{target}\n"))


def _session(
    w: _Writer,
    at: datetime,
    sid: str,
    user: str,
    ip: str,
    minutes: int,
    *,
    login: bool = True,
    moves_to: str | None = None,
    desktop: str | None = None,
) -> datetime:
    ctx = f"Context {user}@{ip} - SessionId: {sid}"
    agent = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/126.0"
    if login:
        w.ns(
            at,
            "SSLVPN LOGIN",
            f'{ctx} - User {user} - Client_ip {ip} - Nat_ip "Mapped Ip" - Vserver 192.0.2.250:443'
            f' - Browser_type "{agent}" - SSLVPN_client_type ICA - Group(s) "STAF"',
        )
    t = at
    for step in range(max(2, minutes // 15)):
        t = at + timedelta(minutes=step * 15 + random.randint(0, 5))
        client = moves_to if moves_to and step >= max(1, minutes // 30) else ip
        w.ns(
            t,
            "SSLVPN HTTPREQUEST",
            f"{ctx} - portal.justitie.example User {user} : Group(s) STAF : Vserver "
            f"192.0.2.250:443 - {t.strftime('%m/%d/%Y:%H:%M:%S')} GMT : SSO is ON : GET "
            "/Citrix/StoreWeb/Resources/List - -",
        )
        w.ns(
            t + timedelta(seconds=30),
            "SSLVPN TCPCONNSTAT",
            f'{ctx} - User {user} - Client_ip {client} - Nat_ip "Mapped Ip" - Vserver '
            f"192.0.2.250:443 - Source {client}:{random.randint(1024, 65000)} - Destination "
            f'{desktop or "10.20.0.10"}:2598 - Start_time "{t.strftime("%m/%d/%Y:%H:%M:%S")} GMT"'
            f' - End_time "{t.strftime("%m/%d/%Y:%H:%M:%S")} GMT" - Duration 00:00:30  - '
            f"Total_bytes_send {random.randint(1000, 90000)} - Total_bytes_recv "
            f'{random.randint(1000, 900000)} - Access Allowed - Group(s) "STAF"',
        )
    if desktop:
        w.logon(at + timedelta(minutes=2), user.split("@")[0], "10.20.0.2", desktop)
    end = t + timedelta(minutes=1)
    w.ns(
        end,
        "SSLVPN LOGOUT",
        f'{ctx} - User {user} - Client_ip {moves_to or ip} - Nat_ip "Mapped Ip" - Vserver '
        f'192.0.2.250:443 - Duration 00:{minutes % 60:02d}:00  - LogoutMethod "Explicit" - '
        'Group(s) "STAF"',
    )
    return end


def generate_portal(
    out_dir: Path,
    *,
    seed: int = 2025,
    start: datetime | None = None,
    days: int = 28,
    users_per_org: int = 40,
) -> PortalLogs:
    """Write the portal's native log (gzip), its web access log and the back-end logons."""
    random.seed(seed)
    begin = start or datetime(2025, 6, 30, tzinfo=UTC)
    w = _Writer()
    sid = 100_000
    homes: dict[str, str] = {}
    for day in range(days):
        date = begin + timedelta(days=day)
        if date.weekday() >= 5:
            continue
        for org, (office, second) in ORGANISATIONS.items():
            for n in range(users_per_org):
                if random.random() < 0.35:
                    continue
                user = f"u{n:04d}@{org}"
                if user not in homes:
                    homes[user] = f"198.19.{random.randint(0, 255)}.{random.randint(1, 254)}"
                where = random.random()
                ip = (
                    f"{office}{10 + n}"
                    if where < 0.6
                    else f"{second}{10 + n}"
                    if where < 0.7
                    else homes[user]
                )
                sid += 1
                at = date + timedelta(hours=7 + random.random() * 7)
                _session(
                    w,
                    at,
                    str(sid),
                    user,
                    ip,
                    random.randint(20, 240),
                    desktop=f"10.20.{list(ORGANISATIONS).index(org)}.{20 + n % 50}",
                )
                if random.random() < 0.03:
                    w.ns(
                        at - timedelta(minutes=1),
                        "AAA LOGIN_FAILED",
                        f'User {user} - Client_ip {ip} - Failure_reason "Username/Password '
                        'mismatch" - Browser Mozilla/5.0',
                    )
    attacks: list[dict[str, str]] = []
    # 1. CitrixBleed 2 probes from a scanner, 8 July 2025 09:30-09:40.
    probe_at = datetime(2025, 7, 8, 9, 30, tzinfo=UTC)
    scanner = f"{ATTACKER}200"
    for k in range(20):
        t = probe_at + timedelta(seconds=30 * k)
        leaked = bytes(random.randint(0x80, 0xFF) for _ in range(6)).decode("latin-1")
        w.ns(t, "AAA Message", f'"Authentication is rejected for {leaked}{k:02d}"')
        w.web(t, scanner, "POST", "/p/u/doAuthentication.do", 200, '"python-requests/2.31" login')
    attacks.append(
        {
            "attack": "CitrixBleed 2 probes",
            "rule": "cb2-access-bare-login",
            "also": "cb2-aaa-leaked-bytes",  # the same probes in the AAA log, without address
            "address": scanner,
            "at": probe_at.isoformat(),
        }
    )
    # 2. Leak then replay: a session first seen from the attacker 10 minutes later, no login.
    replay_at = probe_at + timedelta(minutes=20)
    replayer = f"{ATTACKER}201"
    _session(w, replay_at, "777001", "u0007@om.nl", replayer, 45, login=False, desktop="10.20.0.90")
    w.logon(replay_at + timedelta(minutes=5), "u0007", "10.20.0.2", "fs-om-01")
    attacks.append(
        {
            "attack": "leak then replay",
            "rule": "leak-then-replay",
            "address": replayer,
            "session": "777001",
            "at": replay_at.isoformat(),
        }
    )
    # 3. Hijack: an employee's session continues from the attacker's address.
    hijack_at = datetime(2025, 7, 9, 13, 0, tzinfo=UTC)
    _session(
        w,
        hijack_at,
        "777002",
        "u0012@politie.nl",
        "198.18.10.22",
        120,
        moves_to=f"{ATTACKER}202",
        desktop="10.20.1.90",
    )
    attacks.append(
        {
            "attack": "hijacked session",
            "rule": "session-hijack",
            "address": f"{ATTACKER}202",
            "session": "777002",
            "at": hijack_at.isoformat(),
        }
    )
    # 4. Password spray: eight accounts from one address in ten minutes.
    spray_at = datetime(2025, 7, 10, 2, 0, tzinfo=UTC)
    for k in range(8):
        w.ns(
            spray_at + timedelta(minutes=k),
            "AAA LOGIN_FAILED",
            f"User u{k:04d}@justid.nl - Client_ip {ATTACKER}203 - Failure_reason "
            '"Username/Password mismatch" - Browser python-httpx/0.27.0',
        )
    attacks.append(
        {
            "attack": "password spray",
            "rule": "many-accounts",
            "address": f"{ATTACKER}203",
            "at": spray_at.isoformat(),
        }
    )
    # 5. A session still used after the kill (17 July 20:00 UTC).
    late_at = KILL - timedelta(minutes=30)
    _session(w, late_at, "777003", "u0003@cjib.nl", "198.18.40.13", 90, desktop="10.20.4.23")
    attacks.append(
        {
            "attack": "session after the kill",
            "rule": "session-after-kill",
            "address": "198.18.40.13",
            "session": "777003",
            "at": late_at.isoformat(),
        }
    )

    out_dir.mkdir(parents=True, exist_ok=True)
    native = out_dir / "ns.log.gz"
    with gzip.open(native, "wt", encoding="latin-1") as fh:
        fh.writelines(w.numbered())
    access = out_dir / "access.log"
    access.write_text("".join(line for _, line in sorted(w.access)), encoding="latin-1")
    logons = out_dir / "logons.csv"
    logons.write_text(
        "time,account,source,target\n" + "".join(line for _, line in sorted(w.logons)),
        encoding="utf-8",
    )
    allow = [f"{second}0/24" for _, second in ORGANISATIONS.values()]
    allow += [f"{office}0/24" for office, _ in ORGANISATIONS.values()]
    return PortalLogs(native, access, logons, len(w.native) + len(w.access), attacks, allow)
