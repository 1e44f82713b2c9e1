"""The hybrid index with the real packaged MiniLM model (slow: loads the model)."""

from __future__ import annotations

import pytest

from index.hybrid import HybridIndex
from index.lexical import query_weights, tokenize


@pytest.mark.slow
def test_real_model_build_save_load_search(tiny_corpus, tmp_path):
    from index.embed import SentenceTransformerEmbedder

    embedder = SentenceTransformerEmbedder()
    passages, documents = tiny_corpus
    built = HybridIndex.build(passages, documents, embedder)
    built.save(tmp_path)
    index = HybridIndex.load(tmp_path, expected_model_fingerprint=embedder.fingerprint)
    assert index.dim == 384 and index.model_name == embedder.name
    question = "Can I get an officer to come to my ward surgery?"
    row, score = index.dense_top_k(embedder.encode([question])[0], 1)[0]
    assert "ward surgery" in index.passages[row].text and 0 < score <= 1.0001
    assert "ward surgery" in index.passages[index.lexical_top_k(query_weights(tokenize(question)), 1)[0][0]].text
