"""The web UI in headless Chromium against a real server on a small om-2025 run: signing in,
the picture, a bottleneck with a work agreement, a status change, a briefing made and approved
by a second operator; axe-core on every page; screenshots in build/ui-artefacts/."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from ketenherstel.bootstrap import Runtime, bootstrap
from ketenherstel.exchange.auth import LOCAL_OPERATOR
from ketenherstel.picture.db import PictureDb, open_picture_db
from ketenherstel.settings import Settings
from ketenherstel.web.server import ServerThread
from tests.ui.conftest import axe_violations
from tests.web.test_gateway_api import write_report

if TYPE_CHECKING:
    from playwright.sync_api import Page


@dataclass
class Served:
    url: str
    rt: Runtime
    tokens: dict[str, str]
    picture_file: str

    def picture(self) -> PictureDb:
        return open_picture_db(self.picture_file)


@pytest.fixture
def served(small_scenario: Settings, tmp_path: Path) -> Iterator[Served]:
    settings = dataclasses.replace(
        small_scenario,
        picture_db=str(tmp_path / "picture.sqlite"),
        reconcile_dir=str(tmp_path / "reconcile"),  # and the gateway's reports beside it
    )
    rt = bootstrap(settings)
    tokens = {}
    for who, role in (("anna", "operator"), ("bram", "operator"), ("cees", "viewer")):
        tokens[who], _ = rt.exchange.create_token(
            principal=LOCAL_OPERATOR,
            role=role,  # type: ignore[arg-type]
            person=f"ui-{who}",
        )
    tokens["om"], _ = rt.exchange.create_token(
        principal=LOCAL_OPERATOR, role="partner", partner="om"
    )
    with ServerThread(rt) as server:
        yield Served(server.url, rt, tokens, settings.picture_location())
    rt.close()


def sign_in(page: Page, served: Served, who: str) -> None:
    page.goto(served.url + "/ui/")
    assert "/ui/aanmelden" in page.url
    page.get_by_label("Token").fill(served.tokens[who])
    page.get_by_role("button", name="Aanmelden").click()
    page.wait_for_url(served.url + "/ui/")


def accessible(page: Page, what: str) -> None:
    found = axe_violations(page)
    assert not found, f"{what}: " + "; ".join(
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in found
    )


def shot(page: Page, artefacts: Path, name: str) -> None:
    page.screenshot(path=str(artefacts / f"{name}.png"), full_page=True)


def test_the_recovery_team_works_through_the_picture(
    page: Page, served: Served, artefacts: Path
) -> None:
    page.goto(served.url + "/status")
    accessible(page, "status page")
    shot(page, artefacts, "01-status-public")
    sign_in(page, served, "anna")
    assert page.get_by_role("heading", name="Beeld van de strafrechtketen").is_visible()
    assert page.locator("svg[role=img]").count() >= 3
    accessible(page, "picture")
    shot(page, artefacts, "02-picture")

    page.get_by_role("link", name=re.compile("Openbaar Ministerie → Justitiële")).first.click()
    assert page.get_by_role("heading", level=1).inner_text().startswith("Kanaal")
    accessible(page, "selection")

    # A bottleneck on the OM -> Justid channel, with a work agreement.
    page.get_by_role("link", name="Knelpunten", exact=True).click()
    page.get_by_label("Titel").fill("Registraties OM bereiken het JDS niet")
    page.get_by_label("Categorie").select_option("informatie")
    page.get_by_label("Ernst").select_option("kritiek")
    page.get_by_label("Partner").select_option("om")
    page.get_by_label("Gemeten reeks").select_option("channel:om->justid")
    page.get_by_label("Maat").select_option("backlog")
    page.get_by_label("Sinds (datum)").fill("2025-07-17")
    accessible(page, "bottleneck form")
    page.get_by_role("button", name="Knelpunt opslaan").click()
    page.wait_for_url(re.compile(r".*/ui/knelpunten/1\?melding=.*"))
    assert page.get_by_text("Knelpunt opgeslagen").is_visible()
    page.get_by_label("Afspraak", exact=True).fill("Spoedroute politie naar Justid")
    page.get_by_label("Eigenaar (rol, geen naam)").fill("ketenregisseur")
    page.get_by_label("Ingangsdatum").fill("2025-08-12")
    page.get_by_label("Verwacht effect").fill("zware zaken binnen een dag in het JDS")
    page.get_by_label("Restrisico", exact=True).fill("andere afdoeningen ontbreken")
    page.get_by_label("Restrisico aanvaard door (rol)").fill("directeur Justid")
    page.get_by_label(re.compile("Restrisico aanvaard door \\(naam")).fill("ui-bram")
    page.get_by_role("button", name="Werkafspraak opslaan").click()
    page.wait_for_url(re.compile(r".*melding=werkafspraak.*"))
    row = page.locator("table", has_text="Werkafspraken en hun gemeten effect").locator("tbody tr")
    assert row.count() == 1
    assert "Spoedroute politie naar Justid" in row.inner_text()
    assert "ui-bram" not in page.content()
    accessible(page, "bottleneck")
    shot(page, artefacts, "03-bottleneck")

    # A status set by hand: the OM's e-mail.
    page.get_by_role("link", name="Herstelmatrix").click()
    page.get_by_label("Partner").select_option("om")
    page.get_by_label("Kanaal").select_option("email")
    page.get_by_label("Status").select_option("draining")
    page.get_by_label("Reden").fill("e-mail werkt weer, geen grote bijlagen")
    page.get_by_role("button", name="Status opslaan").click()
    page.wait_for_url(re.compile(r".*melding=status.*"))
    cell = page.locator("tr", has_text="E-mail (handmatig)")
    assert "Hersteld, achterstand loopt terug" in cell.inner_text()
    accessible(page, "matrix")
    shot(page, artefacts, "04-matrix")

    # A briefing, made by one operator and approved by another.
    page.get_by_role("link", name="Briefings").click()
    page.get_by_label("Peildatum").fill("2025-08-20")
    page.get_by_role("button", name="Briefing maken").click()
    page.wait_for_url(re.compile(r".*melding=briefing.*"))
    assert "concept" in page.locator("tbody tr").first.inner_text()
    accessible(page, "briefings")
    # Its maker cannot approve it: no button, the list says who can.
    assert page.get_by_role("button", name=re.compile("Goedkeuren")).count() == 0
    assert page.get_by_text("wacht op goedkeuring door een andere operator").first.is_visible()
    page.get_by_role("button", name="Afmelden").click()
    sign_in(page, served, "bram")
    page.get_by_role("link", name="Briefings").click()
    page.get_by_role("button", name=re.compile("Goedkeuren")).click()
    page.wait_for_url(re.compile(r".*goedgekeurd.*"))
    assert "goedgekeurd" in page.locator("tbody tr").first.inner_text()
    shot(page, artefacts, "05-briefings")
    page.get_by_role("link", name=re.compile("^HTML")).first.click()
    assert page.get_by_role("heading", name="Kernpunten").is_visible()
    assert page.get_by_text("goedgekeurd door een operator").is_visible()
    accessible(page, "briefing")
    shot(page, artefacts, "06-briefing")
    page.go_back()
    page.get_by_role("link", name=re.compile("^publicatieversie")).first.click()
    assert page.get_by_text("Publicatiegegevens (Woo)").is_visible()
    for name in ("ui-anna", "ui-bram", "ui-cees"):
        assert name not in page.content()
    accessible(page, "publication")
    shot(page, artefacts, "07-publication")
    db = served.picture()
    try:
        assert [b.state for b in db.briefings()] == ["approved"]
        assert len(db.bottlenecks()) == 1 and len(db.agreements()) == 1
        assert [s.channel for s in db.statuses()] == ["email"]
    finally:
        db.close()


def test_bad_input_is_answered_in_the_form_and_nothing_saved(
    page: Page, served: Served, artefacts: Path
) -> None:
    sign_in(page, served, "anna")
    page.goto(served.url + "/ui/knelpunten")
    page.get_by_label("Titel").fill("")
    page.get_by_label("Sinds (datum)").fill("2025-07-17")
    page.get_by_role("button", name="Knelpunt opslaan").click()
    summary = page.get_by_role("alert")
    assert "Het formulier is niet opgeslagen" in summary.inner_text()
    assert page.get_by_label("Titel").get_attribute("aria-invalid") == "true"
    assert "Fout: vul dit veld in" in page.locator("#e-titel").inner_text()
    summary.get_by_role("link", name=re.compile("^Titel")).click()
    accessible(page, "form with errors")
    shot(page, artefacts, "08-form-errors")
    db = served.picture()
    try:
        assert db.bottlenecks() == []
    finally:
        db.close()


def test_roles_in_the_browser(page: Page, served: Served, tmp_path: Path) -> None:
    page.goto(served.url + "/ui/aanmelden")
    page.get_by_label("Token").fill(served.tokens["om"])
    page.get_by_role("button", name="Aanmelden").click()
    assert "ketenpartner geeft geen toegang" in page.content()
    accessible(page, "sign-in with an error")
    sign_in(page, served, "cees")
    write_report(Path(served.rt.settings.gateway_report_location()), tmp_path)
    for path in (
        "/ui/knelpunten",
        "/ui/herstelmatrix",
        "/ui/briefings",
        "/ui/bereikbaarheid",
        "/ui/voorportaal",
    ):
        page.goto(served.url + path)
        assert page.locator("form[method=post]:not([action='/ui/afmelden'])").count() == 0, path
        accessible(page, f"viewer {path}")
    page.get_by_role("button", name="Afmelden").click()
    sign_in(page, served, "anna")
    page.goto(served.url + "/ui/voorportaal")
    page.get_by_role("link", name="rapport van om.nl").click()
    assert "ann@om.nl" in page.content()
    accessible(page, "an organisation's gateway report")


def test_every_other_page_passes_axe(page: Page, served: Served) -> None:
    sign_in(page, served, "anna")
    for path in (
        "/status",
        "/toegankelijkheid",
        "/ui/reeks?soort=process&sleutel=dagvaarding",
        "/ui/reeks?soort=partner&sleutel=nobody",
        "/ui/bereikbaarheid",
        "/ui/knelpunten/9",
        "/ui/voorportaal",  # before a report is made
    ):
        page.goto(served.url + path)
        accessible(page, path)
    page.get_by_role("button", name="Afmelden").click()
    page.goto(served.url + "/ui/aanmelden")
    accessible(page, "/ui/aanmelden")
