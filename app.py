"""protocol-qa in the browser: Ask, Compare, Browse and Add documents.

This file wires the ``qa`` package to Streamlit and renders; it holds no
retrieval logic. Every string from a document, a manifest or a user is shown
as text: through ``st.text``/``st.code``, or escaped by ``qa.render`` before it
reaches an ``st.html`` block.

Run with ``make run`` (``streamlit run app.py``). Environment:
``PROTOCOL_QA_INDEX``, ``PROTOCOL_QA_CORPUS``, ``PROTOCOL_QA_ENCODER``, and
``PROTOCOL_QA_ADMIN_TOKEN`` (uploads are off unless it is set, or people sign in through the
council's identity provider: ``[auth]`` in ``.streamlit/secrets.toml`` with ``PROTOCOL_QA_REVIEWERS``).
"""

from __future__ import annotations

import logging
import os
import textwrap
import time
from dataclasses import replace
from types import SimpleNamespace
from pathlib import Path

import streamlit as st

from qa import render
from qa.config import Settings
from qa.render import AppState

log = logging.getLogger("protocol_qa.app")

st.set_page_config(page_title="protocol-qa", page_icon=":scroll:", layout="wide")
st.html(render.STYLE)

SETTINGS = Settings.from_env()
SUGGESTIONS = (
    "Use the words a protocol would use: 'members' or 'councillors', 'officers' or 'staff'.",
    "Name the role rather than the person: 'the Monitoring Officer', 'the Chief Executive', 'a ward member'.",
    "Ask one thing at a time, for example: 'Can a councillor instruct an officer?'",
)


# -- shared resources: one per server process, shared by every session -------------

def index_stamp(index_dir: Path) -> tuple:
    """Changes whenever a new index version is published (one atomic rename on disk; with
    Milvus, one document's new generation in the catalog)."""
    from index.store import current_name

    if SETTINGS.index_uri:
        from index import milvus

        try:
            return ("milvus", milvus.catalog_stamp(milvus.shared_client(SETTINGS.index_location)))
        except Exception:  # noqa: BLE001 - opening the index reports the problem in the user's words
            return ("milvus", "unreachable")

    name = current_name(index_dir)
    if name:
        return ("current", name)
    try:
        top = index_dir.stat()
        entries = sorted((e.name, e.stat().st_mtime_ns, e.stat().st_size) for e in os.scandir(index_dir))
    except OSError:
        return ("missing",)
    return (top.st_ino, top.st_mtime_ns, tuple(entries))


@st.cache_resource(show_spinner="Loading the language model (first visit only)…")
def get_embedder(encoder: str):
    from index.embed import load_embedder

    return load_embedder(encoder)


@st.cache_resource(max_entries=2, show_spinner="Loading the index of documents…")
def get_answerer(index_dir: str, encoder: str, stamp: tuple):
    """The loaded index and model; a new index on disk (new ``stamp``) gives a new
    answerer, while sessions already running keep the previous one until it is ready."""
    from qa.service import open_answerer

    return open_answerer(replace(SETTINGS, index_dir=Path(index_dir), encoder=encoder),
                         embedder=get_embedder(encoder))


@st.cache_resource(max_entries=4, show_spinner="Checking every standard topic against every council…")
def get_coverage(_answerer, stamp: tuple, authorities: tuple[str, ...]):
    from qa.coverage import coverage_matrix

    return coverage_matrix(_answerer, authorities=list(authorities) or None)


def load_answerer():
    """The answerer, or None after showing why the index could not be loaded."""
    stamp = index_stamp(Path(SETTINGS.index_dir))
    try:
        return get_answerer(str(SETTINGS.index_dir), SETTINGS.encoder, stamp), stamp
    except Exception as exc:  # the index's errors say how to rebuild; show them, never crash
        log.warning("index could not be loaded: %s", type(exc).__name__)
        st.error(f"The index could not be loaded. {exc}", icon=":material/error:")
        st.caption("An administrator can rebuild it with `protocol-qa ingest corpus` (or `make index`).")
        return None, stamp


# -- state: the URL is the source of truth when a session starts --------------------

def read_state() -> AppState:
    return render.decode_state({key: st.query_params.get_all(key) for key in st.query_params.keys()})


def init_session(state: AppState) -> None:
    if st.session_state.get("_started"):
        return
    st.session_state.update({
        "_started": True, "view": state.view, "question": state.question,
        "f_authorities": list(state.authorities), "f_kinds": list(state.kinds),
        "f_statuses": list(state.statuses), "passage": state.passage, "document": state.document,
        "coverage": state.coverage,
    })


def current_state() -> AppState:
    ss = st.session_state
    return AppState(view=ss.get("view", "ask"), question=ss.get("question", ""),
                    authorities=tuple(ss.get("f_authorities", [])), kinds=tuple(ss.get("f_kinds", [])),
                    statuses=tuple(ss.get("f_statuses", [])), passage=ss.get("passage", ""),
                    document=ss.get("document", ""), coverage=bool(ss.get("coverage", False)))


def go(view: str, **changes) -> None:
    """Button callback: switch view and set state (runs before the next script run)."""
    st.session_state["view"] = view
    for key, value in changes.items():
        st.session_state[key] = value


