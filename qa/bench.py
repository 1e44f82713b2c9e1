"""``protocol-qa bench``: latency, throughput, memory and size at N passages, against a naive baseline.

One run measures, on a synthetic corpus of ``N`` passages made from the real
ones (see :func:`synthetic_corpus`):

* **ours**: :class:`index.hybrid.HybridIndex` built, saved, then loaded in a
  fresh child process that answers with :class:`qa.answer.Answerer` and
  :func:`qa.compare.compare` using the real encoder (so latency includes
  encoding the question);
* **baseline**: rank-bm25 ``BM25Okapi.get_scores`` over every passage, a FAISS
  ``IndexFlatIP`` over the same vectors and reciprocal rank fusion (k=60),
  with the same encoder, in another child process. Above ``BASELINE_QUESTIONS_ABOVE``
  passages the baseline answers fewer questions (it takes seconds per question).

Each side runs in its own spawned process so that its resident memory (RSS)
is its own. Both report the DESIGN.md keys; :func:`run_bench` returns
``{"json": that object, "table": printable text, "details": extra figures}``.

``compare`` is timed over a fixed set of authorities (the real ones plus
``COMPARE_SYNTHETIC`` synthetic councils): comparing ten thousand councils at
once answers no real question.
"""

from __future__ import annotations

import gc
import json
import logging
import multiprocessing
import os
import pickle
import re
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from index.dense import recall_at_k
from index.hybrid import HybridIndex, embed_with_cache
from index.provisions import group_provisions
from index.lexical import tokenize
from ingest.passage import Passage, passage_id

from .config import PROJECT_ROOT, Settings

__all__ = ["run_bench", "synthetic_corpus", "bench_questions", "percentiles", "draw_plot"]

log = logging.getLogger(__name__)

COMPARE_SYNTHETIC = 4
THROUGHPUT_CLIENTS = 8
# Above this many passages the baseline (seconds per question) answers only BASELINE_QUESTIONS.
BASELINE_QUESTIONS_ABOVE = 50_000
BASELINE_QUESTIONS = 12
# The shared development questions, in ../shared beside the project (fallback: index.benchmark.QUESTIONS).
DEV_QUESTIONS = PROJECT_ROOT.parent / "shared" / "eval" / "dev_questions.jsonl"
EMBEDDING_NOISE = 0.05

# Word swaps a synthetic council may make throughout its documents (its own house style).
_SWAPS = (("councillors", "members"), ("councillor", "member"), ("officers", "employees"),
          ("officer", "employee"), ("must", "shall"), ("should", "ought to"), ("Council", "Authority"),
          ("meeting", "session"))
_NUMBER = re.compile(r"\b\d{1,4}\b")


# -- questions ----------------------------------------------------------------

def bench_questions(count: int, path: Path = DEV_QUESTIONS) -> list[str]:
    """``count`` questions: the dev questions, then paraphrases of them (cycled).

    Paraphrases change wording the way users do (councillor/member, a polite
    prefix, lower case), so repeated questions are not all identical strings.
    """
    base = []
    if path.exists():
        base = [json.loads(line)["question"] for line in path.read_text("utf-8").splitlines() if line.strip()]
    if not base:
        from index.benchmark import QUESTIONS
        base = list(QUESTIONS)
    forms = [lambda q: q,
             lambda q: "Please tell me: " + q[0].lower() + q[1:],
             lambda q: q.replace("councillor", "member").replace("Councillor", "Member"),
             lambda q: q.lower().rstrip("?") + " under the protocol?",
             lambda q: "In our council, " + q[0].lower() + q[1:]]
    out = []
    round_ = 0
    while len(out) < count:
        form = forms[round_ % len(forms)]
        out.extend(form(q) for q in base)
        round_ += 1
    return out[:count]


def percentiles(times_ms: Sequence[float], keys: Sequence[int] = (50, 95, 99)) -> dict[str, float]:
    """{"p50": ..., "p95": ..., "p99": ...} of ``times_ms`` (0.0 each when empty)."""
    if not times_ms:
        return {f"p{q}": 0.0 for q in keys}
    return {f"p{q}": round(float(np.percentile(times_ms, q)), 2) for q in keys}


# -- the synthetic corpus -----------------------------------------------------

