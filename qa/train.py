"""``protocol-qa train``: domain-adapt the sentence encoder on the writers' labelled questions.

The encoder starts from the packaged all-MiniLM-L6-v2 and is fine-tuned with
sentence-transformers' ``MultipleNegativesRankingLoss`` (in-batch negatives,
van den Oord et al. 2018's InfoNCE as used by Henderson et al. 2017) on
(question, answering passage, mined hard negative) triplets:

- positives are the passages that match a question's labels (see
  :mod:`qa.training_data`), as the index embeds them (heading path and clause);
- a hard negative is drawn, with a fixed seed, from the base model's own
  ranks ``HARD_NEGATIVE_RANKS`` for the question, leaving out the question's
  positives and every near copy of them (other councils' versions of the same
  clause, which a writer may have missed and which would teach the model to
  push a right answer away);
- the batch sampler never puts one passage twice in a batch, for the same reason.

A second pass (``SECOND_PASS``) goes on from that encoder with the ``train``
writers marked ``encoder_pass = 2`` in ``training/writers.toml`` (writers who
joined after the first pass, once their calibration use was over), negatives
mined by the first pass's encoder.

Only ``train`` writers are used; ``validation`` writers choose between runs
(``protocol-qa eval``), ``test`` writers are never seen. The result is written
to ``models/encoder`` in half precision (the weights of a 22-million-parameter
model in 45 MB; vectors within cosine 0.9999 of float32), with the
tokenizer and configuration the loaders need.
"""

from __future__ import annotations

import json
import logging
import os
import random
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ingest.passage import Passage

from .config import PROJECT_ROOT
from .evaluate import normalise
from .training_data import TRAINING_DIR, LabelledQuestion, label_writers, load_writers, training_passages

log = logging.getLogger(__name__)

MODELS_DIR = PROJECT_ROOT / "models"
ENCODER_DIR = MODELS_DIR / "encoder"

# Ranks of the base model's ranking a hard negative is drawn from: below the
# first few (where an unlabelled answer is likeliest), above the tail (too easy).
HARD_NEGATIVE_RANKS = (3, 30)
# Word overlap (Jaccard, normalised words) above which a passage counts as a
# copy of a positive and is never used as a negative.
COPY_OVERLAP = 0.5
# At most this many positives per question, so that a clause copied in five
# councils does not weigh five times as much as a clause found in one.
MAX_POSITIVES = 3


def _fast_bfloat16() -> bool:
    from index.embed import cpu_has_fast_bfloat16

    return cpu_has_fast_bfloat16()


@dataclass(frozen=True)
class EncoderTraining:
    """Settings of one fine-tuning run (the defaults trained the committed encoder;
    docs/learning.md gives its figures)."""

    epochs: int = 2
    batch_size: int = 32
    learning_rate: float = 3e-5
    warmup_ratio: float = 0.1
    # Training reads the first 128 word pieces of a passage (serving reads 256):
    # with bfloat16 that trains 12.5 triplets/s against 2.4 at 256 in float32
    # on the 2-core machine, measured on 96 triplets.
    max_seq_length: int = 128
    seed: int = 13
    bf16: bool = field(default_factory=_fast_bfloat16)

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 2:
            raise ValueError(f"epochs must be >= 1 and batch_size >= 2, got {self.epochs} and {self.batch_size}")


# The encoder's second pass: one epoch more at a lower learning rate over the first
# pass's encoder (docs/learning.md, "Seventeenth round": on the validation writers
# w06+w07, ranking alone went from success@1 0.834 to 0.857).
SECOND_PASS = EncoderTraining(epochs=1, learning_rate=2e-5)


@dataclass(frozen=True)
class Triplet:
    question: str
    positive: str
    negative: str


def _words(text: str) -> frozenset[str]:
    return frozenset(normalise(text).split())


