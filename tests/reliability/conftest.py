"""Fixtures for the reliability tests: small council corpora on disk, index snapshots, CLI subprocesses."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from index.embed import FakeEmbedder
from index.hybrid import HybridIndex
from qa.answer import Answerer

ROOT = Path(__file__).resolve().parents[2]
CLI = Path(__file__).resolve().parent / "cli_fake.py"

# Two small protocols; the second ingest of each test changes ALPHA and adds GAMMA.
ALPHA = """Alpha Borough Council Member Officer Protocol

1. Councillors must not instruct officers to undertake work for them.

2. Officers attend political group meetings only to give factual briefings.

3. A member may ask an officer to attend a ward surgery with the agreement of the director.

4. Gifts and hospitality over fifty pounds are declared in the register within 28 days.
"""
ALPHA_CHANGED = ALPHA.replace("fifty pounds", "twenty-five pounds").replace("28 days", "14 days") + \
    "\n5. Members must not use council vehicles for political campaigning.\n"
BETA = """Beta Town Council Code of Conduct

1. Members shall treat officers with courtesy and respect.

2. The Town Clerk is the Proper Officer of the council.

3. Complaints about the conduct of a councillor go to the monitoring officer.
"""
GAMMA = """Gamma District Council Protocol on Member Officer Relations

1. Officers shall not be asked to support a member's re-election campaign.

2. Press releases are issued by the communications team, never in a member's own name.
"""
QUESTIONS = [
    "Can a councillor instruct an officer?",
    "Who is the proper officer?",
    "How must gifts and hospitality be declared?",
    "Where do complaints about a councillor go?",
]


def write_corpus(folder: Path, files: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for existing in folder.glob("*.txt"):
        if existing.name not in files:
            existing.unlink()
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def snapshot(index_dir: Path, questions=QUESTIONS) -> dict:
    """What a user would see: every passage, and the ranked ids and texts of a few answers."""
    index = HybridIndex.load(index_dir, verify="full")
    answerer = Answerer(index, FakeEmbedder())
    return {
        "fingerprint": index.fingerprint,
        "passages": [p.to_dict() for p in index.passages],
        "answers": {q: [(r.passage.id, r.passage.text, round(r.score, 6)) for r in answerer.ask(q).results]
                    for q in questions},
    }


def cli_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PROTOCOL_QA_TEST_PAUSE_AT", None)
    env.update({"PROTOCOL_QA_ENCODER": "fake", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
                "PYTHONPATH": str(ROOT)})
    env.update(extra)
    return env


def cli(*args: str, timeout: float = 120, stdin: str | None = None, **env: str) -> subprocess.CompletedProcess:
    """Run ``protocol-qa ARGS`` (with the fake encoder) to completion."""
    return subprocess.run([sys.executable, str(CLI), *args], capture_output=True, text=True, timeout=timeout,
                          input=stdin, env=cli_env(**env), cwd=ROOT)


def start_cli(*args: str, **env: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(CLI), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=cli_env(**env), cwd=ROOT)

