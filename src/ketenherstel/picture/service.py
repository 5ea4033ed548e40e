"""The picture's use cases: what the web UI and the CLI call (decision 0013).

Every register call checks its whole input first and raises :class:`PictureInputError` with a
message per field; nothing is stored then.
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from ketenherstel.chain.model import Chain
from ketenherstel.picture.db import Agreement, Bottleneck, Contact, PictureDb
from ketenherstel.picture.matrix import (
    HAND_CHANNELS,
    STATES,
    Event,
    Matrix,
    build_matrix,
    timeline,
)
from ketenherstel.picture.series import KIND_NL, KINDS, TZ, PictureCache, Snapshot, View
from ketenherstel.store.manual_ports import ManualStore
from ketenherstel.store.ports import Store
from ketenherstel.text import hidden_character, personal_identifier

__all__ = [
    "CATEGORIES",
    "METRICS",
    "SEVERITIES",
    "Effect",
    "Picture",
    "PictureInputError",
    "Said",
    "english",
    "names_in",
    "names_pattern",
    "parse_day",
    "reason_of",
    "series_key",
]

CATEGORIES = {
    "werklast": "Werklast en voorraad",
    "vertraging": "Vertraging",
    "informatie": "Informatievoorziening",
    "bereikbaarheid": "Bereikbaarheid",
    "risico": "Risico",
}
SEVERITIES = {"laag": "Laag", "middel": "Middel", "hoog": "Hoog", "kritiek": "Kritiek"}
METRICS = {
    "backlog": "Voorraad (berichten)",
    "inflow": "Instroom per dag",
    "outflow": "Uitstroom per dag",
    "lead": "Doorlooptijd, mediaan (uur)",
    "oldest": "Oudste wachtende (uur)",
    "missed": "Termijnen overschreden per dag",
    "unanswered": "Onbeantwoorde contacten per dag",
}
CALLERS = {"advocaat": "Advocaat", "ketenpartner": "Ketenpartner", "burger": "Burger"}
CONTACT_CHANNELS = {"telefoon": "Telefoon", "email": "E-mail", "loket": "Loket"}
_MAX_TEXT = 2000


class Said(str):
    """What is wrong, in both languages: the string itself is the Dutch the UI shows, ``en``
    the English the API and the command line give."""

    en: str

    def __new__(cls, nl: str, en: str) -> Said:
        said = super().__new__(cls, nl)
        said.en = en
        return said


def reason_of(exc: ValueError) -> str:
    """A ValueError's message, keeping both languages when it was raised with :class:`Said`
    (``str(exc)`` would give the Dutch alone)."""
    first = exc.args[0] if exc.args else ""
    return first if isinstance(first, str) else str(exc)


def english(reason: str) -> str:
    """The English of a problem (a plain string is taken to be English already)."""
    return reason.en if isinstance(reason, Said) else reason


_CLOSED = Said("dit knelpunt is al afgesloten", "this bottleneck is closed already")
_FUTURE = Said("ligt in de toekomst", "lies in the future")


def _no_bottleneck(number: int) -> Said:
    return Said(f"er is geen knelpunt {number}", f"there is no bottleneck {number}")


def _no_kind(kind: str, english_text: str) -> Said:
    return Said(f"onbekende soort {kind!r}; kies uit {', '.join(KIND_NL.values())}", english_text)


class PictureInputError(ValueError):
    """Bad input: ``problems`` maps each field to what is wrong with it, in Dutch for the UI;
    :meth:`english` gives the same in English for the API and the CLI."""

    def __init__(self, problems: Mapping[str, str]) -> None:
        self.problems = dict(problems)
        super().__init__("; ".join(f"{k}: {v}" for k, v in self.problems.items()))

    def english(self) -> dict[str, str]:
        return {field: english(reason) for field, reason in self.problems.items()}


def parse_day(text: str) -> date:
    """A date as ``jjjj-mm-dd`` (what a date field sends) or ``dd-mm-jjjj``."""
    text = text.strip()
    if not text:
        raise ValueError(Said("vul een datum in", "required (a date)"))
    for fmt in ("%Y-%m-%d", "%d-%m-%Y"):
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise ValueError(
        Said(
            f"{text!r} is geen datum (jjjj-mm-dd of dd-mm-jjjj)",
            f"{text!r} is not a date (YYYY-MM-DD or DD-MM-YYYY)",
        )
    )


def _midnight(day: date) -> float:
    return datetime.combine(day, time(), TZ).timestamp()


@dataclass(frozen=True, slots=True)
class Effect:
    """A work agreement's measured effect on its bottleneck's series: the mean over up to seven
    days before its start against the mean over the days after it (at most seven)."""

    metric: str
    before: float | None
    after: float | None
    days_after: int

    @property
    def change(self) -> float | None:
        if self.before is None or self.after is None:
            return None
        return self.after - self.before

    def text(self) -> str:
        if self.before is None or self.after is None or self.days_after < 3:
            return "nog geen meetbaar effect"
        change = self.after - self.before
        if abs(change) < 1e-9 or (self.before and abs(change) / abs(self.before) < 0.05):
            return "nog geen meetbaar effect"
        direction = "gedaald" if change < 0 else "gestegen"
        pct = f" ({abs(change) / abs(self.before) * 100:.0f} %)" if self.before else ""
        return f"{direction}{pct}"


class Picture:
    def __init__(
        self,
        store: Store,
        manual: ManualStore,
        chain: Chain,
        db: PictureDb,
        clock: Callable[[], float],
        *,
        background: bool = False,
    ) -> None:
        """``background``: a server keeps answering from the last snapshot while the next one
        is computed (see :class:`PictureCache`)."""
        self.store, self.manual, self.chain, self.db, self.clock = store, manual, chain, db, clock
        self.cache = PictureCache(store, chain, clock, background=background)
        self._matrix: tuple[object, Matrix] | None = None
        self._matrix_lock = threading.Lock()
        self.partner_names = {p.key: p.name for p in chain.partners}
        self.process_names = {p.key: p.name for p in chain.processes}

    # -- what was measured -----------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        return self.cache.get()

    def series_heading(self, kind: str, key: str) -> str:
        """A series as the pages and the briefing name it: ``Kanaal Openbaar Ministerie →
        Justitiële Informatiedienst``, ``Proces …``, ``Ontvanger …``; never by its keys."""
        match kind:
            case "all":
                return "Hele keten"
            case "channel":
                s, _, r = key.partition("->")
                names = self.partner_names
                return f"Kanaal {names.get(s, s)} → {names.get(r, r)}"
            case "process":
                return f"Proces {self.process_names.get(key, key)}"
            case _:
                label = KIND_NL.get(kind, kind).capitalize()
                return f"{label} {self.partner_names.get(key, key)}"

    def events(self) -> list[Event]:
        """The timeline drawn on the charts: from the store's own records, plus when an
        emergency route's message type was first and last used (measured)."""
        found = timeline(
            self.chain,
            self.store.partner_events(partner=None, limit=100_000),
            self.store.channel_events(receiver=None, limit=100_000),
            self.store.routes(),
            self.manual.procedures(),
            self.db.statuses(),
        )
        found += self._route_use()
        found.sort(key=lambda e: (e.at, e.kind, e.label))
        return found

    def _route_use(self) -> list[Event]:
        """Per receiver of an emergency route's type: the first day it was used and, if it
        stopped before the last days measured, the day after it was last used."""
        snap = self.snapshot()
        used: dict[str, list[int]] = {}
        for (_, receiver, type_), days in snap.per_key.items():
            if snap.process_of.get(type_, "").startswith("spoedroute"):
                used.setdefault(receiver, []).extend(i for i, n in enumerate(days.inflow) if n)
        out: list[Event] = []
        for receiver, indexes in sorted(used.items()):
            if not indexes:
                continue
            label = f"spoedroute naar {self.partner_names.get(receiver, receiver)}"
            out.append(Event(_midnight(snap.days[min(indexes)]), "route", f"{label} in gebruik"))
            if max(indexes) < len(snap.days) - 2:
                end = snap.days[max(indexes)] + timedelta(days=1)
                out.append(Event(_midnight(end), "route", f"{label} buiten gebruik"))
        return out

    def matrix(self) -> Matrix:
        """The recovery matrix, rebuilt only when the snapshot or what it is built from
        changed."""
        snap = self.snapshot()
        events = self.store.partner_events(partner=None, limit=100_000)
        procedures = self.manual.procedures()
        statuses = self.db.statuses()
        key = (
            snap.fingerprint,
            id(snap),
            len(events),
            tuple((p.id, p.retired_at) for p in procedures),
            statuses[-1].id if statuses else 0,
            len(statuses),
        )
        with self._matrix_lock:
            if self._matrix is not None and self._matrix[0] == key:
                return self._matrix[1]
        made = build_matrix(snap, self.chain, events, procedures, statuses)
        with self._matrix_lock:
            self._matrix = (key, made)
        return made

    def selection(self, kind: str, key: str) -> View:
        """A view by kind and key; ``PictureInputError`` when nothing is measured for it."""
        snap = self.snapshot()
        try:
            keys = snap.keys(kind, key)
        except ValueError as exc:
            raise PictureInputError({"reeks": _no_kind(kind, str(exc))}) from None
        if kind != "all" and not keys:
            raise PictureInputError(
                {
                    "reeks": Said(
                        f"er is niets gemeten voor {KIND_NL.get(kind, kind)} {key!r}",
                        f"nothing is measured for {kind} {key!r}",
                    )
                }
            )
        return snap.view(kind, key)

    def key_problem(self, kind: str, key: str) -> Said | None:
        """What is wrong with a selection's key as typed, if anything (``kind`` is one of
        KINDS): one given with kind all, or one naming a partner or process that neither the
        chain model nor the picture knows. Bad input, as :meth:`set_status` refuses an unknown
        partner; a key that is right with nothing measured for it is :meth:`selection`'s."""
        if kind == "all":
            if not key:
                return None
            others = ", ".join(k for k in KINDS if k != "all")
            dutch = ", ".join(KIND_NL[k] for k in KINDS if k != "all")
            return Said(
                f"sleutel {key!r} hoort bij een soort ({dutch}), niet bij de hele keten",
                f"key {key!r} goes with a kind ({others}), not with all",
            )
        snap = self.snapshot()
        if kind == "process":
            known = [*self.process_names]
            known += [p for p in snap.processes() if p not in known]
            if key in known:
                return None
            return Said(
                f"onbekend proces {key!r}; kies uit {', '.join(known)}",
                f"unknown process {key!r}; one of {', '.join(known)}",
            )
        # The chain model's order (as set_status lists them), then any only measured.
        partners = [*self.partner_names]
        partners += [p for p in snap.partners() if p not in partners]
        if kind == "channel":
            sender, arrow, receiver = key.partition("->")
            if not arrow:
                return Said(
                    f"kanaal {key!r}: schrijf afzender->ontvanger, bijvoorbeeld om->justid",
                    f"channel {key!r}: write sender->receiver, e.g. om->justid",
                )
            unknown = [p for p in (sender, receiver) if p not in partners]
        else:
            unknown = [key] if key not in partners else []
        if not unknown:
            return None
        return Said(
            f"onbekende partner {unknown[0]!r}; kies uit {', '.join(partners)}",
            f"unknown partner {unknown[0]!r}; one of {', '.join(partners)}",
        )

    def metric(self, view: View, metric: str, partner: str | None = None) -> list[float | None]:
        match metric:
            case "backlog":
                return [float(v) for v in view.backlog]
            case "inflow":
                return [float(v) for v in view.inflow]
            case "outflow":
                return [float(v) for v in view.outflow]
            case "lead":
                return list(view.lead_median)
            case "oldest":
                return list(view.oldest_hours)
            case "missed":
                return [float(v) for v in view.missed]
            case "unanswered":
                per_day = self.reachability(partner or view.key, view.days)
                return [float(d[1] - d[2]) for d in per_day]
        raise PictureInputError(
            {"maat": Said(f"onbekende maat {metric!r}", f"unknown metric {metric!r}")}
        )

    def reachability(
        self,
        partner: str,
        days: Sequence[date],
        channel: str | None = None,
        contacts: Sequence[Contact] | None = None,
    ) -> list[tuple[date, int, int, float | None]]:
        """Per day: contacts received, answered that day or later, median hours to answer
        (``contacts``: already read, else read from the register)."""
        index = {d: i for i, d in enumerate(days)}
        received = [0] * len(days)
        answered = [0] * len(days)
        waits: list[list[float]] = [[] for _ in days]
        for c in self.db.contacts(partner) if contacts is None else contacts:
            if c.partner != partner or (channel is not None and c.channel != channel):
                continue
            i = index.get(datetime.fromtimestamp(c.received_at, TZ).date())
            if i is None:
                continue
            received[i] += 1
            if c.answered_at is not None:
                answered[i] += 1
                waits[i].append((c.answered_at - c.received_at) / 3600)
        out: list[tuple[date, int, int, float | None]] = []
        for i, d in enumerate(days):
            w = sorted(waits[i])
            out.append((d, received[i], answered[i], w[len(w) // 2] if w else None))
        return out

    def effect(
        self, bottleneck: Bottleneck, agreement: Agreement, *, until: date | None = None
    ) -> Effect:
        """The agreement's measured effect on its bottleneck's series, on whole days only (the
        last measured day is not over yet) and none after ``until`` (a briefing's date)."""
        snap = self.snapshot()
        try:
            view = snap.view(bottleneck.series_kind, series_key(bottleneck))
        except ValueError:
            return Effect(bottleneck.series_kind, None, None, 0)
        metric = _metric_of(bottleneck)
        values = self.metric(view, metric, bottleneck.partner)
        start = datetime.fromtimestamp(agreement.starts_at, TZ).date()
        last = view.days[-1] - timedelta(days=1) if view.days else start
        if until is not None:
            last = min(last, until)
        days = list(zip(view.days, values, strict=True))
        before = [v for d, v in days if start - timedelta(days=7) <= d < start and v is not None]
        window = [(d, v) for d, v in days if start <= d < start + timedelta(days=7) and d <= last]
        after = [v for _, v in window if v is not None]
        return Effect(
            metric,
            sum(before) / len(before) if before else None,
            sum(after) / len(after) if after else None,
            len(window),
        )

    # -- what people register --------------------------------------------------------------

    def people(self) -> set[str]:
        """Every person's name the picture knows: people's credentials and its own registers
        (never a partner's key)."""
        partners = set(self.partner_names)
        found = {c.principal for c in self.store.list_credentials() if c.partner_key is None}
        found |= self.db.names()
        return {n for n in found if n and n not in partners and n != "local-cli"}

    def _no_names(
        self, form: Mapping[str, str], fields: Sequence[str], problems: dict[str, str]
    ) -> None:
        """Text shown on the picture, the status page or a briefing may not name a person."""
        people = self.people()
        for name in fields:
            if name in problems:
                continue
            found = names_in(form.get(name) or "", people)
            if found:
                problems[name] = Said(
                    f"noem geen personen ({', '.join(found)}): het beeld, de statuspagina en de "
                    "briefing tonen alleen rollen",
                    f"name no person ({', '.join(found)}): the picture, the status page and the "
                    "briefing show roles only",
                )
            elif personal_identifier(form.get(name) or ""):
                # Not repeated in the answer: it is the personal data itself.
                problems[name] = Said(
                    "noem geen strafrechtketennummer, burgerservicenummer of e-mailadres: het "
                    "beeld, de statuspagina en de briefing tonen geen persoonsgegevens",
                    "give no SKN, BSN or e-mail address: the picture, the status page and the "
                    "briefing show no personal data",
                )

    def register_bottleneck(self, form: Mapping[str, str], *, actor: str) -> int:
        problems: dict[str, str] = {}
        title = _text(form, "titel", problems, limit=200)
        description = _text(form, "omschrijving", problems, required=False)
        category = _choice(form, "categorie", CATEGORIES, problems)
        severity = _choice(form, "ernst", SEVERITIES, problems)
        partner = _choice(form, "partner", self.partner_names, problems)
        process = form.get("proces", "").strip() or None
        if process is not None and process not in self.process_names:
            problems["proces"] = Said(
                f"onbekend proces {process!r}", f"unknown process {process!r}"
            )
        metric = _choice(form, "maat", METRICS, problems)
        kind, key = _series(form.get("reeks", ""), problems)
        start = _day(form, "begin", problems)
        if start is not None and _midnight(start) > self.clock():
            problems["begin"] = _FUTURE  # a bottleneck is a problem people have, not one expected
        self._no_names(form, ("titel", "omschrijving"), problems)
        if kind and "reeks" not in problems:
            try:
                if kind != "all" and not self.snapshot().keys(kind, key):
                    problems["reeks"] = Said(
                        f"er is niets gemeten voor {key!r}", f"nothing is measured for {key!r}"
                    )
            except ValueError as exc:
                problems["reeks"] = _no_kind(kind, str(exc))
        if problems:
            raise PictureInputError(problems)
        assert start is not None
        return self.db.add_bottleneck(
            title=title,
            category=category,
            severity=severity,
            partner=partner,
            process=process,
            series_kind=kind,
            series_key=f"{key}#{metric}",
            description=description,
            started_at=_midnight(start),
            ended_at=None,
            registered_at=self.clock(),
            registered_by=actor,
        )

    def close_bottleneck(self, bottleneck_id: int, form: Mapping[str, str], *, actor: str) -> None:
        """The bottleneck is over from the given day (no later than today)."""
        b = self.db.bottleneck(bottleneck_id)
        if b is None:
            raise PictureInputError({"knelpunt": _no_bottleneck(bottleneck_id)})
        problems: dict[str, str] = {}
        end = _day(form, "einde", problems)
        if b.ended_at is not None:
            problems["einde"] = _CLOSED
        elif end is not None and _midnight(end) < b.started_at:
            problems["einde"] = Said(
                "ligt voor het begin van het knelpunt", "lies before the bottleneck began"
            )
        elif end is not None and _midnight(end) > self.clock():
            problems["einde"] = _FUTURE
        if problems:
            raise PictureInputError(problems)
        assert end is not None
        if not self.db.end_bottleneck(bottleneck_id, _midnight(end)):
            raise PictureInputError({"einde": _CLOSED})

    def add_agreement(self, bottleneck_id: int, form: Mapping[str, str], *, actor: str) -> int:
        problems: dict[str, str] = {}
        if self.db.bottleneck(bottleneck_id) is None:
            raise PictureInputError({"knelpunt": _no_bottleneck(bottleneck_id)})
        text = _text(form, "afspraak", problems)
        owner = _text(form, "eigenaar", problems, limit=120)
        start = _day(form, "ingang", problems)
        expected = _text(form, "verwacht_effect", problems)
        risk = _text(form, "restrisico", problems)
        accepted_role = _text(form, "risico_rol", problems, limit=120)
        accepted_by = _text(form, "risico_door", problems, limit=120)
        self._no_names(
            form,
            ("afspraak", "eigenaar", "verwacht_effect", "restrisico", "risico_rol"),
            problems,
        )
        until_text = form.get("risico_tot", "").strip()
        until: float | None = None
        if until_text:
            try:
                until_day = parse_day(until_text)
            except ValueError as exc:
                problems["risico_tot"] = reason_of(exc)
            else:
                if start is not None and until_day < start:
                    problems["risico_tot"] = Said(
                        "ligt voor de ingangsdatum", "lies before the start date"
                    )
                until = _midnight(until_day)
        if problems:
            raise PictureInputError(problems)
        assert start is not None
        return self.db.add_agreement(
            bottleneck_id=bottleneck_id,
            text=text,
            owner_role=owner,
            starts_at=_midnight(start),
            expected_effect=expected,
            residual_risk=risk,
            risk_accepted_role=accepted_role,
            risk_accepted_by=accepted_by,
            risk_accepted_until=until,
            registered_at=self.clock(),
            registered_by=actor,
        )

    def add_contact(self, form: Mapping[str, str], *, actor: str) -> int:
        problems: dict[str, str] = {}
        partner = _choice(form, "partner", self.partner_names, problems)
        channel = _choice(form, "kanaal", CONTACT_CHANNELS, problems)
        caller = _choice(form, "beller", CALLERS, problems)
        received = _moment(form, "ontvangen", problems, required=True, now=self.clock())
        answered = _moment(form, "beantwoord", problems, required=False, now=self.clock())
        if received is not None and answered is not None and answered < received:
            problems["beantwoord"] = Said(
                "ligt voor het moment van ontvangst", "lies before it was received"
            )
        if problems:
            raise PictureInputError(problems)
        assert received is not None
        self.db.add_contacts([(partner, channel, caller, received, answered, actor)])
        return len(self.db.contacts(partner))

    def set_status(self, form: Mapping[str, str], *, actor: str) -> int:
        if not actor.strip():
            raise ValueError("a hand-set status needs the name of who set it")
        problems: dict[str, str] = {}
        partner = _choice(form, "partner", self.partner_names, problems)
        channel = _choice(form, "kanaal", HAND_CHANNELS, problems)
        state = _choice(form, "status", STATES, problems)
        reason = _text(form, "reden", problems, limit=500)
        self._no_names(form, ("reden",), problems)
        if problems:
            raise PictureInputError(problems)
        return self.db.set_status(
            partner=partner,
            channel=channel,
            state=state,
            reason=reason,
            at=self.clock(),
            actor=actor,
        )

    def contacts(self) -> list[Contact]:
        return self.db.contacts()


def names_pattern(names: Iterable[str]) -> re.Pattern[str] | None:
    """A case-insensitive whole-word pattern for these names (those of 3 characters or more)."""
    words = sorted({n.strip() for n in names if len(n.strip()) >= 3}, key=len, reverse=True)
    if not words:
        return None
    return re.compile(
        r"(?<![\w-])(?:" + "|".join(re.escape(w) for w in words) + r")(?![\w-])", re.IGNORECASE
    )


def names_in(text: str, names: Iterable[str]) -> list[str]:
    """The known names that occur in ``text``, as written there."""
    pattern = names_pattern(names)
    if pattern is None:
        return []
    return sorted({m.group(0) for m in pattern.finditer(text)})


def _metric_of(b: Bottleneck) -> str:
    return b.series_key.rpartition("#")[2] or "backlog"


def series_key(b: Bottleneck) -> str:
    return b.series_key.rpartition("#")[0]


def _text(
    form: Mapping[str, str],
    name: str,
    problems: dict[str, str],
    *,
    required: bool = True,
    limit: int = _MAX_TEXT,
) -> str:
    value = (form.get(name) or "").strip()
    if required and not value:
        problems[name] = Said("vul dit veld in", "required")
    elif len(value) > limit:
        problems[name] = Said(
            f"te lang: hoogstens {limit} tekens", f"too long: at most {limit} characters"
        )
    elif (hidden := hidden_character(value)) is not None:
        # Shown on the picture, the status page, a briefing and in terminals (ketenherstel.text):
        # no control or invisible character (a right-to-left override), no lone surrogate.
        problems[name] = Said(
            f"bevat een stuurteken of onzichtbaar teken ({hidden})",
            f"holds no control or invisible characters ({hidden})",
        )
    return value


def _choice(
    form: Mapping[str, str], name: str, allowed: Mapping[str, str], problems: dict[str, str]
) -> str:
    value = (form.get(name) or "").strip()
    if not value:
        problems[name] = Said("kies een waarde", "required")
    elif value not in allowed:
        problems[name] = Said(  # in Dutch the choices as the form's list shows them
            f"onbekende waarde {value!r}; kies uit {', '.join(allowed.values())}",
            f"unknown value {value!r}; one of {', '.join(allowed)}",
        )
    return value


EARLIEST = date(2000, 1, 1)
"""No date in a register lies before this (a typed year like 0202 is a typo)."""


def _day(form: Mapping[str, str], name: str, problems: dict[str, str]) -> date | None:
    value = (form.get(name) or "").strip()
    if not value:
        problems[name] = Said("vul een datum in", "required (a date)")
        return None
    try:
        day = parse_day(value)
    except ValueError as exc:
        problems[name] = reason_of(exc)
        return None
    latest = date.today() + timedelta(days=2 * 366)
    if not EARLIEST <= day <= latest:
        problems[name] = Said(
            f"ligt niet tussen {EARLIEST:%d-%m-%Y} en {latest:%d-%m-%Y}",
            f"not between {EARLIEST.isoformat()} and {latest.isoformat()}",
        )
        return None
    return day


_DATE_ONLY = re.compile(r"\d{4}-\d{1,2}-\d{1,2}|\d{1,2}-\d{1,2}-\d{4}")


def _date_and_time(value: str) -> datetime | None:
    """A date and time as a form sends it (``jjjj-mm-ddTuu:mm``, ISO 8601 with or without an
    offset) or as people write it (``dd-mm-jjjj uu:mm``, as the dates here take ``dd-mm-jjjj``
    too); None when it is neither."""
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        pass
    for fmt in ("%d-%m-%Y %H:%M", "%d-%m-%YT%H:%M"):
        try:
            return datetime.strptime(value, fmt)
        except ValueError:
            continue
    return None


def _moment(
    form: Mapping[str, str], name: str, problems: dict[str, str], *, required: bool, now: float
) -> float | None:
    value = (form.get(name) or "").strip()
    if not value:
        if required:
            problems[name] = Said("vul datum en tijd in", "required (a date and time)")
        return None
    if _DATE_ONLY.fullmatch(value):
        # A day alone would be taken as its midnight, silently (a review saw '2025-08-01'
        # taken so, and '01-08-2025' refused): the time is asked for, either way.
        problems[name] = Said(
            f"{value!r} heeft geen tijd: geef ook de tijd (uu:mm)",
            f"{value!r} has no time of day: give the time too (HH:MM)",
        )
        return None
    at = _date_and_time(value)
    if at is None:
        problems[name] = Said(
            f"{value!r} is geen datum en tijd (jjjj-mm-dd uu:mm of dd-mm-jjjj uu:mm)",
            f"{value!r} is not a date and time (YYYY-MM-DD HH:MM or DD-MM-YYYY HH:MM)",
        )
        return None
    if at.tzinfo is None:
        at = at.replace(tzinfo=TZ)
        # A Dutch time that does not exist (the hour skipped when summer time begins) would be
        # moved an hour silently; a time that exists reads back as it was given.
        if datetime.fromtimestamp(at.timestamp(), TZ).replace(tzinfo=None) != at.replace(
            tzinfo=None
        ):
            problems[name] = Said(
                f"{value!r} bestaat niet in Nederlandse tijd (de klok sprong toen een uur vooruit)",
                f"{value!r} does not exist in Dutch time (the clocks went forward an hour)",
            )
            return None
    stamp = at.timestamp()
    earliest = datetime.combine(EARLIEST, time(), TZ).timestamp()
    if not math.isfinite(stamp) or stamp < earliest:
        problems[name] = Said(
            f"ligt voor {EARLIEST:%d-%m-%Y}", f"lies before {EARLIEST.isoformat()}"
        )
        return None
    if stamp > now + 3600:
        problems[name] = _FUTURE
        return None
    return stamp


def _series(text: str, problems: dict[str, str]) -> tuple[str, str]:
    """``kind:key`` (``channel:om->justid``, ``process:vervolging``, ``partner:om``) or ``all``."""
    text = text.strip()
    if not text:
        problems["reeks"] = Said("kies de gemeten reeks", "required (kind:key)")
        return "", ""
    if text == "all":
        return "all", ""
    kind, sep, key = text.partition(":")
    if not sep or not key:
        problems["reeks"] = Said(
            f"{text!r}: schrijf soort:sleutel, bijvoorbeeld channel:om->justid",
            f"{text!r}: write kind:key, for example channel:om->justid",
        )
        return "", ""
    return kind, key
