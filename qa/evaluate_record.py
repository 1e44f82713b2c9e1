"""How often a verified interpretation is offered for a paraphrase, and wrongly for a near question.

Each pair of ``eval/record-pairs.jsonl`` (written by an independent writer) is a
question as first asked (``recorded``) and a later one (``asked``) that means
the same (``same: true``) or is close in words but has another answer. The
interpretation is taken to rest on the recorded question's first answer, as a
Monitoring Officer verifying that answer would record it; the later question
then sees it or not by :meth:`qa.record.Record.matching`'s rule.

    python -m qa.evaluate_record eval/record-pairs.jsonl --index DIR
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from .config import Settings
from .evaluate import EvalQuestion, Expectation
from .record import MATCH_DEPTH, _numbers

SNIPPET_WORDS = 12  # words of a clause that identify it as the expected answer


def _snippet(text: str) -> str:
    return " ".join(text.split()[:SNIPPET_WORDS])


def record_questions(record, index) -> list[EvalQuestion]:
    """The record's labelled questions (``eval --from-record``, ``train --from-record``): each confirmed
    feedback item whose answering clause is known (the clause the user picked, or the answer they said
    answered them), and each current verified interpretation with its clauses."""
    out = []
    for item in record.confirmed_questions():
        passage_id = item["right_passage_id"] or (item["passage_id"] if item["verdict"] == "answered" else None)
        position = index.position_of(passage_id) if passage_id else None
        if item["view"] != "ask" or position is None:
            continue
        passage = index.passages[position]
        out.append(EvalQuestion(item["id"], item["question"], "single",
                                (Expectation(passage.authority, _snippet(passage.text)),)))
    for interpretation in record.interpretations(index):
        if interpretation.staleness.stale:
            continue
        expect = tuple(Expectation(c.authority, _snippet(c.text)) for c in interpretation.clauses)
        kind = "multi" if len({e.authority for e in expect}) > 1 else "single"
        out.append(EvalQuestion(interpretation.id, interpretation.question, kind, expect))
    return out


def measure(pairs: list[dict], answerer, depth: int = MATCH_DEPTH) -> dict:
    offered = {True: 0, False: 0}
    total = {True: 0, False: 0}
    for pair in pairs:
        first = answerer.ask(pair["recorded"], top_k=1).results
        later = [r.passage.id for r in answerer.ask(pair["asked"], top_k=depth).results]
        numbers_agree = not _numbers(pair["recorded"]) or not _numbers(pair["asked"]) or \
            _numbers(pair["recorded"]) == _numbers(pair["asked"])
        hit = bool(first) and first[0].passage.id in later and numbers_agree
        total[pair["same"]] += 1
        offered[pair["same"]] += hit
    return {"pairs": len(pairs), "paraphrases": total[True], "near_misses": total[False],
            "paraphrases_offered": round(offered[True] / max(1, total[True]), 3),
            "near_misses_offered": round(offered[False] / max(1, total[False]), 3)}


def main(argv=None) -> int:
    from .service import open_answerer

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("pairs", type=Path)
    parser.add_argument("--index", type=Path)
    args = parser.parse_args(argv)
    pairs = [json.loads(line) for line in args.pairs.read_text(encoding="utf-8").splitlines() if line.strip()]
    answerer = open_answerer(Settings.from_env(index_dir=args.index))
    print(json.dumps(measure(pairs, answerer), indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
