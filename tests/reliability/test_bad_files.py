"""Bad files not covered by tests/ingest/test_bad_input.py, each in a batch with a good file, in a
fresh process whose time and peak memory are measured: ingested correctly or skipped with a plain
reason, within bounds, and the good file always indexed. Also: the limits are configurable."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import zipfile

import pytest

from ingest import Limits, ingest_files

from .conftest import ROOT

GOOD = "1. Members and officers must respect each other.\n\n2. Officers must give impartial advice.\n"
CLAUSE = "{n}. Officers shall give members impartial advice on matter {n} of the agenda."
MEASURE = """
import json, sys, time
from pathlib import Path
from ingest import ingest_files

def peak_mb():  # VmHWM: this process's own peak (ru_maxrss would include the forking parent's)
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
started = time.process_time()  # CPU seconds: another process sharing the cores does not count
result = ingest_files([Path(sys.argv[1])])
print(json.dumps({
    "documents": {d.source: [p.text for p in d.passages] for d in result.documents},
    "skipped": {s.path.name: s.reason for s in result.skipped},
    "cpu_seconds": time.process_time() - started,
    "peak_mb": peak_mb(),
}))
"""


def _docx(paragraphs: list[str]) -> bytes:
    import docx

    document = docx.Document()
    for text in paragraphs:
        document.add_paragraph(text)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def _docx_bomb(expanded_mb: int = 250) -> bytes:
    """A valid .docx of a few hundred KB whose document.xml unzips to ``expanded_mb`` MB."""
    source = zipfile.ZipFile(io.BytesIO(_docx(["1. Officers must give impartial advice."])))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as bomb:
        for item in source.infolist():
            data = source.read(item)
            if item.filename == "word/document.xml":
                padding = "<w:p><w:r><w:t>" + "a " * (expanded_mb << 19) + "</w:t></w:r></w:p>"
                data = data.replace(b"<w:body>", b"<w:body>" + padding.encode(), 1)
            bomb.writestr(item, data, compress_type=zipfile.ZIP_DEFLATED, compresslevel=9)
    return out.getvalue()


def _pdf_pages(count: int) -> bytes:
    from pypdf import PdfWriter

    writer = PdfWriter()
    for _ in range(count):
        writer.add_blank_page(200, 200)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def _nested_html(depth: int) -> bytes:
    return (b"<html><body>" + b"<div>" * depth + b"<p>1. Members must respect officers.</p>"
            + b"</div>" * depth + b"</body></html>")


# name -> (bytes, expected: "ingested" or a phrase of the skip reason, passages check or None)
CASES = {
    "bomb.docx": (_docx_bomb, "more than the 200 MB limit"),
    "half.docx": (lambda: _docx([GOOD])[:1500], "corrupt Word file"),
    "renamed-pdf.docx": (lambda: _pdf_pages(1), "corrupt Word file"),
    "pages-5000.pdf": (lambda: _pdf_pages(5000), "5000 pages, more than the 2000-page limit"),
    "nested.html": (lambda: _nested_html(20_000), "ingested"),  # took 33 s before the one-pass walker
    "huge.html": (lambda: ("<html><body>" + "".join(f"<p>{CLAUSE.format(n=n)}</p>" for n in range(1, 60_000))
                           + "</body></html>").encode(), "ingested"),  # 4 MB: about 8 minutes before
    "many-lines.txt": (lambda: "\n".join("x" for _ in range(500_000)).encode(), "ingested"),
    "mac-line-ends.txt": (lambda: b"1. Gifts over \xa350 are registered.\r\r2. Officers must give impartial advice.\r",
                          "ingested"),
    "utf16-no-bom.txt": (lambda: GOOD.replace("respect", "respect £50").encode("utf-16-le"), "not a text file"),
    "bad-after-bom.txt": (lambda: b"\xef\xbb\xbf1. Members \xff\xfe\xfa must", "not a text file: invalid utf-8-sig"),
    "pdf-named.txt": (lambda: _pdf_pages(2), "a PDF file with a .txt name; rename it to .pdf"),
    "image.png": (lambda: b"\x89PNG\r\n\x1a\n" + bytes(200), "unsupported file type .png"),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", CASES)
def test_bad_file_bounded_and_batch_indexed(tmp_path, name):
    make, expected = CASES[name]
    (tmp_path / name).write_bytes(make())
    (tmp_path / "good.txt").write_text(GOOD, encoding="utf-8")
    run = subprocess.run([sys.executable, "-c", MEASURE, str(tmp_path)], capture_output=True, text=True,
                         timeout=120, cwd=ROOT, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert run.returncode == 0, run.stderr[-2000:]
    outcome = json.loads(run.stdout)
    assert outcome["documents"]["good.txt"] == ["Members and officers must respect each other.",
                                                "Officers must give impartial advice."]
    if expected == "ingested":
        assert name in outcome["documents"], outcome["skipped"]
        assert all(len(text) <= Limits().max_passage_chars for text in outcome["documents"][name])
    else:
        assert expected in outcome["skipped"].get(name, ""), outcome["skipped"]
    assert outcome["cpu_seconds"] < 20, outcome["cpu_seconds"]  # huge.html took 8 minutes before it was bounded
    assert outcome["peak_mb"] < 600, outcome["peak_mb"]  # the bomb alone took 850 MB, and grows with its size
    if name == "mac-line-ends.txt":
        assert outcome["documents"][name] == ["Gifts over £50 are registered.", "Officers must give impartial advice."]


def test_passage_length_limit_is_configurable(tmp_path):
    (tmp_path / "long.txt").write_text("1. " + " ".join(f"Officers act impartially in case {n}." for n in range(400)),
                                       encoding="utf-8")
    for limit in (300, 1000, 3000):
        passages = ingest_files([tmp_path], limits=Limits(max_passage_chars=limit)).passages
        assert passages and all(len(p.text) <= limit for p in passages)
        assert " ".join(p.text for p in passages).count("Officers act impartially") == 400


def test_timeout_is_configurable(tmp_path):
    (tmp_path / "long.txt").write_text("\n\n".join(CLAUSE.format(n=n) for n in range(1, 20_000)), encoding="utf-8")
    (tmp_path / "short.txt").write_text(GOOD, encoding="utf-8")
    result = ingest_files([tmp_path], limits=Limits(timeout_s=0.001))
    reasons = {s.path.name: s.reason for s in result.skipped}
    assert "took longer than the 0.001 s limit (set Limits.timeout_s to raise it)" in reasons["long.txt"]


def test_expanded_size_limit_is_configurable(tmp_path):
    (tmp_path / "protocol.docx").write_bytes(_docx([GOOD] * 200))
    assert ingest_files([tmp_path]).documents
    skipped = ingest_files([tmp_path], limits=Limits(max_expanded_mb=0.01)).skipped
    assert "more than the 0.01 MB limit (set Limits.max_expanded_mb to raise it)" in skipped[0].reason
    with pytest.raises(ValueError, match="max_expanded_mb"):
        Limits(max_expanded_mb=0)
