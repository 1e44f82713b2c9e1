"""The Streamlit app through AppTest: each view, filters, URL state, hostile
input, uploads on and off, and a missing or damaged index."""

from __future__ import annotations

import html
import re
import shutil
from pathlib import Path

import pytest

from tests.app.conftest import HOSTILE, make_app

GIFTS = "Must I register a gift or hospitality?"
REPORT = "Can a councillor instruct an officer to change a report?"
GIFTS_DETAIL = "Must a councillor register gifts worth fifty pounds within 28 days?"
OFF_TOPIC = "What is the boiling point of mercury?"


def run(at):
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def qp(at, key: str) -> list[str]:
    """A query parameter as a list (AppTest gives one value as a string)."""
    value = at.query_params.get(key, [])
    return value if isinstance(value, list) else [value]


def page_html(at) -> str:
    return "\n".join(h.value for h in at.html)


def passage(index_dir: Path, authority: str, clause: str):
    from index.hybrid import HybridIndex

    index = HybridIndex.load(index_dir)
    return next(p for p in index.passages if p.authority == authority and p.clause == clause)


# -- Ask ---------------------------------------------------------------------------

def test_ask_shows_verbatim_clause_with_copyable_citation(app_env):
    at = run(make_app(view="ask", q=GIFTS))
    citations = [c.value for c in at.code]
    # Two councils hold this clause word for word; either may rank first, each cited as its own.
    assert citations and "clause 3" in citations[0]
    assert citations[0].startswith(("Model Association", "Ashford Test Council"))
    assert "register any gift or hospitality" in page_html(at)
    assert any("National model" in m.value for m in at.markdown)


def test_ask_shows_interpretation(app_env):
    at = run(make_app(view="ask", q=REPORT))
    assert any("councillor ~ member" in t.value for t in at.text)
    assert at.caption.values.count("Interpreted as") == 1


def test_draft_and_inferred_documents_carry_badges(app_env):
    at = run(make_app(view="ask", q=REPORT))
    badges = " ".join(m.value for m in at.markdown)
    assert ":orange-badge[Draft]" in badges and ":violet-badge[Council inferred]" in badges


def test_empty_question_invites_one(app_env):
    at = run(make_app(view="ask"))
    assert at.info and "Ask what a councillor" in at.info[0].value
    assert not at.code


def test_off_topic_question_says_so_and_suggests(app_env):
    at = run(make_app(view="ask", q=OFF_TOPIC))
    assert at.warning and "do not appear to address" in html.unescape(at.warning[0].value)
    assert any(t.value.startswith("• ") for t in at.text)
    at.button(key="suggest-compare").click()
    run(at)
    assert qp(at, "view") == ["compare"]


@pytest.mark.parametrize("question", [
    "   ", "\x00\x07\x1b[31m", "x" * 5000, HOSTILE, "Что может делать советник?", "<img src=x onerror=alert(1)>",
])
def test_hostile_questions_never_crash(app_env, question):
    at = run(make_app(view="ask", q=question))
    assert "<script" not in page_html(at) and "<img" not in page_html(at)


def test_question_typed_updates_url(app_env):
    at = run(make_app(view="ask"))
    at.text_input(key="q_ask").input(GIFTS)
    run(at)
    assert qp(at, "q") == [GIFTS] and qp(at, "view") == ["ask"]
    assert at.code


def test_document_text_is_rendered_literally(app_env):
    _, index_dir = app_env
    hostile = passage(index_dir, "Bexley Test Council", "2")
    assert "<script>" in hostile.text
    at = run(make_app(view="ask", q="Must officers keep confidential information confidential?"))
    page = page_html(at)
    assert html.escape(hostile.text, quote=True) in page  # verbatim, every character escaped
    assert "<script" not in page and "$x$" in page and ":red[red]" in page
    # The citation block is plain text too (st.code never interprets its content).
    for element in at.markdown:
        assert "<script" not in element.value and "pwned" not in element.value


