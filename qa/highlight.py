"""Pick the sentence of a clause that best matches the question."""

from __future__ import annotations

import re
from typing import Callable, Mapping

from .items import split_list

# A sentence ends at . ; ! ? or : followed by space, or at a line break (list items).
_SENTENCE_END = re.compile(r"(?<=[.;!?:])\s+(?=[(\"'“‘A-Z0-9-•])|\n+")


def split_sentences(text: str) -> list[str]:
    """Split a clause into sentences and list items, keeping their words verbatim."""
    parts = [part.strip() for part in _SENTENCE_END.split(text)]
    return [part for part in parts if part]


def best_sentence(text: str, query_weights: Mapping[str, float],
                  tokenize: Callable[[str], list[str]]) -> str:
    """The sentence with the most query weight among its words, normalised so a
    long sentence does not win by length alone; the first sentence on a tie.

    ``query_weights`` maps query tokens (already idf-weighted if the caller
    wishes) to weights; ``tokenize`` must be the one the index used.
    """
    sentences = split_sentences(text)
    if not sentences:
        return ""
    # A lead-in ("As a councillor:") introduces the clause; it is never the best match itself.
    candidates = [s for s in sentences if not s.endswith(":")] or sentences
    best, best_score = candidates[0], 0.0
    for sentence in candidates:
        tokens = set(tokenize(sentence))
        if not tokens:
            continue
        hit = sum(weight for term, weight in query_weights.items() if term in tokens)
        score = hit / (1.0 + 0.05 * len(tokens))
        if score > best_score:
            best, best_score = sentence, score
    return best


def highlight_spans(text: str, highlight: str) -> list[tuple[int, int]]:
    """Character spans of ``text`` to mark for ``highlight``: where it occurs
    and, when it is an item of a list, the list's lead-in too (an item read
    without "Members are not authorised to instruct Officers other than:"
    says the opposite of the rule). Empty when the highlight does not occur or
    is the whole clause."""
    at = text.find(highlight) if highlight else -1
    if at < 0 or highlight == text:
        return []
    spans = [(at, at + len(highlight))]
    listed = split_list(text)
    if listed is not None and any(item.start <= at < item.end for item in listed.items):
        lead_end = text.index(listed.lead_in) + len(listed.lead_in)
        spans.insert(0, (text.index(listed.lead_in), lead_end))
    return spans
