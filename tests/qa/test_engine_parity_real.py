"""The development questions over the default corpus, with the real models, give the same
answers from Milvus Lite as from the embedded index (docs/milvus.md, "Same ranking")."""

from pathlib import Path

import pytest

pytest.importorskip("pymilvus", reason="the milvus extra: pip install -c constraints.txt -e '.[milvus]'")

from index.embed import load_embedder  # noqa: E402
from index.location import parse_location  # noqa: E402
from index.milvus_index import MilvusIndex  # noqa: E402
from index.milvus_update import update_milvus  # noqa: E402
from qa.answer import Answerer  # noqa: E402
from qa.compare import compare  # noqa: E402
from qa.evaluate import load_questions, score_answers, score_comparisons  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
DEV = ROOT.parent / "shared" / "eval" / "dev_questions.jsonl"

pytestmark = [pytest.mark.slow, pytest.mark.milvus]


def test_development_questions_answer_the_same_on_both_engines(real_answerer, tmp_path):
    location = parse_location(f"milvus-lite://{tmp_path / 'index.db'}")
    update_milvus([ROOT / "corpus"], location, load_embedder("auto", purpose="passages"))
    milvus = Answerer(MilvusIndex.open(location, expected_model_fingerprint=real_answerer.embedder.fingerprint),
                      real_answerer.embedder)
    questions = load_questions(DEV)
    answers = {name: [a.ask(q.question, top_k=10).to_dict() for q in questions]
               for name, a in (("embedded", real_answerer), ("milvus", milvus))}
    comparisons = {name: [compare(a, q.question).to_dict() for q in questions]
                   for name, a in (("embedded", real_answerer), ("milvus", milvus))}
    for number, question in enumerate(questions):
        one, two = answers["embedded"][number], answers["milvus"][number]
        assert [r["id"] for r in one["results"]] == [r["id"] for r in two["results"]], question.id
        assert one["answered"] == two["answered"], question.id
        assert comparisons["embedded"][number] == comparisons["milvus"][number], question.id
    embedded, other = (score_answers(questions, answers[n]) for n in ("embedded", "milvus"))
    assert abs(embedded.success_at_5 - other.success_at_5) <= 0.01
    covered = [score_comparisons(questions, comparisons[n]).coverage for n in ("embedded", "milvus")]
    assert abs(covered[0] - covered[1]) <= 0.01
