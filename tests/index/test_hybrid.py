"""Hybrid index: build, masks, save/load round trip, refusals, damage, atomic saves, the lock."""

from __future__ import annotations

import json
import os
import threading
import time

import numpy as np
import pytest

from index import store
from index.cache import EmbeddingCache
from index.hybrid import HybridIndex
from index.lexical import query_weights, tokenize


@pytest.fixture
def built(tiny_corpus, fake_embedder):
    passages, documents = tiny_corpus
    return HybridIndex.build(passages, documents, fake_embedder)


def results(index, embedder, question="may a councillor instruct an officer"):
    weights = query_weights(tokenize(question))
    vector = embedder.encode([question])[0]
    return (index.lexical_top_k(weights, 5), index.dense_top_k(vector, 5),
            index.lexical_scores(weights).tolist())


def test_build_and_search(built, fake_embedder):
    lexical, dense, scores = results(built, fake_embedder)
    assert built.passages[lexical[0][0]].text.startswith("Councillors must not instruct officers")
    assert len(dense) == 5 and len(scores) == len(built.passages)
    assert built.metadata["model"]["fingerprint"] == fake_embedder.fingerprint
    assert built.build_stats.embedded == len(built.passages)


def test_mask(built):
    assert built.mask() is None
    beta = built.mask(authorities=["Beta Town Council"])
    assert {built.passages[i].authority for i in np.flatnonzero(beta)} == {"Beta Town Council"}
    both = built.mask(kinds=["protocol", "model_code"], statuses=["adopted"])
    assert {built.passages[i].source for i in np.flatnonzero(both)} == {"alpha.txt"}
    assert not built.mask(authorities=["Nowhere Parish Council"]).any()
    weights = query_weights(tokenize("officer"))
    assert all(beta[i] for i, _ in built.lexical_top_k(weights, 10, beta))
    assert built.facet_values("kind") == ["code_of_conduct", "model_code", "protocol"]


def test_save_load_round_trip(built, fake_embedder, tmp_path):
    built.save(tmp_path / "idx")
    loaded = HybridIndex.load(tmp_path / "idx", expected_model_fingerprint=fake_embedder.fingerprint)
    assert list(loaded.passages) == list(built.passages)
    assert list(loaded.documents) == list(built.documents)
    assert loaded.fingerprint == built.fingerprint and loaded.model_name == fake_embedder.name
    assert results(loaded, fake_embedder) == results(built, fake_embedder)
    assert (loaded.mask(statuses=["draft"]) == built.mask(statuses=["draft"])).all()


def test_lazy_load_of_large_corpora(built, fake_embedder, tmp_path, monkeypatch):
    import index.hybrid as hybrid
    built.save(tmp_path)
    monkeypatch.setattr(hybrid, "LAZY_ABOVE", 2)
    loaded = HybridIndex.load(tmp_path)
    assert not isinstance(loaded.passages, list)
    assert list(loaded.passages) == list(built.passages) and loaded.passages[-1] == built.passages[-1]
    assert loaded.documents[1] == built.documents[1]


def test_not_found(tmp_path):
    with pytest.raises(store.IndexNotFound, match="protocol-qa ingest --index"):
        HybridIndex.load(tmp_path / "missing")
    with pytest.raises(store.IndexNotFound, match="protocol-qa ingest"):
        HybridIndex.load(tmp_path)


def test_refuses_other_model(built, tmp_path):
    built.save(tmp_path)
    with pytest.raises(store.IndexIncompatible, match="embedding model.*protocol-qa ingest"):
        HybridIndex.load(tmp_path, expected_model_fingerprint="another-model")


def test_refuses_other_format_version(built, tmp_path, monkeypatch):
    monkeypatch.setattr(store, "FORMAT_VERSION", 0)
    built.save(tmp_path)
    monkeypatch.setattr(store, "FORMAT_VERSION", 1)
    with pytest.raises(store.IndexIncompatible, match="format version 0.*protocol-qa ingest"):
        HybridIndex.load(tmp_path)


def _version(tmp_path):
    return store.current_version(tmp_path)


@pytest.mark.parametrize("name", ["embeddings.npy", "passages.jsonl", "lexical_data.npy", "manifest.json"])
@pytest.mark.parametrize("damage", ["truncate", "alter", "delete"])
def test_damage_detected(built, tmp_path, name, damage):
    built.save(tmp_path)
    path = _version(tmp_path) / name
    data = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "alter":
        middle = len(data) // 2
        path.write_bytes(data[:middle] + bytes([data[middle] ^ 0x20]) + data[middle + 1:])
    else:
        path.unlink()
    with pytest.raises(store.IndexDamaged, match=f"{name}.*protocol-qa ingest"):
        HybridIndex.load(tmp_path)


