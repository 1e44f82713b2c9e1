"""Opening the loaded index and model once, for the command line and the app."""

from __future__ import annotations

import logging
from pathlib import Path

from index.embed import Embedder, load_embedder
from index.hybrid import HybridIndex

from .answer import Answerer
from .config import Settings, load_milvus

log = logging.getLogger(__name__)


def open_answerer(settings: Settings, *, embedder: Embedder | None = None) -> Answerer:
    """Open the index ``settings`` name (a folder or a Milvus URI) and load the embedding model.

    Raises the index's own errors (not found, damaged, built by another model),
    whose messages say how to rebuild.
    """
    embedder = embedder or load_embedder(settings.encoder, purpose="questions")
    index = open_index(settings, expected_model_fingerprint=embedder.fingerprint)
    log.debug("opened index %s with %d passages", settings.index_location, len(index.passages))
    return Answerer(index, embedder, corpus_wording=settings.corpus_wording)  # None: the profile's


def open_index(settings: Settings, *, expected_model_fingerprint: str | None = None):
    """The index ``settings`` name: the embedded engine's folder (:class:`HybridIndex`) or a
    Milvus snapshot (:class:`index.milvus_index.MilvusIndex`), which answer the same calls."""
    location = settings.index_location
    if not location.is_milvus:
        return HybridIndex.load(Path(settings.index_dir), expected_model_fingerprint=expected_model_fingerprint)
    from index.milvus_index import MilvusIndex

    return MilvusIndex.open(location, load_milvus(), expected_model_fingerprint=expected_model_fingerprint)
