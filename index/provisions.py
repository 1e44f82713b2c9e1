"""Provisions: clauses that are copies or rewordings of one another across documents.

Most protocols and codes descend from a few national models, so the same
clause turns up in many councils' documents, word for word or reworded. At
ingest, :func:`group_provisions` links each clause to its nearest clauses in
other documents (by embedding) whose words largely coincide (by a word-level
diff), and takes the connected groups as provisions. Each provision has a
representative (the national model's clause when the model holds one, else
the member most linked to the others) against which every member's likeness
is judged.

The thresholds are those of :mod:`qa.equivalents` (``REWORDED_OVERLAP``): two
clauses are one provision when at least 60% of their words line up.
"""

from __future__ import annotations

import difflib
import hashlib
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["Provision", "group_provisions", "word_overlap", "IDENTICAL_OVERLAP", "REWORDED_OVERLAP",
           "NEIGHBOURS", "MAX_PASSAGES"]

# Word-level likeness of two clauses (difflib's ratio over case- and punctuation-folded
# words): at or above IDENTICAL_OVERLAP they are the same clause, at or above
# REWORDED_OVERLAP a rewording of it. Chosen by reading the shared clauses of
# Carlisle, Watford, Wokingham and Newton Abbot (docs/provisions.md).
IDENTICAL_OVERLAP = 0.98
REWORDED_OVERLAP = 0.6
# Nearest clauses by embedding looked at for each clause; copies of one clause are
# each other's nearest neighbours, so a few suffice.
NEIGHBOURS = 8
# Above this many passages the grouping (one dense search per passage) is skipped at
# ingest and provisions are not offered: about 2 s per 10,000 passages here.
MAX_PASSAGES = 200_000
# Clauses shorter than this many words (headings, "Not used.") are never grouped.
MIN_WORDS = 6

_WORD = re.compile(r"\S+")


def _fold(text: str) -> list[str]:
    return [w for w in (re.sub(r"[^\w£]", "", t.lower()) for t in _WORD.findall(text)) if w]


def word_overlap(a: str, b: str) -> float:
    """difflib's ratio over the two texts' case- and punctuation-folded words."""
    return difflib.SequenceMatcher(a=_fold(a), b=_fold(b), autojunk=False).ratio()


@dataclass(frozen=True)
class Provision:
    """One provision: its id, representative row, and member rows with their likeness to it."""

    id: str
    representative: int
    members: tuple[tuple[int, str, float], ...]   # (row, "identical" | "reworded" | "different", word overlap)

    def to_dict(self) -> dict:
        return {"id": self.id, "representative": self.representative,
                "members": [[row, likeness, round(overlap, 4)] for row, likeness, overlap in self.members]}

    @classmethod
    def from_dict(cls, record: dict) -> "Provision":
        return cls(record["id"], int(record["representative"]),
                   tuple((int(row), str(likeness), float(overlap)) for row, likeness, overlap in record["members"]))


def _likeness(overlap: float) -> str:
    if overlap >= IDENTICAL_OVERLAP:
        return "identical"
    if overlap >= REWORDED_OVERLAP:
        return "reworded"
    return "different"


def group_provisions(index, *, neighbours: int = NEIGHBOURS) -> list[Provision]:
    """The provisions of a :class:`~index.hybrid.HybridIndex` (clauses of at least two
    documents, at most one per document: a list whose items each repeat its lead-in
    keeps the item closest to the representative), largest first."""
    passages = index.passages
    n = len(passages)
    if n == 0 or n > MAX_PASSAGES:
        return []
    document_of = [p.source for p in passages]
    words = [len(_WORD.findall(p.text)) for p in passages]
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    links: dict[int, int] = defaultdict(int)
    checked: set[tuple[int, int]] = set()
    for i in range(n):
        if words[i] < MIN_WORDS:
            continue
        for j, _similarity in index.dense_top_k(index.vector(i), neighbours + 1):
            if j == i or document_of[j] == document_of[i] or words[j] < MIN_WORDS:
                continue
            pair = (min(i, j), max(i, j))
            if pair in checked:
                continue
            checked.add(pair)
            shorter, longer = sorted((words[i], words[j]))
            if shorter / longer < 0.5:
                continue
            if word_overlap(passages[i].text, passages[j].text) >= REWORDED_OVERLAP:
                parent[find(i)] = find(j)
                links[i] += 1
                links[j] += 1
    groups: dict[int, list[int]] = defaultdict(list)
    for i in range(n):
        if links[i]:
            groups[find(i)].append(i)
    provisions = []
    for rows in groups.values():
        if len({document_of[r] for r in rows}) < 2:
            continue
        models = [r for r in rows if passages[r].kind == "model_code"]
        representative = min(models) if models else max(rows, key=lambda r: (links[r], -r))
        best: dict[str, tuple[int, float]] = {}  # one member per document: the closest to the representative
        for row in rows:
            overlap = 1.0 if row == representative else word_overlap(passages[representative].text,
                                                                     passages[row].text)
            if document_of[row] not in best or overlap > best[document_of[row]][1]:
                best[document_of[row]] = (row, overlap)
        if len(best) < 2:
            continue
        members = [(row, _likeness(overlap), overlap) for row, overlap in best.values()]
        members.sort(key=lambda m: (m[0] != representative, -m[2], passages[m[0]].authority))
        key = hashlib.sha1(passages[representative].id.encode("utf-8")).hexdigest()[:10]
        provisions.append(Provision(f"P-{key}", representative, tuple(members)))
    provisions.sort(key=lambda p: (-len(p.members), p.id))
    return provisions