def test_crash_mid_save_keeps_previous_index(built, tiny_corpus, fake_embedder, tmp_path, monkeypatch):
    built.save(tmp_path)
    before = results(HybridIndex.load(tmp_path), fake_embedder)
    passages, documents = tiny_corpus
    changed = HybridIndex.build(passages[:-1], documents, fake_embedder)

    def crash(*args, **kwargs):
        raise OSError("disk full (simulated)")

    monkeypatch.setattr("index.lexical.LexicalIndex.save", crash)
    with pytest.raises(OSError, match="simulated"):
        changed.save(tmp_path)
    assert results(HybridIndex.load(tmp_path), fake_embedder) == before
    assert not list(tmp_path.glob(".tmp-*"))


def test_killed_mid_save_leftovers_are_ignored_and_collected(built, fake_embedder, tmp_path):
    built.save(tmp_path)
    leftover = tmp_path / ".tmp-v-00000000000000000001-abcdef"
    leftover.mkdir()
    (leftover / "embeddings.npy").write_bytes(b"half a file")
    assert HybridIndex.load(tmp_path).fingerprint == built.fingerprint
    assert leftover.name in store.collect_garbage(tmp_path)


def test_reader_sees_old_or_new_during_saves(tiny_corpus, fake_embedder, tmp_path):
    passages, documents = tiny_corpus
    versions = [HybridIndex.build(passages[: len(passages) - i], documents, fake_embedder) for i in range(3)]
    versions[0].save(tmp_path)
    fingerprints = {v.fingerprint for v in versions}
    seen, errors, stop = set(), [], threading.Event()

    def read():
        while not stop.is_set():
            try:
                index = HybridIndex.load(tmp_path)
                assert len(index.passages) == index.metadata["passages"] == len(index.embeddings)
                seen.add(index.fingerprint)
            except Exception as exc:  # noqa: BLE001 - collected and reported below
                errors.append(exc)

    readers = [threading.Thread(target=read) for _ in range(3)]
    for reader in readers:
        reader.start()
    for round_ in range(12):
        versions[round_ % 3].save(tmp_path)
        store.collect_garbage(tmp_path)
    stop.set()
    for reader in readers:
        reader.join()
    assert not errors, [f"{type(exc).__name__}: {exc}" for exc in errors[:3]]
    assert seen <= fingerprints and seen


def test_version_collected_while_being_verified_loads_the_new_one(tiny_corpus, fake_embedder, tmp_path,
                                                                  monkeypatch):
    passages, documents = tiny_corpus
    versions = [HybridIndex.build(passages[: len(passages) - i], documents, fake_embedder) for i in range(3)]
    versions[0].save(tmp_path)
    checksum, replaced = store._sha256, []

    def replace_then_checksum(path):
        if not replaced:  # between the size check and the checksum, two writers publish and collect
            replaced.append(path)
            versions[1].save(tmp_path)
            versions[2].save(tmp_path)
            store.collect_garbage(tmp_path)
        return checksum(path)

    monkeypatch.setattr(store, "_sha256", replace_then_checksum)
    index = HybridIndex.load(tmp_path, verify="full")
    assert not replaced[0].exists()
    assert index.fingerprint == versions[2].fingerprint


def test_second_writer_waits_then_times_out(tmp_path, caplog):
    with store.writer_lock(tmp_path):
        start = time.monotonic()
        with pytest.raises(store.IndexBusy, match="Another ingest has been updating"):
            with store.writer_lock(tmp_path, timeout=0.3):
                pass
        assert time.monotonic() - start >= 0.3
    assert "another ingest is updating" in caplog.text
    with store.writer_lock(tmp_path, timeout=0.1):  # free again
        pass


def test_second_writer_proceeds_when_first_finishes(tmp_path):
    order = []

    def first():
        with store.writer_lock(tmp_path):
            order.append("first in")
            time.sleep(0.3)
            order.append("first out")

    thread = threading.Thread(target=first)
    thread.start()
    time.sleep(0.1)
    with store.writer_lock(tmp_path, timeout=5):
        order.append("second in")
    thread.join()
    assert order == ["first in", "first out", "second in"]


def test_cache_embeds_each_text_once(tiny_corpus, fake_embedder, tmp_path):
    passages, documents = tiny_corpus
    cache = EmbeddingCache(tmp_path, fake_embedder.fingerprint, fake_embedder.dim)
    first = HybridIndex.build(passages, documents, fake_embedder, cache=cache)
    encoded = fake_embedder.texts_encoded
    reopened = EmbeddingCache(tmp_path, fake_embedder.fingerprint, fake_embedder.dim)
    second = HybridIndex.build(passages, documents, fake_embedder, cache=reopened)
    assert fake_embedder.texts_encoded == encoded
    assert second.build_stats.cached == len(passages) and second.build_stats.embedded == 0
    np.testing.assert_array_equal(first.embeddings, second.embeddings)
    other = EmbeddingCache(tmp_path, "another-model", fake_embedder.dim)
    assert len(other) == 0