def copy_widget(widget_key: str, state_key: str) -> None:
    st.session_state[state_key] = st.session_state[widget_key]


def synced(widget, state_key: str, widget_key: str, *args, **kwargs):
    """A widget bound to a plain session key that outlives the widget.

    Streamlit forgets a widget's value on runs where it is not drawn (another
    view); the plain key keeps it, so a question or clause survives switching
    views and is what the URL records.
    """
    st.session_state[widget_key] = st.session_state.get(state_key)
    on_change = kwargs.pop("on_change", None)

    def changed() -> None:
        copy_widget(widget_key, state_key)
        if on_change:
            on_change()

    return widget(*args, key=widget_key, on_change=changed, **kwargs)


def question_box(label: str, key: str) -> str:
    """A question input whose value survives switching between Ask and Compare."""
    st.session_state.setdefault("question", "")
    return synced(st.text_input, "question", key, label, max_chars=render.MAX_URL_QUESTION,
                  placeholder="Can a councillor tell me to change my report?")


# -- rendering pieces ----------------------------------------------------------------

def show_badges(kind: str, status: str, attribution: str) -> None:
    # Labels and colours are the fixed strings of render.BADGES, never document text.
    found = render.badges(kind, status, attribution)
    if found:
        st.markdown(" ".join(f":{colour}-badge[{label}]" for label, colour in found))


def show_citation(record: dict) -> None:
    from qa.cli import citation

    st.code(citation(record), language=None, wrap_lines=True)


def show_result(result, where: str, *, answerer=None) -> None:
    p = result.passage
    with st.container(border=True):
        place = " · ".join(x for x in (p.section, f"clause {p.clause}" if p.clause else "") if x)
        st.html(f'<div class="pqa-head">{result.rank}. {render.escape(p.authority)}</div>'
                f'<div class="pqa-muted">{render.escape(p.document)}'
                f'{" — " + render.escape(place) if place else ""}</div>')
        show_badges(p.kind, p.status, p.attribution)
        st.html(render.clause_html(p.text, result.highlight))
        show_citation(result.to_dict())
        clause_actions(answerer, p, where)


def clause_actions(answerer, p, where: str) -> None:
    """'Show in context' and, opened in place under the clause, other councils' equivalents."""
    left, right = st.columns([1, 2.5])
    if where != "browse":
        left.button("Show in context", key=f"ctx-{where}-{p.id}", on_click=go,
                    args=("browse",), kwargs={"passage": p.id, "document": p.source})
    if answerer is not None and right.toggle("Other councils' equivalents", key=f"eq-{where}-{p.id}"):
        show_equivalent_list(answerer, answerer.index.position_of(p.id))


def show_interpretation(notes) -> None:
    if notes:
        st.caption("Interpreted as")
        st.text("; ".join(notes))


# -- views ---------------------------------------------------------------------------

def view_ask(answerer, state: AppState) -> None:
    question = question_box("Your question", "q_ask")
    if not question.strip():
        st.info("Ask what a councillor or officer may or must do. Every answer is a clause quoted "
                "word for word, with where it comes from.")
        return
    with st.spinner("Searching the documents…"):
        answer = answerer.ask(question, top_k=SETTINGS.top_k, authorities=list(state.authorities) or None,
                              kinds=list(state.kinds) or None, statuses=list(state.statuses) or None)
    log.info("ask: %d characters, answered=%s", len(question), answer.answered)
    show_interpretation(answer.interpretation)
    if not answer.answered:
        st.warning(render.md_literal(answer.message), icon=":material/help:")
        if answer.interpretation or answer.results:
            st.caption("Suggestions")
            for tip in SUGGESTIONS:
                st.text("• " + tip)
            st.button("Compare councils on this question", key="suggest-compare", on_click=go, args=("compare",))
        if answer.results:
            with st.expander("Nearest passages, shown for transparency (not an answer)"):
                for result in answer.results:
                    show_result(result, "near", answerer=answerer)
        return
    show_verified(answer, question, answerer)
    for result in answer.results:
        show_result(result, "ask", answerer=answerer)
    from qa.compare import answer_csv, answer_markdown

    left, right = st.columns(2)
    left.download_button("Download CSV", answer_csv(answer), file_name="answer.csv", mime="text/csv",
                         key="dl_ask_csv")
    right.download_button("Download Markdown", answer_markdown(answer), file_name="answer.md",
                          mime="text/markdown", key="dl_ask_md")
    feedback_buttons(question, answer, answerer.index)
    if signed_in_reviewer():
        verify_form(answerer, question, answer)


@st.cache_resource(show_spinner=False)
def get_record(db: str):
    from qa.record import Record

    record = Record(db)
    record.purge_feedback(SETTINGS.feedback_days)  # the retention period, once per server process
    return record


def existing_record():
    """The record when its database exists: reading a page never creates one."""
    from qa.record import database_url

    url = database_url(SETTINGS.db)
    if url.startswith("sqlite:///") and not Path(url[len("sqlite:///"):]).is_file():
        return None
    return get_record(SETTINGS.db)


