"""The index directory: versions swapped in atomically, checked on load, one writer at a time.

Layout of an index directory ``DIR``::

    DIR/
      current                    a small text file naming the current version ("v-<id>"),
                                 replaced in one os.replace by each save
      v-<id>/                    one complete index version, never modified once named
        manifest.json            format version, model, corpus fingerprint, sha256+size of every file
        ...                      files written by the caller (see index.hybrid)
      .tmp-<id>/                 a version being written (left behind only by a crash; removed by the next writer)
      embedding-cache/           see index.cache
      ingest.lock                the writer lock (filelock; released by the OS if the writer dies)

A save writes every file into ``.tmp-<id>``, fsyncs them, renames the folder
to ``v-<id>``, then points ``current`` at it with a new pointer file renamed
over the old one (as LevelDB's CURRENT file does). A reader resolves ``current``
once and reads only inside that version, so it sees the old index or the new
one, never a mix. The previous version is kept (a reader may still be loading
it); older ones are removed by the next writer.

No meaning is carried by a symbolic link, so the folder survives every ordinary
way of copying it (``cp -a``, ``cp -rL``, ``shutil.copytree``, ``tar``, ``zip``
with or without ``-y``, rsync, a read-only mount). Indexes written before the
pointer file, where ``current`` is a symlink, still load; so does a copy that
dereferenced that symlink into a folder holding a whole version. The next save
turns either into a pointer file.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import logging
import os
import re
import secrets
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import filelock
import numpy as np

__all__ = [
    "FORMAT_VERSION", "MANIFEST", "IndexProblem", "IndexNotFound", "IndexDamaged", "IndexIncompatible",
    "IndexBusy", "DiskFull", "is_disk_full", "disk_full", "rebuild_hint", "without_rebuild_hint", "save_version", "open_version", "writer_lock", "collect_garbage",
    "file_checksum", "pause_for_tests", "load_array", "load_arrays",
]

log = logging.getLogger(__name__)

FORMAT_VERSION = 3
MANIFEST = "manifest.json"
# The manifest records a checksum of its own content: damage to a checksum
# inside it is then reported as damage to the manifest, not to the file it names.
MANIFEST_CHECKSUM = "manifest_sha256"
CURRENT = "current"
LOCK_FILE = "ingest.lock"
# Files up to this total size are verified by a full sha256 on every load
# (about 0.1 s per 100 MB here); above it, sizes plus hashes of sampled blocks,
# so that a million-passage index still loads in seconds. verify="full" forces the full check.
FULL_VERIFY_LIMIT = 256 << 20
_SAMPLE_BLOCKS, _SAMPLE_BLOCK = 32, 64 << 10
# Crash-safety tests (tests/reliability) set this to "reading", "embedding",
# "saving" or "publishing" to stop an ingest there and SIGKILL it. Unset, it does nothing.
PAUSE_ENV = "PROTOCOL_QA_TEST_PAUSE_AT"


class IndexProblem(Exception):
    """Base class: the index directory cannot be used as it is."""


class IndexNotFound(IndexProblem):
    """There is no index in the directory."""


class IndexDamaged(IndexProblem):
    """A file of the index is missing, truncated or altered."""


class IndexIncompatible(IndexProblem):
    """The index was built by another embedding model or another format version."""


class IndexBusy(IndexProblem):
    """Another ingest held the writer lock for longer than the timeout."""


class DiskFull(IndexProblem):
    """The disk holding the index filled up while a new version was written; the index is unchanged."""


def is_disk_full(exc: BaseException) -> bool:
    """Whether ``exc`` says the disk is full: ENOSPC or EDQUOT, or numpy's short-write message
    ("277248 requested and 87008 written"), which carries no errno."""
    if not isinstance(exc, OSError):
        return False
    return exc.errno in (errno.ENOSPC, errno.EDQUOT) or bool(re.search(r"\d+ requested and \d+ written", str(exc)))


def disk_full(index_dir: Path, exc: BaseException) -> DiskFull:
    """The error to raise for :func:`is_disk_full`, with the free space left."""
    try:
        free = f"{shutil.disk_usage(index_dir).free / 1e6:.1f} MB free"
    except OSError:
        free = "free space unknown"
    return DiskFull(f"The disk holding {index_dir} is full ({free}), so the new index could not be written. "
                    f"The index is unchanged; free some space and run the ingest again.")


def rebuild_hint(index_dir: Path) -> str:
    """The advice ending an :class:`IndexProblem`'s message, after "; "."""
    return f"rebuild it with: protocol-qa ingest --index {index_dir} YOUR-DOCUMENTS"


