"""The README documents every command and the two make targets."""

from pathlib import Path

import pytest

from qa.cli import build_parser

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def subcommands() -> list[str]:
    parser = build_parser()
    action = next(a for a in parser._actions if a.dest == "command")
    return sorted(action.choices)


def test_cli_has_the_design_subcommands():
    assert subcommands() == ["align", "ask", "bench", "compare", "eval", "fit-abstention", "fit-compare", "ingest",
                             "passages", "provisions", "record", "train"]


@pytest.mark.parametrize("command", subcommands())
def test_every_subcommand_is_documented(command):
    assert f"protocol-qa {command}" in README, f"README does not document 'protocol-qa {command}'"


def test_readme_opens_with_the_two_commands():
    opening = README[:1500]
    assert "make run" in opening and "make test" in opening
