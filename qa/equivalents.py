"""Equivalent clauses: what other councils' documents say in place of a clause.

Many protocols descend from one national model and differ in a word or a
number. For a chosen passage this finds, in each other authority, the passage
closest in meaning, and shows a word-level difference and similarity so that
identical, reworded and materially different clauses are told apart at a glance.

Lists are compared item by item: a council's list whose item (c) is word for
word another council's clause is identical in that item, and says so, rather
than "different" because the rest of its list is longer.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from enum import Enum

from index.hybrid import HybridIndex
from ingest.passage import Passage

from .items import comparable_parts

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
    # Which parts were compared: "" for the whole clause, else "item c)" of a list.
    chosen_part: str = ""
    other_part: str = ""

    @property
    def equivalent(self) -> bool:
        """Whether the clauses say the same thing in (mostly) the same words;
        a "different" clause is on the same subject, not an equivalent."""
        return self.likeness is not Likeness.DIFFERENT

    def to_dict(self) -> dict:
        return {"id": self.passage.id, "authority": self.passage.authority, "clause": self.passage.clause,
                "section": self.passage.section, "similarity": round(self.similarity, 4),
                "word_overlap": round(self.word_overlap, 4), "likeness": self.likeness.value,
                "chosen_part": self.chosen_part, "other_part": self.other_part,
                "diff": [{"op": d.op, "text": d.text} for d in self.diff], "text": self.passage.text}


@dataclass(frozen=True)
class PartMatch:
    """The best-matching parts of two clauses (whole clauses or list items)."""

    chosen_part: str
    other_part: str
    diff: list[DiffPiece]
    word_overlap: float


def match_parts(chosen: str, other: str) -> PartMatch:
    """Compare two clauses whole and item by item; the pair of parts sharing
    the most words (the whole clauses on a tie)."""
    best: PartMatch | None = None
    for chosen_part, a in comparable_parts(chosen):
        for other_part, b in comparable_parts(other):
            diff, overlap = word_diff(a, b)
            if best is None or overlap > best.word_overlap + 1e-9:
                best = PartMatch(chosen_part, other_part, diff, overlap)
    assert best is not None  # comparable_parts always yields the whole clause
    return best


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
    coincide (whole or item by item, see :func:`match_parts`). In each
    authority an identical or reworded clause is preferred to a closer one in
    meaning that is worded differently; then the closest in meaning. Sorted
    equivalents first, then by similarity.
    """
    chosen = index.passages[position]
    vector = index.vector(position)
    allowed = index.mask(authorities=[p for p in index.authorities if p != chosen.authority])
    if allowed is not None and not allowed.any():
        return []
    found: dict[str, list[Equivalent]] = {}
    for other_position, similarity in index.dense_top_k(vector, candidates, allowed):
        other = index.passages[other_position]
        if other.authority == chosen.authority:
            continue
        match = match_parts(chosen.text, other.text)
        if similarity < min_similarity and match.word_overlap < 0.5:
            continue
        found.setdefault(other.authority, []).append(Equivalent(
            other, float(similarity), match.word_overlap, classify(match.word_overlap), match.diff,
            match.chosen_part, match.other_part))
    order = {Likeness.IDENTICAL: 0, Likeness.REWORDED: 1, Likeness.DIFFERENT: 2}
    best = [eq for bucket in found.values()
            for eq in sorted(bucket, key=lambda eq: (order[eq.likeness], -eq.similarity))[:per_authority]]
    return sorted(best, key=lambda eq: (not eq.equivalent, -eq.similarity, eq.passage.authority))
