"""An Answerer over the tiny three-council corpus, built once with the fake embedder."""

from __future__ import annotations

import pytest

from index.embed import FakeEmbedder
from index.hybrid import HybridIndex
from qa.answer import Answerer
from tests.tiny_corpus import build_index, write_corpus


@pytest.fixture(scope="session")
def tiny_index_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("qa-corpus")
    return build_index(write_corpus(root / "corpus"), root / "index")


@pytest.fixture
def answerer(tiny_index_dir) -> Answerer:
    return Answerer(HybridIndex.load(tiny_index_dir), FakeEmbedder())
