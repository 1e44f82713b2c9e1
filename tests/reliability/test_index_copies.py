"""An index folder copied, archived, moved or mounted read-only answers as the original and takes the next ingest.

Each ordinary way of copying a folder is run for real (cp, tar, zip/unzip,
Python's shutil.copytree), on indexes in today's layout (``current`` is a
pointer file) and in the older one (``current`` was a symlink, which
dereferencing copies turned into a folder). The copy must answer exactly as
the original, and an ingest into it must publish a new version and leave no
temporary files behind, twice in a row.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from index import store
from index.update import update_index

from .conftest import ALPHA, BETA, GAMMA, cli, snapshot, write_corpus

pytestmark = pytest.mark.slow


def _run(*command: str, cwd: Path | None = None) -> None:
    if shutil.which(command[0]) is None:
        pytest.fail(f"{command[0]} is not installed; `make test` installs it (Debian package {command[0]})")
    subprocess.run(command, check=True, cwd=cwd, capture_output=True)


def _cp_a(src: Path, dst: Path) -> None:
    _run("cp", "-a", str(src), str(dst))


def _cp_rL(src: Path, dst: Path) -> None:
    _run("cp", "-rL", str(src), str(dst))


def _copytree(src: Path, dst: Path) -> None:
    shutil.copytree(src, dst)  # its default: symlinks are followed and copied as files


def _tar(src: Path, dst: Path) -> None:
    archive = dst.parent / "index.tar"
    _run("tar", "-cf", str(archive), "-C", str(src.parent), src.name)
    unpacked = dst.parent / "untar"
    unpacked.mkdir()
    _run("tar", "-xf", str(archive), "-C", str(unpacked))
    os.replace(unpacked / src.name, dst)


def _zip(src: Path, dst: Path, *flags: str) -> None:
    archive = dst.parent / "index.zip"
    _run("zip", "-q", "-r", *flags, str(archive), src.name, cwd=src.parent)
    unpacked = dst.parent / "unzip"
    _run("unzip", "-q", str(archive), "-d", str(unpacked))
    os.replace(unpacked / src.name, dst)


def _zip_plain(src: Path, dst: Path) -> None:
    _zip(src, dst)


def _zip_y(src: Path, dst: Path) -> None:
    _zip(src, dst, "-y")  # store symlinks as symlinks


COPIES = {"cp -a": _cp_a, "cp -rL": _cp_rL, "shutil.copytree": _copytree, "tar": _tar,
          "zip": _zip_plain, "zip -y": _zip_y}


def _old_layout(index_dir: Path) -> None:
    """Turn ``current`` back into the symlink earlier versions of protocol-qa wrote."""
    name = store.current_name(index_dir)
    (index_dir / "current").unlink()
    os.symlink(name, index_dir / "current")


@pytest.fixture
def original(tmp_path, fake_embedder):
    corpus = write_corpus(tmp_path / "corpus", {"alpha.txt": ALPHA, "beta.txt": BETA})
    index_dir = tmp_path / "site" / "index"
    update_index([corpus], index_dir, fake_embedder)
    return corpus, index_dir


def _ingest_twice_into(copy: Path, corpus: Path, fake_embedder) -> None:
    for extra in ({"gamma.txt": GAMMA}, {"gamma.txt": GAMMA + "\n3. Officers keep a record of requests.\n"}):
        write_corpus(corpus, {"alpha.txt": ALPHA, "beta.txt": BETA, **extra})
        report = update_index([corpus], copy, fake_embedder)
        assert report.changed and not report.previous_problem, report.summary()
        assert sorted(report.added + report.replaced + report.kept) == ["alpha.txt", "beta.txt", "gamma.txt"]
        leftovers = [p.name for p in copy.iterdir() if p.name.startswith(".tmp-")]
        assert leftovers == [], leftovers
        pointer = copy / "current"
        assert pointer.is_file() and not pointer.is_symlink()
        texts = [p["text"] for p in snapshot(copy)["passages"] if p["source"] == "gamma.txt"]
        assert len(texts) == len(extra["gamma.txt"].split("\n\n")) - 1  # every clause, not the title


@pytest.mark.parametrize("layout", ["pointer", "old symlink"])
@pytest.mark.parametrize("tool", list(COPIES))
def test_a_copy_answers_identically_and_takes_the_next_ingest(original, tmp_path, fake_embedder, tool, layout):
    corpus, index_dir = original
    if layout == "old symlink":
        _old_layout(index_dir)
    expected = snapshot(index_dir)
    copy = tmp_path / "copies" / "index"
    copy.parent.mkdir()
    COPIES[tool](index_dir, copy)
    assert snapshot(copy) == expected
    _ingest_twice_into(copy, corpus, fake_embedder)
    assert snapshot(index_dir) == expected  # the original is untouched


def test_a_copy_answers_from_the_command_line(original, tmp_path):
    corpus, index_dir = original
    _old_layout(index_dir)
    copy = tmp_path / "copy"
    _cp_rL(index_dir, copy)
    before = cli("ask", "--index", str(index_dir), "--json", "Can a councillor instruct an officer?")
    after = cli("ask", "--index", str(copy), "--json", "Can a councillor instruct an officer?")
    assert before.returncode == after.returncode == 0, after.stderr
    assert after.stdout == before.stdout
    ingest = cli("ingest", "--index", str(copy), "-q", str(corpus))
    assert ingest.returncode == 0, ingest.stderr
    assert "cannot be reused" not in ingest.stderr + ingest.stdout


def test_a_moved_index_folder_answers_and_takes_the_next_ingest(original, tmp_path, fake_embedder):
    corpus, index_dir = original
    expected = snapshot(index_dir)
    moved = tmp_path / "elsewhere" / "index"
    moved.parent.mkdir()
    shutil.move(index_dir, moved)
    assert snapshot(moved) == expected
    _ingest_twice_into(moved, corpus, fake_embedder)


def test_an_index_on_a_read_only_mount_answers(original, tmp_path):
    corpus, index_dir = original
    expected = snapshot(index_dir)
    mount_point = tmp_path / "readonly"
    mount_point.mkdir()
    bound = subprocess.run(["mount", "--bind", str(index_dir), str(mount_point)], capture_output=True)
    if bound.returncode != 0:
        pytest.skip(f"a bind mount is not permitted here: {bound.stderr.decode().strip()}")
    try:
        subprocess.run(["mount", "-o", "remount,ro,bind", str(mount_point)], check=True, capture_output=True)
        with pytest.raises(OSError):
            (mount_point / "probe").write_text("x")
        assert snapshot(mount_point) == expected
        result = cli("ask", "--index", str(mount_point), "Who is the proper officer?")
        assert result.returncode == 0, result.stderr
        assert "Proper Officer" in result.stdout
    finally:
        subprocess.run(["umount", "--lazy", str(mount_point)], capture_output=True)  # the test process still maps its files
