"""The sparse BM25 against rank-bm25's BM25Okapi on real clauses, Lucene's idf, synonym sets, and top-k."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from rank_bm25 import BM25Okapi

from index.lexical import HEAD_SIZE, BM25Params, LexicalIndex, query_weights, tokenize, top_k_indices

CORPUS = Path(__file__).resolve().parents[2] / "corpus"


def real_clauses() -> list[str]:
    """Paragraphs of the packaged text documents, split at blank lines."""
    clauses = []
    for path in sorted(CORPUS.glob("*.txt")):
        text = path.read_text(encoding="utf-8")
        clauses.extend(p.strip() for p in text.split("\n\n") if p.strip())
    return clauses


@pytest.fixture(scope="module")
def clauses() -> list[list[str]]:
    tokens = [tokenize(c) for c in real_clauses()]
    assert len(tokens) > 200
    return tokens


OKAPI = BM25Params(idf="okapi")


@pytest.fixture(scope="module")
def pair(clauses):
    """Our index with rank-bm25's idf, and rank-bm25 itself."""
    return LexicalIndex.build(clauses, OKAPI), BM25Okapi(clauses)


def test_tokenize_stems_and_drops_stopwords():
    assert tokenize("The Councillors must not instruct officers") == ["councillor", "instruct", "offic"]
    assert tokenize("councillor's instructions") == ["councillor", "instruct"]
    assert tokenize("Section 9.3.7 and S151") == ["section", "9", "3", "7", "s151"]
    assert tokenize("") == [] and tokenize("the and of") == []


QUERIES = [
    "Can I ask an officer to come to my ward surgery?",
    "councillor councillor officer",                 # repeated term counts twice
    "political group meetings officers attend",
    "member",                                        # a very common term (idf floored)
    "the council",                                   # common terms, incl. possibly negative idf
    "xylophone quasar",                              # unknown terms
    "",                                              # empty
    "gifts hospitality register declare 28 days",
    "chief executive head of paid service monitoring officer complaint",
]


@pytest.mark.parametrize("british, other", [
    ("criticise", "criticism"), ("criticised", "criticize"), ("authorise", "authority"),
    ("organisation", "organization"), ("prioritising", "prioritize"), ("realised", "realize"),
])
def test_british_ise_spellings_meet_their_relatives(british, other):
    assert tokenize(british) == tokenize(other)


@pytest.mark.parametrize("word", ["advise", "advised", "exercise", "supervise", "premises", "otherwise", "raised"])
def test_words_that_are_spelt_ise_everywhere_keep_their_stem(word):
    import Stemmer

    assert tokenize(word) == Stemmer.Stemmer("english").stemWords([word])


@pytest.mark.parametrize("question", QUERIES)
def test_scores_equal_rank_bm25(pair, question):
    ours, reference = pair
    tokens = tokenize(question)
    expected = reference.get_scores(tokens)
    np.testing.assert_allclose(ours.scores(query_weights(tokens)), expected, rtol=0, atol=1e-6)


def test_negative_idf_floor_is_exercised(pair, clauses):
    ours, reference = pair
    negative = [t for t, df in ((t, ours.df(t)) for t in ours.vocabulary) if df > len(clauses) / 2]
    if not negative:  # make sure the floor path is tested on a tiny corpus instead
        docs = [["a", "b"], ["a", "c"], ["a"], ["d"]]
        tiny, ref = LexicalIndex.build(docs, OKAPI), BM25Okapi(docs)
        np.testing.assert_allclose(tiny.scores({"a": 1, "d": 2}), ref.get_scores(["a", "d", "d"]), atol=1e-12)
        assert ref.idf["a"] == pytest.approx(tiny.idf("a"))


def test_weights_multiply_contributions(pair):
    ours, _ = pair
    a = ours.scores({"offic": 1.0})
    b = ours.scores({"councillor": 1.0})
    np.testing.assert_allclose(ours.scores({"offic": 0.5, "councillor": 2.0}), 0.5 * a + 2.0 * b)


def test_df_and_vocabulary(pair, clauses):
    ours, reference = pair
    assert "councillor" in ours.vocabulary and "xylophone" not in ours.vocabulary
    assert ours.df("councillor") == sum("councillor" in doc for doc in clauses)
    assert ours.df("xylophone") == 0
    assert ours.idf("councillor") == pytest.approx(reference.idf["councillor"])


