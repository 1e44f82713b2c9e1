"""The labelled questions that models are trained and judged on, split by writer.

Each writer's questions live in their own file under ``training/questions/``
(the evaluation file format: ``expect`` entries of authority and ``contains``),
with a sidecar note saying who wrote them, when and under what brief.
``training/writers.toml`` assigns every writer to one split:

- ``train``: the encoder (and the reranker) are fitted on these;
- ``calibration``: the decisions (abstention, comparison) are fitted on these,
  which the encoder never saw, so that its scores are as confident as on a new question;
- ``validation``: choices between models and settings are made on these;
- ``test``: written after the models were frozen, measured once, reported as measured.

Splitting by writer, never by shuffling questions, keeps one writer's
paraphrases of a clause from sitting on both sides of a split.

A ``train`` writer may carry ``encoder_pass = 2``: writers who joined the
``train`` split after the encoder was first trained. The encoder's second pass
trains on them alone, starting from the first pass's encoder (``qa.train``);
the reranker keeps to the first pass's writers.

Labels are tied to passages here: a question's positives are the passages
that *match* one of its expectations by the evaluation README's definition
(same authority, normalised text containing the normalised ``contains``). An
expectation that matches no passage is reported, never silently dropped.
"""

from __future__ import annotations

import logging
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ingest.passage import Passage

from .config import PROJECT_ROOT
from .evaluate import EvalQuestion, Expectation, load_questions, normalise

log = logging.getLogger(__name__)

TRAINING_DIR = PROJECT_ROOT / "training"
# feedback: the learning loop's writer, whose misses reach training only through the
# Monitoring Officer's record (protocol-qa train --from-record; docs/learning.md)
SPLITS = ("train", "calibration", "validation", "test", "feedback")
ENCODER_PASSES = (1, 2)


@dataclass(frozen=True)
class WriterSet:
    """One writer's questions and the split they belong to."""

    writer: str
    split: str
    role: str
    path: Path
    questions: tuple[EvalQuestion, ...]
    encoder_pass: int = 1


@dataclass(frozen=True)
class LabelledQuestion:
    """A question with the positions (in the passage list) of the passages that answer it."""

    question: EvalQuestion
    writer: str
    positives: tuple[int, ...]
    unmatched: tuple[Expectation, ...]

    @property
    def answerable(self) -> bool:
        return self.question.kind != "none"


def load_writers(directory: Path = TRAINING_DIR, *, splits: Sequence[str] = SPLITS) -> list[WriterSet]:
    """The writers of ``directory/writers.toml`` whose split is in ``splits``.

    Raises ``ValueError`` naming the writer for an unknown split or a missing file.
    """
    manifest = directory / "writers.toml"
    if not manifest.is_file():
        raise FileNotFoundError(f"no {manifest}: it lists each writer's question file and split")
    table = tomllib.loads(manifest.read_text(encoding="utf-8"))
    out = []
    for writer, entry in sorted(table.get("writer", {}).items()):
        split = entry.get("split", "")
        if split not in SPLITS:
            raise ValueError(f"{manifest}: writer {writer!r} has split {split!r}; use one of {', '.join(SPLITS)}")
        encoder_pass = entry.get("encoder_pass", 1)
        if encoder_pass not in ENCODER_PASSES or (encoder_pass != 1 and split != "train"):
            raise ValueError(f"{manifest}: writer {writer!r} has encoder_pass {encoder_pass!r}; "
                             f"use 1 or 2, and 2 only in the 'train' split")
        if split not in splits:
            continue
        path = directory / entry.get("file", f"questions/{writer}.jsonl")
        if not path.is_file():
            raise ValueError(f"{manifest}: writer {writer!r} names {path}, which does not exist")
        out.append(WriterSet(writer=writer, split=split, role=entry.get("role", ""), path=path,
                             questions=tuple(load_questions(path)), encoder_pass=encoder_pass))
    return out


def label(questions: Sequence[EvalQuestion], passages: Sequence[Passage], *, writer: str = "") -> list[LabelledQuestion]:
    """Tie each question's expectations to the passages that match them."""
    by_authority: dict[str, list[tuple[int, str]]] = {}
    for position, passage in enumerate(passages):
        by_authority.setdefault(passage.authority.lower(), []).append((position, normalise(passage.text)))
    out = []
    for question in questions:
        positives: list[int] = []
        unmatched = []
        for expectation in question.expect:
            wanted = normalise(expectation.contains)
            found = [position for position, text in by_authority.get(expectation.authority.lower(), [])
                     if wanted in text]
            if found:
                positives.extend(p for p in found if p not in positives)
            else:
                unmatched.append(expectation)
        out.append(LabelledQuestion(question=question, writer=writer, positives=tuple(positives),
                                    unmatched=tuple(unmatched)))
    return out


def label_writers(writers: Sequence[WriterSet], passages: Sequence[Passage]) -> list[LabelledQuestion]:
    """Every writer's questions labelled against ``passages``; unmatched expectations are logged."""
    out = []
    for writer in writers:
        labelled = label(writer.questions, passages, writer=writer.writer)
        missing = sum(len(item.unmatched) for item in labelled)
        if missing:
            log.warning("%s: %d expectation(s) match no passage and are left out", writer.writer, missing)
        out.extend(labelled)
    return out


def training_passages(folders: Sequence[Path] | None = None) -> list[Passage]:
    """The passages questions are labelled against: the default corpus and the
    training documents (real council files beside it), cut exactly as ``ingest`` cuts them."""
    from ingest.pipeline import ingest_files

    folders = list(folders) if folders else [PROJECT_ROOT / "corpus", TRAINING_DIR / "documents"]
    result = ingest_files([f for f in folders if f.exists()])
    for skipped in result.skipped:
        log.warning("training document %s skipped: %s", skipped.path, skipped.reason)
    return [p for document in result.documents for p in document.passages]
