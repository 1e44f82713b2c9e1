"""Backup and restore of the record, as docs/record.md tells an administrator to do them."""

from __future__ import annotations

import subprocess
import time

import sqlalchemy as sa

from index.hybrid import HybridIndex
from qa.record import Record, database_url
from tests.record.conftest import _binary
from tests.record.test_record import QUESTION, corpus_index  # noqa: F401  (a fixture)


def _fill(record: Record, index) -> None:
    record.verify(QUESTION, [index.passages[0].id], "No: officers work for the council as a whole.", "A. Officer",
                  index, review_by="2030-01-01")
    item = record.add_feedback("Who may see exempt reports?", "ask", "not_answered", passage_id=index.passages[1].id)
    record.set_right_passage(item.id, index.passages[2].id, version=item.version)
    record.handle(item.id, "confirmed", "A. Officer", version=item.version + 1)
    record.add_feedback("Can I lobby a planning officer?", "ask", "answered")


def _contents(record: Record, index) -> tuple:
    return ([i.to_dict() for i in record.interpretations(index)],
            [f.to_dict() for f in sorted(record.review_queue() + [record.feedback(q["id"])
                                                                  for q in record.confirmed_questions()],
                                         key=lambda f: f.id)],
            record.audit_log())


def test_a_sqlite_record_is_backed_up_while_in_use_and_restored_by_copying_the_file(corpus_index, tmp_path):
    _corpus, index_dir = corpus_index
    index = HybridIndex.load(index_dir)
    live = tmp_path / "data" / "record.sqlite3"
    record = Record(live)
    _fill(record, index)
    before = _contents(record, index)
    backup = tmp_path / "backup" / "record.sqlite3"
    backup.parent.mkdir()
    # The documented command: SQLite's online backup, safe while the app holds the database open.
    with record.engine.connect():
        subprocess.run(["sqlite3", str(live), f".backup '{backup}'"], check=True, capture_output=True)
    record.add_feedback("A question after the backup", "ask", "answered")
    restored_path = tmp_path / "restored" / "record.sqlite3"
    restored_path.parent.mkdir()
    restored_path.write_bytes(backup.read_bytes())
    restored = Record(restored_path)
    assert _contents(restored, index) == before
    assert before[0] and before[1] and before[2]
    assert "A question after the backup" not in {f.question for f in restored.review_queue()}


def test_a_postgresql_record_is_backed_up_with_pg_dump_and_restored_with_pg_restore(corpus_index, postgres_url,
                                                                                   tmp_path):
    _corpus, index_dir = corpus_index
    index = HybridIndex.load(index_dir)
    server = postgres_url.rsplit("/", 1)[0]
    names = {role: f"record_{role}_{time.monotonic_ns()}" for role in ("live", "restored")}
    admin = sa.create_engine(database_url(postgres_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        for name in names.values():
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    record = Record(f"{server}/{names['live']}")
    _fill(record, index)
    before = _contents(record, index)
    dump = tmp_path / "record.dump"
    subprocess.run([_binary("pg_dump"), "--format=custom", "--file", str(dump), f"{server}/{names['live']}"],
                   check=True, capture_output=True)
    subprocess.run([_binary("pg_restore"), "--no-owner", "--dbname", f"{server}/{names['restored']}", str(dump)],
                   check=True, capture_output=True)
    restored = Record(f"{server}/{names['restored']}")  # the schema is at the newest migration: nothing to do
    assert _contents(restored, index) == before
    assert before[0] and before[1] and before[2]
    # The restored audit log goes on from where it stopped (its sequence was restored too).
    restored.withdraw(before[0][0]["id"], "A. Officer")
    assert [row["id"] for row in restored.audit_log()][-1] == before[2][-1]["id"] + 1
