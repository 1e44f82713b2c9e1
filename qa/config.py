"""The one configuration object, read in one place.

Defaults suit the default corpus; environment variables override them
(``PROTOCOL_QA_INDEX``, ``PROTOCOL_QA_CORPUS``, ``PROTOCOL_QA_ADMIN_TOKEN``,
``PROTOCOL_QA_ENCODER``), and
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
    """

    index_dir: Path = DEFAULT_INDEX_DIR
    corpus_dir: Path = DEFAULT_CORPUS_DIR
    admin_token: str = field(default="", repr=False)
    top_k: int = 5
    encoder: str = "auto"

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
        )
        given = {key: value for key, value in overrides.items() if value is not None}
        return replace(settings, **given)
