"""Names, links and manifests written to attack the person running protocol-qa or its index.

Each test reproduces one way in found by probing protocol-qa as an attacker
would: a symlink to /etc/passwd in the corpus, terminal escapes and newlines in
file names, manifest fields and PDF titles, spreadsheet formulas in exported
cells, and manifests without limits.
"""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

import pytest

from index.hybrid import HybridIndex
from index.update import update_index
from ingest import ManifestError, ingest_files
from ingest.safe import csv_cell, one_line, printable

from .conftest import ALPHA, BETA, cli, write_corpus

ESC, BEL, CSI = "\x1b", "\x07", "\x9b"


def _has_raw_controls(text: str) -> bool:
    return any(ch in text for ch in (ESC, BEL, CSI, "\x00", "\x7f", "\r"))


# -- symlinks -------------------------------------------------------------------

def test_a_symlink_in_the_corpus_is_refused_not_followed(tmp_path):
    secret = tmp_path / "outside" / "passwd"
    secret.parent.mkdir()
    secret.write_text("root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n")
    corpus = write_corpus(tmp_path / "corpus", {"alpha.txt": ALPHA})
    os.symlink(secret, corpus / "passwd.txt")
    os.symlink(secret.parent, corpus / "linked-folder")
    index_dir = tmp_path / "index"

    result = cli("ingest", "--index", str(index_dir), "-q", str(corpus))
    assert result.returncode == 1, result.stderr  # exit 1: a file was skipped
    assert "skipped   passwd.txt: is a symbolic link, which is not followed" in result.stdout
    assert "skipped   linked-folder: is a symbolic link" in result.stdout
    texts = " ".join(p.text for p in HybridIndex.load(index_dir).passages)
    assert "root:x:0:0" not in texts and "nologin" not in texts
    answer = cli("ask", "--index", str(index_dir), "--json", "root bin bash nologin daemon")
    assert "root:x" not in answer.stdout


def test_a_pipe_in_the_corpus_is_refused(tmp_path):
    corpus = write_corpus(tmp_path / "corpus", {"alpha.txt": ALPHA})
    os.mkfifo(corpus / "pipe.txt")
    result = ingest_files([corpus])
    assert [p.source for p in result.documents] == ["alpha.txt"]
    assert [(Path(s.path).name, s.reason.split(" (")[0]) for s in result.skipped] == \
        [("pipe.txt", "is not a regular file")]


# -- terminal escapes and forged lines --------------------------------------------

def test_escapes_and_newlines_in_names_and_fields_reach_no_terminal_raw(tmp_path):
    corpus = tmp_path / "corpus"
    forged_name = f"evil{ESC}]0;pwned{BEL}\nskipped lga-model-code.txt: encrypted: needs a password\n.txt"
    write_corpus(corpus, {forged_name: ALPHA, "beta.txt": BETA})
    (corpus / "manifest.toml").write_text(
        '[[document]]\nfile = "beta.txt"\nauthority = "Beta \\u001b[31mTown\\u0007 Council"\n'
        'title = "Code\\u009b2J of Conduct"\nnote = "line one\\nskipped x.txt: forged"\n', encoding="utf-8")
    index_dir = tmp_path / "index"
    ingest = cli("ingest", "--index", str(index_dir), str(corpus))
    assert ingest.returncode == 0, ingest.stderr
    for stream in (ingest.stdout, ingest.stderr):
        assert not _has_raw_controls(stream)
    forged = [line for line in ingest.stdout.splitlines() if line.startswith("skipped")]
    assert forged == []  # the newline in the file name forged no line
    assert "\\x1b]0;pwned\\x07\\nskipped lga-model-code.txt" in ingest.stdout

    outputs = [cli("ask", "--index", str(index_dir), "Can a councillor instruct an officer?"),
               cli("ask", "--index", str(index_dir), "What is the code of conduct of Beta Town?"),
               cli("compare", "--index", str(index_dir), "Who treats officers with courtesy?"),
               cli("compare", "--index", str(index_dir), "--format", "markdown", "Who treats officers with courtesy?"),
               cli("passages", "--index", str(index_dir)),
               cli("passages", "--index", str(index_dir), "--json")]
    for result in outputs:
        assert result.returncode == 0, result.stderr
        assert not _has_raw_controls(result.stdout + result.stderr), result.args
    listing = outputs[-1].stdout.splitlines()
    assert {json.loads(line)["authority"] for line in listing} >= {"Beta \x1b[31mTown\x07 Council"}  # kept exact
    assert "Beta \\x1b[31mTown\\x07 Council" in outputs[-2].stdout  # shown escaped


