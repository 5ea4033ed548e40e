"""The parser on every event type and variant the issue names, including published lines
(../shared/corpora/netscaler-format-examples.md)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from ketenherstel.gateway.parse import (
    LineParser,
    detect_date_order,
    has_native_date,
    has_native_date_bytes,
    split_fields,
)
from ketenherstel.gateway.watch import scan

P = LineParser()


def at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def test_sslvpn_login_behind_rfc3164_as_published_by_cert_at() -> None:
    line = (
        "Oct  1 06:02:44 netscaler 10/01/2023:06:02:44  C-SYS-F2-003 0-PPE-4 : default SSLVPN "
        "LOGIN 104413247 0 : Context user@example.com@a.b.c.d - SessionId: 34921 - User "
        'user@example.com - Client_ip a.b.c.d - Nat_ip "Mapped Ip" - Vserver a.b.c.d:443 - '
        'Browser_type "Mozilla/5.0 (…) Chrome/117.0.0.0 Safari/537.36" - SSLVPN_client_type ICA'
        ' - Group(s) "N/A"'
    )
    e = P.parse(line)
    assert e is not None
    assert (e.kind, e.seq, e.host, e.at) == (
        "SSLVPN LOGIN",
        104413247,
        "C-SYS-F2-003",
        at("2023-10-01T06:02:44"),
    )
    assert e.fields["SessionId"] == "34921" and e.fields["User"] == "user@example.com"
    assert e.fields["Browser_type"].startswith("Mozilla/5.0 (…)")
    assert e.fields["Nat_ip"] == "Mapped Ip" and e.fields["Group(s)"] == "N/A"


def test_tcpconnstat_without_context_or_session_as_in_the_netscaler_blog() -> None:
    line = (
        "07/11/2025:10:41:50 GMT ns 0-PPE-0 : default SSLVPN TCPCONNSTAT 1496 0 :  User user1 - "
        "Client_ip 10.2.0.20 - Nat_ip 127.0.0.2 - Vserver 10.1.2.32:443 - Source 10.2.0.20:50961"
        ' - Destination 127.0.0.1:81 - Start_time "…" - End_time "…" - Duration 00:00:00  - '
        'Total_bytes_send 750 - Total_bytes_recv 1200 - Access Allowed - Group(s) "N/A"'
    )
    e = P.parse(line)
    assert e is not None and e.kind == "SSLVPN TCPCONNSTAT"
    assert "SessionId" not in e.fields and "Context" not in e.fields
    assert e.fields["Destination"] == "127.0.0.1:81" and e.fields["Total_bytes_recv"] == "1200"


def test_httprequest_logout_login_failed_ica_start_and_end() -> None:
    http = P.parse(
        "<134> 07/07/2024:10:57:19  ns1 0-PPE-0 : default SSLVPN HTTPREQUEST 138832222 0 : "
        "Context jim@school.edu@67.43.156.20 - SessionId: 74999 - citrix.school.edu User "
        "jim@school.edu : Group(s) N/A : Vserver 67.43.156.15:443 - 07/07/2024:10:57:19  : "
        "SSO is ON : GET /Citrix/Roaming/Accounts - -"
    )
    assert http is not None and http.kind == "SSLVPN HTTPREQUEST"
    assert (http.fields["SessionId"], http.fields["method"], http.fields["url"]) == (
        "74999",
        "GET",
        "/Citrix/Roaming/Accounts",
    )
    logout = P.parse(
        "<134> 07/07/2024:11:27:48  ns1 0-PPE-0 : default SSLVPN LOGOUT 138965445 0 : Context "
        "jim@school.edu@67.43.156.20 - SessionId: 74094 - User jim@school.edu - Client_ip "
        '175.16.199.8 - Nat_ip "Mapped Ip" - Vserver 67.43.156.15:443 - Start_time '
        '"07/07/2024:10:48:33 " - End_time "07/07/2024:11:27:48 " - Duration 00:39:15  - '
        'LogoutMethod "TimedOut" - Group(s) "N/A"'
    )
    assert logout is not None and logout.fields["LogoutMethod"] == "TimedOut"
    failed = P.parse(
        "<132> 07/07/2024:15:20:01  ns1 0-PPE-0 : default AAA LOGIN_FAILED 139115982 0 : User "
        'bob2332@site.com - Client_ip 175.16.199.8 - Failure_reason "Username/Password mismatch"'
        " - Browser python-httpx/0.27.0"
    )
    assert failed is not None and failed.kind == "AAA LOGIN_FAILED"
    assert failed.fields["Browser"] == "python-httpx/0.27.0"
    start = P.parse(
        "<134> 07/13/2024:15:23:04 GMT ns1 0-PPE-0 : default SSLVPN ICASTART 1234567 0 :  [TCP] "
        "[CGP][ICAUUID=00000000-1234-1611-4343-5555566774a4] Source 67.43.156.16:61267 - "
        "Destination 81.2.69.144:2598 - customername  - username:domainname a12345111:domain - "
        'applicationName Test Lab $S67-129 - startTime "07/13/2024:15:23:04 GMT" - connectionId 3'
    )
    assert start is not None and start.kind == "SSLVPN ICASTART"
    assert start.fields["Destination"] == "81.2.69.144:2598"
    assert start.fields["applicationName"] == "Test Lab $S67-129"
    end = P.parse(
        "<134> 07/12/2024:17:43:21 GMT ns1 0-PPE-0 : default SSLVPN ICAEND_CONNSTAT 1234567 0 :  "
        "[TCP] [CGP][ICAUUID=0] Source  175.16.199.5:56855 - Destination 81.2.69.144:2598 - "
        "customername  - username:domainname kev:corp - Duration 03:31:07  - Total_bytes_send 64"
    )
    assert end is not None and end.kind == "SSLVPN ICAEND_CONNSTAT"
    assert end.fields["Source"] == "175.16.199.5:56855"


def test_aaa_message_keeps_every_byte_for_the_citrixbleed_2_check() -> None:
    raw = (
        b"<135> 07/09/2025:19:05:23 GMT  0-PPE-6 : default AAA Message 12345678 0 :  "
        b'"Authentication is rejected for \xa0\x91\xfeabc"'
    )
    e = P.parse(raw.decode("latin-1"))
    assert e is not None and e.kind == "AAA Message" and e.host == ""
    assert e.text == "Authentication is rejected for \xa0\x91\xfeabc"


def test_tcp_delink_ssl_handshake_and_cli() -> None:
    delink = P.parse(
        "<134> 06/14/2024:16:01:40 GMT host1 0-PPE-0 : default TCP CONN_DELINK 220659229 0 :  "
        "Source 175.16.199.8:48277 - Vserver 81.2.69.144:443 - NatIP 192.168.0.1:12248 - "
        "Destination 192.168.0.100:443 - Delink Time 06/14/2024:16:01:40 GMT - Total_bytes_send 0"
    )
    assert delink is not None and delink.kind == "TCP CONN_DELINK"
    assert delink.fields["Destination"] == "192.168.0.100:443"
    hs = P.parse(
        "<135> 06/14/2024:16:01:39 GMT host1 0-PPE-0 : default SSLLOG SSL_HANDSHAKE_SUCCESS "
        "220659228 0 :  SPCBId 27719517 - ClientIP 175.16.199.8 - ClientPort 38797 - "
        'CipherSuite "TLS1.2-ECDHE-RSA-AES256-GCM-SHA384" - Session New  - HandshakeTime 120 ms'
    )
    assert hs is not None and hs.kind == "SSLLOG SSL_HANDSHAKE_SUCCESS"
    assert hs.fields["ClientIP"] == "175.16.199.8"
    cli = P.parse(
        "<134> 07/09/2024:17:12:06 GMT ns1 0-PPE-0 : default CLI CMD_EXECUTED 6870 0 :  User "
        'nsroot - ADM_User NONE - Remote_ip 81.2.69.144 - Command "logout" - Status "Success"'
    )
    assert cli is not None and cli.kind == "CLI CMD_EXECUTED" and cli.fields["Command"] == "logout"
    bare = P.parse(
        "<135> default CMD_EXECUTED 4123456 0 :  User nsroot - Remote_ip 175.16.199.1 - Command "
        '"show ns capacity" - Status "Success"'
    )
    assert bare is not None and bare.kind == "CLI CMD_EXECUTED" and bare.at is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Client_ip  - Nat_ip x", {"Client_ip": "", "Nat_ip": "x"}),
        (
            "X-Forwarded-For_ip 175.16.199.1, 81.2.69.194 - A b",
            {"X-Forwarded-For_ip": "175.16.199.1, 81.2.69.194", "A": "b"},
        ),
        ("X-Forwarded-For_ip 2001:db8::1 - A b", {"X-Forwarded-For_ip": "2001:db8::1", "A": "b"}),
        ("X-Forwarded-For_ip unknown", {"X-Forwarded-For_ip": "unknown"}),
        (
            'Nat_ip \\"Mapped Ip\\" - LogoutMethod \\"TimedOut\\"',
            {"Nat_ip": "Mapped Ip", "LogoutMethod": "TimedOut"},
        ),
        ('Browser_type "a - b" - User u', {"Browser_type": "a - b", "User": "u"}),
        ("SessionId: 651173- User u", {"SessionId": "651173", "User": "u"}),
    ],
)
def test_fields_as_real_logs_write_them(value: str, expected: dict[str, str]) -> None:
    assert split_fields(value) == expected


def test_with_and_without_gmt_and_old_format() -> None:
    with_gmt = P.parse("07/09/2025:19:04:20 GMT h 0-PPE-0 : default SSLVPN LOGOUT 1 0 : User u")
    without = P.parse("07/09/2025:19:04:20  h 0-PPE-0 : default SSLVPN LOGOUT 1 0 : User u")
    assert with_gmt is not None and without is not None and with_gmt.at == without.at
    old = P.parse(
        "Mar  7 10:59:24 10.0.0.1  03/07/2013:01:59:45 GMT ns PPE-0 : SSLVPN TCPCONNSTAT "
        "927685225 : Context u@1.2.3.4 - SessionId: 651173- User u - Client_ip 1.2.3.4"
    )
    assert (
        old is not None and old.kind == "SSLVPN TCPCONNSTAT" and old.fields["SessionId"] == "651173"
    )


def test_rfc5424_wrapping() -> None:
    e = P.parse(
        "<131>1 2025-01-12T21:06:37Z MY-CITRIX-HOST SSLVPN 0-PPE-0 - - default SSLVPN LOGIN 4 0 : "
        "Context u@198.51.100.7 - SessionId: 9 - User u - Client_ip 198.51.100.7"
    )
    assert e is not None and e.kind == "SSLVPN LOGIN" and e.host == "MY-CITRIX-HOST"
    assert e.at == at("2025-01-12T21:06:37")
    httpd = P.parse(
        '<173>1 2025-01-09T13:17:03Z MY-CITRIX-HOST httpd 22442 - - 175.16.199.1 "HEAD '
        '/logon/LogonPoint/tmindex.html HTTP/1.1" 200 - "-" "axios/1.7.7" "Time: 343 microsecs"'
    )
    assert httpd is not None and httpd.kind == "ACCESS"
    assert (httpd.fields["src_ip"], httpd.fields["uri"], httpd.fields["user_agent"]) == (
        "175.16.199.1",
        "/logon/LogonPoint/tmindex.html",
        "axios/1.7.7",
    )


_LOGIN_BODY = (
    "SSLVPN LOGIN 104413247 0 : Context ann@om.nl@198.51.100.7 - SessionId: 34921 - User "
    'ann@om.nl - Client_ip 198.51.100.7 - Nat_ip "Mapped Ip" - Vserver 192.0.2.10:443 - '
    'Browser_type "Mozilla/5.0" - SSLVPN_client_type ICA - Group(s) "N/A"'
)


@pytest.mark.parametrize(
    ("header", "native"),
    [
        # Structured data "-", then a native line with GMT, a host, default and the trailing 0.
        (
            "<134>1 2025-07-01T10:00:02Z relay01 netscaler - - -",
            f"07/01/2025:10:00:00 GMT vpn-gw01 0-PPE-0 : default {_LOGIN_BODY}",
        ),
        # No structured data at all (some relays leave out its "-"), an offset in the header.
        (
            "<134>1 2025-07-01T12:00:02+02:00 relay01 netscaler - -",
            f"07/01/2025:10:00:00 GMT vpn-gw01 0-PPE-0 : default {_LOGIN_BODY}",
        ),
        # Structured data, fractions of a second, a process id, a message id.
        (
            '<134>1 2025-07-01T10:00:02.345Z relay01 ns 4711 NSLOG [meta sequenceId="42"]',
            f"07/01/2025:10:00:00 GMT vpn-gw01 0-PPE-0 : default {_LOGIN_BODY}",
        ),
        # RFC 5424's byte order mark (as Latin-1) before the message.
        (
            "<134>1 2025-07-01T10:00:02Z relay01 ns - - - \xef\xbb\xbf",
            f"07/01/2025:10:00:00 GMT vpn-gw01 0-PPE-0 : default {_LOGIN_BODY}",
        ),
        # The old form: no default, no trailing 0, no GMT.
        (
            "<134>1 2025-07-01T10:00:02Z relay01 ns - - -",
            "07/01/2025:10:00:00  vpn-gw01 PPE-0 : SSLVPN TCPCONNSTAT 927685225 : Context "
            "ann@198.51.100.7 - SessionId: 651173- User ann - Client_ip 198.51.100.7",
        ),
        # A management command, without a host in the native line.
        (
            "<189>1 2025-07-01T10:00:02Z vpn-gw01 ns - - -",
            "07/01/2025:10:00:00 GMT 0-PPE-0 : default CLI CMD_EXECUTED 4123456 0 : User nsroot "
            '- Remote_ip 10.0.0.5 - Command "show ns version" - Status "Success"',
        ),
    ],
)
def test_a_native_line_wrapped_in_rfc5424_is_the_native_line(header: str, native: str) -> None:
    """They were not parsed at all. The event is the native line's, with the native time (what
    the appliance wrote; the header's is 2 s later here, as a relay's receipt would be)."""
    line = f"{header} {native}".replace("\xef\xbb\xbf ", "\xef\xbb\xbf")  # BOM, then the message
    parser = LineParser()
    wrapped, alone = parser.parse(line), parser.parse(native)
    assert alone is not None and wrapped is not None
    if not alone.host:  # the native line names no host: the header's
        alone.host = "vpn-gw01"
    assert wrapped == alone
    assert wrapped.at == at("2025-07-01T10:00:00")
    assert has_native_date([line]) and has_native_date_bytes(line.encode("latin-1"))


def test_a_wrapped_native_time_without_gmt_is_in_the_headers_zone() -> None:
    """The appliance's clock, written without GMT, was read as UTC under a header at +02:00: two
    hours late, and --kill-time with it (a gateway review). With GMT it is UTC, whatever the
    header says; under a header in UTC nothing changes."""
    native = "07/10/2025:10:00:00 gw1 0-PPE-0 : default SSLVPN LOGIN 1 0 : " + _LOGIN_BODY
    parser = LineParser()
    local = parser.parse(f"<134>1 2025-07-10T10:00:00+02:00 gw1 ns - - - {native}")
    assert local is not None and local.at == at("2025-07-10T08:00:00")
    utc = parser.parse(f"<134>1 2025-07-10T10:00:00Z gw1 ns - - - {native}")
    assert utc is not None and utc.at == at("2025-07-10T10:00:00")
    gmt = native.replace("10:00:00 gw1", "10:00:00 GMT gw1")
    said = parser.parse(f"<134>1 2025-07-10T12:00:00+02:00 gw1 ns - - - {gmt}")
    assert said is not None and said.at == at("2025-07-10T10:00:00")


def test_a_native_line_wrapped_in_rfc5424_that_is_no_event_is_not_parsed() -> None:
    assert P.parse("<134>1 2025-07-01T10:00:02Z relay ns - - - 07/01/2025:10:00:00 GMT x") is None
    # Month 13 in the parser's order: not a date, as for the native line alone.
    assert (
        P.parse(
            f"<134>1 2025-07-01T10:00:02Z r ns - - - 13/07/2025:10:00:00 h 0-PPE-0 : "
            f"default {_LOGIN_BODY}"
        )
        is None
    )


def test_wrapped_native_dates_decide_the_date_order(tmp_path: Path) -> None:
    """Day-first wrapped lines are read as day-first: the date order is decided from them too,
    in the first lines and past them."""
    line = "<134>1 2025-07-{d:02d}T10:00:00Z relay ns - - - {d:02d}/07/2025:10:00:00 GMT gw 0-PPE-0"
    first = tmp_path / "first.log"
    first.write_text(
        "".join(
            line.format(d=d) + f" : default SSLVPN LOGOUT {d} 0 : User u - Client_ip 192.0.2.1\n"
            for d in (2, 13)
        )
    )
    later = tmp_path / "later.log"
    filler = line.format(d=2) + " : default SSLVPN LOGOUT 1 0 : User u - Client_ip 192.0.2.1\n"
    later.write_text(filler * 10_000 + filler.replace("02/07", "13/07"))
    result = scan([first, later])
    assert [f["dateOrder"] for f in result.files] == ["dmy", "dmy"]
    assert result.unparsed == 0 and not any(f.get("dateOrderAssumed") for f in result.files)
    assert datetime.fromtimestamp(result.first or 0, UTC).date() == date(2025, 7, 2)
    assert datetime.fromtimestamp(result.last or 0, UTC).date() == date(2025, 7, 13)


def test_day_first_dates_are_detected_from_the_data() -> None:
    lines = [
        "<131> 10/08/2024:09:38:41  H 0-PPE-1 : default TCP CONN_DELINK 1 0 :  Source a - B c",
        "<131> 21/08/2024:09:38:41  H 0-PPE-1 : default TCP CONN_DELINK 2 0 :  Source a - B c",
    ]
    assert detect_date_order(lines) == "dmy"
    assert detect_date_order(["<1> 08/21/2024:09:38:41  H 0-PPE-1 : default A B 1 0 : x"]) == "mdy"
    assert detect_date_order(["<1> 08/10/2024:09:38:41  H 0-PPE-1 : default A B 1 0 : x"]) == "mdy"
    dmy = LineParser("dmy").parse(lines[0])
    assert dmy is not None and dmy.at == at("2024-08-10T09:38:41")
    assert LineParser("mdy").parse(lines[1]) is None  # month 21: not a date in that order


def test_access_log_nswl() -> None:
    e = P.parse(
        "2025-07-10 08:01:02 gw1 - HTTP/1.1 203.0.113.9 51234 POST /p/u/doAuthentication.do - "
        '200 5 12000 "python-requests/2.31" login'
    )
    assert e is not None and e.kind == "ACCESS"
    assert (e.fields["method"], e.fields["uri"], e.fields["src_ip"]) == (
        "POST",
        "/p/u/doAuthentication.do",
        "203.0.113.9",
    )
    assert e.fields["user_agent"] == "python-requests/2.31" and e.fields["body"].endswith("login")


@pytest.mark.parametrize(
    "line",
    [
        "",
        "garbage",
        "\x00\x01\x02\xff" * 10,
        "07/09/2025:19:04:20 GMT",
        "99/99/2025:19:04:20 GMT h 0-PPE-0 : default A B 1 0 : x",
    ],
)
def test_what_is_no_event_is_none(line: str) -> None:
    assert P.parse(line) is None


def test_a_huge_line_is_parsed_without_trouble() -> None:
    agent = "A" * 1_000_000
    e = P.parse(
        "07/09/2025:19:04:20 GMT h 0-PPE-0 : default SSLVPN LOGIN 1 0 : User u - "
        f'Browser_type "{agent}"'
    )
    assert e is not None and len(e.fields["Browser_type"]) == 1_000_000


def _day_first_log(path: Path, days: range, per_day: int) -> Path:
    seq = 1
    with path.open("w", encoding="latin-1") as fh:
        for day in days:
            for i in range(per_day):
                second = i * 86_400 // per_day
                stamp = f"{day:02d}/07/2025:{second // 3600:02d}:{second % 3600 // 60:02d}:"
                fh.write(
                    f"{stamp}{second % 60:02d} GMT ns 0-PPE-0 : default SSLVPN LOGOUT {seq} 0 :"
                    f" Context u{i % 7}@om.nl@192.0.2.{i % 7} - SessionId: {day * 100 + i % 7} -"
                    f" User u{i % 7}@om.nl - Client_ip 192.0.2.{i % 7} - Nat_ip 127.0.0.2\n"
                )
                seq += 1
    return path


@pytest.mark.parametrize("workers", [1, 2])
def test_the_date_order_is_decided_past_the_first_lines_when_they_cannot_tell(
    tmp_path: Path, workers: int
) -> None:
    """12 days of 1,000 lines (dates 01/07 to 12/07 can be read either way), then the 13th:
    the whole file is day-first, read as July, not as January to December."""
    log = _day_first_log(tmp_path / "dmy.log", range(1, 15), 1_000)
    other = _day_first_log(tmp_path / "dmy2.log", range(1, 15), 1_000)
    result = scan([log, other], workers=workers)
    assert result.unparsed == 0 and result.lines == 28_000
    assert [f["dateOrder"] for f in result.files] == ["dmy", "dmy"]
    assert not any(f.get("dateOrderAssumed") for f in result.files)
    assert datetime.fromtimestamp(result.first or 0, UTC).date() == date(2025, 7, 1)
    assert datetime.fromtimestamp(result.last or 0, UTC).date() == date(2025, 7, 14)
    assert not [f for f in result.findings if f.rule.startswith("log-")]  # no false gaps


def test_a_file_that_never_tells_its_date_order_is_marked_assumed(tmp_path: Path) -> None:
    log = _day_first_log(tmp_path / "undecided.log", range(1, 12), 1_000)
    result = scan([log])
    assert result.files[0]["dateOrder"] == "mdy" and result.files[0]["dateOrderAssumed"]


_NSWL = (
    "2025-07-10 08:01:02 gw1 - HTTP/1.1 203.0.113.9 51234 POST /p/u/doAuthentication.do - "
    '200 5 12000 "python-requests/2.31" login\n'
)
_HTTPD = (
    '198.51.100.7 - - [10/Jul/2025:08:00:00 +0000] "GET /vpn/index.html HTTP/1.1" 200 123 "-" '
    '"curl/8.5"\n'
)
_AMBIGUOUS = "<134> 07/10/2025:08:00:00 GMT gw1 0-PPE-0 : default SSLVPN LOGIN 1 0 : User a\n"


@pytest.mark.parametrize(
    "line",
    [
        _NSWL,
        _HTTPD,
        _AMBIGUOUS,
        _AMBIGUOUS.removeprefix("<134> "),
        "Oct  1 06:02:44 ns " + _AMBIGUOUS.removeprefix("<134> "),
        "<134>Oct  1 06:02:44 ns " + _AMBIGUOUS.removeprefix("<134> "),
        "default CMD_EXECUTED 4123456 0 : User nsroot\n",
        "<131>1 2025-01-12T21:06:37Z H SSLVPN 0-PPE-0 - - default SSLVPN LOGIN 4 0 : User u\n",
        "<134>1 2025-07-01T10:00:02Z relay ns - - - " + _AMBIGUOUS.removeprefix("<134> "),
        "<134>1 2025-07-01T10:00:02Z relay ns - - " + _AMBIGUOUS.removeprefix("<134> "),
        "<134>1 2025-07-01T10:00:02Z relay ns - - x " + _AMBIGUOUS.removeprefix("<134> "),
        "x 07/10/2025:08:00:00 GMT gw1 0-PPE-0 : default SSLVPN LOGIN 1 0 : User a\n",
    ],
)
def test_native_dates_are_found_in_bytes_as_in_lines(line: str) -> None:
    assert has_native_date_bytes(line.encode("latin-1")) is has_native_date([line])


@pytest.mark.parametrize(
    ("text", "assumed"),
    [
        ("", False),  # an empty file has no date to read either way
        ("\n\n", False),
        (_NSWL * 3, False),  # ISO dates
        (_HTTPD * 3, False),  # the month by its name
        (_NSWL * 10_001, False),  # past the first 10,000 lines too
        (_AMBIGUOUS, True),
        (_NSWL + _AMBIGUOUS, True),
        (_NSWL * 10_000 + _AMBIGUOUS, True),  # its only native date past the first lines
        (_NSWL * 10_000 + _AMBIGUOUS + _AMBIGUOUS.replace("07/10", "07/13"), False),
    ],
)
def test_only_native_dates_that_could_be_read_either_way_mark_the_order_assumed(
    tmp_path: Path, text: str, assumed: bool
) -> None:
    """Access logs and empty files were marked (and warned about) as if their dates were in
    doubt; only a native date (07/10/2025) can be."""
    log = tmp_path / "x.log"
    log.write_text(text, encoding="latin-1")
    result = scan([log])
    assert result.files[0].get("dateOrderAssumed", False) is assumed
    assert result.files[0]["dateOrder"] == "mdy"


@pytest.mark.parametrize(
    ("stamp", "expected"),
    [
        ("10/Jul/2025:08:00:00 +0000", "2025-07-10T08:00:00+00:00"),
        ("10/Jul/2025:10:00:00 +0200", "2025-07-10T08:00:00+00:00"),
        ("31/Dec/2025:23:59:59 -0130", "2026-01-01T01:29:59+00:00"),
        ("10/Jly/2025:08:00:00 +0000", None),  # no month
        ("31/Feb/2025:08:00:00 +0000", None),  # no day
        ("10/Jul/2025:08:00:00", None),  # no offset: the time is not known
        ("-", None),
    ],
)
def test_an_httpd_access_line_has_its_time(stamp: str, expected: str | None) -> None:
    """httpd's lines had no time: their events counted for neither the log's period nor its
    silences."""
    e = P.parse(_HTTPD.replace("10/Jul/2025:08:00:00 +0000", stamp))
    assert e is not None and e.kind == "ACCESS" and e.fields["uri"] == "/vpn/index.html"
    at = None if e.at is None else datetime.fromtimestamp(e.at, UTC).isoformat()
    assert at == expected
    assert "stamp" not in e.fields