def without_rebuild_hint(message: str, index_dir: Path) -> str:
    """``message`` without its :func:`rebuild_hint`: for reporting a problem once the rebuild is done."""
    return message.replace(f"; {rebuild_hint(index_dir)}", "")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _sampled_sha256(path: Path, size: int) -> str:
    """Hash of evenly spaced blocks: catches truncation and most damage without reading everything."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for i in range(_SAMPLE_BLOCKS):
            handle.seek(max(0, (size - _SAMPLE_BLOCK) * i // max(1, _SAMPLE_BLOCKS - 1)))
            digest.update(handle.read(_SAMPLE_BLOCK))
    return digest.hexdigest()


def file_checksum(path: Path) -> dict[str, Any]:
    """``{"size", "sha256"}`` of a file, plus ``"sample_sha256"`` for large ones."""
    size = path.stat().st_size
    record: dict[str, Any] = {"size": size, "sha256": _sha256(path)}
    if size > _SAMPLE_BLOCKS * _SAMPLE_BLOCK:
        record["sample_sha256"] = _sampled_sha256(path, size)
    return record


def pause_for_tests(point: str) -> None:
    """Test hook, inert unless ``$PROTOCOL_QA_TEST_PAUSE_AT`` equals ``point``.

    Then it writes ``PROTOCOL_QA_PAUSED <point>`` to standard error and sleeps
    ``$PROTOCOL_QA_TEST_PAUSE_S`` seconds (default 60), so a test can kill the
    process at exactly that moment, or let it go on.
    """
    if os.environ.get(PAUSE_ENV) != point:
        return
    os.write(2, f"PROTOCOL_QA_PAUSED {point}\n".encode())
    time.sleep(float(os.environ.get("PROTOCOL_QA_TEST_PAUSE_S", "60")))


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def save_version(index_dir: Path, write_files: Callable[[Path], None], metadata: dict[str, Any]) -> Path:
    """Write a new version with ``write_files(folder)`` and make it current atomically.

    ``metadata`` goes into the manifest beside the format version and the
    checksums of every file ``write_files`` created. Returns the new version
    folder. If anything raises before the final rename, the current version
    is untouched (the partial ``.tmp-*`` folder is removed, or by the next
    writer if the process died).
    """
    index_dir = Path(index_dir)
    index_dir.mkdir(parents=True, exist_ok=True)
    version = f"v-{time.time_ns():020d}-{secrets.token_hex(3)}"
    temporary = index_dir / f".tmp-{version}"
    temporary.mkdir()
    try:
        write_files(temporary)
        pause_for_tests("saving")
        files = {}
        for path in sorted(p for p in temporary.iterdir() if p.is_file()):
            with open(path, "rb") as handle:
                os.fsync(handle.fileno())
            files[path.name] = file_checksum(path)
        manifest = {"format_version": FORMAT_VERSION, **metadata, "files": files}
        manifest[MANIFEST_CHECKSUM] = _manifest_digest(manifest)
        with open(temporary / MANIFEST, "w", encoding="utf-8") as handle:
            json.dump(manifest, handle, indent=1)
            handle.flush()
            os.fsync(handle.fileno())
        _fsync_dir(temporary)
        final = index_dir / version
        os.rename(temporary, final)
        _fsync_dir(index_dir)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    pause_for_tests("publishing")
    _publish(index_dir, version)
    return final


def _publish(index_dir: Path, version: str) -> None:
    """Point ``current`` at ``version``: write a pointer file and rename it over the old one."""
    pointer = index_dir / f".tmp-current-{version}"
    with open(pointer, "w", encoding="utf-8") as handle:
        handle.write(version + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    target = index_dir / CURRENT
    if target.is_dir() and not target.is_symlink():
        # A copy that dereferenced the old symlink (cp -rL, shutil.copytree, zip without -y):
        # move that folder aside first (os.replace cannot put a file over a folder); the
        # garbage collector removes it.
        os.replace(target, index_dir / f".tmp-old-{CURRENT}-{version}")
    os.replace(pointer, target)  # the one atomic step that publishes the new version
    _fsync_dir(index_dir)


_VERSION_NAME = re.compile(r"v-[0-9]{20}-[0-9a-f]{6}")


def current_name(index_dir: Path) -> str | None:
    """The name of the current version ("v-…", or "current" for a dereferenced copy), or None.

    Cheap (one small read): the app uses it to notice a new version.
    """
    path = Path(index_dir) / CURRENT
    try:
        if path.is_symlink():
            return os.readlink(path)
        if path.is_dir():
            return CURRENT
        return path.read_text(encoding="utf-8").strip()
    except OSError:
        return None


def _manifest_digest(manifest: dict[str, Any]) -> str:
    """sha256 of a manifest's content (without its own checksum), key order aside."""
    return hashlib.sha256(json.dumps(manifest, sort_keys=True).encode("utf-8")).hexdigest()


