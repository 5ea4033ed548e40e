"""The browser harness itself: Chromium opens a page served on loopback, a click changes it, a
screenshot lands in the artefacts, and the axe check passes an accessible page and catches an
inaccessible one. Also that the NL Design System CSS the set-up copies applies under its theme."""

from __future__ import annotations

import functools
import shutil
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.ui.conftest import NLDS, axe_violations, need

if TYPE_CHECKING:
    from playwright.sync_api import Page

ACCESSIBLE = """<!doctype html>
<html lang="nl">
<head><meta charset="utf-8"><title>Harnas</title>{head}</head>
<body{body}>
<main>
  <h1>Harnas</h1>
  <p id="status">Nog niet bevestigd</p>
  <button type="button" id="bevestig" class="utrecht-button utrecht-button--primary-action">
    Bevestig
  </button>
</main>
<script>
  document.getElementById("bevestig").addEventListener("click", () => {{
    document.getElementById("status").textContent = "Bevestigd";
  }});
</script>
</body>
</html>
"""

IMG_WITHOUT_ALT = """<!doctype html>
<html lang="nl">
<head><meta charset="utf-8"><title>Zonder alt</title></head>
<body><main><h1>Zonder alt</h1><img src="data:image/gif;base64,R0lGODlhAQABAAAAACw="></main></body>
</html>
"""


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A static file server on 127.0.0.1 (a free port) over a temporary folder."""
    handler = functools.partial(_QuietHandler, directory=str(tmp_path))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield tmp_path, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_a_click_changes_the_page_and_the_accessible_page_has_no_axe_violations(
    page: Page, site: tuple[Path, str], artefacts: Path
) -> None:
    root, base = site
    (root / "index.html").write_text(ACCESSIBLE.format(head="", body=""), encoding="utf-8")

    page.goto(f"{base}/index.html")
    assert page.locator("#status").inner_text() == "Nog niet bevestigd"
    page.get_by_role("button", name="Bevestig").click()
    assert page.locator("#status").inner_text() == "Bevestigd"

    shot = artefacts / "harness.png"
    shot.unlink(missing_ok=True)
    page.screenshot(path=shot, full_page=True)
    assert shot.stat().st_size > 0

    assert axe_violations(page) == []


def test_axe_reports_an_image_without_alt_text(page: Page, site: tuple[Path, str]) -> None:
    root, base = site
    (root / "img.html").write_text(IMG_WITHOUT_ALT, encoding="utf-8")

    page.goto(f"{base}/img.html")
    violations = axe_violations(page)

    assert "image-alt" in {v["id"] for v in violations}, violations


def test_the_copied_nlds_css_applies_under_the_rhc_theme_class(
    page: Page, site: tuple[Path, str], artefacts: Path
) -> None:
    css = ("design-tokens.css", "components.css")
    need(
        all((NLDS / name).is_file() for name in css),
        f"the NL Design System CSS is not in {NLDS}: `make test` copies it from node_modules",
    )
    root, base = site
    (root / "nlds").mkdir()
    for name in css:
        shutil.copy(NLDS / name, root / "nlds" / name)
    links = "".join(f'<link rel="stylesheet" href="nlds/{name}">' for name in css)
    (root / "themed.html").write_text(
        ACCESSIBLE.format(head=links, body=' class="rhc-theme"'), encoding="utf-8"
    )

    page.goto(f"{base}/themed.html")
    button = page.get_by_role("button", name="Bevestig")
    primary = page.evaluate(
        "getComputedStyle(document.body).getPropertyValue('--rhc-color-primary-500').trim()"
    )
    background = button.evaluate("(b) => getComputedStyle(b).backgroundColor")

    assert primary, "the design tokens did not apply under .rhc-theme"
    assert background not in ("", "rgba(0, 0, 0, 0)", "rgb(239, 239, 239)"), background
    page.screenshot(path=artefacts / "harness-rhc-theme.png", full_page=True)
    assert axe_violations(page) == []
