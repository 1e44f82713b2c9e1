"""Comparing councils: each authority's own clauses for a question, or "not addressed"."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from typing import Collection, Iterator, Sequence

import numpy as np

from ingest.infer import council_tier
from ingest.safe import csv_cell, markdown_text

from .abstain import (MAX_COPY_RANK, MAX_CORPUS_RANK, AbstentionSignals, BoostedComparison, ComparisonFeatures,
                      ComparisonModel, comparison_decision, evidence, question_tier, tier_match)
from .answer import Answerer, Query, Result, clean_question
from .ranking import group_ranks, lend_to_copies

MAX_PER_AUTHORITY = 3
LENDERS = 1  # measured: lending from more clauses spread a wrong best clause to silent councils
# Comparing chosen councils, the others searched beside them are the first this many
# authorities of the whole corpus's ranking (measured over the project's questions:
# with 5, each council compared on its own is decided as among all six, 1296 of 1296;
# with 3, 1294).
REFERENCE_AUTHORITIES = 5


@dataclass(frozen=True)
class AuthorityEntry:
    authority: str
    document: str
    kind: str
    found: bool
    results: list[Result]
    signals: AbstentionSignals | None = None
    # For a council judged silent: why, and its nearest clause (not an answer).
    reason: str = ""
    nearest: Result | None = None

    def to_dict(self) -> dict:
        out = {"authority": self.authority, "document": self.document, "kind": self.kind,
               "found": self.found, "results": [r.to_dict() for r in self.results]}
        if not self.found:
            out["reason"] = self.reason
            out["nearest"] = self.nearest.to_dict() if self.nearest is not None else None
        return out


@dataclass(frozen=True)
class Comparison:
    question: str
    authorities: list[AuthorityEntry]
    message: str = ""
    interpretation: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"question": self.question, "authorities": [a.to_dict() for a in self.authorities]}


@dataclass(frozen=True)
class _AuthorityRun:
    """One authority's restricted search in a comparison, before the decision."""

    name: str
    title: str
    kind: str
    ranked: list[tuple[int, float]]
    lexical: dict[int, float]
    dense: dict[int, float]
    signals: AbstentionSignals
    evidence: float


def _shown_vectors(answerer: Answerer, run: _AuthorityRun | None, shown: int) -> np.ndarray | None:
    """Embeddings of the clauses a run would show (None when it has none)."""
    rows = [position for position, _ in run.ranked[:shown]] if run is not None else []
    return np.stack([answerer.index.vector(row) for row in rows]) if rows else None


def _provision(answerer: Answerer, position: int | None) -> str | None:
    """The provision (copies and rewordings across councils) of a clause, when the index
    was saved with provisions (never grouped here, as in :meth:`Answerer.lineage`)."""
    if position is None or answerer.index.provisions is None:
        return None
    return answerer.provision_key(position)


def _provisions(answerer: Answerer, ranked: Sequence[tuple[int, float]]) -> set[str]:
    return {key for key in (_provision(answerer, position) for position, _ in ranked) if key is not None}


def authority_order(answerer: Answerer) -> list[tuple[str, str, str]]:
    """(authority, document titles, kind) per authority, model codes first, then by name."""
    rows = [(name, "; ".join(titles), kind) for name, titles, kind in answerer.index.authority_documents()]
    return sorted(rows, key=lambda row: (row[2] != "model_code", row[0].lower()))


@dataclass(frozen=True)
class AuthorityRuns:
    """Every authority's restricted search for one question, with what the
    decision reads: the question's signals over the whole corpus and each
    authority's :class:`ComparisonFeatures`."""

    overall: AbstentionSignals
    runs: list[_AuthorityRun]
    features: list[ComparisonFeatures]


def _first_authorities(answerer: Answerer, ranked: Sequence[tuple[int, float]], count: int) -> set[str]:
    """The first ``count`` distinct authorities (lower case) in a ranking."""
    seen: set[str] = set()
    for position, _ in ranked:
        seen.add(answerer.index.passages[position].authority.lower())
        if len(seen) >= count:
            break
    return seen


