"""A tiny corpus of three councils (a model code, an adopted protocol and a
draft with hostile text), shared by the qa and app tests."""

from __future__ import annotations

from pathlib import Path

from index.embed import FakeEmbedder

HOSTILE = "<script>alert('pwned')</script> **bold** [link](http://evil.example) $x$ :red[red]"

DOCUMENTS = {
    "model-code.txt": """Model Code of Conduct

General conduct

1. You must treat other councillors and members of the public with respect.

2. You must not bully any person, including officers of the council.

Gifts and hospitality

3. You must register any gift or hospitality with an estimated value of at least fifty pounds within 28 days of its receipt.

4. You must not accept gifts or hospitality, irrespective of estimated value, which could give rise to real or substantive personal gain.
""",
    "ashford-protocol.txt": """Member Officer Protocol

Respect

1. Members and officers must treat each other with respect and courtesy at all times.

2. Members must not bully officers or put undue pressure on them.

Gifts and hospitality

3. Members must register any gift or hospitality with an estimated value of at least fifty pounds within 28 days of its receipt.

Access to information

4. Members may ask officers for information they need to carry out their duties as ward members, on a need to know basis.
""",
    "bexley-draft.txt": f"""Protocol on Member Officer Relations (draft)

Reports

1. Officers write their reports impartially and a member must not instruct an officer to change the professional advice in a report.

2. {HOSTILE} Officers must keep confidential information confidential.

Media

3. Press releases are issued by the communications team and not by individual officers.
""",
}

MANIFEST = '''# test manifest
[[document]]
file = "model-code.txt"
authority = "Model Association"
title = "Model Code of Conduct"
kind = "model_code"
status = "model"
date = "2020-12"
attribution = "stated"
note = "National model."

[[document]]
file = "ashford-protocol.txt"
authority = "Ashford Test Council"
title = "Member Officer Protocol"
kind = "protocol"
status = "adopted"
date = "2022-02"
attribution = "stated"
note = ""

[[document]]
file = "bexley-draft.txt"
authority = "Bexley Test Council"
title = "Protocol on Member Officer Relations (draft)"
kind = "protocol"
status = "draft"
date = "2006"
attribution = "inferred"
note = "Named from its content."
'''


def write_corpus(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in DOCUMENTS.items():
        (folder / name).write_text(text, encoding="utf-8")
    (folder / "manifest.toml").write_text(MANIFEST, encoding="utf-8")
    return folder


def build_index(corpus: Path, index_dir: Path) -> Path:
    from index.update import update_index

    update_index([corpus], index_dir, FakeEmbedder())
    return index_dir


PARTY_GROUPS = ("Officers may properly be called upon to support and contribute to party group deliberations, "
                "but party group meetings cannot make decisions on behalf of the Council.")


def write_party_group_councils(folder: Path, wording: dict[str, str] | None = None) -> Path:
    """Ashby, Bexley and Corby Borough Councils' protocols, each with its wording of one national
    party-group clause (the same words unless ``wording`` maps a name to its own) and a meetings
    clause of its own: one provision held by three councils."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("Ashby", "Bexley", "Corby"):
        clause = (wording or {}).get(name, PARTY_GROUPS)
        (folder / f"{name.lower()}-borough-council-protocol.txt").write_text(
            f"{name} Borough Council Member Officer Protocol\n\nParty Groups\n\n{clause}\n\nMeetings\n\n"
            f"{name} holds its meetings in public unless the law allows otherwise.\n", encoding="utf-8")
    return folder
