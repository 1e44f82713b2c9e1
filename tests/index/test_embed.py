"""Embedders: the fake used by fast tests, the backend factory, and the real model on every backend."""

from __future__ import annotations

import socket

import numpy as np
import pytest

from index.embed import Backend, FakeEmbedder, load_embedder, measure_encoder

TEXTS = [
    "A councillor must not disclose confidential information.",
    "Officers are employed by the council and are politically neutral.",
    "The Monitoring Officer advises on the code of conduct.",
    "Members must register gifts and hospitality over fifty pounds.",
]

QUESTIONS = ["Who is the Monitoring Officer?", "Can a councillor accept a gift?"]


# -- the fake -----------------------------------------------------------------

def test_fake_embedder_is_deterministic_and_unit_norm():
    first, second = FakeEmbedder().encode(TEXTS), FakeEmbedder().encode(TEXTS)
    np.testing.assert_array_equal(first, second)
    assert first.dtype == np.float32 and first.shape == (len(TEXTS), 64)
    np.testing.assert_allclose(np.linalg.norm(first, axis=1), 1.0, rtol=1e-6)


@pytest.mark.parametrize("texts", [[""], ["!!!"], []])
def test_fake_embedder_edge_cases(texts):
    vectors = FakeEmbedder().encode(texts)
    assert vectors.shape == (len(texts), 64)
    if texts:
        np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0)


# -- factory and measurement ------------------------------------------------------

def test_unknown_backend_names_the_choices():
    with pytest.raises(ValueError, match="unknown encoder backend 'gpu'.*'onnx-int8'"):
        load_embedder("gpu")


def test_backend_names_are_the_documented_ones():
    assert {b.value for b in Backend} == {"auto", "torch", "torch-bf16", "onnx", "onnx-int8", "openvino", "fake"}


def test_measure_encoder_reports_rates():
    embedder = FakeEmbedder()
    report = measure_encoder(embedder, TEXTS * 10, batch_size=8, queries=QUESTIONS, repeats=2)
    assert report["passages"] == 40 and report["batch_size"] == 8 and report["queries"] == 2
    assert report["passages_per_s"] > 0 and 0 <= report["query_ms_p50"] <= report["query_ms_p95"]


@pytest.mark.parametrize("kwargs, message", [
    ({"texts": []}, "at least one text"),
    ({"texts": TEXTS, "repeats": 0}, "repeats must be at least 1"),
])
def test_measure_encoder_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        measure_encoder(FakeEmbedder(), **kwargs)


# -- the real model ------------------------------------------------------------------

class _NoNetwork(RuntimeError):
    pass


def _refuse(self, address, *args, **kwargs):
    raise _NoNetwork(f"model loading tried to connect to {address!r}")


@pytest.fixture(scope="module")
def onnx_cache(tmp_path_factory):
    """A private model cache with the float32 and int8 exports, built once with sockets refused."""
    from index.embed import fingerprint_model_dir, packaged_model_dir
    from index.onnx_encoder import cached_onnx_model

    pytest.importorskip("onnxruntime")
    cache = tmp_path_factory.mktemp("model-cache")
    model_dir = packaged_model_dir()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HF_HUB_OFFLINE", "1")
        patch.setattr(socket.socket, "connect", _refuse)
        cached_onnx_model(model_dir, fingerprint_model_dir(model_dir), quantize=True, cache_dir=cache)
    return cache


