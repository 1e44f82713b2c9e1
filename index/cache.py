"""Embeddings cached by content, on disk, so re-ingesting unchanged text embeds nothing.

The key of a passage is ``sha256(embedder fingerprint + "\\0" + retrieval text)``:
the same words embedded by the same model weights give the same vector, so
the key is valid across files, renames and re-ingests, and a new model never
sees an old model's vectors.

On disk, a cache is a folder of immutable segments (``seg-*.npz``, each one
``keys`` (n, 32) uint8 and ``vectors`` (n, dim) float32), one per
:meth:`EmbeddingCache.put_many`. A segment is written to a temporary name and
renamed into place, so a crash leaves either a whole segment or none. A
segment that cannot be read is skipped with a warning: the cache only saves
time, it is never the record of truth.
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from index import store

__all__ = ["content_key", "EmbeddingCache"]

log = logging.getLogger(__name__)


def content_key(fingerprint: str, text: str) -> bytes:
    """The 32-byte cache key of ``text`` embedded by the model with ``fingerprint``."""
    return hashlib.sha256(fingerprint.encode("utf-8") + b"\0" + text.encode("utf-8")).digest()


class EmbeddingCache:
    """A content-addressed store of embedding vectors for one model.

    ``directory`` holds one sub-folder per model fingerprint. Not safe for two
    writers at once; :func:`index.update.update_index` holds the writer lock.
    """

    def __init__(self, directory: Path, fingerprint: str, dim: int) -> None:
        self.directory = Path(directory) / fingerprint
        self.fingerprint = fingerprint
        self.dim = int(dim)
        self._rows: dict[bytes, tuple[int, int]] = {}
        self._segments: list[np.ndarray] = []
        self._segment_paths: list[Path] = []
        self._remove_leftovers()
        self._load()

    def _remove_leftovers(self) -> None:
        """Remove segments a killed or failed writer left half-written (only a writer opens a cache)."""
        if self.directory.is_dir():
            for path in self.directory.glob(".tmp-seg-*"):
                path.unlink(missing_ok=True)

    def _load(self) -> None:
        if not self.directory.is_dir():
            return
        for path in sorted(self.directory.glob("seg-*.npz")):
            try:
                segment = store.load_arrays(path, ("keys", "vectors"))
                keys, vectors = segment["keys"], segment["vectors"]
                if keys.shape[0] != vectors.shape[0] or keys.shape[1:] != (32,) or vectors.shape[1:] != (self.dim,):
                    raise ValueError(f"shapes {keys.shape} and {vectors.shape} do not fit")
            except Exception as exc:  # noqa: BLE001 - any unreadable segment is skipped
                log.warning("skipping unreadable embedding cache segment %s (%s)", path, exc)
                continue
            self._add_segment(path, keys, vectors)

    def _add_segment(self, path: Path, keys: np.ndarray, vectors: np.ndarray) -> None:
        number = len(self._segments)
        self._segments.append(vectors)
        self._segment_paths.append(path)
        for row, key in enumerate(keys):
            self._rows[key.tobytes()] = (number, row)

    def __len__(self) -> int:
        return len(self._rows)

    def __contains__(self, key: bytes) -> bool:
        return key in self._rows

    def keys(self, texts: Sequence[str]) -> list[bytes]:
        """Cache keys of ``texts`` for this cache's model."""
        return [content_key(self.fingerprint, text) for text in texts]

    def get_many(self, keys: Sequence[bytes]) -> tuple[np.ndarray, np.ndarray]:
        """``(found, vectors)``: a boolean per key, and its vector (zeros where not found)."""
        found = np.zeros(len(keys), dtype=bool)
        vectors = np.zeros((len(keys), self.dim), dtype=np.float32)
        for i, key in enumerate(keys):
            hit = self._rows.get(key)
            if hit is not None:
                found[i] = True
                vectors[i] = self._segments[hit[0]][hit[1]]
        return found, vectors

    def put_many(self, keys: Sequence[bytes], vectors: np.ndarray) -> None:
        """Store new vectors as one new segment (keys already present are skipped)."""
        fresh = [i for i, key in enumerate(keys) if key not in self._rows]
        if not fresh:
            return
        key_array = np.frombuffer(b"".join(keys[i] for i in fresh), dtype=np.uint8).reshape(-1, 32)
        vector_array = np.ascontiguousarray(np.asarray(vectors, dtype=np.float32)[fresh])
        self._add_segment(self._write_segment(key_array, vector_array), key_array, vector_array)

    def _write_segment(self, keys: np.ndarray, vectors: np.ndarray) -> Path:
        self.directory.mkdir(parents=True, exist_ok=True)
        name = f"seg-{time.time_ns():020d}-{secrets.token_hex(3)}.npz"
        temporary = self.directory / f".tmp-{name}"
        try:
            with open(temporary, "wb") as handle:
                np.savez(handle, keys=keys, vectors=vectors)
                handle.flush()
                os.fsync(handle.fileno())
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        final = self.directory / name
        os.replace(temporary, final)
        return final

    def compact(self, live_keys: Sequence[bytes], *, min_dead_fraction: float = 0.5) -> bool:
        """Rewrite the cache keeping only ``live_keys`` when more than ``min_dead_fraction`` is dead.

        Keeps the folder from growing with every edit. Returns whether it rewrote.
        """
        live = [key for key in dict.fromkeys(live_keys) if key in self._rows]
        dead = len(self._rows) - len(live)
        if len(self._rows) == 0 or dead / len(self._rows) <= min_dead_fraction:
            return False
        _, vectors = self.get_many(live)
        old_paths = list(self._segment_paths)
        self._rows, self._segments, self._segment_paths = {}, [], []
        if live:
            keys = np.frombuffer(b"".join(live), dtype=np.uint8).reshape(-1, 32)
            self._add_segment(self._write_segment(keys, vectors), keys, vectors)
        for path in old_paths:
            path.unlink(missing_ok=True)
        return True
