"""A real browser against ``streamlit run app.py``: ask, see a cited clause,
switch to Compare, see several councils and a "not addressed".

The index is built by ``protocol-qa ingest`` from the default corpus with the
real embedding model (set PROTOCOL_QA_BROWSER_ENCODER=fake for a quick local
run). Screenshots go to ``test-artifacts/`` (git-ignored). Needs Debian's
chromium (``make test`` installs it); never downloads a browser.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
QUESTION = "Can a councillor tell an officer to change the advice in their report?"
COMPARE_QUESTION = "Can an officer leave a party group meeting part way through?"

COUNCILS = ("Local Government Association", "Carlisle City Council", "Newton Abbot Town Council",
            "Unidentified council", "Wokingham Borough Council", "Watford Borough Council")

pytestmark = pytest.mark.browser


# Debian's chromium, as this machine runs it: headless, no sandbox (root), no GPU and no
# background connections (the network is closed).
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def launch(playwright):
    """Debian's chromium through Playwright; never a downloaded browser."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make test` (it installs Debian's chromium)")
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(check, timeout: float, what: str, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


@pytest.fixture(scope="module")
def server_env(tmp_path_factory):
    encoder = os.environ.get("PROTOCOL_QA_BROWSER_ENCODER", "auto")
    index_dir = tmp_path_factory.mktemp("browser") / "index"
    env = {**os.environ, "PROTOCOL_QA_INDEX": str(index_dir), "PROTOCOL_QA_ENCODER": encoder,
           "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    env.pop("PROTOCOL_QA_ADMIN_TOKEN", None)
    cli = shutil.which("protocol-qa", path=str(Path(sys.executable).parent)) or "protocol-qa"
    started = time.perf_counter()
    done = subprocess.run([cli, "ingest", "--index", str(index_dir), "-q", str(ROOT / "corpus")],
                          env=env, cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert done.returncode in (0, 1), done.stderr[-2000:]
    print(f"\nindex built with encoder={encoder} in {time.perf_counter() - started:.1f} s")
    return env


def start_server(command, env, log: Path, health: str, what: str, timeout: float = 120) -> subprocess.Popen:
    """Start a server process (its output in ``log``) and wait until ``health`` answers."""
    with open(log, "w") as output:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)
    wait_until(lambda: process.poll() is not None or healthy(health), timeout, what)
    assert process.poll() is None, log.read_text()[-2000:]
    return process


def stop_server(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


@pytest.fixture(scope="module")
def app_url(server_env):
    port = free_port()
    ARTIFACTS.mkdir(exist_ok=True)
    url = f"http://127.0.0.1:{port}"
    server = start_server(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false"],
        server_env, ARTIFACTS / "streamlit-server.log", f"{url}/_stcore/health", "the server", timeout=60)
    try:
        yield url
    finally:
        stop_server(server)


def test_ask_then_compare_in_a_real_browser(app_url):
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            started = time.perf_counter()
            page.goto(app_url + "/?view=ask")
            box = page.get_by_label("Your question")
            expect(box).to_be_visible(timeout=180_000)  # first visit loads the model and index
            box.fill(QUESTION)
            box.press("Enter")
            citation = page.locator('[data-testid="stCode"]').first
            expect(citation).to_contain_text(" · ", timeout=120_000)
            elapsed = time.perf_counter() - started
            cited = citation.inner_text()
            assert any(council in cited for council in COUNCILS), cited
            expect(page.locator(".pqa-clause").first).not_to_be_empty()
            print(f"\ntime from page load to first answer: {elapsed:.1f} s")
            assert "view=ask" in page.url and "q=" in page.url
            page.screenshot(path=str(ARTIFACTS / "browser-ask.png"), full_page=True)
            buttons = page.locator('[data-testid="stButton"]')
            assert buttons.count() > 0 and buttons.first.is_visible()
            page.emulate_media(media="print")  # printing an answer prints no buttons or inputs
            assert page.locator('[data-testid="stButton"]').first.is_hidden()
            assert page.locator('[data-testid="stTextInput"]').first.is_hidden()
            expect(page.locator(".pqa-clause").first).to_be_visible()
            page.emulate_media(media="screen")

            page.locator('[data-testid="stRadio"] label').filter(has_text="Compare").click()
            compare_box = page.get_by_label("Question to compare across councils")
            expect(compare_box).to_have_value(QUESTION, timeout=60_000)  # the question follows the user
            # Party groups are a protocol matter the national model code does not cover.
            compare_box.fill(COMPARE_QUESTION)
            compare_box.press("Enter")
            expect(page.get_by_text("Not addressed in its documents.").first).to_be_visible(timeout=120_000)
            heads = page.locator(".pqa-head")
            wait_until(lambda: heads.count() >= 3, 30, "several councils")
            names = heads.all_inner_texts()
            assert names[0] == "Local Government Association", names  # the model code first
            wait_until(lambda: "view=compare" in page.url, 30, "the URL to record the view")
            page.screenshot(path=str(ARTIFACTS / "browser-compare.png"), full_page=True)
        finally:
            browser.close()