@lru_cache(maxsize=512)
def _swapper(mask: int) -> re.Pattern | None:
    chosen = [pair for bit, pair in enumerate(_SWAPS) if mask >> bit & 1]
    if not chosen:
        return None
    return re.compile(r"\b(" + "|".join(re.escape(a) for a, _ in chosen) + r")\b")


def _vary(text: str, mask: int, shift: int) -> str:
    """A council's wording of ``text``: its word swaps, its numbers shifted by ``shift``."""
    pattern = _swapper(mask)
    if pattern is not None:
        table = dict(_SWAPS)
        text = pattern.sub(lambda m: table[m.group(1)], text)
    if shift:
        text = _NUMBER.sub(lambda m: str(int(m.group(0)) + shift), text)
    return text


def synthetic_corpus(passages: Sequence[Passage], documents: Sequence[dict], vectors: np.ndarray, n: int,
                     *, seed: int = 0, noise: float = EMBEDDING_NOISE) -> tuple[list[Passage], list[dict], np.ndarray]:
    """``n`` passages: the real ones first, then synthetic councils copying real documents.

    Synthetic council ``i`` is "Synthetic Council 0001"...; it adopts one or
    two real documents whole, with its own word swaps (councillor -> member,
    must -> shall...), its numbers shifted, and its own name in place of the
    original authority's. Its passages' embeddings are the real passage's
    vector plus Gaussian noise of norm about ``noise``, renormalised, so the
    same clause worded by many councils clusters as real embeddings do.
    Returns (passages, document records, float32 unit embeddings), row-aligned.
    Below the real corpus's size, the first ``n`` real passages (and their documents).
    """
    if n < 1:
        raise ValueError(f"the synthetic corpus needs at least 1 passage, got {n}")
    passages = list(passages)
    if not passages:
        raise ValueError("synthetic_corpus needs real passages to copy; ingest the corpus first")
    vectors = np.asarray(vectors, dtype=np.float32)
    rng = np.random.default_rng(seed)
    if n <= len(passages):
        kept = passages[:n]
        sources = {p.source for p in kept}
        return kept, [dict(d) for d in documents if d["source"] in sources], vectors[:n].copy()
    by_source: dict[str, list[int]] = {}
    for row, passage in enumerate(passages):
        by_source.setdefault(passage.source, []).append(row)
    doc_of = {d["source"]: d for d in documents}
    sources = [s for s in by_source if s in doc_of]
    out_passages = list(passages)
    out_documents = [dict(doc_of[s]) for s in sources]
    origin = list(range(len(passages)))  # row of the real passage each output row copies
    council = 0
    while len(out_passages) < n:
        council += 1
        authority = f"Synthetic Council {council:04d}"
        slug = f"synthetic-council-{council:04d}"
        mask, shift = int(rng.integers(0, 1 << len(_SWAPS))), int(rng.integers(0, 3))
        for source in rng.choice(sources, size=1 + int(rng.random() < 0.5), replace=False):
            if len(out_passages) >= n:
                break
            real_doc = doc_of[source]
            new_source = f"{slug}-{source}"
            title = _vary(str(real_doc.get("title") or ""), mask, 0).replace(real_doc["authority"], authority)
            texts, offset = [], 0
            for row in by_source[source][: n - len(out_passages)]:
                real = passages[row]
                text = _vary(real.text, mask, shift).replace(real.authority, authority)
                out_passages.append(replace(
                    real, id=passage_id(new_source, real.clause, row), authority=authority, document=title,
                    source=new_source, section=_vary(real.section, mask, 0), text=text,
                    start=offset, end=offset + len(text)))
                origin.append(row)
                texts.append(text)
                offset += len(text) + 2
            document = dict(real_doc, source=new_source, authority=authority, title=title,
                            path=f"/synthetic/{new_source}", text="\n\n".join(texts))
            document["sha256"] = f"{council:08x}{abs(hash(new_source)) & 0xffffffff:08x}".ljust(64, "0")
            out_documents.append(document)
    origin_rows = np.asarray(origin, dtype=np.int64)
    embeddings = np.empty((n, vectors.shape[1]), dtype=np.float32)
    step = 100_000
    for start in range(0, n, step):
        stop = min(n, start + step)
        block = vectors[origin_rows[start:stop]].copy()
        synthetic = origin_rows[start:stop] >= 0
        synthetic[: max(0, len(passages) - start)] = False  # the real rows keep their real vectors
        noise_block = rng.standard_normal(block.shape, dtype=np.float32) * (noise / np.sqrt(block.shape[1]))
        block[synthetic] += noise_block[synthetic]
        block /= np.linalg.norm(block, axis=1, keepdims=True)
        embeddings[start:stop] = block
    return out_passages, out_documents, embeddings


