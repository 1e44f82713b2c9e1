"""Best-effort authority, title, kind, status and date for files without a manifest entry."""

from __future__ import annotations

import re
from collections.abc import Iterable

from ingest.markers import heading_like, is_upper

_AUTHORITY = re.compile(
    r"\b((?:[A-Z][A-Za-z'’\-]+|of|upon|on|the|and|&|cum|in|le|by)"
    r"(?:[ \t]+(?:[A-Z][A-Za-z'’\-]+|of|upon|on|the|and|&|cum|in|le|by)){0,5})[ \t]+"
    r"(Parish|Town|Borough|City|District|County|Community|Metropolitan Borough|County Borough)[ \t]+"
    r"Council(?:lors'?|lors’)?\b",
    re.IGNORECASE,
)
_MONTHS = "january february march april may june july august september october november december".split()
_DATE = re.compile(r"\b(\d{1,2})(?:st|nd|rd|th)?\s+(" + "|".join(_MONTHS) + r")\s+(\d{4})\b", re.I)
_STOP = {"the", "of", "and", "on", "upon", "&", "in", "by", "cum", "le"}
# Words joining the parts of a council's name ("Wroxton & Balscote", "Burton-cum-Walden",
# "Newcastle upon Tyne", "Stratford-on-Avon").
_JOINERS = {"&", "and", "upon", "on", "cum", "in", "le", "the"}
# Words no council's name holds; a heading's capitalised "With" or "To" ends the name there.
_BREAKS = {"with", "to", "for", "from", "at", "about", "regarding", "into", "between", "against", "under"}
# Capitalised words that make no council's name on their own: "The Parish Council",
# "each Town Council", "District and County Council".
_GENERIC = {"the", "a", "an", "this", "that", "each", "every", "any", "other", "our", "your", "their", "its",
            "his", "her", "local", "principal", "unitary", "relevant", "parish", "town", "borough", "city",
            "district", "county", "community", "metropolitan", "member", "members", "national", "english",
            "welsh", "all", "both", "neighbouring", "adjoining", "same", "such", "clerk", "chairman",
            "chair", "mayor", "council", "councils", "and", "or", "of", "to", "by", "for", "with", "from",
            "model", "standing", "orders", "code", "conduct", "policy", "protocol", "financial", "regulations",
            "full", "special", "annual", "extraordinary", "ordinary", "whole"}


def _title_case(text: str) -> str:
    words = text.split()
    out = []
    for n, w in enumerate(words):
        lw = w.lower()
        if n and lw in {"of", "and", "on", "upon", "the", "for", "to", "a", "in", "cum", "le"}:
            out.append(lw)
        else:
            out.append("-".join(part if part.lower() in {"cum", "on", "upon", "le", "in", "under", "by"} and i
                                else _capitalise(part) for i, part in enumerate(lw.split("-"))))
    return " ".join(out)


def _capitalise(word: str) -> str:
    """"(england)" -> "(England)": the first letter, wherever it is."""
    for i, char in enumerate(word):
        if char.isalpha():
            return word[:i] + char.upper() + word[i + 1:]
    return word


def _name(match: re.Match) -> str:
    """The council's name in a match, or "" when the words before its type name no council."""
    words = match.group(1).split()
    name: list[str] = []
    for word in reversed(words):
        if word[:1].isupper() or (name and word.lower() in _JOINERS and name[0].lower() not in _JOINERS):
            name.insert(0, word)
        else:
            break
    breaks = [i for i, word in enumerate(name) if word.lower() in _BREAKS]
    if breaks:  # "Communicating With County Council" (a heading): no council's name holds "with"
        name = name[breaks[-1] + 1:]
    if any(word.lower() == "the" for word in name):
        # "Precept The parish Council" (a heading run into a sentence): a council's name
        # holds no standalone "the" ("Stow-on-the-Wold" keeps it inside one word).
        name = name[max(i for i, word in enumerate(name) if word.lower() == "the") + 1:]
    while name and (name[0].lower() in _JOINERS or name[0].lower() in _GENERIC):
        name = name[1:]
    if not name or all(w.lower() in _GENERIC or w.lower() in _JOINERS for w in name):
        return ""
    kind = " ".join(match.group(2).split())
    text = " ".join(name + [kind, "Council"])
    mixed = any(c.islower() for c in text.replace("Council", ""))
    return text if mixed and name[0][:1].isupper() and not text.isupper() else _title_case(text)