@pytest.mark.parametrize("k", [1, 5, 10, 1000])
@pytest.mark.parametrize("use_mask", [False, True])
def test_top_k_equals_stable_sort_of_scores(pair, k, use_mask):
    ours, _ = pair
    query = query_weights(tokenize("officer advice to a member of the executive in confidence"))
    scores = ours.scores(query)
    allowed = (np.arange(ours.n_docs) % 3 == 0) if use_mask else None
    eligible = (scores != 0) & (allowed if allowed is not None else True)
    order = [i for i in np.lexsort((np.arange(scores.size), -scores)) if eligible[i]][:k]
    got = ours.top_k(query, k, allowed)
    assert [i for i, _ in got] == order
    assert [s for _, s in got] == pytest.approx(scores[order].tolist())


def test_top_k_ties_break_by_index():
    scores = np.array([0.0, 2.0, 1.0, 2.0, 2.0, 0.5])
    assert top_k_indices(scores, 2) == [(1, 2.0), (3, 2.0)]
    assert top_k_indices(scores, 0) == []
    assert top_k_indices(np.zeros(3), 2) == []


def test_save_load_round_trip(pair, tmp_path):
    ours, _ = pair
    ours.save(tmp_path)
    loaded = LexicalIndex.load(tmp_path)
    query = query_weights(tokenize("member officer relations protocol"))
    np.testing.assert_array_equal(loaded.scores(query), ours.scores(query))
    assert loaded.df("councillor") == ours.df("councillor")


def test_empty_corpus():
    index = LexicalIndex.build([])
    assert index.scores({"a": 1}).shape == (0,) and index.top_k({"a": 1}, 3) == []


def test_bad_params_rejected():
    with pytest.raises(ValueError, match="b must be"):
        BM25Params(b=2)
    with pytest.raises(ValueError, match="idf must be one of"):
        BM25Params(idf="tfidf")


def test_lucene_idf_by_default_same_tf_part_as_okapi(clauses):
    lucene, okapi = LexicalIndex.build(clauses), LexicalIndex.build(clauses, OKAPI)
    n = len(clauses)
    for term in ("councillor", "offic", "hospit"):
        df = lucene.df(term)
        assert lucene.idf(term) == pytest.approx(math.log(1 + (n - df + 0.5) / (df + 0.5)))
        # Only the idf differs: per passage, the two scores are in the ratio of the idfs.
        a, b = lucene.scores({term: 1.0}), okapi.scores({term: 1.0})
        hit = b != 0
        np.testing.assert_allclose(a[hit] / b[hit], lucene.idf(term) / okapi.idf(term))
    # A term in most passages keeps a small positive idf: no negative values, no floor.
    tiny = LexicalIndex.build([["a", "b"], ["a", "c"], ["a"], ["d"]])
    assert tiny.idf("a") == pytest.approx(math.log(1 + 1.5 / 3.5))
    assert tiny.scores({"a": 1.0})[0] > 0


def _merged(documents, synonyms, name="SET"):
    return [[name if token in synonyms else token for token in doc] for doc in documents]


@pytest.mark.parametrize("params", [BM25Params(), OKAPI], ids=["lucene", "okapi"])
@pytest.mark.parametrize("synonyms", [("councillor", "member"), ("employe", "offic", "staff"),
                                      ("hospit", "gift", "xylophone")])
def test_a_synonym_set_scores_as_one_term(clauses, params, synonyms):
    """Scoring a set equals scoring a corpus in which its tokens were one token:
    term frequencies add up, and the document frequency is that of any of them."""
    ours = LexicalIndex.build(clauses, params)
    merged = LexicalIndex.build(_merged(clauses, set(synonyms)), params)
    assert ours.df(synonyms) == merged.df("SET") == sum(any(t in doc for t in synonyms) for doc in clauses)
    if params.idf == "lucene":  # okapi's floor depends on the whole vocabulary, which merging changes
        assert ours.idf(synonyms) == pytest.approx(merged.idf("SET"))
        np.testing.assert_allclose(ours.scores({synonyms: 1.0, "advic": 2.0}),
                                   merged.scores({"SET": 1.0, "advic": 2.0}), atol=1e-9)


