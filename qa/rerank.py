"""The rerank stage: a cross-encoder reads the question and each fused candidate together.

The bi-encoder and BM25 score a question and a clause apart; a cross-encoder
reads them as one text, so it sees which words of the question the clause
actually answers. It is slower per clause, so it reorders only the first
candidates of the fused ranking (``rerank_depth`` in ``qa/data/pipeline.toml``). The model is
trained by ``protocol-qa train`` (see :mod:`qa.train`): a six-layer teacher from
all-MiniLM-L6-v2's transformer (``models/reranker-teacher``), then a three-layer student
of it that answers use (``models/reranker``, about 1.7 times faster); nothing is downloaded. It runs
as an ONNX export made on first use and cached beside the encoder's
(:func:`index.onnx_encoder.cached_onnx_model`): in bfloat16 on OpenVINO where the
CPU has it natively, otherwise quantised to int8 weights in ONNX Runtime
(``PROTOCOL_QA_RERANK_PRECISION``, :func:`rerank_precision`).
"""

from __future__ import annotations

import json
import logging
import os
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import numpy as np

from .config import PROJECT_ROOT

log = logging.getLogger(__name__)

RERANKER_DIR = PROJECT_ROOT / "models" / "reranker"
MAX_LENGTH = 192  # word pieces of question and clause together, as trained (qa.train.RerankerTraining)
# A batch is as wide as its longest pair: over the bench's comparisons 41% of the word pieces
# read in one batch were padding. Pairs are read in batches of like length (length_batches),
# a further batch being worth this many word pieces of padding (docs/performance.md).
BATCH_OVERHEAD = 64
# On OpenVINO (bfloat16) each batch shape met for the first time costs 3-7 ms a call more than
# the same shape again, which made the slowest answers of a new process: widths there are
# rounded up to a multiple of this many word pieces, so that it meets 12 widths instead of 192
# (docs/performance.md, "nineteenth round").
BF16_WIDTH_STEP = 16


