"""Correlation behind the gateway and a verdict per client organisation (decision 0012).

Back-end logons (CSV or JSON Lines: ``time, account, source, target``) are joined to the sessions
of the same account while they lived, so each suspect session shows what it reached. Each
organisation (the user's mail domain, or as mapped) gets one verdict with what it rests on:

- **misbruik gevonden**: a high-confidence session finding (hijack, leak then replay, alive after
  the kill, an indicator) on a session that reached something behind the gateway;
- **verdacht**: any other session finding;
- **geen aanwijzing voor misbruik**: none, within the period and files scanned (with their gaps).
"""

from __future__ import annotations

import csv
import html
import io
import json
import re
from collections import defaultdict
from collections.abc import Container, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from ketenherstel.documents import DuplicateJsonKeys, JsonTooDeep, load_json
from ketenherstel.gateway.register import finding_id, same_session_finding
from ketenherstel.gateway.watch import (
    Evidence,
    Finding,
    GatewayInputError,
    ScanResult,
    Session,
    read_text,
)

__all__ = [
    "Logon",
    "OrgVerdict",
    "load_logons",
    "organisation_slug",
    "organisation_slugs",
    "read_verdicts",
    "render_html",
    "report_files",
    "verdicts",
    "write_reports",
]

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
FOUND, SUSPECT, CLEAR = "misbruik gevonden", "verdacht", "geen aanwijzing voor misbruik"
# The verdicts in English, for the API and the CLI (the reports are Dutch).
VERDICT_CODES = {FOUND: "misuse-found", SUSPECT: "suspicious", CLEAR: "no-sign-of-misuse"}
# What says the log itself is incomplete (the report's "gaps in the logging"); the other log-
# rules (log poisoning) are attacks on the gateway, reported with the probes.
_GAP_RULES = frozenset(
    (
        "log-silence",
        "log-sequence-back",
        "log-sequence-gap",
        "log-rotation-gap",
        "log-file-truncated",
    )
)
_SESSION_RULES = (
    "session-hijack",
    "leak-then-replay",
    "session-after-kill",
    "session-after-logout",
    "session-without-login",
    "indicator-match",
)
_SLACK = 300.0


@dataclass(frozen=True, slots=True)
class Logon:
    at: float
    account: str
    source: str
    target: str
    evidence: Evidence


def _moment(value: str, where: str) -> float:
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise GatewayInputError(f"{where}: time {value!r} is not ISO 8601") from None
    if moment.tzinfo is None:
        raise GatewayInputError(f"{where}: time {value!r} has no offset (+02:00, Z)")
    return moment.timestamp()


def load_logons(paths: Iterable[Path]) -> list[Logon]:
    """Back-end logons; a missing column or a bad time names file and row."""
    out: list[Logon] = []
    for path in paths:
        text = read_text(path, "logons")
        rows: list[tuple[int, int, dict[str, Any]]] = []
        if path.suffix.lower() == ".csv":
            offset = 0
            lines = text.splitlines(keepends=True)
            header_len = len(lines[0].encode()) if lines else 0
            reader = csv.DictReader(io.StringIO(text))
            missing = {"time", "account", "target"} - set(reader.fieldnames or [])
            if missing:
                raise GatewayInputError(
                    f"logons {path}: no column {', '.join(sorted(missing))} (time, account, "
                    "source, target)"
                )
            offset = header_len
            for row_no, row in enumerate(reader, start=1):
                rows.append((row_no, offset, dict(row)))
                offset += len(lines[row_no].encode()) if row_no < len(lines) else 0
        else:
            offset = 0
            for row_no, line in enumerate(text.splitlines(keepends=True), start=1):
                if line.strip():
                    try:
                        doc = load_json(line)
                    except json.JSONDecodeError:
                        raise GatewayInputError(f"logons {path}: row {row_no}: not JSON") from None
                    except (DuplicateJsonKeys, JsonTooDeep) as exc:
                        raise GatewayInputError(f"logons {path}: row {row_no}: {exc}") from None
                    if not isinstance(doc, dict):
                        raise GatewayInputError(f"logons {path}: row {row_no}: not an object")
                    rows.append((row_no, offset, doc))
                offset += len(line.encode())
        for row_no, offset, row in rows:
            where = f"logons {path}: row {row_no}"
            for key in ("time", "account", "target"):
                if not str(row.get(key) or "").strip():
                    raise GatewayInputError(f"{where}: no {key}")
            out.append(
                Logon(
                    _moment(str(row["time"]), where),
                    str(row["account"]).strip(),
                    str(row.get("source") or "").strip(),
                    str(row["target"]).strip(),
                    Evidence(str(path), offset),
                )
            )
    return sorted(out, key=lambda x: x.at)