def test_synonym_set_of_one_known_token_is_that_token(pair):
    ours, _ = pair
    np.testing.assert_array_equal(ours.scores({("councillor", "xylophone"): 1.0}), ours.scores({"councillor": 1.0}))
    assert ours.df(("xylophone", "quasar")) == 0 and ours.idf(("xylophone", "quasar")) == 0.0
    assert not ours.scores({("xylophone", "quasar"): 1.0}).any()


@pytest.fixture(scope="module")
def zipf_index():
    """3,000 passages over a Zipf-like vocabulary, heads of 128 postings: many
    query terms have long postings, as common terms do at a million passages."""
    rng = np.random.default_rng(7)
    vocabulary = [f"w{i}" for i in range(400)]
    weights = 1.0 / np.arange(1, 401)
    weights /= weights.sum()
    documents = [list(rng.choice(vocabulary, size=rng.integers(3, 40), p=weights)) for _ in range(3000)]
    return LexicalIndex.build(documents, head_size=128), vocabulary, rng


def _exact_order(index, query, k):
    scores = index.scores(query)
    return [int(i) for i in np.lexsort((np.arange(scores.size), -scores)) if scores[i] != 0][:k], scores


def test_top_k_through_the_heads_floor_is_exact(zipf_index, monkeypatch):
    index, vocabulary, rng = zipf_index
    assert index._head_rows.size > 50  # many query terms below have heads
    floors = []
    original = LexicalIndex._kth_score_floor
    monkeypatch.setattr(LexicalIndex, "_kth_score_floor",
                        lambda self, *args: floors.append(original(self, *args)) or floors[-1])
    for _ in range(100):
        query = {term: float(rng.integers(1, 3)) for term in rng.choice(vocabulary[:120], size=rng.integers(1, 6))}
        for k in (1, 10, 60):
            order, scores = _exact_order(index, query, k)
            got = index.top_k(query, k)
            assert [i for i, _ in got] == order
            assert [s for _, s in got] == pytest.approx(scores[order].tolist())
    assert sum(floor > 0 for floor in floors) > 0.5 * len(floors)  # the floor path is the usual one


def test_heads_survive_save_and_load(zipf_index, tmp_path):
    index, _, _ = zipf_index
    index.save(tmp_path)
    loaded = LexicalIndex.load(tmp_path)
    np.testing.assert_array_equal(loaded._head_docs, index._head_docs)
    query = {"w1": 1.0, "w2": 1.0, "w30": 1.0}
    assert loaded.top_k(query, 10) == index.top_k(query, 10)
    (tmp_path / "lexical_heads.npz").unlink()  # an index saved before heads existed gets them at load
    rebuilt = LexicalIndex.load(tmp_path)
    assert rebuilt._head_size == HEAD_SIZE and rebuilt.top_k(query, 10) == index.top_k(query, 10)


def test_top_k_with_synonym_sets_is_exact(zipf_index):
    """Sets merged from long postings get heads of their own; the floor stays exact."""
    index, vocabulary, rng = zipf_index
    for _ in range(60):
        query = {tuple(sorted(rng.choice(vocabulary[:60], size=rng.integers(2, 4), replace=False))): 1.0}
        query.update({term: 1.0 for term in rng.choice(vocabulary[:120], size=rng.integers(0, 3))})
        for k in (1, 10, 60):
            order, scores = _exact_order(index, query, k)
            assert [i for i, _ in index.top_k(query, k)] == order
    assert index._set_postings(("w0", "w1"))[2] is not None  # a set that long has a head


def test_synonym_sets_survive_save_and_load(zipf_index, tmp_path):
    index, _, _ = zipf_index
    index.save(tmp_path)
    loaded = LexicalIndex.load(tmp_path)
    query = {("w3", "w7", "w150"): 1.0, "w30": 2.0}
    np.testing.assert_array_equal(loaded.scores(query), index.scores(query))
    assert loaded.df(("w3", "w7")) == index.df(("w3", "w7"))


def test_prepare_merges_sets_ahead_of_questions(clauses):
    index = LexicalIndex.build(clauses)
    index.prepare([("councillor", "member"), "offic", ("employe", "staff")])
    assert index._set_postings.cache_info().currsize == 2
    index.df(("councillor", "member"))
    assert index._set_postings.cache_info().hits == 1
