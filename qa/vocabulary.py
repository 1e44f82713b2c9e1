"""Council vocabulary: match a question across the names councils use for one thing.

The groups live in ``qa/data/vocabulary.toml`` so a Monitoring Officer can add
their council's names without touching code.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Callable, Iterable, Mapping

DEFAULT_VOCABULARY = Path(__file__).parent / "data" / "vocabulary.toml"


@dataclass(frozen=True)
class SynonymGroup:
    """Names of one concept. ``followed_by`` holds (name, word) pairs: that
    name stands for this concept only when the word follows it within
    :data:`SENSE_WINDOW` words ("tell" is an instruction in "tell me to
    change my report", not in "who do I tell about it?"). ``reword`` is
    False for a group of related words rather than names of one thing
    ("rude", "discourteous", "courtesy"): they match one another, but the
    question is not reworded with them (see :func:`corpus_names`). ``role``
    is "member" or "officer" for the names of the two sides of a protocol
    (see :func:`asker_role`), and empty for other concepts."""

    concept: str
    names: tuple[str, ...]
    followed_by: tuple[tuple[str, str], ...] = ()
    reword: bool = True
    role: str = ""

    def means(self, name: str, rest: str) -> bool:
        """Whether ``name``, followed by the text ``rest``, names this concept."""
        required = [word for own, word in self.followed_by if own == name]
        if not required:
            return True
        following = rest.split(maxsplit=SENSE_WINDOW)[:SENSE_WINDOW]
        return any(word in following for word in required)


# How far after a name the word of a ``followed_by`` condition may stand:
# "tell the officer in charge to..." puts four words between them.
SENSE_WINDOW = 5


@dataclass(frozen=True)
class Interpretation:
    """What a question was matched with.

    ``expansions`` are the extra names added to the lexical query (each with the
    name from the question that brought it in); ``notes`` are the lines shown
    to the user ("councillor ~ member, elected member").
    """

    question: str
    matched: tuple[tuple[str, SynonymGroup], ...] = field(default=())

    @property
    def expansions(self) -> list[str]:
        """Other names of the matched concepts, for the lexical query.

        A single word brings in only single-word names: "councillor" adds
        "member" but not "elected member", whose word "elected" would match
        passages about elections. A phrase ("s151 officer") brings in phrases.
        """
        seen: set[str] = set()
        out: list[str] = []
        for phrase, group in self.matched:
            multiword = " " in phrase
            for name in group.names:
                if name == phrase or name in seen or (" " in name and not multiword):
                    continue
                seen.add(name)
                out.append(name)
        return out

    @property
    def notes(self) -> list[str]:
        lines = []
        for phrase, group in self.matched:
            names = group.names if " " in phrase else tuple(n for n in group.names if " " not in n)
            others = [n for n in _distinct_stems(names) if _stem_key(n) != _stem_key(phrase)]
            if others:
                lines.append(f"{phrase} ~ {', '.join(others[:4])}")
        return lines


def _stem_key(name: str) -> str:
    # Plural and singular forms of a name are one entry when shown to the user.
    return re.sub(r"s\b", "", name.lower())


def _distinct_stems(names: tuple[str, ...]) -> list[str]:
    seen: set[str] = set()
    out = []
    for name in names:
        key = _stem_key(name)
        if key not in seen:
            seen.add(key)
            out.append(name)
    return out


def corpus_names(groups: Iterable[SynonymGroup], df: Callable[[str], int],
                 tokenize: Callable[[str], list[str]]) -> dict[str, str]:
    """For each concept, the name the indexed documents use most.

    A name counts as often as its rarest word (``df`` of each of its tokens),
    so "elected member" is no commoner than "elected". Ties go to the shorter
    name, then to the one listed first. On the default corpus "councillor"
    becomes "member" and "employee" "officer": the documents' own words.
    Groups with ``reword`` False have none: "rude" must not become "courtesy".
    """
    def uses(name: str) -> tuple[int, int]:
        tokens = tokenize(name)
        return (min(df(token) for token in tokens) if tokens else 0, -len(name))

    return {group.concept: max(group.names, key=uses) for group in groups if group.reword}


ROLES = ("member", "officer")
_FIRST_PERSON = re.compile(r"(?i)(?<![\w'])(i'm|i am|i'd|i've|i'll|i|me|myself|my|mine)(?![\w'])")
# "I'm an officer", "I am a councillor": the asker's description of themselves,
# which becomes the role's own words ("an officer"), not "an officer is an officer".
_I_AM = re.compile(r"(?i)(?<![\w'])(?:i'm|i am)\s+(?=an?\s)")


def role_names(groups: Iterable[SynonymGroup], names: Mapping[str, str]) -> dict[str, str]:
    """For each role, the documents' name of the first concept with that role
    in the vocabulary file ("member" and "officer" on the default corpus)."""
    out: dict[str, str] = {}
    for group in groups:
        if group.role and group.role not in out and group.concept in names:
            out[group.role] = names[group.concept]
    return out


SELF_DESCRIPTION_WORDS = 3  # "a newly elected councillor"; further on, the words are about something else
# "As a councillor", "as their ward councillor", "I am an officer"; not "such as a
# member of the public" or "as well as a councillor", which describe someone else.
_SELF_DESCRIBED = re.compile(r"(?i)(?<!such )(?<!well )\b(?:(?:as|i am|i'm) an?|as (?:the|their|your|his|her|our)) "
                             r"([\w-]+(?: [\w-]+)*)")

# "Since I was elected", "after I'm elected": only members are elected, whatever
# side the question names ("Does the councillors' code apply to me after I'm elected?").
_ELECTED = re.compile(r"(?i)\b(?:i was|i am|i'm|i've been|i have been|i got|i get|i'm newly|i was newly|i am newly) "
                      r"(?:re-?)?elected\b")


@lru_cache(maxsize=8)
def _role_patterns(groups: tuple[SynonymGroup, ...]) -> tuple[dict[str, str], re.Pattern | None, re.Pattern | None]:
    """Name -> role for the role groups, a pattern for a role name at the start
    of a text, and one for a resident's "my councillor"; built once per vocabulary."""
    role_of = {name: group.role for group in groups if group.role for name in group.names}
    if not role_of:
        return role_of, None, None
    names = "|".join(re.escape(n) for n in sorted(role_of, key=len, reverse=True))
    members = "|".join(re.escape(n) for n, role in role_of.items() if role == "member" and not n.endswith("s"))
    resident = re.compile(r"(?i)\bmy (?:local |ward )?(?:" + members + r")(?![\w-])") if members else None
    return role_of, re.compile(r"(?i)(" + names + r")(?![\w-])"), resident


def asker_role(question: str, interpretation: Interpretation,
               groups: tuple[SynonymGroup, ...] | None = None) -> str:
    """The role that "I", "me" and "my" stand for in ``question``, or "".

    Protocols speak of members and officers, never of "I": a question asked
    in the first person is read as one of them. "As a councillor, can I..."
    and "I am an officer..." say which. Otherwise a question that names one
    side only is asked by the other ("Can a councillor tell me to change my
    report?" is an officer's, "Can I ask an officer to come to my ward
    surgery?" a member's). It is not read either way when it names both sides
    or neither, when the asker says they are something else ("As a resident,
    can I..."), or when they speak of "my councillor", as residents do.
    """
    if not _FIRST_PERSON.search(question):
        return ""
    role_of, role_name, resident = _role_patterns(load_vocabulary() if groups is None else groups)
    if role_name is None:
        return ""
    described = _SELF_DESCRIBED.search(question)
    if described:  # "as a councillor", "I am an officer"; "as a resident": neither side
        # The role name may follow a word or two ("an opposition councillor", "a junior officer").
        own = role_name.search(" ".join(described.group(1).split()[:SELF_DESCRIPTION_WORDS]))
        return role_of[own.group(1).lower()] if own else ""
    if _ELECTED.search(question):
        return "member"
    if resident is not None and resident.search(question):
        return ""  # "my councillor": a resident's question
    named = {group.role for _, group in interpretation.matched if group.role}
    if len(named) == 1:
        return next(role for role in ROLES if role not in named)
    return ""


def _as_role(name: str) -> Callable[[re.Match], str]:
    """Replacement of a first-person word by ``name`` ("I" by "a member",
    "my" by "the member's")."""
    indefinite = ("an " if name[0] in "aeiou" else "a ") + name

    def replace(hit: re.Match) -> str:
        word = hit.group(1).lower()
        if word in ("my", "mine"):
            return f"the {name}'s"
        if word == "myself":
            return "themselves"
        verb = {"i'm": "is", "i am": "is", "i'd": "would", "i've": "has", "i'll": "will"}.get(word)
        return f"{indefinite} {verb}" if verb else indefinite
    return replace


def in_corpus_words(question: str, interpretation: Interpretation, names: Mapping[str, str],
                    roles: Mapping[str, str] | None = None) -> str:
    """The question with each matched vocabulary name replaced by the name the
    documents use for its concept (see :func:`corpus_names`), keeping singular
    or plural: "Can a councillor tell me..." becomes "Can a member direct me..."
    on a corpus that says "Members". With ``roles`` (see :func:`role_names`),
    "I", "me" and "my" become the asker's role (see :func:`asker_role`): "Can a
    member direct an officer to change the officer's report?". Returns the
    question unchanged when every name it uses is already the documents' own.

    The dense encoder reads this wording beside the question's own (see
    ``qa.answer``): a clause that says "Members" should not embed further from
    a question that says "councillor" than one that says "councillors" does.
    """
    out = question
    for phrase, group in interpretation.matched:
        name = names.get(group.concept, phrase)
        if phrase.endswith("s") and not name.endswith("s") and f"{name}s" in group.names:
            name = f"{name}s"
        elif not phrase.endswith("s") and name.endswith("s") and name[:-1] in group.names:
            name = name[:-1]
        if name != phrase:
            out = re.sub(r"(?i)(\b(?:a|an|the|any|every|this|that)\s+)?(?<![\w-])" + re.escape(phrase)
                         + r"(?![\w-])", lambda hit, name=name: _named(hit.group(1) or "", name), out)
    role = asker_role(question, interpretation) if roles else ""
    if role in (roles or {}):
        out = _FIRST_PERSON.sub(_as_role(roles[role]), _I_AM.sub("", out))
    return out


def _named(article: str, name: str) -> str:
    """``name`` in place of a phrase that followed ``article`` ("" for none).

    A name with its own article replaces the question's too ("a member of the
    public" becomes "the public", not "a the public"), and "a" or "an" agrees
    with the new name ("a member of staff" becomes "an officer").
    """
    if name.startswith("the "):
        return name
    if article.strip().lower() in ("a", "an"):
        indefinite = "an" if name[0] in "aeiou" else "a"
        article = (indefinite.capitalize() if article[0].isupper() else indefinite) + " "
    return f"{article}{name}"


class VocabularyError(ValueError):
    pass


@lru_cache(maxsize=8)
def load_vocabulary(path: Path = DEFAULT_VOCABULARY) -> tuple[SynonymGroup, ...]:
    """Read the synonym groups; a malformed file is an error naming the group."""
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise VocabularyError(f"cannot read vocabulary file {path}: {exc}") from exc
    groups = []
    for number, raw in enumerate(data.get("group", []), start=1):
        names = raw.get("names")
        if not isinstance(names, list) or not all(isinstance(n, str) and n.strip() for n in names):
            raise VocabularyError(f"{path}: group {number} needs a 'names' list of non-empty strings")
        names = tuple(n.strip().lower() for n in names)
        followed_by = raw.get("followed_by", {})
        if not isinstance(followed_by, dict) or not all(
                isinstance(word, str) and word.strip() and name.lower() in names
                for name, word in followed_by.items()):
            raise VocabularyError(f"{path}: group {number}'s 'followed_by' must map names of the group "
                                  f"to one word each, for example followed_by = {{ tell = \"to\" }}")
        reword = raw.get("reword", True)
        if not isinstance(reword, bool):
            raise VocabularyError(f"{path}: group {number}'s 'reword' must be true or false")
        role = raw.get("role", "")
        if role not in ("", *ROLES):
            raise VocabularyError(f"{path}: group {number}'s 'role' must be one of {', '.join(ROLES)}, "
                                  f"or left out")
        groups.append(SynonymGroup(concept=str(raw.get("concept", names[0])), names=names,
                                   followed_by=tuple((name.lower(), word.strip().lower())
                                                     for name, word in followed_by.items()),
                                   reword=reword, role=role))
    return tuple(groups)


@lru_cache(maxsize=8)
def _name_pattern(groups: tuple[SynonymGroup, ...]) -> tuple[re.Pattern, dict[str, list[SynonymGroup]]]:
    """One compiled alternation of every name, longest first, and name -> its groups in file order."""
    group_of: dict[str, list[SynonymGroup]] = {}
    for group in groups:
        for name in group.names:
            group_of.setdefault(name, []).append(group)
    names = sorted(group_of, key=lambda name: (-len(name), name))
    pattern = re.compile(r"(?<=\s)(?:" + "|".join(re.escape(n) for n in names) + r")(?=\s)") if names else re.compile(r"(?!)")
    return pattern, group_of


def interpret(question: str, groups: tuple[SynonymGroup, ...] | None = None) -> Interpretation:
    """Find the vocabulary names in ``question``, reading left to right and
    preferring the longest name at each place, so a word inside a longer
    matched phrase ("officer" in "monitoring officer") is not matched again.
    Each concept is reported once, in the order the question mentions it. A
    name in several groups names the first whose ``followed_by`` condition
    the question meets.
    """
    groups = load_vocabulary() if groups is None else groups
    pattern, group_of = _name_pattern(groups)
    text = " " + re.sub(r"[^a-z0-9\-]+", " ", question.lower()) + " "
    matched: list[tuple[str, SynonymGroup]] = []
    seen_groups: set[str] = set()
    for hit in pattern.finditer(text):
        name = hit.group(0)
        group = next((g for g in group_of[name] if g.means(name, text[hit.end():])), None)
        if group is not None and group.concept not in seen_groups:
            seen_groups.add(group.concept)
            matched.append((name, group))
    return Interpretation(question=question, matched=tuple(matched))

_GENERIC_NAME_WORDS = frozenset(
    "the of and council city borough town parish district county community metropolitan royal "
    "unidentified association local government authority".split())


@dataclass(frozen=True)
class _AuthorityLookup:
    """Which authorities a word or initials can name, built once per authority
    list (a national index has thousands of councils, and a question has a
    dozen words: look the words up instead of testing every council)."""

    order: dict[str, int]
    by_word: dict[str, list[tuple[str, frozenset[str]]]]
    by_initials: dict[str, list[str]]


def _name_keys(authority: str) -> tuple[frozenset[str], str]:
    """An authority's distinctive name words (lower case, not "council", "borough"...)
    and its initials ("LGA"), or "" when they would be under three letters."""
    distinctive = frozenset(w for w in re.findall(r"[a-z0-9]+", authority.lower())
                            if w not in _GENERIC_NAME_WORDS)
    initials = "".join(w[0] for w in re.findall(r"[A-Za-z]+", authority)
                       if w.lower() not in ("of", "and", "the")).upper()
    return distinctive, initials if len(initials) >= 3 else ""


@lru_cache(maxsize=4)
def _authority_lookup(authorities: tuple[str, ...]) -> _AuthorityLookup:
    by_word: dict[str, list[tuple[str, frozenset[str]]]] = {}
    by_initials: dict[str, list[str]] = {}
    for authority in authorities:
        distinctive, initials = _name_keys(authority)
        for word in distinctive:
            by_word.setdefault(word, []).append((authority, distinctive))
        if initials:
            by_initials.setdefault(initials, []).append(authority)
    return _AuthorityLookup({a: i for i, a in enumerate(authorities)}, by_word, by_initials)


def named_authorities(question: str, authorities: list[str] | tuple[str, ...]) -> list[str]:
    """Authorities the question names: "Who is the Monitoring Officer at Carlisle?"
    names Carlisle City Council.

    An authority is named by its distinctive words (not "council", "borough"...),
    all of them when it has several, or by its initials ("LGA") when they are at
    least three letters. The result keeps the order of ``authorities``.
    """
    lookup = _authority_lookup(tuple(authorities))
    words = set(re.findall(r"[a-z0-9]+", question.lower()))
    named = {authority for word in words for authority, distinctive in lookup.by_word.get(word, ())
             if distinctive <= words}
    named.update(authority for word in set(re.findall(r"[A-Za-z]+", question))
                 for authority in lookup.by_initials.get(word, ()))
    return sorted(named, key=lookup.order.__getitem__)


# A council named in full: one or more capitalised words, then the kind of council.
_COUNCIL_NAME = re.compile(
    r"\b((?:[A-Z][\w'&-]*\s+){1,4}(?:City|Borough|District|County|Parish|Town|Community|Metropolitan)\s+Council)\b")
_NOT_A_NAME = {"the", "a", "an", "my", "our", "your", "their", "this", "that", "each", "every", "any", "at", "in",
               "for", "of", "on", "by", "can", "does", "do", "is", "are", "what", "who", "how", "when", "why", "if"}


def unknown_councils(question: str, authorities: list[str] | tuple[str, ...]) -> list[str]:
    """Councils the question names in full ("At Bristol City Council, ...") that
    are not among ``authorities``: their documents are not in the index, so
    another council's clause must not stand in for theirs."""
    known = {a.lower() for a in authorities}
    out = []
    for match in _COUNCIL_NAME.finditer(question):
        words = match.group(1).split()
        while words and words[0].lower() in _NOT_A_NAME:
            words = words[1:]
        if len(words) < 3:  # "Parish Council" or "Town Council" alone names none
            continue
        name = " ".join(words)
        if name.lower() not in known and not named_authorities(name, authorities):
            out.append(name)
    return out


# What a council's name may carry with it in a question: the kind of council after it
# ("Carlisle City Council"), a possessive ("Watford's"), and, when the name ends a phrase
# ("... at Carlisle?"), the preposition that introduced it.
_NAME_TAIL = r"(?:\s+(?:city|borough|district|county|parish|town|community|metropolitan|royal))*(?:\s+council)?"
_POSSESSIVE = r"(?:['\u2019]s\b|(?<=s)['\u2019])?"
_PLACE_PREPOSITION = r"(?:at|in|for|of|from|by|on|with|under|within)"


def without_council_mention(question: str, authorities: list[str]) -> str:
    """The question with its mentions of the named authorities removed, for the search to read
    once it is restricted to them: "Who is the Monitoring Officer at Carlisle?" reads "Who is the
    Monitoring Officer?". The words that come with a name go with it ("City Council", "'s", a
    closing "at"), so that what is left reads as a question; "" when nothing else is left.

    A name pulls up the clauses that happen to mention it ("Carlisle City Council has adopted..."),
    and the scope model reads "at Carlisle" as a question about a council's services."""
    keys: set[str] = set()
    for authority in authorities:
        distinctive, initials = _name_keys(authority)
        keys |= distinctive | ({initials.lower()} if initials else set())
    if not keys:
        return question
    name = "(?:" + "|".join(re.escape(k) for k in sorted(keys, key=len, reverse=True)) + ")"
    mention = rf"\b{name}\b(?:\s+{name}\b)*{_NAME_TAIL}{_POSSESSIVE}"
    text = re.sub(rf"\s*\b{_PLACE_PREPOSITION}\s+(?:the\s+)?{mention}(?=\s*(?:[?.!,;:]|$))", "", question,
                  flags=re.IGNORECASE)
    text = re.sub(mention, "", text, flags=re.IGNORECASE)
    text = re.sub(r"\s+([?.!,;:])", r"\1", re.sub(r"\s+", " ", text)).strip()
    return re.sub(r"^[\s,;:.]+", "", text)
