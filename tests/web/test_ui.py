"""The web UI over HTTP (decision 0013): signing in and roles, forms that refuse bad input in the
form and save nothing, the public status page and its feed, /metrics, briefings and their
publication version, and the picture API. The browser tests are in tests/ui."""

from __future__ import annotations

import dataclasses
import io
import json
import re
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from ketenherstel.bootstrap import Runtime, bootstrap
from ketenherstel.briefings import names_of
from ketenherstel.exchange.auth import LOCAL_OPERATOR, hash_token
from ketenherstel.picture.service import Picture
from ketenherstel.settings import Settings
from ketenherstel.web.app import create_app
from ketenherstel.web.ui import FORM_LIMIT, partner_summary, with_way_back
from ketenherstel.web.uisession import COOKIE

# Pseudonymous people; the tests look for these names where they must never appear.
ANNA, BRAM, CEES = "Anna Aalbers", "Bram Bakker", "Cees Coenen"


@dataclass
class Ui:
    client: TestClient
    rt: Runtime
    tokens: dict[str, str]

    @property
    def picture(self) -> Picture:
        picture: Picture = self.client.app.state.picture  # type: ignore[attr-defined]
        return picture

    def sign_in(self, who: str) -> None:
        self.client.cookies.clear()
        r = self.client.post("/ui/aanmelden", data={"token": self.tokens[who]})
        assert r.status_code == 200, r.text
        assert COOKIE in self.client.cookies

    def csrf(self, path: str = "/ui/knelpunten") -> str:
        page = self.client.get(path).text
        found = re.search(r'name="csrf" value="([^"]+)"', page)
        assert found, page[:500]
        return found.group(1)


@pytest.fixture
def ui(small_scenario: Settings, tmp_path: Path) -> Iterator[Ui]:
    settings = dataclasses.replace(
        small_scenario,
        picture_db=str(tmp_path / "picture.sqlite"),
        reconcile_dir=str(tmp_path / "reconcile"),  # and the gateway's reports beside it
    )
    rt = bootstrap(settings)
    tokens: dict[str, str] = {}
    for who, role in (("anna", "operator"), ("bram", "operator"), ("cees", "viewer")):
        person = {"anna": ANNA, "bram": BRAM, "cees": CEES}[who]
        tokens[who], _ = rt.exchange.create_token(
            principal=LOCAL_OPERATOR,
            role=role,
            person=person,  # type: ignore[arg-type]
        )
    tokens["om"], _ = rt.exchange.create_token(
        principal=LOCAL_OPERATOR, role="partner", partner="om"
    )
    with TestClient(create_app(rt, group_commit=False), follow_redirects=True) as client:
        yield Ui(client, rt, tokens)
    rt.close()


BOTTLENECK = {
    "titel": "Voorraad OM naar Justid",
    "categorie": "werklast",
    "ernst": "hoog",
    "partner": "om",
    "reeks": "channel:om->justid",
    "maat": "backlog",
    "begin": "2025-07-20",
    "omschrijving": "Besproken in het crisisoverleg van de keten",
}
AGREEMENT = {
    "afspraak": "Extra capaciteit voor de inhaalslag",
    "eigenaar": "teamleider parket",
    "ingang": "2025-08-12",
    "verwacht_effect": "de voorraad daalt binnen twee weken",
    "restrisico": "termijnen in de tussentijd",
    "risico_rol": "hoofdofficier van justitie",
    "risico_door": CEES,
    "risico_tot": "2025-12-31",
}


def errors(html: str) -> list[str]:
    return re.findall(r'<p class="kh-error[^"]*" id="e-([a-z_]+)">', html)


# -- signing in --------------------------------------------------------------------------


def test_pages_need_a_session_and_public_pages_do_not(ui: Ui) -> None:
    r = ui.client.get("/ui/herstelmatrix")
    assert r.url.path == "/ui/aanmelden"
    assert "volgende=/ui/herstelmatrix" in str(r.url)
    for path in ("/status", "/status/feed.atom", "/toegankelijkheid"):
        assert ui.client.get(path).status_code == 200, path
    assert ui.client.get("/").url.path == "/ui/aanmelden"


@pytest.mark.parametrize(
    ("token", "message"),
    [
        ("", "vul uw token in"),
        ("not-a-token", "dit is geen token"),
        ("kh_bad", "een token is kh_ gevolgd door 43 letters"),  # it begins with kh_ all right
        ("kh_" + "x" * 43, "onbekend of ingetrokken"),
    ],
)
def test_a_bad_token_is_answered_in_the_form(ui: Ui, token: str, message: str) -> None:
    r = ui.client.post("/ui/aanmelden", data={"token": token})
    assert r.status_code == 400
    assert message in r.text
    assert COOKIE not in ui.client.cookies


def test_a_partner_token_does_not_open_the_ui(ui: Ui) -> None:
    r = ui.client.post("/ui/aanmelden", data={"token": ui.tokens["om"]})
    assert r.status_code == 400
    assert "ketenpartner geeft geen toegang" in r.text
    assert COOKIE not in ui.client.cookies


def test_signing_in_goes_back_where_you_were_but_never_off_site(ui: Ui) -> None:
    r = ui.client.post(
        "/ui/aanmelden", data={"token": ui.tokens["cees"], "volgende": "/ui/herstelmatrix"}
    )
    assert r.url.path == "/ui/herstelmatrix"
    for target in ("https://evil.example/", "//evil.example/x", "javascript:alert(1)"):
        ui.client.cookies.clear()
        r = ui.client.post("/ui/aanmelden", data={"token": ui.tokens["cees"], "volgende": target})
        assert r.url.path == "/ui/"
        assert r.url.host == "testserver"


def test_a_revoked_token_ends_its_session(ui: Ui) -> None:
    ui.sign_in("cees")
    assert ui.client.get("/ui/").url.path == "/ui/"
    cred = ui.rt.store.credential_by_hash(hash_token(ui.tokens["cees"]))
    assert cred is not None
    ui.rt.exchange.revoke_token(principal=LOCAL_OPERATOR, credential_id=cred.id)
    assert ui.client.get("/ui/").url.path == "/ui/aanmelden"


def test_a_tampered_cookie_is_no_session(ui: Ui) -> None:
    ui.sign_in("anna")
    cookie = ui.client.cookies[COOKIE]
    ui.client.cookies.clear()
    ui.client.cookies.set(COOKIE, cookie[:-3] + ("AAA" if cookie[-3:] != "AAA" else "BBB"))
    assert ui.client.get("/ui/").url.path == "/ui/aanmelden"


def test_pages_carry_security_headers_and_no_token(ui: Ui) -> None:
    ui.sign_in("anna")
    r = ui.client.get("/ui/")
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
    assert r.headers["cache-control"] == "no-store"
    assert ui.tokens["anna"] not in ui.client.cookies[COOKIE]
    assert ui.tokens["anna"] not in r.text


# -- the picture -------------------------------------------------------------------------


