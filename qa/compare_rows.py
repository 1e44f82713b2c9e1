"""A comparison as one short row per council, for reading at a glance.

Each row holds what a reader scans down the page: the council (the national
model code first), the clause it answers with, a short excerpt, and how its
wording stands against the model code's clause; or, for a council judged
silent, why, and the nearest clause it does have. The full clauses and their
citations stay in the :class:`~qa.compare.Comparison` for the expanded view.
"""

from __future__ import annotations

from dataclasses import dataclass

from .answer import Result
from .compare import AuthorityEntry, Comparison
from .equivalents import Likeness, classify, match_parts
from .items import excerpt, split_list

EXCERPT_CHARS = 220


@dataclass(frozen=True)
class CompareRow:
    authority: str
    document: str
    kind: str
    found: bool
    reference: str           # "clause 91 · Party groups", for the best clause (or the nearest one)
    excerpt: str             # a short excerpt of that clause, its answering sentence or item
    highlight: str           # the answering sentence or item, to mark inside the excerpt
    likeness: str = ""       # against the model code's clause: "identical to the model code (100%)"
    reason: str = ""         # for a silent council: why it was judged silent
    more: int = 0            # further clauses shown when the row is opened
    lead_in: str = ""        # when the clause is an item of a list, the list's lead-in (marked with the item)


def reference(result: Result) -> str:
    """Where a clause is, in a few words: its number and the innermost heading."""
    p = result.passage
    heading = p.section.split(" > ")[-1].strip() if p.section else ""
    parts = [f"clause {p.clause}" if p.clause else "", heading]
    return " · ".join(part for part in parts if part) or "unnumbered passage"


def model_clause(comparison: Comparison) -> AuthorityEntry | None:
    """The first national model code that addresses the question, if any."""
    return next((e for e in comparison.authorities if e.kind == "model_code" and e.found and e.results), None)


def likeness_label(model_text: str, text: str) -> str:
    """How a council's clause is worded against the model code's, compared
    whole and item by item (see :func:`qa.equivalents.match_parts`)."""
    overlap = match_parts(model_text, text).word_overlap
    words = {Likeness.IDENTICAL: "identical to the model code",
             Likeness.REWORDED: "reworded from the model code",
             Likeness.DIFFERENT: "worded differently from the model code"}[classify(overlap)]
    return f"{words} ({overlap:.0%} words in common)"


def compare_rows(comparison: Comparison) -> list[CompareRow]:
    """One row per council, in the comparison's order (model codes first)."""
    model = model_clause(comparison)
    rows = []
    for entry in comparison.authorities:
        best = entry.results[0] if entry.found and entry.results else entry.nearest
        if best is None:
            rows.append(CompareRow(entry.authority, entry.document, entry.kind, entry.found, "", "", "",
                                   reason=entry.reason or "its documents have no clause near this question"))
            continue
        likeness = ""
        if entry.found and model is not None and entry is not model:
            likeness = likeness_label(model.results[0].passage.text, best.passage.text)
        # A one-sentence clause is its own best sentence: marking all of it would mark nothing.
        mark = best.highlight if best.highlight.strip() != best.passage.text.strip() else ""
        rows.append(CompareRow(
            entry.authority, entry.document, entry.kind, entry.found, reference(best),
            excerpt(best.passage.text, best.highlight, EXCERPT_CHARS), mark, likeness,
            reason="" if entry.found else (entry.reason or "no clause answers it"),
            more=max(0, len(entry.results) - 1), lead_in=_lead_in(best)))
    return rows


def _lead_in(result: Result) -> str:
    """The lead-in of a list clause as its excerpt prints it (spacing folded), when the answer is an item."""
    listed = split_list(result.passage.text)
    if listed is None or not result.highlight or result.highlight.strip() in listed.lead_in:
        return ""
    return " ".join(listed.lead_in.split())
