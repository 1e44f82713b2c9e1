"""The README's command-line examples are what protocol-qa prints today (the real models, corpus/)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from index.embed import load_embedder
from index.update import update_index
from qa.readme_examples import BLOCK, README, regenerate

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


def test_every_readme_example_is_regenerated_unchanged(tmp_path):
    index_dir = tmp_path / "index"
    update_index([ROOT / "corpus"], index_dir, load_embedder("auto", purpose="passages"))
    text = README.read_text(encoding="utf-8")
    assert len(BLOCK.findall(text)) >= 2
    new = regenerate(text, index_dir)
    # Scores may differ in the last digit between CPUs (bfloat16 kernels); the clauses, their order
    # and their citations may not.
    def blocks(readme: str) -> list[str]:
        return [re.sub(r"\(score \d+\.\d+\)", "(score …)", m.group("body")) for m in BLOCK.finditer(readme)]

    old_blocks, new_blocks = blocks(text), blocks(new)
    assert new_blocks == old_blocks, "run: python -m qa.readme_examples --index DIR --write"
