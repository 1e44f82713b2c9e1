"""SIGKILL of a real ``protocol-qa ingest`` process at every stage leaves the previous index intact.

The ingest subprocess stops at a chosen point through the test hook
``PROTOCOL_QA_TEST_PAUSE_AT`` (see :func:`index.store.pause_for_tests`), prints
a marker and is killed there; a last case kills at random moments without the
hook. After each kill the index must load (full checksum verification) and
answer exactly as before the ingest began, and the next ingest must complete.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from pathlib import Path

import pytest

from index.hybrid import HybridIndex
from index.update import update_index

from .conftest import ALPHA, ALPHA_CHANGED, BETA, GAMMA, cli, snapshot, start_cli, write_corpus

pytestmark = pytest.mark.slow

# A larger document (about 170 KB, 2,000 clauses), so that each stage takes a noticeable moment.
BIG = "Big Parish Council Protocol\n\n" + "\n\n".join(
    f"{n}. Officers shall give members impartial advice on matter number {n} of the agenda." for n in range(1, 2_000))


def _previous_index(tmp_path: Path, fake_embedder) -> tuple[Path, Path, dict]:
    corpus = write_corpus(tmp_path / "corpus", {"alpha.txt": ALPHA, "beta.txt": BETA})
    index_dir = tmp_path / "index"
    update_index([corpus], index_dir, fake_embedder)
    before = snapshot(index_dir)
    # What the killed ingest would have changed: one document edited, two added (one of them big).
    write_corpus(corpus, {"alpha.txt": ALPHA_CHANGED, "beta.txt": BETA, "gamma.txt": GAMMA, "zz-big.txt": BIG})
    return corpus, index_dir, before


def _wait_for_marker(process, point: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if f"PROTOCOL_QA_PAUSED {point}" in line:
            return
        if not line and process.poll() is not None:
            raise AssertionError(f"ingest ended (exit {process.returncode}) before reaching {point!r}: "
                                 f"{process.stdout.read()} {process.stderr.read()}")
    raise AssertionError(f"ingest did not reach {point!r} within {timeout} s")


def _kill(process, may_have_finished: bool = False) -> None:
    """SIGKILL ``process``; a random-moment kill may land just after it finished on its own."""
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    allowed = {-signal.SIGKILL, 0} if may_have_finished else {-signal.SIGKILL}
    assert process.returncode in allowed, process.stderr.read()
    process.stdout.close()
    process.stderr.close()


def _next_ingest_completes(corpus: Path, index_dir: Path, before: dict) -> None:
    finished = cli("ingest", "--index", str(index_dir), "-q", str(corpus))
    assert finished.returncode == 0, finished.stderr
    assert "Index saved to" in finished.stdout
    after = snapshot(index_dir)
    assert after["fingerprint"] != before["fingerprint"]
    sources = {p["source"] for p in after["passages"]}
    assert sources == {"alpha.txt", "beta.txt", "gamma.txt", "zz-big.txt"}
    assert any("twenty-five pounds" in p["text"] for p in after["passages"])
    # Leftovers of the killed writer were collected; only whole versions remain.
    assert not list(index_dir.glob(".tmp-*"))
    for version in index_dir.glob("v-*"):
        assert (version / "manifest.json").is_file()


@pytest.mark.parametrize("point", ["reading", "embedding", "saving", "publishing"])
def test_sigkill_at_each_stage_keeps_previous_index(tmp_path, fake_embedder, point):
    corpus, index_dir, before = _previous_index(tmp_path, fake_embedder)
    process = start_cli("ingest", "--index", str(index_dir), "-q", str(corpus), PROTOCOL_QA_TEST_PAUSE_AT=point)
    _wait_for_marker(process, point)
    _kill(process)

    assert snapshot(index_dir) == before
    _next_ingest_completes(corpus, index_dir, before)


def test_sigkill_at_random_moments_keeps_previous_or_new_index(tmp_path, fake_embedder):
    corpus, index_dir, before = _previous_index(tmp_path, fake_embedder)
    # The complete outcome, computed in a copy, is the only other acceptable state.
    reference_dir = tmp_path / "reference"
    update_index([corpus], reference_dir, fake_embedder)
    after = snapshot(reference_dir)
    seen = set()
    rng = random.Random(7)
    for _ in range(6):
        process = start_cli("ingest", "--index", str(index_dir), "-q", str(corpus))
        time.sleep(rng.uniform(0.2, 1.5))
        if process.poll() is None:
            _kill(process, may_have_finished=True)
        else:
            process.communicate()
        state = snapshot(index_dir)
        state["answers"] = {q: [(pid, text) for pid, text, _ in ranked] for q, ranked in state["answers"].items()}
        for reference in (before, after):
            expected = dict(reference, answers={q: [(pid, text) for pid, text, _ in ranked]
                                                for q, ranked in reference["answers"].items()})
            if state == expected:
                seen.add(reference["fingerprint"])
                break
        else:
            raise AssertionError("after a kill the index is neither the previous nor the new one")
        if state["fingerprint"] == after["fingerprint"]:
            write_corpus(corpus, {"alpha.txt": ALPHA, "beta.txt": BETA})  # go back, so the next run changes it
            update_index([corpus], index_dir, fake_embedder)
            assert snapshot(index_dir)["fingerprint"] == before["fingerprint"]
            write_corpus(corpus, {"alpha.txt": ALPHA_CHANGED, "beta.txt": BETA, "gamma.txt": GAMMA, "zz-big.txt": BIG})
    _next_ingest_completes(corpus, index_dir, before)


def test_killed_ingest_releases_the_writer_lock(tmp_path, fake_embedder):
    corpus, index_dir, before = _previous_index(tmp_path, fake_embedder)
    process = start_cli("ingest", "--index", str(index_dir), "-q", str(corpus), PROTOCOL_QA_TEST_PAUSE_AT="embedding")
    _wait_for_marker(process, "embedding")
    _kill(process)
    report = update_index([corpus], index_dir, fake_embedder, lock_timeout=1)  # IndexBusy if still held
    assert report.changed
    assert HybridIndex.load(index_dir).fingerprint != before["fingerprint"]
    pointer = index_dir / "current"
    assert pointer.is_file() and not pointer.is_symlink()
    assert (index_dir / pointer.read_text().strip() / "manifest.json").is_file()


def test_a_full_disk_is_reported_as_such_and_leaves_nothing_behind(tmp_path, fake_embedder):
    """A real small tmpfs: the ingest that does not fit says the disk is full, the index answers as before,
    no temporary file or folder is left, and the same ingest succeeds once there is room."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(disk)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"mounting a tmpfs is not permitted here: {mounted.stderr.decode().strip()}")
    try:
        corpus = write_corpus(tmp_path / "corpus", {"alpha.txt": ALPHA, "beta.txt": BETA})
        index_dir = disk / "index"
        update_index([corpus], index_dir, fake_embedder)
        before = snapshot(index_dir)
        write_corpus(corpus, {"alpha.txt": ALPHA, "beta.txt": BETA, "zz-big.txt": BIG})
        result = cli("ingest", "--index", str(index_dir), "-q", str(corpus))
        assert result.returncode == 3
        assert f"The disk holding {index_dir} is full" in result.stderr and "The index is unchanged" in result.stderr
        assert "requested and" not in result.stderr
        assert snapshot(index_dir) == before
        leftovers = [p.name for p in index_dir.rglob(".tmp-*")]
        assert leftovers == [], leftovers
        subprocess.run(["mount", "-o", "remount,size=64m", str(disk)], check=True)
        again = cli("ingest", "--index", str(index_dir), "-q", str(corpus))
        assert again.returncode == 0, again.stderr
        assert any(p["source"] == "zz-big.txt" for p in snapshot(index_dir)["passages"])
    finally:
        subprocess.run(["umount", "--lazy", str(disk)], capture_output=True)


def test_a_half_written_cache_segment_is_removed_by_the_next_writer(tmp_path, fake_embedder):
    corpus = write_corpus(tmp_path / "corpus", {"alpha.txt": ALPHA})
    index_dir = tmp_path / "index"
    update_index([corpus], index_dir, fake_embedder)
    model_cache = next((index_dir / "embedding-cache").iterdir())
    leftover = model_cache / ".tmp-seg-00000000000000000001-abcdef.npz"
    leftover.write_bytes(b"half a segment")
    write_corpus(corpus, {"alpha.txt": ALPHA, "beta.txt": BETA})
    update_index([corpus], index_dir, fake_embedder)
    assert not leftover.exists()