def test_the_picture_shows_figures_as_of_the_store_with_charts_and_tables(ui: Ui) -> None:
    ui.sign_in("cees")
    html = ui.client.get("/ui/").text
    snap = ui.picture.snapshot()
    total = snap.view("all")
    assert "Stand van de uitwisseling" in html
    assert html.count("<svg") >= 3
    assert html.count("<table") >= html.count("<svg")  # a table behind every chart
    assert "OM afgesloten" in html  # the timeline is drawn on the charts
    assert f"{total.arrived:,}".replace(",", ".") in html
    r = ui.client.get("/ui/reeks", params={"soort": "channel", "sleutel": "om->justid"})
    assert r.status_code == 200
    assert "Kanaal Openbaar Ministerie → Justitiële Informatiedienst" in r.text
    r = ui.client.get("/ui/reeks", params={"soort": "channel", "sleutel": "nobody->x"})
    assert r.status_code == 404
    assert (
        "er is niets gemeten voor kanaal" in r.text and "channel" not in r.text.split("<main")[-1]
    )
    # The kind typed in Dutch, as the page names it, is understood; a wrong one is named in
    # Dutch, with the Dutch choices.
    r = ui.client.get("/ui/reeks", params={"soort": "kanaal", "sleutel": "om->justid"})
    assert r.status_code == 200 and "Kanaal Openbaar Ministerie" in r.text
    r = ui.client.get("/ui/reeks", params={"soort": "soort", "sleutel": "x"})
    assert "kies uit hele keten, kanaal, proces, ontvanger, afzender, partner" in r.text


def test_the_timeline_says_why_an_emergency_route_opened_and_why_it_closed(ui: Ui) -> None:
    route = ui.rt.exchange.open_route(
        principal=LOCAL_OPERATOR,
        type="nl.strafrechtketen.opsporing.proces-verbaal-ingezonden.v1",
        sender="politie",
        around="om",
        receiver="justid",
        superseded_by="nl.strafrechtketen.registratie.om-afdoening-geregistreerd.v1",
        reason="zware gewelds- en zedendelicten",
    )
    ui.rt.exchange.close_route(
        principal=LOCAL_OPERATOR, route_id=route.id, reason="OM <weer> bereikbaar"
    )
    ui.sign_in("cees")
    html = ui.client.get("/ui/").text
    found = re.findall(r"<td>(spoedroute Politie → [^<]*)</td><td>([^<]*)</td></tr>", html)
    assert found == [
        ("spoedroute Politie → Justitiële Informatiedienst open", route.reason),
        ("spoedroute Politie → Justitiële Informatiedienst dicht", "OM &lt;weer&gt; bereikbaar"),
    ]


# -- forms -------------------------------------------------------------------------------


def test_a_viewer_cannot_change_anything(ui: Ui) -> None:
    ui.sign_in("cees")
    page = ui.client.get("/ui/knelpunten").text
    assert "Knelpunt registreren" not in page
    csrf = ui.csrf("/ui/briefings") if 'name="csrf"' in page else "x"
    for path, data in (
        ("/ui/knelpunten", BOTTLENECK),
        ("/ui/herstelmatrix", {"partner": "om", "kanaal": "email", "status": "down", "reden": "x"}),
        ("/ui/briefings", {"peildatum": "2025-08-01"}),
    ):
        r = ui.client.post(path, data={**data, "csrf": csrf})
        assert r.status_code == 403, path
        assert "alleen een operator" in r.text
    assert ui.picture.db.bottlenecks() == []
    assert ui.picture.db.statuses() == []
    assert ui.picture.db.briefings() == []


def test_bad_bottleneck_input_is_answered_in_the_form_and_nothing_is_saved(ui: Ui) -> None:
    ui.sign_in("anna")
    csrf = ui.csrf()
    bad = {
        **BOTTLENECK,
        "titel": "",
        "categorie": "onzin",
        "reeks": "channel:nobody->x",
        "begin": "31-31-2025",
    }
    r = ui.client.post("/ui/knelpunten", data={**bad, "csrf": csrf})
    assert r.status_code == 400
    assert sorted(errors(r.text)) == ["begin", "categorie", "reeks", "titel"]
    # the choices as the form's list shows them, not the codes (werklast, vertraging, …)
    assert "kies uit Werklast en voorraad, Vertraging, Informatievoorziening" in r.text
    assert "Het formulier is niet opgeslagen" in r.text
    assert "Besproken in het crisisoverleg" in r.text  # what was typed is kept
    assert ui.picture.db.bottlenecks() == []


def test_text_that_names_a_person_is_refused(ui: Ui) -> None:
    ui.sign_in("anna")
    csrf = ui.csrf()
    named = {**BOTTLENECK, "omschrijving": f"Besproken met {BRAM.upper()}", "csrf": csrf}
    r = ui.client.post("/ui/knelpunten", data=named)
    assert r.status_code == 400 and errors(r.text) == ["omschrijving"]
    assert "noem geen personen" in r.text
    assert ui.picture.db.bottlenecks() == []
    csrf = ui.csrf("/ui/herstelmatrix")
    status = {
        "partner": "om",
        "kanaal": "email",
        "status": "down",
        "csrf": csrf,
        "reden": f"gemeld door {ANNA}",
    }
    r = ui.client.post("/ui/herstelmatrix", data=status)
    assert r.status_code == 400 and errors(r.text) == ["reden"]
    assert ui.picture.db.statuses() == []


def test_a_form_without_its_csrf_token_saves_nothing(ui: Ui) -> None:
    ui.sign_in("anna")
    r = ui.client.post("/ui/knelpunten", data=BOTTLENECK)
    assert r.status_code == 400
    assert "het formulier is verlopen" in r.text
    assert ui.picture.db.bottlenecks() == []


def test_a_bottleneck_with_a_work_agreement_shows_its_measured_effect(ui: Ui) -> None:
    ui.sign_in("anna")
    csrf = ui.csrf()
    r = ui.client.post("/ui/knelpunten", data={**BOTTLENECK, "csrf": csrf})
    assert r.status_code == 200
    assert r.url.path == "/ui/knelpunten/1"
    bad = {**AGREEMENT, "risico_tot": "2025-08-01", "eigenaar": ""}
    r = ui.client.post("/ui/knelpunten/1/werkafspraken", data={**bad, "csrf": csrf})
    assert r.status_code == 400
    assert sorted(errors(r.text)) == ["eigenaar", "risico_tot"]
    assert ui.picture.db.agreements() == []
    r = ui.client.post("/ui/knelpunten/1/werkafspraken", data={**AGREEMENT, "csrf": csrf})
    assert r.status_code == 200
    assert "Werkafspraak opgeslagen" in r.text
    (b,) = ui.picture.db.bottlenecks()
    (a,) = ui.picture.db.agreements(b.id)
    effect = ui.picture.effect(b, a)
    assert effect.before is not None and effect.after is not None
    assert effect.text() in r.text
    assert "knelpunt: Voorraad OM naar Justid" in r.text  # the band on the chart
    assert CEES not in r.text  # the risk is shown by role
    missing = ui.client.post("/ui/knelpunten/99/werkafspraken", data={**AGREEMENT, "csrf": csrf})
    assert missing.status_code == 404
    # Closed: not before it began, not twice.
    r = ui.client.post("/ui/knelpunten/1/afsluiten", data={"einde": "2025-07-01", "csrf": csrf})
    assert r.status_code == 400 and "voor het begin" in r.text
    assert ui.picture.db.bottleneck(1).ended_at is None  # type: ignore[union-attr]
    r = ui.client.post("/ui/knelpunten/1/afsluiten", data={"einde": "2025-09-01", "csrf": csrf})
    assert r.status_code == 200 and "Knelpunt afgesloten" in r.text
    assert ui.picture.db.bottleneck(1).ended_at is not None  # type: ignore[union-attr]
    r = ui.client.post("/ui/knelpunten/1/afsluiten", data={"einde": "2025-09-02", "csrf": csrf})
    assert r.status_code == 400 and "al afgesloten" in r.text