# One mention in the title or letterhead: 1 + 3 (first 1,500 characters) + 2 (first 200).
TITLE_SCORE = 6.0


def council_candidates(text: str) -> dict[str, float]:
    """Every council named in ``text``, scored: how often, how early, and whether it stands
    as a line of its own (a letterhead or running title) or after "adopted by"."""
    scores: dict[str, float] = {}
    for match in _AUTHORITY.finditer(text):
        name = _name(match)
        if not name:
            continue
        key = name
        score = 1.0
        if match.start() < 1500:
            score += 3.0
        if match.start() < 200:  # the title or letterhead
            score += 2.0
        line_start = text.rfind("\n", 0, match.start()) + 1
        line_end = text.find("\n", match.end())
        line = text[line_start:line_end if line_end >= 0 else len(text)]
        if len(line.strip()) <= len(match.group(0)) + 4:
            score += 2.0
        if re.search(r"(?i)adopted\s+by\s+(?:the\s+)?$", text[max(0, match.start() - 30):match.start()]):
            score += 2.0
        scores[key] = scores.get(key, 0.0) + score
    return scores


# "Trafford Council", "Wiltshire Council": unitary and metropolitan councils that print no type.
_UNTYPED = re.compile(r"\b([A-Z][a-z]+(?:[ -][A-Z][a-z]+){0,2})[ \t]+Council\b(?!lor)")
# A document's references to its own council by type alone ("the Town Council").
_BARE_TYPE = re.compile(r"(?:^|[^A-Za-z&\-][ \t]*)(?:the|The|this|This)[ \t]+(Parish|Town|Community|City|Borough|District|County)"
                        r"[ \t]+Council\b")
_TYPES = ("Parish", "Town", "Community", "City", "Borough", "District", "County")


def _untyped_candidates(text: str) -> dict[str, float]:
    scores: dict[str, float] = {}
    for match in _UNTYPED.finditer(text):
        words = match.group(1).split()
        if any(w.lower() in _GENERIC or w in _TYPES for w in words) or words[-1] in ("Metropolitan",):
            continue
        name = f"{match.group(1)} Council"
        scores[name] = scores.get(name, 0.0) + (2.0 if match.start() < 1500 else 0.5)
    return {name: score for name, score in scores.items() if score >= 2.0}


def _council_type(name: str) -> str:
    return next((kind for kind in _TYPES if f" {kind} Council" in f" {name}"), "")


# Types of the principal councils that also print their names without a type ("Trafford
# Council" for Trafford Borough Council). A parish, town or community council always prints its type.
_PRINCIPAL = ("Metropolitan Borough", "County Borough", "Borough", "City", "District", "County")


_LOCAL = ("Parish", "Town", "Community", "Village", "Neighbourhood")


def council_tier(name: str) -> str:
    """"local" for a parish, town or community council, "principal" for a borough, city,
    district or county council, "" for anything else (a model code's publisher, a council
    not identified)."""
    if any(name.endswith(f" {kind} Council") for kind in _LOCAL):
        return "local"
    if any(name.endswith(f" {kind} Council") for kind in _PRINCIPAL):
        return "principal"
    return ""


