"""Hostile questions: each answered or refused with a message, never an exception, in the library and the CLI."""

from __future__ import annotations

import json

import pytest

from index.update import update_index
from qa.answer import Answerer
from qa.compare import compare
from qa.config import Settings
from qa.service import open_answerer

from .conftest import ALPHA, BETA, GAMMA, cli, write_corpus

HOSTILE = {
    "empty": "",
    "whitespace": " \t\n\r\u00a0\u2003 ",
    "100k characters": "Can a councillor instruct an officer? " * 2700,
    "100k one word": "x" * 100_000,
    "control characters": "Can a\x07 councillor\x1b[31m instruct\x08 an officer?\x7f\x9b",
    "only control characters": "\x01\x02\x03\x1b\x7f",
    "NUL bytes": "Who is the\x00 proper officer?\x00",
    "emoji": "Can a councillor 🤝 an officer? 🏛️👩‍⚖️🇬🇧",
    "welsh": "A all cynghorydd roi cyfarwyddyd i swyddog?",
    "polish": "Czy radny może wydawać polecenia urzędnikowi?",
    "arabic": "هل يمكن لعضو المجلس أن يأمر موظفا؟",
    "chinese": "议员可以指示官员吗？",
    "hindi": "क्या पार्षद किसी अधिकारी को निर्देश दे सकता है?",
    "right-to-left override": "Who is the \u202eproper officer\u202c?",
    "zero-width": "Who\u200b is\u200d the\ufeff proper officer?",
    "combining marks": "Z̷̢̛a̵͎̔l̶̞̊g̸̣̈o̴̰͊ officer",
    "html": "<script>alert('x')</script><img src=x onerror=alert(1)> Who is the proper officer?",
    "markdown": "# Heading\n**bold** [link](javascript:alert(1)) ![img](http://evil/x.png) `code` | a | b |",
    "format strings": "%s %d {0} {question} ${HOME} $(rm -rf /) `id` ; DROP TABLE passages; --",
    "regex metacharacters": "(.*)+[a-z]{1000000}\\ ^$ | ?*+",
    "lone surrogate": "Who is the proper officer? \ud800",
    "only punctuation": "?!?!...,,,;;;",
    "numbers": "117 9.3.7 4.1(b)(iv)",
    "council named": "What does Beta Town Council say about the proper officer?",
}


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory):
    from index.embed import FakeEmbedder

    folder = tmp_path_factory.mktemp("hostile")
    corpus = write_corpus(folder / "corpus", {"alpha.txt": ALPHA, "beta.txt": BETA, "gamma.txt": GAMMA})
    update_index([corpus], folder / "index", FakeEmbedder())
    return folder / "index"


@pytest.fixture(scope="module")
def answerer(index_dir) -> Answerer:
    from index.embed import FakeEmbedder

    return open_answerer(Settings(index_dir=index_dir), embedder=FakeEmbedder())


@pytest.mark.parametrize("name", HOSTILE)
def test_ask_answers_or_refuses_with_a_message(answerer, name):
    answer = answerer.ask(HOSTILE[name])
    assert answer.answered or answer.message
    assert len(answer.question) <= 1000
    assert "\x00" not in answer.question
    json.dumps(answer.to_dict(), ensure_ascii=False)  # the JSON contract is printable


@pytest.mark.parametrize("name", HOSTILE)
def test_compare_answers_or_refuses(answerer, name):
    comparison = compare(answerer, HOSTILE[name])
    assert len(comparison.authorities) == 3
    assert len(comparison.question) <= 1000
    json.dumps(comparison.to_dict(), ensure_ascii=False)


@pytest.mark.parametrize("name", ["empty", "whitespace", "100k characters", "only control characters"])
def test_unusable_questions_are_refused_with_what_to_do(answerer, name):
    answer = answerer.ask(HOSTILE[name])
    assert not answer.answered and not answer.results
    assert "question" in answer.message.lower()


@pytest.mark.parametrize("top_k", [0, -1])
def test_bad_top_k_is_a_value_error_naming_it(answerer, top_k):
    with pytest.raises(ValueError, match="top_k must be at least 1"):
        answerer.ask("Who is the proper officer?", top_k=top_k)


def test_command_line_json_lines_for_every_hostile_question(index_dir):
    # Through standard input (a command-line argument cannot hold a NUL byte); one question per line.
    lines = [q.replace("\n", " ").replace("\r", " ").replace("\x85", " ") for q in HOSTILE.values()]
    lines = [line.replace("\ud800", "?") for line in lines if line.strip()]
    for command in ("ask", "compare"):
        result = cli(command, "--index", str(index_dir), "--json", "-", stdin="\n".join(lines) + "\n")
        assert result.returncode == 0, result.stderr
        objects = [json.loads(line) for line in result.stdout.splitlines()]
        assert len(objects) == len(lines)
        for obj in objects:
            assert "question" in obj
            if command == "ask":
                assert obj["answered"] or obj["message"]


@pytest.mark.parametrize("name", ["empty", "whitespace", "html", "markdown", "emoji", "arabic", "format strings",
                                  "100k characters", "control characters"])
def test_command_line_json_for_one_hostile_argument(index_dir, name):
    question = HOSTILE[name].replace("\x00", "")
    result = cli("ask", "--index", str(index_dir), "--json", "--", question)
    assert result.returncode == 0, result.stderr
    obj = json.loads(result.stdout)
    assert obj["answered"] or obj["message"]
