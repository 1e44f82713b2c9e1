"""Ten browser sessions that try to upload a large file without the administrator token
leave the server's memory where it was (a real server, a real browser).

Before the sign-in step, choosing a file sent it to the server at once: ten
sessions each choosing a 45 MB file took the server from 286 to 740 MB. Now
the file control appears only after a correct token, so there is nothing to
choose a file with. The server's resident memory is read from /proc before
and after, and printed for docs/reliability.md.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .test_browser import ARTIFACTS, ROOT, free_port, healthy, launch, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.browser]

SESSIONS = 10  # twenty until the suite grew; ten still show a held file (45 MB each) at once
FILE_MB = 45


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmRSS for process {pid}")


@pytest.fixture(scope="module")
def upload_server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("upload-memory")
    corpus = folder / "corpus"
    corpus.mkdir()
    (corpus / "protocol.txt").write_text("Test Borough Council Member Officer Protocol\n\n"
                                         "1. Councillors must not instruct officers.\n", encoding="utf-8")
    env = {**os.environ, "PROTOCOL_QA_INDEX": str(folder / "index"), "PROTOCOL_QA_CORPUS": str(corpus),
           "PROTOCOL_QA_ENCODER": os.environ.get("PROTOCOL_QA_BROWSER_ENCODER", "auto"),
           "PROTOCOL_QA_ADMIN_TOKEN": "an-administrator-token-nobody-guesses",
           "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    subprocess.run([sys.executable, "-m", "qa.cli", "ingest", "-q", str(corpus)], env=env, cwd=ROOT,
                   check=True, capture_output=True, timeout=600)
    port = free_port()
    ARTIFACTS.mkdir(exist_ok=True)
    with open(ARTIFACTS / "streamlit-upload-memory.log", "w") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
             "--server.address", "127.0.0.1"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            url = f"http://127.0.0.1:{port}"
            wait_until(lambda: server.poll() is not None or healthy(f"{url}/_stcore/health"), 60, "the server")
            assert server.poll() is None
            yield url, server.pid, folder
        finally:
            server.terminate()
            server.wait(timeout=20)


def test_sessions_without_the_token_cannot_make_the_server_hold_files(upload_server):
    from playwright.sync_api import expect, sync_playwright

    url, pid, folder = upload_server
    big = folder / "big.pdf"
    with open(big, "wb") as handle:
        handle.write(b"%PDF-1.4\n" + os.urandom(FILE_MB << 20))
    with sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            warm = browser.new_page()
            warm.goto(url + "/?view=add")
            expect(warm.get_by_label("Administrator token")).to_be_visible(timeout=180_000)
            time.sleep(2)
            before = rss_mb(pid)
            pages = []
            for _ in range(SESSIONS):
                page = browser.new_context().new_page()
                page.goto(url + "/?view=add")
                pages.append(page)
            for page in pages:
                expect(page.get_by_label("Administrator token")).to_be_visible(timeout=120_000)
                assert page.locator("input[type=file]").count() == 0  # nothing to choose a file with
            with pytest.raises(Exception):  # and choosing one anyway finds no control (once: it waits out its timeout)
                pages[0].set_input_files("input[type=file]", str(big), timeout=2_000)
            time.sleep(2)
            during = rss_mb(pid)
            for page in pages:
                page.context.close()
            time.sleep(5)
            after = rss_mb(pid)
        finally:
            browser.close()
    print(f"\nserver memory with {SESSIONS} sessions trying {FILE_MB} MB uploads without the token: "
          f"{before:.0f} MB before, {during:.0f} MB with them open, {after:.0f} MB after they closed")
    # Each session's page state costs the server a little; one held file would cost 45 MB.
    assert during - before < FILE_MB, (before, during)
    assert after - before < FILE_MB, (before, after)