class _Precomputed:
    """A stand-in embedding cache that already holds every passage's vector (row-aligned)."""

    def __init__(self, vectors: np.ndarray) -> None:
        self.vectors = vectors

    def keys(self, texts: Sequence[str]) -> range:
        return range(len(texts))

    def get_many(self, keys) -> tuple[np.ndarray, np.ndarray]:
        return np.ones(len(keys), dtype=bool), self.vectors

    def put_many(self, keys, vectors) -> None:  # pragma: no cover - nothing is ever missing
        raise AssertionError("every vector is precomputed")


# -- measuring one side in a child process ---------------------------------------

def _rss_mb() -> dict[str, float]:
    """This process's resident memory: total, anonymous (private) and file-backed (shareable)."""
    fields = {}
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "RssAnon", "RssFile", "RssShmem"):
                fields[key] = int(value.split()[0]) / 1024
    except OSError:  # not Linux: psutil gives the total only
        import psutil
        fields["VmRSS"] = psutil.Process().memory_info().rss / 2**20
    return {"rss_mb": round(fields.get("VmRSS", 0.0), 1), "rss_anon_mb": round(fields.get("RssAnon", 0.0), 1),
            "rss_file_mb": round(fields.get("RssFile", 0.0), 1)}


def _make_embedder(spec):
    if isinstance(spec, str):
        from index.embed import load_embedder
        return load_embedder(spec)
    return spec


def _time_each(function, items) -> list[float]:
    times = []
    for item in items:
        start = time.perf_counter()
        function(item)
        times.append((time.perf_counter() - start) * 1000)
    return times


def _throughput(function, items, clients: int = THROUGHPUT_CLIENTS) -> float:
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        list(pool.map(function, items))
    return round(len(items) / (time.perf_counter() - start), 2)


def _measure(ask, compare, embedder, questions, compare_questions, throughput_questions) -> dict:
    # Warm: the encoder's kernels are prepared per input length on first use
    # (hundreds of ms under bfloat16), and the first searches page the index in.
    for question in dict.fromkeys([*questions, *compare_questions, *throughput_questions]):
        embedder.encode([question])
    for question in questions[:3]:
        ask(question)
    compare(compare_questions[0])
    # Encoding alone and the whole answer are timed alternately, question by
    # question, so both see the same machine (other processes come and go).
    encode, asks = [], []
    for question in questions:
        encode += _time_each(lambda q: embedder.encode([q]), [question])
        asks += _time_each(ask, [question])
    compares = _time_each(compare, compare_questions)
    return {"ask_ms": percentiles(asks), "compare_ms": percentiles(compares),
            # Each question's time in order, so that a side can be read over the other's questions.
            "ask_each_ms": [round(t, 3) for t in asks], "compare_each_ms": [round(t, 3) for t in compares],
            "encode_ms": percentiles(encode, (50, 95)),
            "qps_8_clients": _throughput(ask, throughput_questions),
            "questions": {"ask": len(asks), "compare": len(compares), "throughput": len(throughput_questions)}}


def _ours_worker(index_dir: str, embedder_spec, questions, compare_questions, throughput_questions,
                 compare_authorities) -> dict:
    from qa.answer import Answerer
    from qa.compare import compare

    embedder = _make_embedder(embedder_spec)
    embedder.encode(["warm up"])
    before = _rss_mb()
    start = time.perf_counter()
    index = HybridIndex.load(Path(index_dir))
    answerer = Answerer(index, embedder)  # merges the vocabulary's synonym sets: part of loading
    load_s = time.perf_counter() - start
    figures = _measure(answerer.ask, lambda q: compare(answerer, q, authorities=compare_authorities),
                       embedder, questions, compare_questions, throughput_questions)
    after = _rss_mb()
    return dict(figures, load_s=round(load_s, 3), **after,
                index_rss_mb=round(after["rss_mb"] - before["rss_mb"], 1), dense=index.dense.kind,
                reranker=getattr(answerer.reranker, "precision", "off"),
                dense_recall_at_10=round(recall_at_k(
                    index.dense, embedder.encode(list(questions[:RECALL_QUESTIONS])), 10), 4))