@st.cache_resource(show_spinner=False)
def get_question_matcher(_embedder, fingerprint: str):
    """The verified-question matcher fitted for this encoder, or None (then the clause rule)."""
    from qa.question_match import QuestionMatcher

    return QuestionMatcher.for_embedder(_embedder)


def show_verified(answer, question: str, answerer) -> None:
    """Verified interpretations of a question close in meaning, above the ranked clauses."""
    record = existing_record()
    if record is None or not answer.results:
        return
    matcher = get_question_matcher(answerer.embedder, answerer.embedder.fingerprint)
    for item in record.matching(question, [r.passage.id for r in answer.results], answerer.index, matcher=matcher):
        data = item.to_dict()
        with st.container(border=True):
            when = long_date(data["date"])
            if data["stale"]:
                st.warning(f"Needs re-verification: verified by {render.md_literal(data['by'])} "
                           f"({render.md_literal(data['role'])}), {when}, but "
                           + render.md_literal("; ".join(data["stale_reasons"])), icon=":material/history:")
            else:
                st.success(f"Verified by {render.md_literal(data['by'])} ({render.md_literal(data['role'])}), {when}",
                           icon=":material/verified:")
            st.caption("For the question (check yours is the same):")
            st.text(data["question"])
            st.text(data["note"])
            st.caption("Resting on: " + render.md_literal("; ".join(
                f"{c['authority']} {c['clause'] or c['source']}" for c in data["clauses"])))


def long_date(iso: str) -> str:
    """``2027-03-03`` as ``3 March 2027``."""
    import datetime as dt

    day = dt.date.fromisoformat(iso[:10])
    return f"{day.day} {day:%B %Y}"


def feedback_buttons(question: str, answer, index) -> None:
    """Nothing of a question is kept unless the user presses one of these."""
    left, right = st.columns(2)
    top = answer.results[0].passage if answer.results else None
    verdict = None
    if left.button("This answered my question", key="fb_yes", icon=":material/thumb_up:"):
        verdict = "answered"
    if right.button("This did not", key="fb_no", icon=":material/thumb_down:"):
        verdict = "not_answered"
    if verdict:
        item = get_record(SETTINGS.db).add_feedback(question, "ask", verdict, passage_id=top.id if top else None,
                                                    authority=top.authority if top else None)
        st.session_state["feedback_item"] = (question, item.id, item.version) if verdict == "not_answered" else None
        st.success("Thank you: your feedback is in the Monitoring Officer's review queue.")
    pending = st.session_state.get("feedback_item")
    if pending and pending[0] == question and top is not None:
        right_clause_form(answer, index, *pending[1:])


def right_clause_form(answer, index, item_id: str, version: int) -> None:
    """After "this did not": the clause that does answer, picked from the answer's documents (optional)."""
    from qa.record import Conflict

    documents = {(r.passage.authority, r.passage.source) for r in answer.results}
    choices = {f"{p.authority} · {p.clause or p.section} · {p.text[:90]}": p.id for p in index.passages
               if (p.authority, p.source) in documents}
    with st.form("right_clause"):
        picked = st.selectbox("Which clause does answer it? (optional)", list(choices), index=None,
                              placeholder="Choose from these documents' clauses", key="fb_right")
        if st.form_submit_button("Send the right clause", key="fb_right_submit") and picked:
            try:
                get_record(SETTINGS.db).set_right_passage(item_id, choices[picked], version=version)
            except Conflict as exc:
                st.error(render.md_literal(str(exc)))
            else:
                st.session_state["feedback_item"] = None
                st.success("Thank you: the Monitoring Officer will see the clause you picked.")


def verify_form(answerer, question: str, answer) -> None:
    """The Monitoring Officer records how the clauses apply (signed-in sessions only)."""
    labels = {f"{r.passage.authority} {r.passage.clause or r.passage.section}": r.passage.id for r in answer.results}
    with st.expander("Record a verified interpretation (Monitoring Officer)"):
        with st.form("verify"):
            chosen = st.multiselect("The clauses that govern it", list(labels), key="v_clauses")
            note = st.text_area("How they apply, in your words", key="v_note")
            by = st.text_input("Your name", value=signed_in_reviewer().name, key="v_by")
            role = st.text_input("Your role", value="Monitoring Officer", key="v_role")
            review = st.date_input("Review by", value=None, key="v_review")
            if st.form_submit_button("Record as verified", key="v_submit"):
                from qa.record import RecordError

                try:
                    made = get_record(SETTINGS.db).verify(question, [labels[c] for c in chosen], note, by,
                                                          answerer.index, role=role,
                                                          review_by=review.isoformat() if review else None,
                                                          signed_in_as=signed_in_reviewer().who)
                except RecordError as exc:
                    st.error(f"Not recorded: {render.md_literal(str(exc))}")
                else:
                    st.success(f"Recorded as {made.id}.")


