"""Writers' question files: splits by writer, labels tied to passages, and the committed data's own check."""

import json

import pytest

from ingest.passage import Passage
from qa.evaluate import EvalQuestion, Expectation
from qa.training_data import SPLITS, TRAINING_DIR, label, load_writers, training_passages


def passage(i, authority, text):
    return Passage(id=f"p{i}", authority=authority, document="Doc", kind="protocol", status="adopted", date="",
                   attribution="stated", note="", source="doc.txt", section="S", clause=str(i), pages=None,
                   start=0, end=len(text), text=text)


PASSAGES = [
    passage(0, "Ashford", "Members must not instruct officers to change their professional advice."),
    passage(1, "Bexley", "Members must not instruct Officers to change their professional advice!"),
    passage(2, "Ashford", "Gifts worth over £50 must be registered within 28 days."),
]


def question(qid, *expect, kind="multi"):
    return EvalQuestion(qid, "q?", kind, tuple(Expectation(a, c) for a, c in expect))


def test_an_expectation_matches_its_own_council_s_passages_only_after_normalising():
    [labelled] = label([question("a", ("Ashford", "must not instruct officers to change"))], PASSAGES)
    assert labelled.positives == (0,) and labelled.unmatched == ()
    [copy] = label([question("b", ("bexley", "MUST NOT instruct officers, to change"))], PASSAGES)
    assert copy.positives == (1,)  # authority ignores case; punctuation and case are normalised


def test_an_expectation_that_matches_nothing_is_reported_not_dropped():
    [labelled] = label([question("c", ("Ashford", "gifts worth over £50"), ("Ashford", "a clause nobody wrote"))],
                       PASSAGES)
    assert labelled.positives == (2,)
    assert labelled.unmatched == (Expectation("Ashford", "a clause nobody wrote"),)


def write_writers(tmp_path, body):
    (tmp_path / "questions").mkdir()
    line = json.dumps({"id": "x1", "question": "q?", "kind": "none", "expect": [], "silent": []})
    (tmp_path / "questions" / "w1.jsonl").write_text(line + "\n")
    (tmp_path / "writers.toml").write_text(body)


def test_writers_are_loaded_by_split(tmp_path):
    write_writers(tmp_path, '[writer.w1]\nsplit = "validation"\nrole = "an officer"\n')
    assert [w.writer for w in load_writers(tmp_path, splits=("validation",))] == ["w1"]
    assert load_writers(tmp_path, splits=("train",)) == []


@pytest.mark.parametrize("body, message", [
    ('[writer.w1]\nsplit = "shuffled"\n', "writer 'w1' has split 'shuffled'"),
    ('[writer.w9]\nsplit = "train"\n', "writer 'w9' names .*w9.jsonl, which does not exist"),
])
def test_a_bad_writers_file_names_the_writer_and_the_fix(tmp_path, body, message):
    write_writers(tmp_path, body)
    with pytest.raises(ValueError, match=message):
        load_writers(tmp_path)


def test_the_committed_splits_keep_each_writer_on_one_side_and_hold_out_validation():
    writers = load_writers()
    assert {w.split for w in writers} <= set(SPLITS)
    assert len({w.writer for w in writers}) == len(writers)
    ids = [q.id for w in writers for q in w.questions]
    assert len(ids) == len(set(ids)), "a question id appears in two writers' files"
    by_split = {split: {w.writer for w in writers if w.split == split} for split in SPLITS}
    assert by_split["train"] and by_split["calibration"] and by_split["validation"]


def test_every_committed_label_matches_a_passage_but_seven_that_quote_no_one_clause():
    # The writers' labels were checked against text copies as they wrote; here they
    # are tied to the passages ingest cuts. Five quote a document's cover line, which
    # clean-up keeps out of every passage, one (h49-0119) runs across the end of
    # one clause into the next, and one (h77-0041) starts with the clause's number,
    # which ingest keeps as the passage's clause, not in its text (its other labels
    # match); any other miss means cutting changed.
    passages = training_passages()
    missing = sorted((item.question.id, e.contains) for w in load_writers()
                     for item in label(w.questions, passages) for e in item.unmatched)
    assert missing == [("h37-0165", "Reviewed By Policy & Resources Committee"),
                       ("h49-0119", "he/she should inform the Town Clerk. Provided the meeting has not been "
                                    "arranged on a party political basis"),
                       ("h56-0043", "Next Review Date As required. Reviewed By Policy & Resources Committee"),
                       ("h77-0041", "4.1 I do not disclose information"),
                       ("w02-0500", "ADOPTED BY COUNCIL 20 AUGUST 2018"),
                       ("w05-0066", "Reviewed By Policy & Resources Committee"),
                       ("w10-0478", "STANDING ORDERS ADOPTED BY COUNCIL 20 AUGUST 2018")]
    assert len({p.authority for p in passages}) == 8
    assert (TRAINING_DIR / "documents").is_dir()


