"""Lexical retrieval: a tokenizer and a sparse-matrix BM25 (rank-bm25's BM25Okapi,
with Lucene's idf by default), with synonym sets scored as one term.

rank-bm25 scores every document in a Python loop per query term, so a query
costs time linear in the corpus (about 134 ms at 43,500 passages). Here the
BM25 weight of every (term, passage) pair is precomputed once into a CSR
matrix with one row per term; a query then touches only the postings of its
own terms. With ``BM25Params(idf="okapi")`` the scores are the same numbers
as ``BM25Okapi(k1=1.5, b=0.75, epsilon=0.25).get_scores`` (to floating-point
rounding), including its floor on negative idf and its counting of a
repeated query term once per occurrence; ``tests/index/test_lexical.py``
checks that against rank-bm25 on real clauses. The default idf is Lucene's,
``log(1 + (N - df + 0.5) / (df + 0.5))``: the same tf and length
normalisation, but a term in most passages weighs little instead of being
floored up to a quarter of the average idf (see README "Retrieval quality").

Query terms carry weights: a weight multiplies the term's contribution, so
``query_weights(tokenize(q))`` (weight = number of occurrences) reproduces
BM25Okapi, and a caller can down-weight vocabulary expansions.

A query term may also be a tuple of tokens, a synonym set ("councillor",
"member", "cllr"): it is scored as one term whose occurrences are those of
any of its tokens, with the number of passages holding any of them as its
document frequency (as Lucene's SynonymQuery blends term statistics). A
passage that says "Members" then matches a question that says "councillor"
exactly as well as one that says "councillors", and a set whose names fill
the corpus weighs as little as such a word does. The postings of a set are
merged from the stored term frequencies on first use and kept.

Top-k without sorting everything: at a million passages a query's terms
touch hundreds of thousands of passages, and choosing the best k among all
of them cost more than scoring them. So each term with more than
``HEAD_SIZE`` postings also keeps its ``HEAD_SIZE`` highest-weighted postings
(an impact-ordered head, as in Anh and Moffat's impact-ordered indexes). The
k-th best score among the passages in the query terms' heads is a lower
bound on the true k-th best score, so one vectorised comparison against it
leaves a few hundred passages to sort instead of the whole corpus; the result
is still the exact top k.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import Stemmer

from index.store import load_array, load_arrays

try:  # scipy's C kernel for a sparse column times a scalar, added into a dense vector
    from scipy.sparse._sparsetools import csc_matvec as _csc_matvec
except ImportError:  # pragma: no cover - private scipy API; the numpy path below is exact too
    _csc_matvec = None

__all__ = [
    "STOPWORDS",
    "BM25Params",
    "LexicalIndex",
    "tokenize",
    "query_weights",
    "top_k_indices",
    "HEAD_SIZE",
    "Term",
]

# A query term: a token, or a tuple of tokens scored as one term (a synonym set).
Term = str | tuple[str, ...]

# Postings kept per term in impact order; terms with fewer are read whole.
HEAD_SIZE = 1024

# A standard English stopword list (the NLTK list, which also drops the "s"
# and "t" left by possessives and contractions), plus the modal verbs that
# open most clauses ("must", "shall"...): as bag-of-words terms they carry
# no topic, only noise for BM25 and for the vocabulary abstention signal.
STOPWORDS: frozenset[str] = frozenset("""
a about above after again against ain all am an and any are aren aren't as at be because been
before being below between both but by can couldn couldn't d did didn didn't do does doesn
doesn't doing don don't down during each few for from further had hadn hadn't has hasn hasn't
have haven haven't having he her here hers herself him himself his how i if in into is isn
isn't it it's its itself just ll m ma me mightn mightn't more most mustn mustn't my myself
needn needn't no nor not now o of off on once only or other our ours ourselves out over own
re s same shan shan't she she's should should've shouldn shouldn't so some such t than that
that'll the their theirs them themselves then there these they this those through to too
under until up ve very was wasn wasn't we were weren weren't what when where which while who
whom why will with won won't wouldn wouldn't y you you'd you'll you're you've your yours
yourself yourselves must shall would could might
""".split())

# Letters and digits of any script; "_" is excluded so snake_case splits.
_WORD = re.compile(r"[^\W_]+")
_STEMMER = Stemmer.Stemmer("english")


# British "-ise" spellings are read as "-ize" before stemming: the Snowball
# stemmer strips "-ize" ("criticize" and "criticism" both give "critic") but
# not "-ise" ("criticise" gives "criticis"). These words end in "-ise" in
# American English too, or are not "-ise" verbs at all, and keep their spelling.
_ISE = re.compile(r"([a-z]{2,}is)(e|es|ed|ing|ation|ations|er|ers)")
_ISE_KEPT: frozenset[str] = frozenset("""
advis apprais aris bruis chastis chemis circumcis clockwis compris compromis concis cruis demis
despis devis disguis enterpris excis exercis expertis franchis improvis incis likewis lis mais
merchandis nois otherwis paradis pois precis prais premis promis rais repris revis ris sunris
supervis surpris televis tis treatis upris vis wis advertis
""".split())


def _american(word: str) -> str:
    if "is" not in word:
        return word
    match = _ISE.fullmatch(word)
    if match is None or match.group(1) in _ISE_KEPT:
        return word
    return f"{match.group(1)[:-1]}z{match.group(2)}"


def tokenize(text: str) -> list[str]:
    """Lower-cased, stemmed word tokens of ``text`` with English stopwords dropped.

    Words are maximal runs of letters or digits (``"9.3.7"`` gives ``9``, ``3``,
    ``7``; ``"S151"`` gives ``s151``). Stemming is the Snowball English stemmer
    (PyStemmer, C), so "councillors" and "councillor", "instructions" and
    "instruct" meet; British "-ise" words are stemmed as their "-ize"
    spellings, so "criticise" meets "criticism" and "authorise" "authority".
    Deterministic; about a microsecond per word.
    """
    words = [_american(w) for w in _WORD.findall(text.lower()) if w not in STOPWORDS]
    return _STEMMER.stemWords(words) if words else []


def query_weights(tokens: Iterable[str]) -> dict[str, float]:
    """Weights of a token list as BM25Okapi counts them: one unit per occurrence."""
    return {term: float(count) for term, count in Counter(tokens).items()}


IDF_KINDS = ("lucene", "okapi")


@dataclass(frozen=True)
class BM25Params:
    """BM25 parameters; ``k1``, ``b`` and ``epsilon`` default to rank-bm25's.

    ``idf``: ``"lucene"`` (default), ``log(1 + (N - df + 0.5) / (df + 0.5))``,
    never negative; or ``"okapi"``, rank-bm25's BM25Okapi idf
    ``log(N - df + 0.5) - log(df + 0.5)`` with negative values replaced by
    ``epsilon`` times the mean idf of the vocabulary.
    """

    k1: float = 1.5
    b: float = 0.75
    epsilon: float = 0.25
    idf: str = "lucene"

    def __post_init__(self) -> None:
        if self.k1 < 0:
            raise ValueError(f"k1 must be >= 0, got {self.k1}")
        if not 0 <= self.b <= 1:
            raise ValueError(f"b must be between 0 and 1, got {self.b}")
        if self.idf not in IDF_KINDS:
            raise ValueError(f"idf must be one of {IDF_KINDS}, got {self.idf!r}")


def _idf(df, n_docs: int, params: BM25Params, average_idf: float):
    """idf of a document frequency, or of each in an array (see :class:`BM25Params`).

    A plain number stays a plain number: the scalar path is the one taken for
    every query term, where building a one-element array cost more than the
    arithmetic.
    """
    if params.idf == "lucene":
        return np.log1p((n_docs - df + 0.5) / (df + 0.5))
    idf = np.log(n_docs - df + 0.5) - np.log(df + 0.5)
    if np.ndim(idf) == 0:
        return idf if idf >= 0 else params.epsilon * average_idf
    return np.where(idf < 0, params.epsilon * average_idf, idf)


def _okapi_average_idf(df: np.ndarray, n_docs: int) -> float:
    """Mean over the vocabulary of the unfloored Okapi idf (rank-bm25's ``average_idf``)."""
    df = np.asarray(df, dtype=np.float64)
    return float((np.log(n_docs - df + 0.5) - np.log(df + 0.5)).mean()) if df.size else 0.0


def top_k_indices(scores: np.ndarray, k: int, allowed: np.ndarray | None = None,
                  floor: float = 0.0) -> list[tuple[int, float]]:
    """The ``k`` best (index, score) pairs among non-zero, allowed scores.

    Order is score descending, then index ascending, so ties are deterministic
    and the result equals a stable sort of the full vector. Cost is one
    ``argpartition`` over the candidates plus a sort of ``k`` of them, instead
    of sorting everything. A positive ``floor`` known not to exceed the k-th
    best score leaves only the scores at or above it as candidates.
    """
    if k <= 0 or scores.size == 0:
        return []
    keep = scores >= floor if floor > 0 else scores != 0
    if allowed is not None:
        if allowed.shape != scores.shape:
            raise ValueError(f"allowed mask has shape {allowed.shape}, expected {scores.shape}")
        keep &= allowed
    candidates = np.flatnonzero(keep)
    if candidates.size == 0:
        return []
    values = scores[candidates]
    if candidates.size > k:
        part = np.argpartition(-values, k - 1)[:k]
        threshold = values[part].min()
        # Everything tied with the k-th value is a candidate, so ties break by index.
        chosen = np.flatnonzero(values >= threshold)
        candidates, values = candidates[chosen], values[chosen]
    order = np.lexsort((candidates, -values))[:k]
    return [(int(candidates[i]), float(values[i])) for i in order]


class LexicalIndex:
    """BM25 over tokenized passages, as a term-by-passage CSR matrix of weights.

    Build with :meth:`build` from token lists (see :func:`tokenize`); persist
    with :meth:`save` / :meth:`load` (arrays as ``.npy``, memory-mapped on load
    so processes share one copy through the page cache).

    Weights are float64 so scores equal rank-bm25's to 1e-6 even for long
    queries; at a million passages of ~30 distinct terms that is about 360 MB
    (``indices`` int32 + ``data`` float64), plus 60 MB of term frequencies
    (uint16) from which synonym sets' postings are merged.
    """

    FILES = ("lexical_vocab.json", "lexical_indptr.npy", "lexical_indices.npy",
             "lexical_data.npy", "lexical_df.npy", "lexical_heads.npz",
             "lexical_tf.npy", "lexical_doclen.npy")
    # Synonym sets whose merged postings are kept: one per vocabulary group occurs in
    # practice; the bound only guards memory against a caller inventing sets.
    SET_CACHE = 1024

    def __init__(self, vocabulary: Sequence[str], indptr: np.ndarray, indices: np.ndarray,
                 data: np.ndarray, df: np.ndarray, n_docs: int, params: BM25Params,
                 avgdl: float, tf: np.ndarray, doc_len: np.ndarray,
                 heads: Mapping[str, np.ndarray] | None = None) -> None:
        self._terms = list(vocabulary)
        self._row = {term: row for row, term in enumerate(self._terms)}
        self._indptr = indptr
        self._indices = indices
        self._data = data
        self._df = df
        self._tf = tf
        self._doc_len = doc_len
        self.n_docs = int(n_docs)
        self.params = params
        self.avgdl = float(avgdl)
        self._average_idf = _okapi_average_idf(df, self.n_docs) if params.idf == "okapi" else 0.0
        heads = heads if heads is not None else _impact_heads(indptr, indices, data, HEAD_SIZE)
        self._head_rows = np.asarray(heads["rows"])
        self._head_docs = np.asarray(heads["docs"])
        self._head_data = np.asarray(heads["data"])
        self._head_size = int(heads["size"])
        self._head_slot = {int(row): slot for slot, row in enumerate(self._head_rows)}
        self._set_postings = lru_cache(maxsize=self.SET_CACHE)(self._merge_set)

    # ---------------------------------------------------------------- build
    @classmethod
    def build(cls, documents: Sequence[Sequence[str]], params: BM25Params = BM25Params(),
              *, head_size: int = HEAD_SIZE) -> "LexicalIndex":
        """Index token lists (one per passage). Time is linear in the total tokens.

        Mirrors rank-bm25: ``avgdl`` is the mean token count; the idf is
        :class:`BM25Params`' choice.
        """
        n_docs = len(documents)
        row_of: dict[str, int] = {}
        term_ids: list[int] = []
        doc_len = np.zeros(n_docs, dtype=np.int64)
        for doc, tokens in enumerate(documents):
            doc_len[doc] = len(tokens)
            for token in tokens:
                row = row_of.get(token)
                if row is None:
                    row = row_of[token] = len(row_of)
                term_ids.append(row)
        n_terms = len(row_of)
        terms = np.asarray(term_ids, dtype=np.int64)
        docs = np.repeat(np.arange(n_docs, dtype=np.int64), doc_len)
        # One (term, doc) key per occurrence; unique keys with counts give tf,
        # already sorted by term then doc, i.e. CSR order.
        keys, tf = np.unique(terms * max(n_docs, 1) + docs, return_counts=True)
        rows = keys // max(n_docs, 1)
        cols = (keys % max(n_docs, 1)).astype(np.int32)
        df = np.bincount(rows, minlength=n_terms).astype(np.int64)

        avgdl = float(doc_len.sum() / n_docs) if n_docs else 0.0
        idf = _idf(df.astype(np.float64), n_docs, params, _okapi_average_idf(df, n_docs))
        data = idf[rows] * _tf_part(tf.astype(np.float64), _length_norm(doc_len, avgdl, params)[cols], params)
        indptr = np.zeros(n_terms + 1, dtype=np.int64)
        np.cumsum(df, out=indptr[1:])
        vocabulary = sorted(row_of, key=row_of.__getitem__)
        heads = _impact_heads(indptr, cols, data, head_size)
        # A clause never repeats a word 65,535 times (ingest caps passage length); clip regardless.
        tf16 = np.minimum(tf, np.iinfo(np.uint16).max).astype(np.uint16)
        return cls(vocabulary, indptr, cols, data, df.astype(np.int32), n_docs, params, avgdl,
                   tf16, doc_len.astype(np.int32), heads)

    # ---------------------------------------------------------------- lookups
    @property
    def vocabulary(self) -> Mapping[str, int]:
        """Term -> row; ``term in index.vocabulary`` asks whether any passage has it."""
        return self._row

    def df(self, term: Term) -> int:
        """Number of passages containing ``term`` (a token, see :func:`tokenize`,
        or a synonym set: passages containing any of its tokens); 0 if none."""
        if isinstance(term, tuple):
            return int(self._set_postings(term)[0].size)
        row = self._row.get(term)
        return int(self._df[row]) if row is not None else 0

    def idf(self, term: Term) -> float:
        """The idf of ``term`` (see :class:`BM25Params`); 0.0 for an unknown term."""
        df = self.df(term)
        return float(_idf(df, self.n_docs, self.params, self._average_idf)) if df else 0.0

    def prepare(self, terms: Iterable[Term]) -> None:
        """Merge the postings of these synonym sets now (at a million passages a
        set of common names takes up to 60 ms), so no question pays for it."""
        for term in terms:
            if isinstance(term, tuple):
                self._set_postings(term)

    # ---------------------------------------------------------------- postings
    def _postings(self, term: Term) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """(passages, BM25 weights, head passages or None) of one query term."""
        if isinstance(term, tuple):
            return self._set_postings(term)
        row = self._row.get(term)
        if row is None:
            return _EMPTY, _EMPTY_DATA, None
        start, stop = int(self._indptr[row]), int(self._indptr[row + 1])
        slot = self._head_slot.get(row)
        head = None if slot is None else self._head_docs[slot * self._head_size:(slot + 1) * self._head_size]
        return self._indices[start:stop], self._data[start:stop], head

    def _merge_set(self, terms: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """Postings of a synonym set: term frequencies summed per passage, the
        set's document frequency for the idf, BM25 weights as for one term."""
        rows = sorted({self._row[t] for t in terms if t in self._row})
        if not rows:
            return _EMPTY, _EMPTY_DATA, None
        if len(rows) == 1:
            return self._postings(self._terms[rows[0]])
        spans = [(int(self._indptr[r]), int(self._indptr[r + 1])) for r in rows]
        docs = np.concatenate([np.asarray(self._indices[a:b]) for a, b in spans])
        tfs = np.concatenate([np.asarray(self._tf[a:b], dtype=np.float64) for a, b in spans])
        if docs.size * 8 < self.n_docs:
            docs, inverse = np.unique(docs, return_inverse=True)
            tf = np.bincount(inverse, weights=tfs)
        else:  # dense accumulation is cheaper than sorting when the set covers much of the corpus
            total = np.bincount(docs, weights=tfs, minlength=self.n_docs)
            docs = np.flatnonzero(total)
            tf = total[docs]
        docs = docs.astype(np.int32)
        idf = _idf(docs.size, self.n_docs, self.params, self._average_idf)
        norm = _length_norm(np.asarray(self._doc_len)[docs], self.avgdl, self.params)
        data = idf * _tf_part(tf, norm, self.params)
        head = None
        if docs.size > self._head_size:
            best = np.argpartition(-data, self._head_size - 1)[:self._head_size]
            head = docs[best]
        return docs, data, head

    # ---------------------------------------------------------------- scoring
    def scores(self, query: Mapping[Term, float]) -> np.ndarray:
        """BM25 score of every passage (float64, length ``n_docs``).

        ``query`` maps terms (tokens or synonym sets) to weights; each weight
        multiplies that term's BM25 contribution. Unknown terms contribute
        nothing; an empty query gives zeros.
        """
        scores = np.zeros(self.n_docs, dtype=np.float64)
        for term, weight in query.items():
            if weight == 0:
                continue
            indices, data, _ = self._postings(term)
            if indices.size == 0:
                continue
            if _csc_matvec is not None and indices.dtype == np.int32 and data.dtype == np.float64:
                # One C pass over the postings, no temporaries: ~2.7x faster than
                # numpy fancy indexing at a million passages.
                _csc_matvec(self.n_docs, 1, np.array([0, indices.size], dtype=np.int32), indices, data,
                            np.array([weight], dtype=np.float64), scores)
            else:
                # Doc ids are unique within a row, so fancy-index += is exact.
                scores[indices] += weight * data
        return scores

    def top_k(self, query: Mapping[Term, float], k: int, allowed: np.ndarray | None = None,
              scores: np.ndarray | None = None) -> list[tuple[int, float]]:
        """The ``k`` best (passage row, score) pairs with a non-zero score.

        ``allowed`` is an optional boolean mask over passages; ``scores``, when
        given, must be ``self.scores(query)`` (a caller that needs the vector
        anyway saves computing it twice). Order is score descending, then row
        ascending. Without a mask, the heads' lower bound on the k-th score
        (see the module docstring) narrows the choice to a few hundred passages.
        """
        if scores is None:
            scores = self.scores(query)
        floor = self._kth_score_floor(query, scores, k) if allowed is None and k > 0 else 0.0
        return top_k_indices(scores, k, allowed, floor=floor)

    def _kth_score_floor(self, query: Mapping[Term, float], scores: np.ndarray, k: int) -> float:
        """The k-th best score among the query terms' head passages (0.0 when
        they hold fewer than k scoring passages): never above the true k-th best."""
        parts = []
        for term, weight in query.items():
            if weight == 0:
                continue
            head = self._postings(term)[2]
            if head is not None:
                parts.append(head)
        if not parts:
            return 0.0
        values = scores[np.unique(np.concatenate(parts))]
        values = values[values > 0]
        if values.size < k:
            return 0.0
        return float(np.partition(values, values.size - k)[values.size - k])

    # ---------------------------------------------------------------- storage
    def save(self, directory: Path) -> list[str]:
        """Write the index files into ``directory``; returns their names."""
        directory = Path(directory)
        meta = {"terms": self._terms, "n_docs": self.n_docs, "avgdl": self.avgdl,
                "k1": self.params.k1, "b": self.params.b, "epsilon": self.params.epsilon,
                "idf": self.params.idf}
        (directory / "lexical_vocab.json").write_text(json.dumps(meta), encoding="utf-8")
        np.save(directory / "lexical_indptr.npy", np.asarray(self._indptr))
        np.save(directory / "lexical_indices.npy", np.asarray(self._indices))
        np.save(directory / "lexical_data.npy", np.asarray(self._data))
        np.save(directory / "lexical_df.npy", np.asarray(self._df))
        np.save(directory / "lexical_tf.npy", np.asarray(self._tf))
        np.save(directory / "lexical_doclen.npy", np.asarray(self._doc_len))
        np.savez(directory / "lexical_heads.npz", rows=self._head_rows, docs=self._head_docs,
                 data=self._head_data, size=np.int64(self._head_size))
        return list(self.FILES)

    @classmethod
    def load(cls, directory: Path, *, mmap: bool = True) -> "LexicalIndex":
        """Read an index written by :meth:`save`; large arrays are memory-mapped."""
        directory = Path(directory)
        meta = json.loads((directory / "lexical_vocab.json").read_text(encoding="utf-8"))
        mode = "r" if mmap else None
        params = BM25Params(meta["k1"], meta["b"], meta["epsilon"], meta["idf"])
        heads_file = directory / "lexical_heads.npz"
        heads = None
        if heads_file.exists():  # an index saved before heads existed gets them computed here
            heads = load_arrays(heads_file, ("rows", "docs", "data", "size"))
        return cls(meta["terms"], load_array(directory / "lexical_indptr.npy"),
                   load_array(directory / "lexical_indices.npy", mmap_mode=mode),
                   load_array(directory / "lexical_data.npy", mmap_mode=mode),
                   load_array(directory / "lexical_df.npy"), meta["n_docs"], params, meta["avgdl"],
                   load_array(directory / "lexical_tf.npy", mmap_mode=mode),
                   load_array(directory / "lexical_doclen.npy"), heads)


_EMPTY = np.zeros(0, dtype=np.int32)
_EMPTY_DATA = np.zeros(0, dtype=np.float64)


def _length_norm(doc_len: np.ndarray, avgdl: float, params: BM25Params) -> np.ndarray:
    """BM25's ``k1 * (1 - b + b * dl / avgdl)`` per passage."""
    doc_len = np.asarray(doc_len, dtype=np.float64)
    if not avgdl:
        return np.full(doc_len.shape, params.k1)
    return params.k1 * (1 - params.b + params.b * doc_len / avgdl)


def _tf_part(tf: np.ndarray, norm: np.ndarray, params: BM25Params) -> np.ndarray:
    """BM25's saturating term-frequency factor ``tf (k1 + 1) / (tf + norm)``."""
    return tf * (params.k1 + 1) / (tf + norm)


def _impact_heads(indptr: np.ndarray, indices: np.ndarray, data: np.ndarray,
                  size: int) -> dict[str, np.ndarray]:
    """For each term with more than ``size`` postings, its ``size`` highest-weighted
    postings, weight descending (ties by passage): flat arrays, ``size`` per term."""
    counts = np.diff(np.asarray(indptr))
    rows = np.flatnonzero(counts > size).astype(np.int32)
    docs = np.empty(rows.size * size, dtype=np.int32)
    weights = np.empty(rows.size * size, dtype=np.float64)
    for slot, row in enumerate(rows):
        start, stop = int(indptr[row]), int(indptr[row + 1])
        values = np.asarray(data[start:stop])
        best = np.argpartition(-values, size - 1)[:size]
        best = best[np.lexsort((best, -values[best]))]
        docs[slot * size:(slot + 1) * size] = np.asarray(indices[start:stop])[best]
        weights[slot * size:(slot + 1) * size] = values[best]
    return {"rows": rows, "docs": docs, "data": weights, "size": np.int64(size)}
