"""Indicators of compromise (decision 0012): imported from STIX 2.1 bundles, MISP JSON exports or
CSV (``type,value[,note]``), matched against gateway events and triage listings, each match
naming where the indicator came from (file and object id or row)."""

from __future__ import annotations

import csv
import io
import ipaddress
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ketenherstel.documents import DuplicateJsonKeys, JsonTooDeep, load_json
from ketenherstel.gateway.parse import Event
from ketenherstel.gateway.watch import (
    Evidence,
    Finding,
    GatewayInputError,
    read_text,
    session_key,
    shown,
    unmapped_network,
)

__all__ = ["Indicator", "IndicatorSet", "load_indicators"]

KINDS = ("ip", "cidr", "user_agent", "path", "hash", "domain")
_MISP_TYPES = {
    "ip-src": "ip",
    "ip-dst": "ip",
    "ip-src|port": "ip",
    "ip-dst|port": "ip",
    "user-agent": "user_agent",
    "url": "path",
    "uri": "path",
    "filename": "path",
    "domain": "domain",
    "hostname": "domain",
    "md5": "hash",
    "sha1": "hash",
    "sha256": "hash",
}
_STIX = [
    # An address (=) or a network it lies in (ISSUBSET), also as a connection's source or target
    (
        re.compile(
            r"(?:ipv4-addr:value|ipv6-addr:value|network-traffic:(?:src|dst)_ref\.value)"
            r"\s*(?:=|ISSUBSET)\s*'([^']+)'"
        ),
        "ip",
    ),
    (re.compile(r"file:hashes\.(?:'[^']+'|[A-Za-z0-9-]+)\s*=\s*'([^']+)'"), "hash"),
    (re.compile(r"url:value\s*=\s*'([^']+)'"), "path"),
    (re.compile(r"file:name\s*=\s*'([^']+)'"), "path"),
    (re.compile(r"domain-name:value\s*=\s*'([^']+)'"), "domain"),
    (re.compile(r"(?i)User-Agent'?\s*=\s*'([^']+)'"), "user_agent"),
]


@dataclass(frozen=True, slots=True)
class Indicator:
    kind: str
    value: str
    source: str
    note: str = ""


@dataclass(slots=True)
class IndicatorSet:
    """Indicators by kind, for fast matching."""

    items: list[Indicator] = field(default_factory=list)
    ips: dict[str, Indicator] = field(default_factory=dict)
    networks: list[tuple[Any, Indicator]] = field(default_factory=list)
    agents: dict[str, Indicator] = field(default_factory=dict)
    paths: list[Indicator] = field(default_factory=list)
    hashes: dict[str, Indicator] = field(default_factory=dict)
    domains: dict[str, Indicator] = field(default_factory=dict)

    def add(self, ind: Indicator) -> None:
        if not ind.value.strip():  # an empty domain would match every event without a host
            raise GatewayInputError(f"{ind.source}: a {ind.kind} indicator without a value")
        if ind.kind in ("ip", "cidr"):
            value = ind.value.split("|")[0].strip()
            try:
                net = ipaddress.ip_network(value, strict=False)
            except ValueError:
                raise GatewayInputError(f"{ind.source}: {ind.value!r} is no address") from None
            # An IPv4 address or network written as IPv6 (::ffff:…, as copied from a dual-stack
            # log) is the IPv4 one the scan reads such an address as (`watch._unmapped`); it
            # matched nothing since (a review).
            plain = unmapped_network(net)
            if plain != net:
                net = plain
                value = str(net) if "/" in value else str(net.network_address)
            # An address with a prefix is a network, whatever the feed called it.
            single = net.num_addresses == 1 and "/" not in value
            ind = replace(ind, kind="ip" if single else "cidr", value=value)
        if ind.kind == "path":
            url = _URL.match(ind.value)
            if url is not None and url.group(2) in ("", "/"):
                # A site's address without a path names the site, not every request's "/".
                ind = replace(ind, kind="domain", value=url.group(1))
        self.items.append(ind)
        if ind.kind == "ip":
            self.ips[ind.value.split("|")[0]] = ind
        elif ind.kind == "cidr":
            self.networks.append((ipaddress.ip_network(ind.value, strict=False), ind))
        elif ind.kind == "user_agent":
            self.agents[ind.value] = ind
        elif ind.kind == "path":
            self.paths.append(ind)
        elif ind.kind == "hash":
            self.hashes[ind.value.lower()] = ind
        elif ind.kind == "domain":
            self.domains[ind.value.lower()] = ind

    def __len__(self) -> int:
        return len(self.items)

    def match_address(self, address: str) -> list[Indicator]:
        """The address's own indicator and every network indicator that holds it."""
        if not address:
            return []
        found = [self.ips[address]] if address in self.ips else []
        if self.networks:
            try:
                ip = ipaddress.ip_address(address)
            except ValueError:
                return found
            found += [ind for net, ind in self.networks if ip in net]
        return found

    def match_event(self, e: Event, address: str) -> list[Indicator]:
        out = self.match_address(address)
        for key in ("Browser_type", "Browser", "user_agent"):
            agent = e.fields.get(key)
            if agent and agent in self.agents:
                out.append(self.agents[agent])
        url = e.fields.get("uri") or e.fields.get("url") or ""
        if url:
            out += [p for p in self.paths if _path_of(p.value) and _path_of(p.value) in url]
        host = (e.fields.get("host") or "").lower()
        if host in self.domains:
            out.append(self.domains[host])
        return out

    def match_path(self, path: str) -> list[Indicator]:
        return [p for p in self.paths if _path_of(p.value) and path.endswith(_path_of(p.value))]

    def findings_for(self, e: Event, address: str) -> list[Finding]:
        return [
            Finding(
                "indicator-match",
                f"Matches an imported indicator ({ind.kind} {ind.value[:60]})",
                "high" if ind.kind in ("ip", "hash", "path") else "medium",
                e.at,
                address=address,
                user=shown(e.fields.get("User", "")),
                session=e.fields.get("SessionId", ""),
                context=session_key("", e.fields.get("Context", ""))[1],
                detail=f"indicator from {ind.source}" + (f": {ind.note}" if ind.note else ""),
                evidence=[Evidence(e.file, e.offset)],
            )
            for ind in self.match_event(e, address)
        ]


