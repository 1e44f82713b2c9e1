"""Answerers for the qa tests: over the tiny three-council corpus with the fake
embedder, and (for tests marked slow) over the default corpus with the real model."""

from __future__ import annotations

import pytest

from pathlib import Path

from index.embed import FakeEmbedder, load_embedder
from index.hybrid import HybridIndex
from index.update import update_index
from qa.answer import Answerer
from tests.tiny_corpus import build_index, write_corpus

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def tiny_index_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("qa-corpus")
    return build_index(write_corpus(root / "corpus"), root / "index")


@pytest.fixture
def answerer(tiny_index_dir) -> Answerer:
    return Answerer(HybridIndex.load(tiny_index_dir), FakeEmbedder())


@pytest.fixture(scope="session")
def real_answerer(tmp_path_factory) -> Answerer:
    """The default corpus (``corpus/``) indexed with the real model, once per session."""
    index_dir = tmp_path_factory.mktemp("real") / "index"
    update_index([ROOT / "corpus"], index_dir, load_embedder("auto", purpose="passages"))
    embedder = load_embedder("auto", purpose="questions")
    return Answerer(HybridIndex.load(index_dir, expected_model_fingerprint=embedder.fingerprint), embedder)
