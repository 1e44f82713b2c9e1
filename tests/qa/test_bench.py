"""qa.bench: the synthetic corpus and the shape of a (tiny, fake-encoder) benchmark run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from index.embed import FakeEmbedder
from index.hybrid import HybridIndex
from qa.bench import (KEYS, bench_questions, draw_plot, percentiles, real_corpus, run_bench, same_questions,
                      synthetic_corpus)
from qa.config import Settings


@pytest.fixture(scope="module")
def real():
    embedder = FakeEmbedder()
    passages, documents, vectors = real_corpus(Settings(), embedder)
    return passages, documents, vectors


def test_synthetic_corpus_keeps_real_passages_first_and_councils_distinct(real):
    passages, documents, vectors = real
    corpus, records, embeddings = synthetic_corpus(passages, documents, vectors, len(passages) + 1500, seed=3)
    assert len(corpus) == len(passages) + 1500 == embeddings.shape[0]
    assert corpus[:len(passages)] == passages
    np.testing.assert_allclose(embeddings[:len(passages)], vectors, atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(embeddings, axis=1), 1.0, atol=1e-5)
    assert len({p.id for p in corpus}) == len(corpus)
    synthetic = corpus[len(passages):]
    real_authorities = {p.authority for p in passages}
    assert all(p.authority.startswith("Synthetic Council ") for p in synthetic)
    assert not real_authorities & {p.authority for p in synthetic}
    # Every passage belongs to a document record of its own authority, and its span is in that text.
    by_source = {d["source"]: d for d in records}
    assert len(by_source) == len(records)
    for passage in synthetic[:: 37]:
        document = by_source[passage.source]
        assert document["authority"] == passage.authority
        assert document["text"][passage.start:passage.end] == passage.text
        assert passage.text.strip()
    # Wording varies from the original but stays close (the same clause, reworded).
    assert sum(p.text != passages[0].text for p in synthetic) > 0
    # A synthetic clause's vector stays near its real original's (noise of norm ~0.05).
    nearest = (embeddings[len(passages):] @ vectors.T).max(axis=1)
    assert nearest.min() > 0.99

def test_synthetic_corpus_builds_a_valid_index(real, tmp_path):
    passages, documents, vectors = real
    corpus, records, embeddings = synthetic_corpus(passages, documents, vectors, len(passages) + 400)
    index = HybridIndex.build(corpus, records, FakeEmbedder())
    index.save(tmp_path / "index")
    loaded = HybridIndex.load(tmp_path / "index")
    assert len(loaded) == len(corpus)
    assert "Synthetic Council 0001" in loaded.authorities


def test_synthetic_corpus_below_the_real_size_is_a_prefix(real):
    passages, documents, vectors = real
    corpus, records, embeddings = synthetic_corpus(passages, documents, vectors, 50)
    assert corpus == passages[:50] and embeddings.shape[0] == 50
    assert {d["source"] for d in records} == {p.source for p in corpus}


@pytest.mark.parametrize("n", [0, -5])
def test_synthetic_corpus_refuses_an_empty_size(real, n):
    passages, documents, vectors = real
    with pytest.raises(ValueError, match="at least 1"):
        synthetic_corpus(passages, documents, vectors, n)


def test_bench_questions_cycle_paraphrases():
    questions = bench_questions(60)
    assert len(questions) == 60
    assert len(set(questions)) > 40


def test_percentiles_of_nothing_are_zero():
    assert percentiles([]) == {"p50": 0.0, "p95": 0.0, "p99": 0.0}
    assert percentiles([1, 2, 3], (50,)) == {"p50": 2.0}


def test_run_bench_returns_the_design_object(tmp_path):
    plot = tmp_path / "latency.png"
    result = run_bench(passages=300, settings=Settings(), plot=plot, questions=6, embedder=FakeEmbedder(),
                       isolate=False, work_dir=tmp_path / "work")
    design = result["json"]
    assert set(design) == {"passages", "cores", "ours", "baseline"}
    assert design["passages"] == 300 and design["cores"] >= 1
    for side in ("ours", "baseline"):
        figures = design[side]
        assert list(figures) == list(KEYS)
        for key in ("ask_ms", "compare_ms"):
            assert set(figures[key]) == {"p50", "p95", "p99"}
            assert 0 < figures[key]["p50"] <= figures[key]["p95"] <= figures[key]["p99"]
        assert set(figures["encode_ms"]) == {"p50", "p95"}
        assert figures["qps_8_clients"] > 0 and figures["rss_mb"] > 0 and figures["disk_mb"] > 0
        assert figures["load_s"] >= 0 and figures["build_s"] >= 0
    json.dumps(design)  # serialisable as printed by --json
    assert "ask p95" in result["table"] and "baseline" in result["table"]
    assert result["details"]["ours"]["dense_recall_at_10"] == 1.0  # 300 passages: the exact flat index
    assert "dense recall@10 of ours against exact search: 1.000" in result["table"]
    assert plot.exists() and plot.with_suffix(".jsonl").exists()
    assert "provisions" in result["details"]["ours"]["build_stages"]
    same = result["details"]["same_questions"]["ask"]
    assert same["questions"] == 6 and same["ours_ms"] == design["ours"]["ask_ms"]  # 300 passages: the same questions
    assert "ask on the baseline's 6 questions" in result["table"]
    # The fake encoder has no reranker trained with it: the table says the answers were timed without one.
    assert result["details"]["ours"]["reranker"] == "off" and "reranker off" in result["table"]


def test_a_speed_up_is_read_over_the_questions_both_sides_answered():
    # Above 50,000 passages the baseline answers only its first questions; ours is read over the
    # same ones, so that a slow question ours met later does not count against one side only.
    ours = {"ask_each_ms": [2.0, 4.0, 90.0, 95.0], "compare_each_ms": [10.0, 30.0, 500.0]}
    baseline = {"ask_each_ms": [20.0, 40.0], "compare_each_ms": [40.0]}
    same = same_questions(ours, baseline)
    assert same["ask"]["questions"] == 2
    assert same["ask"]["ours_ms"] == percentiles([2.0, 4.0]) and same["ask"]["baseline_ms"] == percentiles([20.0, 40.0])
    assert same["ask"]["speedup"]["p50"] == 10.0  # 30 ms against 3 ms
    assert same["compare"]["speedup"] == {"p50": 4.0, "p95": 4.0, "p99": 4.0}


def test_the_timed_index_is_grouped_into_provisions_as_an_ingest_groups_it(tmp_path):
    """The reranker's head and the folding of copies read the provisions: a bench without them
    would time another pipeline than the one ingest builds."""
    from index.hybrid import HybridIndex

    from tests.tiny_corpus import write_party_group_councils

    corpus = write_party_group_councils(tmp_path / "corpus")
    run_bench(passages=9, settings=Settings(corpus_dir=corpus), questions=3, embedder=FakeEmbedder(),
              isolate=False, work_dir=tmp_path / "work")
    timed = HybridIndex.load(tmp_path / "work" / "index")
    assert timed.provisions, "the three councils' party group clause is one provision"
    assert any(len({timed.passages[row].source for row, _, _ in provision.members}) >= 3
               for provision in timed.provisions)


def test_draw_plot_from_recorded_runs(tmp_path):
    results = tmp_path / "runs.jsonl"
    runs = []
    for n, ours, base in ((1000, 5, 10), (10000, 6, 100)):
        side = lambda ms: {"ask_ms": {"p50": ms, "p95": ms * 1.5, "p99": ms * 2}}
        runs.append(json.dumps({"passages": n, "ours": side(ours), "baseline": side(base)}))
    results.write_text("\n".join(runs) + "\n")
    png = draw_plot(results, tmp_path / "plot.png")
    assert Path(png).stat().st_size > 1000