# -- filters and URL state -----------------------------------------------------------

def test_authority_filter_from_url_limits_results(app_env):
    at = run(make_app(view="ask", q=GIFTS, authority="Ashford Test Council"))
    assert at.multiselect(key="f_authorities").value == ["Ashford Test Council"]
    assert at.code and all(c.value.startswith("Ashford Test Council") for c in at.code)


def test_kind_and_status_filters_update_url(app_env):
    at = run(make_app(view="ask", q=REPORT))
    at.multiselect(key="f_statuses").set_value(["draft"])
    run(at)
    assert qp(at, "status") == ["draft"]
    assert at.code and all("DRAFT" in c.value for c in at.code)
    at.multiselect(key="f_kinds").set_value(["model_code"])
    run(at)
    assert qp(at, "kind") == ["model_code"]
    assert at.warning and "No documents match" in html.unescape(at.warning[0].value)


def test_unknown_url_values_are_ignored(app_env):
    at = run(make_app(view="nonsense", q=GIFTS, authority="No Such Council", kind="x"))
    assert at.radio(key="view").value == "ask"
    assert at.multiselect(key="f_authorities").value == []


def test_question_survives_switching_views(app_env):
    at = run(make_app(view="ask", q=GIFTS))
    at.radio(key="view").set_value("compare")
    run(at)
    assert qp(at, "view") == ["compare"] and qp(at, "q") == [GIFTS]
    at.radio(key="view").set_value("ask")
    run(at)
    assert at.text_input(key="q_ask").value == GIFTS


# -- Compare -------------------------------------------------------------------------

def test_compare_side_by_side_model_first_and_not_addressed(app_env):
    at = run(make_app(view="compare", q=GIFTS_DETAIL))
    heads = [h.value for h in at.html if 'class="pqa-head"' in h.value]
    assert "Model Association" in heads[0]
    assert any("Bexley Test Council" in h for h in heads) and any("Ashford Test Council" in h for h in heads)
    assert "Not addressed" in page_html(at)
    labels = [b.label for b in at.get("download_button")]
    assert labels == ["Download CSV", "Download Markdown"]


def test_equivalents_show_word_diff(app_env):
    _, index_dir = app_env
    chosen = passage(index_dir, "Ashford Test Council", "3")
    at = run(make_app(view="compare", passage=chosen.id))
    assert "Equivalent clauses in other councils" in [h.value for h in at.header]
    page = page_html(at)
    assert "Model Association" in page
    assert 'class="pqa-add"' in page and 'class="pqa-del"' in page


def test_equivalents_open_in_place_from_ask_without_changing_view(app_env):
    at = run(make_app(view="ask", q=GIFTS))
    toggle = next(t for t in at.toggle if t.label == "Other councils' equivalents")
    toggle.set_value(True)
    run(at)
    assert qp(at, "view") == ["ask"] and not at.query_params.get("passage")
    page = page_html(at)
    assert 'class="pqa-eq"' in page  # the equivalents, drawn inside the result that was clicked
    eq_at = page.index('class="pqa-eq"')
    # ...after the clause whose toggle was used and before the next result's clause
    assert page.rfind("register any gift or hospitality", 0, eq_at) >= 0


def test_compare_rows_are_compact_one_per_council(app_env):
    at = run(make_app(view="compare", q=GIFTS_DETAIL))
    rows = [h.value for h in at.html if 'class="pqa-row"' in h.value]
    assert len(rows) == 3 and "Model Association" in rows[0]  # one row per council, the model first
    ashford = next(r for r in rows if "Ashford Test Council" in r)
    assert "clause 3" in ashford and "reworded from the model code (95% words in common)" in ashford  # You / Members
    bexley = next(r for r in rows if "Bexley Test Council" in r)
    assert "Not addressed in its documents. Why: " in bexley and "Nearest clause (not an answer): " in bexley
    # the citations (monospace) are inside the expanders, one per council, not on the page itself
    assert len(at.expander) == 3


