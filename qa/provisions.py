"""Provisions and alignments for people: listing, labels, lineage of results, and exports.

The grouping and the alignment themselves are in :mod:`index.provisions`
(computed at ingest); this module turns them into the records of the
command-line contract (``provisions --json``, ``align --json``), finds a
document from what a user types, and writes an alignment as the gap list a
Monitoring Officer pastes into a report.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

from index.provisions import Provision, align, group_provisions, provision_of
from ingest.safe import csv_cell, markdown_text, one_line

from .equivalents import word_diff

__all__ = ["copy_key", "provisions_of", "provision_records", "lineage", "find_document", "DocumentNotFound",
           "alignment_record", "alignment_csv", "alignment_markdown", "alignment_text"]


class DocumentNotFound(ValueError):
    """What the user typed names no document, or more than one; the message lists the candidates."""


def provisions_of(index) -> list[Provision]:
    """The index's provisions: saved at ingest, or grouped now (once per loaded index)."""
    if index.provisions is None:
        index.provisions = group_provisions(index)
    return index.provisions


def _row_lookup(index) -> dict:
    lookup = getattr(index, "_provision_rows", None)
    if lookup is None or lookup[0] is not index.provisions:
        lookup = (index.provisions, provision_of(provisions_of(index), len(index.passages)))
        index._provision_rows = lookup
    return lookup[1]


def _label(index, provision: Provision) -> str:
    passage = index.passages[provision.representative]
    heading = passage.section.split(" > ")[-1].strip() if passage.section else ""
    words = passage.text.split()
    excerpt = " ".join(words[:10]) + ("…" if len(words) > 10 else "")
    return f"{heading}: {excerpt}" if heading else excerpt


def provision_records(index, authorities: Sequence[str] = ()) -> list[dict]:
    """``provisions --json``: one record per provision, optionally only those held by ``authorities``."""
    wanted = set(authorities)
    records = []
    for provision in provisions_of(index):
        members = [index.passages[row] for row, _likeness, _overlap in provision.members]
        if wanted and not wanted & {p.authority for p in members}:
            continue
        records.append({
            "provision": provision.id, "label": _label(index, provision),
            "members": [{"id": p.id, "authority": p.authority, "document": p.document, "clause": p.clause,
                         "likeness": likeness, "word_overlap": round(overlap, 4)}
                        for p, (_row, likeness, overlap) in zip(members, provision.members)],
        })
    return records


def lineage(index, row: int) -> tuple[str, list[dict]]:
    """``(provision id, the same provision in other councils)`` for the passage at ``row``;
    ``("", [])`` when it is in no provision. Only identical and reworded copies are listed."""
    number = int(_row_lookup(index)[row]) if len(index.passages) else -1
    if number < 0:
        return "", []
    provision = index.provisions[number]
    own = index.passages[row]
    own_likeness = next(likeness for member, likeness, _overlap in provision.members if member == row)
    also = []
    for member, likeness, _overlap in provision.members:
        passage = index.passages[member]
        if member == row or passage.authority == own.authority or likeness == "different":
            continue
        # Likeness to the clause shown: word for word only when both copy the representative exactly.
        same = "identical" if likeness == own_likeness == "identical" else "reworded"
        also.append({"authority": passage.authority, "clause": passage.clause, "id": passage.id, "likeness": same})
    return provision.id, also


def _provision_at(index, row: int) -> Provision | None:
    number = int(_row_lookup(index)[row])
    return index.provisions[number] if number >= 0 else None


def copy_key(index, row: int) -> str | None:
    """The provision id of the passage at ``row`` when it is an identical copy of its
    provision's clause (so two such passages say the same words), else None."""
    provision = _provision_at(index, row)
    if provision is None:
        return None
    likeness = next(likeness for member, likeness, _overlap in provision.members if member == row)
    return provision.id if likeness == "identical" else None


def provision_key(index, row: int) -> str | None:
    """The provision id of the passage at ``row`` (an identical copy or a rewording of
    other councils' clauses), else None."""
    provision = _provision_at(index, row)
    return provision.id if provision is not None else None


def find_document(index, typed: str) -> dict:
    """The document record a user means by ``typed``: its source file name, its title, or its
    council when the council has one document (case-insensitive; a unique part is enough)."""
    documents = list(index.documents)
    needle = typed.strip().lower()

    def matches(exact: bool) -> list[dict]:
        found = []
        for document in documents:
            names = [document["source"], document.get("title") or "", document["authority"]]
            names = [n.lower() for n in names if n]
            if any((n == needle) if exact else (needle in n) for n in names):
                found.append(document)
        return found

    for exact in (True, False):
        found = matches(exact)
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            by_source = [d for d in found if d["source"].lower() == needle]
            if len(by_source) == 1:
                return by_source[0]
            listing = "; ".join(f"{d['source']} ({d['authority']})" for d in found)
            raise DocumentNotFound(f"{typed!r} matches {len(found)} documents: {listing}. Name one by its file.")
    listing = "; ".join(f"{d['source']} ({d['authority']})" for d in documents)
    raise DocumentNotFound(f"no document matches {typed!r}. The documents are: {listing}")