def view_record(answerer) -> None:
    """The Monitoring Officer's record: interpretations needing re-verification first, then the rest,
    and (signed in) the feedback queue to confirm or dismiss."""
    record = existing_record()
    if record is None:
        st.info("Nothing has been verified or sent as feedback yet.")
        return
    items = record.interpretations(answerer.index)
    stale = [i for i in items if i.staleness.stale]
    st.subheader(f"Needs re-verification ({len(stale)})")
    for item in stale:
        with st.container(border=True):
            st.warning(render.md_literal(f"{item.id}: " + "; ".join(item.staleness.reasons)), icon=":material/history:")
            st.text(item.question)
            st.text(item.note)
            for change in item.staleness.changes:
                if change["diff"]:
                    st.html(render.diff_html(SimpleNamespace(**piece) for piece in change["diff"]))
    st.subheader(f"Verified ({len(items) - len(stale)})")
    for item in items:
        if not item.staleness.stale:
            st.text(f"{item.id} · {item.by} ({item.role}), {item.created[:10]} · {item.question}")
    reviewer = signed_in_reviewer()
    if reviewer is None:
        st.caption("Sign in with the Monitoring Officer's role to review the feedback"
                   + (" (in the sidebar)." if oidc_configured() else " (under Add documents)."))
        return
    st.download_button("Download the audit log (CSV)", record.export_audit("csv"), file_name="audit.csv",
                       mime="text/csv", key="dl_audit")
    queue = record.review_queue()
    st.subheader(f"Feedback to review ({len(queue)})")
    from qa.record import Conflict

    for item in queue:
        with st.container(border=True):
            st.text(f"{item.created[:10]} · {item.view}: {item.verdict.replace('_', ' ')} · {item.question}")
            clause_id = item.right_passage_id or item.passage_id
            position = answerer.index.position_of(clause_id) if clause_id else None
            clause = answerer.index.passages[position] if position is not None else None
            if clause is not None:
                st.caption(("The clause the user picked: " if item.right_passage_id else "The first answer shown: ")
                           + render.md_literal(f"{clause.authority} {clause.clause or clause.section}"))
                st.text(textwrap.shorten(clause.text, 400, placeholder=" …"))
            left, right = st.columns(2)
            state = None
            if left.button("Confirm", key=f"confirm-{item.id}"):
                state = "confirmed"
            if right.button("Dismiss", key=f"dismiss-{item.id}"):
                state = "dismissed"
            if state:
                try:
                    record.handle(item.id, state, reviewer.who, version=item.version)
                    st.success(f"{item.id} {state}.")
                except Conflict as exc:
                    st.error(render.md_literal(str(exc)))
            if clause is not None:
                verify_from_feedback(record, answerer, item, clause, reviewer)


def verify_from_feedback(record, answerer, item, clause, reviewer) -> None:
    """Turn a feedback item into a verified interpretation resting on its clause."""
    from qa.record import Conflict, RecordError

    with st.expander("Record a verified interpretation from this"):
        with st.form(f"verify-{item.id}"):
            note = st.text_area("How the clause applies, in your words", key=f"vf_note-{item.id}")
            by = st.text_input("Your name", value=reviewer.name, key=f"vf_by-{item.id}")
            role = st.text_input("Your role", value="Monitoring Officer", key=f"vf_role-{item.id}")
            if not st.form_submit_button("Record as verified", key=f"vf_submit-{item.id}"):
                return
    try:
        made = record.verify(item.question, [clause.id], note, by, answerer.index, role=role,
                             signed_in_as=reviewer.who)
        record.handle(item.id, "verified", reviewer.who, version=item.version)
    except (RecordError, Conflict) as exc:
        st.error(f"Not recorded: {render.md_literal(str(exc))}")
    else:
        st.success(f"Recorded as {made.id}.")


def view_compare(answerer, state: AppState, stamp: tuple) -> None:
    from qa.compare import compare, to_csv, to_markdown
    from qa.compare_rows import compare_rows

    authorities = filtered_authorities(answerer, state)
    show_equivalents(answerer, state)  # a shared link to a clause's equivalents
    question = question_box("Question to compare across councils", "q_compare")
    if question.strip():
        with st.spinner("Comparing councils…"):
            comparison = compare(answerer, question, authorities=authorities or None)
        log.info("compare: %d characters, %d authorities", len(question), len(comparison.authorities))
        if comparison.message:
            st.warning(render.md_literal(comparison.message))
        else:
            show_interpretation(comparison.interpretation)
            found = sum(entry.found for entry in comparison.authorities)
            st.caption(f"{found} of {len(comparison.authorities)} councils address this question. "
                       "The national model code is shown first; open a council's row for its full clauses, "
                       "citations and equivalents.")
            for entry, row in zip(comparison.authorities, compare_rows(comparison)):
                show_compare_row(answerer, entry, row)
            left, right, _ = st.columns([1, 1, 3])
            left.download_button("Download CSV", to_csv([comparison]), file_name="comparison.csv",
                                 mime="text/csv", key="dl-csv")
            right.download_button("Download Markdown", to_markdown([comparison]), file_name="comparison.md",
                                  mime="text/markdown", key="dl-md")
    st.divider()
    synced(st.toggle, "coverage", "w_coverage", "Coverage matrix: standard topics against councils")
    if st.session_state.get("coverage"):
        show_coverage(answerer, state, stamp, authorities)


