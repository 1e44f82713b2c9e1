"""Equivalent clauses: what other councils' documents say in place of a clause.

Many protocols descend from one national model and differ in a word or a
number. For a chosen passage this finds, in each other authority, the passage
closest in meaning, and shows a word-level difference and similarity so that
identical, reworded and materially different clauses are told apart at a glance.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from enum import Enum

from index.hybrid import HybridIndex
from ingest.passage import Passage

_TOKEN = re.compile(r"\S+")


class Likeness(str, Enum):
    IDENTICAL = "identical"       # the same words, ignoring case, punctuation and spacing
    REWORDED = "reworded"         # mostly the same words: a few words or numbers differ
    DIFFERENT = "different"       # on the same subject, in materially different words


@dataclass(frozen=True)
class DiffPiece:
    op: str      # "same", "added" (in the equivalent only), "removed" (in the chosen clause only)
    text: str


@dataclass(frozen=True)
class Equivalent:
    passage: Passage
    similarity: float        # cosine similarity of the two clauses' embeddings
    word_overlap: float      # difflib ratio over words, 0 to 1
    likeness: Likeness
    diff: list[DiffPiece]

    def to_dict(self) -> dict:
        return {"id": self.passage.id, "authority": self.passage.authority, "clause": self.passage.clause,
                "section": self.passage.section, "similarity": round(self.similarity, 4),
                "word_overlap": round(self.word_overlap, 4), "likeness": self.likeness.value,
                "diff": [{"op": d.op, "text": d.text} for d in self.diff], "text": self.passage.text}


def _words(text: str) -> list[str]:
    return _TOKEN.findall(text)


def _key(word: str) -> str:
    return re.sub(r"[^\w£]", "", word.lower())


def word_diff(chosen: str, other: str) -> tuple[list[DiffPiece], float]:
    """Word-level difference of ``other`` against ``chosen`` and the share of
    words in common (difflib's ratio over case- and punctuation-folded words)."""
    a, b = _words(chosen), _words(other)
    matcher = difflib.SequenceMatcher(a=[_key(w) for w in a], b=[_key(w) for w in b], autojunk=False)
    pieces: list[DiffPiece] = []
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            pieces.append(DiffPiece("same", " ".join(b[j1:j2])))
            continue
        if i2 > i1:
            pieces.append(DiffPiece("removed", " ".join(a[i1:i2])))
        if j2 > j1:
            pieces.append(DiffPiece("added", " ".join(b[j1:j2])))
    return pieces, matcher.ratio()


def classify(word_overlap: float) -> Likeness:
    if word_overlap >= 0.98:
        return Likeness.IDENTICAL
    if word_overlap >= 0.6:
        return Likeness.REWORDED
    return Likeness.DIFFERENT


def find_equivalents(index: HybridIndex, position: int, *, min_similarity: float = 0.6,
                     per_authority: int = 1, candidates: int = 50) -> list[Equivalent]:
    """Best match in each other authority for the passage at ``position``.

    Candidates come from the dense index (meaning), then are kept when their
    embedding similarity reaches ``min_similarity`` or their words largely
    coincide; sorted by similarity, best first.
    """
    chosen = index.passages[position]
    vector = index.vector(position)
    allowed = index.mask(authorities=[p for p in index.authorities if p != chosen.authority])
    if allowed is not None and not allowed.any():
        return []
    best: dict[str, list[Equivalent]] = {}
    for other_position, similarity in index.dense_top_k(vector, candidates, allowed):
        other = index.passages[other_position]
        if other.authority == chosen.authority:
            continue
        diff, overlap = word_diff(chosen.text, other.text)
        if similarity < min_similarity and overlap < 0.5:
            continue
        bucket = best.setdefault(other.authority, [])
        if len(bucket) < per_authority:
            bucket.append(Equivalent(other, float(similarity), overlap, classify(overlap), diff))
    found = [eq for bucket in best.values() for eq in bucket]
    return sorted(found, key=lambda eq: (-eq.similarity, eq.passage.authority))
