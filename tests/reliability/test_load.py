"""Eight concurrent clients ask and compare against one shared index while ingests write new versions.

Threads in one process, as Streamlit serves sessions. The shared Answerer is
swapped for a freshly loaded one whenever the index on disk changes (as the
app's cache would), so clients see the old and the new index during the run.
Every answer must be wholly from one of the two corpora; p95 latencies are
printed (run with ``-s`` to see them).
"""

from __future__ import annotations

import json
import shutil
import statistics
import threading
import time
from pathlib import Path

import pytest

from index.embed import FakeEmbedder
from index.hybrid import HybridIndex
from index.update import update_index
from qa.answer import Answerer
from qa.compare import compare

from .conftest import ALPHA, ALPHA_CHANGED, BETA, GAMMA, QUESTIONS, ROOT

pytestmark = pytest.mark.slow

CLIENTS = 8
MIN_SECONDS, MAX_SECONDS, MIN_INGESTS = 5.0, 90.0, 2
STATE_A = {"alpha.txt": ALPHA, "beta.txt": BETA}
STATE_B = {"alpha.txt": ALPHA_CHANGED, "gamma.txt": GAMMA}


def _questions() -> list[str]:
    lines = (ROOT / "eval" / "questions.jsonl").read_text(encoding="utf-8").splitlines()
    return QUESTIONS + [json.loads(line)["question"] for line in lines[:16] if line.strip()]


def _set_state(corpus: Path, state: dict[str, str]) -> None:
    for name in ("alpha.txt", "beta.txt", "gamma.txt"):
        (corpus / name).unlink(missing_ok=True)
    for name, text in state.items():
        (corpus / name).write_text(text, encoding="utf-8")


def _pairs(index_dir: Path) -> frozenset[tuple[str, str]]:
    return frozenset((p.id, p.text) for p in HybridIndex.load(index_dir).passages)


def _p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[18]


def test_concurrent_clients_during_ingest(tmp_path):
    embedder = FakeEmbedder()
    corpus = tmp_path / "corpus"
    shutil.copytree(ROOT / "corpus", corpus)
    for name in ("alpha.txt", "beta.txt", "gamma.txt"):
        (corpus / name).unlink(missing_ok=True)

    # The two corpora the index alternates between, built once as references.
    versions = {}
    for label, state in (("A", STATE_A), ("B", STATE_B)):
        _set_state(corpus, state)
        update_index([corpus], tmp_path / f"reference-{label}", embedder)
        versions[label] = _pairs(tmp_path / f"reference-{label}")
    assert versions["A"] - versions["B"] and versions["B"] - versions["A"]

    index_dir = tmp_path / "index"
    _set_state(corpus, STATE_A)
    update_index([corpus], index_dir, embedder)
    shared = {"answerer": Answerer(HybridIndex.load(index_dir), embedder)}
    questions = _questions()
    stop = threading.Event()
    errors: list[str] = []
    latencies: dict[str, list[float]] = {"ask": [], "compare": []}
    seen_versions: set[str] = set()
    ingests = []

    def check(kind: str, pairs: set[tuple[str, str]]) -> None:
        matches = [label for label, version in versions.items() if pairs <= version]
        if not matches:
            errors.append(f"{kind}: an answer mixes the old and new index: {sorted(pairs)[:3]}")
        elif len(matches) == 1:
            seen_versions.add(matches[0])

    def client(number: int) -> None:
        request = number
        while not stop.is_set():
            answerer = shared["answerer"]
            question = questions[request % len(questions)]
            try:
                started = time.perf_counter()
                if request % 3 == 0:
                    comparison = compare(answerer, question)
                    latencies["compare"].append(time.perf_counter() - started)
                    check("compare", {(r.passage.id, r.passage.text)
                                      for entry in comparison.authorities for r in entry.results})
                else:
                    answer = answerer.ask(question)
                    latencies["ask"].append(time.perf_counter() - started)
                    if not (answer.answered or answer.message):
                        errors.append(f"ask: neither answered nor refused: {question!r}")
                    check("ask", {(r.passage.id, r.passage.text) for r in answer.results})
            except Exception as exc:  # noqa: BLE001 - every error is a failure, collected for the report
                errors.append(f"{type(exc).__name__}: {exc}")
            request += CLIENTS

    def ingest() -> None:
        states = [STATE_B, STATE_A]
        while not stop.is_set():
            try:
                _set_state(corpus, states[len(ingests) % 2])
                report = update_index([corpus], index_dir, embedder)
                ingests.append(report.changed)
            except Exception as exc:  # noqa: BLE001
                errors.append(f"ingest: {type(exc).__name__}: {exc}")
                return

    def reload() -> None:
        # What the app does when the index changes: load the new version, swap the shared reference.
        current = shared["answerer"].index.fingerprint
        while not stop.is_set():
            try:
                index = HybridIndex.load(index_dir)
                if index.fingerprint != current:
                    shared["answerer"], current = Answerer(index, embedder), index.fingerprint
            except Exception as exc:  # noqa: BLE001
                errors.append(f"reload: {type(exc).__name__}: {exc}")
            time.sleep(0.05)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    threads += [threading.Thread(target=ingest), threading.Thread(target=reload)]
    for thread in threads:
        thread.start()
    started = time.monotonic()
    while time.monotonic() - started < MAX_SECONDS and not errors:
        if time.monotonic() - started >= MIN_SECONDS and len(ingests) >= MIN_INGESTS:
            break
        time.sleep(0.1)
    seconds = time.monotonic() - started
    stop.set()
    for thread in threads:
        thread.join(timeout=120)

    assert not errors, errors[:5]
    assert len(ingests) >= MIN_INGESTS and all(ingests), ingests
    assert seen_versions == {"A", "B"}, seen_versions
    assert HybridIndex.load(index_dir, verify="full")
    ask_ms = [s * 1000 for s in latencies["ask"]]
    compare_ms = [s * 1000 for s in latencies["compare"]]
    assert len(ask_ms) >= 20 and len(compare_ms) >= 10
    print(f"\nload: {CLIENTS} clients for {seconds:.1f} s during {len(ingests)} ingests of "
          f"{len(HybridIndex.load(index_dir).passages)} passages (fake encoder): "
          f"ask n={len(ask_ms)} p50={statistics.median(ask_ms):.1f} ms p95={_p95(ask_ms):.1f} ms; "
          f"compare n={len(compare_ms)} p50={statistics.median(compare_ms):.1f} ms p95={_p95(compare_ms):.1f} ms")
