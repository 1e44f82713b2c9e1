"""Fixtures for the web app's tests: a tiny corpus of three councils indexed
with the fake embedder, and the environment that points app.py at it."""

from __future__ import annotations

from pathlib import Path

import pytest

from index.embed import FakeEmbedder

from tests.tiny_corpus import DOCUMENTS, HOSTILE, MANIFEST, build_index, write_corpus  # noqa: F401

APP = str(Path(__file__).resolve().parents[2] / "app.py")


@pytest.fixture(scope="session")
def built(tmp_path_factory) -> tuple[Path, Path]:
    """(corpus folder, index folder) built once; tests that change them use ``fresh``."""
    root = tmp_path_factory.mktemp("app-corpus")
    corpus = write_corpus(root / "corpus")
    return corpus, build_index(corpus, root / "index")


@pytest.fixture
def fresh(tmp_path) -> tuple[Path, Path]:
    """A corpus and index of this test's own, for tests that add documents."""
    corpus = write_corpus(tmp_path / "corpus")
    return corpus, build_index(corpus, tmp_path / "index")


@pytest.fixture(autouse=True)
def fake_encoder(monkeypatch, tmp_path):
    """PROTOCOL_QA_ENCODER=fake selects the deterministic FakeEmbedder."""
    import index.embed as embed

    real = getattr(embed, "load_embedder", None)

    def load_embedder(name: str = "auto", *args, **kwargs):
        if name == "fake":
            return FakeEmbedder()
        return real(name, *args, **kwargs)

    monkeypatch.setattr(embed, "load_embedder", load_embedder, raising=False)
    monkeypatch.setenv("PROTOCOL_QA_ENCODER", "fake")
    monkeypatch.delenv("PROTOCOL_QA_ADMIN_TOKEN", raising=False)
    monkeypatch.setenv("PROTOCOL_QA_DB", str(tmp_path / "data" / "record.sqlite3"))  # never the project's own


@pytest.fixture
def app_env(monkeypatch, built):
    corpus, index_dir = built
    monkeypatch.setenv("PROTOCOL_QA_INDEX", str(index_dir))
    monkeypatch.setenv("PROTOCOL_QA_CORPUS", str(corpus))
    return corpus, index_dir


def make_app(**params):
    from streamlit import config
    from streamlit.testing.v1 import AppTest

    # .streamlit/config.toml shows users only an error's type; tests need the message.
    config.set_option("client.showErrorDetails", "full")

    at = AppTest.from_file(APP, default_timeout=60)
    for key, value in params.items():
        at.query_params[key] = value
    return at