class _Baseline:
    """The naive design: rank-bm25 over every passage, exact FAISS, reciprocal rank fusion (k=60)."""

    def __init__(self, bm25, embeddings: np.ndarray, passages: list[Passage]) -> None:
        import faiss

        self.bm25, self.embeddings, self.passages = bm25, embeddings, passages
        start = time.perf_counter()
        self.flat = faiss.IndexFlatIP(embeddings.shape[1])
        self.flat.add(embeddings)
        self.flat_s = time.perf_counter() - start
        rows_of: dict[str, list[int]] = {}
        for row, passage in enumerate(passages):
            rows_of.setdefault(passage.authority, []).append(row)
        self.rows_of = {name: np.asarray(rows) for name, rows in rows_of.items()}

    def ask(self, embedder, question: str, k: int = 5, candidates: int = 100) -> list[Passage]:
        from qa.ranking import reciprocal_rank_fusion, rank_positions

        vector = embedder.encode([question])[0]
        lexical = self.bm25.get_scores(tokenize(question))
        lexical_top = np.argsort(-lexical)[:candidates]
        _, dense_top = self.flat.search(vector[None, :], candidates)
        fused = reciprocal_rank_fusion([lexical_top.tolist(), dense_top[0].tolist()])
        return [self.passages[p] for p in rank_positions(fused)[:k]]

    def compare(self, embedder, question: str, authorities: Sequence[str], k: int = 3) -> dict[str, list[Passage]]:
        from qa.ranking import reciprocal_rank_fusion, rank_positions

        vector = embedder.encode([question])[0]
        lexical = self.bm25.get_scores(tokenize(question))
        dense = self.embeddings @ vector
        out = {}
        for name in authorities:
            rows = self.rows_of.get(name, np.zeros(0, dtype=np.int64))
            lex = rows[np.argsort(-lexical[rows])[:30]]
            den = rows[np.argsort(-dense[rows])[:30]]
            fused = reciprocal_rank_fusion([lex.tolist(), den.tolist()])
            out[name] = [self.passages[p] for p in rank_positions(fused)[:k]]
        return out


def _baseline_worker(version_dir: str, work_dir: str, embedder_spec, questions, compare_questions,
                     throughput_questions, compare_authorities) -> dict:
    from rank_bm25 import BM25Okapi

    embedder = _make_embedder(embedder_spec)
    embedder.encode(["warm up"])
    before = _rss_mb()
    version = Path(version_dir)
    with open(version / "passages.jsonl", "rb") as handle:
        passages = [Passage.from_dict(json.loads(line)) for line in handle]
    start = time.perf_counter()
    bm25 = BM25Okapi([tokenize(p.retrieval_text) for p in passages])
    build_s = time.perf_counter() - start
    saved = Path(work_dir) / "baseline.pickle"
    with open(saved, "wb") as handle:
        pickle.dump((bm25, passages), handle, protocol=pickle.HIGHEST_PROTOCOL)
    del bm25, passages
    gc.collect()
    start = time.perf_counter()
    with open(saved, "rb") as handle:
        bm25, passages = pickle.load(handle)
    embeddings = np.load(version / "embeddings.npy")
    baseline = _Baseline(bm25, embeddings, passages)
    load_s = time.perf_counter() - start
    build_s += baseline.flat_s  # the flat index is rebuilt at every load, as a naive app does at start-up
    disk_mb = (saved.stat().st_size + (version / "embeddings.npy").stat().st_size) / 2**20
    figures = _measure(lambda q: baseline.ask(embedder, q),
                       lambda q: baseline.compare(embedder, q, compare_authorities),
                       embedder, questions, compare_questions, throughput_questions)
    after = _rss_mb()
    return dict(figures, build_s=round(build_s, 2), load_s=round(load_s, 3), disk_mb=round(disk_mb, 1), **after,
                index_rss_mb=round(after["rss_mb"] - before["rss_mb"], 1))


def _in_child(function, *args, isolate: bool = True) -> dict:
    if not isolate:
        return function(*args)
    context = multiprocessing.get_context("spawn")
    with context.Pool(1) as pool:
        return pool.apply(function, args)