def same_councils(names: Iterable[str]) -> dict[str, str]:
    """Names among ``names`` that are another council's name without its type, mapped to it.

    "Trafford Council" is Trafford Borough Council when the corpus holds that council and
    no other principal council of Trafford ("Trafford City Council" as well would leave it
    alone: which one is meant cannot be told). Parish, town and community councils are never
    the typed name ("Wokingham Council" is the borough, not Wokingham Town Council).
    """
    names = set(names)
    typed: dict[str, list[str]] = {}
    for name in names:
        kind = next((kind for kind in _PRINCIPAL if name.endswith(f" {kind} Council")), None)
        if kind:
            typed.setdefault(name[:-len(f" {kind} Council")].casefold(), []).append(name)
    out = {}
    for name in names:
        if name.endswith(" Council") and not _council_type(name) and not name.startswith("Council not identified"):
            variants = typed.get(name[:-len(" Council")].casefold(), [])
            if len(variants) == 1:
                out[name] = variants[0]
    return out


def infer_authority(text: str, meta_author: str = "", folder: str = "") -> str:
    """The council a document belongs to, from its whole text (best scored of
    :func:`council_candidates`), else the PDF's author when that names a council,
    else its folder's name ("wroxton-balscote-parish-council/"); "" when none does."""
    scores = council_candidates(text)
    # A council named only in passing, while the document keeps calling its own council
    # "the Town Council", is another body (a parish's minutes naming the district council).
    bare: dict[str, int] = {}
    for match in _BARE_TYPE.finditer(text):
        bare[match.group(1)] = bare.get(match.group(1), 0) + 1
    own_type, own_count = max(bare.items(), key=lambda item: item[1], default=("", 0))
    if own_count >= 3:
        # ...unless it heads the document (a title or letterhead scores at least TITLE_SCORE alone).
        scores = {name: score for name, score in scores.items()
                  if _council_type(name) in ("", own_type) or text.count(name) >= own_count
                  or score >= TITLE_SCORE}
    if scores:
        return max(scores.items(), key=lambda item: (item[1], -len(item[0])))[0]
    untyped = _untyped_candidates(text)
    if untyped:
        return max(untyped.items(), key=lambda item: item[1])[0]
    for hint in (meta_author, folder.replace("-", " ").replace("_", " ")):
        scores = council_candidates(hint)
        if scores:
            return max(scores.items(), key=lambda item: item[1])[0]
    return ""


_EDITOR_TITLE = re.compile(
    r"(?i)^(microsoft (word|powerpoint|excel) - |untitled)|\.(docx?|pages|pdf|odt|rtf|txt)$|^document\d*$")
_ORGANISATIONS = re.compile(
    r"(?i)^(national association of local councils|local government association|one voice wales)\b")
# What follows a title on its line: "Standing Orders Adopted By Resolution ...", "Issue 1.0 (17/01/13)".
_TITLE_TAIL = re.compile(r"(?i)\s+(?:adopted|approved|reviewed|issue\s+\d|version\s+\d|v\d+\.\d)\b.*$")
_SUBJECT_LINE = re.compile(r"(?i)^(?:subject|title|report title)\s*:\s*(.{3,150})$")
# A report's or minutes' cover lines, which are not its title.
_MEETING_LINE = re.compile(r"(?i)^(?:meeting\b|agenda item\b|date\s*:|report of\b|wards? affected\b|appendices\s*:)")
_PART_LABEL = re.compile(r"(?i)(part|appendix|annex|schedule|section|chapter)\s+[0-9A-Z]{1,3}[.:]?")
_LABEL_LINE = re.compile(r"(?i)^(council name|council address|email address|telephone|tel|address|website)\b")


