"""qa.render: URL state, escaping, diffs, coverage links, upload names and manifest entries."""

from __future__ import annotations

import tomllib

import pytest

from qa import render
from qa.equivalents import DiffPiece
from qa.render import AppState, UploadRefused


def test_state_round_trips_through_query_parameters():
    state = AppState(view="compare", question="Can I sit on a panel?", authorities=("A", "B & C"),
                     kinds=("protocol",), statuses=("draft",), passage="abc123", coverage=True)
    params = {k: v if isinstance(v, list) else [v] for k, v in render.encode_state(state).items()}
    assert render.decode_state(params) == state


def test_default_state_gives_a_short_link():
    assert render.state_link(AppState()) == "?view=ask"
    assert render.state_link(AppState(question="a&b=c")) == "?view=ask&q=a%26b%3Dc"


@pytest.mark.parametrize("params, expected", [
    ({"view": ["<script>"]}, AppState()),
    ({"q": ["x" * 5000]}, AppState(question="x" * render.MAX_URL_QUESTION)),
    ({"authority": ["A", "A", " "]}, AppState(authorities=("A",))),
    ({"coverage": ["0"]}, AppState()),
])
def test_hand_edited_links_never_break(params, expected):
    assert render.decode_state(params) == expected


def test_clause_html_escapes_and_marks_highlight():
    text = "First <b>sentence</b>. Second & **last** sentence."
    out = render.clause_html(text, "Second & **last** sentence.")
    assert "<b>" not in out and "&lt;b&gt;" in out
    assert '<mark class="pqa-hl">Second &amp; **last** sentence.</mark>' in out


def test_clause_html_without_a_matching_highlight_shows_text_unmarked():
    assert "<mark" not in render.clause_html("a <i>b</i>", "missing")


def test_md_literal_neutralises_markdown_html_and_directives():
    out = render.md_literal("**bold** <script>x</script> :red[r] $x$ [l](http://e)")
    for raw in ("**", "<", ">", ":red[", "$", "]("):
        assert raw not in out


def test_diff_html_marks_added_and_removed_words_escaped():
    out = render.diff_html([DiffPiece("same", "Members must"), DiffPiece("removed", "<fifty>"),
                            DiffPiece("added", "twenty-five")])
    assert '<del class="pqa-del">&lt;fifty&gt;</del>' in out and '<ins class="pqa-add">twenty-five</ins>' in out


def test_coverage_cells_link_to_their_clause_in_browse():
    cells = {("Gifts", "A <Council>"): render.CoverageCellView(True, "p1", "3.1")}
    out = render.coverage_html(["Gifts"], ["A <Council>", "B"], cells, AppState(authorities=("B",)))
    assert 'href="?view=browse&amp;authority=B&amp;passage=p1"' in out
    assert "A &lt;Council&gt;" in out and "not addressed" in out


def test_badges_flag_drafts_models_and_uncertain_attribution():
    assert render.badges("protocol", "adopted", "stated") == []
    labels = [label for label, _ in render.badges("model_code", "draft", "inferred")]
    assert labels == ["National model", "Draft", "Council inferred"]


@pytest.mark.parametrize("name, expected", [
    ("protocol.pdf", "protocol.pdf"),
    ("../../etc/passwd.txt", "passwd.txt"),
    ("..\\..\\windows\\x.DOCX", "x.docx"),
    ("  My protocol (2022) final!.txt", "My-protocol-2022-final.txt"),
    ("café; rm -rf ~.md", "cafe-rm-rf.md"),
])
def test_safe_file_name(name, expected):
    assert render.safe_file_name(name) == expected


@pytest.mark.parametrize("name, problem", [
    ("evil.exe", "cannot be read"), ("noextension", "no usable name"), ("...txt", "no usable name"),
    ("manifest.md", "cannot be used"), ("../.txt", "no usable name"),
])
def test_unsafe_file_names_refused(name, problem):
    with pytest.raises(UploadRefused, match=problem):
        render.safe_file_name(name)


def entry(**changes):
    details = dict(authority="Test Council", title="Protocol", kind="protocol", status="adopted",
                   date="2022-02", attribution="stated", note='He said "hi" \\ bye')
    details.update(changes)
    return render.manifest_entry("new.txt", **details)


@pytest.mark.parametrize("changes, problem", [
    ({"authority": "  "}, "give the authority"), ({"title": ""}, "title"), ({"kind": "novel"}, "kind must be"),
    ({"status": "x"}, "status must be"), ({"attribution": "x"}, "attribution must be"),
    ({"date": "22/02/2022"}, "date must be"), ({"date": "2022-13"}, "date must be"),
])
def test_manifest_entry_validated(changes, problem):
    with pytest.raises(UploadRefused, match=problem):
        entry(**changes)


def test_upsert_manifest_appends_keeps_comments_and_replaces_same_file():
    text = '# comment\n\n[[document]]\nfile = "a.txt"\nauthority = "A"\n\n[[document]]\nfile = "new.txt"\nauthority = "Old"\n'
    out = render.upsert_manifest(text, entry())
    assert out.startswith("# comment")
    documents = tomllib.loads(out)["document"]
    assert [d["file"] for d in documents] == ["a.txt", "new.txt"]
    assert documents[1]["authority"] == "Test Council" and documents[1]["note"] == 'He said "hi" \\ bye'
    assert tomllib.loads(render.upsert_manifest("", entry()))["document"][0]["file"] == "new.txt"