def test_coverage_matrix_links_each_cell_to_its_clause(app_env):
    at = run(make_app(view="compare", coverage="1"))
    table = next(h.value for h in at.html if "pqa-cov" in h.value and "<thead>" in h.value)
    assert "Ashford Test Council" in table and "not addressed" in table
    assert 'href="?view=browse&amp;passage=' in table
    assert "Download the matrix (CSV)" in [b.label for b in at.get("download_button")]
    # each cell names the clause it links to: its number, or the heading of an unnumbered passage
    from index.hybrid import HybridIndex

    index = HybridIndex.load(app_env[1])
    links = re.findall(r'passage=([0-9a-f]+)" target="_self" title="([^"]*)">([^<]*)</a>', table)
    assert links
    for passage_id, title, label in links:
        p = index.passages[index.position_of(passage_id)]
        heading = p.section.split(" > ")[-1]
        assert html.unescape(label) == (f"clause {p.clause}" if p.clause else heading[:40] + ("…" if len(heading) > 40 else ""))
        assert html.unescape(title).endswith(" — " + " · ".join(x for x in (p.section, f"clause {p.clause}" if p.clause else "") if x))


# -- Browse --------------------------------------------------------------------------

def test_browse_shows_clause_in_context_with_source_download(app_env):
    _, index_dir = app_env
    chosen = passage(index_dir, "Ashford Test Council", "3")
    at = run(make_app(view="browse", passage=chosen.id))
    assert at.selectbox(key="w_document").value == "ashford-protocol.txt"
    assert at.selectbox(key="w_passage").value == chosen.id
    page = page_html(at)
    assert "treat each other with respect" not in page or "pqa-context" in page
    assert "Members may ask officers" in page  # the clause after it, for context
    assert any("clause 3" in c.value for c in at.code)
    assert "Download the source file" in [b.label for b in at.get("download_button")]
    assert at.dataframe  # the table of contents
    # a text document has no pages to draw: its extracted text is the document as published
    assert any("This document is not a PDF" in c.value for c in at.caption)


def test_browse_show_in_context_from_ask(app_env):
    at = run(make_app(view="ask", q=GIFTS))
    next(b for b in at.button if b.label == "Show in context").click()
    run(at)
    assert qp(at, "view") == ["browse"] and at.query_params["passage"]


# -- Add documents -------------------------------------------------------------------

NEW_DOC = b"""Chiltern Test Protocol

Gifts

1. Members must register any gift or hospitality worth more than twenty five pounds within 28 days.
"""


def sign_in(at, token: str):
    at.text_input(key="w_token").input(token)
    at.button(key="w_sign_in").click()
    return run(at)


def fill_upload(at, *, token: str, name: str = "chiltern.txt", content: bytes = NEW_DOC,
                authority: str = "Chiltern Test Council", overwrite: bool = False):
    at = sign_in(at, token)
    assert not at.error, [e.value for e in at.error]
    at.file_uploader(key="w_upload").set_value((name, content, "text/plain"))
    at.text_input(key="w_authority").input(authority)
    at.text_input(key="w_title").input("Chiltern Member Officer Protocol")
    at.text_input(key="w_date").input("2021")
    if overwrite:
        at.checkbox(key="w_overwrite").check()
    at.button(key="w_submit").click()
    return run(at)


def test_upload_disabled_without_admin_token(app_env):
    at = run(make_app(view="add"))
    assert at.info and "turned off" in at.info[0].value
    assert not at.get("file_uploader")


@pytest.fixture
def upload_env(monkeypatch, fresh):
    corpus, index_dir = fresh
    monkeypatch.setenv("PROTOCOL_QA_INDEX", str(index_dir))
    monkeypatch.setenv("PROTOCOL_QA_CORPUS", str(corpus))
    monkeypatch.setenv("PROTOCOL_QA_UPLOADS", str(corpus.parent / "uploads"))
    monkeypatch.setenv("PROTOCOL_QA_ADMIN_TOKEN", "s3cret-token")
    return corpus, index_dir