def _account(name: str) -> tuple[str, str | None]:
    """An account as (name, mail domain or None), lower case: ``DOMAIN\\ann`` and ``ann`` are
    ``("ann", None)`` (a Windows domain says nothing of the organisation), ``ann@org.nl`` is
    ``("ann", "org.nl")``."""
    low = name.strip().lower().rsplit("\\", 1)[-1]
    local, at, domain = low.rpartition("@")
    return (local, domain) if at else (low, None)


def _same_account(logon: tuple[str, str | None], user: tuple[str, str | None]) -> bool:
    """A logon is the session user's when the names agree and, where both have a mail domain,
    the domains too: ``bob@om.nl`` is not ``bob@politie.nl``, but ``OM\\bob`` may be either."""
    return logon[0] == user[0] and (logon[1] is None or user[1] is None or logon[1] == user[1])


def organisation_of(user: str, mapping: Mapping[str, str]) -> str:
    if user in mapping:
        return mapping[user]
    domain = user.rsplit("@", 1)[1].lower() if "@" in user else ""
    return mapping.get(domain, domain or "onbekend")


@dataclass(slots=True)
class SessionView:
    session: Session
    findings: list[Finding] = field(default_factory=list)
    logons: list[Logon] = field(default_factory=list)

    @property
    def reached(self) -> list[str]:
        targets = dict.fromkeys(list(self.session.reached) + [x.target for x in self.logons])
        return list(targets)


@dataclass(slots=True)
class OrgVerdict:
    organisation: str
    verdict: str
    reasons: list[str]
    sessions: list[SessionView]
    users: int
    dismissed: int = 0
    """Its session findings the register holds as false positives (not counted)."""


def verdicts(
    result: ScanResult,
    logons: Iterable[Logon] = (),
    organisations: Mapping[str, str] | None = None,
    dismissed: Container[object] = (),
) -> list[OrgVerdict]:
    """Each organisation's verdict. ``dismissed``: ids (:func:`finding_id`) of findings the
    register holds as false positives, and their :func:`same_session_finding` keys; they do
    not count."""
    mapping = dict(organisations or {})
    by_account: dict[str, list[tuple[tuple[str, str | None], Logon]]] = defaultdict(list)
    for logon in logons:
        account = _account(logon.account)
        by_account[account[0]].append((account, logon))
    # A finding belongs to the session of its key (SessionId and Context), not to every
    # session that happens to have the same SessionId.
    by_session: dict[tuple[str, str], list[Finding]] = defaultdict(list)
    set_aside: dict[tuple[str, str], int] = defaultdict(int)
    for f in result.findings:
        if f.session and f.rule in _SESSION_RULES:
            # By its id, or as the same session's finding under another id (its evidence now
            # beginning in an older log also read): a decided hijack stays decided (a review).
            if finding_id(f) in dismissed or same_session_finding(f.to_json()) in dismissed:
                set_aside[(f.session, f.context)] += 1
            else:
                by_session[(f.session, f.context)].append(f)
    orgs: dict[str, list[SessionView]] = defaultdict(list)
    users: dict[str, set[str]] = defaultdict(set)
    dismissed_of: dict[str, int] = defaultdict(int)
    for s in result.sessions.values():
        org = organisation_of(s.user, mapping)
        users[org].add(s.user)
        view = SessionView(s, by_session.get(s.key, []))
        dismissed_of[org] += set_aside.get(s.key, 0)
        if s.first_seen is not None:
            end = (s.last_seen or s.first_seen) + _SLACK
            user = _account(s.user)
            view.logons = [
                x
                for account, x in by_account.get(user[0], [])
                if _same_account(account, user) and s.first_seen - _SLACK <= x.at <= end
            ]
        orgs[org].append(view)
    out = []
    for org, views in sorted(orgs.items()):
        flagged = [v for v in views if v.findings]
        found = [
            v for v in flagged if any(f.confidence == "high" for f in v.findings) and v.reached
        ]
        if found:
            verdict = FOUND
            reasons = [
                f"sessie {v.session.session_id} ({v.session.user}): "
                f"{_rules_nl(v.findings)}; bereikte "
                f"{', '.join(v.reached[:5])}"
                for v in found
            ]
        elif flagged:
            verdict = SUSPECT
            reasons = [
                f"sessie {v.session.session_id} ({v.session.user}): {_rules_nl(v.findings)}"
                for v in flagged
            ]
        else:
            verdict, reasons = CLEAR, []
        out.append(
            OrgVerdict(org, verdict, reasons, flagged or [], len(users[org]), dismissed_of[org])
        )
    return out