def show_compare_row(answerer, entry, row) -> None:
    """One council on one line or two: its clause and excerpt, or why it is silent; the full clauses
    open below."""
    with st.container(border=True):
        best = entry.results[0].passage if entry.results else (entry.nearest.passage if entry.nearest else None)
        st.html(render.compare_row_html(row, render.badges(entry.kind, best.status if best else "",
                                                           best.attribution if best else "")))
        shown = entry.results if entry.found else [entry.nearest] if entry.nearest else []
        if not shown:
            return
        label = ("The clause in full, with its citation" + (f", and {row.more} more" if row.more else "")
                 if entry.found else "The nearest clause in full (not an answer)")
        with st.expander(label):
            for result in shown:
                p = result.passage
                st.html(f'<div class="pqa-muted">{render.escape(p.document)} — '
                        f'{render.escape(render.place_label(p.section, p.clause))}</div>'
                        + render.clause_html(p.text, result.highlight))
                show_citation(result.to_dict())
                clause_actions(answerer, p, "cmp")


def passage_position(answerer, passage_id: str) -> int | None:
    return answerer.index.position_of(passage_id) if passage_id else None


def show_equivalents(answerer, state: AppState) -> None:
    """The equivalents of the clause a shared link names (``?view=compare&passage=ID``)."""
    position = passage_position(answerer, state.passage)
    if position is None:
        if state.passage:
            st.warning("That clause is no longer in the index; the documents may have been updated.")
        return
    chosen = answerer.index.passages[position]
    with st.container(border=True):
        st.header("Equivalent clauses in other councils")
        st.html(f'<div class="pqa-muted">Chosen clause: {render.escape(chosen.authority)} — '
                f'{render.escape(render.place_label(chosen.section, chosen.clause))}</div>'
                + render.clause_html(chosen.text))
        st.button("Clear", key="eq-clear", on_click=go, args=("compare",), kwargs={"passage": ""})
        show_equivalent_list(answerer, position)


def show_equivalent_list(answerer, position: int | None) -> None:
    """Each other council's equivalent of a clause, compared item by item; clauses on the same
    subject in other words are listed apart, as not equivalents."""
    from qa.equivalents import find_equivalents

    if position is None:
        st.warning("That clause is no longer in the index; the documents may have been updated.")
        return
    found = find_equivalents(answerer.index, position)
    same = [eq for eq in found if eq.equivalent]
    other = [eq for eq in found if not eq.equivalent]
    if not same:
        st.info("No other council has this clause in the same or nearly the same words.")
    else:
        st.caption("Green underlined words appear only in the other council's clause; "
                   "red struck-through words only in this one.")
    for eq in same:
        st.html(render.equivalent_html(eq, AppState(view="browse")))
    if other:
        st.caption("On the same subject in other words (not equivalents)")
        for eq in other:
            st.html(render.equivalent_html(eq, AppState(view="browse"), diff=False))


def show_coverage(answerer, state: AppState, stamp: tuple, authorities: list[str]) -> None:
    from qa.coverage import cell_label, coverage_csv

    matrix = get_coverage(answerer, stamp, tuple(authorities))
    cells = {}
    for topic in matrix.topics:
        for authority in matrix.authorities:
            cell = matrix.cell(topic.name, authority)
            best = cell.best.passage if cell.best else None
            cells[(topic.name, authority)] = render.CoverageCellView(
                cell.found, best.id if best else "", cell_label(cell) if best else "",
                render.place_label(best.section, best.clause) if best else "")
    st.caption("Each covered cell links to the clause; red cells are topics the council's documents do not address.")
    st.html(render.coverage_html([t.name for t in matrix.topics], matrix.authorities, cells, state))
    st.download_button("Download the matrix (CSV)", coverage_csv(matrix), file_name="coverage.csv", mime="text/csv",
                       key="dl_coverage")