def length_batches(lengths: Sequence[int], overhead: float = BATCH_OVERHEAD) -> list[list[int]]:
    """The positions of ``lengths`` in batches of like length: the split of the sorted
    lengths that reads the fewest word pieces, padding included, counting ``overhead``
    for each batch (exact, by dynamic programming over the sorted lengths)."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    cost = [0.0] + [float("inf")] * len(order)
    start = [0] * (len(order) + 1)
    for end in range(1, len(order) + 1):
        width = lengths[order[end - 1]]
        for begin in range(end):
            candidate = cost[begin] + (end - begin) * width + overhead
            if candidate < cost[end]:
                cost[end], start[end] = candidate, begin
    batches, end = [], len(order)
    while end > 0:
        batches.append(order[start[end]:end])
        end = start[end]
    return batches[::-1]


PRECISIONS = ("auto", "bf16", "int8", "fp32")


def rerank_precision(environ=None) -> str:
    """``PROTOCOL_QA_RERANK_PRECISION``: ``auto`` (the default), ``bf16``, ``int8`` or ``fp32``."""
    raw = ((environ if environ is not None else os.environ).get("PROTOCOL_QA_RERANK_PRECISION") or "auto")
    raw = raw.strip().lower()
    if raw not in PRECISIONS:
        raise ValueError(f"PROTOCOL_QA_RERANK_PRECISION must be one of {', '.join(PRECISIONS)}, got {raw!r}")
    return raw


def resolved_precision(precision: str, has_bfloat16: bool) -> str:
    """The precision ``auto`` stands for on a CPU with or without native bfloat16.

    Native bfloat16 (AMX, AVX512-BF16) runs OpenVINO's bfloat16 fastest; on any
    other CPU (AVX2) the int8 weights are: seven clauses read in 68 ms against
    97 ms in float32 on a 2-core AVX2 machine, with the same validation figures
    (docs/performance.md, ninth round). ``bf16`` without native support runs
    OpenVINO's float32."""
    if precision not in PRECISIONS:
        raise ValueError(f"reranker precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if precision == "auto":
        return "bf16" if has_bfloat16 else "int8"
    return precision


class Reranker:
    """A cross-encoder scoring (question, passage) pairs; higher is a better answer.

    ``scores`` returns probabilities (the logistic of the model's logit), so
    they serve as an abstention signal as well as an order. ``precision`` is
    ``"bf16"`` (OpenVINO, bfloat16 where the CPU has it natively), ``"int8"``
    (ONNX Runtime, int8 weights), ``"fp32"`` (ONNX Runtime) or ``"auto"``
    (:func:`resolved_precision`); by default, ``PROTOCOL_QA_RERANK_PRECISION``.
    """

    def __init__(self, model_dir: Path = RERANKER_DIR, *, threads: int | None = None, precision: str | None = None,
                 cache_dir: Path | None = None) -> None:
        from tokenizers import Tokenizer

        from index.embed import fingerprint_model_dir
        from index.onnx_encoder import _OpenVinoSession, _usable_cpus, cached_onnx_model, openvino_has_bfloat16

        model_dir = Path(model_dir)
        if not (model_dir / "config.json").is_file():
            raise RuntimeError(f"no reranker in {model_dir}: run 'protocol-qa train', or set "
                               "PROTOCOL_QA_RERANK=off to answer without one")
        self.model_dir = model_dir
        self.fingerprint = fingerprint_model_dir(model_dir)
        self.batch_overhead = BATCH_OVERHEAD
        self.precision = resolved_precision(precision or rerank_precision(), openvino_has_bfloat16())
        self.width_step = BF16_WIDTH_STEP if self.precision == "bf16" else 1
        path = cached_onnx_model(model_dir, self.fingerprint, quantize=self.precision == "int8",
                                 cache_dir=cache_dir, head="score")
        self._tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(MAX_LENGTH, strategy="only_second")
        # Every usable core: ten pairs take 37 ms on OpenVINO with two threads against 65 ms with one.
        threads = threads or _usable_cpus()
        if self.precision == "bf16":
            self._session = _OpenVinoSession(path, threads)
        else:
            import onnxruntime as ort

            options = ort.SessionOptions()
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
            self._session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def scores(self, question: str, texts: Sequence[str], *, alone: bool = False) -> np.ndarray:
        """The probability that each of ``texts`` answers ``question``; with ``alone``, each the
        same whatever is read beside it (see :meth:`batches`)."""
        if not texts:
            return np.zeros(0, dtype=np.float32)
        # One pair after another: encode_batch hands a few pairs to a thread pool, which then waits
        # on the cores ONNX Runtime's threads spin on (2.2 ms a call on average inside a comparison,
        # where a question alone takes 0.02-0.03 ms: docs/performance.md, "sixteenth round").
        encodings = [self._tokenizer.encode(question, text) for text in texts]
        probabilities = np.zeros(len(texts), dtype=np.float32)
        for batch in self.batches([len(e.ids) for e in encodings], alone=alone):
            probabilities[batch] = self._run([encodings[row] for row in batch])
        return probabilities

    def batches(self, lengths: Sequence[int], *, alone: bool = False) -> list[list[int]]:
        """The pairs read together: pairs of like length (:func:`length_batches`). int8 weights
        quantize each call's activations with one scale for the whole batch, so a pair read beside
        others scored up to 0.09 away from the same pair read alone (0.015 on average over the
        development comparisons): with ``alone``, int8 reads each pair on its own, its reading then
        the same whatever is read beside it (a comparison of chosen councils reads its councils'
        clauses so, and decides as one of all; on a 2-core AVX2 CPU no slower: docs/performance.md,
        "fifteenth round"). Float32 and bfloat16 read alike in any batch."""
        if alone and self.precision == "int8":
            return [[row] for row in range(len(lengths))]
        return length_batches(lengths, self.batch_overhead)

    def _run(self, encodings) -> np.ndarray:
        width = padded_width(max(len(e.ids) for e in encodings), self.width_step)
        ids = np.zeros((len(encodings), width), dtype=np.int64)
        mask = np.zeros_like(ids)
        segments = np.zeros_like(ids)
        for row, e in enumerate(encodings):
            ids[row, :len(e.ids)] = e.ids
            mask[row, :len(e.ids)] = 1
            segments[row, :len(e.ids)] = e.type_ids
        logits = self._session.run(None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": segments})[0]
        return (1.0 / (1.0 + np.exp(-np.asarray(logits, dtype=np.float64).reshape(-1)))).astype(np.float32)


def padded_width(longest: int, step: int) -> int:
    """The width a batch whose longest pair has ``longest`` word pieces is read at: rounded up to
    a multiple of ``step`` (1: exactly ``longest``), never past :data:`MAX_LENGTH` but when
    ``longest`` is."""
    return max(longest, min(MAX_LENGTH, -(-longest // step) * step))


def rerank_enabled(environ=None) -> bool:
    """``PROTOCOL_QA_RERANK`` (on by default; ``off`` answers from the fused order alone)."""
    raw = ((environ if environ is not None else os.environ).get("PROTOCOL_QA_RERANK") or "on").strip().lower()
    if raw in ("1", "on", "true", "yes"):
        return True
    if raw in ("0", "off", "false", "no"):
        return False
    raise ValueError(f"PROTOCOL_QA_RERANK must be on or off, got {raw!r}")


def trained_encoder(model_dir: Path) -> str:
    """The fingerprint of the encoder whose candidates the reranker in ``model_dir`` was
    trained to reorder (its ``training.json``), or "" when it records none."""
    return _training_record(model_dir).get("encoder", "")


def served_encoders(model_dir: Path) -> tuple[str, ...]:
    """The encoders the reranker in ``model_dir`` reorders the candidates of: the one it
    was trained with and those its ``training.json`` lists under ``serves`` (encoders
    trained further from that one by the encoder's second pass, qa.train), or () when
    it records none."""
    record = _training_record(model_dir)
    return tuple(e for e in [record.get("encoder", ""), *record.get("serves", [])] if e)


def _training_record(model_dir: Path) -> dict:
    try:
        return json.loads((Path(model_dir) / "training.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def load_reranker(model_dir: Path = RERANKER_DIR, *, encoder: str = "", precision: str | None = None) -> Reranker | None:
    """The project's reranker, or None when it has none, it is turned off, or it
    serves encoders other than ``encoder`` (:func:`served_encoders`). ``precision``
    overrides ``PROTOCOL_QA_RERANK_PRECISION`` (:func:`rerank_precision`)."""
    model_dir = Path(model_dir)
    if not rerank_enabled() or not (model_dir / "config.json").is_file():
        return None
    served = served_encoders(model_dir)
    if encoder and served and encoder not in served:
        log.info("reranker in %s serves encoder(s) %s, not %s: not used", model_dir, ", ".join(served), encoder)
        return None
    return _shared_reranker(model_dir.resolve(), precision or rerank_precision())


@lru_cache(maxsize=4)
def _shared_reranker(model_dir: Path, precision: str = "auto") -> Reranker:
    """One compiled reranker per model folder and precision, shared by every answerer
    of the process (it holds no per-question state): an answerer is built again after
    each new index version, and compiling the model takes about a second."""
    return Reranker(model_dir, precision=precision)


def main() -> None:
    """``python -m qa.rerank``: export the reranker to ONNX now (``make install`` does)."""
    reranker = load_reranker()
    print(reranker.model_dir if reranker is not None else "no reranker to export")


if __name__ == "__main__":
    main()
