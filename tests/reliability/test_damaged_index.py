"""A damaged or foreign index is refused on load with a message that says how to rebuild.

tests/index/test_hybrid.py already damages embeddings.npy, passages.jsonl,
lexical_data.npy and manifest.json, and checks another model's fingerprint and
another format version through a patched constant. Here: every other file of
a version, a file swapped in from another build, a broken ``current`` link,
older and newer format versions written into the manifest, another model
through :func:`qa.service.open_answerer`, the command line's exit status and
message, and the next ingest rebuilding the index.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from index import store
from index.embed import FakeEmbedder
from index.hybrid import HybridIndex
from index.update import update_index
from qa.config import Settings
from qa.service import open_answerer

from .conftest import ALPHA, ALPHA_CHANGED, BETA, cli, snapshot, write_corpus

COVERED_ELSEWHERE = {"embeddings.npy", "passages.jsonl", "lexical_data.npy", "manifest.json"}
REBUILD = r"rebuild it with: protocol-qa ingest --index .* YOUR-DOCUMENTS"


@pytest.fixture
def index_dir(tmp_path, fake_embedder) -> Path:
    corpus = write_corpus(tmp_path / "corpus", {"alpha.txt": ALPHA, "beta.txt": BETA})
    update_index([corpus], tmp_path / "index", fake_embedder)
    return tmp_path / "index"


def _version(index_dir: Path) -> Path:
    return store.current_version(index_dir)


def _files(index_dir: Path) -> list[str]:
    return sorted(p.name for p in _version(index_dir).iterdir() if p.name not in COVERED_ELSEWHERE)


def _damage(path: Path, how: str) -> None:
    data = path.read_bytes()
    if how == "truncate":
        path.write_bytes(data[: len(data) // 2])
    elif how == "alter":
        middle = len(data) // 2
        path.write_bytes(data[:middle] + bytes([data[middle] ^ 0x01]) + data[middle + 1:])
    elif how == "empty":
        path.write_bytes(b"")
    else:
        path.unlink()


def test_every_file_of_a_version_is_checked(index_dir, tmp_path, fake_embedder):
    names = _files(index_dir)
    assert len(names) >= 8, names  # the layout this test expects: offsets, facets, lexical parts…
    original = tmp_path / "original"
    shutil.copytree(_version(index_dir), original)
    tried = 0
    for name in names:
        for how in ("truncate", "alter", "empty", "delete"):
            if how == "truncate" and (original / name).stat().st_size < 2:
                continue
            _damage(_version(index_dir) / name, how)
            with pytest.raises(store.IndexDamaged, match=f"{name}.*{REBUILD}"):
                HybridIndex.load(index_dir)
            shutil.copy2(original / name, _version(index_dir) / name)
            tried += 1
    assert tried >= 3 * len(names)
    HybridIndex.load(index_dir, verify="full")  # restored: loads again


def test_file_swapped_in_from_another_build(index_dir, tmp_path, fake_embedder):
    other = write_corpus(tmp_path / "other", {"alpha.txt": ALPHA_CHANGED, "beta.txt": BETA})
    update_index([other], tmp_path / "other-index", fake_embedder)
    for name in ("passages.jsonl", "embeddings.npy", "lexical_vocab.json"):
        original = (_version(index_dir) / name).read_bytes()
        shutil.copy2(_version(tmp_path / "other-index") / name, _version(index_dir) / name)
        with pytest.raises(store.IndexDamaged, match=f"{name}.*{REBUILD}"):
            HybridIndex.load(index_dir)
        (_version(index_dir) / name).write_bytes(original)


def test_current_link_to_a_missing_version(index_dir):
    shutil.rmtree(_version(index_dir))
    with pytest.raises(store.IndexDamaged, match=f"manifest.json is missing; {REBUILD}"):
        HybridIndex.load(index_dir)


@pytest.mark.parametrize("content", ["v-1", "../../etc", "", "v-01796138132187225462-ec8831/../x"])
def test_current_pointer_that_names_no_version(index_dir, content):
    (index_dir / "current").write_text(content)
    with pytest.raises(store.IndexDamaged, match=f"pointer .*current does not name a version.*{REBUILD}"):
        HybridIndex.load(index_dir)


@pytest.mark.parametrize("found", [store.FORMAT_VERSION - 1, store.FORMAT_VERSION + 1, None,
                                   str(store.FORMAT_VERSION)])
def test_older_or_newer_format_version_in_the_manifest(index_dir, found):
    manifest_path = _version(index_dir) / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["format_version"] = found
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(store.IndexIncompatible, match=f"format version {found}.*reads version {store.FORMAT_VERSION}; {REBUILD}"):
        HybridIndex.load(index_dir)


def test_another_models_index_through_the_service(index_dir):
    class OtherModel(FakeEmbedder):
        name, fingerprint = "another-model", "another-0001"

    with pytest.raises(store.IndexIncompatible, match=f"embedding model 'fake-hashing-embedder'.*{REBUILD}"):
        open_answerer(Settings(index_dir=index_dir), embedder=OtherModel())


@pytest.mark.parametrize("damage", ["truncate", "delete", "foreign-model", "not-found"])
def test_command_line_reports_the_problem_without_a_traceback(index_dir, tmp_path, damage):
    target = index_dir
    if damage == "truncate":
        _damage(_version(index_dir) / "embeddings.npy", "truncate")
    elif damage == "delete":
        _damage(_version(index_dir) / "passages.offsets.npy", "delete")
    elif damage == "foreign-model":
        manifest_path = _version(index_dir) / "manifest.json"
        manifest = json.loads(manifest_path.read_text())
        manifest["model"]["fingerprint"] = "another-0001"
        manifest_path.write_text(json.dumps(manifest))
    else:
        target = tmp_path / "nowhere"
    result = cli("ask", "--index", str(target), "--json", "Who is the proper officer?")
    assert result.returncode == 3
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("protocol-qa ask: ")
    assert f"protocol-qa ingest --index {target}" in result.stderr


def test_next_ingest_rebuilds_a_damaged_index(index_dir, tmp_path, fake_embedder):
    expected = snapshot(index_dir)
    _damage(_version(index_dir) / "lexical_indices.npy", "alter")
    report = update_index([tmp_path / "corpus"], index_dir, fake_embedder)
    assert report.changed and "does not match its checksum" in report.previous_problem
    assert "rebuilt the index" in report.summary()
    assert "rebuild it with" not in report.summary()  # done already: the advice would mislead
    assert snapshot(index_dir) == expected