RULES_NL = {
    "cb2-aaa-leaked-bytes": "CitrixBleed 2 (CVE-2025-5777): een geweigerde naam bevat uitgelekt "
    "geheugen",
    "cb2-access-bare-login": "CitrixBleed 2 (CVE-2025-5777): aanvraag op doAuthentication.do met "
    "alleen 'login'",
    "cb2-access-doauth": "aanvraag op doAuthentication.do (het eindpunt van CitrixBleed 2) zonder "
    "zichtbare inhoud",
    "cb1-openid-configuration": "CitrixBleed (CVE-2023-4966): aanvraag van de OpenID-configuratie",
    "cb1-oversized-host": "CitrixBleed (CVE-2023-4966): OpenID-aanvraag met een te lange "
    "Host-header",
    "cli-shell-command": "shell- of bestandsopdracht op de opdrachtregel van de poort",
    "log-poisoning-control": "logvergiftiging: stuurtekens in een gelogd veld",
    "log-poisoning-fake-header": "logvergiftiging: een gelogd veld bevat een tweede logkop",
    "log-silence": "de poort logde een tijd niets",
    "log-sequence-back": "volgnummers in de log lopen terug (herstart, rotatie of verwijderde "
    "regels)",
    "log-rotation-gap": "geen logbestand dekt deze periode",
    "log-file-truncated": "een gecomprimeerd logbestand houdt halverwege op",
    "log-sequence-gap": "volgnummers in de log springen vooruit in een log die verder per één "
    "telt: regels verwijderd",
    "many-accounts": "één adres gebruikte veel accounts",
    "session-hijack": "sessie overgenomen: adres, programma of netwerk wisselt midden in de sessie",
    "session-without-login": "sessie gebruikt zonder aanmelding",
    "session-after-kill": "sessie nog gebruikt nadat alle sessies waren beëindigd",
    "session-after-logout": "sessie nog gebruikt nadat ze was afgemeld",
    "leak-then-replay": "eerst een lekpoging, daarna een sessie vanaf een ander adres",
    "indicator-match": "komt overeen met een ingelezen indicator",
    "triage-script-in-web-dir": "script in een webmap van de poort",
    "triage-suid": "SUID-bestand van root onder /var",
    "triage-timestomp": "wijzigingstijd van een bestand lijkt vervalst",
    "triage-nsppe-core": "geheugendump van de packet engine",
    "triage-rc-netscaler": "opstartbestand rc.netscaler gewijzigd",
    "triage-httpd-php-extension": "webserver voert PHP uit waar dat niet hoort",
    "triage-httpd-protection-off": "beveiliging van de webserver uitgezet",
    "triage-cron-nobody": "geplande taak draait als nobody",
    "triage-cron-fetch": "geplande taak haalt code op of voert die uit",
    "ncsc-nl-check": "bevinding van het controlescript van NCSC-NL",
}
"""The report's Dutch name for each rule; a rule not in it (a user's own Sigma rule) keeps its
own title. The finding's technical detail stays as the watch wrote it, marked as English."""