def test_no_file_control_before_the_token_and_a_wrong_token_is_refused_and_logged(upload_env, caplog):
    corpus, _ = upload_env
    uploads = corpus.parent / "uploads"
    at = run(make_app(view="add"))
    assert not at.get("file_uploader")  # nothing a visitor can send a file to
    with caplog.at_level("WARNING", logger="protocol_qa.access"):
        at = sign_in(at, "guess-that-is-wrong")
    assert at.error and "token is not correct" in at.error[0].value
    assert not at.get("file_uploader")
    assert any("wrong administrator token" in r.getMessage() for r in caplog.records)
    assert not any("guess-that-is-wrong" in r.getMessage() for r in caplog.records)
    assert not (uploads / "chiltern.txt").exists()


def test_sign_in_locks_after_repeated_wrong_tokens_across_sessions(upload_env, monkeypatch):
    monkeypatch.setenv("PROTOCOL_QA_ADMIN_TOKEN", "lockout-test-token")  # its own guard
    monkeypatch.setattr("time.sleep", lambda seconds: None)
    from qa.access import SignInPolicy

    for attempt in range(SignInPolicy().max_failures):
        at = sign_in(run(make_app(view="add")), f"wrong-{attempt}")  # a new session each time
        assert "token is not correct" in at.error[0].value
    at = sign_in(run(make_app(view="add")), "lockout-test-token")  # even the right token, now
    assert at.error and "signing in is paused" in at.error[0].value
    assert not at.get("file_uploader")


def test_upload_adds_document_and_updates_index(upload_env):
    corpus, _ = upload_env
    uploads = corpus.parent / "uploads"
    tracked = sorted(p.name for p in corpus.iterdir())
    at = fill_upload(run(make_app(view="add")), token="s3cret-token", name="../../chiltern.txt")
    assert not at.error, [e.value for e in at.error]
    assert (uploads / "chiltern.txt").read_bytes() == NEW_DOC  # its own folder, outside the corpus
    assert not (corpus.parent.parent / "chiltern.txt").exists()
    assert 'authority = "Chiltern Test Council"' in (uploads / "manifest.toml").read_text()
    assert sorted(p.name for p in corpus.iterdir()) == tracked  # nothing written among tracked files
    assert at.success
    at.radio(key="view").set_value("ask")
    run(at)
    at.text_input(key="q_ask").input(GIFTS)
    run(at)
    assert "Chiltern Test Council" in at.multiselect(key="f_authorities").options


def test_upload_does_not_overwrite_silently_and_replaces_when_asked(upload_env):
    from index.hybrid import HybridIndex

    corpus, index_dir = upload_env
    uploads = corpus.parent / "uploads"
    run(fill_upload(run(make_app(view="add")), token="s3cret-token"))
    corrected = NEW_DOC.replace(b"twenty five", b"thirty")
    at = fill_upload(run(make_app(view="add")), token="s3cret-token", content=corrected)
    assert at.error and "has already been added" in at.error[0].value
    assert (uploads / "chiltern.txt").read_bytes() == NEW_DOC
    at = fill_upload(run(make_app(view="add")), token="s3cret-token", content=corrected, overwrite=True,
                     authority="Chiltern Corrected Council")
    assert (uploads / "chiltern.txt").read_bytes() == corrected
    index = HybridIndex.load(index_dir)
    chiltern = [p for p in index.passages if p.source == "chiltern.txt"]
    assert chiltern and all(p.authority == "Chiltern Corrected Council" and "thirty" in p.text for p in chiltern)


