"""The one configuration object, read in one place.

Defaults suit the default corpus; environment variables override them
(``PROTOCOL_QA_INDEX``, ``PROTOCOL_QA_CORPUS``, ``PROTOCOL_QA_ADMIN_TOKEN``,
``PROTOCOL_QA_ENCODER``, ``PROTOCOL_QA_CORPUS_WORDING``), and
command-line options override the environment.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_INDEX_DIR = PROJECT_ROOT / ".index"
DEFAULT_CORPUS_DIR = PROJECT_ROOT / "corpus"


@dataclass(frozen=True)
class Settings:
    """Where the index and corpus live, and who may change the corpus.

    ``admin_token``: uploads through the web app are refused unless this is set
    (by ``PROTOCOL_QA_ADMIN_TOKEN``) and the user enters the same token.
    ``corpus_wording``: also read each question in the documents' own names
    (see ``qa.answer.Answerer.wordings``); ``PROTOCOL_QA_CORPUS_WORDING=off``
    saves the second encoding of a question (about 4 ms a question at a
    million passages on two cores; README "Performance and scale").
    """

    index_dir: Path = DEFAULT_INDEX_DIR
    corpus_dir: Path = DEFAULT_CORPUS_DIR
    admin_token: str = field(default="", repr=False)
    top_k: int = 5
    encoder: str = "auto"
    corpus_wording: bool = True

    def __post_init__(self) -> None:
        if self.top_k < 1:
            raise ValueError(f"top_k must be at least 1, got {self.top_k}")

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides) -> "Settings":
        env = os.environ if environ is None else environ
        settings = cls(
            index_dir=Path(env.get("PROTOCOL_QA_INDEX") or DEFAULT_INDEX_DIR),
            corpus_dir=Path(env.get("PROTOCOL_QA_CORPUS") or DEFAULT_CORPUS_DIR),
            admin_token=env.get("PROTOCOL_QA_ADMIN_TOKEN", ""),
            encoder=env.get("PROTOCOL_QA_ENCODER", "auto"),
            corpus_wording=_switch(env, "PROTOCOL_QA_CORPUS_WORDING", default=True),
        )
        given = {key: value for key, value in overrides.items() if value is not None}
        return replace(settings, **given)


def _switch(env, name: str, *, default: bool) -> bool:
    """An on/off environment variable; anything unrecognised is an error naming it."""
    raw = (env.get(name) or "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "on", "true", "yes"):
        return True
    if raw in ("0", "off", "false", "no"):
        return False
    raise ValueError(f"{name} must be on or off, got {env.get(name)!r}")
