"""The learned stages' plumbing, with made-up data and fakes: reranking, the
pipeline profiles, fitting abstention and scope, and models tied to their encoder."""

import json
import random

import numpy as np
import pytest

from index.embed import FakeEmbedder
from qa.abstain import ABSTENTION_FEATURES, AbstentionModel, AbstentionSignals, WordsScope, WordsScopeError
from qa.config import load_pipeline
from qa.evaluate import EvalQuestion
from qa.fit_abstention import Example, WordsScopeSettings, fit, fit_scope, fit_words_scope, summary
from qa.ranking import rerank_scores
from qa.rerank import load_reranker, rerank_enabled, served_encoders


def test_rerank_scores_blend_the_probability_with_the_scaled_fused_score():
    fused = np.array([0.9, 0.5, 0.1])
    probabilities = np.array([0.1, 0.9, 0.5])
    assert rerank_scores(fused, probabilities, 0.0).tolist() == pytest.approx([1.0, 0.5, 0.0])
    assert rerank_scores(fused, probabilities, 1.0).tolist() == pytest.approx([0.1, 0.9, 0.5])
    assert rerank_scores(np.array([0.4, 0.4]), np.array([0.2, 0.6]), 0.5).tolist() == pytest.approx([0.6, 0.8])
    with pytest.raises(ValueError, match="rerank weight must be between 0 and 1, got 2"):
        rerank_scores(fused, probabilities, 2)


class FakeReranker:
    """Prefers one passage text; counts what it is asked to score."""

    def __init__(self, preferred: str):
        self.preferred, self.scored, self.calls = preferred, 0, 0

    def scores(self, question, texts, alone=False):
        self.scored += len(texts)
        self.calls += 1
        return np.array([0.95 if t == self.preferred else 0.05 for t in texts], dtype=np.float32)


def test_the_reranker_reorders_the_first_candidates_and_scores_each_once_per_question(answerer):
    plain, _, _ = answerer.ranked(answerer.prepare("Must gifts be registered?"))
    third = answerer.index.passages[plain[2][0]]
    fake = FakeReranker(third.retrieval_text)
    reranked = answerer.variant(reranker=fake, rerank_depth=5, rerank_weight=0.9)
    query = reranked.prepare("Must gifts be registered?")
    ranked, _, _ = reranked.ranked(query)
    assert ranked[0][0] == plain[2][0]  # the reranker's choice, lifted from third
    assert [s for _, s in ranked] == sorted((s for _, s in ranked), reverse=True)
    scored = fake.scored
    reranked.ranked(query)  # the same question again: nothing new to score
    assert fake.scored == scored and len(query.reranked) == scored <= 5
    signals = reranked.signals(query, *reranked.retrieve(query, None), ranked)
    assert signals.rerank_top == pytest.approx(0.95)


def test_a_comparison_reads_every_councils_first_clauses_in_one_call(answerer):
    from qa.compare import compare

    fake = FakeReranker("no passage has this text")
    reranked = answerer.variant(reranker=fake, rerank_depth=5, rerank_weight=0.6)
    reranked.compare_rerank_depth = 3
    result = compare(reranked, "Must gifts be registered?")
    assert len(result.authorities) >= 3
    # one call for the whole question's head, one for all the councils' heads
    assert fake.calls == 2, fake.calls
    assert fake.scored >= 3 * 2  # every council's head was read


def test_without_a_reranker_the_signal_is_zero_and_the_fused_order_stands(answerer):
    query = answerer.prepare("Must gifts be registered?")
    ranked, lexical, dense = answerer.ranked(query)
    assert answerer.reranker is None and answerer.signals(query, lexical, dense, ranked).rerank_top == 0.0


def test_an_encoder_without_learned_stages_runs_the_hand_profile(answerer):
    assert answerer.profile == "hand" and answerer.abstention is None and answerer.scope is None
    assert answerer.settings == load_pipeline("hand")
    learned = load_pipeline("learned")
    assert learned.mode == "convex" and not learned.synonym_sets and learned.rerank_depth > 0


@pytest.mark.parametrize("text, message", [
    ("[learned]\nmode = 'convex'\n", r"profile \[learned\] is not usable"),
    ("[learned]\nmode='convex'\ndense_weight=1.5\nrrf_weight=0.4\nsynonym_sets=false\nexpansion_weight=0.0\n"
     "corpus_wording=false\nrerank_depth=5\nrerank_weight=0.6\ncompare_rerank_depth=3\nrerank_pairs=10\nrerank_once_per_provision=true\ncompare_gate=false\n"
     "fold_copies=true\nmin_answer_words=3\n",
     "dense_weight must be between 0 and 1, got 1.5"),
])
def test_a_bad_pipeline_file_names_the_profile_and_the_field(tmp_path, text, message):
    path = tmp_path / "pipeline.toml"
    path.write_text(text)
    with pytest.raises(ValueError, match=message):
        load_pipeline("learned", path)
    with pytest.raises(ValueError, match="unknown pipeline profile 'fast'"):
        load_pipeline("fast", path)


