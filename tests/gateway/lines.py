"""NetScaler lines built for tests, in the shapes the appliance writes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

T0 = datetime(2025, 7, 10, 8, 0, 0, tzinfo=UTC)
_SEQ = iter(range(1000, 10_000_000))


def ts(minutes: float) -> str:
    return (T0 + timedelta(minutes=minutes)).strftime("%m/%d/%Y:%H:%M:%S")


def ns(minutes: float, kind: str, body: str, *, host: str = "gw1", seq: int | None = None) -> str:
    number = next(_SEQ) if seq is None else seq
    return f"<134> {ts(minutes)} GMT {host} 0-PPE-0 : default {kind} {number} 0 : {body}\n"


def login(minutes: float, sid: str, user: str, ip: str, agent: str = "Mozilla/5.0") -> str:
    return ns(
        minutes,
        "SSLVPN LOGIN",
        f"Context {user}@{ip} - SessionId: {sid} - User {user} - Client_ip {ip} - "
        f'Nat_ip "Mapped Ip" - Vserver 192.0.2.10:443 - Browser_type "{agent}" - '
        'SSLVPN_client_type ICA - Group(s) "N/A"',
    )


def logout(minutes: float, sid: str, user: str, ip: str) -> str:
    return ns(
        minutes,
        "SSLVPN LOGOUT",
        f"Context {user}@{ip} - SessionId: {sid} - User {user} - Client_ip {ip} - "
        f'Nat_ip "Mapped Ip" - Vserver 192.0.2.10:443 - Start_time "{ts(0)} GMT" - '
        f'End_time "{ts(minutes)} GMT" - Duration 00:10:00  - Total_bytes_send 100 - '
        'Total_bytes_recv 200 - LogoutMethod "Explicit" - Group(s) "N/A"',
    )


def request(
    minutes: float, sid: str, user: str, context_ip: str, path: str = "/Citrix/Store"
) -> str:
    return ns(
        minutes,
        "SSLVPN HTTPREQUEST",
        f"Context {user}@{context_ip} - SessionId: {sid} - portal.example.nl User {user} : "
        f"Group(s) N/A : Vserver 192.0.2.10:443 - {ts(minutes)} GMT : SSO is ON : GET {path} - -",
    )


def connstat(
    minutes: float, sid: str, user: str, context_ip: str, client_ip: str, dest: str
) -> str:
    return ns(
        minutes,
        "SSLVPN TCPCONNSTAT",
        f"Context {user}@{context_ip} - SessionId: {sid} - User {user} - Client_ip {client_ip} - "
        f'Nat_ip "Mapped Ip" - Vserver 192.0.2.10:443 - Source {client_ip}:50000 - '
        f'Destination {dest} - Start_time "{ts(minutes)} GMT" - End_time "{ts(minutes)} GMT" - '
        "Duration 00:00:01  - Total_bytes_send 100 - Total_bytes_recv 2000 - Access Allowed - "
        'Group(s) "N/A"',
    )


def probe(minutes: float, leaked: bytes = b"\xa0\x91\xfe\x02secret") -> str:
    return ns(
        minutes, "AAA Message", '"Authentication is rejected for ' + leaked.decode("latin-1") + '"'
    )


def access_probe(minutes: float, ip: str) -> str:
    when = (T0 + timedelta(minutes=minutes)).strftime("%Y-%m-%d %H:%M:%S")
    return (
        f"{when} gw1 - HTTP/1.1 {ip} 51234 POST /p/u/doAuthentication.do - 200 5 12000 "
        '"python-requests/2.31" login\n'
    )
