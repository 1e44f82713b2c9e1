"""Bad, hostile and awkward files: each ingested correctly or skipped with a plain reason."""

from __future__ import annotations

import io
import os
import time
from pathlib import Path

import pytest
from pypdf import PdfWriter

from ingest import Limits, ManifestError, collect_files, ingest_files

GOOD = "1. Members and officers must respect each other.\n\n2. Officers must give impartial advice.\n"


def _pdf_with_text(pages: list[str]) -> bytes:
    from reportlab.pdfgen import canvas

    buffer = io.BytesIO()
    c = canvas.Canvas(buffer)
    for text in pages:
        y = 800
        for line in text.split("\n"):
            c.drawString(72, y, line)
            y -= 14
        c.showPage()
    c.save()
    return buffer.getvalue()


def _write(folder: Path, name: str, data: bytes | str) -> Path:
    path = folder / name
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


@pytest.mark.parametrize("encoding,data", [
    ("cp1252", "1. A gift worth at least £50 must be registered within 28 days of its receipt.\n\n"
               "2. The Council’s “need to know” rule applies to all members.\n".encode("cp1252")),
    ("utf-16", "1. A gift worth at least £50 must be registered within 28 days of its receipt.\n\n"
               "2. The Council’s “need to know” rule applies to all members.\n".encode("utf-16")),
    ("utf-8-sig", "1. A gift worth at least £50 must be registered within 28 days of its receipt.\n\n"
                  "2. The Council’s “need to know” rule applies to all members.\n".encode("utf-8-sig")),
])
def test_text_encodings(tmp_path, encoding, data):
    _write(tmp_path, "code.txt", data)
    result = ingest_files([tmp_path])
    assert not result.skipped
    texts = {p.clause: p.text for p in result.passages}
    assert "£50" in texts["1"]
    assert "Council’s “need to know”" in texts["2"]
    assert not result.documents[0].text.startswith("\ufeff")


def _encrypted_pdf() -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(200, 200)
    writer.encrypt("secret")
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def _blank_pdf() -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(200, 200)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def _corrupt_docx() -> bytes:
    return b"PK\x03\x04" + os.urandom(300)


@pytest.mark.parametrize("name,make,reason", [
    ("empty.txt", lambda: b"", "empty file"),
    ("blank.txt", lambda: b"  \n\t\n   \n", "empty file"),
    ("truncated.pdf", lambda: _pdf_with_text(["1. Some words here."])[:400], "corrupt PDF"),
    ("corrupt.pdf", lambda: b"%PDF-1.4\n" + os.urandom(2000), "corrupt PDF"),
    ("locked.pdf", _encrypted_pdf, "encrypted: needs a password"),
    ("scanned.pdf", _blank_pdf, "no text layer: scanned pages need OCR first"),
    ("noise.txt", lambda: bytes(range(256)) * 40, "not a text file (binary content)"),
    ("broken.docx", _corrupt_docx, "corrupt Word file"),
    ("legacy.doc", lambda: b"\xd0\xcf\x11\xe0" + b"\0" * 100, "old Word .doc"),
])
def test_bad_file_is_skipped_and_batch_continues(tmp_path, name, make, reason):
    _write(tmp_path, name, make())
    _write(tmp_path, "good.txt", GOOD)
    result = ingest_files([tmp_path])
    assert [d.source for d in result.documents] == ["good.txt"]
    assert len(result.skipped) == 1
    skipped = result.skipped[0]
    assert skipped.path.name == name
    assert reason in skipped.reason


def test_duplicate_under_another_name(tmp_path):
    _write(tmp_path, "a.txt", GOOD)
    _write(tmp_path, "b copy.txt", GOOD)
    result = ingest_files([tmp_path])
    assert [d.source for d in result.documents] == ["a.txt"]
    assert result.skipped[0].reason == "duplicate of a.txt"


def test_duplicate_of_already_indexed(tmp_path):
    path = _write(tmp_path, "a.txt", GOOD)
    first = ingest_files([path])
    again = ingest_files([path], known={first.documents[0].sha256: "a.txt"})
    assert not again.documents and again.skipped[0].reason == "duplicate of a.txt"


def test_file_size_limit_checked_before_reading(tmp_path):
    _write(tmp_path, "big.txt", "x " * 700_000)
    result = ingest_files([tmp_path], limits=Limits(max_file_mb=1))
    assert "larger than the 1 MB limit" in result.skipped[0].reason


def test_one_line_of_several_megabytes(tmp_path):
    sentence = "Members must treat officers with respect and courtesy at all times. "
    _write(tmp_path, "long.txt", sentence * 60_000)  # about 4 MB on one line
    started = time.perf_counter()
    result = ingest_files([tmp_path])
    assert time.perf_counter() - started < 20
    doc = result.documents[0]
    assert len(doc.passages) > 1000
    assert all(len(p.text) <= 3000 for p in doc.passages)
    assert all(p.text.endswith("times.") for p in doc.passages)  # cut at sentence ends


def test_unbroken_run_is_split_within_bounds(tmp_path):
    _write(tmp_path, "run.txt", "word " * 5 + "x" * 10_000)
    doc = ingest_files([tmp_path]).documents[0]
    assert all(len(p.text) <= 3000 for p in doc.passages)