def _dir_mb(path: Path) -> float:
    return round(sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file()) / 2**20, 1)


# -- the real corpus, embedded once -------------------------------------------

def real_corpus(settings: Settings, embedder, cache_dir: Path | None = None):
    """The default corpus's passages, document records and embeddings (cached on disk by content)."""
    from index.cache import EmbeddingCache
    from index.update import document_record
    from ingest import ingest_files

    result = ingest_files([Path(settings.corpus_dir)])
    documents = [document_record(report) for report in result.documents]
    passages = [p for report in result.documents for p in report.passages]
    cache = None
    if cache_dir is not None:
        cache = EmbeddingCache(cache_dir, embedder.fingerprint, embedder.dim)
    vectors = embed_with_cache([p.retrieval_text for p in passages], embedder, cache)
    return passages, documents, vectors


def _default_cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "protocol-qa" / "bench-embeddings"


# -- the run ------------------------------------------------------------------

RECALL_QUESTIONS = 50
KEYS = ("ask_ms", "compare_ms", "encode_ms", "qps_8_clients", "build_s", "load_s", "rss_mb", "disk_mb")


def run_bench(passages: int, settings: Settings, plot: str | Path | None = None, questions: int = 200, *,
              embedder=None, isolate: bool = True, work_dir: Path | None = None,
              cache_dir: Path | None = None, seed: int = 0) -> dict[str, Any]:
    """Measure ours and the baseline at ``passages`` synthetic passages.

    ``embedder``: an embedder object (must pickle when ``isolate``), or None
    for the real encoder (``settings.encoder``). ``isolate`` runs each side in
    a spawned child process (RSS per side); False runs in this process (tests).
    ``plot``: a PNG path; this run's figures are appended to the JSON Lines
    file beside it (same name, ``.jsonl``) and every N recorded there is drawn.
    Returns {"json": the DESIGN.md object, "table": text, "details": extra figures}.
    """
    if passages < 1:
        raise ValueError(f"--passages must be at least 1, got {passages}")
    if questions < 1:
        raise ValueError(f"--questions must be at least 1, got {questions}")
    embedder_spec = embedder if embedder is not None else settings.encoder
    local_embedder = _make_embedder(embedder_spec)
    real_passages, real_documents, real_vectors = real_corpus(
        settings, local_embedder, cache_dir if cache_dir is not None else (None if embedder else _default_cache_dir()))

    start = time.perf_counter()
    corpus, documents, embeddings = synthetic_corpus(real_passages, real_documents, real_vectors, passages, seed=seed)
    synth_s = time.perf_counter() - start
    real_authorities = sorted({p.authority for p in corpus[:len(real_passages)]})
    synthetic_names = [f"Synthetic Council {i:04d}" for i in range(1, COMPARE_SYNTHETIC + 1)]
    present = {p.authority for p in corpus[len(real_passages):len(real_passages) + 2000]}
    compare_authorities = real_authorities + [a for a in synthetic_names if a in present]

    asked = bench_questions(questions)
    compare_questions = asked[: max(3, questions // 4)]
    throughput_questions = bench_questions(max(THROUGHPUT_CLIENTS * 4, questions // 2))
    if passages > BASELINE_QUESTIONS_ABOVE:
        base_asked = asked[:BASELINE_QUESTIONS]
        base_compare = compare_questions[: max(3, BASELINE_QUESTIONS // 2)]
        base_throughput = throughput_questions[:THROUGHPUT_CLIENTS * 2]
    else:
        base_asked, base_compare, base_throughput = asked, compare_questions, throughput_questions

    owned = None
    if work_dir is None:
        owned = tempfile.TemporaryDirectory(prefix="protocol-qa-bench-")
        work_dir = Path(owned.name)
    try:
        index_dir = Path(work_dir) / "index"
        start = time.perf_counter()
        index = HybridIndex.build(corpus, documents, local_embedder, cache=_Precomputed(embeddings))
        # Provisions grouped as an ingest groups them (index.update): the reranker's head and the
        # folding of copies read them, so a bench without them times another pipeline.
        grouping = time.perf_counter()
        index.provisions = group_provisions(index)
        build_s = time.perf_counter() - start
        stages = {k: round(v, 2) for k, v in (index.build_stats.seconds if index.build_stats else {}).items()}
        stages["provisions"] = round(time.perf_counter() - grouping, 2)
        start = time.perf_counter()
        version = index.save(index_dir)
        save_s = time.perf_counter() - start
        disk_mb = _dir_mb(version)
        del index, corpus, documents, embeddings
        gc.collect()
        log.info("built %d passages in %.1f s, saved in %.1f s", passages, build_s, save_s)

        log.info("measuring ours")
        ours = _in_child(_ours_worker, str(index_dir), embedder_spec, asked, compare_questions,
                         throughput_questions, compare_authorities, isolate=isolate)
        ours.update(build_s=round(build_s, 2), disk_mb=disk_mb, save_s=round(save_s, 2), build_stages=stages)
        log.info("measuring the baseline")
        baseline = _in_child(_baseline_worker, str(version), str(work_dir), embedder_spec, base_asked,
                             base_compare, base_throughput, compare_authorities, isolate=isolate)
    finally:
        if owned is not None:
            owned.cleanup()

    design = {"passages": passages, "cores": os.cpu_count() or 1,
              "ours": {key: ours[key] for key in KEYS}, "baseline": {key: baseline[key] for key in KEYS}}
    details = {"ours": ours, "baseline": baseline, "same_questions": same_questions(ours, baseline),
               "synthetic_s": round(synth_s, 2),
               "compare_authorities": compare_authorities,
               "encoder": getattr(local_embedder, "name", "?"), "backend": str(embedder_spec)
               if isinstance(embedder_spec, str) else type(embedder_spec).__name__}
    result = {"json": design, "table": format_table(design, details), "details": details}
    if plot:
        results_file = Path(plot).with_suffix(".jsonl")
        results_file.parent.mkdir(parents=True, exist_ok=True)
        with open(results_file, "a", encoding="utf-8") as handle:
            handle.write(json.dumps({**design, "details": details}) + "\n")
        draw_plot(results_file, Path(plot))
    return result


def same_questions(ours: dict, baseline: dict) -> dict[str, Any]:
    """Ours timed over the questions the baseline answered (its first ones: above
    ``BASELINE_QUESTIONS_ABOVE`` passages the baseline answers only ``BASELINE_QUESTIONS``
    asks), so that a speed-up compares like with like rather than ours over 200
    questions with the baseline over 12."""
    figures: dict[str, Any] = {}
    for name in ("ask", "compare"):
        theirs = baseline[f"{name}_each_ms"]
        mine, base = percentiles(ours[f"{name}_each_ms"][:len(theirs)]), percentiles(theirs)
        figures[name] = {"questions": len(theirs), "ours_ms": mine, "baseline_ms": base,
                         "speedup": {key: round(base[key] / mine[key], 2) if mine[key] else 0.0 for key in mine}}
    return figures


def format_table(design: dict, details: dict) -> str:
    """The figures of one run as an aligned text table, ours beside the baseline."""
    ours, base = details["ours"], details["baseline"]
    rows = [("", "ours", "baseline", "ratio")]

    def add(label, a, b, better_low=True):
        ratio = (b / a if better_low else a / b) if a and b else 0
        rows.append((label, f"{a:,.2f}", f"{b:,.2f}", f"{ratio:,.1f}x" if ratio else ""))

    for name in ("ask_ms", "compare_ms"):
        for p in ("p50", "p95", "p99"):
            add(f"{name[:-3]} {p} (ms)", ours[name][p], base[name][p])
    for p in ("p50", "p95"):
        add(f"encode {p} (ms)", ours["encode_ms"][p], base["encode_ms"][p])
    add("answers/s, 8 clients", ours["qps_8_clients"], base["qps_8_clients"], better_low=False)
    for key, label in (("build_s", "build (s)"), ("load_s", "load (s)"), ("rss_mb", "RSS (MB)"),
                       ("disk_mb", "disk (MB)")):
        add(label, ours[key], base[key])
    width = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = [f"protocol-qa bench: {design['passages']:,} passages, {design['cores']} cores, "
             f"dense index {ours.get('dense', '?')}, reranker {ours.get('reranker', '?')}"]
    lines += ["  ".join(cell.ljust(width[0]) if i == 0 else cell.rjust(width[i]) for i, cell in enumerate(row))
              for row in rows]
    q_ours, q_base = ours["questions"], base["questions"]
    lines.append(f"questions timed: ours ask {q_ours['ask']}, compare {q_ours['compare']}, throughput "
                 f"{q_ours['throughput']}; baseline ask {q_base['ask']}, compare {q_base['compare']}, "
                 f"throughput {q_base['throughput']}")
    same = details["same_questions"]
    for name in ("ask", "compare"):
        figures = same[name]
        lines.append(f"{name} on the baseline's {figures['questions']} questions: ours p50 / p95 "
                     f"{figures['ours_ms']['p50']:,.2f} / {figures['ours_ms']['p95']:,.2f} ms, "
                     f"{figures['speedup']['p50']:,.1f}x / {figures['speedup']['p95']:,.1f}x faster")
    lines.append(f"dense recall@10 of ours against exact search: {ours['dense_recall_at_10']:.3f}")
    lines.append(f"compare over {len(details['compare_authorities'])} authorities: "
                 + ", ".join(details["compare_authorities"]))
    lines.append(f"RSS of ours: {ours['rss_anon_mb']:,.0f} MB private + {ours['rss_file_mb']:,.0f} MB "
                 f"file-backed (shared between processes); index alone {ours['index_rss_mb']:,.0f} MB")
    return "\n".join(lines)


# -- the plot -----------------------------------------------------------------

def draw_plot(results_file: Path, png: Path) -> Path:
    """ask p50/p95 against N (log-log), ours and the baseline, from every run in ``results_file``.

    Drawn with Pillow (installed with Streamlit), so no plotting library is needed;
    the latest run at each N wins.
    """
    from PIL import Image, ImageDraw

    runs: dict[int, dict] = {}
    for line in Path(results_file).read_text("utf-8").splitlines():
        if line.strip():
            record = json.loads(line)
            runs[int(record["passages"])] = record
    ns = sorted(runs)
    series = [("ours p50", "ours", "p50", (31, 119, 180)), ("ours p95", "ours", "p95", (128, 177, 211)),
              ("baseline p50", "baseline", "p50", (214, 39, 40)), ("baseline p95", "baseline", "p95", (240, 150, 150))]
    values = [runs[n][side]["ask_ms"][p] for n in ns for _, side, p, _ in series if runs[n][side]["ask_ms"][p] > 0]
    width, height, left, right, top, bottom = 720, 440, 70, 160, 30, 50
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    if not ns or not values:
        image.save(png)
        return png
    x_lo, x_hi = np.log10(min(ns)) - 0.2, np.log10(max(ns)) + 0.2
    y_lo, y_hi = np.floor(np.log10(min(values))), np.ceil(np.log10(max(values)))
    y_hi = max(y_hi, y_lo + 1)

    def xy(n, ms):
        x = left + (np.log10(n) - x_lo) / (x_hi - x_lo) * (width - left - right)
        y = height - bottom - (np.log10(ms) - y_lo) / (y_hi - y_lo) * (height - top - bottom)
        return float(x), float(y)

    draw.rectangle([left, top, width - right, height - bottom], outline="black")
    for decade in range(int(y_lo), int(y_hi) + 1):
        _, y = xy(ns[0], 10.0 ** decade)
        draw.line([left, y, width - right, y], fill=(225, 225, 225))
        draw.text((8, y - 6), f"{10 ** decade:g} ms", fill="black")
    for n in ns:
        x, _ = xy(n, 10.0 ** y_lo)
        draw.line([x, top, x, height - bottom], fill=(235, 235, 235))
        draw.text((x - 18, height - bottom + 6), f"{n:,}", fill="black")
    draw.text((left, 8), "ask latency against passages (log-log), protocol-qa bench", fill="black")
    draw.text((left + 200, height - 20), "passages (N)", fill="black")
    for row, (label, side, p, colour) in enumerate(series):
        points = [xy(n, runs[n][side]["ask_ms"][p]) for n in ns if runs[n][side]["ask_ms"][p] > 0]
        if len(points) > 1:
            draw.line(points, fill=colour, width=3)
        for x, y in points:
            draw.ellipse([x - 4, y - 4, x + 4, y + 4], fill=colour)
        ly = top + 10 + row * 20
        draw.line([width - right + 10, ly + 6, width - right + 35, ly + 6], fill=colour, width=3)
        draw.text((width - right + 40, ly), label, fill="black")
    image.save(png)
    return png

