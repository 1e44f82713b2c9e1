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


def infer_kind(title: str, text: str) -> str:
    lowered = (title + " " + text[:1500]).lower()
    if "model" in lowered and "code of conduct" in lowered:
        return "model_code"
    if "code of conduct" in title.lower():
        return "code_of_conduct"
    return "protocol"


def infer_date(text: str) -> str:
    head = text[:3000]
    m = re.search(r"(?i)adopted", head)
    if m:
        d = _DATE.search(head, m.start())
        if d and d.start() - m.start() < 200:
            month = _MONTHS.index(d.group(2).lower()) + 1
            return f"{int(d.group(3)):04d}-{month:02d}-{int(d.group(1)):02d}"
    return ""