def provision_of(provisions: Sequence[Provision], n: int) -> np.ndarray:
    """Row -> index into ``provisions`` (-1 for a clause in no provision)."""
    out = np.full(n, -1, dtype=np.int32)
    for number, provision in enumerate(provisions):
        for row, _likeness, _overlap in provision.members:
            out[row] = number
    return out


# Two clauses on the same subject in different words ("changed" in an alignment) when
# their embeddings are at least this close; below it a clause has no counterpart.
# Read off alignments of the default corpus's protocols (docs/provisions.md).
CHANGED_SIMILARITY = 0.7
# Counterparts are looked for among this many nearest clauses of the other document.
ALIGN_CANDIDATES = 5


@dataclass(frozen=True)
class AlignedRow:
    """One row of an alignment: a clause of A and its counterpart in B (either may be None)."""

    status: str            # same, reworded, changed, missing (in A only), added (in B only)
    a: int | None
    b: int | None
    word_overlap: float
    similarity: float


def document_rows(index, source: str) -> list[int]:
    """Rows of the passages of the document ``source``, in document order, without headings."""
    return [row for row, passage in enumerate(index.passages)
            if passage.source == source and len(_WORD.findall(passage.text)) >= MIN_WORDS]


def align(index, source_a: str, source_b: str) -> list[AlignedRow]:
    """Clause-by-clause alignment of document ``source_a`` against ``source_b``.

    Each clause of A is matched with the clause of B whose words line up best among
    its nearest clauses by embedding: ``same`` or ``reworded`` by word overlap,
    ``changed`` when only the meaning is close, ``missing`` when B has nothing close.
    Clauses of B that no clause of A matched follow as ``added``.
    """
    rows_a, rows_b = document_rows(index, source_a), document_rows(index, source_b)
    if not rows_a or not rows_b:
        return [AlignedRow("missing", a, None, 0.0, 0.0) for a in rows_a] + \
               [AlignedRow("added", None, b, 0.0, 0.0) for b in rows_b]
    vectors_b = np.asarray(index.embeddings[np.asarray(rows_b)], dtype=np.float32)
    out: list[AlignedRow] = []
    matched: set[int] = set()
    for a in rows_a:
        similarities = vectors_b @ index.vector(a)
        nearest = np.argsort(-similarities)[:ALIGN_CANDIDATES]
        scored = [(word_overlap(index.passages[a].text, index.passages[rows_b[k]].text), float(similarities[k]),
                   rows_b[k]) for k in nearest]
        overlap, similarity, b = max(scored)
        if overlap >= REWORDED_OVERLAP:
            status = "same" if overlap >= IDENTICAL_OVERLAP else "reworded"
        else:
            similarity, b = float(similarities[nearest[0]]), rows_b[nearest[0]]
            overlap = next(o for o, _s, row in scored if row == b)
            status = "changed" if similarity >= CHANGED_SIMILARITY else "missing"
        if status == "missing":
            out.append(AlignedRow("missing", a, None, 0.0, similarity))
            continue
        matched.add(b)
        out.append(AlignedRow(status, a, b, overlap, similarity))
    out.extend(AlignedRow("added", None, b, 0.0, 0.0) for b in rows_b if b not in matched)
    return out


def adopted_model(index, source: str, *, min_share: float = 0.5) -> str | None:
    """The source of the national model (a ``model_code`` document) that ``source`` adopts:
    at least ``min_share`` of the model's clauses are found in it the same or reworded."""
    passages = index.passages
    kinds = {p.source: p.kind for p in passages}
    if kinds.get(source) == "model_code":
        return None
    for model in sorted(s for s, kind in kinds.items() if kind == "model_code"):
        rows = align(index, model, source)
        kept = [r for r in rows if r.a is not None]
        if kept and sum(r.status in ("same", "reworded") for r in kept) / len(kept) >= min_share:
            return model
    return None
