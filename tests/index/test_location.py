"""--index values (folders and Milvus URIs) and the sparse BM25 of the Milvus engine; no Milvus needed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from index.lexical import BM25Params, LexicalIndex, tokenize
from index.location import Engine, parse_location
from index.sparse import EMPTY_ID, bm25, idf, passage_vector, query_vector, term_frequencies, term_id
from qa.config import Settings, load_milvus


@pytest.mark.parametrize("text, engine, address", [
    (".index", Engine.EMBEDDED, ""),
    ("milvus-lite:///srv/qa/index.db", Engine.MILVUS_LITE, "/srv/qa/index.db"),
    ("milvus://127.0.0.1:19530", Engine.MILVUS, "http://127.0.0.1:19530"),
    ("milvus://localhost:19530", Engine.MILVUS, "http://localhost:19530"),
])
def test_parse_location(text, engine, address):
    location = parse_location(text, environ={})
    assert location.engine is engine
    assert location.address == address


def test_a_remote_server_takes_its_token_from_the_environment():
    location = parse_location("milvus+https://milvus.example.org:443", environ={"PROTOCOL_QA_MILVUS_TOKEN": "u:p"})
    assert (location.address, location.token) == ("https://milvus.example.org:443", "u:p")
    assert "u:p" not in repr(location)


@pytest.mark.parametrize("text, message", [
    ("milvus-lite://index", r"PROTOCOL_QA_INDEX.*ending in \.db"),
    ("milvus://milvus.example.org", r"PROTOCOL_QA_INDEX.*HOST:PORT"),
    ("milvus://milvus.example.org:99999", r"port from 1 to 65535"),
    ("milvus://milvus.example.org:19530", r"PROTOCOL_QA_MILVUS_TOKEN is not set"),
    ("milvus+https://127.0.0.1:443", r"PROTOCOL_QA_MILVUS_TOKEN is not set"),
    ("http://milvus.example.org:19530", r"unknown scheme 'http'.*milvus-lite://"),
    ("  ", r"PROTOCOL_QA_INDEX is empty"),
])
def test_bad_locations_name_the_setting_and_the_fix(text, message):
    with pytest.raises(ValueError, match=message):
        parse_location(text, environ={})


def test_settings_read_a_milvus_uri_from_the_environment():
    settings = Settings.from_env({"PROTOCOL_QA_INDEX": "milvus-lite:///tmp/x.db"})
    assert settings.index_location.engine is Engine.MILVUS_LITE
    assert Settings.from_env({"PROTOCOL_QA_INDEX": "/tmp/folder"}).index_location.path == Path("/tmp/folder")
    with pytest.raises(ValueError, match="PROTOCOL_QA_MILVUS_TOKEN"):
        Settings.from_env({"PROTOCOL_QA_INDEX": "milvus://milvus.example.org:19530"})


def test_milvus_settings_come_from_the_pipeline_file():
    settings = load_milvus()
    assert settings.dense_index in ("FLAT", "HNSW", "IVF_FLAT") and settings.overfetch >= 1


CLAUSES = ["Councillors must not instruct officers to undertake work for them.",
           "Officers attend political group meetings only to give factual briefings.",
           "A member may ask an officer to attend a ward surgery; a member and a councillor alike.",
           "Members shall treat officers with courtesy and respect.", "the of and"]


@pytest.mark.parametrize("query", [
    {"councillor": 1.0, "officer": 1.0},
    {"member": 2.0, "attend": 0.5},
    {("councillor", "member"): 1.0, "officer": 0.5},
    {"absent": 1.0},
])
def test_sparse_bm25_equals_the_embedded_scores(query):
    """The exact rescoring of the Milvus engine is the embedded engine's BM25, term sets included."""
    tokens = [tokenize(text) for text in CLAUSES]
    lexical = LexicalIndex.build(tokens)
    expected = lexical.scores(query)
    avgdl = float(np.mean([len(t) for t in tokens]))
    n = len(tokens)

    def df(term):
        parts = term if isinstance(term, tuple) else (term,)
        return sum(any(p in t for p in parts) for t in tokens)

    got = [bm25(term_frequencies(t), len(t), query, lambda term: idf(df(term), n, BM25Params()), avgdl, BM25Params())
           for t in tokens]
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_sparse_inner_product_is_bm25_at_the_reference_length():
    """A passage vector times a query vector is the passage's BM25 when the corpus's mean length
    is the reference length (single-token terms)."""
    tokens = [tokenize(text) for text in CLAUSES]
    lexical = LexicalIndex.build(tokens)
    avgdl = float(np.mean([len(t) for t in tokens]))
    query = {"councillor": 1.0, "officer": 2.0}
    q = query_vector(query, lexical.idf)
    for row, t in enumerate(tokens):
        p = passage_vector(term_frequencies(t), len(t), avgdl, BM25Params())
        assert sum(v * p.get(k, 0.0) for k, v in q.items()) == pytest.approx(lexical.scores(query)[row])
    assert passage_vector({}, 0, avgdl, BM25Params()) == {EMPTY_ID: 1.0}
    assert all(term_id(word) < EMPTY_ID for word in ("a", "councillor", "zz" * 40))