def test_hand_set_status_shows_in_the_matrix_status_page_and_feed(ui: Ui) -> None:
    ui.sign_in("anna")
    csrf = ui.csrf("/ui/herstelmatrix")
    bad = {"partner": "om", "kanaal": "fax", "status": "kapot", "reden": "", "csrf": csrf}
    r = ui.client.post("/ui/herstelmatrix", data=bad)
    assert r.status_code == 400
    assert sorted(errors(r.text)) == ["kanaal", "reden", "status"]
    good = {
        "partner": "om",
        "kanaal": "telefoon",
        "status": "manual",
        "csrf": csrf,
        "reden": "telefoon via het centrale nummer van de rechtbank",
    }
    r = ui.client.post("/ui/herstelmatrix", data=good)
    assert r.status_code == 200
    assert "Status opgeslagen" in r.text
    matrix = ui.picture.matrix()
    cell = matrix.cell("om", "telefoon")
    assert cell is not None and cell.state == "manual" and cell.hand_set
    ui.client.cookies.clear()
    status = ui.client.get("/status").text
    assert "Telefoon" in status and "Handmatige omweg" in status
    om = [c.state for c in matrix.cells if c.partner == "om"]
    heading = f"Openbaar Ministerie: {partner_summary(om)}</h2>"
    assert heading in status and "omweg bij" in heading and f"de {len(om)} verbindingen" in heading
    # "Bijgewerkt" is not older than the newest change the page lists (the hand status, set
    # now, after the figures' last change)
    newest = datetime.fromtimestamp(matrix.changes[0].at, ZoneInfo("Europe/Amsterdam"))
    assert f"Bijgewerkt: <strong>{newest:%d-%m-%Y %H:%M}" in status
    feed = ui.client.get("/status/feed.atom")
    assert feed.headers["content-type"].startswith("application/atom+xml")
    root = ET.fromstring(feed.content)
    ns = {"a": "http://www.w3.org/2005/Atom"}
    titles = [e.findtext("a:title", namespaces=ns) for e in root.findall("a:entry", ns)]
    assert "Openbaar Ministerie, telefoon: handmatige omweg" in titles
    # A process keeps its proper name in the changes, as in the table above them.
    changes = status[status.index("Laatste wijzigingen") :]
    assert "Openbaar Ministerie, Afdoening door het OM: normaal" in changes
    assert "Openbaar Ministerie, Afdoening door het OM: normaal" in titles
    assert "afdoening door het om" not in changes and "afdoening door het om" not in feed.text
    for name in (ANNA, BRAM, CEES, "operator-a", "operator-b"):
        assert name not in status
        assert name not in feed.text
    # The reason is free text, for signed-in users (the herstelmatrix): never public.
    assert good["reden"] not in status and good["reden"] not in feed.text