def made_up_examples(n=200, seed=5):
    """Answerable questions have a close clause (dense_top) and an in-scope reading; the rest is noise."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        answerable = i % 3 != 0
        values = {name: rng.uniform(0, 1) for name in ABSTENTION_FEATURES}
        values["dense_top"] = rng.uniform(0.5, 0.9) if answerable else rng.uniform(0.2, 0.6)
        values["scope"] = rng.gauss(1.5 if answerable else -1.5, 1.0)
        out.append(Example(f"q{i}", values, answerable))
    return out


def test_fitting_abstention_finds_the_signals_that_decide_and_records_its_encoder():
    model = fit(made_up_examples(), encoder="abc123")
    assert model.weights["dense_top"] > 0 and model.weights["scope"] > 0 and model.encoder == "abc123"
    fitted = summary(model, made_up_examples(seed=6))
    assert fitted["false_abstention"] < 0.2 and fitted["abstention_accuracy"] > 0.8  # a coin gives 0.5
    signals = AbstentionSignals(coverage=0.5, dense_top=0.85, lexical_strength=0.5, agreement=0.5, scope=2.0)
    assert model.answers(signals)
    assert not model.answers(AbstentionSignals(coverage=0.5, dense_top=0.25, lexical_strength=0.5, agreement=0.5,
                                               scope=-2.0))
    with pytest.raises(ValueError, match="answerable and off-topic"):
        fit([e for e in made_up_examples() if e.answerable])


def test_the_scope_model_separates_questions_by_their_words_and_round_trips(tmp_path):
    embedder = FakeEmbedder()
    on = ["Can a councillor instruct an officer?", "Must members declare gifts?", "Can officers attend group meetings?"]
    off = ["When are the bins collected?", "How do I pay council tax?", "Where can I park in town?"]
    questions = [EvalQuestion(f"a{i}", q, "single", ()) for i, q in enumerate(on)] + \
                [EvalQuestion(f"n{i}", q, "none", ()) for i, q in enumerate(off)]
    scope = fit_scope(embedder, questions, c=100.0)
    vectors = embedder.encode(on + off)
    assert all(scope.score(v) > 0 for v in vectors[:3]) and all(scope.score(v) < 0 for v in vectors[3:])
    path = tmp_path / "scope.npz"
    scope.save(path)
    with np.load(path) as data:
        assert str(data["encoder"]) == embedder.fingerprint and data["weights"].shape == (embedder.dim,)


def test_the_words_scope_model_reads_the_words_that_mark_a_question_off_topic_and_round_trips(tmp_path):
    on = ["Can a councillor instruct an officer?", "Must members declare gifts?", "Can officers attend group meetings?",
          "Can a councillor see confidential reports?", "Must I declare my shares?", "Who chairs the meeting?"]
    off = ["When are the bins collected?", "How do I pay council tax?", "Where can I park in town?",
           "Council tax discount for a single person", "My bins were not collected", "Parking permit for my street"]
    questions = [EvalQuestion(f"a{i}", q, "single", ()) for i, q in enumerate(on)] + \
                [EvalQuestion(f"n{i}", q, "none", ()) for i, q in enumerate(off)]
    words = fit_words_scope(questions, WordsScopeSettings(min_df=1, c=100.0))
    # New wordings: the words the writers' off-topic questions use, and those of conduct questions.
    assert words.score("are the bins collected on bank holidays") < 0 < words.score("may an officer attend the meeting")
    path = tmp_path / "scope-words.npz"
    words.save(path)
    again = WordsScope.load(path)
    assert again.score("council tax bands") == pytest.approx(words.score("council tax bands"))


def test_a_damaged_words_scope_model_is_named_with_the_fix(tmp_path):
    path = tmp_path / "scope-words.npz"
    path.write_bytes(b"not a model")
    with pytest.raises(WordsScopeError, match=r"scope-words\.npz.*protocol-qa train --stage decisions"):
        WordsScope.load(path)


def test_the_abstention_reads_the_words_signal_when_its_model_weighs_it():
    model = AbstentionModel(-1.0, {"dense_top": 1.0, "words": 1.0})
    signals = AbstentionSignals(coverage=0.5, dense_top=0.5, lexical_strength=0.5, agreement=0.5)
    assert not model.answers(signals)
    assert model.answers(AbstentionSignals(coverage=0.5, dense_top=0.5, lexical_strength=0.5, agreement=0.5, words=1.0))
    assert "words" in signals.values()


def test_a_reranker_serves_the_encoder_it_was_trained_with_and_those_continued_from_it(tmp_path, monkeypatch):
    import qa.rerank

    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "training.json").write_text(json.dumps({"encoder": "first-pass", "serves": ["second-pass"]}))
    monkeypatch.setattr(qa.rerank, "_shared_reranker", lambda model_dir, precision: ("loaded", model_dir))
    assert served_encoders(tmp_path) == ("first-pass", "second-pass")
    assert load_reranker(tmp_path, encoder="second-pass") == ("loaded", tmp_path.resolve())
    assert load_reranker(tmp_path, encoder="first-pass") is not None
    assert load_reranker(tmp_path, encoder="another-encoder") is None
    assert served_encoders(tmp_path / "absent") == ()


def test_a_reranker_trained_with_another_encoder_is_not_used(tmp_path, monkeypatch):
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "training.json").write_text(json.dumps({"encoder": "trained-with-this"}))
    assert load_reranker(tmp_path, encoder="another-encoder") is None
    assert load_reranker(tmp_path / "absent", encoder="") is None
    monkeypatch.setenv("PROTOCOL_QA_RERANK", "off")
    assert not rerank_enabled() and load_reranker(tmp_path, encoder="trained-with-this") is None
    monkeypatch.setenv("PROTOCOL_QA_RERANK", "sometimes")
    with pytest.raises(ValueError, match="PROTOCOL_QA_RERANK must be on or off"):
        rerank_enabled()