def infer_title(paras_text: list[str], meta_title: str, authority: str, stem: str) -> str:
    """The document's own title: its first heading that is not only a council's or an
    organisation's name, with the council's name taken off the front; else the PDF's
    title when that is not an editor's file name ("Microsoft Word - x.doc", "y.pages");
    else the file name."""
    for line in paras_text[:15]:  # a committee report's cover: "Subject: Local Council Tax Support Scheme"
        labelled = _SUBJECT_LINE.match(" ".join(line.split()))
        if labelled and labelled.group(1).strip():
            return labelled.group(1).strip()
    for position, line in enumerate(paras_text[:25]):
        candidate = " ".join(line.split())
        if not candidate or _LABEL_LINE.match(candidate) or _ORGANISATIONS.match(candidate) or \
                _MEETING_LINE.match(candidate):
            continue
        first = candidate.split("\n")[0]
        if _PART_LABEL.fullmatch(first) and position + 1 < len(paras_text):
            following = " ".join(paras_text[position + 1].split())
            if heading_like(following):  # "Part 5" then "Codes and Protocols"
                first = f"{first} {following}"
        if not heading_like(first) or re.fullmatch(r"[\d\s|]*(page)?[\d\s|]*", first.lower()):
            continue
        rest = first
        match = _AUTHORITY.match(first)
        if match and _name(match):
            rest = first[match.end():]
            if match.group(0).lower().endswith("councillors"):  # "X Parish Councillors' Handbook"
                rest = "Councillors" + rest
        elif authority and first.lower().startswith(authority.lower()):
            rest = first[len(authority):]
        rest = _TITLE_TAIL.sub("", rest.strip(" -–:|")).strip(" -–:|")
        if _MEETING_LINE.match(rest):  # "Royal Sutton Coldfield Town Council Meeting 21 February 2017"
            continue
        if not rest or rest.lower() in {"council", "councillors", "councillors'", "councillors’"}:
            continue
        return _title_case(rest) if is_upper(rest) else rest
    meta = meta_title.strip()
    if meta and " " in meta and not _EDITOR_TITLE.search(meta) and \
            meta.lower().replace(" ", "") != stem.lower().replace("-", "").replace("_", ""):
        return meta
    return stem.replace("-", " ").replace("_", " ").strip().capitalize()


# What a document's title says it is, most specific first: a constitution's part titled
# "Member/Officer Protocol" is a protocol, a "Complaints Procedure" is a procedure.
_KIND_BY_TITLE = (
    ("other", re.compile(r"\bhandbook\b|\bguide\b|\bguidance\b|\bhelp ?sheet\b|^minutes\b|\bagenda\b|"
                         r"^report\b|\breport of\b")),
    # The parts of a council's constitution: "Part 4 Rules of Procedure", "Articles of the Constitution".
    ("constitution", re.compile(r"^part\s+\d+\b|\bconstitution\b")),
    ("model_code", re.compile(r"\bmodel\b.*\bcode of conduct\b|\bcode of conduct\b.*\bmodel\b")),
    ("code_of_conduct", re.compile(r"\bcodes? of conduct\b")),
    ("standing_orders", re.compile(r"\bstanding orders?\b")),
    ("financial_regulations", re.compile(r"\bfinancial (?:regulations?|rules|procedure rules)\b")),
    ("protocol", re.compile(r"\bprotocols?\b|\bmember[s']*\W+officer relations\b")),
    ("procedure", re.compile(r"\bprocedures?\b|\bcomplaints?\b")),
    ("policy", re.compile(r"\bpolicy\b|\bpolicies\b|\bstrategy\b|\bscheme\b|\bstatement\b")),
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
            if kind == "model_code" and (_names_a_council(text[:3000]) or _ADOPTION.search(text)):
                return "code_of_conduct"  # a council's adopted copy of the model
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
    return bool(council_candidates(text))


# "Adopted 6th June 2022", "Adopted by the council on ...": a council's own copy.
_ADOPTION = re.compile(r"(?i)\badopted\b(?:\s+by\b[^\n]{0,60})?(?:\s+on)?\s+\d{1,2}(?:st|nd|rd|th)?\s+[a-z]+\s+\d{4}")


def infer_date(text: str) -> str:
    head = text[:3000]
    m = re.search(r"(?i)adopted", head)
    if m:
        d = _DATE.search(head, m.start())
        if d and d.start() - m.start() < 200:
            month = _MONTHS.index(d.group(2).lower()) + 1
            return f"{int(d.group(3)):04d}-{month:02d}-{int(d.group(1)):02d}"
    return ""