@pytest.mark.parametrize("stages, trains_encoder", [(("decisions",), False), (("encoder", "decisions"), True)])
def test_the_record_s_confirmed_questions_train_the_encoder_or_else_join_the_decisions_calibration(
        monkeypatch, tmp_path, stages, trains_encoder):
    # Calibration questions must be ones the encoder never saw: confirmed questions
    # fit the decisions only when the encoder is not retrained on them in the same run.
    import index.embed
    import qa.train as train

    write_writers(tmp_path, '[writer.w1]\nsplit = "train"\nrole = "an officer"\n')
    confirmed = (question("f-1", ("Ashford", "gifts worth over £50"), kind="single"),)
    seen = {}
    monkeypatch.setattr(train, "training_passages", lambda: PASSAGES)
    monkeypatch.setattr(index.embed, "load_embedder", lambda *a, **k: object())
    monkeypatch.setattr(index.embed, "packaged_model_dir", lambda: tmp_path)
    monkeypatch.setattr(train, "mine_triplets", lambda labelled, *a, **k: seen.setdefault(
        "encoder", [item.writer for item in labelled]))
    monkeypatch.setattr(train, "train_encoder", lambda *a, **k: {"seconds": 0.0})
    monkeypatch.setattr(train, "fit_decisions", lambda *a, extra_questions=(), **k: seen.setdefault(
        "decisions", list(extra_questions)))
    train.run_training(models_dir=tmp_path / "models", stages=stages, writers_dir=tmp_path,
                       progress=lambda line: None, extra_questions=confirmed)
    assert seen["decisions"] == ([] if trains_encoder else list(confirmed))
    assert ("record" in seen.get("encoder", [])) is trains_encoder


def test_the_encoder_s_second_pass_goes_on_from_the_first_with_the_writers_marked_for_it(monkeypatch, tmp_path):
    # Pass 1 trains from the packaged model on the first writers; pass 2 goes on from
    # pass 1's encoder on the writers marked encoder_pass = 2, negatives mined by pass 1;
    # the reranker keeps to the first writers and their miner, and serves both encoders.
    import index.embed
    import qa.train as train

    write_writers(tmp_path, '[writer.w1]\nsplit = "train"\n[writer.w2]\nsplit = "train"\nencoder_pass = 2\n')
    (tmp_path / "questions" / "w2.jsonl").write_text(
        (tmp_path / "questions" / "w1.jsonl").read_text().replace('"x1"', '"x2"'))
    models = tmp_path / "models"
    calls = []

    def fake_train_encoder(triplets, destination, settings, *, base_dir=None):
        calls.append(("train", destination.name, settings, base_dir and base_dir.name))
        destination.mkdir(parents=True)
        (destination / "config.json").write_text("{}")
        return {"seconds": 0.0}

    monkeypatch.setattr(train, "training_passages", lambda: PASSAGES)
    monkeypatch.setattr(index.embed, "load_embedder", lambda *a, model_dir, **k: model_dir.name)
    monkeypatch.setattr(index.embed, "packaged_model_dir", lambda: tmp_path / "packaged")
    monkeypatch.setattr(index.embed, "fingerprint_model_dir", lambda model_dir: f"fp-{model_dir.name}")
    monkeypatch.setattr(train, "mine_triplets", lambda labelled, passages, miner, **k: calls.append(
        ("mine", miner, [item.writer for item in labelled])) or [])
    monkeypatch.setattr(train, "train_encoder", fake_train_encoder)
    monkeypatch.setattr(train, "mine_rerank_pairs", lambda labelled, passages, miner, **k: calls.append(
        ("pairs", miner, [item.writer for item in labelled])) or [])
    monkeypatch.setattr(train, "train_reranker", lambda pairs, destination, settings, **k: calls.append(
        ("reranker", k["encoder"], k["serves"])) or {"seconds": 0.0})
    train.run_training(models_dir=models, stages=("encoder", "reranker"), writers_dir=tmp_path,
                       progress=lambda line: None)
    assert calls == [
        ("mine", "packaged", ["w1"]),
        ("train", "encoder-first-pass", train.EncoderTraining(), None),
        ("mine", "encoder-first-pass", ["w2"]),
        ("train", "encoder", train.SECOND_PASS, "encoder-first-pass"),
        ("pairs", "encoder-first-pass", ["w1"]),
        ("reranker", "fp-encoder-first-pass", ["fp-encoder"]),
    ]


def test_a_second_pass_outside_the_train_split_is_refused_by_name(tmp_path):
    write_writers(tmp_path, '[writer.w1]\nsplit = "calibration"\nencoder_pass = 2\n')
    with pytest.raises(ValueError, match="writer 'w1' has encoder_pass 2; use 1 or 2, and 2 only in the 'train'"):
        load_writers(tmp_path)
