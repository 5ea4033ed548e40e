"""Browser tests: Playwright drives Debian's Chromium (``/usr/bin/chromium``, which ``make test``
installs with apt-get; we never run ``playwright install``). Without Playwright or Chromium these
tests skip locally; with CI=true they fail instead, as the PostgreSQL and NATS tests do.

Fixtures: ``browser`` (one per session), ``page`` (a fresh context per test, CSP bypassed so axe
can be injected into pages that forbid inline scripts) and ``artefacts`` (``build/ui-artefacts/``
for screenshots). ``axe_violations(page)`` runs axe-core's WCAG 2.1 A/AA rules on the page and
returns the serious and critical violations."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.conftest import IN_CI

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("KETENHERSTEL_TEST_CHROMIUM", "/usr/bin/chromium"))
AXE_JS = ROOT / "node_modules" / "axe-core" / "axe.min.js"
ARTEFACTS = ROOT / "build" / "ui-artefacts"
NLDS = ROOT / "src" / "ketenherstel" / "web" / "static" / "nlds"
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
BLOCKING_IMPACTS = frozenset({"serious", "critical"})


def need(present: bool, message: str) -> None:
    """Skip when something the browser tests need is missing; fail instead with CI=true."""
    if present:
        return
    if IN_CI:
        pytest.fail(message + " (CI=true: browser tests must run, not skip)")
    pytest.skip(message)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents:
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        need(False, "Playwright is not installed: pip install -c constraints.txt -e '.[dev]'")
        raise
    need(CHROMIUM.exists(), f"no Chromium at {CHROMIUM}: `make test` installs Debian's chromium")
    with sync_playwright() as pw:
        launched = pw.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(bypass_csp=True, locale="nl-NL", timezone_id="Europe/Amsterdam")
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture(scope="session")
def artefacts() -> Path:
    """Where screenshots go (``build/ui-artefacts/``); CI keeps the build folder to look at."""
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    return ARTEFACTS


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """Run axe-core (from ``node_modules``) on the page's current document against WCAG 2.0/2.1
    A and AA; return the violations of impact serious or critical, as axe reports them (``id``,
    ``impact``, ``help``, ``nodes`` …). A page that forbids inline scripts needs a context with
    ``bypass_csp=True``, as the ``page`` fixture has."""
    need(AXE_JS.is_file(), f"axe-core is not at {AXE_JS}: run `npm ci` (or `make test`)")
    page.add_script_tag(content=AXE_JS.read_text(encoding="utf-8"))
    result = page.evaluate(
        "(tags) => axe.run(document, {runOnly: tags, resultTypes: ['violations']})", WCAG_TAGS
    )
    return [v for v in result["violations"] if v.get("impact") in BLOCKING_IMPACTS]