def authority_runs(answerer: Answerer, query: Query, order: Sequence[tuple[str, str, str]],
                   chosen: Collection[str] | None = None) -> AuthorityRuns:
    """Search each authority of ``order`` on its own and describe its best clauses.

    With ``chosen`` (lower-case names), only those authorities are searched,
    with the first :data:`REFERENCE_AUTHORITIES` authorities of the whole
    corpus's ranking beside them, so that each chosen one is measured against
    the best authority of all, not the best of those chosen (a national index
    holds thousands of councils; the best authority's clauses are at the top
    of the whole corpus's ranking).

    The features do not depend on how many clauses will be shown: the
    similarity is always to the best authority's first :data:`MAX_PER_AUTHORITY`
    clauses (the coverage matrix shows one clause a council, and must decide
    as a comparison does)."""
    # The question as a whole: if the corpus does not address it, nobody does.
    ranked, lexical, dense = answerer.ranked(query)
    overall = answerer.signals(query, lexical, dense, ranked)
    if chosen is not None:
        reference = _first_authorities(answerer, ranked, REFERENCE_AUTHORITIES)
        order = [row for row in order if row[0].lower() in chosen or row[0].lower() in reference]
    # Where each clause stands in the whole corpus: a list's further items
    # (deferred in the shown order) stand where their list does.
    corpus_rank = group_ranks([position for position, _ in ranked], answerer.list_group, MAX_CORPUS_RANK)
    # The best clauses anywhere lend their score to other councils' copies of them.
    lenders = {position: dense[position] for position, _ in ranked[:LENDERS]}

    def adjust(a_dense: dict[int, float]) -> dict[int, float]:
        return lend_to_copies(a_dense, answerer.index.token_set, lenders)

    fused_runs = [answerer.fused(query, answerer.index.mask(authorities=[name]), candidates=30, adjust_dense=adjust)
                  for name, _title, _kind in order]
    depth = answerer.reranks(answerer.compare_rerank_depth)
    if depth:
        # Every council's head read by the reranker in one call (six calls of three pairs
        # took 81 ms, one of eighteen 53 ms: docs/performance.md).
        # Councils' rewordings of one provision are read once (rerank_once_per_provision), each
        # council's copy taking that reading: validation coverage 0.878 against 0.877, false coverage
        # 0.095 either way, 19.4 pairs a comparison against 25.3 (docs/performance.md).
        # Each pair read alone: its reading is then the same in a comparison of chosen councils as in
        # one of all (int8 scales a call's activations over the whole batch; docs/learning.md,
        # "Fifteenth round").
        reader = answerer.read(query, [p for run in fused_runs for p in answerer.rerank_head(run.order, depth)],
                               alone=True)
        query.reranked.update((p, query.reranked[first]) for p, first in reader.items() if p not in query.reranked)
    runs = []
    for (name, title, kind), fused_run in zip(order, fused_runs):
        ranked_, lexical_, dense_ = answerer.finish(query, fused_run, rerank_depth=answerer.compare_rerank_depth)
        signals = answerer.signals(query, lexical_, dense_, ranked_)
        runs.append(_AuthorityRun(name, title, kind, ranked_, lexical_, dense_, signals,
                                  evidence(signals, answerer.policy)))
    leader = max(runs, key=lambda run: run.evidence, default=None)
    leader_vectors = _shown_vectors(answerer, leader, MAX_PER_AUTHORITY)
    # Evidence shared across councils: the provisions of the clauses the best council shows,
    # and of the whole question's first three.
    leader_provisions = _provisions(answerer, leader.ranked[:MAX_PER_AUTHORITY] if leader else ())
    top_provisions = _provisions(answerer, ranked[:3])
    best_rerank = max((run.signals.rerank_top for run in runs), default=0.0)
    asked_tier = question_tier(query.text)
    leader_first = _provision(answerer, leader.ranked[0][0]) if leader and leader.ranked else None
    features = []
    for run in runs:
        head = [position for position, _ in run.ranked[:MAX_PER_AUTHORITY]]
        if run is leader:
            similarity = similarity_head = 1.0
        elif leader_vectors is None or not run.ranked:
            similarity = similarity_head = 0.0
        else:
            similarity = answerer.index.best_dense_score(leader_vectors, [run.ranked[0][0]])
            similarity_head = answerer.index.best_dense_score(leader_vectors, head)
        best_clause = run.ranked[0][0] if run.ranked else None
        best_provision = _provision(answerer, best_clause)
        head_provisions = _provisions(answerer, run.ranked[:MAX_PER_AUTHORITY])
        copy_rank = 1 if run is leader else next(
            (place for place, (position, _) in enumerate(run.ranked[:MAX_COPY_RANK - 1], 1)
             if leader_first is not None and _provision(answerer, position) == leader_first), MAX_COPY_RANK)
        read = [query.reranked.get(position, 0.0) for position in head]
        features.append(ComparisonFeatures(
            evidence=run.evidence, gap=leader.evidence - run.evidence, similarity=similarity,
            corpus_rank=corpus_rank.get(best_clause, MAX_CORPUS_RANK),
            lexical_strength=run.signals.lexical_strength,
            coverage_gap=leader.signals.coverage - run.signals.coverage,
            rerank_top=run.signals.rerank_top,
            rerank_second=read[1] if len(read) > 1 else 0.0, rerank_sum=sum(read),
            rerank_gap=best_rerank - run.signals.rerank_top,
            shares_leader=best_provision is not None and best_provision in leader_provisions,
            shares_top=best_provision is not None and best_provision in top_provisions,
            tier_match=tier_match(asked_tier, council_tier(run.name)),
            question_rerank=overall.rerank_top, question_scope=overall.scope,
            coverage=run.signals.coverage, dense_top=run.signals.dense_top,
            rerank_third=read[2] if len(read) > 2 else 0.0, best_rerank=best_rerank,
            similarity_head=similarity_head, shares_leader_head=bool(head_provisions & leader_provisions),
            leader_copy_rank=copy_rank))
    return AuthorityRuns(overall, runs, features)


