"""The Monitoring Officer's record: verified interpretations, feedback and the audit log.

A verified interpretation is a question as someone asked it, the clauses that
govern it (by passage id, with their text as verified), the Monitoring
Officer's note, who verified it and when, and a review date. It lives in a
database outside the rebuildable index (``rm -rf .index`` never touches it):
a SQLite file by default, PostgreSQL by URL, one schema migrated by Alembic
(``qa/migrations``). Every verification, withdrawal and handling of feedback
is appended to an audit log that the app cannot edit.

An interpretation is **stale** when a clause it rests on has changed or gone
from the index (a word diff says what changed), or its review date has passed;
a stale interpretation is shown as "needs re-verification", never as current.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import io
import json
import logging
import secrets
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

from ingest.safe import csv_cell

from .equivalents import word_diff
from .question_match import numbers as _numbers

__all__ = ["Record", "RecordError", "Conflict", "Interpretation", "Staleness", "Feedback", "METADATA",
           "MATCH_DEPTH", "database_url"]

log = logging.getLogger(__name__)

_MIGRATION_LOCK = threading.Lock()
_MIGRATED: set[str] = set()

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# Without a question matcher fitted for the encoder (qa/question_match.py), an interpretation is
# offered when a clause it rests on is the question's first answer: a rule that cannot tell a
# paraphrase from a near question (0.38 and 0.38 of each, docs/record.md), kept as the fallback.
MATCH_DEPTH = 1

METADATA = sa.MetaData()
INTERPRETATIONS = sa.Table(
    "interpretations", METADATA,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("question", sa.Text, nullable=False),
    sa.Column("note", sa.Text, nullable=False),
    sa.Column("by", sa.String(200), nullable=False),
    sa.Column("role", sa.String(200), nullable=False),
    sa.Column("created", sa.String(32), nullable=False),
    sa.Column("review_by", sa.String(10)),
    sa.Column("withdrawn", sa.Boolean, nullable=False, server_default=sa.false()),
)
PASSAGES = sa.Table(
    "interpretation_passages", METADATA,
    sa.Column("interpretation_id", sa.String(32), sa.ForeignKey("interpretations.id"), primary_key=True),
    sa.Column("position", sa.Integer, primary_key=True),
    sa.Column("passage_id", sa.String(64), nullable=False),
    sa.Column("authority", sa.Text, nullable=False),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("clause", sa.Text, nullable=False),
    sa.Column("text", sa.Text, nullable=False),
)
FEEDBACK = sa.Table(
    "feedback", METADATA,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("created", sa.String(32), nullable=False),
    sa.Column("question", sa.Text, nullable=False),
    sa.Column("view", sa.String(16), nullable=False),
    sa.Column("verdict", sa.String(32), nullable=False),
    sa.Column("passage_id", sa.String(64)),
    sa.Column("authority", sa.Text),
    sa.Column("right_passage_id", sa.String(64)),
    sa.Column("state", sa.String(16), nullable=False, server_default="open"),
    sa.Column("handled_by", sa.String(200)),
    sa.Column("handled_at", sa.String(32)),
    sa.Column("version", sa.Integer, nullable=False, server_default="1"),
)
AUDIT = sa.Table(
    "audit", METADATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.String(32), nullable=False),
    sa.Column("who", sa.String(200), nullable=False),
    sa.Column("action", sa.String(32), nullable=False),
    sa.Column("target", sa.String(64), nullable=False),
    sa.Column("detail", sa.Text, nullable=False),
)
VERDICTS = ("answered", "not_answered", "council_wrong")
HANDLINGS = ("confirmed", "dismissed", "verified")


class RecordError(ValueError):
    """A request the record cannot carry out; the message says what to change."""


class Conflict(RecordError):
    """Someone else changed the item first (two reviewers at once); nothing was overwritten."""


def database_url(value: str | Path) -> str:
    """A SQLAlchemy URL from what a user gives: ``postgresql://…`` as it is, anything else a SQLite file."""
    text = str(value)
    if "://" in text:
        if text.startswith(("postgresql://", "postgres://")):
            return "postgresql+psycopg://" + text.split("://", 1)[1]
        return text
    return f"sqlite:///{Path(text).expanduser().resolve()}"


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="microseconds")