CONFIDENCE_NL = {"high": "hoog", "medium": "middel", "low": "laag"}
_SPAN = re.compile(r"from (\S+) to (\S+)$")
_VERDICT_KEYS = {"organisation", "slug", "verdict", "users", "flaggedSessions", "rules", "report"}
_REPORT_NAME = re.compile(r"rapport-[a-z0-9-]{1,80}\.html")


def _finding_nl(f: Finding, *, detail_shown: bool = True) -> str:
    """One finding in the report: its Dutch name, the confidence, the English detail marked so
    (a screen reader switches language), and the evidence. Without ``detail_shown`` only the
    name: a finding at the gateway itself can name accounts of any organisation (one address
    trying many accounts), which an organisation's own report must not show."""
    e = html.escape
    name = RULES_NL.get(f.rule)
    head = e(name) if name else f'<span lang="en">{e(f.title)}</span>'
    # Said to be the watch's own words, in English, so that it reads as quoted evidence and
    # not as a page that forgot to be translated.
    said = "technisch detail (Engels): "
    detail = f' ({said}<span lang="en">{e(f.detail)}</span>)' if f.detail else ""
    if name and f.title != f.detail:
        english = f"{e(f.title)}{': ' + e(f.detail) if f.detail else ''}"
        detail = f' ({said}<span lang="en">{english}</span>)'
    if not detail_shown:
        detail = ""
    return (
        f"{head}, betrouwbaarheid {CONFIDENCE_NL.get(f.confidence, e(f.confidence))}{detail} "
        f"[bewijs: {e(', '.join(str(x) for x in f.evidence[:5]))}]"
    )


def _gap_nl(f: Finding) -> str:
    """A gap in the logging in Dutch: its kind and, where the watch gave one, its span."""
    span = _SPAN.search(f.detail or "")
    name = RULES_NL.get(f.rule, f.title)
    if span is None:
        return html.escape(name)
    try:
        first, last = (datetime.fromisoformat(x).timestamp() for x in span.groups())
    except ValueError:
        return html.escape(f"{name} ({f.detail})")
    return html.escape(f"{name}: van {_when(first)} tot {_when(last)}")


def _rules_nl(findings: Iterable[Finding]) -> str:
    return ", ".join(sorted({RULES_NL.get(f.rule, f.rule) for f in findings}))


def _when(at: float | None) -> str:
    return "" if at is None else datetime.fromtimestamp(at, AMSTERDAM).strftime("%d-%m-%Y %H:%M")


def _n(value: int) -> str:
    return f"{value:,}".replace(",", ".")