def test_the_feed_links_never_come_from_the_host_header(ui: Ui, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    ns = {"a": "http://www.w3.org/2005/Atom"}

    def links() -> set[str]:
        r = ui.client.get("/status/feed.atom", headers={"Host": "evil.example"})
        assert r.status_code == 200 and "evil.example" not in r.text
        return {e.get("href", "") for e in ET.fromstring(r.content).iter(f"{{{ns['a']}}}link")}

    assert links() == {"/status/feed.atom", "/status"}  # relative to the feed itself
    configured = dataclasses.replace(ui.rt.settings, public_url="https://status.example.nl")
    monkeypatch.setattr(ui.rt, "settings", configured)
    assert links() == {
        "https://status.example.nl/status/feed.atom",
        "https://status.example.nl/status",
    }


def test_the_public_url_setting_is_checked(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("KETENHERSTEL_PUBLIC_URL", "https://status.example.nl/")
    assert Settings.from_env().public_url == "https://status.example.nl"
    for bad in ("status.example.nl", "javascript:alert(1)", "https://", "https://x/?a=1"):
        monkeypatch.setenv("KETENHERSTEL_PUBLIC_URL", bad)
        with pytest.raises(ValueError, match="KETENHERSTEL_PUBLIC_URL"):
            Settings.from_env()


def test_reachability_contacts_become_a_series(ui: Ui) -> None:
    ui.sign_in("anna")
    csrf = ui.csrf("/ui/bereikbaarheid")
    bad = {
        "partner": "om",
        "kanaal": "telefoon",
        "beller": "advocaat",
        "csrf": csrf,
        "ontvangen": "2025-08-05T10:00",
        "beantwoord": "2025-08-05T09:00",
    }
    r = ui.client.post("/ui/bereikbaarheid", data=bad)
    assert r.status_code == 400 and errors(r.text) == ["beantwoord"]
    assert ui.picture.db.contacts() == []
    for hour in (9, 10, 11):
        good = {**bad, "ontvangen": f"2025-08-05T{hour:02d}:00", "beantwoord": ""}
        if hour == 9:
            good["beantwoord"] = "2025-08-05T13:00"
        assert ui.client.post("/ui/bereikbaarheid", data=good).status_code == 200
    page = ui.client.get("/ui/bereikbaarheid").text
    assert "Beantwoorde contacten per dag" in page
    assert re.search(
        r"<td class=\"num\">3</td><td class=\"num\">1</td><td class=\"num\">33</td>"
        r"<td class=\"num\">4,0</td>",
        page,
    )


# -- briefings ---------------------------------------------------------------------------


def make_briefing(ui: Ui, day: str = "2025-08-20") -> int:
    csrf = ui.csrf("/ui/briefings")
    r = ui.client.post("/ui/briefings", data={"peildatum": day, "csrf": csrf})
    assert r.status_code == 200, r.text
    return ui.picture.db.briefings()[0].id


def test_a_briefing_is_a_draft_until_another_operator_approves_it(ui: Ui) -> None:
    ui.sign_in("anna")
    csrf = ui.csrf("/ui/briefings")
    for day, message in (("2025-13-01", "geen datum"), ("2024-01-01", "kies een dag")):
        r = ui.client.post("/ui/briefings", data={"peildatum": day, "csrf": csrf})
        assert r.status_code == 400 and message in r.text
    assert ui.picture.db.briefings() == []
    bid = make_briefing(ui)
    html = ui.client.get(f"/ui/briefings/{bid}").text
    for heading in (
        "Aanleiding",
        "Geadviseerd besluit",
        "Kernpunten",
        "Toelichting",
        "Informatie die niet openbaar gemaakt kan worden",
    ):
        assert heading in html
    assert "concept, nog niet goedgekeurd" in html
    # Its maker sees no button to approve it (a review pressed it), and a refused approval is
    # said above the list, not as a problem of the form for a new briefing.
    listed = ui.client.get("/ui/briefings").text
    assert f"/ui/briefings/{bid}/goedkeuren" not in listed
    assert "wacht op goedkeuring door een andere operator" in listed
    r = ui.client.post(f"/ui/briefings/{bid}/goedkeuren", data={"csrf": csrf})
    assert r.status_code == 400 and "niet zelf goedkeuren" in r.text
    assert "<strong>Niet goedgekeurd.</strong>" in r.text
    assert "Het formulier is niet opgeslagen" not in r.text
    ui.sign_in("bram")
    assert f"/ui/briefings/{bid}/goedkeuren" in ui.client.get("/ui/briefings").text
    r = ui.client.post(f"/ui/briefings/{bid}/goedkeuren", data={"csrf": "verlopen"})
    assert r.status_code == 400 and "<strong>Niet goedgekeurd.</strong>" in r.text
    assert "het formulier is verlopen" in r.text
    assert "Het formulier is niet opgeslagen" not in r.text
    assert ui.picture.db.briefing(bid).state == "draft"  # type: ignore[union-attr]
    r = ui.client.post(f"/ui/briefings/{bid}/goedkeuren", data={"csrf": ui.csrf("/ui/briefings")})
    assert r.status_code == 200
    assert ui.picture.db.briefing(bid).state == "approved"  # type: ignore[union-attr]
    assert "goedgekeurd door een operator" in ui.client.get(f"/ui/briefings/{bid}").text
    r = ui.client.post(f"/ui/briefings/{bid}/goedkeuren", data={"csrf": ui.csrf("/ui/briefings")})
    assert r.status_code == 400 and "al goedgekeurd" in r.text


def test_an_operator_the_author_made_sees_no_approve_button(ui: Ui) -> None:
    """An operator whose credential the briefing's author made is refused as approver (decision
    0004), so the list shows no button for them but says who may approve it; an independent
    operator still gets the button."""
    ui.sign_in("anna")
    bid = make_briefing(ui)
    op = {"Authorization": f"Bearer {ui.tokens['anna']}"}
    r = ui.client.post("/v1/credentials", json={"role": "operator", "person": "anton"}, headers=op)
    assert r.status_code == 201
    ui.tokens["anton"] = r.json()["token"]
    ui.sign_in("anton")
    listed = ui.client.get("/ui/briefings").text
    assert f"/ui/briefings/{bid}/goedkeuren" not in listed
    assert "wacht op goedkeuring door een onafhankelijke operator" in listed
    r = ui.client.post(f"/ui/briefings/{bid}/goedkeuren", data={"csrf": ui.csrf("/ui/briefings")})
    assert r.status_code == 400 and "onafhankelijke operator" in r.text
    assert ui.picture.db.briefing(bid).state == "draft"  # type: ignore[union-attr]
    ui.sign_in("bram")
    listed = ui.client.get("/ui/briefings").text
    assert f"/ui/briefings/{bid}/goedkeuren" in listed
    assert "wacht op goedkeuring" not in listed
    ui.sign_in("cees")  # a viewer approves nothing and is told nothing about it
    listed = ui.client.get("/ui/briefings").text
    assert "goedkeuren" not in listed and "wacht op goedkeuring" not in listed


def test_a_briefing_says_which_sections_are_not_frozen_at_its_date(ui: Ui) -> None:
    """The re-screen counts, the reconciliation reports and the gateway's verdicts are kept
    only as they are now: the briefing must not call them frozen at the reference date."""
    report = Path(ui.rt.settings.reconcile_location()) / "r20261129T232100-99df0a"
    report.mkdir(parents=True)
    summary = {"id": report.name, "createdAt": "2026-11-30T00:21:00+01:00", "hops": []}
    (report / "summary.json").write_text(json.dumps(summary), encoding="utf-8")
    (report / "report.html").write_text("<p>Er ontbreekt niets.</p>", encoding="utf-8")
    gateway = Path(ui.rt.settings.gateway_report_location())
    gateway.mkdir(parents=True)
    verdicts = {
        "made": "2026-11-29T23:21:07+00:00",
        "verdicts": [{"organisation": "om.nl", "verdict": "misbruik gevonden", "users": 4}],
    }
    (gateway / "verdicts.json").write_text(json.dumps(verdicts), encoding="utf-8")
    ui.sign_in("anna")
    bid = make_briefing(ui)
    row = ui.picture.db.briefing(bid)
    assert row is not None
    figures = json.loads(row.figures)
    assert sorted(figures["nietBevroren"]) == ["afstemming", "herscreening", "voorportaal"]
    assert "stand van hun eigen moment (30-11-2026 00:21)" in figures["nietBevroren"]["afstemming"]
    assert "het oordeel van 30-11-2026 00:21" in figures["nietBevroren"]["voorportaal"]
    assert "alle cijfers bevroren" not in row.html
    assert "bevroren op het einde van die dag, behalve wat hieronder staat" in row.html
    assert "Niet bevroren op de peildatum:" in row.html
    for text in figures["nietBevroren"].values():
        assert text in row.html and "niet" in text and "peildatum" in text
    assert "Herscreening: de stand bij het maken van deze nota (" in row.html
    assert "Herscreening (stand bij het maken, niet op de peildatum)" in row.html
    # The gateway's section is withheld from the publication version, and so is its note.
    assert figures["nietBevroren"]["afstemming"] in row.public_html
    assert "Voorportaal: het oordeel" not in row.public_html


def test_a_briefing_names_partners_and_units_once(ui: Ui) -> None:
    ui.sign_in("anna")
    r = ui.client.post("/ui/knelpunten", data={**BOTTLENECK, "csrf": ui.csrf()})
    assert r.status_code == 200
    row = ui.picture.db.briefing(make_briefing(ui))
    assert row is not None
    # The bottleneck's series in Dutch and by the partners' names, not as the API's key
    # ("channel:om->justid") nor by their keys ("kanaal om->justid", found by a review).
    said = "Gemeten reeks: kanaal Openbaar Ministerie → Justitiële Informatiedienst"
    assert said in row.html, row.html[-3000:]
    assert "channel:" not in row.html and "om-&gt;justid" not in row.html
    # The counts as Dutch sentences: no "knelpunt(en)", a number of 1,000 or more with its dot.
    assert "knelpunt(en)" not in row.html and "werkafspraken bij 1 " not in row.html
    rows = re.search(r"uitwisseling: ([\d.]+) afleveringen", row.html)
    assert rows is not None and (int(rows[1].replace(".", "")) < 1000 or "." in rows[1])
    form = ui.client.get("/ui/knelpunten").text
    assert ">Kanaal Openbaar Ministerie → Justitiële Informatiedienst</option>" in form
    assert ">Ontvanger Justitiële Informatiedienst</option>" in form
    assert "Kanaal om → justid" not in form
    assert "(uur) (uur)" not in row.html
    assert "Doorlooptijd van afgeleverde berichten (uur);" in row.html
    missed = r"Wettelijke termijn overschreden bij <strong>[\d.]+</strong> berichten\."
    assert re.search(missed, row.html)
    assert "</strong>." not in row.html.replace("\n", "")  # no full stop after a bold figure
    matrix = json.loads(row.figures)["matrix"]
    shown = [c for c in matrix if c["status"] != "normal"]
    assert shown, "the fixture has a channel not back to normal on the reference date"
    table = row.html[row.html.index("Herstelmatrix op de peildatum") :]
    table = table[: table.index("</table>")]
    for c in shown:
        assert f'<th scope="row">{c["naam"]}</th>' in table
        assert f'<th scope="row">{c["partner"].upper()}</th>' not in table


def test_the_publication_version_holds_no_name_from_the_audit_trail_or_registers(ui: Ui) -> None:
    ui.sign_in("anna")
    csrf = ui.csrf()
    ui.client.post("/ui/knelpunten", data={**BOTTLENECK, "csrf": csrf})
    ui.client.post("/ui/knelpunten/1/werkafspraken", data={**AGREEMENT, "csrf": csrf})
    # A register written before names were refused (or by another tool) may hold one.
    ui.picture.db.add_bottleneck(
        title="Oud knelpunt",
        category="risico",
        severity="laag",
        partner="om",
        process=None,
        series_kind="all",
        series_key="#backlog",
        description=f"Besproken met {BRAM}",
        started_at=1_752_000_000.0,
        ended_at=None,
        registered_at=1_752_000_000.0,
        registered_by=ANNA,
    )
    bid = make_briefing(ui)
    row = ui.picture.db.briefing(bid)
    assert row is not None
    names = names_of(ui.rt, ui.picture)
    assert {ANNA, BRAM, CEES} <= names  # typed into a register, or in the audit trail
    for name in names:
        assert name.lower() not in row.public_html.lower(), name
        assert name.lower() not in row.html.lower(), name  # people appear by role only
    assert "[gelakt: art. 5.1, tweede lid, onder e, Woo" in row.public_html
    assert 'Besproken met <span class="lak">' in row.public_html
    assert "het goed functioneren van de Staat" in row.public_html
    assert 'name="dcterms.publisher"' in row.public_html
    # Served with a way back to the briefings (a review found none), not stored with it.
    public = ui.client.get(f"/ui/briefings/{bid}/publicatie").text
    assert public == with_way_back(row.public_html, "/ui/briefings", "Terug naar de briefings")
    assert '<a href="/ui/briefings">← Terug naar de briefings</a>' in public
    assert "kh-terug" not in row.public_html and "kh-terug" not in row.html


def test_the_pdf_renders(ui: Ui) -> None:
    from pypdf import PdfReader

    ui.sign_in("anna")
    bid = make_briefing(ui)
    for path in (f"/ui/briefings/{bid}.pdf", f"/ui/briefings/{bid}/publicatie.pdf"):
        r = ui.client.get(path)
        assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
        reader = PdfReader(io.BytesIO(r.content))
        assert len(reader.pages) >= 2
        text = " ".join(page.extract_text() or "" for page in reader.pages)
        assert "Kernpunten" in text and "Toelichting" in text
        assert ANNA not in text


def test_the_briefings_figures_equal_the_apis(ui: Ui) -> None:
    ui.sign_in("anna")
    bid = make_briefing(ui, "2025-08-20")
    h = {"Authorization": f"Bearer {ui.tokens['cees']}"}
    stored = ui.client.get(f"/v1/briefings/{bid}", headers=h).json()["figures"]
    fresh = ui.client.get(
        "/v1/picture/figures", params={"referenceDate": "2025-08-20"}, headers=h
    ).json()
    stored.pop("wijzigingen")
    fresh.pop("wijzigingen")
    # Each says as of when (the minute it was made) what is not frozen at the date.
    assert stored.pop("nietBevroren").keys() == fresh.pop("nietBevroren").keys()
    assert stored == fresh
    series = ui.client.get("/v1/picture/series", params={"kind": "all"}, headers=h).json()
    day = next(d for d in series["days"] if d["date"] == "2025-08-20")
    assert stored["kerncijfers"]["voorraad"] == day["backlog"]
    assert stored["kerncijfers"]["ontvangen"] == sum(
        d["inflow"] for d in series["days"] if d["date"] <= "2025-08-20"
    )


def test_the_picture_api_refuses_bad_input(ui: Ui) -> None:
    h = {"Authorization": f"Bearer {ui.tokens['cees']}"}
    r = ui.client.get("/v1/picture/series", params={"kind": "nonsense"}, headers=h)
    assert r.status_code == 400 and "kind must be one of" in r.json()["detail"]
    r = ui.client.get("/v1/picture/figures", params={"referenceDate": "2024-01-01"}, headers=h)
    assert r.status_code == 400 and r.json()["problems"][0]["field"] == "referenceDate"
    r = ui.client.post("/v1/briefings", json={"referenceDate": "2025-08-20"}, headers=h)
    assert r.status_code == 403
    op = {"Authorization": f"Bearer {ui.tokens['anna']}"}
    r = ui.client.post("/v1/briefings", json={"referenceDate": "20-08-2025"}, headers=op)
    assert r.status_code == 400
    r = ui.client.post("/v1/briefings", json={"referenceDate": "2025-08-20"}, headers=op)
    assert r.status_code == 201 and r.json()["state"] == "draft"
    r = ui.client.post("/v1/briefings/1/approvals", headers=op)
    assert r.status_code == 409 and r.json()["detail"] == (
        "the author of a briefing may not approve it; ask another operator"
    )
    r = ui.client.post("/v1/briefings", json={"referenceDate": "2030-01-01"}, headers=op)
    assert r.status_code == 400 and r.json()["problems"][0]["field"] == "referenceDate"
    # An operator anna made herself is no second pair of eyes: she saw its token.
    r = ui.client.post("/v1/credentials", json={"role": "operator", "person": "anton"}, headers=op)
    assert r.status_code == 201 and r.json()["credential"]["createdBy"] == "Anna Aalbers"
    anton = {"Authorization": f"Bearer {r.json()['token']}"}
    r = ui.client.post("/v1/briefings/1/approvals", headers=anton)
    assert r.status_code == 409 and r.json()["detail"].startswith(
        "the approver must be another, independent operator: Anna Aalbers made anton's "
        "credential cred-"
    )
    r = ui.client.get(
        "/v1/picture/series", params={"kind": "channel", "key": "om->om"}, headers=h
    )  # partners there are, nothing measured between them
    assert r.status_code == 404 and r.json()["detail"] == "nothing is measured for channel 'om->om'"
    r = ui.client.post(
        "/v1/briefings/1/approvals", headers={"Authorization": f"Bearer {ui.tokens['bram']}"}
    )
    assert r.status_code == 201 and r.json()["state"] == "approved"
    assert ui.client.get("/v1/briefings/7", headers=h).status_code == 404
    partner = {"Authorization": f"Bearer {ui.tokens['om']}"}
    assert ui.client.get("/v1/recovery-matrix", headers=partner).status_code == 403


def test_the_series_api_refuses_a_key_as_the_cli_does(ui: Ui) -> None:
    """kind=all&key=om answered 200 with the whole chain (the key silently ignored) where
    `picture show` refuses it; a key naming a partner or process there is not answered 404
    (nothing measured) where the CLI calls it bad input. Both are 400 now, naming the key."""
    h = {"Authorization": f"Bearer {ui.tokens['cees']}"}
    for kind, key, said in [
        ("all", "om", "key 'om' goes with a kind (channel, process, receiver, sender, partner)"),
        ("partner", "OM", "unknown partner 'OM'; one of politie, kmar, om,"),
        ("partner", "", "unknown partner ''"),
        ("channel", "x->y", "unknown partner 'x'"),
        ("process", "nope", "unknown process 'nope'"),
    ]:
        r = ui.client.get("/v1/picture/series", params={"kind": kind, "key": key}, headers=h)
        assert r.status_code == 400, (kind, key, r.text)
        assert r.json()["detail"].startswith(said), r.json()
        assert [p["field"] for p in r.json()["problems"]] == ["query:key"]
    r = ui.client.get("/v1/picture/series", params={"kind": "partner", "key": "om"}, headers=h)
    assert r.status_code == 200 and r.json()["key"] == "om"


# -- /metrics ----------------------------------------------------------------------------


def test_metrics_in_prometheus_format_for_viewers_only(ui: Ui) -> None:
    assert ui.client.get("/metrics").status_code == 401
    partner = {"Authorization": f"Bearer {ui.tokens['om']}"}
    assert ui.client.get("/metrics", headers=partner).status_code == 403
    ui.picture.snapshot()  # the server's first snapshot (it is warmed at start)
    r = ui.client.get("/metrics", headers={"Authorization": f"Bearer {ui.tokens['cees']}"})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain; version=0.0.4")
    sample = re.compile(r'^[a-z_]+(\{[a-z]+="[^"]*"(,[a-z]+="[^"]*")*\})? -?\d+(\.\d+)?$')
    families = set()
    for line in r.text.splitlines():
        if line.startswith("# TYPE"):
            families.add(line.split()[2])
        elif not line.startswith("#"):
            assert sample.match(line), line
    assert {
        "ketenherstel_backlog",
        "ketenherstel_oldest_waiting_seconds",
        "ketenherstel_deliveries",
        "ketenherstel_dead_letters",
        "ketenherstel_delivered_total",
    } <= families
    stats = ui.rt.store.queue_stats()

    def total(name: str) -> int:
        return sum(
            int(line.rsplit(" ", 1)[1])
            for line in r.text.splitlines()
            if line.startswith(name + "{")
        )

    assert total("ketenherstel_delivered_total") == sum(s.acked for s in stats)
    assert total("ketenherstel_backlog") == sum(s.ready + s.leased for s in stats)
    assert total("ketenherstel_dead_letters") == sum(s.dead for s in stats)

    # Every channel the chain routes has a sample in every family, 0 where nothing waits.
    for sender, receiver in (("om", "cjib"), ("justid", "gemeenten")):
        labels = f'sender="{sender}",receiver="{receiver}"'
        for name in ("ketenherstel_backlog", "ketenherstel_dead_letters"):
            assert any(line.startswith(f"{name}{{{labels}}} ") for line in r.text.splitlines())


def test_metrics_read_0_where_nothing_waits() -> None:
    """A gauge reads 0 when its channel's backlog clears; it does not vanish."""
    from ketenherstel.web.metrics import render

    text = render([], 100.0, {("om", "justid"): 5}, [("politie", "om")])
    for channel in ('sender="om",receiver="justid"', 'sender="politie",receiver="om"'):
        assert f"ketenherstel_backlog{{{channel}}} 0" in text
        assert f"ketenherstel_oldest_waiting_seconds{{{channel}}} 0.000" in text
        assert f'ketenherstel_deliveries{{{channel},state="ready"}} 0' in text
        assert f'ketenherstel_deliveries{{{channel},state="leased"}} 0' in text
        assert f"ketenherstel_dead_letters{{{channel}}} 0" in text
    assert 'ketenherstel_delivered_total{sender="om",receiver="justid"} 5' in text


def test_a_viewer_cannot_post_to_any_form(ui: Ui) -> None:
    ui.sign_in("anna")
    csrf = ui.csrf()
    ui.client.post("/ui/knelpunten", data={**BOTTLENECK, "csrf": csrf})
    make_briefing(ui)
    ui.sign_in("cees")
    csrf = ui.csrf("/ui/briefings") if 'name="csrf"' in ui.client.get("/ui/briefings").text else "x"
    for path, data in (
        ("/ui/knelpunten/1/werkafspraken", AGREEMENT),
        ("/ui/knelpunten/1/afsluiten", {"einde": "2025-09-01"}),
        (
            "/ui/bereikbaarheid",
            {
                "partner": "om",
                "kanaal": "telefoon",
                "beller": "burger",
                "ontvangen": "2025-08-05T10:00",
            },
        ),
        ("/ui/briefings/1/goedkeuren", {}),
    ):
        r = ui.client.post(path, data={**data, "csrf": csrf})
        assert r.status_code == 403, path
    assert ui.picture.db.agreements() == []
    assert ui.picture.db.bottleneck(1).ended_at is None  # type: ignore[union-attr]
    assert ui.picture.db.contacts() == []
    assert ui.picture.db.briefing(1).state == "draft"  # type: ignore[union-attr]


def test_odd_paths_and_notices_are_answered_plainly(ui: Ui) -> None:
    ui.sign_in("anna")
    for path in (
        "/ui/knelpunten/abc",
        "/ui/knelpunten/99999999999999999999",
        "/ui/briefings/99999999999999999999",
        "/ui/briefings/1.exe",
        "/ui/briefings/99999999999999999999/publicatie",
        "/ui/knelpunten/0",
    ):
        r = ui.client.get(path)
        assert r.status_code == 404, path
        assert "Deze pagina bestaat niet" in r.text
    h = {"Authorization": f"Bearer {ui.tokens['cees']}"}
    assert ui.client.get("/v1/briefings/99999999999999999999", headers=h).status_code == 400
    # A notice is one of the fixed texts, never what the address says.
    r = ui.client.get("/status?melding=Alle+storingen+verholpen")
    assert "Alle storingen verholpen" not in r.text
    assert "Status opgeslagen." in ui.client.get("/ui/herstelmatrix?melding=status").text


def test_signing_out_ends_the_session_on_the_server(ui: Ui) -> None:
    ui.sign_in("anna")
    cookie = ui.client.cookies[COOKIE]
    csrf = ui.csrf("/ui/briefings")
    r = ui.client.post("/ui/afmelden", data={"csrf": csrf})
    assert r.url.path == "/ui/aanmelden"
    ui.client.cookies.set(COOKIE, cookie)  # a copy kept elsewhere
    assert ui.client.get("/ui/").url.path == "/ui/aanmelden"


def test_the_apis_own_403_is_not_the_ui_page(ui: Ui) -> None:
    # The registry's Forbidden is a PermissionError; the API answers it as problem+json.
    r = ui.client.post(
        "/v1/registry/screenings",
        headers={"Authorization": f"Bearer {ui.tokens['om']}"},
        json={
            "reference": "x",
            "skn": "1",
            "profile": "vog-algemeen",
            "consumer": "justis",
            "role": "r",
            "purpose": "p",
            "legalGround": "g",
        },
    )
    assert r.status_code in (400, 403)
    assert r.headers["content-type"].startswith("application/problem+json")


def test_partners_and_the_team_register_bottlenecks_over_the_api(ui: Ui) -> None:
    body = {
        "title": "Achterstand dagvaardingen",
        "category": "werklast",
        "severity": "hoog",
        "partner": "om",
        "series": "process:dagvaarding",
        "metric": "backlog",
        "since": "2025-07-20",
        "description": "na de afsluiting",
    }
    om = {"Authorization": f"Bearer {ui.tokens['om']}"}
    viewer = {"Authorization": f"Bearer {ui.tokens['cees']}"}
    assert ui.client.post("/v1/bottlenecks", json=body, headers=viewer).status_code == 403
    r = ui.client.post("/v1/bottlenecks", json={**body, "partner": "justid"}, headers=om)
    assert r.status_code == 403 and "about itself" in r.json()["detail"]
    r = ui.client.post(
        "/v1/bottlenecks", json={**body, "category": "x", "series": "nope"}, headers=om
    )
    assert r.status_code == 400
    assert sorted((p["field"], p["reason"]) for p in r.json()["problems"]) == [
        (
            "category",
            "unknown value 'x'; one of werklast, vertraging, informatie, bereikbaarheid, risico",
        ),
        ("series", "'nope': write kind:key, for example channel:om->justid"),
    ]
    # A value of 100,000 characters was quoted whole in the detail and the problem (200 kB).
    r = ui.client.post("/v1/bottlenecks", json={**body, "category": "A" * 100_000}, headers=om)
    assert r.status_code == 400 and len(r.content) < 4_000
    [problem] = r.json()["problems"]
    assert problem["field"] == "category" and "characters not shown]" in problem["reason"]
    assert problem["reason"].endswith("vertraging, informatie, bereikbaarheid, risico")
    for others in ("channel:politie->justid", "partner:justid", "receiver:politie"):
        r = ui.client.post("/v1/bottlenecks", json={**body, "series": others}, headers=om)
        assert r.status_code == 400 and "on its own figures (om)" in r.json()["detail"], others
    assert ui.picture.db.bottlenecks() == []
    r = ui.client.post("/v1/bottlenecks", json=body, headers=om)
    assert r.status_code == 201, r.text
    made = r.json()
    assert (made["partner"], made["series"], made["metric"]) == (
        "om",
        "process:dagvaarding",
        "backlog",
    )
    agreement = {
        "text": "Extra zittingscapaciteit",
        "ownerRole": "teamleider",
        "startDate": "2025-08-20",
        "expectedEffect": "voorraad daalt",
        "residualRisk": "termijnen",
        "riskAcceptedRole": "hoofdofficier",
        "riskAcceptedBy": CEES,
    }
    r = ui.client.post(
        f"/v1/bottlenecks/{made['id']}/work-agreements",
        json={**agreement, "ownerRole": ""},
        headers=om,
    )
    assert r.status_code == 400 and r.json()["problems"] == [
        {"index": None, "field": "ownerRole", "reason": "required"}
    ]
    r = ui.client.post(f"/v1/bottlenecks/{made['id']}/work-agreements", json=agreement, headers=om)
    assert r.status_code == 201
    (listed,) = ui.client.get("/v1/bottlenecks", headers=viewer).json()
    (a,) = listed["agreements"]
    assert a["measuredEffect"] and a["riskAcceptedRole"] == "hoofdofficier"
    assert CEES not in str(listed)  # who accepted the risk stays in the register
    r = ui.client.post("/v1/bottlenecks/99/work-agreements", json=agreement, headers=om)
    assert r.status_code == 404
    # A viewer hears 403 for every bottleneck: it heard 404 for one there is not (a review).
    for number in (made["id"], 99):
        url = f"/v1/bottlenecks/{number}/work-agreements"
        r = ui.client.post(url, json=agreement, headers=viewer)
        assert r.status_code == 403, number
    other = ui.client.post(
        "/v1/bottlenecks",
        json={**body, "partner": "justid", "series": "partner:justid"},
        headers={"Authorization": f"Bearer {ui.tokens['anna']}"},
    ).json()
    r = ui.client.post(f"/v1/bottlenecks/{other['id']}/work-agreements", json=agreement, headers=om)
    assert r.status_code == 403 and r.json()["detail"] == (
        "a partner adds work agreements to bottlenecks about itself (om)"
    )


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("\ud800x", "U+D800"),  # a lone surrogate (JSON's escape): it could not be stored
        ("links\u202erechts", "U+202E"),  # a right-to-left override
        ("del\x7f", "U+007F"),
        ("\x1b[2Jwist het scherm", "U+001B"),
        ("zero\u200bwidth", "U+200B"),
    ],
)
def test_the_picture_api_refuses_control_and_invisible_characters_naming_the_field(
    ui: Ui, text: str, named: str
) -> None:
    """A lone surrogate in a description was a 500 (UnicodeEncodeError storing it); a
    right-to-left override or DEL passed (201) onto the picture, the status page and briefings.
    Now a 400 naming the field, as ketenherstel.text says, and nothing is stored."""
    om = {"Authorization": f"Bearer {ui.tokens['om']}", "Content-Type": "application/json"}
    body = {
        "title": "Achterstand dagvaardingen",
        "category": "werklast",
        "severity": "hoog",
        "partner": "om",
        "series": "process:dagvaarding",
        "metric": "backlog",
        "since": "2025-07-20",
        "description": "na de afsluiting",
    }
    said = f"holds no control or invisible characters ({named})"

    def post(path: str, sent: dict[str, str]) -> Any:
        # json.dumps escapes a lone surrogate as \ud800, as a client's JSON would carry it
        return ui.client.post(path, content=json.dumps(sent), headers=om)

    for field in ("title", "description"):
        r = post("/v1/bottlenecks", {**body, field: text})
        assert r.status_code == 400, r.text
        expected = {"index": None, "field": field, "reason": said}
        if field == "title" and named == "U+D800":  # a constrained str: pydantic refuses it
            expected = {
                "index": None,
                "field": "body:title",
                "reason": "Input should be a valid string, unable to parse raw data as a "
                "unicode string",
            }
        assert r.json()["problems"] == [expected]
    assert ui.picture.db.bottlenecks() == []
    r = post("/v1/bottlenecks", body)
    assert r.status_code == 201, r.text
    number = r.json()["id"]
    agreement = {
        "text": "Extra zittingscapaciteit",
        "ownerRole": "teamleider",
        "startDate": "2025-08-20",
        "expectedEffect": "voorraad daalt",
        "residualRisk": "termijnen",
        "riskAcceptedRole": "hoofdofficier",
        "riskAcceptedBy": "de hoofdofficier",
    }
    for field in agreement:
        if field == "startDate":
            continue
        r = post(f"/v1/bottlenecks/{number}/work-agreements", {**agreement, field: text})
        assert r.status_code == 400, (field, r.text)
        assert r.json()["problems"] == [{"index": None, "field": field, "reason": said}]
    assert ui.picture.db.agreements(number) == []


