"""The README's command-line examples, produced from the real corpus so they cannot go stale.

Each example in README.md sits between ``<!-- example: ARGS -->`` and
``<!-- /example -->``; ARGS are ``protocol-qa`` arguments. This module runs each
against an index of ``corpus/`` built with the shipped models and writes the
output back (``--write``), or reports which examples differ (the default, used
by ``tests/test_readme_examples.py``):

    python -m qa.readme_examples --index DIR [--write]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import re
import shlex
import sys
from pathlib import Path
from unittest import mock

from .config import PROJECT_ROOT

README = PROJECT_ROOT / "README.md"
# The reranker's precision the examples are printed with: float32 reads alike on every CPU, to
# float rounding. The default elsewhere is bfloat16 or int8 by CPU (qa.rerank.resolved_precision),
# whose rounding may order a council's third clause differently.
PRECISION = "fp32"
BLOCK = re.compile(r"(<!-- example: (?P<args>.+?) -->\n```\n)(?P<body>.*?)(```\n<!-- /example -->)", re.S)


def run_example(args: str, index_dir: Path) -> str:
    """``$ protocol-qa ARGS`` and what it prints, as a user would see it."""
    from . import cli

    argv = shlex.split(args) + ["--index", str(index_dir)]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        status = cli.main(argv)
    if status not in (0, 1):
        raise RuntimeError(f"protocol-qa {args} exited {status}")
    return f"$ protocol-qa {args}\n{out.getvalue().rstrip()}\n"


def regenerate(text: str, index_dir: Path) -> str:
    """``text`` with every example's output printed again, the reranker in :data:`PRECISION`."""
    with mock.patch.dict(os.environ, {"PROTOCOL_QA_RERANK_PRECISION": PRECISION}):
        return BLOCK.sub(lambda m: m.group(1) + run_example(m.group("args"), index_dir) + m.group(4), text)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index", type=Path, required=True, help="an index of corpus/ built with the shipped models")
    parser.add_argument("--write", action="store_true", help="write the new examples into README.md")
    args = parser.parse_args(argv)
    text = README.read_text(encoding="utf-8")
    new = regenerate(text, args.index)
    if args.write:
        README.write_text(new, encoding="utf-8")
        return 0
    if new != text:
        print("README.md's examples differ from what protocol-qa prints now; run "
              "python -m qa.readme_examples --index DIR --write", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
