"""Scenario files: what happens around a go-live plan, as data (see ``scenarios/om-2025.yaml``).

``load_scenario`` reads and checks one against the chain and its plan; every problem names the
file and the key (``om-2025.yaml: offline[0].until: …``) and nothing is half-loaded.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from ketenherstel.chain import Chain
from ketenherstel.documents import load_yaml
from ketenherstel.golive.channels import parse_rate
from ketenherstel.golive.errors import PlanError
from ketenherstel.golive.model import Plan, outside_dates
from ketenherstel.golive.plan import BUILTIN_PLANS, load_plan
from ketenherstel.recovery.steps import plan_steps
from ketenherstel.sim.errors import SimError
from ketenherstel.sim.profile import DEFAULT_PROFILE, SimProfile, field_problem

__all__ = [
    "BUILTIN_SCENARIOS",
    "Offline",
    "Paper",
    "Scenario",
    "ScenarioError",
    "TimelineEntry",
    "builtin_scenario_path",
    "load_scenario",
]

BUILTIN_SCENARIOS = Path(__file__).parent.parent / "sim" / "scenarios"
"""The built-in scenario files: data of the simulator package (``sim/scenarios``)."""


class ScenarioError(SimError, ValueError):
    """A scenario file cannot be used; ``problems`` lists each as ``file: key: reason``."""

    def __init__(self, path: Path, problems: list[str]) -> None:
        self.problems = [f"{path.name}: {p}" for p in problems]
        super().__init__("; ".join(self.problems))


@dataclass(frozen=True, slots=True)
class Offline:
    """A partner that cannot reach the exchange between two plan steps (its outbox keeps all)."""

    partner: str
    since: datetime
    until: datetime


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    """Something that happens beside the plan; ``status`` for a channel outside the exchange
    (partner, channel, state, and the reason the Dutch picture shows; ``what`` without one)."""

    at: datetime
    what: str
    source: str
    status: dict[str, str] | None = None


@dataclass(frozen=True, slots=True)
class Paper:
    """Which messages are done on paper from ``since``, imported every ``every``."""

    since: datetime
    every: timedelta
    types: tuple[str, ...]
    roles: dict[str, str]


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    description: str
    seed: int
    start: datetime
    arrivals_until: datetime
    end: datetime
    step: timedelta
    plan: Plan
    profile: SimProfile
    offline: tuple[Offline, ...]
    timeline: tuple[TimelineEntry, ...]
    route_type: str | None
    route_from: datetime | None
    route_until: datetime | None
    paper: Paper | None
    source: str
    capacity: dict[str, float] = dataclasses.field(default_factory=dict)
    """Messages per second each receiver can take in (None: everything it is given)."""

    def offline_at(self, partner: str, at: datetime) -> bool:
        """Whether ``partner`` cannot reach the exchange at ``at``."""
        return any(o.partner == partner and o.since <= at < o.until for o in self.offline)

    def days(self) -> float:
        """Days of case arrivals."""
        return (self.arrivals_until - self.start) / timedelta(days=1)


def builtin_scenario_path(name: str = "om-2025") -> Path:
    """The file of a built-in scenario; ``KeyError`` naming the built-in ones otherwise."""
    path = BUILTIN_SCENARIOS / f"{name}.yaml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in BUILTIN_SCENARIOS.glob("*.yaml")))
        raise KeyError(f"there is no built-in scenario {name!r}; the built-in ones are: {known}")
    return path


_KEYS = {
    "name",
    "description",
    "seed",
    "start",
    "arrivals_until",
    "end",
    "step",
    "plan",
    "profile",
    "offline",
    "timeline",
    "emergency_route",
    "paper",
    "capacity",
}
_LEAST_CASES_PER_DAY = 1.0
"""A scenario follows cases: with fewer a day, the run draws the other traffic (thousands of
screenings a day) for hours before its first case."""
_DURATION = re.compile(r"^([0-9]+(?:\.[0-9]+)?)\s*(min|h|d)$")
_UNITS = {"min": 60.0, "h": 3600.0, "d": 86400.0}


def load_scenario(path: Path | str, chain: Chain) -> Scenario:
    """Read and check a scenario file; raises :class:`ScenarioError` listing every problem."""
    path = Path(path)
    problems: list[str] = []
    try:
        doc = load_yaml(path.read_text(encoding="utf-8"))  # a key given twice: refused
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(path, [f"cannot read it: {exc}"]) from None
    except yaml.YAMLError as exc:
        raise ScenarioError(path, [f"not valid YAML: {exc}"]) from None
    if not isinstance(doc, dict):
        raise ScenarioError(path, ["expected a mapping of scenario keys"])
    problems.extend(f"{k}: unknown key" for k in sorted(set(map(str, doc)) - _KEYS))
    r = _Reader(doc, problems)
    name = r.text("name")
    description = r.text("description")
    seed = r.integer("seed")
    start = r.moment("start")
    arrivals_until = r.moment("arrivals_until")
    end = r.moment("end")
    step = r.duration("step")
    plan = _plan(r.text("plan"), path, chain, problems)
    profile = _profile(doc.get("profile", {}), problems)
    if start and arrivals_until and end and not start < arrivals_until <= end:
        problems.append("start, arrivals_until, end: must be in that order")
    steps = dict(plan_steps(plan)) if plan else {}

    def at_step(value: object, where: str) -> datetime | None:
        if isinstance(value, str) and value in steps:
            return steps[value]
        moment = _moment(value)
        if moment is None:
            known = ", ".join(steps) or "none"
            problems.append(f"{where}: expected a plan step ({known}) or a time with its zone")
        elif (why := outside_dates(moment)) is not None:
            problems.append(f"{where}: {why}")
            return None
        return moment

    offline: list[Offline] = []
    for i, item in enumerate(r.items("offline")):
        where = f"offline[{i}]"
        partner = item.get("partner")
        if not isinstance(partner, str) or partner not in {p.key for p in chain.partners}:
            problems.append(f"{where}.partner: {partner!r} is not a partner of the chain")
            continue
        since = at_step(item.get("from"), f"{where}.from")
        until = at_step(item.get("until"), f"{where}.until")
        if since and until:
            if since >= until:
                problems.append(f"{where}: from must come before until")
            offline.append(Offline(partner, since, until))
    timeline: list[TimelineEntry] = []
    for i, item in enumerate(r.items("timeline")):
        where = f"timeline[{i}]"
        at = at_step(item.get("at"), f"{where}.at")
        what = item.get("what")
        if not isinstance(what, str) or not what.strip():
            problems.append(f"{where}.what: say what happens")
            continue
        source = item.get("source")
        if source not in ("record", "assumed"):
            problems.append(f"{where}.source: 'record' or 'assumed', not {source!r}")
            continue
        status = item.get("status")
        needed = {"partner", "channel", "state"}
        if status is not None and (
            not isinstance(status, dict)
            or not needed <= set(status) <= needed | {"reason"}
            or not all(isinstance(v, str) and v.strip() for v in status.values())
        ):
            problems.append(
                f"{where}.status: needs partner, channel and state (and may have a reason, in "
                "Dutch, shown on the picture)"
            )
            status = None
        if at:
            timeline.append(TimelineEntry(at, what.strip(), source, status))
    route_type = route_from = route_until = None
    route = doc.get("emergency_route")
    if route is not None:
        if not isinstance(route, dict):
            problems.append("emergency_route: expected type, from and until")
        else:
            route_type = route.get("type")
            if not isinstance(route_type, str) or chain.message_type(route_type) is None:
                problems.append(f"emergency_route.type: {route_type!r} is no message type")
                route_type = None
            route_from = at_step(route.get("from"), "emergency_route.from")
            route_until = at_step(route.get("until"), "emergency_route.until")
    capacity: dict[str, float] = {}
    spec = doc.get("capacity", {})
    if not isinstance(spec, dict):
        problems.append("capacity: a mapping partner -> rate, e.g. om: 1500/h")
        spec = {}
    for key, value in spec.items():
        if key not in {p.key for p in chain.partners}:
            problems.append(f"capacity.{key}: not a partner of the chain")
            continue
        try:
            capacity[str(key)] = parse_rate(str(value))
        except ValueError as exc:
            problems.append(f"capacity.{key}: {exc}")
    paper = None
    spec = doc.get("paper")
    if spec is not None:
        paper = _paper(spec, chain, problems, at_step)
    if problems or plan is None or None in (start, arrivals_until, end, step, seed):
        raise ScenarioError(path, problems or ["incomplete scenario"])
    assert start and arrivals_until and end and step and seed is not None  # for mypy
    return Scenario(
        name=name,
        description=description,
        seed=seed,
        start=start,
        arrivals_until=arrivals_until,
        end=end,
        step=step,
        plan=plan,
        profile=profile,
        offline=tuple(offline),
        timeline=tuple(sorted(timeline, key=lambda e: e.at)),
        route_type=route_type,
        route_from=route_from,
        route_until=route_until,
        paper=paper,
        source=str(path),
        capacity=capacity,
    )


def _paper(spec: object, chain: Chain, problems: list[str], at_step: Any) -> Paper | None:
    if not isinstance(spec, dict):
        problems.append("paper: expected from, import_every, types and roles")
        return None
    since = at_step(spec.get("from"), "paper.from")
    every = _duration(spec.get("import_every"))
    if every is None:
        problems.append("paper.import_every: a duration such as 7d, 12h or 30min")
    types = spec.get("types")
    if not isinstance(types, list) or not types:
        problems.append("paper.types: list the message types done on paper")
        types = []
    for i, name in enumerate(types):
        if not isinstance(name, str) or chain.message_type(name) is None:
            problems.append(f"paper.types[{i}]: {name!r} is no message type of the chain")
    roles = spec.get("roles")
    if not isinstance(roles, dict) or not all(isinstance(v, str) for v in roles.values()):
        problems.append("paper.roles: a mapping partner -> registering role")
        roles = {}
    if since is None or every is None:
        return None
    return Paper(since, every, tuple(types), {str(k): v for k, v in roles.items()})


def _plan(spec: str, path: Path, chain: Chain, problems: list[str]) -> Plan | None:
    if not spec:
        return None
    file = BUILTIN_PLANS / f"{spec}.yaml"
    if not file.is_file():
        file = (path.parent / spec).resolve()
    try:
        return load_plan(file, chain)
    except PlanError as exc:
        problems.append(f"plan: {exc}")
    except OSError as exc:
        problems.append(f"plan: {spec!r} is no built-in plan and no readable file ({exc})")
    return None


def _profile(spec: object, problems: list[str]) -> SimProfile:
    """The profile a scenario gives: every field checked for its type and range by itself, each
    problem named ``profile.<field>: …``; DEFAULT_PROFILE after any problem."""
    if not isinstance(spec, dict):
        problems.append("profile: a mapping of SimProfile fields")
        return DEFAULT_PROFILE
    names = {f.name for f in dataclasses.fields(SimProfile)}
    unknown = sorted(set(map(str, spec)) - names)
    problems.extend(f"profile.{k}: no such profile field" for k in unknown)
    changes: dict[str, Any] = {}
    bad = bool(unknown)
    for name, value in spec.items():
        if name not in names:
            continue
        problem = field_problem(name, value, least_cases_per_day=_LEAST_CASES_PER_DAY)
        if problem is not None:
            problems.append(f"profile.{problem}")
            bad = True
        elif name == "decision_weights":
            changes[name] = tuple(float(w) for w in value)
        elif name != "emergency_route":
            changes[name] = float(value)  # 590 as 590.0: every rate and share is a float
        else:
            changes[name] = value
    if bad:
        return DEFAULT_PROFILE
    return dataclasses.replace(DEFAULT_PROFILE, **changes)  # checked as SimProfile checks


def _moment(value: object) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else None
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return None
        return parsed if parsed.tzinfo is not None else None
    return None


def _duration(value: object) -> timedelta | None:
    match = _DURATION.fullmatch(value.strip()) if isinstance(value, str) else None
    if match is None:
        return None
    seconds = float(match.group(1)) * _UNITS[match.group(2)]
    return timedelta(seconds=seconds) if seconds > 0 else None


class _Reader:
    def __init__(self, doc: dict[str, Any], problems: list[str]) -> None:
        self.doc = doc
        self.problems = problems

    def text(self, key: str) -> str:
        value = self.doc.get(key)
        if not isinstance(value, str) or not value.strip():
            self.problems.append(f"{key}: required text")
            return ""
        return value.strip()

    def integer(self, key: str) -> int | None:
        value = self.doc.get(key)
        if isinstance(value, bool) or not isinstance(value, int):
            self.problems.append(f"{key}: a whole number, not {value!r}")
            return None
        return value

    def moment(self, key: str) -> datetime | None:
        value = _moment(self.doc.get(key))
        if value is None:
            self.problems.append(f"{key}: a time with its zone, e.g. 2025-06-01T00:00:00+02:00")
        elif (why := outside_dates(value)) is not None:
            self.problems.append(f"{key}: {why}")
            return None
        return value

    def duration(self, key: str) -> timedelta | None:
        value = _duration(self.doc.get(key))
        if value is None:
            self.problems.append(f"{key}: a duration such as 1h, 30min or 1d")
        return value

    def items(self, key: str) -> list[dict[str, Any]]:
        value = self.doc.get(key, [])
        if not isinstance(value, list):
            self.problems.append(f"{key}: expected a list")
            return []
        out = []
        for i, item in enumerate(value):
            if isinstance(item, dict):
                out.append(item)
            else:
                self.problems.append(f"{key}[{i}]: expected a mapping")
        return out