def compare(answerer: Answerer, question: str, *, authorities: Sequence[str] | None = None,
            per_authority: int = MAX_PER_AUTHORITY,
            model: ComparisonModel | BoostedComparison | None = None) -> Comparison:
    """For each authority (or the chosen ones), its best clauses or "not addressed".

    Each authority's clauses come from its own documents only (a search
    restricted to that authority), so a clause shared word for word by several
    councils is shown to each from its own copy. Whether an authority
    addresses the question is decided from its own best clauses' features
    (see :func:`qa.abstain.addresses_question`), with the same care as
    abstention in ``ask``. Chosen authorities are measured against the best
    authority of all, chosen or not (see :func:`authority_runs`): a silent
    council compared on its own is not the best of one, and is still "not
    addressed".
    """
    order = authority_order(answerer)
    wanted = {a.lower() for a in authorities} if authorities else None
    chosen = [row for row in order if wanted is None or row[0].lower() in wanted]
    text, problem = clean_question(question)
    if problem:
        return Comparison(question=text or question[:200], message=problem, authorities=[
            AuthorityEntry(name, title, kind, False, []) for name, title, kind in chosen])
    query = answerer.prepare(text)
    runs = authority_runs(answerer, query, order, chosen=wanted)
    entries = []
    for run, (found, reason) in _decisions(answerer, runs, model, wanted):
        results = answerer.make_results(query, run.ranked, run.lexical, run.dense, per_authority if found else 1)
        if found:
            entries.append(AuthorityEntry(run.name, run.title, run.kind, True, results, run.signals))
        else:
            entries.append(AuthorityEntry(run.name, run.title, run.kind, False, [], run.signals,
                                          reason=reason if results else "its documents have no clause near it",
                                          nearest=results[0] if results else None))
    return Comparison(question=text, authorities=entries, interpretation=answerer.notes(query))


def _decisions(answerer: Answerer, runs: AuthorityRuns, model: ComparisonModel | BoostedComparison | None,
               wanted: Collection[str] | None) -> Iterator[tuple[_AuthorityRun, tuple[bool, str]]]:
    """Each wanted authority's run (all with None), whether it addresses the question and, if not, why."""
    # The learned profile decides each council on its own features; the hand
    # profile first asks whether the question as a whole is answered
    # (``compare_gate`` in qa/data/pipeline.toml says why).
    if answerer.compare_gate and answerer.abstains(runs.overall):
        for run in runs.runs:
            if wanted is None or run.name.lower() in wanted:
                yield run, (False, "the documents as a whole do not appear to address this question")
        return
    model = model or answerer.comparison_model
    chosen = [(run, features) for run, features in zip(runs.runs, runs.features)
              if wanted is None or run.name.lower() in wanted]
    scores = model.scores([features for _, features in chosen])
    for (run, features), score in zip(chosen, scores):
        yield run, comparison_decision(run.signals, features, answerer.policy, model, score)


def addressed_by(answerer: Answerer, query: Query, authorities: Sequence[str]) -> bool:
    """Whether any of ``authorities`` addresses the question, decided as in a
    comparison of them (see :func:`compare` and :func:`authority_runs`)."""
    wanted = {a.lower() for a in authorities}
    runs = authority_runs(answerer, query, authority_order(answerer), chosen=wanted)
    return any(found for _, (found, _) in _decisions(answerer, runs, None, wanted))


# -- exports for committee reports --------------------------------------------

EXPORT_COLUMNS = ["question", "authority", "kind", "found", "rank", "document", "status", "date",
                  "attribution", "source", "section", "clause", "pages", "text"]
