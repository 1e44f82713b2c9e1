"""Answering a question: interpret, retrieve, fuse, filter, abstain, highlight."""

from __future__ import annotations

import copy
import logging
import math
import re
import unicodedata
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from typing import Callable, Iterable, Sequence

import numpy as np

from index.embed import Embedder
from index.hybrid import HybridIndex
from index.lexical import Term, tokenize
from ingest.passage import Passage

from .abstain import (AbstentionModel, AbstentionPolicy, AbstentionSignals, BoostedComparison, ComparisonModel,
                      StemFamilies, agreement, fitted_abstention_model, fitted_comparison_model, is_long,
                      is_normative, load_scope_model, load_words_scope, should_abstain, weighted_share)
from .config import load_pipeline
from .highlight import best_sentence
from .rerank import Reranker, load_reranker
from .ranking import (FusionMode, blend_scores, convex_scores, distinct_head, diversify, fold_copies, rank_positions,
                      readers, rerank_scores, rrf_scores, top_positions)
from .vocabulary import (Interpretation, SynonymGroup, asker_role, corpus_names, in_corpus_words, interpret,
                         load_vocabulary, named_authorities, role_names, unknown_councils, without_council_mention)

log = logging.getLogger(__name__)

MAX_QUESTION_CHARS = 1000
CANDIDATES = 100
AGREEMENT_DEPTH = 5

# The lexical search of a question runs here while the calling thread encodes
# the question, so at scale the two overlap on two cores instead of adding up.
# Both release the GIL (ONNX Runtime, scipy's sparse kernel, numpy).
_LEXICAL_WORKERS = ThreadPoolExecutor(max_workers=8, thread_name_prefix="protocol-qa-lexical")
# A question's second wording (see Answerer.wordings) is encoded here while the
# calling thread encodes the first: on two cores both take about as long as one
# (the encoder runs one thread per call), where one call with both took 1.4 times.
_ENCODER_WORKERS = ThreadPoolExecutor(max_workers=8, thread_name_prefix="protocol-qa-encode")

# Words that shape a question but name no topic ("Is it OK to...", "How much...",
# "May I...", "...whether someone..."): the function words of scikit-learn's
# English stop list that the NLTK list behind ``index.lexical.STOPWORDS`` lacks,
# plus "ok". Dropped from the lexical query and from the coverage signal only:
# the index keeps them, and the dense encoder still reads the whole question.
QUESTION_WORDS = frozenset(tokenize(
    "may much many get ok okay whether someone somebody anyone anybody something anything "
    "everyone everything please also ever either else"))

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
    # Lineage (qa.provisions): the provision this clause belongs to, its identical or reworded
    # copies in other councils, and the national model its document adopts.
    provision: str = ""
    also_in: tuple[dict, ...] = ()
    adopts: str = ""

    def to_dict(self) -> dict:
        """The result object of the command-line JSON contract."""
        p = self.passage
        record = {
            "rank": self.rank, "score": round(self.score, 4), "id": p.id, "authority": p.authority,
            "document": p.document, "kind": p.kind, "status": p.status, "date": p.date,
            "attribution": p.attribution, "source": p.source, "section": p.section,
            "clause": p.clause, "pages": list(p.pages) if p.pages is not None else None,
            "text": p.text, "highlight": self.highlight,
        }
        if self.adopts:
            record["adopts"] = self.adopts
        if self.provision:
            record["provision"] = self.provision
            record["also_in"] = list(self.also_in)
        return record


