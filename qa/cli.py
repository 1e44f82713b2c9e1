"""The ``protocol-qa`` command line: a thin layer over the ingest, index and qa packages."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import textwrap
from dataclasses import replace
from pathlib import Path
from typing import Callable, Iterable, Sequence

from ingest.passage import KINDS
from ingest.safe import json_line, one_line, printable

from index.location import is_uri

from .config import Settings

log = logging.getLogger("protocol_qa")

EXIT_OK, EXIT_SKIPPED, EXIT_USAGE, EXIT_FAILED = 0, 1, 2, 3


class UsageError(Exception):
    """A problem with what the user typed; exit status 2."""


# -- rendering ----------------------------------------------------------------

def citation(record: dict) -> str:
    """One line a user can paste into an email or report."""
    status = record.get("status", "")
    date = record.get("date") or "date not stated"
    flags = {"draft": "DRAFT", "superseded": "SUPERSEDED", "model": "national model"}.get(status, status)
    parts = [one_line(record["authority"]), one_line(record["document"]), one_line(f"{flags}, {date}")]
    if record.get("section"):
        parts.append(one_line(record["section"]))
    if record.get("clause"):
        parts.append(one_line(f"clause {record['clause']}"))
    pages = record.get("pages")
    if pages:
        parts.append(f"page {pages[0]}" if len(pages) == 1 else f"pages {pages[0]}-{pages[-1]}")
    if record.get("adopts"):
        parts.append(one_line(f"adopts the {record['adopts']}"))
    if record.get("attribution") == "inferred":
        parts.append("council inferred from the text")
    elif record.get("attribution") == "unknown":
        parts.append("council not identified")
    return " · ".join(parts)


def render_result(result: dict) -> str:
    # Wrap each line on its own: a clause's line breaks (list items) are part of the text.
    wrapped = "\n".join(textwrap.fill(line, width=96) if line else "" for line in result["text"].splitlines())
    body = textwrap.indent(wrapped, "     ")
    lines = [f"{result['rank']}. {citation(result)}   (score {result['score']:.2f})"]
    if result.get("highlight") and result["highlight"] != result["text"]:
        lines.append(f"   » {one_line(result['highlight'])}")
    if result.get("also_in"):
        copies = "; ".join(f"{c['authority']}" + (f" {c['clause']}" if c["clause"] else "") for c in result["also_in"])
        lines.append(f"   the same clause is also in: {one_line(copies)}")
    lines.append(body)
    return "\n".join(lines)


def render_verified(item: dict) -> str:
    """A verified interpretation, marked as such (and as stale when it is)."""
    head = ("NEEDS RE-VERIFICATION: " if item["stale"] else "") + \
        f"Verified by {item['by']} ({item['role']}), {item['date']}, for the question below; check yours is the same"
    lines = [f"[{item['id']}] {one_line(head)}", f"   Q: {one_line(item['question'])}",
             f"   {one_line(item['note'])}"]
    for clause in item["clauses"]:
        lines.append(f"   - {one_line(clause['authority'])} {one_line(clause['clause'] or clause['source'])} "
                     f"({clause['id']})")
    for reason in item.get("stale_reasons", []):
        lines.append(f"   ! {one_line(reason)}")
    if item.get("review_by"):
        lines.append(f"   review by {item['review_by']}")
    return "\n".join(lines)


def render_answer(answer: dict) -> str:
    lines = [f"Q: {one_line(answer['question'])}"]
    lines.extend(render_verified(item) for item in answer.get("verified", []))
    if answer["interpretation"]:
        lines.append("Interpreted as: " + "; ".join(answer["interpretation"]))
    if not answer["answered"]:
        lines.append(answer["message"])
        if answer["results"]:
            lines.append("Nearest passages, shown for transparency (not an answer):")
    lines.extend(render_result(r) for r in answer["results"])
    return "\n\n".join(lines)


def render_comparison(comparison: dict) -> str:
    lines = [f"Q: {one_line(comparison['question'])}"]
    for entry in comparison["authorities"]:
        head = f"== {one_line(entry['authority'])} ({one_line(entry['kind'].replace('_', ' '))}) =="
        if not entry["found"]:
            lines.append(f"{head}\n   not addressed: {entry.get('reason') or 'no clause answers it'}")
            if entry.get("nearest"):
                lines.append("   nearest clause, shown for transparency (not an answer):\n"
                             + render_result(entry["nearest"]))
            continue
        lines.append(head + "\n" + "\n".join(render_result(r) for r in entry["results"]))
    return "\n\n".join(lines)


def _questions(question: str) -> Iterable[str]:
    if question == "-":
        for line in sys.stdin:
            if line.strip():
                yield line.rstrip("\n")
    else:
        yield question


def _emit(objects: Iterable[dict], as_json: bool, render: Callable[[dict], str]) -> None:
    for obj in objects:
        print(json_line(json.dumps(obj, ensure_ascii=False)) if as_json else printable(render(obj)) + "\n",
              flush=True)


# -- commands -----------------------------------------------------------------

def cmd_ingest(args: argparse.Namespace, settings: Settings) -> int:
    from index.embed import load_embedder
    from index.update import update_index

    paths = [Path(p) for p in (args.paths or [settings.corpus_dir])]
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise UsageError(f"no such file or folder: {', '.join(missing)}. "
                         "Give documents or folders to ingest (default: corpus/).")
    from ingest import ManifestError

    # Lazy: an up-to-date index is confirmed without loading the model.
    embedder = load_embedder(settings.encoder, purpose="passages", lazy=True)
    try:
        if settings.index_location.is_milvus:
            from index.milvus_update import update_milvus

            from .config import load_milvus

            report = update_milvus(paths, settings.index_location, embedder, settings=load_milvus(),
                                   cache_dir=settings.uploads_dir.parent / "embedding-cache", progress=not args.quiet)
        else:
            report = update_index(paths, Path(settings.index_dir), embedder, progress=not args.quiet)
    except ManifestError as exc:
        raise UsageError(f"{exc} (nothing was changed in the index)") from exc
    print(printable(report.summary()))
    return EXIT_SKIPPED if report.skipped else EXIT_OK


def cmd_passages(args: argparse.Namespace, settings: Settings) -> int:
    from .service import open_index

    index = open_index(settings)
    wanted = {a.lower() for a in args.authority or []}
    for passage in index.passages:
        if wanted and passage.authority.lower() not in wanted:
            continue
        if args.json:
            print(json_line(json.dumps(passage.to_dict(), ensure_ascii=False)))
        else:
            where = one_line(f"clause {passage.clause}") if passage.clause else "(unnumbered)"
            pages = f" p.{','.join(map(str, passage.pages))}" if passage.pages else ""
            print(f"{one_line(passage.authority)} | {one_line(passage.section)} | {where}{pages}\n"
                  f"    {one_line(passage.text[:200])}")
    return EXIT_OK


def cmd_ask(args: argparse.Namespace, settings: Settings) -> int:
    from .service import open_answerer

    answerer = open_answerer(settings)
    authorities = _authorities(answerer, args.authority)
    record = _existing_record(settings)
    matcher = None
    if record is not None:
        from .question_match import QuestionMatcher

        matcher = QuestionMatcher.for_embedder(answerer.embedder)

    def answer(question: str) -> dict:
        result = answerer.ask(question, top_k=args.top_k, authorities=authorities, kinds=args.kind,
                              statuses=args.status).to_dict()
        if record is not None:
            verified = record.matching(question, [r["id"] for r in result["results"]], answerer.index,
                                       matcher=matcher)
            if verified:
                result["verified"] = [v.to_dict() for v in verified]
        return result

    _emit((answer(q) for q in _questions(args.question)), args.json, render_answer)
    return EXIT_OK


def _existing_record(settings: Settings):
    """The record, when there is one: ``ask`` never creates a database (nor writes to a read-only disk)."""
    from .record import Record, database_url

    url = database_url(settings.db)
    if url.startswith("sqlite:///") and not Path(url[len("sqlite:///"):]).is_file():
        return None
    return Record(settings.db)


def cmd_record(args: argparse.Namespace, settings: Settings) -> int:
    from .record import Record, RecordError

    record = Record(args.db or settings.db)
    index = _index_or_none(settings)
    try:
        if args.action == "verify":
            if index is None:
                raise UsageError(f"there is no index at {settings.index_dir} to take the clauses' text from; "
                                 "build it with protocol-qa ingest")
            item = record.verify(args.question, args.passage or [], args.note, args.by, index,
                                 role=args.role, review_by=args.review_by)
            _print_interpretations([item], args.json)
        elif args.action == "list":
            items = [i for i in record.interpretations(index) if i.staleness.stale or not args.stale]
            _print_interpretations(items, args.json)
        elif args.action == "show":
            _print_interpretations([record.show(args.id, index)], args.json)
        elif args.action == "export":
            sys.stdout.write(record.export_audit(args.format) if args.audit else record.export(index, args.format))
        elif args.action == "purge":
            deleted = record.purge_feedback(args.days or settings.feedback_days, by=args.by)
            print(f"deleted {deleted} feedback item(s) older than {args.days or settings.feedback_days} days "
                  "(confirmed questions are kept)")
        elif args.action in ("confirm", "dismiss"):
            item = record.feedback(args.id)
            if getattr(args, "passage", None):
                record.set_right_passage(args.id, args.passage, version=item.version)
                item = record.feedback(args.id)
            done = record.handle(args.id, "confirmed" if args.action == "confirm" else "dismissed", args.by,
                                 version=item.version)
            print(f"{done.id} {done.state} by {one_line(done.handled_by)}")
        elif args.action == "review":
            queue = record.review_queue()
            for item in queue:
                if args.json:
                    print(json_line(json.dumps(item.to_dict(), ensure_ascii=False)))
                else:
                    where = f" ({one_line(item.authority)})" if item.authority else ""
                    print(f"{item.id}  {item.created[:10]}  {item.view}: {item.verdict}{where}  "
                          f"{one_line(item.question)}")
            if not args.json:
                print(f"{len(queue)} item(s) to review.")
    except RecordError as exc:
        raise UsageError(str(exc)) from exc
    return EXIT_OK


def _index_or_none(settings: Settings):
    from .service import open_index
    from index.store import IndexNotFound

    try:
        return open_index(settings)
    except IndexNotFound:
        return None


def _print_interpretations(items, as_json: bool) -> None:
    for item in items:
        if as_json:
            print(json_line(json.dumps(item.to_dict(), ensure_ascii=False)))
            continue
        print(render_verified(item.to_dict()) + "\n")
    if not as_json and not items:
        print("No verified interpretations.")


def _authorities(answerer, names):
    """``--authority`` values as the index names them (a usage error lists the valid ones)."""
    try:
        return answerer.resolve_authorities(names)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc


def cmd_compare(args: argparse.Namespace, settings: Settings) -> int:
    from .compare import compare, to_csv, to_markdown
    from .service import open_answerer

    answerer = open_answerer(settings)
    authorities = _authorities(answerer, args.authority)
    # A generator, so that with QUESTION "-" each comparison is written as soon as it is made.
    comparisons = (compare(answerer, q, authorities=authorities) for q in _questions(args.question))
    if args.format == "csv":
        sys.stdout.write(to_csv(list(comparisons)))  # every cell made safe by to_csv
    elif args.format == "markdown":
        sys.stdout.write(to_markdown(list(comparisons)))
    else:
        _emit((c.to_dict() for c in comparisons), args.json, render_comparison)
    return EXIT_OK


def cmd_provisions(args: argparse.Namespace, settings: Settings) -> int:
    from .service import open_index

    from .provisions import provision_records

    index = open_index(settings)
    authorities = []
    for name in args.authority or []:
        found = [a for a in index.authorities if name.lower() in a.lower()]
        if not found:
            raise UsageError(f"no authority matches {name!r}; the index holds: {', '.join(index.authorities)}")
        authorities.extend(found)
    records = provision_records(index, authorities)
    if args.json:
        for record in records:
            print(json_line(json.dumps(record, ensure_ascii=False)))
        return EXIT_OK
    for record in records:
        print(f"{record['provision']}  {one_line(record['label'])}")
        for member in record["members"]:
            clause = f"clause {member['clause']}" if member["clause"] else "(unnumbered)"
            print(f"    {member['likeness']:9} {one_line(member['authority'])}, {one_line(clause)}")
    print(f"{len(records)} provisions held by two or more documents.")
    return EXIT_OK


def cmd_align(args: argparse.Namespace, settings: Settings) -> int:
    from .service import open_index

    from .provisions import (DocumentNotFound, alignment_csv, alignment_markdown, alignment_record,
                             alignment_text, find_document)

    index = open_index(settings)
    try:
        first, second = find_document(index, args.documents[0]), find_document(index, args.documents[1])
    except DocumentNotFound as exc:
        raise UsageError(str(exc)) from exc
    if first["source"] == second["source"]:
        raise UsageError(f"both names are the document {first['source']}; give two different documents")
    record = alignment_record(index, first, second)
    if args.json:
        print(json_line(json.dumps(record, ensure_ascii=False)))
    elif args.format == "csv":
        sys.stdout.write(alignment_csv(record))
    elif args.format == "markdown":
        sys.stdout.write(printable(alignment_markdown(record)))
    else:
        print(printable(alignment_text(record)))
    return EXIT_OK


def cmd_eval(args: argparse.Namespace, settings: Settings) -> int:
    from .evaluate_run import run_eval

    if sum(map(bool, (args.file, args.split, args.from_record))) != 1:
        raise UsageError("give a question file, --split NAME (the writers of training/writers.toml) "
                         "or --from-record")
    if args.from_record:
        from .service import open_index

        from .evaluate_record import record_questions
        from .record import Record

        questions = record_questions(Record(settings.db), open_index(settings))
        if not questions:
            raise UsageError("the record holds no confirmed question with its answering clause yet "
                             "(confirm feedback with protocol-qa record confirm, or verify interpretations)")
        source = f"the record ({len(questions)} confirmed questions)"
    elif args.split:
        writers, questions = _split_questions(args.split)
        source = "writers " + ", ".join(w.writer for w in writers)
    else:
        source, questions = Path(args.file), None
    also = [replace(settings, index_uri=given, index_dir=settings.index_dir) if is_uri(given) else
            replace(settings, index_uri="", index_dir=Path(given)) for given in args.also_index or ()]
    report = run_eval(source, settings, compare_too=not args.no_compare, questions=questions, also=also)
    print(json.dumps(report, indent=2) if args.json else report["table"])
    return EXIT_OK


def cmd_fit_compare(args: argparse.Namespace, settings: Settings) -> int:
    from .abstain import DEFAULT_COMPARISON_MODEL
    from .evaluate import load_questions
    from .fit_comparison import DEFAULT_C, fit, held_out_decisions, labelled_examples, summary, write_model
    from .service import open_answerer

    paths = [Path(f) for f in args.files]
    for path in paths:
        if not path.exists():
            raise UsageError(f"no question file at {path}")
    answerer = open_answerer(settings)
    from index.embed import TRAINED_MODEL_DIR, fingerprint_model_dir

    trained = (TRAINED_MODEL_DIR / "config.json").is_file() and \
        answerer.embedder.fingerprint == fingerprint_model_dir(TRAINED_MODEL_DIR)
    if trained and not args.out:
        raise UsageError("the fine-tuned encoder's comparison decision is learned from the calibration writers: "
                         "run 'protocol-qa train --stage comparison'. fit-compare fits the logistic decision "
                         "used with any other encoder; give --out to write one anyway")
    c = DEFAULT_C if args.c is None else args.c
    examples = labelled_examples(answerer, [q for path in paths for q in load_questions(path)])
    held_out = summary(examples, held_out_decisions(examples, c))
    model = fit(examples, c, encoder=answerer.embedder.fingerprint if trained else "")
    out = Path(args.out) if args.out else DEFAULT_COMPARISON_MODEL
    write_model(model, out, paths, c, held_out)
    print(f"{held_out['addressing']} addressing and {held_out['silent']} silent councils; left out one "
          f"question at a time, found {held_out['found_when_addressing']:.3f} of the addressing and "
          f"{held_out['found_when_silent']:.3f} of the silent ones")
    print(f"wrote {out}:\n" + out.read_text(encoding="utf-8"))
    return EXIT_OK


def _split_questions(splits: Sequence[str]):
    from .training_data import load_writers

    writers = load_writers(splits=tuple(splits))
    if not writers:
        raise UsageError(f"training/writers.toml names no writer in {', '.join(splits)}")
    return writers, [q for w in writers for q in w.questions]


def cmd_fit_abstention(args: argparse.Namespace, settings: Settings) -> int:
    from .abstain import DEFAULT_ABSTENTION_MODEL
    from .fit_abstention import DEFAULT_C, fit, labelled_examples, summary, write_model
    from .service import open_answerer

    writers, questions = _split_questions(args.split or ["calibration"])
    answerer = open_answerer(settings)
    examples = labelled_examples(answerer, questions)
    c = DEFAULT_C if args.c is None else args.c
    model = fit(examples, c, encoder=answerer.embedder.fingerprint)
    fitted = summary(model, examples)
    out = Path(args.out) if args.out else DEFAULT_ABSTENTION_MODEL
    write_model(model, out, [w.writer for w in writers], c, fitted)
    print(f"wrote {out}:\n" + out.read_text(encoding="utf-8"))
    return EXIT_OK


def cmd_train(args: argparse.Namespace, settings: Settings) -> int:
    from .train import MODELS_DIR, STAGES, EncoderTraining, run_training

    models_dir = Path(args.out) if args.out else MODELS_DIR
    stages = args.stage or STAGES
    defaults = EncoderTraining()
    encoder = EncoderTraining(epochs=args.epochs or defaults.epochs,
                              seed=defaults.seed if args.seed is None else args.seed)
    extra = ()
    if args.from_record:
        from .service import open_index

        from .evaluate_record import record_questions
        from .record import Record

        extra = tuple(record_questions(Record(settings.db), open_index(settings)))
        target = "the train writers" if "encoder" in stages else "the calibration writers (the decisions' fit)"
        print(f"the record adds {len(extra)} confirmed questions to {target}", flush=True)
    run_training(models_dir=models_dir, stages=stages, encoder_settings=encoder,
                 progress=lambda line: print(line, flush=True), extra_questions=extra)
    print(f"Wrote {models_dir}." + (" Rebuild the index with the new encoder: protocol-qa ingest"
                                    if "encoder" in stages else ""))
    return EXIT_OK


def cmd_bench(args: argparse.Namespace, settings: Settings) -> int:
    from .bench import run_bench

    result = run_bench(passages=args.passages, settings=settings, plot=args.plot,
                       questions=args.questions)
    print(json.dumps(result["json"]) if args.json else result["table"])
    return EXIT_OK


# -- parser -------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="protocol-qa",
        description="Answer questions from council member/officer protocols and codes of conduct "
                    "with verbatim, cited clauses.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--index", metavar="DIR|URI",
                        help="index directory, or milvus-lite://PATH.db or milvus://HOST:PORT (token in "
                             "$PROTOCOL_QA_MILVUS_TOKEN) (default: $PROTOCOL_QA_INDEX or .index in the project)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("ingest", parents=[common], help="read documents into the index (default: corpus/)")
    p.add_argument("paths", nargs="*", metavar="PATH", help="files or folders; a manifest.toml beside them gives their details")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=cmd_ingest)

    p = sub.add_parser("passages", parents=[common], help="list every passage, to inspect how documents were cut")
    p.add_argument("--authority", action="append", metavar="NAME", help="only this authority (repeatable)")
    p.add_argument("--json", action="store_true", help="one JSON object per passage")
    p.set_defaults(run=cmd_passages)

    def question_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("question", metavar="QUESTION", help="the question; '-' reads one per line from standard input")
        p.add_argument("--authority", action="append", metavar="NAME", help="only this authority (repeatable)")
        p.add_argument("--json", action="store_true", help="JSON output (JSON Lines with '-')")

    p = sub.add_parser("ask", parents=[common], help="answer a question with ranked, cited clauses")
    question_options(p)
    p.add_argument("--top-k", type=int, default=5, metavar="K", help="how many clauses (default 5)")
    p.add_argument("--kind", action="append", choices=KINDS)
    p.add_argument("--status", action="append", choices=["adopted", "draft", "model", "unknown", "superseded"])
    p.set_defaults(run=cmd_ask)

    p = sub.add_parser("compare", parents=[common], help="the same question across councils, side by side")
    question_options(p)
    p.add_argument("--format", choices=["text", "csv", "markdown"], default="text",
                   help="csv or markdown export with full citations")
    p.set_defaults(run=cmd_compare)

    p = sub.add_parser("record", parents=[common],
                       help="the Monitoring Officer's verified interpretations and the feedback queue")
    p.add_argument("--db", metavar="URL", help="a SQLite file or postgresql://... (default: $PROTOCOL_QA_DB or data/record.sqlite3)")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    verify = actions.add_parser("verify", help="record a verified interpretation")
    verify.add_argument("--question", required=True)
    verify.add_argument("--passage", action="append", metavar="ID", required=True,
                        help="a clause it rests on (repeatable; ids are in ask --json)")
    verify.add_argument("--note", required=True)
    verify.add_argument("--by", required=True, metavar="NAME")
    verify.add_argument("--role", default="Monitoring Officer")
    verify.add_argument("--review-by", metavar="YYYY-MM-DD")
    verify.add_argument("--json", action="store_true")
    listing = actions.add_parser("list", help="every current interpretation")
    listing.add_argument("--stale", action="store_true", help="only those that need re-verification")
    listing.add_argument("--json", action="store_true")
    show = actions.add_parser("show", help="one interpretation, with what changed in its clauses")
    show.add_argument("id")
    show.add_argument("--json", action="store_true")
    export = actions.add_parser("export", help="every interpretation, for a report or a backup")
    export.add_argument("--format", choices=["csv", "json"], default="json")
    export.add_argument("--audit", action="store_true", help="the audit log instead: who did what, when")
    purge = actions.add_parser("purge", help="delete feedback past the retention period")
    purge.add_argument("--days", type=int, metavar="N", help="default: $PROTOCOL_QA_FEEDBACK_DAYS or 365")
    purge.add_argument("--by", default="retention", metavar="NAME")
    review = actions.add_parser("review", help="the feedback queue")
    review.add_argument("--json", action="store_true")
    for name, what in (("confirm", "confirm a feedback item: it becomes a labelled question"),
                       ("dismiss", "dismiss a feedback item")):
        handle = actions.add_parser(name, help=what)
        handle.add_argument("id")
        handle.add_argument("--by", required=True, metavar="NAME")
        if name == "confirm":
            handle.add_argument("--passage", metavar="ID", help="the clause that answers it, if not the one shown")
    p.set_defaults(run=cmd_record)

    p = sub.add_parser("provisions", parents=[common],
                       help="clauses shared by several documents (copies or rewordings of one provision)")
    p.add_argument("--authority", action="append", metavar="NAME", help="only provisions this authority holds (repeatable)")
    p.add_argument("--json", action="store_true", help="one JSON object per provision")
    p.set_defaults(run=cmd_provisions)

    p = sub.add_parser("align", parents=[common],
                       help="two documents clause by clause: same, reworded, changed, missing, added")
    p.add_argument("documents", nargs=2, metavar="DOCUMENT",
                   help="a file name, a title, or a council with one document (a unique part is enough)")
    p.add_argument("--json", action="store_true")
    p.add_argument("--format", choices=["text", "csv", "markdown"], default="text",
                   help="csv, or markdown: a gap list for a report")
    p.set_defaults(run=cmd_align)

    p = sub.add_parser("eval", parents=[common], help="score a question file (success@k, MRR, abstention, coverage)")
    p.add_argument("file", metavar="FILE.jsonl", nargs="?")
    p.add_argument("--split", action="append", metavar="SPLIT",
                   help="score the writers of this split instead of a file (repeatable)")
    p.add_argument("--json", action="store_true")
    p.add_argument("--no-compare", action="store_true", help="skip the comparison metrics")
    p.add_argument("--also-index", action="append", metavar="DIR|URI",
                   help="score the same questions on this index too, in the same run, with the change from "
                        "--index (repeatable): how answers hold as the corpus grows")
    p.add_argument("--from-record", action="store_true",
                   help="score the record's confirmed questions and verified interpretations ($PROTOCOL_QA_DB)")
    p.set_defaults(run=cmd_eval)

    p = sub.add_parser("fit-compare", parents=[common],
                       help="fit the comparison decision on question files with expected and silent councils")
    p.add_argument("files", nargs="+", metavar="FILE.jsonl")
    p.add_argument("--out", metavar="PATH", help="where to write the weights (default: qa/data/comparison_model.toml)")
    p.add_argument("--c", type=float, metavar="C",
                   help="inverse regularisation strength (default: qa.fit_comparison.DEFAULT_C)")
    p.set_defaults(run=cmd_fit_compare)

    p = sub.add_parser("fit-abstention", parents=[common],
                       help="fit the abstention decision on writers' answerable and off-topic questions")
    p.add_argument("--split", action="append", default=None, metavar="SPLIT",
                   help="writers' split to fit on (repeatable; default: calibration)")
    p.add_argument("--out", metavar="PATH", help="where to write the weights (default: qa/data/abstention_model.toml)")
    p.add_argument("--c", type=float, metavar="C", help="inverse regularisation strength")
    p.set_defaults(run=cmd_fit_abstention)

    p = sub.add_parser("train", parents=[common],
                       help="fine-tune the encoder on the train writers' labelled questions (training/)")
    p.add_argument("--out", metavar="DIR", help="where to write the models (default: models/)")
    p.add_argument("--stage", action="append", choices=["encoder", "reranker", "distil", "decisions", "comparison"],
                   help="only this stage (repeatable; default: encoder, reranker, distil and decisions, in order; "
                        "'reranker' trains the teacher, 'distil' the smaller reranker answers use; "
                        "'comparison' fits the comparison decision alone, part of 'decisions')")
    p.add_argument("--epochs", type=int, metavar="N", help="the encoder's passes over its training triplets")
    p.add_argument("--seed", type=int, metavar="N", help="random seed (default: qa.train.EncoderTraining.seed)")
    p.add_argument("--from-record", action="store_true",
                   help="also learn from the record's confirmed questions and verified interpretations: the "
                        "encoder trains on them, or, with --stage decisions alone, the decisions are fitted on them")
    p.set_defaults(run=cmd_train)

    p = sub.add_parser("bench", parents=[common], help="measure latency, throughput, memory and size against a naive baseline")
    p.add_argument("--passages", type=int, default=100_000, metavar="N", help="synthetic corpus size (default 100000)")
    p.add_argument("--questions", type=int, default=200, metavar="Q", help="timed questions per measurement")
    p.add_argument("--plot", metavar="PNG", help="also draw latency against N to this file")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=cmd_bench)
    return parser


class _SafeFormatter(logging.Formatter):
    """Log lines with control characters from file names or documents shown escaped."""

    def format(self, record: logging.LogRecord) -> str:
        return printable(super().format(record))


def main(argv: Sequence[str] | None = None) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = logging.StreamHandler()
    handler.setFormatter(_SafeFormatter("%(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, handlers=[handler])
    try:
        given = getattr(args, "index", None)
        settings = Settings.from_env(**({"index_uri": given} if given and is_uri(given) else
                                        {"index_dir": Path(given) if given else None}))
    except ValueError as exc:  # a malformed PROTOCOL_QA_* variable, named in the message
        print(f"protocol-qa {args.command}: {printable(exc)}", file=sys.stderr)
        return EXIT_USAGE
    try:
        return args.run(args, settings)
    except UsageError as exc:
        print(f"protocol-qa {args.command}: {printable(exc)}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted; the index is unchanged unless the summary said it was saved", file=sys.stderr)
        return 130
    except Exception as exc:  # every library error carries a message that says what to do
        if args.verbose:
            raise
        print(f"protocol-qa {args.command}: {printable(exc)}", file=sys.stderr)
        return EXIT_FAILED


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