def view_browse(answerer, state: AppState) -> None:
    documents = [d for d in answerer.index.documents if document_allowed(d, state)]
    if not documents:
        st.info("No documents match the filters in the sidebar.")
        return
    position = passage_position(answerer, state.passage)
    sources = [d["source"] for d in documents]
    if position is not None and answerer.index.passages[position].source in sources:
        st.session_state["document"] = answerer.index.passages[position].source
    elif st.session_state.get("document") not in sources:
        st.session_state["document"] = sources[0]
    labels = {d["source"]: f'{d["authority"]} — {d["title"]}' for d in documents}
    source = synced(st.selectbox, "document", "w_document", "Document", sources,
                    format_func=labels.__getitem__, on_change=lambda: st.session_state.update(passage=""))
    document = next(d for d in documents if d["source"] == source)

    show_badges(document["kind"], document["status"], document["attribution"])
    details = [("Authority", document["authority"]), ("Title", document["title"]),
               ("Kind", document["kind"].replace("_", " ")), ("Status", document["status"]),
               ("Date", document.get("date") or "not stated"), ("Attribution", document["attribution"]),
               ("Source file", document["source"]), ("Note", document.get("note", ""))]
    st.html('<table class="pqa-cov">' + "".join(
        f'<tr><th class="pqa-topic">{render.escape(k)}</th><td style="text-align:left">{render.escape(v)}</td></tr>'
        for k, v in details) + "</table>")
    offer_source(document)

    passages = [(i, p) for i, p in enumerate(answerer.index.passages) if p.source == source]
    st.header("Contents")
    toc = [{"section": p.section, "clause": p.clause, "pages": render.pages_label(p.pages),
            "begins": p.text[:90]} for _, p in passages]
    st.dataframe(toc, hide_index=True, width="stretch", height=240)
    ids = [p.id for _, p in passages]
    names = {p.id: f'{p.section or "(no heading)"} · {p.clause or "¶"} · {p.text[:60]}' for _, p in passages}
    if not ids:
        st.info("This document has no passages in the index.")
        return
    if st.session_state.get("passage") not in ids:
        st.session_state["passage"] = ids[0]
    picked = synced(st.selectbox, "passage", "w_passage", "Clause", ids, format_func=names.__getitem__)
    at = ids.index(picked)
    p = passages[at][1]
    st.header("In context")
    pdf_pages = [n for n in (p.pages or [])[:2]] if str(document.get("source", "")).lower().endswith(".pdf") else []
    text_side, page_side = st.columns(2) if pdf_pages else (st.container(), None)
    with text_side:
        if not pdf_pages:
            st.caption("This document is not a PDF: the clause is shown in its extracted text, "
                       "between the clauses around it.")
        for _, before in passages[max(0, at - 2):at]:
            st.html(f'<div class="pqa-context">{render.clause_html(before.text)}</div>')
        with st.container(border=True):
            st.html(render.clause_html(p.text, p.text))
            show_citation(p.to_dict())
            clause_actions(answerer, p, "browse")
        for _, after in passages[at + 1:at + 3]:
            st.html(f'<div class="pqa-context">{render.clause_html(after.text)}</div>')
    if page_side is not None:
        with page_side:
            for number in pdf_pages:
                show_pdf_page(document, number, p.text)


def source_path(document: dict) -> Path | None:
    """The document's file, only if it lies inside the corpus folder."""
    corpus = Path(SETTINGS.corpus_dir).resolve()
    for candidate in (document.get("path"), corpus / document.get("source", "")):
        if not candidate:
            continue
        path = Path(candidate).resolve()
        if path.is_file() and path.is_relative_to(corpus):
            return path
    return None


def offer_source(document: dict) -> None:
    path = source_path(document)
    if path is None:
        st.caption("The source file is not available on this server.")
        return
    st.download_button("Download the source file", path.read_bytes(), file_name=path.name,
                       key=f"src-{path.name}")


@st.cache_data(max_entries=64, show_spinner=False)
def pdf_page_text(path: str, mtime_ns: int, page: int) -> str:
    from pypdf import PdfReader

    reader = PdfReader(path)
    return reader.pages[page - 1].extract_text() or ""


@st.cache_data(max_entries=32, show_spinner="Drawing the page…")
def pdf_page_image(path: str, mtime_ns: int, page: int, clause: str):
    from qa.pages import clause_marks, render_page

    return render_page(path, page, clause_marks(clause))


def show_pdf_page(document: dict, page: int, clause: str) -> None:
    """The cited page as printed, the clause marked, and the page's extracted text for screen readers."""
    path = source_path(document)
    if path is None:
        st.caption("The PDF is not available on this server, so its page cannot be shown.")
        return
    try:
        image = pdf_page_image(str(path), path.stat().st_mtime_ns, page, clause)
    except Exception as exc:  # a damaged PDF must not break the page
        log.warning("page %d of %s could not be drawn: %s", page, path.name, type(exc).__name__)
        st.caption(f"Page {page} could not be drawn ({type(exc).__name__}).")
        return
    st.html(render.page_image_html(image.png, page, image.pages, document.get("title", path.name), image.marked))
    with st.expander(f"Page {page}'s extracted text"):
        try:
            st.text(pdf_page_text(str(path), path.stat().st_mtime_ns, page))
        except Exception as exc:
            st.caption(f"The page's text could not be read ({type(exc).__name__}).")


@st.cache_resource(show_spinner=False)
def get_sign_in_guard(secret: str):
    """One guard per server process: wrong tokens are counted across every session."""
    from qa.access import SignInGuard

    return SignInGuard(secret)


def session_id() -> str:
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    context = get_script_run_ctx()
    return context.session_id if context else ""


def oidc_configured() -> bool:
    """Whether the council's identity provider is configured (``[auth]`` in .streamlit/secrets.toml)."""
    try:
        return "auth" in st.secrets
    except Exception:  # no secrets file at all: Streamlit raises rather than answering no
        return False


def signed_in_reviewer():
    """The person signed in with the Monitoring Officer's role, or None.

    Through the identity provider when one is configured (the e-mail address it vouches for,
    on the PROTOCOL_QA_REVIEWERS list); otherwise through the administrator token."""
    from qa.access import Reviewer, may_review

    if oidc_configured():
        if not st.user.get("is_logged_in", False):
            return None
        email = st.user.get("email") or ""
        if may_review(email, SETTINGS.reviewers, roles=st.user.get("roles"), reviewer_role=SETTINGS.reviewer_role):
            return Reviewer(st.user.get("name") or email, email or str(st.user.get("sub", "")), "oidc")
        return None
    if st.session_state.get("admin_signed_in"):
        return Reviewer("", "", "token")
    return None


