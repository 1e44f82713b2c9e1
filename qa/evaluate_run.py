"""Running an evaluation: each fusion mode over a question file, as a table."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from .answer import Answerer
from .compare import compare
from .config import Settings
from .evaluate import load_questions, score_answers, score_comparisons
from .ranking import FusionMode

MODES = (FusionMode.LEXICAL, FusionMode.DENSE, FusionMode.RRF, FusionMode.CONVEX, FusionMode.BLEND)


def evaluate_answerer(answerer: Answerer, path, *, compare_too: bool = True, questions=None,
                      modes: Sequence[FusionMode] = MODES) -> dict:
    """Scores of each fusion mode of ``modes`` and of the answerer's own (always), and the
    comparison metrics of its own mode. ``questions``, when given, are scored instead of
    the file ``path`` (which then only names them)."""
    questions = load_questions(path) if questions is None else list(questions)
    rows = {}
    for mode in modes if answerer.mode in modes else (*modes, answerer.mode):
        variant = answerer.variant(mode=mode) if mode != answerer.mode else answerer
        answers = [variant.ask(q.question, top_k=10).to_dict() for q in questions]
        rows[mode.value] = score_answers(questions, answers).to_dict()
    report = {"file": str(path), "questions": len(questions), "modes": rows, "chosen": answerer.mode.value}
    if compare_too and any(q.kind == "multi" or q.silent for q in questions):
        comparisons = [compare(answerer, q.question).to_dict() for q in questions]
        report["compare"] = score_comparisons(questions, comparisons).to_dict()
    report["table"] = format_table(report)
    return report


def format_table(report: dict) -> str:
    header = f"{'ranking':<10}{'success@1':>11}{'success@5':>11}{'MRR@10':>9}{'abstain':>9}{'false abst.':>13}"
    lines = [f"{report['file']}: {report['questions']} questions", header, "-" * len(header)]
    for mode, s in report["modes"].items():
        label = mode + (" *" if mode == report["chosen"] else "")
        lines.append(f"{label:<10}{s['success_at_1']:>11.3f}{s['success_at_5']:>11.3f}{s['mrr_at_10']:>9.3f}"
                     f"{s['abstention_accuracy']:>9.3f}{s['false_abstention']:>13.3f}")
    lines.append("* the ranking protocol-qa uses")
    chosen = report["modes"][report["chosen"]]
    if chosen["misses"]:
        lines.append("misses (" + report["chosen"] + "): " + "; ".join(chosen["misses"]))
    if "compare" in report:
        c = report["compare"]
        lines.append(f"comparison coverage {c['coverage']:.3f} over {c['expected']} expected councils; "
                     f"false coverage {c['false_coverage']:.3f} over {c['silent']} silent councils")
        if c["misses"]:
            lines.append("comparison misses: " + "; ".join(c["misses"]))
    return "\n".join(lines)


def corpus_row(answerer: Answerer, label: str, questions, *, compare_too: bool = True) -> dict:
    """The scores of the configuration ``ask`` runs (no other fusion mode) on one index."""
    report = evaluate_answerer(answerer, label, compare_too=compare_too, questions=questions, modes=())
    return _row(answerer, label, report)


def _row(answerer: Answerer, label: str, report: dict) -> dict:
    """One index's line of :func:`format_growth`, from its :func:`evaluate_answerer` report."""
    row = {"index": label, "documents": len(answerer.index.documents), "passages": len(answerer.index.passages),
           **report["modes"][report["chosen"]]}
    if "compare" in report:
        row["compare"] = report["compare"]
    return row


def format_growth(rows: list[dict]) -> str:
    """One line per index, each after the first with its change from the first: how the
    answers hold as the corpus grows (docs/inference.md, "Answers as the corpus grows")."""
    header = (f"{'index':<34}{'documents':>10}{'passages':>9}{'success@1':>11}{'success@5':>11}{'MRR@10':>9}"
              f"{'abstain':>9}{'coverage':>10}{'false cov.':>12}")
    lines = ["the same questions on each index", header, "-" * len(header)]
    first = rows[0]
    for row in rows:
        c = row.get("compare", {})
        lines.append(f"{row['index'][-34:]:<34}{row['documents']:>10}{row['passages']:>9}{row['success_at_1']:>11.3f}"
                     f"{row['success_at_5']:>11.3f}{row['mrr_at_10']:>9.3f}{row['abstention_accuracy']:>9.3f}"
                     + (f"{c['coverage']:>10.3f}{c['false_coverage']:>12.3f}" if c else ""))
        if row is not first:
            change = {"success@5": row["success_at_5"] - first["success_at_5"],
                      "abstention": row["abstention_accuracy"] - first["abstention_accuracy"]}
            if c and "compare" in first:
                change["coverage"] = c["coverage"] - first["compare"]["coverage"]
            lines.append("  change from the first: " + ", ".join(f"{k} {v:+.3f}" for k, v in change.items()))
            moved = sorted(set(row["misses"]) - set(first["misses"]))
            if moved:
                lines.append("  missed here only: " + "; ".join(moved))
    return "\n".join(lines)


def run_eval(path, settings: Settings, *, compare_too: bool = True, questions=None,
             also: Sequence[Settings] = ()) -> dict:
    """Score a question file on ``settings``' index (every fusion mode); with ``also``, score the
    configuration ``ask`` runs on each of those indexes too, in the same run, as ``corpora``."""
    from .service import open_answerer

    if questions is None and not Path(path).exists():
        raise FileNotFoundError(f"no question file at {path}")
    answerer = open_answerer(settings)
    report = evaluate_answerer(answerer, path, compare_too=compare_too, questions=questions)
    if also:
        questions = load_questions(path) if questions is None else list(questions)
        rows = [_row(answerer, str(settings.index_location), report)]
        for other in also:
            rows.append(corpus_row(open_answerer(other, embedder=answerer.embedder), str(other.index_location),
                                   questions, compare_too=compare_too))
        report["corpora"] = rows
        report["table"] += "\n\n" + format_growth(rows)
    return report
