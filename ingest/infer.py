"""Best-effort authority, title, kind, status and date for files without a manifest entry."""

from __future__ import annotations

import re

from ingest.markers import heading_like, is_upper

_AUTHORITY = re.compile(
    r"\b((?:[A-Z][A-Za-z'’\-]+|of|upon|on|the|and|&)(?:[ \t]+(?:[A-Z][A-Za-z'’\-]+|of|upon|on|the|and|&)){0,4})[ \t]+"
    r"(Parish|Town|Borough|City|District|County|Community|Metropolitan Borough|County Borough)[ \t]+Council\b",
    re.IGNORECASE,
)
_MONTHS = "january february march april may june july august september october november december".split()
_DATE = re.compile(r"\b(\d{1,2})(?:st|nd|rd|th)?\s+(" + "|".join(_MONTHS) + r")\s+(\d{4})\b", re.I)
_STOP = {"the", "of", "and", "on", "upon", "&"}


def _title_case(text: str) -> str:
    words = text.split()
    out = []
    for n, w in enumerate(words):
        lw = w.lower()
        out.append(lw if n and lw in {"of", "and", "on", "upon", "the", "for", "to", "a", "in"} else lw[:1].upper() + lw[1:])
    return " ".join(out)


def infer_authority(text: str, meta_author: str = "") -> str:
    head = text[:4000]
    for m in _AUTHORITY.finditer(head):
        words = m.group(1).split()
        while words and words[0].lower() in _STOP | {"this", "a"}:
            words = words[1:]
        # keep the name words that are capitalised in the source (drop "adopted by", "meeting of" ...)
        name = []
        for w in reversed(words):
            if w[:1].isupper() or (name and w.lower() in {"upon", "on", "the"}):
                name.insert(0, w)
            else:
                break
        if name:
            return _title_case(" ".join(name + [m.group(2), "Council"]))
    if meta_author and _AUTHORITY.search(meta_author):
        return _title_case(meta_author.strip())
    return ""


def infer_title(paras_text: list[str], meta_title: str, authority: str, stem: str) -> str:
    meta = meta_title.strip()
    if meta and " " in meta and meta.lower().replace(" ", "") != stem.lower().replace("-", "").replace("_", ""):
        return meta
    for line in paras_text[:15]:
        candidate = line.strip()
        if not heading_like(candidate):
            continue
        if authority and candidate.lower().startswith(authority.lower()):
            rest = candidate[len(authority):].strip(" -–:|")
            if rest:
                return _title_case(rest) if is_upper(rest) else rest
            continue
        return _title_case(candidate) if is_upper(candidate) else candidate
    return stem.replace("-", " ").replace("_", " ").strip().capitalize()


# What a document's title says it is, most specific first: a constitution's part titled
# "Member/Officer Protocol" is a protocol, a "Complaints Procedure" is a procedure.
_KIND_BY_TITLE = (
    ("model_code", re.compile(r"\bmodel\b.*\bcode of conduct\b|\bcode of conduct\b.*\bmodel\b")),
    ("code_of_conduct", re.compile(r"\bcodes? of conduct\b")),
    ("standing_orders", re.compile(r"\bstanding orders?\b")),
    ("financial_regulations", re.compile(r"\bfinancial (?:regulations?|rules|procedure rules)\b")),
    ("protocol", re.compile(r"\bprotocols?\b|\bmember[s']*\W+officer relations\b")),
    ("procedure", re.compile(r"\bprocedures?\b|\bcomplaints?\b")),
    ("policy", re.compile(r"\bpolicy\b|\bpolicies\b|\bstrategy\b")),
    ("constitution", re.compile(r"\bconstitution\b")),
)
# The same phrases counted in the opening text, when the title says nothing.
_KIND_BY_TEXT = (
    ("standing_orders", re.compile(r"\bstanding orders?\b")),
    ("financial_regulations", re.compile(r"\bfinancial regulations?\b")),
    ("code_of_conduct", re.compile(r"\bcode of conduct\b")),
    ("protocol", re.compile(r"\bprotocol\b")),
    ("procedure", re.compile(r"\bcomplaints? procedure\b")),
    ("policy", re.compile(r"\bpolicy\b")),
)


def infer_kind(title: str, text: str) -> str:
    """One of :data:`ingest.passage.KINDS`, from the title, else from the opening text.

    The national model code (published by the LGA, not adopted by a council) is
    ``model_code``; a council's copy of it is its ``code_of_conduct``, whose
    lineage :mod:`qa.provisions` recognises separately."""
    lowered_title = title.lower()
    for kind, pattern in _KIND_BY_TITLE:
        if pattern.search(lowered_title):
            if kind == "model_code" and _names_a_council(text[:3000]):
                return "code_of_conduct"
            return kind
    opening = text[:6000].lower()
    counts = {kind: len(pattern.findall(opening)) for kind, pattern in _KIND_BY_TEXT}
    kind, count = max(counts.items(), key=lambda item: item[1])
    if count >= 2:
        if kind == "code_of_conduct" and "model" in opening[:2000] and not _names_a_council(text[:3000]):
            return "model_code"
        return kind
    return "other"


def _names_a_council(text: str) -> bool:
    return bool(_AUTHORITY.search(text))


def infer_date(text: str) -> str:
    head = text[:3000]
    m = re.search(r"(?i)adopted", head)
    if m:
        d = _DATE.search(head, m.start())
        if d and d.start() - m.start() < 200:
            month = _MONTHS.index(d.group(2).lower()) + 1
            return f"{int(d.group(3)):04d}-{month:02d}-{int(d.group(1)):02d}"
    return ""