@dataclass(frozen=True)
class VerifiedClause:
    passage_id: str
    authority: str
    source: str
    clause: str
    text: str


@dataclass(frozen=True)
class Staleness:
    stale: bool
    reasons: tuple[str, ...] = ()
    changes: tuple[dict, ...] = ()   # per changed clause: passage_id, status (changed/removed), diff


@dataclass(frozen=True)
class Interpretation:
    id: str
    question: str
    note: str
    by: str
    role: str
    created: str
    review_by: str | None
    clauses: tuple[VerifiedClause, ...]
    staleness: Staleness = field(default=Staleness(False))

    def to_dict(self) -> dict:
        """The ``verified`` object of ``ask --json`` (docs: ../shared/DESIGN.md), with its clauses and why it is stale."""
        record = {"id": self.id, "question": self.question, "note": self.note, "by": self.by, "role": self.role,
                  "date": self.created[:10], "review_by": self.review_by, "stale": self.staleness.stale,
                  "passages": [c.passage_id for c in self.clauses],
                  "clauses": [{"id": c.passage_id, "authority": c.authority, "source": c.source, "clause": c.clause,
                               "text": c.text} for c in self.clauses],
                  "stale_reasons": list(self.staleness.reasons), "changes": list(self.staleness.changes)}
        return record


@dataclass(frozen=True)
class Feedback:
    id: str
    created: str
    question: str
    view: str
    verdict: str
    passage_id: str | None
    authority: str | None
    right_passage_id: str | None
    state: str
    handled_by: str | None
    handled_at: str | None
    version: int

    def to_dict(self) -> dict:
        return dict(self.__dict__)


