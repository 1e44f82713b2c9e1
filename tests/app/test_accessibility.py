"""Every view checked with axe-core in the real browser: no serious or critical violations.

Public-sector websites in the UK must meet WCAG 2.2 AA; axe-core (bundled by
``axe-playwright-python``) checks what can be checked automatically. Moderate
findings (heading order inside Streamlit's own widgets) are printed, not failed;
docs/accessibility.md says what Streamlit itself does not yet meet.
"""

from __future__ import annotations

import pytest

from .test_browser import app_url, launch, server_env  # noqa: F401 - the real server fixtures

pytestmark = pytest.mark.browser

VIEWS = {
    "ask": "/?view=ask&q=Can+a+councillor+tell+me+to+change+my+report%3F",
    "compare": "/?view=compare&q=Can+officers+attend+party+group+meetings%3F&coverage=1",
    "browse": "/?view=browse",
    # a PDF's page drawn beside the clause, and a clause's equivalents (Carlisle 101; ids are stable)
    "browse-pdf": "/?view=browse&doc=wokingham-borough-council-constitution-9-3-member-officer-protocol.pdf",
    "equivalents": "/?view=compare&passage=230c216a0a926250",
    "record": "/?view=record",
    "add": "/?view=add",
}


def test_no_serious_or_critical_accessibility_violations(app_url):  # noqa: F811
    from axe_playwright_python.sync_playwright import Axe
    from playwright.sync_api import expect, sync_playwright

    axe = Axe()
    found = {}
    with sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            page = browser.new_page(viewport={"width": 1300, "height": 1000})
            for view, path in VIEWS.items():
                page.goto(app_url + path)
                expect(page.locator('[data-testid="stRadio"]').first).to_be_visible(timeout=180_000)
                # Streamlit fades the page while a run goes on: wait for what each view draws last
                # (the feedback buttons, the coverage matrix), then check the page as it is left.
                last = {"ask": "text=This did not", "compare": "table.pqa-cov", "browse-pdf": ".pqa-page img",
                        "equivalents": ".pqa-eq"}.get(view)
                if last:
                    expect(page.locator(last).first).to_be_visible(timeout=180_000)
                page.wait_for_function("() => [...document.querySelectorAll('[data-testid=stElementContainer]')]"
                                       ".every(e => getComputedStyle(e).opacity === '1')", timeout=60_000)
                page.wait_for_timeout(500)
                violations = axe.run(page).response["violations"]
                found[view] = [(v["id"], v["impact"], len(v["nodes"])) for v in violations]
        finally:
            browser.close()
    print("\naxe-core findings by view:", found)
    serious = {view: [v for v in items if v[1] in ("serious", "critical")] for view, items in found.items()}
    assert not any(serious.values()), serious


def _tab_to(page, found, limit: int = 80) -> int:
    """Press Tab until ``found(active element's label or text)``; the number of presses."""
    for presses in range(1, limit + 1):
        page.keyboard.press("Tab")
        label = page.evaluate("() => { const e = document.activeElement; return e ? "
                              "(e.getAttribute('aria-label') || e.innerText || '') : ''; }")
        if found(label or ""):
            return presses
    raise AssertionError(f"not reached by keyboard within {limit} presses of Tab")


def _download_by_keyboard(page, found, attempts: int = 3):
    """Tab to the control ``found`` names and press Enter until a download starts. Under load a
    Streamlit rerun can redraw the page between the Tab and the Enter and take the focus with it
    (once in a clean-clone CI run of the whole suite), so the keys are pressed again, still by keyboard."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    for attempt in range(1, attempts + 1):
        page.wait_for_selector('[data-testid="stStatusWidget"]', state="detached", timeout=60_000)
        page.evaluate("() => document.activeElement && document.activeElement.blur()")
        _tab_to(page, found)
        try:
            with page.expect_download(timeout=20_000) as download:
                page.keyboard.press("Enter")
            return download.value
        except PlaywrightTimeout:
            if attempt == attempts:
                raise


def test_asking_and_exporting_an_answer_by_keyboard_alone(app_url, tmp_path):  # noqa: F811
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            page = browser.new_page(viewport={"width": 1300, "height": 1000}, accept_downloads=True)
            page.goto(app_url + "/?view=ask")
            expect(page.get_by_label("Your question")).to_be_visible(timeout=180_000)
            page.evaluate("() => document.activeElement && document.activeElement.blur()")
            _tab_to(page, lambda label: label == "Your question")
            page.keyboard.type("Can a councillor tell me to change my report?")
            page.keyboard.press("Enter")
            expect(page.locator(".pqa-clause").first).to_be_visible(timeout=120_000)
            expect(page.get_by_text("This did not")).to_be_visible(timeout=60_000)
            download = _download_by_keyboard(page, lambda label: "Download Markdown" in label)
            saved = tmp_path / "answer.md"
            download.save_as(saved)
            text = saved.read_text(encoding="utf-8")
            assert text.startswith("## Can a councillor tell me to change my report?") and "— " in text
        finally:
            browser.close()
