"""Verified interpretations, staleness, feedback and the audit log, on SQLite and on PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from index.embed import FakeEmbedder
from index.hybrid import HybridIndex
from index.update import update_index
from qa import cli
from qa.record import Conflict, Record, RecordError
from tests.reliability.conftest import ALPHA, BETA, write_corpus

ROOT = Path(__file__).resolve().parents[2]
QUESTION = "Can a councillor instruct an officer to do work for them?"


@pytest.fixture
def corpus_index(tmp_path):
    corpus = write_corpus(tmp_path / "corpus", {"alpha.txt": ALPHA, "beta.txt": BETA})
    index_dir = tmp_path / "index"
    update_index([corpus], index_dir, FakeEmbedder())
    return corpus, index_dir


@pytest.fixture
def cli_record(tmp_path, monkeypatch):
    """The command line with the fake encoder and a record database of this test's own."""
    db = tmp_path / "data" / "record.sqlite3"
    monkeypatch.setenv("PROTOCOL_QA_DB", str(db))
    monkeypatch.setattr("index.embed.load_embedder", lambda *a, **k: FakeEmbedder())
    monkeypatch.setattr("qa.service.load_embedder", lambda *a, **k: FakeEmbedder())
    return db


def _clause(index, words: str):
    return next(p for p in index.passages if words in p.text)


def test_verify_then_a_question_answered_by_its_clause_sees_it_and_others_do_not(db_url, corpus_index):
    _, index_dir = corpus_index
    index = HybridIndex.load(index_dir)
    record = Record(db_url)
    clause = _clause(index, "must not instruct officers")
    made = record.verify(QUESTION, [clause.id], "No: members may not instruct officers.", "A. Jones", index,
                         review_by="2099-01-01")
    assert made.id.startswith("v-") and not made.staleness.stale
    assert made.clauses[0].text == clause.text
    other = _clause(index, "Proper Officer")
    matched = record.matching("can a cllr tell staff to do jobs for them", [clause.id, other.id], index)
    assert [m.id for m in matched] == [made.id]
    assert record.matching("Who is the proper officer?", [other.id, clause.id], index) == []  # not its first answer
    gift = record.verify("Must I register a gift worth £60?", [_clause(index, "fifty pounds").id], "Yes.", "A. Jones",
                         index)
    gifts = _clause(index, "fifty pounds").id
    assert [m.id for m in record.matching("gift of £60 from a developer, register?", [gifts], index)] == [gift.id]
    assert record.matching("Must I register a gift worth £40?", [gifts], index) == []  # another amount
    assert record.audit_log()[0]["action"] == "verify" and record.audit_log()[0]["who"] == "A. Jones"


def test_a_changed_or_removed_clause_or_a_passed_review_date_needs_re_verification(db_url, corpus_index, tmp_path):
    corpus, index_dir = corpus_index
    index = HybridIndex.load(index_dir)
    record = Record(db_url)
    gifts = _clause(index, "fifty pounds")
    instruct = _clause(index, "must not instruct officers")
    on_gifts = record.verify("Do I register a £40 gift?", [gifts.id], "Below fifty pounds: no.", "A. Jones", index)
    on_instruct = record.verify(QUESTION, [instruct.id], "No.", "A. Jones", index, review_by="2026-01-31")

    write_corpus(corpus, {"alpha.txt": ALPHA.replace("fifty pounds", "twenty-five pounds"), "beta.txt": BETA})
    update_index([corpus], index_dir, FakeEmbedder())
    index = HybridIndex.load(index_dir)
    current = {i.id: i for i in record.interpretations(index, today=dt.date(2026, 12, 1))}
    changed = current[on_gifts.id].staleness
    assert changed.stale and "has changed since it was verified" in changed.reasons[0]
    diff = changed.changes[0]["diff"]
    assert {"op": "removed", "text": "fifty"} in diff and {"op": "added", "text": "twenty-five"} in diff
    overdue = current[on_instruct.id].staleness
    assert overdue.stale and overdue.reasons == ("its review date, 2026-01-31, has passed",)
    assert current[on_gifts.id].clauses[0].text == gifts.text  # the text as verified is kept

    write_corpus(corpus, {"beta.txt": BETA})
    update_index([corpus], index_dir, FakeEmbedder())
    gone = record.show(on_gifts.id, HybridIndex.load(index_dir)).staleness
    assert gone.stale and "no longer in the documents" in gone.reasons[0]