def render_html(
    result: ScanResult, found: list[OrgVerdict], organisation: str | None = None
) -> str:
    """The report in Dutch: per organisation its verdict, what it rests on and the evidence.

    With ``organisation``, the report for that organisation alone: its verdict and its own
    sessions, on the same basis (logs, period, gaps) and with the attacks on the gateway
    itself, but no other organisation's users or sessions."""
    e = html.escape
    if organisation is not None:
        found = [v for v in found if v.organisation == organisation]
    gaps = [f for f in result.findings if f.rule in _GAP_RULES]
    probes = [f for f in result.findings if not f.session and f.rule not in _GAP_RULES]
    files = "logbestand" if len(result.files) == 1 else "logbestanden"
    basis = (
        f"<p>Gebaseerd op {len(result.files)} {files} ({_n(result.lines)} regels, "
        f"{_n(result.unparsed)} niet te lezen en bewaard) over de periode {_when(result.first)} "
        f"tot {_when(result.last)}. Gaten in de logging: {len(gaps)}"
        + (": " + "; ".join(_gap_nl(g) for g in gaps[:10]) if gaps else "")
        + (f" (de eerste 10 van {len(gaps)})" if len(gaps) > 10 else "")
        # The times here are Dutch time; the technical details beside them are UTC (a review
        # read them as one and the same).
        + ". Alle tijden in dit rapport zijn Nederlandse tijd; de technische details vermelden"
        " UTC.</p>"
    )
    heading = "per organisatie" if organisation is None else f"bij {organisation}"
    parts = [
        "<!doctype html>",
        '<html lang="nl"><head><meta charset="utf-8">',
        f"<title>Toegangspoort: bevindingen {e(heading)}</title>",
        "<style>body{font-family:sans-serif;max-width:60rem;margin:2rem auto;}"
        "table{border-collapse:collapse}td,th{border:1px solid #999;padding:.3rem .5rem;"
        "text-align:left}.gevonden{color:#d52b1e}.verdacht{color:#e17000}</style>",
        "</head><body>",
        f"<h1>Toegangspoort (voorportaal): was er misbruik {e(heading)}?</h1>",
        basis,
        "<h2>Oordeel per organisatie</h2>",
        "<table><caption>Oordeel, gebruikers en waar het op rust</caption><thead><tr>"
        '<th scope="col">Organisatie</th><th scope="col">Oordeel</th>'
        '<th scope="col">Gebruikers</th><th scope="col">Onderbouwing</th></tr></thead><tbody>',
    ]
    for v in found:
        css = "gevonden" if v.verdict == FOUND else "verdacht" if v.verdict == SUSPECT else ""
        parts.append(
            f'<tr><th scope="row">{e(v.organisation)}</th><td class="{css}">{e(v.verdict)}</td>'
            f"<td>{v.users}</td><td>{'<br>'.join(e(r) for r in v.reasons) or 'geen bevindingen'}"
            + (
                f"<br>{v.dismissed} sessiebevinding(en) als vals-positief beoordeeld in het "
                "register (niet meegeteld)"
                if v.dismissed
                else ""
            )
            + "</td></tr>"
        )
    parts.append("</tbody></table>")
    parts.append("<h2>Verdachte sessies en wat zij bereikten</h2>")
    for v in found:
        for view in v.sessions:
            s = view.session
            parts.append(
                f"<h3>{e(v.organisation)}: sessie {e(s.session_id)} ({e(s.user)})</h3>"
                f"<p>Van {_when(s.first_seen)} tot {_when(s.last_seen)}; adressen "
                f"{e(', '.join(s.ordered_addresses()))}; bereikt: "
                f"{e(', '.join(view.reached)) or 'niets'}.</p>"
                "<ul>"
                + "".join(f"<li>{_finding_nl(f)}</li>" for f in view.findings)
                + "".join(
                    f"<li>aanmelding op {e(x.target)} vanaf {e(x.source)} om {_when(x.at)} "
                    f"[bewijs: {e(str(x.evidence))}]</li>"
                    for x in view.logons
                )
                + "</ul>"
            )
    parts.append("<h2>Aanvallen op de toegangspoort zelf</h2>")
    if organisation is not None:
        parts.append(
            "<p>Zonder details: die kunnen accounts van andere organisaties noemen. Het rapport "
            "voor alle organisaties geeft ze.</p>"
        )
    parts.append("<ul>")
    for f in probes[:200]:
        parts.append(
            f"<li>{_when(f.at)} vanaf {e(f.address) or 'onbekend adres'}: "
            f"{_finding_nl(f, detail_shown=organisation is None)}</li>"
        )
    parts.append("</ul></body></html>")
    return "\n".join(parts)


def organisation_slug(name: str) -> str:
    """A file and URL name for an organisation: ``Gemeente Den Haag`` -> ``gemeente-den-haag``."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower())[:72].strip("-") or "onbekend"


def organisation_slugs(found: Iterable[OrgVerdict]) -> list[str]:
    """Each verdict's slug, in order, as its report (``rapport-<slug>.html``) and
    ``verdicts.json`` name it: two names that give one slug each keep their own (``-2``, …)."""
    slugs: list[str] = []
    for v in found:
        slug = base = organisation_slug(v.organisation)
        n = 1
        while slug in slugs:
            n += 1
            slug = f"{base}-{n}"
        slugs.append(slug)
    return slugs


def report_files(out: Path, found: list[OrgVerdict]) -> list[tuple[str, Path]]:
    """What ``write_reports(out, …, found, …)`` writes that names users, as an audit trail
    records it: ``*`` and ``out`` for the report of all organisations, then each
    organisation's slug and its report."""
    return [
        ("*", out),
        *((slug, out.parent / f"rapport-{slug}.html") for slug in organisation_slugs(found)),
    ]