def test_a_name_in_a_bottleneck_title_never_reaches_the_briefings_chart(ui: Ui) -> None:
    ui.picture.db.add_bottleneck(
        title=f"Overleg {BRAM}",
        category="risico",
        severity="laag",
        partner="om",
        process=None,
        series_kind="all",
        series_key="#backlog",
        description="",
        started_at=1_752_000_000.0,
        ended_at=None,
        registered_at=1_752_000_000.0,
        registered_by=ANNA,
    )
    ui.sign_in("anna")
    row = ui.picture.db.briefing(make_briefing(ui))
    assert row is not None
    for html in (row.html, row.public_html):
        assert BRAM not in html
        svgs = re.findall(r"<svg.*?</svg>", html, flags=re.S)
        assert any("[gelakt]" in svg for svg in svgs)
        for svg in svgs:
            ET.fromstring(svg)  # still well-formed: no HTML put into the chart


def test_the_portal_page_shows_verdicts_and_only_operators_open_a_report(
    ui: Ui, tmp_path: Path
) -> None:
    from tests.web.test_gateway_api import write_report

    ui.sign_in("cees")
    page = ui.client.get("/ui/voorportaal")
    assert page.status_code == 200 and "nog geen rapport" in page.text
    # The hint gives the command as it is run now: a report needs who makes it (--as).
    assert "<code>ketenherstel gateway report LOGBESTANDEN --as NAAM</code>" in page.text
    write_report(Path(ui.rt.settings.gateway_report_location()), tmp_path)
    page = ui.client.get("/ui/voorportaal").text
    assert "misbruik gevonden" in page and "geen aanwijzing voor misbruik" in page
    assert "18-07-2025" in page  # when it was made, in Dutch notation
    assert "alleen voor operators" in page and 'href="/ui/voorportaal/om-nl"' not in page
    assert "ann@om.nl" not in page and "198.51.100" not in page
    # The rules by their Dutch names, not their ids (a review found session-hijack there).
    assert "sessie overgenomen: adres, programma of netwerk wisselt" in page
    assert "session-hijack" not in page

    # The store is shared with other tests (which may read reports too): count this test's.
    def reads() -> Counter[tuple[str, str]]:
        return Counter(
            (a.actor, a.object)
            for a in ui.rt.store.audit_log(limit=500)
            if a.action == "gateway-report-read"
        )

    before = reads()
    r = ui.client.get("/ui/voorportaal/om-nl")
    assert r.status_code == 403 and "alleen een operator" in r.text
    assert reads() == before  # the viewer's refused try read nothing
    ui.sign_in("anna")
    page = ui.client.get("/ui/voorportaal").text
    assert 'href="/ui/voorportaal/om-nl"' in page
    r = ui.client.get("/ui/voorportaal/om-nl")
    assert r.status_code == 200 and "ann@om.nl" in r.text and "carol" not in r.text
    assert r.headers["content-security-policy"].startswith("default-src 'self'")
    assert '<a href="/ui/voorportaal">← Terug naar het voorportaal</a>' in r.text
    assert reads() - before == Counter({(ANNA, "om-nl"): 1})
    assert ui.client.get("/ui/voorportaal/politie-nl").status_code == 404
    assert ui.client.get("/ui/voorportaal/..%2Fverdicts.json").status_code == 404
    (Path(ui.rt.settings.gateway_report_location()) / "verdicts.json").write_text("{kapot")
    page = ui.client.get("/ui/voorportaal").text
    assert "maak het rapport opnieuw" in page


