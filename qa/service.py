"""Opening the loaded index and model once, for the command line and the app."""

from __future__ import annotations

import logging
from pathlib import Path

from index.embed import Embedder, load_embedder
from index.hybrid import HybridIndex

from .answer import Answerer
from .config import Settings

log = logging.getLogger(__name__)


def open_answerer(settings: Settings, *, embedder: Embedder | None = None) -> Answerer:
    """Load the index at ``settings.index_dir`` and the embedding model.

    Raises the index's own errors (not found, damaged, built by another model),
    whose messages say how to rebuild.
    """
    embedder = embedder or load_embedder(settings.encoder, purpose="questions")
    index = HybridIndex.load(Path(settings.index_dir), expected_model_fingerprint=embedder.fingerprint)
    log.debug("loaded index %s with %d passages", settings.index_dir, len(index.passages))
    return Answerer(index, embedder, corpus_wording=settings.corpus_wording)  # None: the profile's