def _side(index, row: int | None) -> dict | None:
    if row is None:
        return None
    p = index.passages[row]
    return {"id": p.id, "clause": p.clause, "section": p.section, "pages": list(p.pages) if p.pages else None,
            "text": p.text}


def alignment_record(index, document_a: dict, document_b: dict) -> dict:
    """``align --json``: both documents and one row per clause."""
    rows = align(index, document_a["source"], document_b["source"])
    out = []
    for row in rows:
        diff = []
        if row.a is not None and row.b is not None and row.status != "same":
            diff = [{"op": piece.op, "text": piece.text}
                    for piece in word_diff(index.passages[row.a].text, index.passages[row.b].text)[0]]
        out.append({"status": row.status, "a": _side(index, row.a), "b": _side(index, row.b),
                    "word_overlap": round(row.word_overlap, 4), "diff": diff})
    head = lambda d: {"authority": d["authority"], "document": d.get("title") or d["source"], "source": d["source"]}
    return {"a": head(document_a), "b": head(document_b), "rows": out}


def _clause(side: dict | None) -> str:
    if side is None:
        return ""
    return side["clause"] or (side["section"].split(" > ")[-1] if side["section"] else "(unnumbered)")


def _counts(record: dict) -> str:
    counts = {status: 0 for status in ("same", "reworded", "changed", "missing", "added")}
    for row in record["rows"]:
        counts[row["status"]] += 1
    return ", ".join(f"{n} {status}" for status, n in counts.items())


def _diff_text(diff: Iterable[dict]) -> str:
    marks = {"same": "{}", "removed": "[-{}-]", "added": "{{+{}+}}"}
    return " ".join(marks[piece["op"]].format(piece["text"]) for piece in diff)


def alignment_text(record: dict) -> str:
    a, b = record["a"], record["b"]
    lines = [f"A: {one_line(a['authority'])}, {one_line(a['document'])}",
             f"B: {one_line(b['authority'])}, {one_line(b['document'])}", _counts(record), ""]
    for row in record["rows"]:
        where = f"A {_clause(row['a'])}".strip() if row["a"] else ""
        there = f"B {_clause(row['b'])}".strip() if row["b"] else ""
        lines.append(f"{row['status']:9} {one_line(where):14} {one_line(there):14}")
        if row["status"] in ("reworded", "changed"):
            lines.append("          " + one_line(_diff_text(row["diff"])))
        elif row["status"] in ("missing", "added"):
            lines.append("          " + one_line((row["a"] or row["b"])["text"]))
    return "\n".join(lines)


def alignment_csv(record: dict) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["status", "a_authority", "a_clause", "a_text", "b_authority", "b_clause", "b_text",
                     "word_overlap", "difference"])
    for row in record["rows"]:
        writer.writerow([csv_cell(v) for v in (
            row["status"], record["a"]["authority"] if row["a"] else "", _clause(row["a"]),
            row["a"]["text"] if row["a"] else "", record["b"]["authority"] if row["b"] else "", _clause(row["b"]),
            row["b"]["text"] if row["b"] else "", f"{row['word_overlap']:.2f}", _diff_text(row["diff"]))])
    return buffer.getvalue()


def alignment_markdown(record: dict) -> str:
    """A gap list: what B leaves out of A, changes or rewords, and adds; identical clauses counted only."""
    a, b = record["a"], record["b"]
    out = [f"## {markdown_text(b['authority'])}, {markdown_text(b['document'])} against {markdown_text(a['authority'])}, {markdown_text(a['document'])}\n",
           f"{_counts(record)}.\n"]
    sections = (("missing", f"In {a['authority']} but not in {b['authority']}"),
                ("changed", "Changed in substance"), ("reworded", "Reworded"),
                ("added", f"Added by {b['authority']}"))
    for status, heading in sections:
        rows = [r for r in record["rows"] if r["status"] == status]
        if not rows:
            continue
        out.append(f"### {markdown_text(heading)} ({len(rows)})\n")
        out.append("| A | B | text |")
        out.append("| --- | --- | --- |")
        for row in rows:
            text = _diff_text(row["diff"]) if row["diff"] else (row["a"] or row["b"])["text"]
            out.append(f"| {markdown_text(_clause(row['a']))} | {markdown_text(_clause(row['b']))} | {markdown_text(text)} |")
        out.append("")
    return "\n".join(out)
