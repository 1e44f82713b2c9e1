"""The hybrid index: passages, documents, BM25, dense vectors; built, saved and loaded together.

Fusion of the two rankings is deliberately not here: :mod:`qa` fuses, so
fusion modes can be compared on the same loaded index.

Files of one version (besides ``manifest.json``, see :mod:`index.store`):
``passages.jsonl`` and ``documents.jsonl`` (one JSON object per line) with
``passages.offsets.npy`` / ``documents.offsets.npy`` (byte offsets of the
lines, so a large corpus can be read lazily), ``facets.json`` +
``facets.npy`` (authority/kind/status codes per passage, for masks without
touching the passages), ``embeddings.npy`` (float32, memory-mapped on load),
the ``lexical_*`` files and, above the approximate-search threshold,
``dense_ivf.faiss``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import mmap
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from index import store
from index.dense import APPROXIMATE_ABOVE, DenseIndex
from index.lexical import LexicalIndex, tokenize
from ingest.passage import Passage

__all__ = ["HybridIndex", "BuildStats", "corpus_fingerprint", "embed_with_cache", "LAZY_ABOVE"]

log = logging.getLogger(__name__)

# Corpora larger than this are decoded from disk on access rather than all at load.
LAZY_ABOVE = 100_000
FACETS = ("authority", "kind", "status")
# Key in facets.json of the per-authority summary (see HybridIndex.authority_documents).
AUTHORITY_DOCUMENTS = "authority_documents"
ENCODE_CHUNK = 256
# Passages whose token sets HybridIndex.token_set keeps (a few MB).
TOKEN_SETS = 16_384


# Document fields computed from the corpus as a whole at ingest (index.update): not part
# of what was ingested, so they do not change the corpus's fingerprint.
DERIVED_DOCUMENT_FIELDS = ("adopts",)


def corpus_fingerprint(passages: Iterable[Passage], documents: Iterable[Mapping[str, Any]]) -> str:
    """sha256 over every passage record and every document record (canonical JSON), in order."""
    digest = hashlib.sha256()
    # The same JSON as json.dumps(passage.to_dict(), sort_keys=True), without
    # dataclasses.asdict's deep copy: 1.75x faster (about 12 s saved at 1M passages).
    encode = json.JSONEncoder(sort_keys=True, ensure_ascii=False).encode
    names = [f.name for f in fields(Passage)]
    for passage in passages:
        record = {name: getattr(passage, name) for name in names}
        if record["pages"] is not None:
            record["pages"] = list(record["pages"])
        digest.update(encode(record).encode("utf-8"))
        digest.update(b"\n")
    digest.update(b"\x1e")
    for document in documents:
        document = {key: value for key, value in document.items() if key not in DERIVED_DOCUMENT_FIELDS}
        digest.update(json.dumps(document, sort_keys=True, ensure_ascii=False, default=str).encode("utf-8"))
        digest.update(b"\n")
    return digest.hexdigest()[:32]


@dataclass
class BuildStats:
    """How a build went: passages embedded now versus taken from the cache, and seconds per stage."""

    embedded: int = 0
    cached: int = 0
    seconds: dict[str, float] = field(default_factory=dict)


def embed_with_cache(texts: Sequence[str], embedder, cache=None, *, progress: bool = False,
                     stats: BuildStats | None = None) -> np.ndarray:
    """Embeddings of ``texts``, taking what ``cache`` has and encoding (and caching) the rest.

    Texts to encode are sorted by length before batching, so each batch pads
    to similar lengths (faster on the transformer), and encoded in chunks of
    ``ENCODE_CHUNK`` so a tqdm bar (``progress``) advances steadily.
    """
    stats = stats if stats is not None else BuildStats()
    vectors = np.zeros((len(texts), embedder.dim), dtype=np.float32)
    if cache is not None:
        keys = cache.keys(texts)
        found, cached = cache.get_many(keys)
        vectors[found] = cached[found]
    else:
        keys, found = None, np.zeros(len(texts), dtype=bool)
    missing = np.flatnonzero(~found)
    stats.cached += int(found.sum())
    stats.embedded += int(missing.size)
    if missing.size:
        order = missing[np.argsort([len(texts[i]) for i in missing], kind="stable")]
        chunks = [order[i:i + ENCODE_CHUNK] for i in range(0, order.size, ENCODE_CHUNK)]
        bar = None
        if progress:
            from tqdm import tqdm
            bar = tqdm(total=int(order.size), desc="embedding passages", unit="passage")
        try:
            for chunk in chunks:
                vectors[chunk] = embedder.encode([texts[i] for i in chunk], batch_size=32)
                if bar is not None:
                    bar.update(len(chunk))
        finally:
            if bar is not None:
                bar.close()
        if cache is not None:
            cache.put_many([keys[i] for i in missing], vectors[missing])
    return vectors


class _JsonlTable(Sequence):
    """A read-only sequence decoded on access from a memory-mapped JSON Lines file.

    The last ``RECENT`` records decoded are kept: answering one question reads
    its best passages several times (diversifying, abstaining, highlighting).
    """

    RECENT = 4096

    def __init__(self, path: Path, offsets: np.ndarray, decode: Callable[[dict], Any]) -> None:
        self._file = open(path, "rb")
        size = path.stat().st_size
        self._map = mmap.mmap(self._file.fileno(), 0, access=mmap.ACCESS_READ) if size else b""
        self._offsets = offsets
        self._decode = decode
        self._record = lru_cache(maxsize=self.RECENT)(self._read)

    def __len__(self) -> int:
        return len(self._offsets) - 1

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(i)
        return self._record(int(i))

    def _read(self, i: int):
        line = self._map[int(self._offsets[i]):int(self._offsets[i + 1])]
        return self._decode(json.loads(line))


def _write_jsonl(path: Path, records: Iterable[dict]) -> np.ndarray:
    offsets = [0]
    with open(path, "wb") as handle:
        for record in records:
            line = json.dumps(record, ensure_ascii=False).encode("utf-8") + b"\n"
            handle.write(line)
            offsets.append(offsets[-1] + len(line))
    return np.asarray(offsets, dtype=np.int64)


def _read_jsonl(path: Path, offsets: np.ndarray, decode: Callable[[dict], Any], lazy: bool):
    if lazy:
        return _JsonlTable(path, offsets, decode)
    with open(path, "rb") as handle:
        return [decode(json.loads(line)) for line in handle]


class IndexFacts:
    """What every index engine says about itself from its ``metadata`` and ``passages``
    (the embedded :class:`HybridIndex` and :class:`index.milvus_index.MilvusIndex`)."""

    metadata: dict
    passages: Sequence[Passage]

    @property
    def fingerprint(self) -> str:
        """Fingerprint of the corpus (passages and documents)."""
        return self.metadata["corpus_fingerprint"]

    @property
    def model_name(self) -> str:
        return self.metadata["model"]["name"]

    @property
    def model_fingerprint(self) -> str:
        return self.metadata["model"]["fingerprint"]

    @property
    def dim(self) -> int:
        return int(self.metadata["model"]["dim"])

    def _token_set(self, row: int, context: bool = False) -> frozenset[str]:
        """The distinct tokens of passage ``row``'s text, or with ``context`` of its
        retrieval text (heading path and text). Kept for the most recent
        ``TOKEN_SETS`` calls as ``token_set``: a comparison asks for the same
        clauses once per council, and every question for its best three."""
        passage = self.passages[row]
        return frozenset(tokenize(passage.retrieval_text if context else passage.text))


class HybridIndex(IndexFacts):
    """Passages with a BM25 index and a dense index over the same rows.

    Row ``i`` of every structure is ``passages[i]``. Read-only once built or
    loaded, so one instance serves many threads.
    """

    def __init__(self, passages: Sequence[Passage], documents: Sequence[dict], lexical: LexicalIndex,
                 dense: DenseIndex, embeddings: np.ndarray, facets: dict[str, list[str]],
                 facet_codes: np.ndarray, metadata: dict[str, Any]) -> None:
        self.passages = passages
        self.documents = documents
        self.lexical = lexical
        self.dense = dense
        self.embeddings = embeddings
        self._facets = facets
        self._facet_codes = facet_codes
        self.metadata = metadata
        self.build_stats: BuildStats | None = None
        self.directory: Path | None = None
        # Provisions (index.provisions): grouped at ingest and saved with the version;
        # None for an index built without them (computed on first use by qa.provisions).
        self.provisions: list | None = None
        self.token_set = lru_cache(maxsize=TOKEN_SETS)(self._token_set)

    def __len__(self) -> int:
        return len(self.passages)

    # ---------------------------------------------------------------- build
    @classmethod
    def build(cls, passages: Sequence[Passage], documents: Sequence[dict], embedder, *, cache=None,
              progress: bool | None = None, approximate_above: int = APPROXIMATE_ABOVE) -> "HybridIndex":
        """Embed (through ``cache`` when given), tokenize and index ``passages``.

        ``documents`` are the document records of ingest (source, path, sha256,
        authority, title, kind, status, date, attribution, note, pages, text).
        ``progress`` shows a tqdm bar over embedding. ``build_stats`` on the
        result says how many passages were embedded and how many came from the cache.
        """
        passages = list(passages)
        documents = [dict(d) for d in documents]
        stats = BuildStats()
        start = time.perf_counter()
        texts = [p.retrieval_text for p in passages]
        embeddings = embed_with_cache(texts, embedder, cache, progress=bool(progress), stats=stats)
        stats.seconds["embed"] = time.perf_counter() - start
        start = time.perf_counter()
        lexical = LexicalIndex.build([tokenize(t) for t in texts])
        stats.seconds["lexical"] = time.perf_counter() - start
        start = time.perf_counter()
        dense = DenseIndex.build(embeddings, approximate_above=approximate_above)
        stats.seconds["dense"] = time.perf_counter() - start
        facets, codes = _facet_codes(passages)
        facets[AUTHORITY_DOCUMENTS] = _authority_documents(passages)
        metadata = {
            "model": {"name": embedder.name, "fingerprint": embedder.fingerprint, "dim": int(embedder.dim)},
            "corpus_fingerprint": corpus_fingerprint(passages, documents),
            "passages": len(passages), "documents": len(documents), "dense": dense.kind,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        index = cls(passages, documents, lexical, dense, embeddings, facets, codes, metadata)
        index.build_stats = stats
        return index

    # ---------------------------------------------------------------- search
    def lexical_scores(self, query_weights: Mapping[str, float]) -> np.ndarray:
        """BM25 score of every passage (see :meth:`LexicalIndex.scores`)."""
        return self.lexical.scores(query_weights)

    def lexical_top_k(self, query_weights: Mapping[str, float], k: int,
                      allowed: np.ndarray | None = None) -> list[tuple[int, float]]:
        """Best ``k`` (row, BM25 score) with a non-zero score, best first."""
        return self.lexical.top_k(query_weights, k, allowed)

    def dense_top_k(self, vector: np.ndarray, k: int, allowed: np.ndarray | None = None, *,
                    exact_scores: bool = True) -> list[tuple[int, float]]:
        """Best ``k`` (row, cosine similarity) to a unit query ``vector``, best first
        (see :meth:`DenseIndex.search` for ``exact_scores``)."""
        return self.dense.search(vector, k, allowed, exact_scores=exact_scores)

    def dense_scores_for(self, vector: np.ndarray, rows: Sequence[int]) -> np.ndarray:
        """Exact cosine similarity of ``vector`` to the passages at ``rows``."""
        if len(rows) == 0:
            return np.zeros(0, dtype=np.float32)
        return np.asarray(self.embeddings[np.asarray(rows)]) @ vector

    def best_dense_score(self, vectors: np.ndarray, rows: Sequence[int]) -> float:
        """The highest cosine similarity of any of ``vectors`` (unit, one per row)
        to any of the passages at ``rows``; 0.0 for no rows."""
        if len(rows) == 0:
            return 0.0
        return float((np.asarray(self.embeddings[np.asarray(rows)]) @ np.asarray(vectors).T).max())

    def vector(self, row: int) -> np.ndarray:
        """The stored unit embedding of passage ``row``."""
        return np.asarray(self.embeddings[row], dtype=np.float32)

    def position_of(self, passage_id: str) -> int | None:
        """Row of the passage with this id, or None (a dictionary built on first use)."""
        lookup = getattr(self, "_positions", None)
        if lookup is None:
            lookup = {passage.id: row for row, passage in enumerate(self.passages)}
            self._positions = lookup
        return lookup.get(passage_id)

    @property
    def authorities(self) -> list[str]:
        """Every authority in the index, sorted."""
        return self.facet_values("authority")

    def mask(self, authorities: Iterable[str] | None = None, kinds: Iterable[str] | None = None,
             statuses: Iterable[str] | None = None) -> np.ndarray | None:
        """Boolean mask of passages matching every given filter (exact values); None when no filter.

        A value that no passage has matches nothing (the mask may be all False).
        """
        mask = None
        for column, wanted in enumerate((authorities, kinds, statuses)):
            if wanted is None:
                continue
            code_of = self._facet_lookup(column)
            codes = sorted({code_of[value] for value in set(wanted) if value in code_of})
            order, bounds = self._facet_groups(column)
            # Set only the rows of the wanted values (one authority: ~100 rows of a
            # million) instead of comparing every row's code (np.isin, ms at 1M).
            selected = np.zeros(len(self._facet_codes), dtype=bool)
            for code in codes:
                selected[order[bounds[code]:bounds[code + 1]]] = True
            mask = selected if mask is None else mask & selected
        return mask

    def _facet_lookup(self, column: int) -> dict[str, int]:
        """Value -> code of facet ``column``, built once (a list's ``index`` is O(values))."""
        cache = self.__dict__.setdefault("_facet_lookups", {})
        lookup = cache.get(column)
        if lookup is None:
            lookup = cache[column] = {value: code for code, value in enumerate(self._facets[FACETS[column]])}
        return lookup

    def _facet_groups(self, column: int) -> tuple[np.ndarray, np.ndarray]:
        """Rows sorted by their code in ``column`` and where each code's rows start, built once.

        Built lazily and idempotently: two threads racing here build equal arrays.
        """
        cache = self.__dict__.setdefault("_facet_group_cache", {})
        groups = cache.get(column)
        if groups is None:
            codes = np.asarray(self._facet_codes[:, column])
            order = np.argsort(codes, kind="stable")
            bounds = np.searchsorted(codes[order], np.arange(len(self._facets[FACETS[column]]) + 1))
            groups = cache[column] = (order, bounds)
        return groups

    def authority_documents(self) -> list[tuple[str, tuple[str, ...], str]]:
        """(authority, its document titles, kind) per authority, in index order.

        Titles are each authority's distinct ``Passage.document`` values in row
        order; kind is ``"model_code"`` when any of its passages is a model
        code, else its first passage's kind. Stored with the index at build, so
        no passage is decoded: scanning a million lazily decoded passages costs
        tens of seconds. An index saved before this was stored computes it once.
        """
        summary = self._facets.get(AUTHORITY_DOCUMENTS)
        if summary is None:
            summary = self._facets[AUTHORITY_DOCUMENTS] = _authority_documents(self.passages)
        return [(authority, tuple(titles), kind) for authority, titles, kind in summary]

    def facet_values(self, facet: str) -> list[str]:
        """The distinct values of ``facet`` ("authority", "kind" or "status"), sorted."""
        return list(self._facets[facet])

    # ---------------------------------------------------------------- storage
    def save(self, index_dir: Path) -> Path:
        """Save as a new version of ``index_dir``, atomically (see :mod:`index.store`)."""
        def write_files(folder: Path) -> None:
            np.save(folder / "passages.offsets.npy", _write_jsonl(folder / "passages.jsonl",
                                                                  (p.to_dict() for p in self.passages)))
            np.save(folder / "documents.offsets.npy", _write_jsonl(folder / "documents.jsonl", self.documents))
            (folder / "facets.json").write_text(json.dumps(self._facets), encoding="utf-8")
            np.save(folder / "facets.npy", self._facet_codes)
            np.save(folder / "embeddings.npy", np.ascontiguousarray(self.embeddings, dtype=np.float32))
            self.lexical.save(folder)
            self.dense.save(folder)
            if self.provisions is not None:
                (folder / "provisions.json").write_text(
                    json.dumps([provision.to_dict() for provision in self.provisions]), encoding="utf-8")

        version = store.save_version(index_dir, write_files, self.metadata)
        self.directory = version
        return version

    @classmethod
    def load(cls, index_dir: Path, *, expected_model_fingerprint: str | None = None,
             verify: str = "auto") -> "HybridIndex":
        """Load the current version of ``index_dir``.

        Raises :class:`~index.store.IndexNotFound`, :class:`~index.store.IndexDamaged`
        (naming the file) or :class:`~index.store.IndexIncompatible` (another
        format, or a model fingerprint other than ``expected_model_fingerprint``).
        If writers replace the version (and collect the old one) while this
        reads, the read starts again on the new version, up to three times.
        """
        index_dir = Path(index_dir)
        for attempt in range(3):
            version_dir = store.current_version(index_dir)
            try:
                return cls._load_once(index_dir, version_dir, expected_model_fingerprint, verify)
            except store.IndexDamaged:
                replaced = store.current_version(index_dir) != version_dir or not version_dir.exists()
                if not replaced or attempt == 2:
                    raise
                log.info("index %s was replaced while loading; loading the new version", index_dir)
        raise AssertionError("unreachable")

    @classmethod
    def _load_once(cls, index_dir: Path, version_dir: Path, expected_model_fingerprint: str | None,
                   verify: str) -> "HybridIndex":
        version_dir, manifest = store.open_version(index_dir, verify=verify, version_dir=version_dir)
        model = manifest.get("model") or {}
        if expected_model_fingerprint is not None and model.get("fingerprint") != expected_model_fingerprint:
            raise store.IndexIncompatible(
                f"The index at {index_dir} was built with embedding model {model.get('name')!r} "
                f"(fingerprint {model.get('fingerprint')}), not the model in use "
                f"(fingerprint {expected_model_fingerprint}); {store.rebuild_hint(index_dir)}")
        for name in ("passages.jsonl", "documents.jsonl", "embeddings.npy", "facets.npy"):
            if name not in manifest["files"]:
                raise store.IndexDamaged(f"The index file {version_dir / name} is not listed in "
                                         f"{version_dir / store.MANIFEST}; {store.rebuild_hint(index_dir)}")
        current = "manifest.json"
        try:
            n = int(manifest["passages"])
            lazy = n > LAZY_ABOVE
            current = "passages.offsets.npy"
            offsets = store.load_array(version_dir / current)
            current = "passages.jsonl"
            passages = _read_jsonl(version_dir / current, offsets, Passage.from_dict, lazy)
            current = "documents.offsets.npy"
            doc_offsets = store.load_array(version_dir / current)
            current = "documents.jsonl"
            documents = _read_jsonl(version_dir / current, doc_offsets, dict, lazy)
            current = "facets.json"
            facets = json.loads((version_dir / current).read_text(encoding="utf-8"))
            current = "facets.npy"
            codes = store.load_array(version_dir / current)
            current = "embeddings.npy"
            embeddings = store.load_array(version_dir / current, mmap_mode="r")
            current = "lexical_vocab.json"
            lexical = LexicalIndex.load(version_dir)
            current = "dense_ivf.faiss"
            dense = DenseIndex.load(version_dir, embeddings)
            provisions = None
            if "provisions.json" in manifest["files"]:
                from index.provisions import Provision

                current = "provisions.json"
                provisions = [Provision.from_dict(record)
                              for record in json.loads((version_dir / current).read_text(encoding="utf-8"))]
            current = "passages.jsonl"
            if len(passages) != n or embeddings.shape != (n, int(model.get("dim", 0))) or \
                    lexical.n_docs != n or codes.shape[0] != n:
                raise ValueError(f"row counts disagree: manifest {n}, passages {len(passages)}, "
                                 f"embeddings {embeddings.shape}, lexical {lexical.n_docs}")
        except store.IndexProblem:
            raise
        except Exception as exc:  # noqa: BLE001 - any unreadable file is damage; name it
            raise store.IndexDamaged(f"The index file {version_dir / current} is unreadable ({exc}); "
                                     f"{store.rebuild_hint(index_dir)}") from exc
        metadata = {key: value for key, value in manifest.items() if key != "files"}
        index = cls(passages, documents, lexical, dense, embeddings, facets, codes, metadata)
        index.directory = version_dir
        index.provisions = provisions
        return index


def _authority_documents(passages: Iterable[Passage]) -> list[list]:
    return group_authority_documents((p.authority, p.document, p.kind) for p in passages)


def group_authority_documents(rows: Iterable[tuple[str, str, str]]) -> list[list]:
    """[authority, [titles], kind] per authority from (authority, title, kind) rows, in
    first-seen order: titles distinct in order, kind "model_code" when any row is one,
    else the first row's."""
    seen: dict[str, list] = {}
    for authority, title, kind in rows:
        entry = seen.get(authority)
        if entry is None:
            entry = seen[authority] = [authority, [], kind]
        if title not in entry[1]:
            entry[1].append(title)
        if kind == "model_code":
            entry[2] = "model_code"
    return list(seen.values())


def _facet_codes(passages: Sequence[Passage]) -> tuple[dict[str, list[str]], np.ndarray]:
    facets = {name: sorted({getattr(p, name) for p in passages}) for name in FACETS}
    lookup = {name: {value: i for i, value in enumerate(values)} for name, values in facets.items()}
    codes = np.zeros((len(passages), len(FACETS)), dtype=np.int32)
    for row, passage in enumerate(passages):
        for column, name in enumerate(FACETS):
            codes[row, column] = lookup[name][getattr(passage, name)]
    return facets, codes
