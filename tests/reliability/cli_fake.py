"""``protocol-qa`` for subprocess tests, with the fake encoder available as ``PROTOCOL_QA_ENCODER=fake``.

Runs :func:`qa.cli.main` unchanged; only ``load_embedder("fake")`` is routed to
:class:`index.embed.FakeEmbedder` (if ``index.embed`` does not already accept
"fake"), so a subprocess ingests and answers in a fraction of a second and
gives the same vectors as the in-process tests' fake embedder.

    python tests/reliability/cli_fake.py ingest --index DIR CORPUS
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import index.embed as embed  # noqa: E402
import qa.service  # noqa: E402

_real_load_embedder = embed.load_embedder


def load_embedder(backend="auto", **kwargs):
    if str(getattr(backend, "value", backend)) == "fake":
        return embed.FakeEmbedder()
    return _real_load_embedder(backend, **kwargs)


embed.load_embedder = load_embedder
qa.service.load_embedder = load_embedder

if __name__ == "__main__":
    from qa.cli import main

    sys.exit(main())