def test_feedback_review_queue_and_two_reviewers_at_once(db_url):
    record = Record(db_url)
    item = record.add_feedback("Can I use the council printer for my leaflets?", "ask", "not_answered")
    other = record.add_feedback("Who is the proper officer?", "compare", "council_wrong", authority="Beta Town Council")
    assert [f.id for f in record.review_queue()] == [item.id, other.id]
    results: dict[str, object] = {}

    def review(name: str, state: str) -> None:
        try:
            results[name] = Record(db_url).handle(item.id, state, name, version=item.version).state
        except Exception as exc:  # noqa: BLE001 - a Conflict is expected; anything else fails below
            results[name] = exc

    threads = [threading.Thread(target=review, args=("Monitoring Officer", "confirmed")),
               threading.Thread(target=review, args=("Deputy", "dismissed"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    outcomes = list(results.values())
    assert not [o for o in outcomes if isinstance(o, Exception) and not isinstance(o, Conflict)], outcomes
    assert sum(isinstance(o, Conflict) for o in outcomes) == 1  # one wins, the other is told; nothing overwritten
    winner = next(name for name, o in results.items() if not isinstance(o, Conflict))
    assert record.feedback(item.id).handled_by == winner
    assert [f.id for f in record.review_queue()] == [other.id]
    assert [a["action"] for a in record.audit_log()] == [results[winner]]


def test_bad_requests_name_what_to_fix(db_url, corpus_index):
    _, index_dir = corpus_index
    index = HybridIndex.load(index_dir)
    record = Record(db_url)
    with pytest.raises(RecordError, match="no clause with id 'nope'"):
        record.verify(QUESTION, ["nope"], "note", "A. Jones", index)
    with pytest.raises(RecordError, match="write it as YYYY-MM-DD"):
        record.verify(QUESTION, [index.passages[0].id], "note", "A. Jones", index, review_by="next March")
    with pytest.raises(RecordError, match="needs the question, a note"):
        record.verify(QUESTION, [index.passages[0].id], " ", "A. Jones", index)
    with pytest.raises(RecordError, match="verdict must be one of"):
        record.add_feedback("q", "ask", "meh")


def test_the_record_is_outside_the_index_and_survives_its_removal(corpus_index, cli_record, capsys):
    import shutil

    _, index_dir = corpus_index
    db = cli_record
    index = HybridIndex.load(index_dir)
    clause = _clause(index, "must not instruct officers")
    assert cli.main(["record", "--index", str(index_dir), "verify", "--question", QUESTION, "--passage", clause.id,
                     "--note", "No.", "--by", "A. Jones", "--json"]) == 0
    made = json.loads(capsys.readouterr().out)
    assert made["passages"] == [clause.id] and made["stale"] is False
    assert cli.main(["ask", "--index", str(index_dir), "--json", QUESTION]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert [v["id"] for v in answer["verified"]] == [made["id"]]
    assert set(answer["verified"][0]) >= {"id", "question", "note", "by", "role", "date", "review_by", "stale",
                                          "passages"}
    shutil.rmtree(index_dir)
    assert db.is_file()
    assert cli.main(["record", "--index", str(index_dir), "list", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["id"] == made["id"]
    assert cli.main(["record", "--index", str(index_dir), "export", "--format", "csv"]) == 0
    assert made["id"] in capsys.readouterr().out


def test_ask_creates_no_database(tmp_path, corpus_index, monkeypatch, capsys):
    _, index_dir = corpus_index
    monkeypatch.setenv("PROTOCOL_QA_DB", str(tmp_path / "none" / "record.sqlite3"))
    monkeypatch.setattr("qa.service.load_embedder", lambda *a, **k: FakeEmbedder())
    assert cli.main(["ask", "--index", str(index_dir), "--json", QUESTION]) == 0
    assert "verified" not in json.loads(capsys.readouterr().out)
    assert not (tmp_path / "none").exists()


WRITER = """
import sys
from qa.record import Record
record = Record(sys.argv[1])
n = 0
while True:
    record.add_feedback(f"question {n}", "ask", "not_answered")
    n += 1
    print(n, flush=True)
"""


def test_killing_a_writer_loses_no_committed_record(db_url):
    Record(db_url)  # migrated before the writer starts
    writer = subprocess.Popen([sys.executable, "-c", WRITER, db_url], stdout=subprocess.PIPE, text=True,
                              cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    committed = 0
    for line in writer.stdout:
        committed = int(line)
        if committed >= 25:
            break
    writer.send_signal(signal.SIGKILL)
    writer.wait(timeout=30)
    kept = Record(db_url).review_queue()
    assert len(kept) >= committed  # every write it reported committed is there
    assert {f.question for f in kept} >= {f"question {n}" for n in range(committed)}


def test_confirmed_feedback_and_verified_interpretations_are_scored_by_eval_from_record(corpus_index, cli_record,
                                                                                       capsys):
    _, index_dir = corpus_index
    db = cli_record
    index = HybridIndex.load(index_dir)
    record = Record(db)
    proper = _clause(index, "Proper Officer")
    missed = record.add_feedback("who does the legal notices for the town council", "ask", "not_answered")
    assert cli.main(["eval", "--index", str(index_dir), "--from-record"]) == 2  # nothing confirmed yet
    assert "holds no confirmed question" in capsys.readouterr().err
    assert cli.main(["record", "--index", str(index_dir), "confirm", missed.id, "--by", "A. Jones",
                     "--passage", proper.id]) == 0
    assert f"{missed.id} confirmed by A. Jones" in capsys.readouterr().out
    record.verify(QUESTION, [_clause(index, "must not instruct officers").id], "No.", "A. Jones", index)
    assert cli.main(["eval", "--index", str(index_dir), "--from-record", "--json", "--no-compare"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["questions"] == 2 and report["file"] == "the record (2 confirmed questions)"
    assert 0.0 <= report["modes"]["convex"]["success_at_5"] <= 1.0


def test_feedback_past_the_retention_period_is_deleted_but_confirmed_questions_are_kept(db_url):
    import sqlalchemy as sa

    from qa.record import FEEDBACK

    record = Record(db_url)
    old_open = record.add_feedback("an old question", "ask", "not_answered")
    old_confirmed = record.add_feedback("an old confirmed question", "ask", "answered")
    record.handle(old_confirmed.id, "confirmed", "A. Jones", version=old_confirmed.version)
    recent = record.add_feedback("a recent question", "ask", "answered")
    with record.engine.begin() as connection:
        connection.execute(FEEDBACK.update().where(FEEDBACK.c.id.in_([old_open.id, old_confirmed.id]))
                           .values(created="2020-01-01T00:00:00.000000+00:00"))
    assert record.purge_feedback(365) == 1
    with pytest.raises(RecordError):
        record.feedback(old_open.id)
    assert record.feedback(old_confirmed.id).state == "confirmed"
    assert record.feedback(recent.id).state == "open"
    audit = record.audit_log()
    assert audit[-1]["action"] == "purge" and json.loads(audit[-1]["detail"])["deleted"] == 1
    exported = record.export_audit("csv")
    assert exported.splitlines()[0] == "id,at,who,action,target,detail" and "purge" in exported
    with pytest.raises(RecordError, match="at least one day"):
        record.purge_feedback(0)


def test_a_bad_retention_setting_names_the_variable():
    from qa.config import Settings

    with pytest.raises(ValueError, match="PROTOCOL_QA_FEEDBACK_DAYS='a year' is not a whole number"):
        Settings.from_env({"PROTOCOL_QA_FEEDBACK_DAYS": "a year"})
    assert Settings.from_env({"PROTOCOL_QA_FEEDBACK_DAYS": "30"}).feedback_days == 30


def test_the_audit_log_names_the_signed_in_identity_not_the_name_typed(db_url, corpus_index):
    _corpus, index_dir = corpus_index
    index = HybridIndex.load(index_dir)
    record = Record(db_url)
    made = record.verify(QUESTION, [index.passages[0].id], "No.", "Alex Morgan", index,
                         signed_in_as="mo@council.example")
    [entry] = record.audit_log()
    assert (entry["who"], entry["action"], entry["target"]) == ("mo@council.example", "verify", made.id)
    assert json.loads(entry["detail"])["by"] == "Alex Morgan"
    assert made.by == "Alex Morgan"