def test_starlette_refusals_on_a_page_are_the_dutch_error_page(ui: Ui) -> None:
    """No such page, a method a page does not take, a form too big to read: the Dutch error
    page, not problem+json in English; the API keeps problem+json."""
    ui.sign_in("cees")
    for method, path, status, title in (
        ("GET", "/ui/nope", 404, "Niet gevonden"),
        ("GET", "/ui/voorportaal/..%2f", 404, "Niet gevonden"),
        ("GET", "/ui/afmelden", 405, "Niet toegestaan"),
    ):
        r = ui.client.request(method, path)
        assert r.status_code == status, (path, r.text)
        assert r.headers["content-type"].startswith("text/html"), path
        assert f">{title}</h1>" in r.text and "Not Found" not in r.text, path
    assert "POST" in ui.client.get("/ui/afmelden").headers["allow"]
    r = ui.client.get("/v1/nope")
    assert r.status_code == 404 and r.headers["content-type"].startswith("application/problem")


def test_the_pages_addresses_as_people_type_them_lead_to_the_page(ui: Ui) -> None:
    """/ui without its slash and the public pages with one are redirected (a review found each
    a 404, the public ones in English); what is not there under them is the Dutch page."""
    for typed, page in (
        ("/ui", "/ui/"),
        ("/status/", "/status"),
        ("/toegankelijkheid/", "/toegankelijkheid"),
    ):
        r = ui.client.get(typed, follow_redirects=False)
        assert (r.status_code, r.headers["location"]) == (308, page), typed
        assert ui.client.get(typed).status_code == 200, typed
        r = ui.client.get(f"{typed}?melding=x", follow_redirects=False)
        assert r.headers["location"] == f"{page}?melding=x", typed
    r = ui.client.get("/status/nope")
    assert r.status_code == 404 and ">Niet gevonden</h1>" in r.text
    assert r.headers["content-type"].startswith("text/html")