def current_version(index_dir: Path) -> Path:
    """The folder ``current`` points at; :class:`IndexNotFound` if there is none."""
    index_dir = Path(index_dir)
    pointer = index_dir / CURRENT
    if not pointer.exists() and not pointer.is_symlink():
        if not index_dir.exists():
            raise IndexNotFound(f"There is no index at {index_dir} (the folder does not exist); "
                                f"build it with: protocol-qa ingest --index {index_dir} YOUR-DOCUMENTS")
        raise IndexNotFound(f"There is no index in {index_dir} (no '{CURRENT}' file naming its version); "
                            f"build it with: protocol-qa ingest --index {index_dir} YOUR-DOCUMENTS")
    if pointer.is_dir() and not pointer.is_symlink():
        return pointer  # a copy that dereferenced the old symlink: the version's files are in it
    try:
        if pointer.is_symlink():
            target = os.readlink(pointer)
        else:
            with open(pointer, encoding="utf-8") as handle:
                target = handle.read(200).strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise IndexDamaged(f"The index pointer {pointer} is unreadable ({exc}); {rebuild_hint(index_dir)}") from exc
    if not _VERSION_NAME.fullmatch(target):
        raise IndexDamaged(f"The index pointer {pointer} does not name a version (it should hold a name like "
                           f"v-01234567890123456789-abcdef); {rebuild_hint(index_dir)}")
    return index_dir / target


def open_version(index_dir: Path, *, verify: str = "auto",
                 version_dir: Path | None = None) -> tuple[Path, dict[str, Any]]:
    """Resolve ``current`` (or take ``version_dir``), read and check its manifest.

    Returns ``(version folder, manifest)``.

    ``verify``: ``"full"`` (sha256 of every file), ``"auto"`` (full below
    ``FULL_VERIFY_LIMIT`` in total, else sizes plus sampled blocks) or
    ``"size"`` (sizes only). Raises :class:`IndexNotFound`, :class:`IndexDamaged`
    (naming the file) or :class:`IndexIncompatible` (another format version).
    """
    if verify not in ("full", "auto", "size"):
        raise ValueError(f"verify must be 'full', 'auto' or 'size', got {verify!r}")
    index_dir = Path(index_dir)
    version_dir = version_dir or current_version(index_dir)
    manifest_path = version_dir / MANIFEST
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict):
            raise ValueError("not an index manifest")
    except FileNotFoundError:
        raise IndexDamaged(f"The index file {manifest_path} is missing; {rebuild_hint(index_dir)}") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise IndexDamaged(f"The index file {manifest_path} is unreadable ({exc}); {rebuild_hint(index_dir)}") from exc
    found = manifest.get("format_version")
    if found != FORMAT_VERSION:
        raise IndexIncompatible(f"The index at {index_dir} has format version {found}, this version of "
                                f"protocol-qa reads version {FORMAT_VERSION}; {rebuild_hint(index_dir)}")
    recorded = manifest.pop(MANIFEST_CHECKSUM, None)
    if recorded is not None and recorded != _manifest_digest(manifest):
        raise IndexDamaged(f"The index file {manifest_path} does not match its checksum (altered or corrupted); "
                           f"{rebuild_hint(index_dir)}")
    files = manifest["files"]
    total = sum(int(record.get("size", 0)) for record in files.values())
    for name, record in files.items():
        path = version_dir / name
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            raise IndexDamaged(f"The index file {path} is missing; {rebuild_hint(index_dir)}") from None
        if size != record["size"]:
            raise IndexDamaged(f"The index file {path} has {size} bytes, {record['size']} were written "
                               f"(truncated or altered); {rebuild_hint(index_dir)}")
        if verify == "size":
            continue
        try:
            if verify == "full" or total <= FULL_VERIFY_LIMIT or "sample_sha256" not in record:
                intact = _sha256(path) == record["sha256"]
            else:
                intact = _sampled_sha256(path, size) == record["sample_sha256"]
        except FileNotFoundError:  # removed between stat and read: a writer collected this version
            raise IndexDamaged(f"The index file {path} is missing; {rebuild_hint(index_dir)}") from None
        if not intact:
            raise IndexDamaged(f"The index file {path} does not match its checksum (altered or corrupted); "
                               f"{rebuild_hint(index_dir)}")
    return version_dir, manifest


