"""No document text and no question reaches the logs at INFO level (or below WARNING's details)."""

from __future__ import annotations

import logging

from index.hybrid import HybridIndex
from index.update import update_index
from qa.answer import Answerer
from qa.compare import compare

from .conftest import ALPHA, BETA, cli, write_corpus

SECRET_SENTENCE = "Officers must never disclose the Zanzibar marmalade tender to councillor Quillfeather."
SECRET_QUESTION = "Has councillor Quillfeather asked about the xylophone budget overspend?"
MARKERS = ("Zanzibar", "marmalade", "Quillfeather", "xylophone")


def _corpus(folder):
    return write_corpus(folder, {"alpha.txt": ALPHA + f"\n5. {SECRET_SENTENCE}\n", "beta.txt": BETA,
                                 "broken.txt": "\x00\x01 Zanzibar marmalade \x00" * 50,
                                 "empty.txt": ""})


def _assert_private(text: str) -> None:
    for marker in MARKERS:
        assert marker not in text, f"{marker!r} was logged"


def test_ingest_ask_and_compare_log_no_text_or_question(tmp_path, fake_embedder, caplog):
    corpus = _corpus(tmp_path / "corpus")
    caplog.set_level(logging.DEBUG)
    report = update_index([corpus], tmp_path / "index", fake_embedder)
    assert {s.path.name for s in report.skipped} == {"broken.txt", "empty.txt"}
    answerer = Answerer(HybridIndex.load(tmp_path / "index"), fake_embedder)
    answer = answerer.ask(SECRET_QUESTION)
    assert any("Zanzibar" in r.passage.text for r in answer.results)  # the text is there to be leaked
    compare(answerer, SECRET_QUESTION)
    answerer.ask(SECRET_QUESTION * 100)  # refused as too long
    assert caplog.records, "expected some log records (the skipped files) to prove logging was captured"
    info_and_above = "\n".join(r.getMessage() for r in caplog.records if r.levelno >= logging.INFO)
    _assert_private(info_and_above)


def test_command_line_verbose_logs_no_text_or_question(tmp_path):
    corpus = _corpus(tmp_path / "corpus")
    index_dir = str(tmp_path / "index")
    ingested = cli("-v", "ingest", "--index", index_dir, "-q", str(corpus))
    assert ingested.returncode == 1  # some files skipped
    assert "INFO" in ingested.stderr  # -v logs at INFO
    _assert_private(ingested.stderr)
    for command in ("ask", "compare"):
        result = cli("-v", command, "--index", index_dir, "--json", SECRET_QUESTION)
        assert result.returncode == 0
        assert "Quillfeather" in result.stdout  # the answer carries it; the log must not
        _assert_private(result.stderr)