def account_panel() -> None:
    """The sidebar's sign-in through the council's identity provider (when configured)."""
    if not oidc_configured():
        return
    st.divider()
    if not st.user.get("is_logged_in", False):
        st.caption("Monitoring Officer and deputies: sign in to verify and review feedback.")
        if st.button("Sign in", key="oidc_sign_in", icon=":material/login:"):
            st.login()
        return
    email = st.user.get("email") or "no e-mail address"
    st.caption(f"Signed in as {render.md_literal(email)}")
    if signed_in_reviewer() is None:
        st.caption("This account may read but not verify: ask for it to be added to PROTOCOL_QA_REVIEWERS "
                   "or given the reviewers' role.")
    if st.button("Sign out", key="oidc_sign_out", icon=":material/logout:"):
        st.logout()


def view_add(answerer, stamp: tuple) -> None:
    st.header("Add documents")
    if oidc_configured():
        if signed_in_reviewer() is None:
            st.info("Adding documents needs the Monitoring Officer's role: sign in from the sidebar.")
            return
    elif not SETTINGS.admin_token:
        st.info("Adding documents is turned off on this server. An administrator can turn it on by "
                "setting PROTOCOL_QA_ADMIN_TOKEN before starting the app; everyone can still read.")
        return
    elif not st.session_state.get("admin_signed_in"):
        sign_in()  # the file control is shown only after: a visitor cannot make the server hold a file
        return
    with st.form("upload", clear_on_submit=False):
        upload = st.file_uploader("Document (PDF, Word .docx, HTML or text)", key="w_upload",
                                  type=[s.lstrip(".") for s in render.UPLOAD_SUFFIXES])
        authority = st.text_input("Authority (the council, as a reader would cite it)", key="w_authority")
        title = st.text_input("Title", key="w_title")
        kind = st.selectbox("Kind", render.KINDS)
        status = st.selectbox("Status", render.STATUSES)
        date = st.text_input("Date (YYYY, YYYY-MM or YYYY-MM-DD; empty if not known)", key="w_date")
        attribution = st.selectbox("Attribution", render.ATTRIBUTIONS,
                                   help="stated: the document names its council; inferred: named from its content")
        note = st.text_area("Note (provenance a Monitoring Officer should see)")
        overwrite = st.checkbox("Replace the existing document of the same name", key="w_overwrite")
        submitted = st.form_submit_button("Add to the corpus", key="w_submit")
    if not oidc_configured() and st.button("Sign out", key="w_sign_out"):
        st.session_state["admin_signed_in"] = False
        st.rerun()
    if not submitted:
        return
    if upload is None:
        st.error("Choose a file to upload.")
        return
    try:
        path = save_upload(upload, overwrite, dict(authority=authority, title=title, kind=kind, status=status,
                                                  date=date, attribution=attribution, note=note))
    except render.UploadRefused as exc:
        st.error(f"Not added: {exc}")
        return
    ingest_upload(path)


def sign_in() -> None:
    from qa.access import SignIn

    st.caption("Adding documents needs the administrator token.")
    with st.form("sign_in", clear_on_submit=True):
        token = st.text_input("Administrator token", type="password", key="w_token")
        submitted = st.form_submit_button("Sign in", key="w_sign_in")
    if not submitted:
        return
    guard = get_sign_in_guard(SETTINGS.admin_token)
    verdict = guard.check(token, session_id())
    if verdict is SignIn.ACCEPTED:
        st.session_state["admin_signed_in"] = True
        st.rerun()
    elif verdict is SignIn.LOCKED:
        st.error(f"Too many wrong tokens have been tried on this server; signing in is paused for "
                 f"{max(1, round(guard.locked_for() / 60))} minute(s). The attempts are in the server's log.")
    else:
        time.sleep(1.0)  # each wrong guess costs a second; the guard limits them across sessions
        st.error("The administrator token is not correct.")


def save_upload(upload, overwrite: bool, details: dict) -> Path:
    """Write the upload and its manifest entry into the uploads folder (``PROTOCOL_QA_UPLOADS``,
    outside the repository's tracked files), or refuse."""
    from filelock import FileLock

    limit_mb = upload_limit_mb()
    if upload.size > limit_mb * 1024 * 1024:
        raise render.UploadRefused(f"the file is {upload.size / 1e6:.1f} MB; the limit is {limit_mb:g} MB")
    name = render.safe_file_name(upload.name)
    entry = render.manifest_entry(name, **details)
    corpus = Path(SETTINGS.uploads_dir)
    corpus.mkdir(parents=True, exist_ok=True)
    path = corpus / name
    manifest = corpus / "manifest.toml"
    with FileLock(str(corpus / ".upload.lock"), timeout=30):
        if path.exists() and not overwrite:
            raise render.UploadRefused(f"a document named {name} has already been added; tick "
                                       "'Replace the existing document' to replace it, or rename the file")
        text = manifest.read_text(encoding="utf-8") if manifest.exists() else ""
        new_manifest = render.upsert_manifest(text, entry)
        staged = corpus / f".{name}.uploading"
        staged.write_bytes(upload.getvalue())
        os.replace(staged, path)
        staged_manifest = corpus / ".manifest.toml.uploading"
        staged_manifest.write_text(new_manifest, encoding="utf-8")
        os.replace(staged_manifest, manifest)
    log.info("saved upload %s (%d bytes)", name, upload.size)
    return path