@contextlib.contextmanager
def writer_lock(index_dir: Path, timeout: float = 600.0) -> Iterator[None]:
    """Hold the writer lock of ``index_dir``; a second writer waits up to ``timeout`` seconds.

    Waiting is logged ("another ingest is updating DIR; waiting…"); past the
    timeout :class:`IndexBusy` is raised. The lock is an OS file lock, so a
    writer killed by SIGKILL releases it.
    """
    index_dir = Path(index_dir)
    index_dir.mkdir(parents=True, exist_ok=True)
    lock = filelock.FileLock(str(index_dir / LOCK_FILE))
    try:
        lock.acquire(timeout=0)
    except filelock.Timeout:
        log.warning("another ingest is updating %s; waiting…", index_dir)
        try:
            lock.acquire(timeout=timeout)
        except filelock.Timeout:
            raise IndexBusy(f"Another ingest has been updating {index_dir} for more than {timeout:g} s; "
                            f"try again when it has finished (or raise the lock timeout).") from None
    try:
        yield
    finally:
        lock.release()


def collect_garbage(index_dir: Path, keep: int = 2) -> list[str]:
    """Remove leftover temporary folders and all but the ``keep`` newest versions (never ``current``).

    Call only while holding :func:`writer_lock`. Returns the names removed.
    """
    index_dir = Path(index_dir)
    current = current_name(index_dir)
    removed = []
    for path in index_dir.glob(".tmp-*"):
        if path.is_symlink() or path.is_file():
            path.unlink(missing_ok=True)
        else:
            shutil.rmtree(path, ignore_errors=True)
        removed.append(path.name)
    versions = sorted((p for p in index_dir.glob("v-*") if p.is_dir()), key=lambda p: p.name, reverse=True)
    for path in versions[keep:]:
        if path.name != current:
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path.name)
    return removed


# numpy parses every .npy header with ast.literal_eval, and CPython 3.11's AST
# constructor is not safe when threads do that at once (python/cpython#106905:
# "AST constructor recursion depth mismatch", raised spuriously when several
# threads load an index together). Index arrays are read through this lock.
_NPY_HEADER_LOCK = threading.Lock()


def load_array(path: Path, mmap_mode: str | None = None) -> np.ndarray:
    """``np.load`` of one ``.npy`` file, safe to call from several threads at once."""
    with _NPY_HEADER_LOCK:
        return np.load(path, mmap_mode=mmap_mode)


def load_arrays(path: Path, names: tuple[str, ...]) -> dict[str, np.ndarray]:
    """The named arrays of one ``.npz`` file, read whole; thread-safe as :func:`load_array`."""
    with _NPY_HEADER_LOCK, np.load(path) as stored:
        return {name: stored[name] for name in names}