@pytest.fixture(scope="module")
def reference():
    """PyTorch float32 vectors of TEXTS and QUESTIONS, the yardstick for the other backends."""
    embedder = load_embedder("torch")
    return embedder, embedder.encode(TEXTS), embedder.encode(QUESTIONS)


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["torch", "onnx", "openvino"])
def test_real_model_loads_offline_and_gives_unit_vectors(backend, onnx_cache, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    embedder = load_embedder(backend, cache_dir=onnx_cache)  # the autouse fixture refuses sockets
    vectors = embedder.encode(TEXTS)
    assert embedder.dim == 384 and vectors.shape == (len(TEXTS), 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert embedder.encode([]).shape == (0, 384)


# Thresholds sit below the cosines measured over the 384 corpus paragraphs
# (onnx 0.99999+, torch-bf16 0.99999, openvino 0.99998, onnx-int8 mean 0.992, minimum 0.975).
@pytest.mark.slow
@pytest.mark.parametrize("backend, min_cosine, same_fingerprint", [
    ("onnx", 0.9999, True),
    ("torch-bf16", 0.999, True),
    ("openvino", 0.9999, True),
    ("onnx-int8", 0.96, False),
])
def test_backends_agree_with_pytorch(backend, min_cosine, same_fingerprint, reference, onnx_cache):
    torch_embedder, torch_texts, torch_questions = reference
    embedder = load_embedder(backend, cache_dir=onnx_cache)
    # Batch size 3 pads the shorter texts, which must not change their vectors.
    cosines = np.sum(embedder.encode(TEXTS, batch_size=3) * torch_texts, axis=1)
    assert cosines.min() > min_cosine, cosines
    assert np.sum(embedder.encode(QUESTIONS) * torch_questions, axis=1).min() > min_cosine
    assert (embedder.fingerprint == torch_embedder.fingerprint) is same_fingerprint


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["torch", "onnx-int8"])
def test_similar_texts_are_closer_than_dissimilar(backend, onnx_cache):
    embedder = load_embedder(backend, cache_dir=onnx_cache)
    gift, gift_again, parking = embedder.encode([
        "A councillor must declare any gift or hospitality received.",
        "Members have to register gifts and hospitality they accept.",
        "The car park closes at six in the evening.",
    ])
    assert gift @ gift_again > gift @ parking + 0.2


@pytest.mark.slow
def test_onnx_export_is_cached_not_redone(onnx_cache):
    before = {p.name: p.stat().st_mtime_ns for p in onnx_cache.rglob("*.onnx")}
    assert sorted(before) == ["model-fp32-v1.onnx", "model-int8-v1.onnx"]
    load_embedder("onnx-int8", cache_dir=onnx_cache)
    assert {p.name: p.stat().st_mtime_ns for p in onnx_cache.rglob("*.onnx")} == before


def test_fake_backend_for_tests_and_quick_runs():
    from index.embed import FakeEmbedder, load_embedder
    assert isinstance(load_embedder("fake"), FakeEmbedder)


def test_lazy_embedder_knows_its_fingerprint_without_loading():
    from index.embed import LazyEmbedder, default_model_dir, fingerprint_model_dir, load_embedder
    lazy = load_embedder("torch", purpose="passages", lazy=True)
    assert isinstance(lazy, LazyEmbedder) and not lazy.loaded
    assert lazy.fingerprint == fingerprint_model_dir(default_model_dir()) and lazy.dim == 384


def test_lazy_embedder_loads_once_on_first_encode():
    from index.embed import FakeEmbedder, LazyEmbedder
    loads = []

    def load():
        loads.append(1)
        return FakeEmbedder()

    lazy = LazyEmbedder(load, name="fake", dim=64, fingerprint=FakeEmbedder.fingerprint)
    lazy.encode(["a"]); lazy.encode(["b"])
    assert loads == [1] and lazy.loaded


def test_purpose_is_checked():
    from index.embed import load_embedder
    with pytest.raises(ValueError, match="purpose"):
        load_embedder("fake", purpose="everything")


@pytest.mark.parametrize("purpose, threads", [("questions", 1), ("passages", None)])
def test_questions_are_encoded_on_one_thread(purpose, threads, monkeypatch):
    import index.embed as embed

    asked = {}
    monkeypatch.setattr(embed, "_load_backend", lambda choice, **kwargs: asked.update(kwargs) or FakeEmbedder())
    load_embedder("onnx", purpose=purpose)
    assert asked["threads"] == threads



@pytest.mark.parametrize("runtime, quantize, message", [
    ("openvino", True, "int8 export runs on ONNX Runtime only"),
    ("tensorrt", False, "runtime must be 'onnxruntime' or 'openvino', got 'tensorrt'"),
])
def test_onnx_embedder_refuses_bad_runtime_choices_before_loading(runtime, quantize, message, tmp_path):
    from index.onnx_encoder import OnnxEmbedder

    with pytest.raises(ValueError, match=message):
        OnnxEmbedder(tmp_path / "no-model-here", quantize=quantize, runtime=runtime)


@pytest.mark.parametrize("openvino_fast, torch_fast, expected", [
    (True, True, "openvino"),
    (False, True, "torch-bf16"),
    (False, False, "onnx"),
])
def test_auto_picks_the_fastest_interchangeable_passage_encoder(openvino_fast, torch_fast, expected, monkeypatch):
    import index.embed as embed
    import index.onnx_encoder as onnx_encoder

    chosen = []

    class Stub(FakeEmbedder):
        def __init__(self, *args, runtime="onnxruntime", quantize=False, **kwargs):
            super().__init__()
            chosen.append("openvino" if runtime == "openvino" else "onnx-int8" if quantize else "onnx")

    monkeypatch.setattr(onnx_encoder, "openvino_has_bfloat16", lambda: openvino_fast)
    monkeypatch.setattr(onnx_encoder, "OnnxEmbedder", Stub)
    monkeypatch.setattr(embed, "cpu_has_fast_bfloat16", lambda: torch_fast)
    monkeypatch.setattr(embed, "_onnxruntime_available", lambda: True)
    monkeypatch.setattr(embed, "SentenceTransformerEmbedder",
                        lambda *args, bfloat16=False, **kwargs: chosen.append("torch-bf16" if bfloat16 else "torch"))
    embed._load_backend("auto")
    assert chosen == [expected]