def _iso(at: float | None) -> str | None:
    return None if at is None else datetime.fromtimestamp(at, UTC).isoformat()


def write_reports(
    out: Path, result: ScanResult, found: list[OrgVerdict], made: float
) -> dict[str, Any]:
    """Write the Dutch report for all organisations to ``out``, one report per organisation
    beside it (``rapport-<slug>.html``) and ``verdicts.json``: what each organisation's verdict
    is and rests on, in counts and rule names only (no accounts, no addresses), for the API's
    viewers and the briefing. Returns what ``verdicts.json`` holds."""
    folder = out.parent
    folder.mkdir(parents=True, exist_ok=True)
    # The organisation reports the last report wrote here (and only those) may go below.
    try:
        last = read_verdicts(folder)
    except GatewayInputError:
        last = None
    earlier = {
        str(row.get("report"))
        for row in (last or {}).get("verdicts", [])
        if isinstance(row, dict) and str(row.get("report", "")).startswith("rapport-")
    }
    _replace(out, render_html(result, found))
    rows = []
    for v, slug in zip(found, organisation_slugs(found), strict=True):
        name = f"rapport-{slug}.html"
        _replace(folder / name, render_html(result, found, v.organisation))
        rows.append(
            {
                "organisation": v.organisation,
                "slug": slug,
                "verdict": v.verdict,
                "code": VERDICT_CODES[v.verdict],
                "users": v.users,
                "dismissed": v.dismissed,
                "flaggedSessions": len(v.sessions),
                "rules": sorted({f.rule for view in v.sessions for f in view.findings}),
                "report": name,
            }
        )
    data = {
        "made": _iso(made),
        "files": len(result.files),
        "lines": result.lines,
        "unparsed": result.unparsed,
        "first": _iso(result.first),
        "last": _iso(result.last),
        "logGaps": sum(1 for f in result.findings if f.rule in _GAP_RULES),
        "report": out.name,
        "verdicts": rows,
    }
    _replace(folder / "verdicts.json", json.dumps(data, ensure_ascii=False, indent=2))
    # An organisation's report the last run wrote that this one has no verdict for: gone, so that
    # the folder holds no report of an organisation the verdicts no longer name. Only the names
    # the last verdicts.json gave: a file the tool did not write stays.
    for name in earlier - {row["report"] for row in rows} - {out.name}:
        if "/" not in name and "\\" not in name:
            (folder / name).unlink(missing_ok=True)
    return data


def _replace(path: Path, text: str) -> None:
    """Write ``path`` whole or not at all: a reader never sees half a file."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def read_verdicts(folder: Path) -> dict[str, Any] | None:
    """What the last `write_reports` in ``folder`` wrote, or None when it wrote nothing there."""
    path = folder / "verdicts.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise GatewayInputError(f"{path}: not a verdicts file ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("verdicts"), list):
        raise GatewayInputError(f"{path}: not a verdicts file (no list of verdicts)")
    for key in ("made", "first", "last"):
        value = data.get(key)
        try:
            if value is not None:
                datetime.fromisoformat(str(value))
        except ValueError:
            raise GatewayInputError(f"{path}: {key} {value!r} is not a time") from None
    for row in data["verdicts"]:
        # A report is read from beside this file by its name: only a name write_reports gives.
        if (
            not isinstance(row, dict)
            or not row.keys() >= _VERDICT_KEYS
            or not _REPORT_NAME.fullmatch(str(row["report"]))
        ):
            raise GatewayInputError(
                f"{path}: a verdict without a report of its own ({row!r:.80}); "
                "make the report again"
            )
    return data
