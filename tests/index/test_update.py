"""update_index: merging, embedding only what changed, up-to-date detection, failures leave the index alone."""

from __future__ import annotations

import pytest

from index import store
from index.hybrid import HybridIndex
from index.update import update_index


def write(folder, name, *paragraphs):
    folder.mkdir(exist_ok=True)
    path = folder / name
    path.write_text("\n\n".join(paragraphs), encoding="utf-8")
    return path


@pytest.fixture
def docs(tmp_path):
    folder = tmp_path / "docs"
    write(folder, "alpha.txt", "Councillors must not instruct officers.", "Officers give advice to groups.")
    write(folder, "beta.txt", "Members treat officers with respect.", "The clerk is the proper officer.",
          "Gifts are declared within 28 days.")
    return folder


def test_first_ingest_then_unchanged_embeds_nothing(fake_ingest, fake_embedder, docs, tmp_path):
    index_dir = tmp_path / "index"
    first = update_index([docs], index_dir, fake_embedder)
    assert first.changed and first.embedded == 5 and first.cached == 0
    assert sorted(first.added) == ["alpha.txt", "beta.txt"]
    version = store.current_version(index_dir)
    encoded = fake_embedder.texts_encoded

    second = update_index([docs], index_dir, fake_embedder)
    assert not second.changed and second.message == "index is up to date"
    assert fake_embedder.texts_encoded == encoded
    assert store.current_version(index_dir) == version
    assert len(HybridIndex.load(index_dir).passages) == 5


def test_changed_document_embeds_only_changed_passages(fake_ingest, fake_embedder, docs, tmp_path):
    index_dir = tmp_path / "index"
    update_index([docs], index_dir, fake_embedder)
    encoded = fake_embedder.texts_encoded
    write(docs, "beta.txt", "Members treat officers with respect.", "The clerk is the proper officer.",
          "Gifts are declared within 14 days.")
    report = update_index([docs], index_dir, fake_embedder)
    assert report.changed and report.embedded == 1 and report.cached == 4
    assert fake_embedder.texts_encoded == encoded + 1
    assert report.replaced == ["alpha.txt", "beta.txt"]
    texts = [p.text for p in HybridIndex.load(index_dir).passages]
    assert "Gifts are declared within 14 days." in texts and "Gifts are declared within 28 days." not in texts


def test_untouched_documents_kept_and_deleted_ones_dropped(fake_ingest, fake_embedder, docs, tmp_path):
    index_dir = tmp_path / "index"
    update_index([docs], index_dir, fake_embedder)
    other = write(tmp_path / "other", "gamma.txt", "Chairs of committees are impartial.")
    report = update_index([other], index_dir, fake_embedder)
    assert report.added == ["gamma.txt"] and sorted(report.kept) == ["alpha.txt", "beta.txt"]
    (docs / "alpha.txt").unlink()
    report = update_index([docs], index_dir, fake_embedder)
    assert report.dropped == ["alpha.txt"] and report.kept == ["gamma.txt"]
    sources = {p.source for p in HybridIndex.load(index_dir).passages}
    assert sources == {"beta.txt", "gamma.txt"}


def test_every_file_failed_leaves_index_untouched(fake_ingest, fake_embedder, docs, tmp_path):
    index_dir = tmp_path / "index"
    update_index([docs], index_dir, fake_embedder)
    version = store.current_version(index_dir)
    bad = write(tmp_path / "bad", "broken.txt", "CORRUPT")
    report = update_index([bad], index_dir, fake_embedder)
    assert not report.changed and "every file failed" in report.message
    assert len(report.skipped) == 1 and store.current_version(index_dir) == version


def test_failed_new_version_keeps_old_one(fake_ingest, fake_embedder, docs, tmp_path):
    index_dir = tmp_path / "index"
    update_index([docs], index_dir, fake_embedder)
    write(docs, "alpha.txt", "CORRUPT")
    report = update_index([docs], index_dir, fake_embedder)
    assert "alpha.txt" in report.kept and not report.dropped
    assert {p.source for p in HybridIndex.load(index_dir).passages} == {"alpha.txt", "beta.txt"}