def upload_limit_mb() -> float:
    try:
        from ingest.records import Limits

        return float(Limits().max_file_mb)
    except Exception:  # ingest not importable: keep Streamlit's own limit's default
        return 50.0


def ingest_upload(path: Path) -> None:
    from index.update import update_index

    bar = st.progress(0.05, text=f"Reading {path.name}…")

    def progress(*_file) -> None:  # called by ingest once per file read
        bar.progress(0.5, text=f"Read {path.name}; embedding its clauses and saving the index…")

    try:
        with st.spinner("Indexing; people asking questions keep using the current index until this finishes…"):
            if SETTINGS.index_uri:
                from index.milvus_update import update_milvus
                from qa.config import load_milvus

                report = update_milvus([path], SETTINGS.index_location, get_embedder(SETTINGS.encoder),
                                       settings=load_milvus(), progress=progress,
                                       cache_dir=SETTINGS.uploads_dir.parent / "embedding-cache")
            else:
                report = update_index([path], Path(SETTINGS.index_dir), get_embedder(SETTINGS.encoder),
                                      progress=progress)
    except Exception as exc:  # a failed ingest leaves the previous index in place
        log.warning("upload ingest failed: %s", type(exc).__name__)
        st.error(f"The document was saved but could not be indexed: {exc}")
        return
    bar.progress(1.0, text="Done")
    get_answerer.clear()
    get_coverage.clear()
    show_update_report(report)


def show_update_report(report) -> None:
    """File by file, as ``protocol-qa ingest`` reports it."""
    result = getattr(report, "ingest", None)
    for document in getattr(result, "documents", []) or []:
        st.success(f"Indexed {render.md_literal(document.source)}: {len(document.passages)} clauses "
                   f"({render.md_literal(document.authority)})")
        for warning in getattr(document, "warnings", []) or []:
            st.warning(render.md_literal(f"{document.source}: {warning}"))
    for item in getattr(report, "skipped", []) or []:
        st.error(f"Skipped {render.md_literal(Path(item.path).name)}: {render.md_literal(item.reason)}")
    summary = report.summary() if hasattr(report, "summary") else getattr(report, "message", "")
    if summary:
        st.text(summary)


# -- filters -------------------------------------------------------------------------

def document_allowed(document: dict, state: AppState) -> bool:
    return ((not state.authorities or document["authority"] in state.authorities)
            and (not state.kinds or document["kind"] in state.kinds)
            and (not state.statuses or document["status"] in state.statuses))


def filtered_authorities(answerer, state: AppState) -> list[str]:
    """Authorities for Compare: the chosen ones, narrowed by kind and status."""
    if not (state.kinds or state.statuses):
        return list(state.authorities)
    return sorted({d["authority"] for d in answerer.index.documents if document_allowed(d, state)})


def sidebar(answerer) -> None:
    from qa.compare import authority_order

    with st.sidebar:
        st.header("Filters")
        options = [name for name, _, _ in authority_order(answerer)] if answerer else []
        kinds = sorted({d["kind"] for d in answerer.index.documents}) if answerer else []
        statuses = sorted({d["status"] for d in answerer.index.documents}) if answerer else []
        for key, values in (("f_authorities", options), ("f_kinds", kinds), ("f_statuses", statuses)):
            st.session_state[key] = [v for v in st.session_state.get(key, []) if v in values]
        st.multiselect("Councils", options, key="f_authorities", placeholder="All councils")
        st.multiselect("Document kind", kinds, key="f_kinds", placeholder="All kinds",
                       format_func=lambda k: k.replace("_", " "))
        st.multiselect("Status", statuses, key="f_statuses", placeholder="Any status")
        if answerer:
            st.caption(f"{len(answerer.index.documents)} documents, {len(answerer.index.passages):,} clauses.")
        st.caption("The address bar holds the view, question and filters: copy it to share this page.")
        account_panel()


# -- the page ------------------------------------------------------------------------

def main() -> None:
    init_session(read_state())
    st.title("Council protocols: ask, compare, browse")
    answerer, stamp = load_answerer()
    st.radio("View", render.VIEWS, key="view", horizontal=True, format_func=render.VIEW_LABELS.__getitem__,
             label_visibility="collapsed")
    sidebar(answerer)
    state = current_state()
    st.query_params.from_dict(render.encode_state(state))  # early, so the address is right during a long run
    view = state.view
    if answerer is None and view != "add":
        st.info("Questions can be answered once the index is built.")
    elif view == "ask":
        view_ask(answerer, state)
    elif view == "compare":
        view_compare(answerer, state, stamp)
    elif view == "browse":
        view_browse(answerer, state)
    elif view == "record":
        view_record(answerer)
    if view == "add":
        view_add(answerer, stamp)
    st.query_params.from_dict(render.encode_state(current_state()))


main()
