"""How often a verified interpretation is offered for a paraphrase, and wrongly for a near question.

Each pair of ``eval/record-pairs.jsonl`` (written by an independent writer) is a
question as first asked (``recorded``) and a later one (``asked``) that means
the same (``same: true``) or is close in words but has another answer.

The pairs are split in two by their recorded question (all pairs of one
recorded question fall on one side, :func:`split`): the ``tune`` part fits the
question matcher (:mod:`qa.question_match`) and chooses its threshold by
cross-validation within it; the ``held-out`` part is only measured. Each part
also pairs every later question with another recorded question of the same
part (``unrelated``), which must not match either.

    python -m qa.evaluate_record eval/record-pairs.jsonl --fit      # the [record_match] table, from tune
    python -m qa.evaluate_record eval/record-pairs.jsonl            # the shipped matcher on held-out
    python -m qa.evaluate_record eval/record-pairs.jsonl --index DIR --clause-rule   # the clause rule
    python -m qa.evaluate_record eval/record-rewordings.jsonl --whole   # the same questions slightly reworded
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from .config import Settings
from .evaluate import EvalQuestion, Expectation
from .record import MATCH_DEPTH, _numbers

PARTS = ("tune", "held-out")

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


def split(pairs: list[dict]) -> dict[str, list[dict]]:
    """``tune`` and ``held-out`` by a hash of the recorded question (stable, not chosen by hand), each
    pair labelled ``para`` or ``near``, plus one ``unrelated`` pair per pair: its later question against
    another recorded question of the same part (drawn with a fixed seed)."""
    import hashlib
    import random

    def part(question: str) -> str:
        return PARTS[int(hashlib.sha1(question.encode("utf-8")).hexdigest(), 16) % 2]

    out: dict[str, list[dict]] = {name: [] for name in PARTS}
    draw = random.Random(22)
    for name in PARTS:
        mine = [p for p in pairs if part(p["recorded"]) == name]
        recorded = sorted({p["recorded"] for p in mine})
        for pair in mine:
            out[name].append({**pair, "kind": "para" if pair["same"] else "near"})
            other = draw.choice([r for r in recorded if r != pair["recorded"]])
            out[name].append({"id": pair["id"] + "-u", "recorded": other, "asked": pair["asked"], "same": False,
                              "kind": "unrelated"})
    return out


def features(pairs: list[dict], embedder) -> np.ndarray:
    from .question_match import pair_features

    texts = sorted({t for p in pairs for t in (p["recorded"], p["asked"])})
    vectors = dict(zip(texts, np.asarray(embedder.encode(texts), dtype=np.float32)))
    return np.array([pair_features(float(vectors[p["recorded"]] @ vectors[p["asked"]]), p["asked"], p["recorded"])
                     for p in pairs])


def fit(tune: list[dict], embedder) -> dict:
    """Logistic weights fitted on ``tune``; the threshold maximises F1 of out-of-fold probabilities
    (five folds grouped by recorded question, so no fold sees its own recorded question)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GroupKFold, cross_val_predict

    x, y = features(tune, embedder), np.array([p["same"] for p in tune])
    groups = [p["recorded"] for p in tune]
    model = LogisticRegression(C=10.0, max_iter=1000)
    out_of_fold = cross_val_predict(model, x, y, groups=groups, cv=GroupKFold(5), method="predict_proba")[:, 1]
    best = max((_f1(out_of_fold >= t, y), -abs(t - 0.5), t) for t in np.arange(0.05, 0.96, 0.01))
    model.fit(x, y)
    return {"weights": [round(float(w), 4) for w in model.coef_[0]], "intercept": round(float(model.intercept_[0]), 4),
            "threshold": round(float(best[2]), 2), "encoder": embedder.fingerprint,
            "tune_out_of_fold_f1": round(best[0], 3)}


def _f1(predicted: np.ndarray, truth: np.ndarray) -> float:
    hits = int((predicted & truth).sum())
    return 2 * hits / max(1, int(predicted.sum()) + int(truth.sum()))


def measure_matcher(pairs: list[dict], matcher) -> dict:
    """Precision and recall of ``matcher`` (a :class:`qa.question_match.QuestionMatcher`) on ``pairs``,
    and the share of each kind matched."""
    scores = [matcher.scores(p["asked"], [p["recorded"]])[0] for p in pairs]
    matched = [s >= matcher.settings.threshold for s in scores]
    by_kind = {}
    for kind in ("para", "near", "unrelated"):
        mine = [m for m, p in zip(matched, pairs) if p["kind"] == kind]
        by_kind[kind] = {"pairs": len(mine), "matched": round(sum(mine) / max(1, len(mine)), 3)}
    true_positive = sum(m and p["same"] for m, p in zip(matched, pairs))
    from sklearn.metrics import roc_auc_score

    near_or_para = [(s, p["same"]) for s, p in zip(scores, pairs) if p["kind"] != "unrelated"]
    return {"threshold": matcher.settings.threshold, "kinds": by_kind,
            "precision": round(true_positive / max(1, sum(matched)), 3),
            "recall": round(true_positive / max(1, sum(p["same"] for p in pairs)), 3),
            "paraphrase_vs_near_auc": round(roc_auc_score([t for _s, t in near_or_para],
                                                          [s for s, _t in near_or_para]), 3)
            if len({t for _s, t in near_or_para}) == 2 else None}


def main(argv=None) -> int:
    from index.embed import load_embedder

    from .question_match import QuestionMatcher, load_match_settings

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("pairs", type=Path)
    parser.add_argument("--index", type=Path)
    parser.add_argument("--fit", action="store_true", help="print the [record_match] table fitted on the tune part")
    parser.add_argument("--part", choices=PARTS, default="held-out", help="the part to measure (default held-out)")
    parser.add_argument("--clause-rule", action="store_true", help="measure the clause rule instead (needs --index)")
    parser.add_argument("--whole", action="store_true",
                        help="measure every pair of the file, unsplit and without unrelated pairs "
                             "(eval/record-rewordings.jsonl)")
    args = parser.parse_args(argv)
    pairs = [json.loads(line) for line in args.pairs.read_text(encoding="utf-8").splitlines() if line.strip()]
    parts = split(pairs)
    if args.whole:
        parts[args.part] = [{**p, "kind": "para" if p["same"] else "near"} for p in pairs]
    if args.clause_rule:
        from .service import open_answerer

        answerer = open_answerer(Settings.from_env(index_dir=args.index))
        print(json.dumps(measure([p for p in parts[args.part] if p["kind"] != "unrelated"], answerer), indent=1))
        return 0
    embedder = load_embedder("auto", purpose="questions")
    if args.fit:
        print(json.dumps(fit(parts["tune"], embedder), indent=1))
        return 0
    settings = load_match_settings()
    if settings is None:
        raise SystemExit("qa/data/pipeline.toml has no [record_match] table; run with --fit and add it")
    print(json.dumps(measure_matcher(parts[args.part], QuestionMatcher(embedder, settings)), indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