class Record:
    """The record in one database; safe for several processes writing at once."""

    def __init__(self, url: str | Path) -> None:
        self.url = database_url(url)
        if self.url.startswith("sqlite:///"):
            Path(self.url[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
        self.engine = sa.create_engine(self.url, future=True, pool_pre_ping=True)
        if self.engine.dialect.name == "sqlite":
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)
        self.migrate()

    def migrate(self) -> None:
        """Bring the schema to the newest migration (Alembic; nothing to do when it is current).

        One migration at a time: within a process by a lock, across processes by a file lock
        beside a SQLite file or PostgreSQL's advisory lock, so two first opens never race."""
        from alembic import command
        from alembic.config import Config
        from filelock import FileLock

        with _MIGRATION_LOCK:
            if self.url in _MIGRATED:
                return
            config = Config()
            config.set_main_option("script_location", str(MIGRATIONS))
            if self.engine.dialect.name == "sqlite":
                guard = FileLock(self.url[len("sqlite:///"):] + ".migrate.lock", timeout=60)
            else:
                guard = contextlib.nullcontext()
            with guard, self.engine.begin() as connection:
                if self.engine.dialect.name == "postgresql":
                    connection.execute(sa.text("SELECT pg_advisory_xact_lock(724011)"))
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
            _MIGRATED.add(self.url)

    # -- verified interpretations -------------------------------------------------
    def verify(self, question: str, passage_ids: Sequence[str], note: str, by: str, index, *,
               role: str = "Monitoring Officer", review_by: str | None = None,
               signed_in_as: str | None = None) -> Interpretation:
        """Record a verified interpretation of ``question`` resting on ``passage_ids`` (texts taken from ``index``).

        ``by`` is the name shown with it; the audit log names ``signed_in_as`` (the identity the
        sign-in vouched for) when given, so a name typed in a form cannot stand in for who did it."""
        question, note, by = question.strip(), note.strip(), by.strip()
        if not question or not note or not by:
            raise RecordError("a verified interpretation needs the question, a note and who verified it")
        if not passage_ids:
            raise RecordError("name at least one clause it rests on (--passage ID; ids are in ask --json)")
        if review_by:
            try:
                dt.date.fromisoformat(review_by)
            except ValueError:
                raise RecordError(f"review date {review_by!r} is not a date; write it as YYYY-MM-DD") from None
        clauses = []
        for passage_id in passage_ids:
            position = index.position_of(passage_id)
            if position is None:
                raise RecordError(f"no clause with id {passage_id!r} in the index; copy the id from ask --json")
            p = index.passages[position]
            clauses.append(VerifiedClause(p.id, p.authority, p.source, p.clause, p.text))
        identifier = f"v-{secrets.token_hex(4)}"
        created = _now()
        with self.engine.begin() as connection:
            connection.execute(INTERPRETATIONS.insert().values(
                id=identifier, question=question, note=note, by=by, role=role.strip() or "Monitoring Officer",
                created=created, review_by=review_by or None, withdrawn=False))
            connection.execute(PASSAGES.insert(), [
                {"interpretation_id": identifier, "position": n, "passage_id": c.passage_id, "authority": c.authority,
                 "source": c.source, "clause": c.clause, "text": c.text} for n, c in enumerate(clauses)])
            self._audit(connection, signed_in_as or by, "verify", identifier,
                        {"question": question, "passages": list(passage_ids), "by": by})
        return self.show(identifier, index)

    def withdraw(self, identifier: str, by: str) -> None:
        with self.engine.begin() as connection:
            done = connection.execute(INTERPRETATIONS.update().where(INTERPRETATIONS.c.id == identifier)
                                      .where(INTERPRETATIONS.c.withdrawn == sa.false()).values(withdrawn=True))
            if done.rowcount == 0:
                raise RecordError(f"no current interpretation {identifier!r}")
            self._audit(connection, by, "withdraw", identifier, {})

    def interpretations(self, index=None, *, today: dt.date | None = None) -> list[Interpretation]:
        """Every current (not withdrawn) interpretation, newest first, with its staleness against ``index``."""
        with self.engine.connect() as connection:
            rows = connection.execute(INTERPRETATIONS.select().where(INTERPRETATIONS.c.withdrawn == sa.false())
                                      .order_by(INTERPRETATIONS.c.created.desc(), INTERPRETATIONS.c.id)).all()
            clauses = connection.execute(PASSAGES.select().order_by(PASSAGES.c.interpretation_id,
                                                                    PASSAGES.c.position)).all()
        by_id: dict[str, list[VerifiedClause]] = {}
        for c in clauses:
            by_id.setdefault(c.interpretation_id, []).append(
                VerifiedClause(c.passage_id, c.authority, c.source, c.clause, c.text))
        out = []
        for row in rows:
            kept = tuple(by_id.get(row.id, ()))
            out.append(Interpretation(row.id, row.question, row.note, row.by, row.role, row.created, row.review_by,
                                      kept, staleness(kept, row.review_by, index, today=today)))
        return out

    def show(self, identifier: str, index=None) -> Interpretation:
        for interpretation in self.interpretations(index):
            if interpretation.id == identifier:
                return interpretation
        raise RecordError(f"no current interpretation {identifier!r}; 'protocol-qa record list' lists them")

    def matching(self, question: str, result_ids: Sequence[str], index=None, *, matcher=None,
                 depth: int = MATCH_DEPTH, limit: int = 3) -> list[Interpretation]:
        """Interpretations whose question ``question`` asks again, best first.

        With ``matcher`` (a :class:`qa.question_match.QuestionMatcher`, fitted for the answerer's
        encoder), those it judges close enough in meaning: on questions set aside from its fitting,
        0.83 of paraphrases and 0.04 of near questions (docs/record.md). Without one (another
        encoder), the clause rule: one of the clauses they rest on is among the first ``depth``
        clauses answering ``question`` (``result_ids``, best first), and the two questions name no
        different amounts or dates. Either way they are shown with the question they were verified for."""
        if not question.strip():
            return []
        current = self.interpretations(index)
        if matcher is not None:
            scores = matcher.scores(question, [i.question for i in current])
            found = sorted(((-score, i) for score, i in zip(scores, current) if score >= matcher.settings.threshold),
                           key=lambda item: item[0])
            return [interpretation for _score, interpretation in found[:limit]]
        wanted = list(result_ids[:depth])
        if not wanted:
            return []
        asked = _numbers(question)
        found = []
        for interpretation in current:
            ids = {c.passage_id for c in interpretation.clauses}
            ranks = [rank for rank, passage_id in enumerate(wanted) if passage_id in ids]
            recorded = _numbers(interpretation.question)
            if ranks and (not asked or not recorded or asked == recorded):
                found.append((min(ranks), interpretation))
        found.sort(key=lambda item: item[0])
        return [interpretation for _rank, interpretation in found[:limit]]

    # -- feedback ---------------------------------------------------------------------
    def add_feedback(self, question: str, view: str, verdict: str, *, passage_id: str | None = None,
                     authority: str | None = None, right_passage_id: str | None = None) -> Feedback:
        """Kept only when a user presses a button; nothing of a question is stored otherwise."""
        if verdict not in VERDICTS:
            raise RecordError(f"verdict must be one of {', '.join(VERDICTS)}")
        if view not in ("ask", "compare"):
            raise RecordError("view must be 'ask' or 'compare'")
        identifier = f"f-{secrets.token_hex(4)}"
        with self.engine.begin() as connection:
            connection.execute(FEEDBACK.insert().values(
                id=identifier, created=_now(), question=question.strip()[:2000], view=view, verdict=verdict,
                passage_id=passage_id, authority=authority, right_passage_id=right_passage_id, state="open", version=1))
        return self.feedback(identifier)

    def feedback(self, identifier: str) -> Feedback:
        with self.engine.connect() as connection:
            row = connection.execute(FEEDBACK.select().where(FEEDBACK.c.id == identifier)).first()
        if row is None:
            raise RecordError(f"no feedback {identifier!r}")
        return Feedback(**row._mapping)

    def review_queue(self) -> list[Feedback]:
        """Open feedback, oldest first: what the Monitoring Officer has still to handle."""
        with self.engine.connect() as connection:
            rows = connection.execute(FEEDBACK.select().where(FEEDBACK.c.state == "open")
                                      .order_by(FEEDBACK.c.created, FEEDBACK.c.id)).all()
        return [Feedback(**row._mapping) for row in rows]

    def handle(self, identifier: str, state: str, by: str, *, version: int) -> Feedback:
        """Confirm (it becomes a labelled question), turn into an interpretation, or dismiss one item.

        ``version`` is the one the reviewer saw: if someone handled it since, :class:`Conflict`."""
        if state not in HANDLINGS:
            raise RecordError(f"state must be one of {', '.join(HANDLINGS)}")
        with self.engine.begin() as connection:
            done = connection.execute(FEEDBACK.update().where(FEEDBACK.c.id == identifier)
                                      .where(FEEDBACK.c.version == version).where(FEEDBACK.c.state == "open")
                                      .values(state=state, handled_by=by, handled_at=_now(), version=version + 1))
            if done.rowcount == 0:
                current = connection.execute(FEEDBACK.select().where(FEEDBACK.c.id == identifier)).first()
                if current is None:
                    raise RecordError(f"no feedback {identifier!r}")
                raise Conflict(f"feedback {identifier} was already {current.state} by {current.handled_by} at "
                               f"{current.handled_at}; nothing was changed")
            self._audit(connection, by, state, identifier, {})
        return self.feedback(identifier)

    def set_right_passage(self, identifier: str, passage_id: str, *, version: int) -> None:
        """The clause that does answer a feedback item's question, picked by a user or the reviewer."""
        with self.engine.begin() as connection:
            done = connection.execute(FEEDBACK.update().where(FEEDBACK.c.id == identifier)
                                      .where(FEEDBACK.c.version == version)
                                      .values(right_passage_id=passage_id, version=version + 1))
            if done.rowcount == 0:
                raise Conflict(f"feedback {identifier} changed since it was read; look at it again")

    def confirmed_questions(self) -> list[dict]:
        """Confirmed feedback as labelled questions (``eval --from-record``; ``train`` can include them)."""
        with self.engine.connect() as connection:
            rows = connection.execute(FEEDBACK.select().where(FEEDBACK.c.state == "confirmed")
                                      .order_by(FEEDBACK.c.created)).all()
        return [dict(row._mapping) for row in rows]

    def purge_feedback(self, days: int, by: str = "retention") -> int:
        """Delete feedback older than ``days`` that was not confirmed as a labelled question
        (open, dismissed or turned into an interpretation); the audit log records how many."""
        if days < 1:
            raise RecordError("the retention period must be at least one day")
        cutoff = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=days)).isoformat(timespec="microseconds")
        with self.engine.begin() as connection:
            done = connection.execute(FEEDBACK.delete().where(FEEDBACK.c.created < cutoff)
                                      .where(FEEDBACK.c.state != "confirmed"))
            if done.rowcount:
                self._audit(connection, by, "purge", "feedback", {"deleted": done.rowcount, "older_than_days": days})
        return done.rowcount

    # -- audit and export -------------------------------------------------------------------
    def _audit(self, connection, who: str, action: str, target: str, detail: dict) -> None:
        connection.execute(AUDIT.insert().values(at=_now(), who=who, action=action, target=target,
                                                 detail=json.dumps(detail, ensure_ascii=False)))

    def audit_log(self) -> list[dict]:
        with self.engine.connect() as connection:
            rows = connection.execute(AUDIT.select().order_by(AUDIT.c.id)).all()
        return [dict(row._mapping) for row in rows]

    def export_audit(self, fmt: str = "json") -> str:
        """The audit log (who did what, when), as JSON Lines or CSV: nothing in the app edits it."""
        columns = ("id", "at", "who", "action", "target", "detail")
        return _json_lines_or_csv(self.audit_log(), fmt, columns, lambda row: [row[c] for c in columns])

    def export(self, index=None, fmt: str = "json") -> str:
        """Every current interpretation (with staleness), as JSON Lines or CSV."""
        def csv_row(item: dict) -> list:
            clauses = "; ".join(f"{c['authority']} {c['clause']}".strip() for c in item["clauses"])
            return [item["id"], item["question"], item["note"], item["by"], item["role"], item["date"],
                    item["review_by"] or "", "needs re-verification" if item["stale"] else "current", clauses]

        return _json_lines_or_csv([i.to_dict() for i in self.interpretations(index)], fmt,
                                  ("id", "question", "note", "by", "role", "date", "review_by", "stale", "clauses"),
                                  csv_row)


