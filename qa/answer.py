"""Answering a question: interpret, retrieve, fuse, filter, abstain, highlight."""

from __future__ import annotations

import logging
import math
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Iterable, Sequence

import numpy as np

from index.embed import Embedder
from index.hybrid import HybridIndex
from index.lexical import tokenize
from ingest.passage import Passage

from .abstain import AbstentionPolicy, AbstentionSignals, agreement, known_share, should_abstain
from .highlight import best_sentence
from .ranking import FusionMode, convex_fusion, rank_positions, reciprocal_rank_fusion
from .vocabulary import Interpretation, interpret

log = logging.getLogger(__name__)

MAX_QUESTION_CHARS = 1000
EXPANSION_WEIGHT = 0.4
CANDIDATES = 100
DENSE_WEIGHT = 0.6
BM25_K1 = 1.5

NOT_ADDRESSED = ("The documents do not appear to address this question. "
                 "Try rephrasing it with the words a protocol would use "
                 "(for example 'members' and 'officers'), or compare councils to see who covers the topic.")


@dataclass(frozen=True)
class Result:
    """A passage paired with its scores: the score is not a field of Passage."""

    passage: Passage
    rank: int
    score: float
    lexical: float
    dense: float
    highlight: str

    def to_dict(self) -> dict:
        """The result object of the command-line JSON contract."""
        p = self.passage
        return {
            "rank": self.rank, "score": round(self.score, 4), "id": p.id, "authority": p.authority,
            "document": p.document, "kind": p.kind, "status": p.status, "date": p.date,
            "attribution": p.attribution, "source": p.source, "section": p.section,
            "clause": p.clause, "pages": list(p.pages) if p.pages is not None else None,
            "text": p.text, "highlight": self.highlight,
        }


@dataclass(frozen=True)
class Answer:
    question: str
    answered: bool
    message: str
    interpretation: list[str]
    results: list[Result]
    signals: AbstentionSignals | None = None

    def to_dict(self) -> dict:
        return {"question": self.question, "answered": self.answered, "message": self.message,
                "interpretation": self.interpretation,
                "results": [result.to_dict() for result in self.results]}


@dataclass(frozen=True)
class Query:
    """A question prepared for both retrievers."""

    text: str
    interpretation: Interpretation
    weights: dict[str, float]
    vector: np.ndarray = field(repr=False)


def clean_question(raw: str) -> tuple[str, str]:
    """Normalise a question; return (question, problem) where problem is "" if usable.

    Control characters are dropped and whitespace collapsed; an empty or overlong
    question is refused with a message saying what to do.
    """
    text = unicodedata.normalize("NFKC", raw or "")
    text = "".join(ch if unicodedata.category(ch)[0] != "C" else " " for ch in text)
    text = re.sub(r"\s+", " ", text).strip()
    if not text:
        return "", "Type a question, for example: Can a councillor tell me to change my report?"
    if len(text) > MAX_QUESTION_CHARS:
        return text[:MAX_QUESTION_CHARS], (
            f"The question is {len(text):,} characters long; please ask in at most "
            f"{MAX_QUESTION_CHARS:,} characters.")
    return text, ""


def query_weights(question: str, interpretation: Interpretation,
                  expansion_weight: float = EXPANSION_WEIGHT) -> dict[str, float]:
    """Lexical query: each question token at weight 1 per occurrence, and the
    tokens of vocabulary names the question did not use at ``expansion_weight``."""
    weights: dict[str, float] = {}
    for token in tokenize(question):
        weights[token] = weights.get(token, 0.0) + 1.0
    for name in interpretation.expansions:
        for token in tokenize(name):
            if token not in weights:
                weights[token] = expansion_weight
    return weights


