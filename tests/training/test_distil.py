"""The reranker's distillation: a student of some of the teacher's layers learns its logits."""

import json
import shutil

import pytest

from qa.rerank import RERANKER_DIR
from qa.train import Distillation, RerankPair, distil_reranker

pytestmark = pytest.mark.skipif(not (RERANKER_DIR / "tokenizer.json").is_file(), reason="no reranker tokenizer")


@pytest.fixture()
def tiny_teacher(tmp_path):
    """A three-layer cross-encoder of width 32 with the reranker's tokenizer (random weights)."""
    from transformers import BertConfig, BertForSequenceClassification

    config = BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=3, num_attention_heads=2,
                        intermediate_size=64, num_labels=1)
    teacher = tmp_path / "teacher"
    BertForSequenceClassification(config).save_pretrained(teacher)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(RERANKER_DIR / name, teacher / name)
    (teacher / "training.json").write_text(json.dumps({"encoder": "abc123", "serves": ["def456"]}),
                                             encoding="utf-8")
    return teacher


PAIRS = [RerankPair(f"may a councillor accept gift {i}?",
                    "Gifts over £50 are registered." if i % 2 else "Bins are collected weekly.", float(i % 2))
         for i in range(24)]


def test_the_student_keeps_the_chosen_layers_learns_the_logits_and_records_its_teacher_s_encoder(
        tiny_teacher, tmp_path):
    import torch
    from safetensors.torch import load_file
    from sentence_transformers.cross_encoder import CrossEncoder

    logits = [4.0 if p.label else -4.0 for p in PAIRS]
    student = tmp_path / "student"
    before = CrossEncoder(str(tiny_teacher), device="cpu").predict([(p.question, p.passage) for p in PAIRS])
    summary = distil_reranker(PAIRS, logits, tiny_teacher, student,
                              Distillation(layers=(0, 2), epochs=30, batch_size=8, learning_rate=5e-3))
    config = json.loads((student / "config.json").read_text())
    assert config["num_hidden_layers"] == 2
    assert summary["layers"] == (0, 2) and summary["pairs"] == 24
    record = json.loads((student / "training.json").read_text())
    assert record["encoder"] == "abc123" and record["serves"] == ["def456"]
    teacher_weights = load_file(str(tiny_teacher / "model.safetensors"))
    student_weights = load_file(str(student / "model.safetensors"))
    # The teacher's third layer became the student's second; the word embeddings stayed frozen.
    name = "bert.encoder.layer.{}.attention.self.query.bias"
    assert student_weights[name.format(1)].shape == teacher_weights[name.format(2)].shape
    assert name.format(2) not in student_weights
    words = "bert.embeddings.word_embeddings.weight"
    assert torch.equal(student_weights[words].float(), teacher_weights[words].half().float())
    after = CrossEncoder(str(student), device="cpu").predict([(p.question, p.passage) for p in PAIRS])
    gap = lambda scores: (sum(s for s, p in zip(scores, PAIRS) if p.label)  # noqa: E731
                          - sum(s for s, p in zip(scores, PAIRS) if not p.label)) / 12
    # The teacher's random head barely separates the pairs; the student learnt the logits' split.
    assert gap(after) > gap(before) + 0.5


@pytest.mark.parametrize("layers", [(0, 3), (2, 1), (1, 1), ()])
def test_a_student_keeps_only_layers_the_teacher_has_each_once_in_order(tiny_teacher, tmp_path, layers):
    with pytest.raises(ValueError, match="layers 0 to 2, each once and in order"):
        distil_reranker(PAIRS, [0.0] * 24, tiny_teacher, tmp_path / "s", Distillation(layers=layers))


def test_every_pair_needs_a_teacher_logit(tiny_teacher, tmp_path):
    with pytest.raises(ValueError, match="24 pairs but 3 teacher logits"):
        distil_reranker(PAIRS, [0.0] * 3, tiny_teacher, tmp_path / "s")
