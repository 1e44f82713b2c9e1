"""Two ``protocol-qa ingest`` processes into one index: serialised by the writer lock, never interleaved."""

from __future__ import annotations

import time

import pytest

from index import store
from index.update import update_index

from .conftest import ALPHA, ALPHA_CHANGED, BETA, GAMMA, snapshot, start_cli, write_corpus

pytestmark = pytest.mark.slow


def _wait_for(process, marker: str, timeout: float = 60) -> list[str]:
    lines, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        lines.append(line)
        if marker in line:
            return lines
        if not line and process.poll() is not None:
            break
    raise AssertionError(f"no {marker!r} from the ingest: {''.join(lines)}")


def test_second_ingest_waits_for_the_first_and_nothing_interleaves(tmp_path, fake_embedder):
    first_corpus = write_corpus(tmp_path / "first", {"alpha.txt": ALPHA, "beta.txt": BETA})
    second_corpus = write_corpus(tmp_path / "second", {"alpha.txt": ALPHA_CHANGED, "gamma.txt": GAMMA})
    index_dir = tmp_path / "index"

    # The two complete outcomes: first then second, or second then first.
    outcomes = {}
    for order in (("first", "second"), ("second", "first")):
        reference = tmp_path / f"reference-{'-'.join(order)}"
        for name in order:
            update_index([tmp_path / name], reference, fake_embedder)
        outcomes[order] = snapshot(reference)
    assert outcomes[("first", "second")] != outcomes[("second", "first")]

    first = start_cli("ingest", "--index", str(index_dir), "-q", str(first_corpus),
                      PROTOCOL_QA_TEST_PAUSE_AT="embedding", PROTOCOL_QA_TEST_PAUSE_S="3")
    _wait_for(first, "PROTOCOL_QA_PAUSED embedding")  # the first holds the lock, mid-ingest
    second = start_cli("ingest", "--index", str(index_dir), "-q", str(second_corpus))
    waiting = _wait_for(second, "another ingest is updating")
    assert str(index_dir) in waiting[-1] and "waiting" in waiting[-1]

    first_out, first_err = first.communicate(timeout=60)
    second_out, second_err = second.communicate(timeout=60)
    assert first.returncode == 0, first_err
    assert second.returncode == 0, second_err
    assert "Index saved to" in first_out and "Index saved to" in second_out
    # The second began only after the first had finished: its report counts the first's documents
    # (alpha and beta from the first folder; the second folder's alpha.txt is another document).
    assert "4 documents" in second_out and "second/alpha.txt" in second_out
    final = snapshot(index_dir)
    assert final == outcomes[("first", "second")]


def test_ingest_gives_up_clearly_when_another_holds_the_lock_too_long(tmp_path, fake_embedder):
    corpus = write_corpus(tmp_path / "corpus", {"alpha.txt": ALPHA, "beta.txt": BETA})
    index_dir = tmp_path / "index"
    update_index([corpus], index_dir, fake_embedder)
    before = snapshot(index_dir)
    write_corpus(corpus, {"alpha.txt": ALPHA_CHANGED, "beta.txt": BETA})
    holder = start_cli("ingest", "--index", str(index_dir), "-q", str(corpus),
                       PROTOCOL_QA_TEST_PAUSE_AT="reading", PROTOCOL_QA_TEST_PAUSE_S="30")
    try:
        _wait_for(holder, "PROTOCOL_QA_PAUSED reading")
        started = time.monotonic()
        with pytest.raises(store.IndexBusy, match=r"Another ingest has been updating .* try again when it has finished"):
            update_index([corpus], index_dir, fake_embedder, lock_timeout=0.5)
        assert 0.5 <= time.monotonic() - started < 5
        assert snapshot(index_dir) == before
    finally:
        holder.kill()
        holder.communicate(timeout=30)


def test_pause_hook_is_inert_unless_set(monkeypatch):
    monkeypatch.delenv(store.PAUSE_ENV, raising=False)
    started = time.monotonic()
    for point in ("reading", "embedding", "saving", "publishing"):
        store.pause_for_tests(point)
    monkeypatch.setenv(store.PAUSE_ENV, "saving")
    store.pause_for_tests("publishing")
    assert time.monotonic() - started < 0.1