# How a citation says where its council's name came from (as the command line's citation does).
ATTRIBUTION_NOTES = {"inferred": "council inferred from the text", "unknown": "council not identified"}


def _rows(comparisons: Sequence[Comparison]):
    for comparison in comparisons:
        for entry in comparison.authorities:
            if not entry.found:
                yield {"question": comparison.question, "authority": entry.authority, "kind": entry.kind,
                       "found": "not addressed: " + (entry.reason or "no clause answers it"), "rank": "",
                       "document": entry.document, "status": "", "date": "", "attribution": "", "source": "",
                       "section": "", "clause": "", "pages": "", "text": ""}
                continue
            for result in entry.results:
                p = result.passage
                yield {"question": comparison.question, "authority": p.authority, "kind": p.kind,
                       "found": "addressed", "rank": result.rank, "document": p.document, "status": p.status,
                       "date": p.date, "attribution": p.attribution, "source": p.source,
                       "section": p.section, "clause": p.clause,
                       "pages": ", ".join(map(str, p.pages)) if p.pages else "", "text": p.text}


def to_csv(comparisons: Sequence[Comparison]) -> str:
    """One row per clause shown (or per silent authority), with its full citation."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=EXPORT_COLUMNS)
    writer.writeheader()
    for row in _rows(comparisons):
        writer.writerow({key: csv_cell(value) for key, value in row.items()})
    return buffer.getvalue()


def to_markdown(comparisons: Sequence[Comparison]) -> str:
    """A Markdown section per question: each authority with its clauses quoted and cited."""
    out: list[str] = []
    for comparison in comparisons:
        out.append(f"## {markdown_text(comparison.question)}\n")
        for entry in comparison.authorities:
            out.append(f"### {markdown_text(entry.authority)}\n")
            if not entry.found:
                why = f" ({markdown_text(entry.reason)})" if entry.reason else ""
                out.append(f"_Not addressed in its documents{why}._\n")
                continue
            for result in entry.results:
                p = result.passage
                cite = citation_parts(p, [p.document, f"{p.status}, {p.date or 'date not stated'}"])
                out.append(f"> {markdown_text(p.text)}\n\n— {markdown_text(' · '.join(cite))}\n")
    return "\n".join(out)


def citation_parts(p, head: list[str], adopts: str = "") -> list[str]:
    """A passage's citation after ``head``: section, clause, page, the model adopted, and the council's
    attribution when it was inferred or not identified."""
    cite = list(head)
    if p.section:
        cite.append(p.section)
    if p.clause:
        cite.append(f"clause {p.clause}")
    if p.pages:
        cite.append("page " + ", ".join(map(str, p.pages)))
    if adopts:
        cite.append(f"adopts the {adopts}")
    if p.attribution in ATTRIBUTION_NOTES:
        cite.append(ATTRIBUTION_NOTES[p.attribution])
    return cite


ANSWER_COLUMNS = ["question", "rank", "authority", "document", "kind", "status", "date", "attribution", "adopts",
                  "source", "section", "clause", "pages", "also_in", "text"]


def answer_csv(answer) -> str:
    """An answer's clauses, one row each with every flag of its citation, for a report."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=ANSWER_COLUMNS)
    writer.writeheader()
    for result in answer.results:
        p = result.passage
        row = {"question": answer.question, "rank": result.rank, "authority": p.authority, "document": p.document,
               "kind": p.kind, "status": p.status, "date": p.date, "attribution": p.attribution,
               "adopts": result.adopts, "source": p.source, "section": p.section, "clause": p.clause,
               "pages": ", ".join(map(str, p.pages)) if p.pages else "",
               "also_in": "; ".join(f"{c['authority']} {c['clause']}".strip() for c in result.also_in),
               "text": p.text}
        writer.writerow({key: csv_cell(value) for key, value in row.items()})
    return buffer.getvalue()


def answer_markdown(answer) -> str:
    """An answer as a report section: each clause quoted verbatim with its full citation."""
    out = [f"## {markdown_text(answer.question)}\n"]
    if not answer.answered:
        out.append(f"_{markdown_text(answer.message)}_\n")
    for result in answer.results:
        p = result.passage
        cite = citation_parts(p, [p.authority, p.document, f"{p.status}, {p.date or 'date not stated'}",
                                  p.kind.replace("_", " ")], result.adopts)
        cite.append(f"source {p.source}")
        out.append(f"{result.rank}. > {markdown_text(p.text)}\n\n   — {markdown_text(' · '.join(cite))}\n")
    return "\n".join(out)
