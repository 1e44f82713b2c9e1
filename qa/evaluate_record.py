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
from .record import MATCH_DEPTH, _numbers


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