@dataclass(frozen=True)
class FusedRun:
    """One retrieval, fused: the candidates best first, their fused scores, and each retriever's."""

    order: list[int]
    fused: dict[int, float]
    lexical: dict[int, float]
    dense: dict[int, float]


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
    lexical_text: str
    weights: dict[Term, float]
    vector: np.ndarray = field(repr=False)
    # The question's encodings: its own wording, and the documents' wording
    # when that differs (see Answerer.prepare); ``vector`` is their mean.
    vectors: np.ndarray = field(repr=False, compare=False)
    lexical_ceiling: float = 0.0
    # The documents' name for the role "I" and "me" stand for ("" for none;
    # see qa.vocabulary.asker_role).
    asker: str = ""
    # Whether the question asks what someone may, must or should do (see
    # qa.abstain.is_normative); read once here, not in every council's signals.
    normative: bool = False
    # Whether it is long enough to tell a situation first (qa.abstain.is_long).
    long: bool = False
    # BM25 over every passage and the best CANDIDATES of them (no filter), being
    # computed in a worker thread while the question is encoded and then searched
    # densely; read through the properties below, which wait for it.
    lexical_search: Future | None = field(default=None, repr=False, compare=False)
    # The reranker's probability of each passage already scored for this question:
    # a comparison reranks every council's candidates, many of them already
    # scored in the whole corpus's ranking.
    reranked: dict[int, float] = field(default_factory=dict, repr=False, compare=False)

    @property
    def notes(self) -> list[str]:
        """How the question was read, for the user: its vocabulary matches,
        and the role taken for "I" and "me"."""
        notes = list(self.interpretation.notes)
        if self.asker:
            notes.append(f"I, me ~ {'an' if self.asker[0] in 'aeiou' else 'a'} {self.asker}")
        return notes

    @property
    def lexical_scores(self) -> np.ndarray | None:
        """BM25 of every passage: computed once per question, reused by every
        restricted search (compare runs one per authority); None for a query
        without lexical terms."""
        return self.lexical_search.result()[0] if self.lexical_search is not None else None

    @property
    def lexical_top(self) -> list[tuple[int, float]]:
        """The best CANDIDATES passages by BM25 over the whole index."""
        return self.lexical_search.result()[1] if self.lexical_search is not None else []


def _unit(vector: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(vector))
    return (vector / norm).astype(np.float32) if norm > 0 else vector.astype(np.float32)


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


def question_tokens(question: str) -> list[str]:
    """The question's tokens (see :func:`index.lexical.tokenize`) less :data:`QUESTION_WORDS`."""
    return [token for token in tokenize(question) if token not in QUESTION_WORDS]


def query_weights(question: str, interpretation: Interpretation, expansion_weight: float = 0.5,
                  share_of=None, rare_share: float = 0.02, synonym_sets: bool = True) -> dict[Term, float]:
    """Lexical query: each question token (less the question words) at weight 1 per occurrence,
    a one-word vocabulary name as its synonym set, plus the other names of a matched phrase.

    With ``synonym_sets``, a question word that is one-word name of a
    vocabulary concept ("councillor") becomes the set of that concept's
    one-word names (``("cllr", "councillor", "member")``), which the lexical
    index scores as one term (see :mod:`index.lexical`): "Members" in a
    clause counts as "councillor" in the question, and a concept whose names
    fill the corpus weighs little. Names of several words ("elected member")
    are left out of the set; "vice-chair" is two tokens, likewise.

    Phrases of several words ("monitoring officer") keep their own tokens;
    their other names come in at ``expansion_weight``, and only for a phrase
    the corpus itself seldom uses (``share_of(token)``, the share of passages
    containing the token, under ``rare_share``): when the question says
    "s151 officer" and the documents say "chief financial officer", the other
    name carries the meaning; when both fill the documents, adding one to the
    other only adds noise (measured: see README "Retrieval quality"). Without
    ``synonym_sets``, one-word names are expanded the same way (the previous
    behaviour, kept for the ablation).
    """
    weights: dict[Term, float] = {}
    for token in question_tokens(question):
        weights[token] = weights.get(token, 0.0) + 1.0
    expanded: set[str] = set()
    if synonym_sets:
        for phrase, group in interpretation.matched:
            own = tokenize(phrase)
            if len(own) != 1 or own[0] not in weights:
                continue
            names = synonym_set(group)
            if len(names) > 1 and own[0] in names:
                weights[names] = weights.get(names, 0.0) + weights.pop(own[0])
                expanded.add(phrase)
    if expansion_weight <= 0:
        return weights
    for phrase, group in interpretation.matched:
        if phrase in expanded:
            continue
        own = tokenize(phrase)
        if share_of is not None and own and min(share_of(t) for t in own) >= rare_share:
            continue
        multiword = " " in phrase
        for name in group.names:
            if name == phrase or (" " in name and not multiword):
                continue
            for token in tokenize(name):
                if token not in weights:
                    weights[token] = expansion_weight
    return weights