_URL = re.compile(r"^[a-z]+://([^/:?#]+)(?::\d+)?([^?#]*)", re.I)


def _path_of(value: str) -> str:
    """The path of a URL indicator (``https://x/p/u/a.php?q`` -> ``/p/u/a.php``), or the value."""
    m = re.match(r"^[a-z]+://[^/]+(/[^?#]*)", value)
    return m.group(1) if m else value


def _stix(doc: Any, name: str) -> Iterable[Indicator]:
    if not isinstance(doc, dict) or doc.get("type") != "bundle":
        raise GatewayInputError(f"{name}: not a STIX 2.1 bundle (no type 'bundle')")
    objects = doc.get("objects") or []
    if not isinstance(objects, list):
        raise GatewayInputError(f"{name}: a STIX bundle's objects must be a list")
    for obj in objects:
        if not isinstance(obj, dict) or obj.get("type") != "indicator":
            continue
        pattern = str(obj.get("pattern", ""))
        for regex, kind in _STIX:
            for value in regex.findall(pattern):
                if kind == "ip" and "/" in value:
                    kind = "cidr"
                yield Indicator(
                    kind, value, f"{name} {obj.get('id', '')}", str(obj.get("name", ""))
                )


def _misp(doc: Any, name: str) -> Iterable[Indicator]:
    events = []
    if isinstance(doc, dict) and "Event" in doc:
        events = [doc["Event"]]
    elif isinstance(doc, dict) and isinstance(doc.get("response"), list):
        events = [r.get("Event", r) for r in doc["response"] if isinstance(r, dict)]
    elif isinstance(doc, list):
        events = [r.get("Event", r) for r in doc if isinstance(r, dict)]
    if not events or not all(isinstance(e, dict) for e in events):
        raise GatewayInputError(f"{name}: not a MISP export (no Event object)")
    for event in events:
        attributes = _misp_list(event.get("Attribute"), name, "Attribute")
        for obj in _misp_list(event.get("Object"), name, "Object"):
            attributes += _misp_list(obj.get("Attribute"), name, "Object's Attribute")
        for attr in attributes:
            kind = _MISP_TYPES.get(str(attr.get("type", "")))
            if kind is None:
                continue
            value = str(attr.get("value", ""))
            if kind == "ip" and "|" in value:
                value = value.split("|")[0]
            yield Indicator(
                kind,
                value,
                f"{name} event {event.get('id', '?')} attribute {attr.get('uuid', '')}",
                str(attr.get("comment", "")),
            )


def _misp_list(value: Any, name: str, what: str) -> list[dict[str, Any]]:
    """A MISP event's list of attributes or objects, each an object."""
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise GatewayInputError(f"{name}: a MISP {what} must be a list of objects")
    return list(value)


def _csv(text: str, name: str) -> Iterable[Indicator]:
    reader = csv.reader(io.StringIO(text))
    for row_no, row in enumerate(reader, start=1):
        if not row or row[0].startswith("#") or (row_no == 1 and row[0].strip().lower() == "type"):
            continue
        if len(row) < 2:
            raise GatewayInputError(f"{name}: row {row_no}: write type,value[,note]")
        kind, value = row[0].strip(), row[1].strip()
        if kind not in KINDS:
            raise GatewayInputError(
                f"{name}: row {row_no}: type {kind!r} is not one of {', '.join(KINDS)}"
            )
        if kind in ("ip", "cidr"):
            try:
                ipaddress.ip_network(value, strict=False)
            except ValueError:
                raise GatewayInputError(f"{name}: row {row_no}: {value!r} is no address") from None
        yield Indicator(kind, value, f"{name} row {row_no}", row[2].strip() if len(row) > 2 else "")


def load_indicators(paths: Iterable[Path]) -> IndicatorSet:
    """Indicators from STIX 2.1 (JSON with type bundle), MISP (JSON with Event) or CSV files."""
    out = IndicatorSet()
    for path in paths:
        text = read_text(path, "indicators")
        name = path.name
        if path.suffix.lower() == ".csv":
            items = list(_csv(text, name))
        else:
            try:
                doc = load_json(text)
            except json.JSONDecodeError as exc:
                raise GatewayInputError(f"indicators {path}: not JSON: {exc}") from None
            # a key given twice: which value was meant is the feed's to say
            except (DuplicateJsonKeys, JsonTooDeep) as exc:
                raise GatewayInputError(f"indicators {path}: {exc}") from None
            is_stix = isinstance(doc, dict) and doc.get("type") == "bundle"
            items = list(_stix(doc, name) if is_stix else _misp(doc, name))
        if not items:  # a feed of nothing, or of patterns this does not read: not a clean feed
            raise GatewayInputError(
                f"indicators {path}: no indicator in it that this can match (addresses, "
                "networks, user agents, URLs or paths, domains, file hashes)"
            )
        for ind in items:
            out.add(ind)
    return out
