"""Every view in a real browser: Compare at a glance, equivalents opened where they
were clicked, a keyboard walk of every view, and every view at phone width.

Uses the server of ``test_browser.py`` (the default corpus, ``streamlit run
app.py``). Screenshots go to ``test-artifacts/screenshots/``; with
PROTOCOL_QA_UPDATE_SCREENSHOTS=1 they also replace ``docs/screenshots/``.
"""

from __future__ import annotations

import io
import os
import shutil
from urllib.parse import quote_plus

import pytest

from .test_browser import ARTIFACTS, ROOT, app_url, launch, server_env  # noqa: F401 - the real server fixtures

pytestmark = pytest.mark.browser

# The examples: a question most councils answer, with the national model code silent.
COMPARE_QUESTIONS = ("Can councillors instruct officers?", "Can an officer leave a party group meeting part way through?")
# Measured before the compact layout (three columns of full clauses and citations): 5,170 and 5,230 px.
MAX_COMPARE_HEIGHT = 2600
WOKINGHAM_PDF = "wokingham-borough-council-constitution-9-3-member-officer-protocol.pdf"

VIEWS = {
    "ask": "/?view=ask&q=" + quote_plus("Can a councillor tell me to change my report?"),
    "compare": "/?view=compare&q=" + quote_plus(COMPARE_QUESTIONS[1]),
    "matrix": "/?view=compare&coverage=1",
    "browse": "/?view=browse&doc=" + WOKINGHAM_PDF,
    "record": "/?view=record",
    "add": "/?view=add",
}

HEIGHT = "() => document.querySelector('[data-testid=stMainBlockContainer]').scrollHeight"
SETTLED = ("() => !document.querySelector('[data-testid=stStatusWidget]') && "
           "[...document.querySelectorAll('[data-testid=stElementContainer]')]"
           ".every(e => getComputedStyle(e).opacity === '1')")

# The focused combobox's list is open on an option; that option is the one already chosen.
OPTION_ACTIVE = ("() => document.activeElement.getAttribute('aria-expanded') === 'true' && "
                 "!!document.activeElement.getAttribute('aria-activedescendant')")
ACTIVE_IS_CHOSEN = ("() => document.getElementById(document.activeElement.getAttribute('aria-activedescendant'))"
                    "?.textContent.trim() === document.activeElement.value.trim()")


