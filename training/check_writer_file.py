#!/usr/bin/env python3
"""The checker the question writers ran on their files (against pdftotext copies of the documents in
/work/writers/docs while they wrote): format, and that every `contains` occurs in the named council's document.
Kept as a record of the brief; the project's own check is qa.training_data.label against the ingested passages.

Usage: python3 /work/writers/tools/check.py /work/writers/out/NAME.jsonl
Prints one line per problem and a summary. Fix every problem it reports.
"""
import json, re, sys, unicodedata
from pathlib import Path

DOCS = Path("/work/writers/docs")
AUTHORITIES = {
    "Carlisle City Council": ["carlisle-city-council-member-officer-protocol-2006-draft.txt"],
    "Local Government Association": ["lga-model-councillor-code-of-conduct-2020.txt"],
    "Newton Abbot Town Council": ["newton-abbot-town-council-member-officer-protocol-2022.txt"],
    "Unidentified council": ["protocol-on-councillor-officer-relations.txt"],
    "Watford Borough Council": ["watford-borough-council-code-of-conduct-protocols.txt"],
    "Wokingham Borough Council": ["wokingham-borough-council-constitution-9-3-member-officer-protocol.txt"],
    "Hertingfordbury Parish Council": ["hertingfordbury-parish-council-standing-orders-2019.txt"],
    "Tintern Community Council": ["tintern-community-council-standing-orders-2018.txt",
                                  "tintern-community-council-complaints-procedure-2018.txt"],
}
DEFAULT = list(AUTHORITIES)[:6]

def norm(s):
    s = unicodedata.normalize("NFKC", s).lower()
    s = s.replace("\u2018", "'").replace("\u2019", "'").replace("\u201c", '"').replace("\u201d", '"')
    return re.sub(r"[^a-z0-9£]+", " ", s).strip()

TEXT = {a: norm(" ".join((DOCS / f).read_text(errors="replace") for f in fs)) for a, fs in AUTHORITIES.items()}

def main(path):
    problems, n, ids = 0, 0, set()
    for lineno, line in enumerate(Path(path).read_text().splitlines(), 1):
        if not line.strip():
            continue
        n += 1
        def bad(msg):
            nonlocal problems
            problems += 1
            print(f"line {lineno}: {msg}")
        try:
            q = json.loads(line)
        except json.JSONDecodeError as e:
            bad(f"not JSON: {e}"); continue
        for field in ("id", "question", "kind", "expect", "silent"):
            if field not in q:
                bad(f"missing field {field!r}")
        if q.get("id") in ids:
            bad(f"duplicate id {q.get('id')}")
        ids.add(q.get("id"))
        kind = q.get("kind")
        if kind not in ("single", "multi", "none"):
            bad("kind must be single, multi or none")
        expect = q.get("expect") or []
        if kind == "none" and expect:
            bad("a 'none' question has no expect entries")
        if kind in ("single", "multi") and not expect:
            bad("an answerable question needs at least one expect entry")
        auths = {e.get("authority") for e in expect}
        if kind == "single" and len(auths) != 1:
            bad("'single' means exactly one council answers; use 'multi' when several do")
        if kind == "multi" and len(auths) < 2:
            bad("'multi' needs at least two councils in expect")
        for e in expect:
            a, c = e.get("authority"), e.get("contains", "")
            if a not in AUTHORITIES:
                bad(f"unknown authority {a!r}; use one of {list(AUTHORITIES)}"); continue
            words = norm(c).split()
            if len(words) < 5:
                bad(f"contains too short (under 5 words): {c!r}")
            elif norm(c) not in TEXT[a]:
                bad(f"contains not found in {a}'s document: {c!r}")
        for s in q.get("silent") or []:
            if s not in AUTHORITIES:
                bad(f"unknown silent authority {s!r}")
            if s in auths:
                bad(f"{s} is both expected and silent")
    print(f"{n} questions, {problems} problems")
    return 1 if problems else 0

if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