def test_cache_skips_unreadable_segment(tiny_corpus, fake_embedder, tmp_path):
    passages, _ = tiny_corpus
    cache = EmbeddingCache(tmp_path, fake_embedder.fingerprint, fake_embedder.dim)
    keys = cache.keys([p.text for p in passages])
    cache.put_many(keys, fake_embedder.encode([p.text for p in passages]))
    (tmp_path / fake_embedder.fingerprint / "seg-99999999999999999999-broken.npz").write_bytes(b"junk")
    assert len(EmbeddingCache(tmp_path, fake_embedder.fingerprint, fake_embedder.dim)) == len(passages)
    assert cache.compact(keys[:2])
    assert len(EmbeddingCache(tmp_path, fake_embedder.fingerprint, fake_embedder.dim)) == 2


@pytest.mark.parametrize("authorities, kinds, statuses", [
    (["Beta Town Council"], None, None),
    (["Alpha Borough Council", "Local Government Association", "Nowhere"], None, None),
    ([], None, None),
    (None, ["protocol", "model_code"], ["adopted", "model"]),
    (["Beta Town Council"], ["code_of_conduct"], None),
    (None, None, ["superseded"]),
])
def test_mask_equals_a_row_by_row_reference(built, authorities, kinds, statuses):
    """The grouped-rows mask (no O(N) code comparison) selects exactly the rows that match."""
    expected = np.array([(authorities is None or p.authority in authorities) and (kinds is None or p.kind in kinds)
                         and (statuses is None or p.status in statuses) for p in built.passages])
    for _ in range(2):  # first call builds the groups, the second reuses them
        np.testing.assert_array_equal(built.mask(authorities=authorities, kinds=kinds, statuses=statuses), expected)


def test_corpus_fingerprint_equals_the_canonical_json_definition(tiny_corpus):
    """The fast fingerprint hashes exactly json.dumps(passage.to_dict(), sort_keys=True) per passage."""
    import dataclasses
    import hashlib

    from index.hybrid import corpus_fingerprint

    passages, documents = tiny_corpus
    passages = passages + [dataclasses.replace(passages[0], id="paged", pages=(3, 4), text="Çà et là \"quoted\"")]

    def reference(passages, documents):
        digest = hashlib.sha256()
        for passage in passages:
            digest.update(json.dumps(passage.to_dict(), sort_keys=True, ensure_ascii=False).encode("utf-8"))
            digest.update(b"\n")
        digest.update(b"\x1e")
        for document in documents:
            digest.update(json.dumps(document, sort_keys=True, ensure_ascii=False, default=str).encode("utf-8"))
            digest.update(b"\n")
        return digest.hexdigest()[:32]

    assert corpus_fingerprint(passages, documents) == reference(passages, documents)
    assert corpus_fingerprint([], []) == reference([], [])


def _authority_documents_by_scanning(passages):
    """The reference: qa.compare.authority_order's scan over every passage."""
    seen = {}
    for passage in passages:
        titles, kind = seen.setdefault(passage.authority, ([], passage.kind))
        if passage.document not in titles:
            titles.append(passage.document)
        if passage.kind == "model_code":
            seen[passage.authority] = (titles, "model_code")
    return [(name, tuple(titles), kind) for name, (titles, kind) in seen.items()]


def test_authority_documents_stored_and_equal_to_a_scan(built, tmp_path):
    expected = _authority_documents_by_scanning(built.passages)
    assert built.authority_documents() == expected
    built.save(tmp_path / "idx")
    loaded = HybridIndex.load(tmp_path / "idx")
    assert loaded.authority_documents() == expected
    # An index saved before the summary was stored computes it from its passages.
    facets_file = loaded.directory / "facets.json"
    facets = json.loads(facets_file.read_text())
    del facets["authority_documents"]
    older = HybridIndex(loaded.passages, loaded.documents, loaded.lexical, loaded.dense, loaded.embeddings,
                        facets, loaded._facet_codes, loaded.metadata)
    assert older.authority_documents() == expected


def test_token_sets_of_passages_are_kept(built):
    from index.lexical import tokenize

    passage = built.passages[0]
    assert built.token_set(0) == frozenset(tokenize(passage.text))
    assert built.token_set(0, context=True) == frozenset(tokenize(passage.retrieval_text))
    built.token_set(0)
    assert built.token_set.cache_info().hits >= 1