def _json_lines_or_csv(records: list[dict], fmt: str, header: Sequence[str], csv_row) -> str:
    """``records`` as JSON Lines, or as CSV with ``header`` and ``csv_row(record)`` (cells made safe)."""
    if fmt == "json":
        return "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records)
    if fmt != "csv":
        raise RecordError("format must be csv or json")
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    for record in records:
        writer.writerow([csv_cell(value) for value in csv_row(record)])
    return buffer.getvalue()

def staleness(clauses: Iterable[VerifiedClause], review_by: str | None, index, *,
              today: dt.date | None = None) -> Staleness:
    """Why an interpretation may no longer hold: its review date passed, or a clause changed or went."""
    reasons: list[str] = []
    changes: list[dict] = []
    today = today or dt.date.today()
    if review_by and dt.date.fromisoformat(review_by) < today:
        reasons.append(f"its review date, {review_by}, has passed")
    if index is not None:
        for clause in clauses:
            position = index.position_of(clause.passage_id)
            if position is None:
                reasons.append(f"{clause.authority} {clause.clause or clause.source} is no longer in the documents")
                changes.append({"passage_id": clause.passage_id, "status": "removed", "diff": []})
                continue
            now = index.passages[position].text
            if now != clause.text:
                pieces, _overlap = word_diff(clause.text, now)
                reasons.append(f"{clause.authority} {clause.clause or clause.source} has changed since it was verified")
                changes.append({"passage_id": clause.passage_id, "status": "changed",
                                "diff": [{"op": p.op, "text": p.text} for p in pieces]})
    return Staleness(bool(reasons), tuple(reasons), tuple(changes))


def _sqlite_pragmas(connection, _record) -> None:
    """WAL lets readers go on while one process writes; FULL sync keeps every committed record
    through a crash; a writer waits up to 30 s for another rather than failing."""
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