def test_a_page_form_over_the_limit_is_413_in_dutch_and_signs_nobody_in(ui: Ui) -> None:
    ui.client.cookies.clear()
    r = ui.client.post(
        "/ui/aanmelden", data={"token": ui.tokens["anna"], "x": "a" * (FORM_LIMIT + 1)}
    )
    assert r.status_code == 413
    assert ">Te groot</h1>" in r.text and "Het formulier is te groot" in r.text
    assert COOKIE not in ui.client.cookies
    ui.sign_in("anna")
    before = ui.rt.store.audit_log(limit=1000)
    r = ui.client.post(
        "/ui/knelpunten", data={**BOTTLENECK, "csrf": ui.csrf(), "x": "a" * FORM_LIMIT}
    )
    assert r.status_code == 413 and "Het formulier is te groot" in r.text
    assert ui.rt.store.audit_log(limit=1000) == before
    assert ui.picture.db.bottlenecks() == []
    r = ui.client.post("/ui/knelpunten", data={**BOTTLENECK, "csrf": ui.csrf()})
    assert r.status_code == 200 and len(ui.picture.db.bottlenecks()) == 1  # within it: saved


@pytest.mark.parametrize(
    ("states", "said"),
    [
        (["normal"] * 14, "alles normaal"),
        (["down"] + ["normal"] * 13, "storing bij 1 van de 14 verbindingen"),
        (["down"] * 14, "storing bij alle 14 verbindingen"),
        (
            ["normal", "draining", "manual", "down", "manual"],
            "storing bij 1, omweg bij 2, achterstand loopt terug bij 1 van de 5 verbindingen",
        ),
        (["manual"], "omweg bij de verbinding"),
        (["draining", "draining"], "achterstand loopt terug bij beide verbindingen"),
    ],
)
def test_a_partners_heading_on_the_status_page_counts_its_connections(
    states: list[str], said: str
) -> None:
    """One channel down is not the whole partner down (a review saw 'Openbaar Ministerie:
    storing' with 13 of its 14 connections normal)."""
    assert partner_summary(states) == said


def test_a_way_back_goes_after_the_body_tag_and_only_there() -> None:
    page = '<html><head><title>x</title></head><BODY class="a">tekst</BODY></html>'
    served = with_way_back(page, "/ui/briefings", "Terug & verder")
    assert served.startswith('<html><head><title>x</title></head><BODY class="a"><nav')
    assert "← Terug &amp; verder</a></nav>" in served and served.endswith("tekst</BODY></html>")
    assert "@media print{.kh-terug{display:none}}" in served
    assert with_way_back("geen body", "/ui/", "Terug") == "geen body"