def _overlap(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / len(a | b) if a and b else 0.0


def _nearest(questions: Sequence[str], texts: Sequence[str], embedder, depth: int) -> np.ndarray:
    """Each question's ``depth`` nearest passage positions by ``embedder``, nearest first."""
    passage_vectors = embedder.encode(list(texts), batch_size=64)
    question_vectors = embedder.encode(list(questions), batch_size=64)
    return np.argsort(-(question_vectors @ passage_vectors.T), axis=1)[:, :depth]


def _non_answers(candidates, positives: set[int], words: Sequence[frozenset[str]]) -> list[int]:
    """The candidates that are neither a positive nor a near copy of one (another
    council's version of the same clause, which a writer may have missed)."""
    return [int(p) for p in candidates if int(p) not in positives
            and all(_overlap(words[int(p)], words[q]) < COPY_OVERLAP for q in positives)]


def mine_triplets(labelled: Sequence[LabelledQuestion], passages: Sequence[Passage], embedder, *,
                  seed: int = 13, ranks: tuple[int, int] = HARD_NEGATIVE_RANKS) -> list[Triplet]:
    """(question, positive, hard negative) triplets for every answerable labelled question."""
    usable = [item for item in labelled if item.answerable and item.positives]
    if not usable:
        raise ValueError("no answerable question matches a passage: nothing to train on")
    texts = [p.retrieval_text for p in passages]
    words = [_words(p.text) for p in passages]
    order = _nearest([item.question.question for item in usable], texts, embedder, ranks[1])
    rng = random.Random(seed)
    triplets = []
    for item, ranking in zip(usable, order):
        pool = _non_answers(ranking[ranks[0]:], set(item.positives), words)
        chosen = list(item.positives)
        rng.shuffle(chosen)
        for positive in chosen[:MAX_POSITIVES]:
            negative = rng.choice(pool) if pool else rng.randrange(len(passages))
            triplets.append(Triplet(item.question.question, texts[positive], texts[negative]))
    rng.shuffle(triplets)
    return triplets


def _start_training(base_dir: Path | None, seed: int) -> Path:
    """Offline, seeded, and the base model's folder (the packaged model unless given)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("WANDB_DISABLED", "true")
    import torch

    from index.compact_model import ensure_weights
    from index.embed import packaged_model_dir

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    return ensure_weights(Path(base_dir)) if base_dir else packaged_model_dir()


def train_encoder(triplets: Sequence[Triplet], destination: Path, settings: EncoderTraining = EncoderTraining(),
                  *, base_dir: Path | None = None) -> dict:
    """Fine-tune the base encoder on ``triplets`` and save it to ``destination``; returns a summary."""
    base_dir = _start_training(base_dir, settings.seed)
    from datasets import Dataset
    from sentence_transformers import (SentenceTransformer, SentenceTransformerTrainer,
                                       SentenceTransformerTrainingArguments)
    from sentence_transformers.losses import MultipleNegativesRankingLoss
    from sentence_transformers.training_args import BatchSamplers

    model = SentenceTransformer(str(base_dir), device="cpu", local_files_only=True)
    model.max_seq_length = settings.max_seq_length
    dataset = Dataset.from_dict({
        "anchor": [t.question for t in triplets],
        "positive": [t.positive for t in triplets],
        "negative": [t.negative for t in triplets],
    })
    work = destination.parent / f".{destination.name}-work"
    args = SentenceTransformerTrainingArguments(
        output_dir=str(work), num_train_epochs=settings.epochs,
        per_device_train_batch_size=settings.batch_size, learning_rate=settings.learning_rate,
        warmup_ratio=settings.warmup_ratio, seed=settings.seed, data_seed=settings.seed,
        batch_sampler=BatchSamplers.NO_DUPLICATES, save_strategy="no", logging_steps=20,
        report_to=[], use_cpu=True, dataloader_num_workers=0, bf16=settings.bf16,
    )
    trainer = SentenceTransformerTrainer(model=model, args=args, train_dataset=dataset,
                                         loss=MultipleNegativesRankingLoss(model))
    start = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - start
    save_half_precision(model, destination)
    shutil.rmtree(work, ignore_errors=True)
    # Stored as its difference from the packaged model (index.compact_model), and served, mined with
    # and fitted over as rebuilt from that difference: what a fresh clone of the repository serves.
    from index.compact_model import DELTA_FILE, compact_in_place

    compact_in_place(destination)
    summary = {"triplets": len(triplets), "seconds": round(seconds, 1),
               "stored_bytes": (destination / DELTA_FILE).stat().st_size, **settings.__dict__}
    (destination / "training.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return summary


RERANKER_DIR = MODELS_DIR / "reranker"
# Negatives per positive for the reranker: the new encoder's best-ranked
# non-answers among its first 30 (copies of a positive left out, as for the encoder).
RERANK_NEGATIVES = 3
# Nearest clauses of each off-topic (``none``) question, all negatives.
OFF_TOPIC_NEGATIVES = 3


@dataclass(frozen=True)
class RerankerTraining:
    """Settings of one cross-encoder run."""

    epochs: int = 1
    batch_size: int = 32
    learning_rate: float = 5e-5
    warmup_ratio: float = 0.1
    max_length: int = 192
    seed: int = 13
    bf16: bool = field(default_factory=_fast_bfloat16)


@dataclass(frozen=True)
class RerankPair:
    question: str
    passage: str
    label: float


def mine_rerank_pairs(labelled: Sequence[LabelledQuestion], passages: Sequence[Passage], embedder, *,
                      seed: int = 13, negatives: int = RERANK_NEGATIVES,
                      ranks: tuple[int, int] = (0, 30)) -> list[RerankPair]:
    """(question, passage, 1 or 0) pairs: each positive, and ``negatives`` of the
    encoder's best-ranked non-answers per positive (never a copy of a positive);
    for an off-topic question, its :data:`OFF_TOPIC_NEGATIVES` nearest clauses."""
    usable = [item for item in labelled if item.positives or not item.answerable]
    texts = [p.retrieval_text for p in passages]
    words = [_words(p.text) for p in passages]
    order = _nearest([item.question.question for item in usable], texts, embedder, ranks[1])[:, ranks[0]:]
    rng = random.Random(seed)
    pairs = []
    for item, ranking in zip(usable, order):
        if not item.answerable:
            # An off-topic question's nearest clauses answer nothing: the reranker
            # learns that a shared word is not an answer, which abstention reads.
            pairs.extend(RerankPair(item.question.question, texts[int(p)], 0.0) for p in ranking[:OFF_TOPIC_NEGATIVES])
            continue
        pool = _non_answers(ranking, set(item.positives), words)
        chosen = list(item.positives)
        rng.shuffle(chosen)
        chosen = chosen[:MAX_POSITIVES]
        for positive in chosen:
            pairs.append(RerankPair(item.question.question, texts[positive], 1.0))
        # The encoder's best-ranked non-answers: the hardest ones.
        hard = pool[: negatives * len(chosen)]
        for negative in hard:
            pairs.append(RerankPair(item.question.question, texts[negative], 0.0))
    rng.shuffle(pairs)
    return pairs


def train_reranker(pairs: Sequence[RerankPair], destination: Path,
                   settings: RerankerTraining = RerankerTraining(), *, base_dir: Path | None = None,
                   encoder: str = "", serves: Sequence[str] = ()) -> dict:
    """Train a cross-encoder from the base model's transformer on ``pairs``; save it to ``destination``."""
    base_dir = _start_training(base_dir, settings.seed)
    import torch
    from sentence_transformers.cross_encoder import CrossEncoder
    from sentence_transformers.cross_encoder.losses import BinaryCrossEntropyLoss

    model = CrossEncoder(str(base_dir), num_labels=1, max_length=settings.max_length, device="cpu",
                         local_files_only=True)
    positives = sum(1 for p in pairs if p.label > 0)
    loss = BinaryCrossEntropyLoss(model, pos_weight=torch.tensor((len(pairs) - positives) / max(positives, 1)))
    seconds = _fit_cross_encoder(model, loss, pairs, [p.label for p in pairs], destination, settings,
                                 logging_steps=20, bf16=settings.bf16)
    # ``encoder``: the fingerprint of the encoder whose candidates it was trained
    # to reorder; ``serves``: encoders trained further from that one (the second
    # pass). qa.rerank.load_reranker uses it with those encoders only.
    summary = {"pairs": len(pairs), "positives": positives, "seconds": round(seconds, 1), "encoder": encoder,
               "serves": list(serves), **settings.__dict__}
    (destination / "training.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return summary


def _fit_cross_encoder(model, loss, pairs: Sequence[RerankPair], labels: Sequence[float], destination: Path,
                       settings, **arguments) -> float:
    """Train ``model`` with ``loss`` to give ``labels`` on ``pairs`` (``settings``: epochs, batch
    size, learning rate, warm-up, seed; ``arguments``: more training arguments), save it in
    half precision to ``destination`` and return the training's seconds."""
    from datasets import Dataset
    from sentence_transformers.cross_encoder import CrossEncoderTrainer, CrossEncoderTrainingArguments

    dataset = Dataset.from_dict({"question": [p.question for p in pairs], "passage": [p.passage for p in pairs],
                                 "label": [float(x) for x in labels]})
    work = destination.parent / f".{destination.name}-work"
    args = CrossEncoderTrainingArguments(
        output_dir=str(work), num_train_epochs=settings.epochs,
        per_device_train_batch_size=settings.batch_size, learning_rate=settings.learning_rate,
        warmup_ratio=settings.warmup_ratio, seed=settings.seed, data_seed=settings.seed,
        save_strategy="no", report_to=[], use_cpu=True, dataloader_num_workers=0, **arguments,
    )
    trainer = CrossEncoderTrainer(model=model, args=args, train_dataset=dataset, loss=loss)
    start = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - start
    save_half_precision(model, destination)
    shutil.rmtree(work, ignore_errors=True)
    return seconds


def save_half_precision(model, destination: Path) -> None:
    """Save a SentenceTransformer with float16 weights (loaders upcast to float32)."""
    tmp = destination.parent / f".{destination.name}-new"
    shutil.rmtree(tmp, ignore_errors=True)
    model.save(str(tmp))
    from safetensors.torch import load_file, save_file

    for weights in tmp.rglob("*.safetensors"):
        tensors = {name: t.half() if t.is_floating_point() else t for name, t in load_file(str(weights)).items()}
        save_file(tensors, str(weights), metadata={"format": "pt"})
    for junk in ("README.md",):
        (tmp / junk).unlink(missing_ok=True)
    shutil.rmtree(destination, ignore_errors=True)
    os.replace(tmp, destination)


TEACHER_DIR = MODELS_DIR / "reranker-teacher"


@dataclass(frozen=True)
class Distillation:
    """Settings of the reranker's distillation: a student of some of the teacher's
    transformer layers learns the teacher's logits (mean squared error) on the
    teacher's own training pairs.

    Every other layer (0, 2, 4 of six, as DistilBERT was initialised): validation pairs'
    right clause scored first 0.721 against the teacher's 0.745, where the first two
    layers reached 0.417 (docs/learning.md, tenth and twelfth rounds). With
    ``freeze_embeddings`` the student keeps the teacher's word embeddings unchanged."""

    layers: tuple[int, ...] = (0, 2, 4)
    freeze_embeddings: bool = True
    epochs: int = 2
    batch_size: int = 32
    learning_rate: float = 1e-4
    warmup_ratio: float = 0.1
    max_length: int = 192
    seed: int = 13


def length_batch_sampler(pool: int = 64):
    """A sentence-transformers batch sampler class whose batches hold pairs of like length.

    Random batches of 32 pairs are padded to their longest pair, nearly the
    192-word-piece limit, while a pair averages about 100: on two cores a step of
    the two-layer student took 3 s. Shuffled pairs are cut into pools of ``pool``
    batches, each pool sorted by length and cut into batches, and the batches
    shuffled: every pair once an epoch, in a seeded order."""
    import torch
    from sentence_transformers.base.sampler import DefaultBatchSampler

    class LengthBatchSampler(DefaultBatchSampler):
        def __init__(self, dataset, batch_size, drop_last, valid_label_columns=None, generator=None, seed=0):
            super().__init__(dataset, batch_size=batch_size, drop_last=drop_last,
                             valid_label_columns=valid_label_columns, generator=generator, seed=seed)
            self.lengths = [len(q) + len(p) for q, p in zip(dataset["question"], dataset["passage"])]

        def _batches(self) -> list[list[int]]:
            generator = torch.Generator()
            generator.manual_seed(self.seed + getattr(self, "epoch", 0))
            order = torch.randperm(len(self.lengths), generator=generator).tolist()
            size = self.batch_size * pool
            batches = []
            for start in range(0, len(order), size):
                part = sorted(order[start:start + size], key=self.lengths.__getitem__)
                batches += [part[i:i + self.batch_size] for i in range(0, len(part), self.batch_size)]
            if self.drop_last:
                batches = [b for b in batches if len(b) == self.batch_size]
            return [batches[i] for i in torch.randperm(len(batches), generator=generator).tolist()]

        def __iter__(self):
            yield from self._batches()

        def __len__(self) -> int:
            return len(self._batches())

    return LengthBatchSampler


def teacher_logits(pairs: Sequence[RerankPair], teacher_dir: Path, *, max_length: int = 192,
                   batch_size: int = 64) -> np.ndarray:
    """The teacher's logit for each pair, in float32 on the CPU."""
    import torch
    from sentence_transformers.cross_encoder import CrossEncoder

    teacher = CrossEncoder(str(teacher_dir), max_length=max_length, device="cpu", local_files_only=True)
    logits = teacher.predict([(p.question, p.passage) for p in pairs], batch_size=batch_size,
                             activation_fn=torch.nn.Identity(), show_progress_bar=False)
    return np.asarray(logits, dtype=np.float32)


def distil_reranker(pairs: Sequence[RerankPair], logits: Sequence[float], teacher_dir: Path, destination: Path,
                    settings: Distillation = Distillation()) -> dict:
    """Train a student of the teacher's first ``settings.layers`` layers (and its
    embeddings and head) to give the teacher's ``logits`` on ``pairs``; save it to
    ``destination`` with the teacher's record of its encoder."""
    if len(pairs) != len(logits):
        raise ValueError(f"{len(pairs)} pairs but {len(logits)} teacher logits")
    teacher_dir = _start_training(teacher_dir, settings.seed)
    import torch
    from sentence_transformers.cross_encoder import CrossEncoder
    from sentence_transformers.cross_encoder.losses import MSELoss

    from .rerank import served_encoders, trained_encoder
    model = CrossEncoder(str(teacher_dir), num_labels=1, max_length=settings.max_length, device="cpu",
                         local_files_only=True)
    transformer = model[0].model
    layers = transformer.base_model.encoder.layer
    kept = list(settings.layers)
    if not kept or kept != sorted(set(kept)) or not all(0 <= i < len(layers) for i in kept):
        raise ValueError(f"the student keeps some of the teacher's layers 0 to {len(layers) - 1}, "
                         f"each once and in order, not {settings.layers}")
    transformer.base_model.encoder.layer = torch.nn.ModuleList(layers[i] for i in kept)
    transformer.config.num_hidden_layers = len(kept)
    if settings.freeze_embeddings:
        for parameter in transformer.base_model.embeddings.parameters():
            parameter.requires_grad = False
    seconds = _fit_cross_encoder(model, MSELoss(model), pairs, logits, destination, settings,
                                 logging_steps=50, batch_sampler=length_batch_sampler())
    summary = {"pairs": len(pairs), "seconds": round(seconds, 1), "encoder": trained_encoder(teacher_dir),
               "serves": list(served_encoders(teacher_dir)[1:]), "teacher": teacher_dir.name, **settings.__dict__}
    (destination / "training.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return summary


STAGES = ("encoder", "reranker", "distil", "decisions")
# The first pass's encoder, when a second pass follows: the reranker's negatives are
# mined by it. Built by ``protocol-qa train``, never committed (.gitignore).
FIRST_PASS_DIR = MODELS_DIR / "encoder-first-pass"
# Part of ``decisions`` run on its own: the comparison decision alone, over the scope model already fitted.
PARTS = ("comparison",)


def run_training(*, models_dir: Path = MODELS_DIR, stages: Sequence[str] = STAGES,
                 encoder_settings: EncoderTraining = EncoderTraining(),
                 second_pass: EncoderTraining = SECOND_PASS,
                 reranker_settings: RerankerTraining = RerankerTraining(),
                 distil_settings: Distillation = Distillation(),
                 writers_dir: Path | None = None, progress=print, extra_questions: Sequence = ()) -> dict:
    """The whole of ``protocol-qa train``, stage by stage (each reads what the one before wrote):

    1. ``encoder``: fine-tune all-MiniLM-L6-v2 on the ``train`` writers of the first pass (negatives
       mined by the packaged model); then, when some writers are marked ``encoder_pass = 2``, go on
       from that encoder with ``second_pass`` settings on theirs (negatives mined by the first
       pass's encoder, kept in ``models/encoder-first-pass``);
    2. ``reranker``: train the cross-encoder (the teacher, ``models/reranker-teacher``) on the first
       pass's questions, negatives mined by the first pass's encoder (the new encoder when there
       was no second pass, or when ``models/encoder-first-pass`` is gone);
    3. ``distil``: train the reranker the product runs (``models/reranker``), a student of the
       teacher's first layers, on the teacher's logits for the same pairs;
    4. ``decisions``: fit the abstention and comparison decisions on the ``calibration``
       writers, over an index of the training documents built with the new encoder.
    """
    from index.embed import fingerprint_model_dir, load_embedder, packaged_model_dir

    unknown = set(stages) - set(STAGES) - set(PARTS)
    if unknown:
        raise ValueError(f"unknown training stage(s) {sorted(unknown)}; choose from {', '.join(STAGES + PARTS)}")
    kwargs = {"directory": writers_dir} if writers_dir else {}
    writers = load_writers(splits=("train",), **kwargs)
    if not writers:
        raise ValueError("training/writers.toml names no writer in the 'train' split")
    # The Monitoring Officer's record: confirmed questions (protocol-qa train --from-record).
    # They train the encoder when it is retrained; otherwise they join the decisions'
    # calibration questions, which must be questions the encoder never saw.
    record_trains_encoder = bool(extra_questions) and "encoder" in stages
    if record_trains_encoder:
        from .training_data import WriterSet

        writers.append(WriterSet("record", "train", "confirmed questions of the record", Path("record"),
                                 tuple(extra_questions)))
    passages = training_passages()
    labelled = label_writers(writers, passages)
    passes = {w.writer: w.encoder_pass for w in writers}
    first = [item for item in labelled if passes[item.writer] == 1]
    second = [item for item in labelled if passes[item.writer] == 2]
    encoder_dir, reranker_dir = models_dir / "encoder", models_dir / "reranker"
    first_pass_dir = models_dir / FIRST_PASS_DIR.name
    teacher_dir = models_dir / TEACHER_DIR.name
    summary: dict = {"writers": [w.writer for w in writers],
                     "questions": sum(1 for item in labelled if item.answerable and item.positives)}
    if "encoder" in stages:
        base = load_embedder("onnx", purpose="passages", model_dir=packaged_model_dir())
        triplets = mine_triplets(first, passages, base, seed=encoder_settings.seed)
        first_writers = [w.writer for w in writers if w.encoder_pass == 1]
        progress(f"encoder: {len(triplets)} triplets (writers {', '.join(first_writers)})")
        destination = first_pass_dir if second else encoder_dir
        summary["encoder"] = train_encoder(triplets, destination, encoder_settings)
        progress(f"encoder: trained in {summary['encoder']['seconds']:.0f} s, written to {destination}")
        if second:
            miner = load_embedder("onnx", purpose="passages", model_dir=first_pass_dir)
            triplets = mine_triplets(second, passages, miner, seed=second_pass.seed)
            progress(f"encoder, second pass: {len(triplets)} triplets (writers "
                     f"{', '.join(w.writer for w in writers if w.encoder_pass == 2)})")
            summary["encoder_second_pass"] = train_encoder(triplets, encoder_dir, second_pass,
                                                           base_dir=first_pass_dir)
            progress(f"encoder, second pass: trained in {summary['encoder_second_pass']['seconds']:.0f} s, "
                     f"written to {encoder_dir}")
    if not set(stages) & {"reranker", "distil", "decisions", "comparison"}:
        return summary
    encoder = load_embedder("onnx", purpose="passages", model_dir=encoder_dir)
    if "reranker" in stages or "distil" in stages:
        # The reranker learns to reorder the first pass's candidates and serves the
        # second pass's encoder too (its training.json says so; qa.rerank.served_encoders).
        mining_dir = first_pass_dir if second and (first_pass_dir / "config.json").is_file() else encoder_dir
        miner = encoder if mining_dir == encoder_dir else load_embedder("onnx", purpose="passages",
                                                                          model_dir=mining_dir)
        pairs = mine_rerank_pairs(first, passages, miner, seed=reranker_settings.seed)
        progress(f"reranker: {len(pairs)} pairs (negatives mined by {mining_dir})")
    if "reranker" in stages:
        serves = [fingerprint_model_dir(encoder_dir)] if mining_dir != encoder_dir else []
        summary["reranker"] = train_reranker(pairs, teacher_dir, reranker_settings,
                                             encoder=fingerprint_model_dir(mining_dir), serves=serves)
        progress(f"reranker: trained in {summary['reranker']['seconds']:.0f} s, written to {teacher_dir}")
    if "distil" in stages:
        if not (teacher_dir / "config.json").is_file():
            raise ValueError(f"no teacher reranker in {teacher_dir} to distil: run 'protocol-qa train --stage reranker'")
        progress(f"distil: scoring {len(pairs)} pairs with the teacher in {teacher_dir}")
        logits = teacher_logits(pairs, teacher_dir, max_length=distil_settings.max_length)
        summary["distil"] = distil_reranker(pairs, logits, teacher_dir, reranker_dir, distil_settings)
        progress(f"distil: a {len(distil_settings.layers)}-layer student trained in {summary['distil']['seconds']:.0f} s, "
                 f"written to {reranker_dir}")
    if "decisions" in stages or "comparison" in stages:
        summary["decisions"] = fit_decisions(encoder, passages, models_dir=models_dir, reranker_dir=reranker_dir,
                                             writers_dir=writers_dir, progress=progress,
                                             extra_questions=() if record_trains_encoder else extra_questions,
                                             abstention="decisions" in stages)
    return summary


def fit_decisions(encoder, passages: Sequence[Passage], *, models_dir: Path = MODELS_DIR,
                  reranker_dir: Path | None = None, writers_dir: Path | None = None, progress=print,
                  extra_questions: Sequence = (), abstention: bool = True) -> dict:
    """Fit abstention (with the scope model it reads) and the comparison decision on the
    calibration writers (and ``extra_questions``: the record's confirmed questions, when the
    encoder did not train on them), over an index of ``passages`` built with ``encoder``
    (and its reranker, when trained). Without ``abstention``, only the comparison decision,
    over the scope model of ``models_dir``."""
    import tempfile

    from index.hybrid import HybridIndex
    from index.update import update_index

    from . import fit_abstention, fit_comparison
    from .abstain import WORDS_SCOPE_MODEL, load_scope_model, load_words_scope
    from .answer import Answerer
    from .rerank import Reranker

    kwargs = {"directory": writers_dir} if writers_dir else {}
    writers = load_writers(splits=("calibration",), **kwargs)
    if not writers:
        raise ValueError("training/writers.toml names no writer in the 'calibration' split")
    questions = [q for w in writers for q in w.questions] + list(extra_questions)
    names = [w.writer for w in writers] + (["record"] if extra_questions else [])
    with tempfile.TemporaryDirectory(prefix="protocol-qa-calibration-") as tmp:
        update_index([PROJECT_ROOT / "corpus", TRAINING_DIR / "documents"], Path(tmp) / "index", encoder,
                     progress=False)
        index = HybridIndex.load(Path(tmp) / "index", expected_model_fingerprint=encoder.fingerprint)
        reranker = Reranker(reranker_dir) if reranker_dir and (reranker_dir / "config.json").is_file() else None
        answerer = Answerer(index, encoder, abstention=None, reranker=reranker, profile="learned")
        fitted: dict = {}
        if abstention:
            train = [q for w in load_writers(splits=("train",), **kwargs) for q in w.questions]
            scope = fit_abstention.fit_scope(encoder, train)
            scope.save(models_dir / "scope.npz")
            answerer.scope = scope
            words = fit_abstention.fit_words_scope(train)
            words.save(models_dir / WORDS_SCOPE_MODEL.name)
            answerer.words_scope = words
            progress(f"scope: fitted on {len(train)} questions of the train writers (their vectors and their words)")
            examples = fit_abstention.labelled_examples(answerer, questions)
            model = fit_abstention.fit(examples, encoder=encoder.fingerprint)
            fitted = fit_abstention.summary(model, examples)
            fit_abstention.write_model(model, models_dir / "abstention.toml", names, fit_abstention.DEFAULT_C,
                                       fitted)
            progress(f"abstention: fitted on {fitted['answerable']} answerable and {fitted['off_topic']} off-topic "
                     f"questions of {', '.join(names)}")
        else:
            answerer.scope = load_scope_model(encoder.fingerprint, models_dir / "scope.npz")
            answerer.words_scope = load_words_scope(models_dir / WORDS_SCOPE_MODEL.name)
        comparisons = fit_comparison.labelled_examples(answerer, questions)
        scores = fit_comparison.held_out_scores(comparisons)
        threshold = fit_comparison.threshold_for(comparisons, scores)
        held_out = fit_comparison.summary(comparisons, [score >= threshold for score in scores])
        comparison = fit_comparison.fit_boosted(comparisons, encoder=encoder.fingerprint, threshold=threshold)
        fit_comparison.write_boosted(comparison, models_dir / "comparison.skops", names, held_out)
        progress(f"comparison: fitted on {held_out['addressing']} addressing and {held_out['silent']} silent councils")
    return {"abstention": fitted, "comparison": held_out}