@pytest.mark.parametrize("name, saved", [
    ("..\\..\\windows.txt", "windows.txt"),
    (".hidden notes (final).txt", "hidden-notes-final-.txt".replace("-.", ".")),
    ("manifest.md", None),
])
def test_upload_file_names_are_sanitised(upload_env, name, saved):
    corpus, _ = upload_env
    uploads = corpus.parent / "uploads"
    at = fill_upload(run(make_app(view="add")), token="s3cret-token", name=name)
    if saved is None:
        assert at.error and "cannot be used" in at.error[0].value
        assert not uploads.exists() or not any(uploads.iterdir())
    else:
        assert (uploads / saved).read_bytes() == NEW_DOC


def test_upload_size_limit_enforced_before_writing(upload_env, monkeypatch):
    import types

    import ingest.records

    corpus, _ = upload_env
    monkeypatch.setattr(ingest.records, "Limits", lambda: types.SimpleNamespace(max_file_mb=0.0001))
    at = fill_upload(run(make_app(view="add")), token="s3cret-token")
    assert at.error and "the limit is" in at.error[0].value
    assert not (corpus.parent / "uploads" / "chiltern.txt").exists()


# -- a missing or damaged index --------------------------------------------------------

def test_missing_index_is_a_banner(monkeypatch, tmp_path):
    monkeypatch.setenv("PROTOCOL_QA_INDEX", str(tmp_path / "nowhere"))
    at = run(make_app(view="ask", q=GIFTS))
    assert at.error and "could not be loaded" in at.error[0].value
    for view in ("compare", "browse"):
        at.radio(key="view").set_value(view)
        run(at)
        assert at.error


def test_damaged_index_is_a_banner(monkeypatch, tmp_path, built):
    _, index_dir = built
    damaged = tmp_path / "damaged"
    shutil.copytree(index_dir, damaged, symlinks=True)
    for path in sorted(p for p in damaged.rglob("*") if p.is_file() and not p.is_symlink()):
        path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])
    monkeypatch.setenv("PROTOCOL_QA_INDEX", str(damaged))
    at = run(make_app(view="ask", q=GIFTS))
    assert at.error and "could not be loaded" in at.error[0].value


# -- the Monitoring Officer's record ------------------------------------------------------

def test_nothing_is_kept_unless_a_feedback_button_is_pressed(app_env, tmp_path):
    import os

    from qa.record import Record

    db = Path(os.environ["PROTOCOL_QA_DB"])
    at = run(make_app(view="ask", q=GIFTS))
    assert not db.exists()  # asking stores nothing
    at.button(key="fb_no").click()
    run(at)
    assert at.success and "review queue" in at.success[0].value
    queue = Record(db).review_queue()
    assert [(f.question, f.verdict, f.view) for f in queue] == [(GIFTS, "not_answered", "ask")]


def test_a_verified_interpretation_is_shown_first_and_marked(app_env):
    import os

    from index.hybrid import HybridIndex
    from qa.record import Record

    _, index_dir = app_env
    index = HybridIndex.load(index_dir)
    top = next(p for p in index.passages if "register any gift or hospitality" in p.text)
    Record(os.environ["PROTOCOL_QA_DB"]).verify(GIFTS, [top.id], "Register within 28 days.", "A. Jones", index)
    at = run(make_app(view="ask", q=GIFTS))
    verified = [s.value for s in at.success]
    # Markdown-escaped as every user-supplied string is ("A&#46; Jones" shows as "A. Jones")
    assert verified and verified[0].startswith("Verified by A") and "Jones (Monitoring Officer)" in verified[0]
    assert "Register within 28 days." in [t.value for t in at.text]
    assert GIFTS in [t.value for t in at.text]  # the question it was verified for


