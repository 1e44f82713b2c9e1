"""The Milvus engine against Milvus Lite: the same answers as the embedded engine, and safe
incremental writes (whole documents for readers, concurrent ingests, killed ingests)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("pymilvus", reason="the milvus extra: pip install -c constraints.txt -e '.[milvus]'")

from index import milvus as mv  # noqa: E402
from index.embed import FakeEmbedder  # noqa: E402
from index.hybrid import HybridIndex  # noqa: E402
from index.location import parse_location  # noqa: E402
from index.milvus_index import MilvusIndex  # noqa: E402
from index.milvus_update import update_milvus  # noqa: E402
from qa.answer import Answerer  # noqa: E402
from qa.compare import compare  # noqa: E402
from tests.tiny_corpus import build_index, write_corpus  # noqa: E402

pytestmark = pytest.mark.milvus

ROOT = Path(__file__).resolve().parents[2]
CLI = ROOT / "tests" / "reliability" / "cli_fake.py"
QUESTIONS = [
    "Can a councillor instruct an officer?",
    "How soon must a gift be registered?",
    "What should I do about hospitality worth fifty pounds?",
    "Who is the proper officer?",
    "Must members treat officers with respect?",
    "Can I bully someone?",
    "What are the rules on council tax bills?",
    "Do officers go to political group meetings?",
]


def tags(rows) -> list[str]:
    """The version tag of each clause among ``rows`` (the heading passage has none)."""
    return [row.passage.text.rsplit("version ", 1)[1].split()[0] for row in rows if "version " in row.passage.text]


def clause(source: str, n: int, tag: str) -> str:
    return f"{n}. Members of {source} follow rule {n} of version {tag} on officer relations and gifts."


def document_text(source: str, tag: str, clauses: int) -> str:
    return f"{source} protocol\n\n" + "\n\n".join(clause(source, n, tag) for n in range(1, clauses + 1)) + "\n"


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    """The tiny corpus in the embedded engine and in Milvus Lite."""
    root = tmp_path_factory.mktemp("milvus-parity")
    corpus = write_corpus(root / "corpus")
    embedded = HybridIndex.load(build_index(corpus, root / "index"))
    location = parse_location(f"milvus-lite://{root / 'index.db'}")
    report = update_milvus([corpus], location, FakeEmbedder())
    assert report.changed and report.passages == len(embedded.passages)
    return embedded, MilvusIndex.open(location)


def test_rows_passages_and_facets_are_the_embedded_engines(both):
    embedded, milvus = both
    assert [p.id for p in milvus.passages] == [p.id for p in embedded.passages]
    assert milvus.passages[5] == embedded.passages[5]
    assert milvus.authorities == embedded.authorities
    assert milvus.authority_documents() == embedded.authority_documents()
    assert milvus.lexical.avgdl == pytest.approx(embedded.lexical.avgdl)
    assert milvus.position_of(embedded.passages[3].id) == 3


def test_the_same_answers_and_comparisons_as_the_embedded_engine(both):
    embedded, milvus = both
    one, two = Answerer(embedded, FakeEmbedder()), Answerer(milvus, FakeEmbedder())
    for question in QUESTIONS:
        a, b = one.ask(question, top_k=10).to_dict(), two.ask(question, top_k=10).to_dict()
        assert [r["id"] for r in a["results"]] == [r["id"] for r in b["results"]], question
        assert [r["score"] for r in a["results"]] == pytest.approx([r["score"] for r in b["results"]])
        assert a["answered"] == b["answered"], question
        assert compare(one, question).to_dict() == compare(two, question).to_dict()
    filtered = one.ask(QUESTIONS[0], authorities=["Ashford"]).to_dict()
    assert filtered == two.ask(QUESTIONS[0], authorities=["Ashford"]).to_dict()


def test_provisions_are_the_embedded_engines(both):
    embedded, milvus = both
    from index.provisions import group_provisions

    assert milvus.provisions == group_provisions(embedded)


def _one(location, source: str, tag: str, clauses: int, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / source).write_text(document_text(source, tag, clauses), encoding="utf-8")
    update_milvus([folder / source], location, FakeEmbedder())


def test_replace_and_remove_one_document_leave_the_others_alone(tmp_path):
    location = parse_location(f"milvus-lite://{tmp_path / 'm.db'}")
    for source in ("a.txt", "b.txt", "c.txt"):
        _one(location, source, "one", 3, tmp_path / "docs")
    before = MilvusIndex.open(location)
    _one(location, "b.txt", "two", 5, tmp_path / "docs")
    after = MilvusIndex.open(location)
    assert after.generations["a.txt"] == before.generations["a.txt"]
    assert after.generations["c.txt"] == before.generations["c.txt"]
    assert after.generations["b.txt"] != before.generations["b.txt"]
    assert tags(after.document_rows("b.txt")) == ["two"] * 5
    # A reader that opened before the switch still reads the version it saw.
    assert tags(before.document_rows("b.txt")) == ["one"] * 3
    assert mv.remove_document(after.client, "c.txt")
    removed = after.refreshed()
    assert "c.txt" not in removed.generations and len(removed.passages) == 4 + 6  # a heading each
    assert [p.source for p in removed.passages].count("a.txt") == 4


def test_readers_only_ever_see_whole_documents(tmp_path):
    """A document rewritten ten times with 2 to 11 clauses while readers refresh and read it.

    A reader whose snapshot was outlived by two replacements between its refresh and its read
    (a thread descheduled on a busy machine) is told to ask again, never shown part of one."""
    from index.store import IndexProblem

    location = parse_location(f"milvus-lite://{tmp_path / 'm.db'}")
    _one(location, "stable.txt", "s", 4, tmp_path / "docs")
    _one(location, "moving.txt", "0", 1, tmp_path / "docs")
    view = MilvusIndex.open(location)
    problems, seen, stop = [], set(), threading.Event()

    def read() -> None:
        current = view
        while not stop.is_set():
            current = current.refreshed()
            try:
                rows = current.document_rows("moving.txt")
            except IndexProblem as exc:
                if "ask again" not in str(exc):
                    problems.append(str(exc))
                continue
            found = tags(rows)
            count = current.catalog[[r["source"] for r in current.catalog].index("moving.txt")]["passages"]
            if len(set(found)) != 1 or len(rows) != count or len(found) != int(found[0]) + 1:
                problems.append((len(rows), count, sorted(set(found))))
            seen.add(len(rows))
            if tags(current.document_rows("stable.txt")) != ["s"] * 4:
                problems.append("stable.txt changed")

    readers = [threading.Thread(target=read) for _ in range(2)]
    for reader in readers:
        reader.start()
    for version in range(1, 11):
        _one(location, "moving.txt", str(version), version + 1, tmp_path / "docs")
    stop.set()
    for reader in readers:
        reader.join()
    assert not problems
    assert len(seen) >= 2  # the readers did see the document change


def test_two_ingests_of_different_documents_at_once_are_both_kept(tmp_path):
    location = parse_location(f"milvus-lite://{tmp_path / 'm.db'}")
    _one(location, "first.txt", "one", 2, tmp_path / "docs")
    errors = []

    def ingest(source: str) -> None:
        try:
            _one(location, source, "two", 6, tmp_path / source.replace(".txt", ""))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=ingest, args=(s,)) for s in ("first.txt", "second.txt")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    view = MilvusIndex.open(location)
    assert sorted(view.generations) == ["first.txt", "second.txt"]
    for source in ("first.txt", "second.txt"):
        assert tags(view.document_rows(source)) == ["two"] * 6


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def server(tmp_path):
    """``milvus-lite server`` on a free loopback port: what several processes share."""
    port = _free_port()
    process = subprocess.Popen([sys.executable, "-m", "milvus_lite", "server", "--data-dir", str(tmp_path / "s.db"),
                                "--host", "127.0.0.1", "--port", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.1)
    yield f"milvus://127.0.0.1:{port}"
    process.terminate()
    process.wait(timeout=10)


@pytest.mark.parametrize("pause, became", [("saving", False), ("publishing", True)])
def test_a_killed_ingest_leaves_each_document_as_it_was_or_as_it_became(tmp_path, server, pause, became):
    location = parse_location(server, environ={})
    folder = tmp_path / "docs"
    _one(location, "kept.txt", "one", 3, folder)
    (folder / "kept.txt").write_text(document_text("kept.txt", "two", 7), encoding="utf-8")
    env = {**os.environ, "PROTOCOL_QA_ENCODER": "fake", "PROTOCOL_QA_TEST_PAUSE_AT": pause,
           "PROTOCOL_QA_UPLOADS": str(tmp_path / "uploads")}
    process = subprocess.Popen([sys.executable, str(CLI), "ingest", "--index", server, str(folder / "kept.txt")],
                               env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL)
    said = b""
    while f"PROTOCOL_QA_PAUSED {pause}".encode() not in said:
        line = process.stderr.readline()
        assert line, said.decode()  # the ingest ended without reaching the pause
        said += line
    process.send_signal(signal.SIGKILL)
    process.wait()
    found = tags(MilvusIndex.open(location).document_rows("kept.txt"))
    assert found == (["two"] * 7 if became else ["one"] * 3)
    # The next ingest of that document publishes it and removes what the killed one left.
    _one(location, "kept.txt", "three", 2, folder)
    view = MilvusIndex.open(location)
    assert tags(view.document_rows("kept.txt")) == ["three"] * 2
    _one(location, "kept.txt", "four", 2, folder)
    left = view.client.query(mv.PASSAGES, filter='source == "kept.txt"', output_fields=["generation"])
    assert len({row["generation"] for row in left}) == 2  # the published one and the one it replaced


def test_an_unreachable_server_is_named_with_what_to_do():
    location = parse_location(f"milvus://127.0.0.1:{_free_port()}", environ={})
    with pytest.raises(mv.IndexUnreachable, match=r"PROTOCOL_QA_INDEX=milvus://127\.0\.0\.1:\d+.*did not answer"):
        mv.connect(location, timeout=2)


def test_an_empty_milvus_says_how_to_build_the_index(tmp_path):
    from index.store import IndexNotFound

    with pytest.raises(IndexNotFound, match="protocol-qa ingest --index milvus-lite://"):
        MilvusIndex.open(parse_location(f"milvus-lite://{tmp_path / 'empty.db'}"))


def test_the_command_line_ingests_and_answers_through_milvus(tmp_path, server):
    """protocol-qa ingest and ask with --index milvus://... print what they print with a folder."""
    corpus = write_corpus(tmp_path / "corpus")
    env = {**os.environ, "PROTOCOL_QA_ENCODER": "fake", "PROTOCOL_QA_UPLOADS": str(tmp_path / "uploads")}
    printed = []
    for index in (server, str(tmp_path / "folder")):
        done = subprocess.run([sys.executable, str(CLI), "ingest", "--quiet", "--index", index, str(corpus)], env=env,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        asked = subprocess.run([sys.executable, str(CLI), "ask", "--index", index, "--json", "-"], env=env,
                               input="\n".join(QUESTIONS), capture_output=True, text=True, timeout=120)
        assert asked.returncode == 0, asked.stderr
        printed.append(asked.stdout)
    assert printed[0].count("\n") == len(QUESTIONS) and '"rank": 1' in printed[0]
    assert printed[0] == printed[1]


def test_a_view_outlived_by_two_replacements_says_to_ask_again(tmp_path):
    from index.store import IndexProblem

    location = parse_location(f"milvus-lite://{tmp_path / 'm.db'}")
    _one(location, "a.txt", "one", 2, tmp_path / "docs")
    old = MilvusIndex.open(location)
    _one(location, "a.txt", "two", 2, tmp_path / "docs")
    assert tags([old.row(1)]) == ["one"]  # the version it replaced is kept for such readers
    old = MilvusIndex.open(location).reopen()
    _one(location, "a.txt", "three", 2, tmp_path / "docs")
    _one(location, "a.txt", "four", 2, tmp_path / "docs")
    with pytest.raises(IndexProblem, match="replaced twice since this view was opened; ask again"):
        old.passages[2]
    with pytest.raises(IndexProblem, match=r"a\.txt \(generation \d+\) is no longer in .*ask again"):
        old.document_rows("a.txt")  # never an empty or partial document
    assert tags(old.refreshed().document_rows("a.txt")) == ["four"] * 2


def test_rows_of_a_killed_first_ingest_are_removed_by_the_next_one(tmp_path):
    """A new document's ingest killed before publishing leaves rows no reader sees; the next
    ingest of that document (written with the new documents, in bulk) removes them."""
    from index.lexical import BM25Params
    from index.milvus import _passage_rows
    from ingest import ingest_files

    location = parse_location(f"milvus-lite://{tmp_path / 'm.db'}")
    _one(location, "other.txt", "one", 2, tmp_path / "docs")
    client = mv.shared_client(location)
    folder = tmp_path / "new"
    folder.mkdir()
    (folder / "new.txt").write_text(document_text("new.txt", "lost", 3), encoding="utf-8")
    passages = sorted(ingest_files([folder / "new.txt"]).passages, key=lambda p: (p.start, p.end))
    orphans, _, _ = _passage_rows(passages, FakeEmbedder().encode([p.retrieval_text for p in passages]),
                                  mv.new_generation(), mv.read_meta(client)["avgdl_ref"], BM25Params())
    client.insert(mv.PASSAGES, orphans)  # as a killed ingest leaves them: no catalog row names them
    assert "new.txt" not in MilvusIndex.open(location).generations
    _one(location, "new.txt", "kept", 3, folder)
    left = client.query(mv.PASSAGES, filter='source == "new.txt"', output_fields=["generation"])
    assert len({row["generation"] for row in left}) == 1 and len(left) == len(passages)
    assert tags(MilvusIndex.open(location).document_rows("new.txt")) == ["kept"] * 3


def test_a_council_named_without_its_type_joins_the_indexed_typed_council(tmp_path):
    """As in the embedded engine (tests/index/test_update.py): a document that names itself
    "Trafford Council" is filed under the indexed Trafford Borough Council, passages and all."""
    location = parse_location(f"milvus-lite://{tmp_path / 'm.db'}")
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "rules.txt").write_text("Trafford Borough Council\n\nPart 4 Rules of Procedure\n\n"
                                      "The quorum of a meeting will be one quarter of the members.\n")
    update_milvus([folder / "rules.txt"], location, FakeEmbedder())
    (folder / "articles.txt").write_text("Trafford Council\n\nPart 2 Articles of the Constitution\n\n"
                                         "Councillors will have rights of access to documents.\n")
    report = update_milvus([folder / "articles.txt"], location, FakeEmbedder())
    assert report.renamed == {"articles.txt": ("Trafford Council", "Trafford Borough Council")}
    index = MilvusIndex.open(location)
    assert {p.authority for p in index.passages} == {"Trafford Borough Council"}