def test_other_model_index_is_rebuilt(fake_ingest, fake_embedder, docs, tmp_path):
    from index.embed import FakeEmbedder

    index_dir = tmp_path / "index"
    other = FakeEmbedder(dim=32)
    other.fingerprint = "fake-other-model"
    update_index([docs], index_dir, other)
    report = update_index([docs], index_dir, fake_embedder)
    assert report.changed and "embedding model" in report.previous_problem
    assert HybridIndex.load(index_dir, expected_model_fingerprint=fake_embedder.fingerprint).dim == 64


def test_progress_callable_called_per_file(fake_ingest, fake_embedder, docs, tmp_path):
    seen = []
    update_index([docs], tmp_path / "index", fake_embedder, progress=seen.append)
    assert [p.name for p in seen] == ["alpha.txt", "beta.txt"]


def test_lock_timeout_is_passed_through(fake_ingest, fake_embedder, docs, tmp_path):
    index_dir = tmp_path / "index"
    with store.writer_lock(index_dir):
        with pytest.raises(store.IndexBusy, match="Another ingest"):
            update_index([docs], index_dir, fake_embedder, lock_timeout=0.2)


def test_real_ingest_of_a_text_file(fake_embedder, tmp_path):
    """The real ingest API end to end on one plain-text protocol (no fake)."""
    folder = tmp_path / "real"
    write(folder, "tiny-protocol.txt", "Member/Officer Protocol", "1. Introduction",
          "1.1 Councillors must not instruct officers to do work for them.",
          "1.2 Officers attend group meetings only to brief on facts.")
    report = update_index([folder / "tiny-protocol.txt"], tmp_path / "index", fake_embedder)
    assert report.changed, report.message
    index = HybridIndex.load(tmp_path / "index")
    assert index.passages and index.documents[0]["source"] == "tiny-protocol.txt"


def test_a_council_named_without_its_type_joins_the_typed_council(fake_embedder, tmp_path):
    """Real ingest, no manifest: "Trafford Council" prints no type, "Trafford Borough Council" does;
    both are one council, in whichever order the documents arrive. A manifest's name is kept."""
    index_dir = tmp_path / "index"
    first = write(tmp_path / "a", "articles.txt", "Trafford Council\n\nPart 2 Articles of the Constitution",
                  "Councillors will have such rights of access to documents as are necessary.")
    update_index([first], index_dir, fake_embedder)
    assert {p.authority for p in HybridIndex.load(index_dir).passages} == {"Trafford Council"}

    second = write(tmp_path / "b", "rules.txt", "Trafford Borough Council\n\nPart 4 Rules of Procedure",
                   "The quorum of a meeting will be one quarter of the whole number of members.")
    report = update_index([second], index_dir, fake_embedder)
    index = HybridIndex.load(index_dir)
    assert {p.authority for p in index.passages} == {"Trafford Borough Council"}
    assert {d["authority"] for d in index.documents} == {"Trafford Borough Council"}
    assert report.renamed == {"articles.txt": ("Trafford Council", "Trafford Borough Council")}
    assert "renamed   articles.txt: taken for Trafford Borough Council" in report.summary()
    note = next(d["note"] for d in index.documents if d["source"] == "articles.txt")
    assert "'Trafford Council'" in note

    # A manifest that names the council otherwise is obeyed, and nothing is renamed to it.
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "manifest.toml").write_text('[[document]]\nfile = "pay.txt"\nauthority = "Trafford Council"\ntitle = "Pay Policy"\n')
    third = write(tmp_path / "c", "pay.txt", "Pay Policy Statement", "Chief officers' pay is set by the council.")
    update_index([third], index_dir, fake_embedder)
    by_source = {d["source"]: d["authority"] for d in HybridIndex.load(index_dir).documents}
    assert by_source["pay.txt"] == "Trafford Council"
    assert by_source["articles.txt"] == by_source["rules.txt"] == "Trafford Borough Council"