def test_a_signed_in_monitoring_officer_records_an_interpretation_from_an_answer(upload_env):
    import os

    from qa.record import Record

    at = run(make_app(view="add"))
    at = sign_in(at, "s3cret-token")
    at.radio(key="view").set_value("ask")
    run(at)
    at.text_input(key="q_ask").input(GIFTS)
    run(at)
    clauses = at.multiselect(key="v_clauses")
    clauses.select(clauses.options[0])
    at.text_area(key="v_note").input("Register within 28 days.")
    at.text_input(key="v_by").input("A. Jones")
    at.button(key="v_submit").click()
    run(at)
    assert any(s.value.startswith("Recorded as v-") for s in at.success), [s.value for s in at.success]
    made = Record(os.environ["PROTOCOL_QA_DB"]).interpretations()
    assert [(m.question, m.by) for m in made] == [(GIFTS, "A. Jones")]


def test_the_record_view_lists_what_needs_re_verification_and_the_feedback_queue(upload_env):
    import os

    from index.embed import FakeEmbedder
    from index.hybrid import HybridIndex
    from index.update import update_index
    from qa.record import Record

    corpus, index_dir = upload_env
    index = HybridIndex.load(index_dir)
    record = Record(os.environ["PROTOCOL_QA_DB"])
    gifts = next(p for p in index.passages if "fifty pounds" in p.text and p.source == "ashford-protocol.txt")
    record.verify(GIFTS, [gifts.id], "Register within 28 days.", "A. Jones", index)
    waiting = record.add_feedback("Can I use the council printer for leaflets?", "ask", "not_answered")
    path = corpus / "ashford-protocol.txt"
    path.write_text(path.read_text().replace("fifty pounds", "twenty pounds"))
    update_index([corpus], index_dir, FakeEmbedder())

    at = run(make_app(view="record"))
    assert [s.value for s in at.subheader][:2] == ["Needs re-verification (1)", "Verified (0)"]
    assert "has changed since it was verified" in at.warning[0].value
    assert not at.get("button") or all("confirm-" not in b.key for b in at.button)  # reviewing needs sign-in
    at.radio(key="view").set_value("add")
    run(at)
    at = sign_in(at, "s3cret-token")
    at.radio(key="view").set_value("record")
    run(at)
    at.button(key=f"confirm-{waiting.id}").click()
    run(at)
    assert record.feedback(waiting.id).state == "confirmed"


def test_after_this_did_not_the_user_can_pick_the_clause_that_does_answer(app_env):
    import os

    from qa.record import Record

    at = run(make_app(view="ask", q=GIFTS))
    at.button(key="fb_no").click()
    run(at)
    picker = at.selectbox(key="fb_right")
    wanted = next(option for option in picker.options if "register any gift or hospitality" in option)
    picker.select(wanted)
    at.button(key="fb_right_submit").click()
    run(at)
    assert any("will see the clause you picked" in s.value for s in at.success), [s.value for s in at.success]
    from index.hybrid import HybridIndex

    index = HybridIndex.load(app_env[1])
    picked = [p.id for p in index.passages if wanted.endswith(p.text[:90]) or p.text[:90] in wanted]
    [item] = Record(os.environ["PROTOCOL_QA_DB"]).review_queue()
    assert item.verdict == "not_answered" and item.right_passage_id in picked


def test_with_an_identity_provider_configured_the_token_is_not_offered_and_no_one_signed_out_may_verify(upload_env):
    at = make_app(view="add")
    at.secrets["auth"] = {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "x" * 32,
                          "client_id": "protocol-qa", "client_secret": "y",
                          "server_metadata_url": "http://127.0.0.1:9/.well-known/openid-configuration"}
    run(at)
    assert not at.get("text_input") or all(t.key != "w_token" for t in at.text_input)
    assert any("sign in from the sidebar" in i.value for i in at.info), [i.value for i in at.info]
    assert any(b.key == "oidc_sign_in" for b in at.sidebar.button)
    at.radio(key="view").set_value("ask")
    run(at)
    at.text_input(key="q_ask").input(GIFTS)
    run(at)
    assert not at.get("multiselect") or all(m.key != "v_clauses" for m in at.multiselect)
