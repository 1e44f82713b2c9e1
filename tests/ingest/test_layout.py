"""Layout rules pinned on the real council PDFs in ../shared/external and the corpus.

Each test names the general rule it checks; the documents are only where the rule
was seen failing.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ingest import ingest_files

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "corpus"
EXTERNAL = Path("/work/shared/external")
HERTS = "hertingfordbury-parish-council-standing-orders-2019.pdf"
TINTERN = "tintern-community-council-standing-orders-2018.pdf"

needs_external = pytest.mark.skipif(not EXTERNAL.is_dir(), reason="shared external PDFs not present")


@pytest.fixture(scope="module")
def external():
    result = ingest_files(sorted(EXTERNAL.glob("*.pdf")))
    return {d.source: d for d in result.documents}


def passage(doc, clause, phrase=""):
    hits = [p for p in doc.passages if p.clause == clause and phrase in p.text]
    assert hits, f"no passage {clause!r} containing {phrase!r} in {doc.source}"
    return hits[0]


@needs_external
@pytest.mark.parametrize("source,clause,phrase,section_end", [
    # a bare label before a one-letter word ("H A councillor", "a A resolution") starts a paragraph
    (HERTS, "1(H)", "A councillor may move an amendment to his own motion", "1 Rules of Debate at Meetings"),
    (HERTS, "1(I)", "If there is more than one amendment", "1 Rules of Debate at Meetings"),
    (HERTS, "3(M)", "may not provide an oral report", "3 Meetings Generally"),
    (HERTS, "3(N)", "The press shall be provided", "3 Meetings Generally"),
    (HERTS, "9(A)", "A motion shall relate to the responsibilities",
     "9 Motions for a Meeting that Require Written Notice to be given to the Proper Officer"),
    (TINTERN, "7(a)", "A resolution shall not be reversed", "7 PREVIOUS RESOLUTIONS"),
    (TINTERN, "17(a)", "Proper practices", "17 ACCOUNTS AND ACCOUNTING STATEMENTS"),
])
def test_bare_labelled_paragraphs(external, source, clause, phrase, section_end):
    found = passage(external[source], clause, phrase)
    label = clause.split("(")[-1].rstrip(")")
    assert not re.match(rf"{label} [A-Z\"“]", found.text), "the label stays out of the clause text"
    assert found.section.split(" > ")[-1] == section_end