def test_many_pages_bounded(tmp_path):
    def page(n: int) -> str:
        tag = chr(65 + n % 26) + chr(65 + n // 26 % 26)  # distinct words per page, not running headers
        return "\n".join(f"{k}. Officers shall act impartially in matter {tag}{k}." for k in range(1, 4))

    _write(tmp_path, "long.pdf", _pdf_with_text([page(n) for n in range(300)]))
    started = time.perf_counter()
    result = ingest_files([tmp_path])
    assert time.perf_counter() - started < 30
    assert result.documents[0].pages == 300
    limited = ingest_files([tmp_path], limits=Limits(max_pages=100))
    assert "300 pages, more than the 100-page limit" in limited.skipped[0].reason


def test_html_scripts_dropped_and_not_executed(tmp_path):
    page = """<html><head><title>Member/Officer Protocol</title><style>p {color: red}</style>
    <script>document.write('INJECTED'); alert(1)</script></head><body>
    <h1>Member/Officer Protocol</h1><h2>Correspondence</h2>
    <p>1. Official letters should normally be sent in the name of the <b>relevant</b>
    officer.</p><ul><li>never in the name of a member</li></ul>
    <table><tr><th>Subject</th><th>Description</th></tr><tr><td>Gifts</td><td>Worth £50 or more</td></tr></table>
    <script>var x = "<p>2. Hidden clause</p>";</script></body></html>"""
    _write(tmp_path, "protocol.html", page)
    doc = ingest_files([tmp_path]).documents[0]
    assert "INJECTED" not in doc.text and "alert" not in doc.text and "Hidden clause" not in doc.text
    assert "color" not in doc.text
    texts = [p.text for p in doc.passages]
    assert any("name of the relevant officer" in t for t in texts)
    assert any(t == "Subject: Gifts. Description: Worth £50 or more." for t in texts)
    assert doc.title == "Member/Officer Protocol"


def test_docx_paragraphs_and_tables(tmp_path):
    import docx

    document = docx.Document()
    document.add_heading("Kingsbridge Town Council Member Officer Protocol", 1)
    document.add_paragraph("Access to Premises")
    document.add_paragraph("1. Officers have the right to enter Council land and premises.")
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "Subject", "Description"
    table.cell(1, 0).text, table.cell(1, 1).text = "Gifts", "Any gift over £50"
    document.save(tmp_path / "protocol.docx")
    doc = ingest_files([tmp_path]).documents[0]
    assert doc.authority == "Kingsbridge Town Council"
    assert any(p.clause == "1" and "right to enter" in p.text for p in doc.passages)
    assert any("Description: Any gift over £50" in p.text for p in doc.passages)


@pytest.mark.parametrize("name", ["my protocol (final).txt", "protocole-ré∂ï€.txt", "a;b&c$(rm -rf x)`'\".txt"])
def test_awkward_file_names(tmp_path, name):
    _write(tmp_path, name, GOOD)
    result = ingest_files([tmp_path])
    assert [d.source for d in result.documents] == [name]
    assert result.passages[0].source == name


def test_markdown_residue_removed_without_losing_words(tmp_path):
    _write(tmp_path, "code.md", "# Code\n\n1. **Members** must treat *officers* with respect.\n\n"
                                 "| Subject | Description |\n|---|---|\n| Gifts | Any gift over £50 |\n")
    doc = ingest_files([tmp_path]).documents[0]
    texts = [p.text for p in doc.passages]
    assert "Members must treat officers with respect." in texts
    assert "Subject: Gifts. Description: Any gift over £50." in texts


def test_collect_files(tmp_path):
    for name in ("b.txt", "a.txt", "manifest.toml", ".hidden.txt", "README.md"):
        _write(tmp_path, name, GOOD)
    assert [p.name for p in collect_files([tmp_path])] == ["a.txt", "b.txt"]
    with pytest.raises(FileNotFoundError, match="missing.txt"):
        collect_files([tmp_path / "missing.txt"])


MANIFEST = '''
[[document]]
file = "a.txt"
authority = "Exampleton Town Council"
title = "Protocol"
kind = "protocol"
status = "adopted"
date = "2020"
attribution = "stated"
note = ""
'''


def test_manifest_gives_provenance(tmp_path):
    _write(tmp_path, "a.txt", GOOD)
    _write(tmp_path, "manifest.toml", MANIFEST)
    doc = ingest_files([tmp_path]).documents[0]
    assert (doc.authority, doc.status, doc.attribution, doc.inferred) == ("Exampleton Town Council", "adopted", "stated", {})
    assert all(p.authority == "Exampleton Town Council" for p in doc.passages)


@pytest.mark.parametrize("change,match", [
    (('kind = "protocol"', 'kind = "bylaw"'), r"manifest.toml:6: kind = 'bylaw' is not one of"),
    (('note = ""', 'notes = ""'), r"manifest.toml:10: unknown field 'notes'"),
    (('file = "a.txt"', 'file = "missing.txt"'), r"manifest.toml:3: names 'missing.txt'"),
    (('status = "adopted"', 'status = adopted'), r"manifest.toml.*not valid TOML.*line 7"),
])
def test_manifest_errors_name_the_line(tmp_path, change, match):
    _write(tmp_path, "a.txt", GOOD)
    _write(tmp_path, "manifest.toml", MANIFEST.replace(*change))
    with pytest.raises(ManifestError, match=match):
        ingest_files([tmp_path])


def test_same_document_gives_same_ids(tmp_path):
    _write(tmp_path, "a.txt", GOOD)
    first = [p.id for p in ingest_files([tmp_path]).passages]
    second = [p.id for p in ingest_files([tmp_path]).passages]
    assert first == second and len(set(first)) == len(first)


def test_limits_validated():
    with pytest.raises(ValueError, match="max_pages"):
        Limits(max_pages=0)
