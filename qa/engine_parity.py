"""Whether two index engines give the same answers: ``python -m qa.engine_parity A B QUESTIONS...``.

A and B are ``--index`` values (a folder, ``milvus-lite://PATH.db``, ``milvus://HOST:PORT``)
holding the same corpus. Every question is asked of both with the same encoder and
pipeline (top 10) and compared; so is every comparison. Prints one JSON object: how
many questions gave the same ten passage ids in the same order, the same decision
(answered or not), the same comparison entries, and each engine's scores (success@5,
MRR, coverage). docs/milvus.md records its output on the development questions.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from index.location import is_uri

from .compare import compare
from .config import Settings
from .evaluate import load_questions, score_answers, score_comparisons
from .service import open_answerer

__all__ = ["parity", "main"]


def _settings(index: str) -> Settings:
    base = Settings.from_env()
    return replace(base, index_uri=index) if is_uri(index) else replace(base, index_dir=Path(index), index_uri="")


def _run(answerer, questions) -> tuple[list[dict], list[dict], float]:
    start = time.perf_counter()
    answers = [answerer.ask(q.question, top_k=10).to_dict() for q in questions]
    comparisons = [compare(answerer, q.question).to_dict() for q in questions]
    return answers, comparisons, time.perf_counter() - start


def _comparison_key(comparison: dict) -> list:
    return [(entry["authority"], entry["found"], [r["id"] for r in entry["results"]])
            for entry in comparison["authorities"]]


def parity(first: str, second: str, questions_files: Sequence[Path], *, embedder=None) -> dict:
    """Ask the questions of ``questions_files`` of both indexes and say how their answers differ."""
    questions = [question for path in questions_files for question in load_questions(path)]
    one = open_answerer(_settings(first), embedder=embedder)
    two = open_answerer(_settings(second), embedder=embedder or one.embedder)
    answers_a, comparisons_a, seconds_a = _run(one, questions)
    answers_b, comparisons_b, seconds_b = _run(two, questions)
    differing = []
    same_top10 = same_decision = same_comparison = 0
    for question, a, b, ca, cb in zip(questions, answers_a, answers_b, comparisons_a, comparisons_b):
        ids_a, ids_b = [r["id"] for r in a["results"]], [r["id"] for r in b["results"]]
        same_top10 += ids_a == ids_b
        same_decision += a["answered"] == b["answered"]
        same_comparison += _comparison_key(ca) == _comparison_key(cb)
        if ids_a != ids_b or a["answered"] != b["answered"] or _comparison_key(ca) != _comparison_key(cb):
            differing.append(question.id)
    return {
        "questions": len(questions), "same_top10": same_top10, "same_decision": same_decision,
        "same_comparison": same_comparison, "differing": differing,
        first: {"ask": score_answers(questions, answers_a).to_dict() | {"misses": None},
                "compare": score_comparisons(questions, comparisons_a).to_dict() | {"misses": None},
                "seconds": round(seconds_a, 2)},
        second: {"ask": score_answers(questions, answers_b).to_dict() | {"misses": None},
                 "compare": score_comparisons(questions, comparisons_b).to_dict() | {"misses": None},
                 "seconds": round(seconds_b, 2)},
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m qa.engine_parity", description=__doc__.split("\n")[0])
    parser.add_argument("first", help="an --index value (folder or Milvus URI)")
    parser.add_argument("second", help="another --index value holding the same corpus")
    parser.add_argument("questions", type=Path, nargs="+", help="question files (JSON Lines, eval/README.md)")
    args = parser.parse_args(argv)
    print(json.dumps(parity(args.first, args.second, args.questions), indent=1))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