@lru_cache(maxsize=256)
def synonym_set(group: SynonymGroup) -> tuple[str, ...]:
    """The tokens of a vocabulary group's one-word names, sorted: one lexical term
    (worked out once per group, not on every question)."""
    tokens = set()
    for name in group.names:
        if " " not in name:
            parts = tokenize(name)
            if len(parts) == 1:
                tokens.add(parts[0])
    return tuple(sorted(tokens))


def term_tokens(term: Term) -> tuple[str, ...]:
    """The tokens of a lexical query term (one, or a synonym set's)."""
    return term if isinstance(term, tuple) else (term,)


def _alternative_tokens(interpretation: Interpretation) -> dict[str, set[str]]:
    """For each token of a matched vocabulary name, the tokens of its other names."""
    out: dict[str, set[str]] = {}
    for phrase, group in interpretation.matched:
        others = {token for name in group.names for token in tokenize(name)}
        for token in tokenize(phrase):
            out.setdefault(token, set()).update(others)
    return out


class Answerer:
    """Answers questions from one loaded index; safe to share across threads
    (it holds no per-question state)."""

    def __init__(self, index: HybridIndex, embedder: Embedder, *,
                 mode: FusionMode | None = None, dense_weight: float | None = None,
                 rrf_weight: float | None = None,
                 expansion_weight: float | None = None, synonym_sets: bool | None = None,
                 theoretical_scale: bool = True, corpus_wording: bool | None = None,
                 per_group: int = 1,
                 policy: AbstentionPolicy = AbstentionPolicy(),
                 abstention: AbstentionModel | None | str = "fitted",
                 reranker: "Reranker | None | str" = "trained", rerank_depth: int | None = None,
                 rerank_weight: float | None = None, profile: str | None = None) -> None:
        """Settings left as None come from ``qa/data/pipeline.toml``: its ``learned``
        profile when this encoder has learned stages in ``models/`` (a fitted
        abstention trained on its scores), else its ``hand`` profile."""
        self.index = index
        self.embedder = embedder
        # The learned stages trained with this encoder (models/), where there are
        # any: the decisions read its scores, the reranker was trained on its
        # candidates. Otherwise the hand-set thresholds of ``policy`` decide and
        # the fused order is final.
        fingerprint = getattr(embedder, "fingerprint", "")
        fitted = fitted_abstention_model(fingerprint)
        self.abstention = fitted if abstention == "fitted" else abstention
        self.comparison_model: ComparisonModel | BoostedComparison = fitted_comparison_model(fingerprint)
        self.scope = load_scope_model(fingerprint)
        self.words_scope = load_words_scope()
        self.profile = profile or ("learned" if fitted is not None else "hand")
        settings = load_pipeline(self.profile)
        self.settings = settings
        self.mode = FusionMode(mode or settings.mode)
        self.dense_weight = settings.dense_weight if dense_weight is None else dense_weight
        self.rrf_weight = settings.rrf_weight if rrf_weight is None else rrf_weight
        self.expansion_weight = settings.expansion_weight if expansion_weight is None else expansion_weight
        synonym_sets = settings.synonym_sets if synonym_sets is None else synonym_sets
        corpus_wording = settings.corpus_wording if corpus_wording is None else corpus_wording
        self.synonym_sets = synonym_sets
        self.theoretical_scale = theoretical_scale
        self.per_group = per_group
        self.policy = policy
        self.reranker = load_reranker(encoder=fingerprint) if reranker == "trained" else reranker
        self.rerank_depth = settings.rerank_depth if rerank_depth is None else rerank_depth
        self.rerank_weight = settings.rerank_weight if rerank_weight is None else rerank_weight
        self.compare_rerank_depth = settings.compare_rerank_depth
        self.rerank_pairs = settings.rerank_pairs
        self.rerank_once_per_provision = settings.rerank_once_per_provision
        self.compare_gate = settings.compare_gate
        self.fold_copies = settings.fold_copies
        self.min_answer_words = settings.min_answer_words
        # Whether each passage read so far is long enough to answer (see answers_alone).
        self._long_enough: dict[int, bool] = {}
        if synonym_sets:
            index.lexical.prepare(synonym_set(group) for group in load_vocabulary())
        self.corpus_names = (corpus_names(load_vocabulary(), index.lexical.df, tokenize)
                             if corpus_wording else None)
        self.role_names = role_names(load_vocabulary(), self.corpus_names) if corpus_wording else None

    def variant(self, **changes) -> "Answerer":
        """This answerer with some settings changed and every other one kept
        (evaluation scores each fusion mode of exactly the configuration ``ask`` runs)."""
        unknown = set(changes) - {"mode", "dense_weight", "rrf_weight", "policy", "per_group", "abstention",
                                  "comparison_model", "reranker", "rerank_depth", "rerank_weight"}
        if unknown:
            raise ValueError(f"cannot vary {sorted(unknown)}; build a new Answerer instead")
        other = copy.copy(self)
        for name, value in changes.items():
            setattr(other, name, FusionMode(value) if name == "mode" else value)
        return other

    # -- preparing ---------------------------------------------------------
    def prepare(self, question: str, lexical_text: str | None = None) -> Query:
        """Interpret and encode a question. ``lexical_text``, when given, is
        the wording used for the lexical query instead of the question."""
        interpretation = interpret(lexical_text or question)
        lex = self.index.lexical
        n = max(lex.n_docs, 1)
        weights = query_weights(lexical_text or question, interpretation, self.expansion_weight,
                                share_of=lambda token: lex.df(token) / n, synonym_sets=self.synonym_sets)
        search = _LEXICAL_WORKERS.submit(self._lexical_search, weights) if weights else None
        wordings = self.wordings(question, interpretation)
        other = _ENCODER_WORKERS.submit(self.embedder.encode, wordings[1:]) if len(wordings) > 1 else None
        vectors = self.embedder.encode(wordings[:1])
        if other is not None:
            vectors = np.vstack([vectors, other.result()])
        vector = vectors[0] if len(vectors) == 1 else _unit(vectors.mean(axis=0))
        role = asker_role(question, interpretation) if self.role_names else ""
        return Query(text=question, interpretation=interpretation, lexical_text=lexical_text or question,
                     weights=weights, vector=vector, vectors=vectors,
                     lexical_ceiling=self.lexical_ceiling(weights), lexical_search=search,
                     asker=self.role_names.get(role, "") if role else "", normative=is_normative(question),
                     long=is_long(question))

    def wordings(self, question: str, interpretation: Interpretation) -> list[str]:
        """What the dense encoder reads: the question, and the question in the
        documents' own names for its vocabulary concepts when those differ
        ("Can a councillor..." and "Can a member..." on a corpus that says
        Members), with "I" and "me" read as the asker's role where the
        question shows it ("Can a councillor tell me..." is an officer's
        question). Ranking uses the mean of the two encodings, so a clause is
        not ranked down for naming a role the way its council does; the
        abstention signal uses the closer of the two (see :meth:`signals`).
        Measured in the README, "Retrieval quality".
        """
        if self.corpus_names is None:
            return [question]
        rewritten = in_corpus_words(question, interpretation, self.corpus_names, self.role_names)
        return [question] if rewritten == question else [question, rewritten]

    def _lexical_search(self, weights: dict[Term, float]) -> tuple[np.ndarray, list[tuple[int, float]]]:
        """BM25 of every passage, and the best CANDIDATES of them."""
        scores = self.index.lexical.scores(weights)
        return scores, self.index.lexical.top_k(weights, CANDIDATES, scores=scores)

    def signals(self, query: Query, lexical: dict[int, float], dense: dict[int, float],
                ranked: Sequence[tuple[int, float]] = ()) -> AbstentionSignals:
        """The abstention signals of one retrieval (see :mod:`qa.abstain`)."""
        lex = self.index.lexical
        n = max(lex.n_docs, 1)
        unseen_idf = math.log((n + 0.5) / 0.5)
        top_tokens = [StemFamilies(self.index.token_set(p, context=True)) for p, _ in list(ranked)[:3]]
        alternatives = _alternative_tokens(query.interpretation)
        terms = []
        for term in dict.fromkeys(question_tokens(query.lexical_text)):
            df = lex.df(term)
            if df / n >= self.policy.specific_share:
                continue  # "council", "member": in every other clause, they say nothing about the topic
            names = alternatives.get(term, set()) | {term}
            terms.append((lex.idf(term) if df else unseen_idf, any(tokens.has_any(names) for tokens in top_tokens)))
        coverage = weighted_share(terms) if terms else (1.0 if top_tokens else 0.0)
        best_possible = query.lexical_ceiling
        lexical_best = max(lexical.values(), default=0.0)
        dense_top = max(dense.values(), default=0.0)
        if len(query.vectors) > 1 and dense:
            # The closest either wording comes to a candidate: a question is
            # addressed if it is addressed in its own words or in the documents'.
            dense_top = max(dense_top, self.index.best_dense_score(query.vectors, list(dense)))
        return AbstentionSignals(
            coverage=coverage,
            dense_top=dense_top,
            lexical_strength=(lexical_best / best_possible) if best_possible > 0 else 0.0,
            agreement=agreement([p for p in top_positions(lexical, AGREEMENT_DEPTH) if lexical[p] > 0],
                                top_positions(dense, AGREEMENT_DEPTH), depth=AGREEMENT_DEPTH),
            normative=query.normative,
            long=query.long,
            rerank_top=max((query.reranked.get(p, 0.0) for p, _ in ranked[:max(self.rerank_pairs, self.rerank_depth)]),
                           default=0.0),
            scope=self.scope.score(query.vectors[0]) if self.scope is not None else 0.0,
            words=self.words_scope.score(query.text) if self.words_scope is not None else 0.0,
        )

    def resolve_authorities(self, names: Sequence[str] | None) -> list[str] | None:
        """The index's own name for each of ``names``: the same name in any case,
        else the one authority whose name contains it ("watford" for Watford
        Borough Council). Raises ``ValueError`` naming a name that matches no
        authority or several, with the authorities there are."""
        if not names:
            return None
        known = list(self.index.authorities)
        resolved = []
        for name in names:
            wanted = " ".join(name.split()).lower()
            exact = [a for a in known if a.lower() == wanted]
            partial = exact or [a for a in known if wanted and wanted in a.lower()]
            if len(partial) != 1:
                problem = "matches no authority" if not partial else f"matches {len(partial)} authorities"
                raise ValueError(f"--authority {name!r} {problem}; the index holds: {', '.join(known)}")
            resolved.append(partial[0])
        return resolved

    def notes(self, query: Query) -> list[str]:
        """How the question was read, for the user: the vocabulary's matches
        only where they shape the ranking (the learned profile ranks without
        them, so showing them would misdescribe what was done)."""
        uses_vocabulary = self.synonym_sets or self.expansion_weight > 0 or self.corpus_names is not None
        return query.notes if uses_vocabulary else []

    def abstains(self, signals: AbstentionSignals) -> bool:
        """Whether the documents do not address a question with these signals:
        the fitted model's decision, or the policy's thresholds where none is fitted."""
        if self.abstention is not None:
            return not self.abstention.answers(signals)
        return should_abstain(signals, self.policy)

    # -- retrieving --------------------------------------------------------
    def retrieve(self, query: Query, allowed: np.ndarray | None,
                 candidates: int = CANDIDATES) -> tuple[dict[int, float], dict[int, float]]:
        """Lexical and dense scores for the union of both retrievers' candidates."""
        # While BM25 may still run; the union is re-scored exactly below.
        dense_top = self.index.dense_top_k(query.vector, candidates, allowed, exact_scores=False)
        lexical_all = query.lexical_scores
        if lexical_all is None:
            lexical_top = []
        elif allowed is None and candidates == CANDIDATES:
            lexical_top = query.lexical_top
        else:
            lexical_top = self.index.lexical.top_k(query.weights, candidates, allowed, scores=lexical_all)
        union = [p for p in sorted({p for p, _ in lexical_top} | {p for p, _ in dense_top}) if self.answers_alone(p)]
        if not union:
            return {}, {}
        dense_all = self.index.dense_scores_for(query.vector, union)
        lexical = {p: float(lexical_all[p]) if lexical_all is not None else 0.0 for p in union}
        dense = {p: float(s) for p, s in zip(union, dense_all)}
        return lexical, dense

    def answers_alone(self, position: int) -> bool:
        """Whether a passage has words enough to answer anything (``min_answer_words``): a
        contents table's page range ("10-12"), a date or "Not applicable." cut out on its own
        is kept in the index, and shown in Browse, but is never a candidate answer."""
        known = self._long_enough.get(position)
        if known is None:
            known = self._long_enough[position] = \
                len(self.index.passages[position].text.split()) >= self.min_answer_words
        return known

    def lexical_ceiling(self, weights: dict[Term, float]) -> float:
        """The most BM25 could give a passage for these query weights (each term at
        its idf times k1 + 1), used to put lexical scores on an absolute 0..1 scale."""
        lex = self.index.lexical
        return sum(lex.idf(t) * (lex.params.k1 + 1) * w for t, w in weights.items() if lex.df(t))

    def fuse(self, lexical: dict[int, float], dense: dict[int, float],
             lexical_scale: float | None = None) -> dict[int, float]:
        """Fused score of each candidate; ``lexical`` and ``dense`` score the same candidates."""
        if self.mode is FusionMode.LEXICAL:
            return {p: s for p, s in lexical.items() if s > 0}
        if self.mode is FusionMode.DENSE:
            return dict(dense)
        count = len(lexical)
        rows = np.fromiter(lexical, dtype=np.int64, count=count)
        lexical_a = np.fromiter(lexical.values(), dtype=np.float64, count=count)
        dense_a = np.fromiter((dense.get(p, 0.0) for p in lexical), dtype=np.float64, count=count)
        rrf = rrf_scores(lexical_a, dense_a, rows)
        if self.mode is FusionMode.RRF:
            fused = rrf
        else:
            fused = convex_scores(lexical_a, dense_a, dense_weight=self.dense_weight,
                                  lexical_scale=lexical_scale if self.theoretical_scale else None)
            if self.mode is FusionMode.BLEND:
                fused = blend_scores(fused, rrf, rrf_weight=self.rrf_weight)
        return dict(zip(rows.tolist(), fused.tolist()))

    def ranked(self, query: Query, allowed: np.ndarray | None = None, candidates: int = CANDIDATES,
               adjust_dense: Callable[[dict[int, float]], dict[int, float]] | None = None,
               shown: int | None = None, rerank_depth: int | None = None,
               ) -> tuple[list[tuple[int, float]], dict[int, float], dict[int, float]]:
        """Fused (and, with a reranker, reranked) ranking of the candidates, best
        first, with each retriever's scores.

        ``adjust_dense`` may revise the dense scores before fusion (comparison
        lends a clause's score to other councils' copies of it). ``shown``, when
        given, is how many results will be used: only those are diversified.
        ``rerank_depth`` overrides how many candidates the reranker reads.
        """
        fused_run = self.fused(query, allowed, candidates, adjust_dense)
        return self.finish(query, fused_run, shown=shown, rerank_depth=rerank_depth)

    def fused(self, query: Query, allowed: np.ndarray | None = None, candidates: int = CANDIDATES,
              adjust_dense: Callable[[dict[int, float]], dict[int, float]] | None = None) -> FusedRun:
        """Retrieve and fuse: the candidates in fused order, before any reranking."""
        lexical, dense = self.retrieve(query, allowed, candidates)
        if adjust_dense is not None:
            dense = adjust_dense(dense)
        fused = self.fuse(lexical, dense, query.lexical_ceiling)
        return FusedRun(rank_positions(fused), fused, lexical, dense)

    def reranks(self, rerank_depth: int | None = None) -> int:
        """How many different clauses the reranker reads (0: it reads none)."""
        return (rerank_depth or self.rerank_depth) if self.reranker is not None and self.rerank_depth else 0

    def rerank_head(self, order: Sequence[int], depth: int) -> list[int]:
        """The first candidates covering ``depth`` different clauses, copies and rewordings
        of one provision counted once, at most ``rerank_pairs`` of them (:func:`distinct_head`)."""
        group_of = self.provision_key if self.index.provisions is not None else (lambda position: None)
        return distinct_head(order, depth, group_of, max(self.rerank_pairs, depth))

    def score(self, query: Query, positions: Iterable[int], *, alone: bool = False) -> None:
        """The reranker's probability of each of ``positions`` not yet scored for this
        question, in one call; identical copies (same heading and words) are read once.
        With ``alone``, each reading is the same whatever is read beside it (``Reranker.batches``)."""
        new = [p for p in dict.fromkeys(positions) if p not in query.reranked]
        if new:
            texts = {p: self.index.passages[p].retrieval_text for p in new}
            distinct = list(dict.fromkeys(texts.values()))
            probability = dict(zip(distinct, map(float, self.reranker.scores(query.text, distinct, alone=alone))))
            query.reranked.update((p, probability[texts[p]]) for p in new)

    def read(self, query: Query, positions: Sequence[int], *, alone: bool = False) -> dict[int, int]:
        """Score ``positions`` (:meth:`score`, ``alone`` passed on) and return whose reading each
        takes: its own, or with ``rerank_once_per_provision`` that of one wording of the same
        provision, one read already for this question if there is one (:func:`qa.ranking.readers`)."""
        if self.rerank_once_per_provision and self.index.provisions is not None:
            reader = readers(positions, self.provision_key, read=query.reranked.keys())
        else:
            reader = {p: p for p in positions}
        self.score(query, reader.values(), alone=alone)
        return reader

    def finish(self, query: Query, run: FusedRun, *, shown: int | None = None,
               rerank_depth: int | None = None) -> tuple[list[tuple[int, float]], dict[int, float], dict[int, float]]:
        """Rerank (when there is a reranker) and diversify a fused run."""
        order, fused = run.order, run.fused
        depth = self.reranks(rerank_depth)
        if depth and order:
            order, fused = self.rerank(query, order, fused, depth)
        if self.per_group:
            order = diversify(order, self.list_group, self.per_group, limit=shown)
        return [(p, fused[p]) for p in order], run.lexical, run.dense

    def rerank(self, query: Query, order: list[int], fused: dict[int, float],
               depth: int) -> tuple[list[int], dict[int, float]]:
        """The first candidates covering ``depth`` different clauses (:meth:`rerank_head`)
        reordered by the cross-encoder: each scores ``rerank_weight`` times its probability
        plus the rest times its fused score scaled to 0..1 over those candidates
        (``blend_scores``); the rest follow in fused order, scored below them."""
        head = self.rerank_head(order, depth)
        tail = order[len(head):]
        reader = self.read(query, head)
        blended = rerank_scores(np.array([fused[p] for p in head]),
                                np.array([query.reranked[reader[p]] for p in head]), self.rerank_weight)
        scored = dict(zip(head, blended.tolist()))
        head = sorted(head, key=lambda p: -scored[p])
        floor = min(scored.values())
        top_tail = max((fused[p] for p in tail), default=0.0) or 1.0
        scored.update({p: floor * fused[p] / top_tail * 0.99 for p in tail})
        return head + tail, scored

    def list_group(self, position: int) -> tuple[str, str, str]:
        """Passages cut from one list share their document, section and lead-in line."""
        passage = self.index.passages[position]
        lead_in = passage.text.split("\n", 1)[0] if "\n" in passage.text else passage.id
        return passage.source, passage.section, lead_in

    def make_results(self, query: Query, ranked: Iterable[tuple[int, float]],
                     lexical: dict[int, float], dense: dict[int, float], top_k: int) -> list[Result]:
        highlight_weights: dict[str, float] = {}
        for term, weight in query.weights.items():
            term_weight = weight * self.index.lexical.idf(term)
            for token in term_tokens(term):
                highlight_weights[token] = highlight_weights.get(token, 0.0) + term_weight
        results = []
        for rank, (position, score) in enumerate(ranked, start=1):
            if rank > top_k:
                break
            passage = self.index.passages[position]
            provision, also_in = self.lineage(position)
            results.append(Result(passage=passage, rank=rank, score=score,
                                  lexical=lexical.get(position, 0.0), dense=dense.get(position, 0.0),
                                  highlight=best_sentence(passage.text, highlight_weights, tokenize),
                                  provision=provision, also_in=tuple(also_in),
                                  adopts=self.adopts.get(passage.source) or ""))
        return results

    @cached_property
    def adopts(self) -> dict[str, str]:
        """Source -> the title of the national model its document adopts (found at ingest)."""
        return {d["source"]: d["adopts"] for d in self.index.documents if d.get("adopts")}

    def copy_key(self, position: int) -> str | None:
        """The provision of a clause that is an identical copy of it, for :func:`fold_copies`."""
        from .provisions import copy_key

        return copy_key(self.index, position)

    def provision_key(self, position: int) -> str | None:
        """The provision of a clause with copies or rewordings elsewhere, for :func:`distinct_head`."""
        from .provisions import provision_key

        return provision_key(self.index, position)

    def lineage(self, position: int) -> tuple[str, list[dict]]:
        """The passage's provision and its copies elsewhere, when the index was saved with provisions
        (never grouped here: an index built without them answers without lineage)."""
        if self.index.provisions is None:
            return "", []
        from .provisions import lineage

        return lineage(self.index, position)

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
        missing = [] if authorities else unknown_councils(text, self.index.authorities)
        if missing:
            return Answer(question=text, answered=False, interpretation=[], results=[], message=(
                f"The documents of {', '.join(missing)} are not in the index, so no other council's clause is "
                f"given in their place. The councils indexed are: {', '.join(self.index.authorities)}."))
        named = [] if authorities else named_authorities(text, self.index.authorities)
        if named:
            # A question that names a council ("... at Carlisle?") is about that council only,
            # and its name need not be matched word for word in the clauses: once the search is
            # restricted to it, the models read the question without it.
            authorities = named
            query = self.prepare(without_council_mention(text, named) or text)
        else:
            query = self.prepare(text)
        notes = self.notes(query)
        if named:
            notes.append("only " + ", ".join(named) + " (named in the question)")
        allowed = self.index.mask(authorities=authorities, kinds=kinds, statuses=statuses)
        if allowed is not None and not allowed.any():
            return Answer(question=text, answered=False,
                          message="No documents match the chosen filters; clear a filter and ask again.",
                          interpretation=notes, results=[])
        ranked, lexical, dense = self.ranked(query, allowed, shown=top_k)
        signals = self.signals(query, lexical, dense, ranked)
        if self.fold_copies and self.index.provisions is not None:
            ranked = fold_copies(ranked, self.copy_key)
        results = self.make_results(query, ranked, lexical, dense, top_k)
        abstain = self.abstains(signals) or not results
        if authorities and not abstain:
            # A council's own nearest clause is not an answer because the search was
            # restricted to it: it must address the question as a comparison of the
            # question as asked decides (with the council's name when it named one).
            from .compare import addressed_by  # compare builds on this class
            abstain = not addressed_by(self, self.prepare(text) if named else query, authorities)
        return Answer(question=text, answered=not abstain, message=NOT_ADDRESSED if abstain else "",
                      interpretation=notes, results=results, signals=signals)
