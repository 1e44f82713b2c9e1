"""The one configuration object, read in one place.

Defaults suit the default corpus; environment variables override them
(``PROTOCOL_QA_INDEX``, ``PROTOCOL_QA_CORPUS``, ``PROTOCOL_QA_UPLOADS``, ``PROTOCOL_QA_ADMIN_TOKEN``,
``PROTOCOL_QA_ENCODER``, ``PROTOCOL_QA_CORPUS_WORDING``, ``PROTOCOL_QA_DB``, ``PROTOCOL_QA_REVIEWERS``, ``PROTOCOL_QA_REVIEWER_ROLE``), and
command-line options override the environment.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_INDEX_DIR = PROJECT_ROOT / ".index"
DEFAULT_CORPUS_DIR = PROJECT_ROOT / "corpus"
# The Monitoring Officer's record (qa/record.py): outside the rebuildable index.
DEFAULT_DB = PROJECT_ROOT / "data" / "record.sqlite3"
# Documents added through the app, with their own manifest.toml: never git-tracked files.
DEFAULT_UPLOADS_DIR = PROJECT_ROOT / "data" / "uploads"


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
    # A Milvus URI (milvus-lite://PATH.db, milvus://HOST:PORT) given as the index; "" for the
    # folder above (the embedded engine). See index.location.
    index_uri: str = ""
    corpus_dir: Path = DEFAULT_CORPUS_DIR
    uploads_dir: Path = DEFAULT_UPLOADS_DIR
    admin_token: str = field(default="", repr=False)
    top_k: int = 5
    encoder: str = "auto"
    # None: as the pipeline profile says (qa/data/pipeline.toml); the variable overrides it.
    corpus_wording: bool | None = None
    # The record's database: a SQLite file, or postgresql://... (PROTOCOL_QA_DB).
    db: str = str(DEFAULT_DB)
    # Feedback not confirmed as a labelled question is deleted after this many days
    # (PROTOCOL_QA_FEEDBACK_DAYS): a year, so that a year's questions can be reviewed.
    feedback_days: int = 365
    # Who may verify, review feedback and add documents when people sign in through the council's
    # identity provider (.streamlit/secrets.toml [auth], docs/record.md): their e-mail addresses,
    # compared without regard to case (PROTOCOL_QA_REVIEWERS, separated by commas).
    reviewers: tuple[str, ...] = ()
    # Or whoever's ID token carries this value in its "roles" claim (PROTOCOL_QA_REVIEWER_ROLE).
    reviewer_role: str = ""

    def __post_init__(self) -> None:
        if self.index_uri:
            from index.location import parse_location

            parse_location(self.index_uri)  # a ValueError names the setting and what to write
        if self.top_k < 1:
            raise ValueError(f"top_k must be at least 1, got {self.top_k}")
        if self.feedback_days < 1:
            raise ValueError(f"PROTOCOL_QA_FEEDBACK_DAYS must be at least 1, got {self.feedback_days}")

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides) -> "Settings":
        env = os.environ if environ is None else environ
        from index.location import is_uri

        index = (env.get("PROTOCOL_QA_INDEX") or "").strip()
        settings = cls(
            index_dir=Path(index) if index and not is_uri(index) else DEFAULT_INDEX_DIR,
            index_uri=index if is_uri(index) else "",
            corpus_dir=Path(env.get("PROTOCOL_QA_CORPUS") or DEFAULT_CORPUS_DIR),
            uploads_dir=Path(env.get("PROTOCOL_QA_UPLOADS") or DEFAULT_UPLOADS_DIR),
            admin_token=env.get("PROTOCOL_QA_ADMIN_TOKEN", ""),
            encoder=env.get("PROTOCOL_QA_ENCODER", "auto"),
            corpus_wording=_switch(env, "PROTOCOL_QA_CORPUS_WORDING", default=None),
            db=env.get("PROTOCOL_QA_DB") or str(DEFAULT_DB),
            feedback_days=_whole_number(env, "PROTOCOL_QA_FEEDBACK_DAYS", 365),
            reviewers=_addresses(env, "PROTOCOL_QA_REVIEWERS"),
            reviewer_role=(env.get("PROTOCOL_QA_REVIEWER_ROLE") or "").strip(),
        )
        given = {key: value for key, value in overrides.items() if value is not None}
        if "index_dir" in given:  # --index given as a folder: the embedded engine, whatever the environment says
            given.setdefault("index_uri", "")
        return replace(settings, **given)

    @property
    def index_location(self):
        """The parsed index location (:class:`index.location.IndexLocation`)."""
        from index.location import parse_location

        return parse_location(self.index_uri or self.index_dir)


def _whole_number(env, name: str, default: int) -> int:
    """A whole-number environment variable; anything else is an error naming it."""
    raw = (env.get(name) or "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not a whole number of days; set it like {name}=365") from None


def _addresses(env, name: str) -> tuple[str, ...]:
    """E-mail addresses separated by commas, lower-cased; anything without an @ is an error naming it."""
    addresses = tuple(a.strip().lower() for a in (env.get(name) or "").split(",") if a.strip())
    for address in addresses:
        if "@" not in address:
            raise ValueError(f"{name}: {address!r} is not an e-mail address; list them like "
                             f"{name}=monitoring.officer@council.gov.uk,deputy@council.gov.uk")
    return addresses


def _switch(env, name: str, *, default: bool | None) -> bool | None:
    """An on/off environment variable; anything unrecognised is an error naming it."""
    raw = (env.get(name) or "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "on", "true", "yes"):
        return True
    if raw in ("0", "off", "false", "no"):
        return False
    raise ValueError(f"{name} must be on or off, got {env.get(name)!r}")


PIPELINE_FILE = Path(__file__).parent / "data" / "pipeline.toml"
PROFILES = ("learned", "hand")


@dataclass(frozen=True)
class PipelineSettings:
    """The answering pipeline's tuned settings; defaults come from ``qa/data/pipeline.toml``,
    where each value says how it was chosen. See :class:`qa.answer.Answerer` for their meaning."""

    mode: str
    dense_weight: float
    rrf_weight: float
    synonym_sets: bool
    expansion_weight: float
    corpus_wording: bool
    rerank_depth: int
    rerank_weight: float
    compare_rerank_depth: int
    rerank_pairs: int
    rerank_once_per_provision: bool
    compare_gate: bool
    fold_copies: bool
    min_answer_words: int

    def __post_init__(self) -> None:
        for name in ("dense_weight", "rrf_weight", "expansion_weight", "rerank_weight"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, got {value}")
        for name in ("rerank_depth", "compare_rerank_depth", "rerank_pairs", "min_answer_words"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be 0 or more, got {getattr(self, name)}")


def load_pipeline(profile: str, path: Path = PIPELINE_FILE) -> PipelineSettings:
    """One profile of ``path``; an error names the file, the profile and the field."""
    import tomllib

    if profile not in PROFILES:
        raise ValueError(f"unknown pipeline profile {profile!r}; use one of {', '.join(PROFILES)}")
    try:
        table = tomllib.loads(Path(path).read_text(encoding="utf-8"))[profile]
        return PipelineSettings(**table)
    except (OSError, KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{path}: profile [{profile}] is not usable ({exc}); restore the file from the "
                         "repository") from exc


def load_milvus(path: Path = PIPELINE_FILE):
    """The Milvus engine's settings (:class:`index.milvus.MilvusSettings`) from the [milvus]
    table of ``path``; an error names the file and the field."""
    import tomllib

    from index.milvus import MilvusSettings

    try:
        table = tomllib.loads(Path(path).read_text(encoding="utf-8")).get("milvus", {})
        return MilvusSettings(**table)
    except (OSError, TypeError, ValueError) as exc:
        raise ValueError(f"{path}: the [milvus] table is not usable ({exc}); restore the file from the "
                         "repository") from exc