class Answerer:
    """Answers questions from one loaded index; safe to share across threads
    (it holds no per-question state)."""

    def __init__(self, index: HybridIndex, embedder: Embedder, *,
                 mode: FusionMode = FusionMode.CONVEX, dense_weight: float = DENSE_WEIGHT,
                 policy: AbstentionPolicy = AbstentionPolicy()) -> None:
        self.index = index
        self.embedder = embedder
        self.mode = FusionMode(mode)
        self.dense_weight = dense_weight
        self.policy = policy

    # -- preparing ---------------------------------------------------------
    def prepare(self, question: str) -> Query:
        interpretation = interpret(question)
        weights = query_weights(question, interpretation)
        vector = self.embedder.encode([question])[0]
        return Query(text=question, interpretation=interpretation, weights=weights, vector=vector)

    def signals(self, query: Query, lexical: dict[int, float], dense: dict[int, float]) -> AbstentionSignals:
        lex = self.index.lexical
        n = max(lex.num_docs, 1)
        own_terms = tokenize(query.text)
        unseen_idf = math.log((n + 0.5) / 0.5)
        terms = [(lex.idf_of(t) if lex.df(t) else unseen_idf, lex.df(t) > 0) for t in dict.fromkeys(own_terms)]
        best_possible = sum(lex.idf_of(t) * (BM25_K1 + 1) * w for t, w in query.weights.items() if lex.df(t))
        lexical_best = max(lexical.values(), default=0.0)
        lex_rank = rank_positions(lexical)
        dense_rank = rank_positions(dense)
        return AbstentionSignals(
            known_share=known_share(terms),
            dense_top=max(dense.values(), default=0.0),
            lexical_strength=(lexical_best / best_possible) if best_possible > 0 else 0.0,
            agreement=agreement(lex_rank, dense_rank),
        )

    # -- retrieving --------------------------------------------------------
    def retrieve(self, query: Query, allowed: np.ndarray | None,
                 candidates: int = CANDIDATES) -> tuple[dict[int, float], dict[int, float]]:
        """Lexical and dense scores for the union of both retrievers' candidates."""
        lexical = dict(self.index.lexical_top_k(query.weights, candidates, allowed)) if query.weights else {}
        dense = dict(self.index.dense_top_k(query.vector, candidates, allowed))
        union = sorted(set(lexical) | set(dense))
        if union:
            lexical_all = self.index.lexical_scores_for(query.weights, union) if query.weights else np.zeros(len(union))
            dense_all = self.index.dense_scores_for(query.vector, union)
            lexical = {p: float(s) for p, s in zip(union, lexical_all)}
            dense = {p: float(s) for p, s in zip(union, dense_all)}
        return lexical, dense

    def fuse(self, lexical: dict[int, float], dense: dict[int, float]) -> dict[int, float]:
        if self.mode is FusionMode.LEXICAL:
            return {p: s for p, s in lexical.items() if s > 0}
        if self.mode is FusionMode.DENSE:
            return dict(dense)
        if self.mode is FusionMode.RRF:
            lex_rank = [p for p in rank_positions(lexical) if lexical[p] > 0]
            return reciprocal_rank_fusion([lex_rank, rank_positions(dense)])
        return convex_fusion(lexical, dense, dense_weight=self.dense_weight)

    def ranked(self, query: Query, allowed: np.ndarray | None = None,
               candidates: int = CANDIDATES) -> tuple[list[tuple[int, float]], dict[int, float], dict[int, float]]:
        lexical, dense = self.retrieve(query, allowed, candidates)
        fused = self.fuse(lexical, dense)
        return [(p, fused[p]) for p in rank_positions(fused)], lexical, dense

    def make_results(self, query: Query, ranked: Iterable[tuple[int, float]],
                     lexical: dict[int, float], dense: dict[int, float], top_k: int) -> list[Result]:
        highlight_weights = {t: w * self.index.lexical.idf_of(t) for t, w in query.weights.items()}
        results = []
        for rank, (position, score) in enumerate(ranked, start=1):
            if rank > top_k:
                break
            passage = self.index.passages[position]
            results.append(Result(passage=passage, rank=rank, score=score,
                                  lexical=lexical.get(position, 0.0), dense=dense.get(position, 0.0),
                                  highlight=best_sentence(passage.text, highlight_weights, tokenize)))
        return results

    # -- answering ---------------------------------------------------------
    def ask(self, question: str, *, top_k: int = 5, authorities: Sequence[str] | None = None,
            kinds: Sequence[str] | None = None, statuses: Sequence[str] | None = None) -> Answer:
        """Answer one question: the top ``top_k`` clauses, or an honest abstention.

        Filters restrict the passages considered (an unknown authority simply
        matches nothing). Never raises for a bad question: it is refused with a message.
        """
        if top_k < 1:
            raise ValueError(f"top_k must be at least 1, got {top_k}")
        text, problem = clean_question(question)
        if problem:
            return Answer(question=text or question[:MAX_QUESTION_CHARS], answered=False, message=problem,
                          interpretation=[], results=[])
        query = self.prepare(text)
        allowed = self.index.mask(authorities=authorities, kinds=kinds, statuses=statuses)
        if allowed is not None and not allowed.any():
            return Answer(question=text, answered=False,
                          message="No documents match the chosen filters; clear a filter and ask again.",
                          interpretation=query.interpretation.notes, results=[])
        ranked, lexical, dense = self.ranked(query, allowed)
        signals = self.signals(query, lexical, dense)
        results = self.make_results(query, ranked, lexical, dense, top_k)
        abstain = should_abstain(signals, self.policy) or not results
        return Answer(question=text, answered=not abstain, message=NOT_ADDRESSED if abstain else "",
                      interpretation=query.interpretation.notes, results=results, signals=signals)
