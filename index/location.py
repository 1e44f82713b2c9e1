"""Where the index is: a folder (the embedded engine) or a Milvus URI.

``--index`` / ``PROTOCOL_QA_INDEX`` accepts:

- a folder path: the embedded engine (FAISS and the BM25 matrix in one folder), the default;
- ``milvus-lite://PATH.db``: Milvus Lite, a server inside this process over one data folder
  (one process at a time; for several, run ``milvus-lite server`` and use ``milvus://``);
- ``milvus://HOST:PORT`` or ``milvus+https://HOST:PORT``: a Milvus server or cluster, its
  token (``user:password`` or an API key) from ``PROTOCOL_QA_MILVUS_TOKEN``.

Parsing is pure: :func:`parse_location` raises ``ValueError`` naming the setting
and what to write instead; nothing is opened here.
"""

from __future__ import annotations

import enum
import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Engine", "IndexLocation", "parse_location", "TOKEN_ENV", "is_uri"]

TOKEN_ENV = "PROTOCOL_QA_MILVUS_TOKEN"
SETTING = "--index / PROTOCOL_QA_INDEX"
_EXAMPLES = ("a folder such as .index, milvus-lite:///srv/protocol-qa/index.db, "
             "or milvus://milvus.example.org:19530 (token in PROTOCOL_QA_MILVUS_TOKEN)")
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://(.*)$")
_HOST_PORT = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):([0-9]{1,5})/?$")


class Engine(enum.Enum):
    EMBEDDED = "embedded"
    MILVUS_LITE = "milvus-lite"
    MILVUS = "milvus"


@dataclass(frozen=True)
class IndexLocation:
    """A parsed ``--index`` value. ``address`` is what pymilvus connects to (a ``.db`` path
    for Milvus Lite, ``http(s)://HOST:PORT`` for a server); ``path`` the folder of the embedded engine."""

    engine: Engine
    text: str
    path: Path | None = None
    address: str = ""
    token: str = field(default="", repr=False)

    @property
    def is_milvus(self) -> bool:
        return self.engine is not Engine.EMBEDDED

    def __str__(self) -> str:
        return self.text


def is_uri(text: str) -> bool:
    """Whether ``text`` is written as a URI (``scheme://...``) rather than a folder."""
    return bool(_SCHEME.match(str(text)))


def _loopback(host: str) -> bool:
    host = host.strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_location(text: str | Path, environ: Mapping[str, str] | None = None) -> IndexLocation:
    """Parse an ``--index`` value; ``environ`` supplies ``PROTOCOL_QA_MILVUS_TOKEN``.

    A token is required for ``milvus+https://`` and for a ``milvus://`` server that is not
    on this machine (loopback): a cluster reached without credentials is a misconfiguration,
    not something to find out from a permission error mid-question.
    """
    import os

    env = os.environ if environ is None else environ
    raw = str(text).strip()
    if not raw:
        raise ValueError(f"{SETTING} is empty; give {_EXAMPLES}")
    match = _SCHEME.match(raw)
    if match is None:
        return IndexLocation(Engine.EMBEDDED, raw, path=Path(raw))
    scheme, rest = match.group(1).lower(), match.group(2)
    if scheme == "milvus-lite":
        if not rest or not rest.endswith(".db") or rest.endswith("/.db"):
            raise ValueError(f"{SETTING}={raw!r}: Milvus Lite needs a data path ending in .db after "
                             f"milvus-lite://, for example milvus-lite:///srv/protocol-qa/index.db "
                             f"(three slashes for an absolute path) or milvus-lite://index.db")
        return IndexLocation(Engine.MILVUS_LITE, raw, address=str(Path(rest).expanduser().absolute()))
    if scheme in ("milvus", "milvus+http", "milvus+https"):
        found = _HOST_PORT.match(rest)
        if found is None or not 0 < int(found.group(2)) < 65536:
            raise ValueError(f"{SETTING}={raw!r}: a Milvus server is given as {scheme}://HOST:PORT with a port "
                             f"from 1 to 65535, for example {scheme}://milvus.example.org:19530")
        host, port = found.group(1), int(found.group(2))
        token = (env.get(TOKEN_ENV) or "").strip()
        secure = scheme == "milvus+https"
        if not token and (secure or not _loopback(host)):
            raise ValueError(f"{SETTING}={raw!r}: the Milvus server at {host}:{port} needs a token, and "
                             f"{TOKEN_ENV} is not set; set it to the server's 'user:password' or API key "
                             f"(only a server on this machine, milvus://127.0.0.1:PORT, may go without)")
        address = f"{'https' if secure else 'http'}://{host}:{port}"
        return IndexLocation(Engine.MILVUS, raw, address=address, token=token)
    raise ValueError(f"{SETTING}={raw!r}: unknown scheme {scheme!r}; give {_EXAMPLES}")