def test_printable_and_one_line_escape_without_losing_anything():
    assert printable("a\x1b[2Jb\tc\nd\x9b") == "a\\x1b[2Jb\tc\nd\\x9b"
    assert one_line("a\nb\rc\td") == "a\\nb\\rc\\td"
    assert printable("a\rb") == "a\\rb"
    assert one_line("Wroxton & Balscote — £50 café") == "Wroxton & Balscote — £50 café"
    assert one_line("abc\u202edef") == "abc\\u202edef"  # a right-to-left override


# -- CSV formula injection ---------------------------------------------------------------

@pytest.mark.parametrize("cell", ["=HYPERLINK(\"http://evil\")", "+1+1", "-2+3", "@SUM(A1)", "\tx", "\rx"])
def test_csv_cells_never_start_a_formula(cell):
    safe = csv_cell(cell)
    assert not safe.startswith(("=", "+", "-", "@", "\t", "\r"))
    assert safe.lstrip("'") == printable(cell)


def test_the_comparison_csv_export_is_safe_to_open(tmp_path):
    corpus = write_corpus(tmp_path / "corpus", {"alpha.txt": ALPHA.replace(
        "1. Councillors must not", "1. =cmd|' /C calc'!A0 Councillors must not")})
    (corpus / "manifest.toml").write_text('[[document]]\nfile = "alpha.txt"\nauthority = "@Alpha Council"\n'
                                          'title = "-Protocol"\n', encoding="utf-8")
    index_dir = tmp_path / "index"
    assert cli("ingest", "--index", str(index_dir), "-q", str(corpus)).returncode == 0
    result = cli("compare", "--index", str(index_dir), "--format", "csv", "Can councillors instruct officers?")
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert rows
    for row in rows:
        for value in row.values():
            assert not value.startswith(("=", "+", "-", "@")), row
    assert rows[0]["authority"] == "'@Alpha Council"


# -- manifest limits ------------------------------------------------------------------------

def _manifest(tmp_path: Path, body: str) -> Path:
    corpus = write_corpus(tmp_path / "corpus", {"alpha.txt": ALPHA})
    (corpus / "manifest.toml").write_text(body, encoding="utf-8")
    return corpus


@pytest.mark.parametrize("body, message", [
    ('[[document]]\nfile = "alpha.txt"\nnote = "' + "n" * 1_000_000 + '"\n', r"manifest.toml:3: note is 1,000,000 characters"),
    ('[[document]]\nfile = "alpha.txt"\n' + "# padding\n" * 120_000, r"manifest.toml: 1\.\d MB, above the 1 MB"),
    ('[[document]]\nfile = "alpha.txt"\nx = ' + "[" * 5000 + "]" * 5000 + "\n", r"manifest.toml:3: values nested more than"),
    ('[[document]]\nfile = "/etc/passwd"\n', r"manifest.toml:2: file must be the name of a file in"),
    ('[[document]]\nfile = "../outside/secret.txt"\n', r"manifest.toml:2: file must be the name of a file in"),
    ('[[document]]\nfile = "../outside/missing.txt"\n', r"manifest.toml:2: file must be the name of a file in"),
])
def test_a_manifest_without_limits_is_refused_naming_file_and_line(tmp_path, fake_embedder, body, message):
    corpus = _manifest(tmp_path, body)
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret.txt").write_text("secret")
    index_dir = tmp_path / "index"
    update_index([write_corpus(tmp_path / "first", {"beta.txt": BETA})], index_dir, fake_embedder)
    before = HybridIndex.load(index_dir).fingerprint
    with pytest.raises(ManifestError, match=message):
        update_index([corpus], index_dir, fake_embedder)
    assert HybridIndex.load(index_dir).fingerprint == before  # nothing indexed is lost
    result = cli("ingest", "--index", str(index_dir), "-q", str(corpus))
    assert result.returncode == 2 and "nothing was changed in the index" in result.stderr
    assert len(result.stderr) < 2_000