def open_on_another_option(page, combobox, attempts: int = 4) -> None:
    """Open ``combobox``'s list by keyboard (ArrowDown) on an option other than the one chosen.

    ArrowDown opens the list on the option already chosen, and the next ArrowDown moves on; an
    Enter pressed while the list is still opening picks the chosen one again. So each key waits
    for the list, and ArrowDown is pressed (at most ``attempts`` times, the focus given back if a
    rerun took it) until an option other than the chosen one is active."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    for _ in range(attempts):
        if not page.evaluate(OPTION_ACTIVE):
            combobox.focus()
        page.keyboard.press("ArrowDown")
        try:
            page.wait_for_function(OPTION_ACTIVE, timeout=10_000)
        except PlaywrightTimeout:
            continue
        if not page.evaluate(ACTIVE_IS_CHOSEN):
            return
    raise AssertionError(f"the list did not open on another option after {attempts} ArrowDown presses")


def open_view(page, url: str, last: str | None = None) -> None:
    """Go to ``url`` and wait until the app has finished drawing (``last`` when given)."""
    from playwright.sync_api import expect

    page.goto(url)
    expect(page.locator('[data-testid="stRadio"]').first).to_be_visible(timeout=180_000)
    if last:
        expect(page.locator(last).first).to_be_visible(timeout=180_000)
    page.wait_for_timeout(500)
    page.wait_for_function(SETTLED, timeout=180_000)
    page.wait_for_timeout(300)


def test_compare_reads_at_a_glance(app_url):  # noqa: F811
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            page = browser.new_page(viewport={"width": 1300, "height": 1000})
            heights = {}
            for question in COMPARE_QUESTIONS:
                open_view(page, app_url + "/?view=compare&q=" + quote_plus(question), ".pqa-row")
                heights[question] = page.evaluate(HEIGHT)
                rows = page.locator(".pqa-row").all_inner_texts()
                assert len(rows) == 6 and rows[0].startswith("Local Government Association"), rows
                silent = page.locator(".pqa-none").all_inner_texts()
                assert silent and all("Why: " in text for text in silent), silent
                assert page.get_by_text("Nearest clause (not an answer): ").count() == len(silent)
                # no citation (monospace) on the page until a council's row is opened
                assert page.locator('[data-testid="stCode"]:visible').count() == 0
            print("\nCompare page heights at 1,300 px:", heights)
            assert all(h < MAX_COMPARE_HEIGHT for h in heights.values()), heights
        finally:
            browser.close()


def test_equivalents_open_in_place_without_a_jump_or_a_change_of_view(app_url):  # noqa: F811
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            page = browser.new_page(viewport={"width": 1300, "height": 1000})
            open_view(page, app_url + "/?view=ask&q=" + quote_plus("Can councillors instruct officers?"),
                      "text=This did not")
            switch = page.locator('[data-testid="stCheckbox"]').filter(has_text="Other councils' equivalents").nth(1)
            switch.scroll_into_view_if_needed()
            before = switch.bounding_box()["y"]
            switch.get_by_role("switch").focus()
            page.keyboard.press("Space")
            listing = page.locator(".pqa-eq").first
            expect(listing).to_be_visible(timeout=60_000)
            page.wait_for_function(SETTLED, timeout=60_000)
            assert "view=ask" in page.url and "passage=" not in page.url
            after = switch.bounding_box()["y"]
            assert abs(after - before) < 5, (before, after)  # the page did not move under the reader
            shown = listing.bounding_box()["y"]
            assert after < shown < after + 400, (after, shown)  # right under the switch that was used
        finally:
            browser.close()


# -- keyboard --------------------------------------------------------------------------

CONTROLS = ("button, a[href], input, textarea, select, summary, [role=combobox], [role=switch], "
            "[tabindex]:not([tabindex='-1'])")
MARK = """(selector) => {
  const visible = e => { const r = e.getBoundingClientRect(); const s = getComputedStyle(e);
    return r.width > 0 && r.height > 0 && s.visibility !== 'hidden' && !e.closest('[aria-hidden=true]')
      && !e.disabled && e.tabIndex >= 0 && !(e.closest('details') && !e.closest('details').open && e.tagName !== 'SUMMARY'); };
  let n = 0, groups = {};
  for (const e of document.querySelectorAll(selector)) {
    if (!visible(e)) continue;
    // a radio group is one stop of the Tab order (the arrow keys move within it)
    const key = e.type === 'radio' ? 'radio:' + e.name : 'c' + (n++);
    e.dataset.kw = key; groups[key] = (e.getAttribute('aria-label') || e.innerText || e.value || e.type || e.tagName).slice(0, 60);
  }
  return groups;
}"""
ACTIVE = """() => { let e = document.activeElement; while (e && e.shadowRoot && e.shadowRoot.activeElement) e = e.shadowRoot.activeElement;
  for (let x = e; x; x = x.parentElement) if (x.dataset && x.dataset.kw) return x.dataset.kw; return ''; }"""


def keyboard_walk(page, limit: int = 600) -> tuple[dict, set]:
    """Every visible control of the page, and those reached by pressing Tab from the top."""
    controls = page.evaluate(MARK, CONTROLS)
    page.evaluate("() => { document.activeElement && document.activeElement.blur(); window.focus(); }")
    reached: set[str] = set()
    for _ in range(limit):
        page.keyboard.press("Tab")
        key = page.evaluate(ACTIVE)
        if key:
            reached.add(key)
        if reached >= set(controls):
            break
    return controls, reached


@pytest.mark.parametrize("view", list(VIEWS))
def test_every_control_of_every_view_is_reached_by_keyboard(app_url, view):  # noqa: F811
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            page = browser.new_page(viewport={"width": 1300, "height": 1000})
            open_view(page, app_url + VIEWS[view],
                      {"ask": "text=This did not", "compare": ".pqa-row", "matrix": "table.pqa-cov",
                       "browse": ".pqa-page img"}.get(view))
            controls, reached = keyboard_walk(page)
            missed = {key: label for key, label in controls.items() if key not in reached}
            print(f"\n{view}: {len(controls)} controls, {len(reached)} reached by Tab")
            assert len(controls) >= 5 and not missed, missed
        finally:
            browser.close()


def test_every_view_is_operated_by_keyboard(app_url):  # noqa: F811
    """The actions of each view by keyboard alone: switch views, open a council's row, toggle the
    matrix and the equivalents, pick a clause in Browse (asking and downloading: test_accessibility)."""
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            page = browser.new_page(viewport={"width": 1300, "height": 1000})
            open_view(page, app_url + "/?view=compare&q=" + quote_plus(COMPARE_QUESTIONS[0]), ".pqa-row")
            # a council's row opens with Enter and shows its citation and its switches
            summary = page.locator("summary").filter(has_text="The clause in full").first
            summary.focus()
            page.keyboard.press("Enter")
            expect(page.locator('[data-testid="stCode"]:visible').first).to_be_visible(timeout=30_000)
            # the coverage matrix opens with Space; a cell's link opens its clause in Browse with Enter
            page.get_by_role("switch", name="Coverage matrix: standard topics against councils").focus()
            page.keyboard.press("Space")
            link = page.locator("table.pqa-cov a").first
            expect(link).to_be_visible(timeout=180_000)
            href = link.get_attribute("href")
            link.focus()
            page.keyboard.press("Enter")
            page.wait_for_url("**view=browse**", timeout=60_000)
            passage = href.split("passage=")[1].split("&")[0]
            assert f"passage={passage}" in page.url
            expect(page.locator(".pqa-clause").first).to_be_visible(timeout=60_000)
            # Browse: another clause chosen from the list by keyboard, once the app has finished
            # drawing, and only once the list is open on an option other than the clause shown
            page.wait_for_function(SETTLED, timeout=180_000)
            open_on_another_option(page, page.get_by_role("combobox", name="Clause"))
            page.keyboard.press("Enter")
            page.wait_for_function(f"() => !location.search.includes('{passage}')", timeout=60_000)
            # the views switch with the arrow keys on the view selector
            page.locator('[data-testid="stRadio"] input:checked').focus()
            page.keyboard.press("ArrowRight")
            page.wait_for_url("**view=record**", timeout=60_000)
            page.keyboard.press("ArrowRight")
            page.wait_for_url("**view=add**", timeout=60_000)
            expect(page.get_by_role("heading", name="Add documents")).to_be_visible(timeout=60_000)
        finally:
            browser.close()


# -- phone width -------------------------------------------------------------------------

PHONE = {"width": 390, "height": 844}


def small_png(png: bytes) -> bytes:
    """A screenshot as a small PNG: 64 colours are plenty for text on white."""
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB").quantize(colors=64)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


DESKTOP = {"width": 1300, "height": 900}


@pytest.mark.parametrize("screen", ["phone", "desktop"])
def test_every_view_at_phone_and_desktop_width(app_url, screen):  # noqa: F811
    from playwright.sync_api import sync_playwright

    viewport, suffix = (PHONE, "390") if screen == "phone" else (DESKTOP, "1300")
    folder = ARTIFACTS / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    overflow = {}
    with sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            page = (browser.new_page(viewport=PHONE, is_mobile=True, has_touch=True) if screen == "phone"
                    else browser.new_page(viewport=DESKTOP))
            for view, path in VIEWS.items():
                open_view(page, app_url + path,
                          {"ask": "text=This did not", "compare": ".pqa-row", "matrix": "table.pqa-cov",
                           "browse": ".pqa-page img"}.get(view))
                # nothing wider than the screen, except inside a region made to scroll sideways
                overflow[view] = page.evaluate("""() => [...document.querySelectorAll(
                    '[data-testid=stMainBlockContainer] *')].filter(e => {
                      const r = e.getBoundingClientRect();
                      return r.width > 0 && r.right > window.innerWidth + 1 && !e.closest('.pqa-scroll')
                        && !e.closest('[data-testid=stDataFrame]'); })
                    .map(e => e.tagName + '.' + e.className).slice(0, 5)""")
                height = page.evaluate(HEIGHT)
                page.set_viewport_size({"width": viewport["width"], "height": min(height + 40, 6000)})
                page.wait_for_timeout(500)
                (folder / f"{view}-{suffix}.png").write_bytes(small_png(page.screenshot()))
                page.set_viewport_size(viewport)
        finally:
            browser.close()
    if os.environ.get("PROTOCOL_QA_UPDATE_SCREENSHOTS") == "1":
        target = ROOT / "docs" / "screenshots"
        target.mkdir(exist_ok=True)
        for shot in folder.glob(f"*-{suffix}.png"):
            shutil.copy(shot, target / shot.name)
    assert not any(overflow.values()), overflow
