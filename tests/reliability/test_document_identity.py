"""A document is known by its path, its content and its council, not by its bare file name.

Before, a ``code-of-conduct.txt`` from another folder replaced a different
council's document with exit 0, and a moved corpus folder was "skipped …
duplicate of" itself while its deleted files stayed in the index.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from index.hybrid import HybridIndex
from index.update import update_index

from .conftest import ALPHA, BETA, GAMMA, cli, write_corpus

NORTH = """North Parish Council Code of Conduct

1. Members of North Parish Council must register gifts worth more than twenty pounds.

2. The Clerk keeps the register of interests of North Parish Council.
"""
SOUTH = """South Town Council Code of Conduct

1. Members of South Town Council must register gifts worth more than fifty pounds.

2. The Town Clerk keeps the register of interests of South Town Council.
"""


def _documents(index_dir: Path) -> dict[str, dict]:
    return {d["source"]: d for d in HybridIndex.load(index_dir).documents}


def _authorities_by_source(index_dir: Path) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for passage in HybridIndex.load(index_dir).passages:
        found.setdefault(passage.source, set()).add(passage.authority)
    return found


def test_same_file_name_from_another_folder_is_another_document(tmp_path):
    north = write_corpus(tmp_path / "north", {"code-of-conduct.txt": NORTH})
    south = write_corpus(tmp_path / "south", {"code-of-conduct.txt": SOUTH})
    index_dir = tmp_path / "index"
    assert cli("ingest", "--index", str(index_dir), "-q", str(north)).returncode == 0
    second = cli("ingest", "--index", str(index_dir), str(south))
    assert second.returncode == 0, second.stderr
    assert "ingested  south/code-of-conduct.txt" in second.stdout
    assert "replaced" not in second.stdout
    listing = cli("passages", "--index", str(index_dir), "--json")
    authorities = {json.loads(line)["authority"] for line in listing.stdout.splitlines() if line.strip()}
    assert authorities == {"North Parish Council", "South Town Council"}
    assert _authorities_by_source(index_dir) == {"code-of-conduct.txt": {"North Parish Council"},
                                                 "south/code-of-conduct.txt": {"South Town Council"}}


def test_two_files_of_one_name_in_one_ingest_are_two_document_records(tmp_path, fake_embedder):
    corpus = tmp_path / "corpus"
    write_corpus(corpus / "north", {"code-of-conduct.txt": NORTH})
    write_corpus(corpus / "south", {"code-of-conduct.txt": SOUTH})
    index_dir = tmp_path / "index"
    report = update_index([corpus], index_dir, fake_embedder)
    documents = _documents(index_dir)
    assert sorted(documents) == ["code-of-conduct.txt", "south/code-of-conduct.txt"]
    assert {d["authority"] for d in documents.values()} == {"North Parish Council", "South Town Council"}
    assert report.documents == 2
    passage_ids = [p.id for p in HybridIndex.load(index_dir).passages]
    assert len(passage_ids) == len(set(passage_ids))


def test_the_same_path_replaces_and_says_so(tmp_path, fake_embedder):
    corpus = write_corpus(tmp_path / "corpus", {"code-of-conduct.txt": NORTH})
    index_dir = tmp_path / "index"
    update_index([corpus], index_dir, fake_embedder)
    write_corpus(corpus, {"code-of-conduct.txt": NORTH.replace("twenty", "thirty")})
    report = update_index([corpus / "code-of-conduct.txt"], index_dir, fake_embedder)
    assert report.replaced == ["code-of-conduct.txt"] and not report.added
    assert "replaced the version indexed earlier from" in report.summary()
    texts = [p.text for p in HybridIndex.load(index_dir).passages]
    assert any("thirty pounds" in t for t in texts) and not any("twenty pounds" in t for t in texts)


def test_a_moved_corpus_folder_is_the_same_documents_and_its_deletions_are_picked_up(tmp_path, fake_embedder):
    old = write_corpus(tmp_path / "old" / "corpus", {"alpha.txt": ALPHA, "beta.txt": BETA, "gamma.txt": GAMMA})
    index_dir = tmp_path / "index"
    update_index([old], index_dir, fake_embedder)
    before = {p.id: p for p in HybridIndex.load(index_dir).passages}
    new = tmp_path / "new" / "corpus"
    new.parent.mkdir()
    shutil.move(old, new)
    (new / "gamma.txt").unlink()

    report = update_index([new], index_dir, fake_embedder)
    assert report.skipped == [], [s.reason for s in report.skipped]
    assert report.dropped == ["gamma.txt"]
    assert sorted(report.moved) == ["alpha.txt", "beta.txt"]
    documents = _documents(index_dir)
    assert sorted(documents) == ["alpha.txt", "beta.txt"]
    assert all(Path(d["path"]).parent == new.resolve() for d in documents.values())
    after = {p.id: p for p in HybridIndex.load(index_dir).passages}
    assert set(after) == {i for i, p in before.items() if p.source != "gamma.txt"}  # same ids: same citations
    assert "replaced the same document indexed from" in report.summary()


def test_a_moved_folder_with_an_edited_file_replaces_that_document(tmp_path, fake_embedder):
    old = write_corpus(tmp_path / "old", {"alpha.txt": ALPHA, "beta.txt": BETA})
    index_dir = tmp_path / "index"
    update_index([old], index_dir, fake_embedder)
    new = tmp_path / "moved"
    shutil.move(old, new)
    (new / "alpha.txt").write_text(ALPHA.replace("fifty pounds", "forty pounds"), encoding="utf-8")
    report = update_index([new], index_dir, fake_embedder)
    assert sorted(_documents(index_dir)) == ["alpha.txt", "beta.txt"]
    assert "alpha.txt" in report.replaced
    assert any("forty pounds" in p.text for p in HybridIndex.load(index_dir).passages)


def test_an_index_copied_where_the_corpus_lives_elsewhere_takes_the_next_ingest(tmp_path, fake_embedder):
    corpus = write_corpus(tmp_path / "machine-a" / "corpus", {"alpha.txt": ALPHA, "beta.txt": BETA})
    index_dir = tmp_path / "machine-a" / "index"
    update_index([corpus], index_dir, fake_embedder)
    elsewhere = tmp_path / "machine-b"
    shutil.copytree(tmp_path / "machine-a", elsewhere)
    shutil.rmtree(tmp_path / "machine-a")
    (elsewhere / "corpus" / "beta.txt").unlink()
    report = update_index([elsewhere / "corpus"], elsewhere / "index", fake_embedder)
    assert report.skipped == [] and report.dropped == ["beta.txt"]
    assert sorted(_documents(elsewhere / "index")) == ["alpha.txt"]


def test_corrected_details_from_a_manifest_in_a_new_folder_are_taken(tmp_path, fake_embedder):
    first = write_corpus(tmp_path / "first", {"protocol.txt": "Member Officer Protocol\n\n1. Officers advise.\n"})
    index_dir = tmp_path / "index"
    update_index([first], index_dir, fake_embedder)
    assert _documents(index_dir)["protocol.txt"]["authority"] == "Council not identified: protocol.txt"

    plain_copy = write_corpus(tmp_path / "plain", {"protocol.txt": (first / "protocol.txt").read_text()})
    report = update_index([plain_copy], index_dir, fake_embedder)
    assert [s.reason for s in report.skipped] == ["duplicate of protocol.txt"]  # nothing new to say about it

    corrected = write_corpus(tmp_path / "corrected", {"protocol.txt": (first / "protocol.txt").read_text()})
    (corrected / "manifest.toml").write_text('[[document]]\nfile = "protocol.txt"\n'
                                             'authority = "Eastleigh Borough Council"\ntitle = "Protocol"\n')
    report = update_index([corrected], index_dir, fake_embedder)
    documents = _documents(index_dir)
    assert sorted(documents) == ["protocol.txt"]
    assert documents["protocol.txt"]["authority"] == "Eastleigh Borough Council"
    assert {p.authority for p in HybridIndex.load(index_dir).passages} == {"Eastleigh Borough Council"}
    assert report.moved == {"protocol.txt": str((first / "protocol.txt").resolve())}
