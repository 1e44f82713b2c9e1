"""The command line over the tiny corpus, with the fake embedder."""

import json
import re
import subprocess
import sys

import pytest

from index.embed import FakeEmbedder
from qa import cli
from tests.tiny_corpus import write_corpus


@pytest.fixture(autouse=True)
def fake_model(monkeypatch):
    import index.embed as embed
    import qa.service as service

    monkeypatch.setattr(embed, "load_embedder", lambda *a, **k: FakeEmbedder())
    monkeypatch.setattr(service, "load_embedder", lambda *a, **k: FakeEmbedder())


@pytest.fixture
def index_dir(tmp_path, capsys):
    corpus = write_corpus(tmp_path / "corpus")
    assert cli.main(["ingest", "-q", "--index", str(tmp_path / "index"), str(corpus)]) == 0
    capsys.readouterr()
    return tmp_path / "index"


def test_help_lists_the_subcommands():
    out = subprocess.run([sys.executable, "-m", "qa.cli", "--help"], capture_output=True, text=True, check=True).stdout
    for command in ("ingest", "passages", "ask", "compare", "eval", "bench"):
        assert command in out


def test_ingest_reports_each_document(tmp_path, capsys):
    corpus = write_corpus(tmp_path / "corpus")
    assert cli.main(["ingest", "-q", "--index", str(tmp_path / "index"), str(corpus)]) == 0
    out = capsys.readouterr().out
    assert "ashford-protocol.txt" in out and "Index saved" in out
    assert cli.main(["ingest", "-q", "--index", str(tmp_path / "index"), str(corpus)]) == 0
    assert "up to date" in capsys.readouterr().out


def test_ingest_exit_1_when_a_file_is_skipped(tmp_path, capsys):
    corpus = write_corpus(tmp_path / "corpus")
    (corpus / "noise.txt").write_bytes(bytes(range(256)) * 40)
    assert cli.main(["ingest", "-q", "--index", str(tmp_path / "index"), str(corpus)]) == 1
    assert "skipped" in capsys.readouterr().out


def test_ingest_usage_error_names_the_path(tmp_path, capsys):
    assert cli.main(["ingest", "--index", str(tmp_path / "index"), str(tmp_path / "missing")]) == 2
    assert "missing" in capsys.readouterr().err


def test_ask_json_contract(index_dir, capsys):
    assert cli.main(["ask", "Must members register gifts?", "--json", "--index", str(index_dir)]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["answered"] and answer["results"][0]["authority"]
    assert {"rank", "score", "id", "clause", "pages", "highlight"} <= set(answer["results"][0])


def test_ask_reads_questions_from_standard_input(index_dir, capsys, monkeypatch):
    import io
    monkeypatch.setattr(sys, "stdin", io.StringIO("Must members register gifts?\n\nWho issues press releases?\n"))
    assert cli.main(["ask", "-", "--json", "--index", str(index_dir)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert [json.loads(line)["question"] for line in lines] == ["Must members register gifts?",
                                                              "Who issues press releases?"]


def test_compare_json_and_exports(index_dir, capsys):
    assert cli.main(["compare", "Must gifts be registered within 28 days?", "--json", "--index", str(index_dir)]) == 0
    comparison = json.loads(capsys.readouterr().out)
    assert comparison["authorities"][0]["kind"] == "model_code"
    assert cli.main(["compare", "Must gifts be registered within 28 days?", "--format", "csv",
                     "--index", str(index_dir)]) == 0
    assert capsys.readouterr().out.startswith("question,authority,")


def test_compare_reads_questions_from_standard_input(index_dir, capsys, monkeypatch):
    import io
    monkeypatch.setattr(sys, "stdin", io.StringIO("Must gifts be registered within 28 days?\n\n"
                                                  "Who issues press releases?\n"))
    assert cli.main(["compare", "-", "--json", "--index", str(index_dir)]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.strip().splitlines()]
    assert [c["question"] for c in lines] == ["Must gifts be registered within 28 days?", "Who issues press releases?"]
    assert all(c["authorities"][0]["kind"] == "model_code" for c in lines)


def test_passages_json_has_the_design_fields(index_dir, capsys):
    assert cli.main(["passages", "--json", "--authority", "Ashford Test Council", "--index", str(index_dir)]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert rows and {r["authority"] for r in rows} == {"Ashford Test Council"}
    assert set(rows[0]) == {"id", "authority", "document", "kind", "status", "date", "attribution", "note",
                            "source", "section", "clause", "pages", "start", "end", "text"}


def test_missing_index_is_a_clear_error(tmp_path, capsys):
    assert cli.main(["ask", "anything", "--index", str(tmp_path / "nothing")]) == 3
    assert "protocol-qa ingest" in capsys.readouterr().err


def test_ingest_bad_manifest_is_a_usage_error_naming_the_line(tmp_path, capsys):
    corpus = write_corpus(tmp_path / "corpus")
    manifest = corpus / "manifest.toml"
    manifest.write_text(manifest.read_text().replace('kind = "protocol"', 'kind = "pamphlet"', 1))
    assert cli.main(["ingest", "-q", "--index", str(tmp_path / "index"), str(corpus)]) == 2
    err = capsys.readouterr().err
    assert re.search(r"manifest\.toml:\d+: kind = 'pamphlet'", err), err


def test_corpus_wording_can_be_switched_off(index_dir, monkeypatch):
    from qa.config import Settings
    from qa.service import open_answerer

    assert Settings.from_env({}).corpus_wording is None  # the pipeline profile decides
    assert Settings.from_env({"PROTOCOL_QA_CORPUS_WORDING": "off"}).corpus_wording is False
    settings = Settings.from_env({"PROTOCOL_QA_CORPUS_WORDING": "0"}, index_dir=index_dir)
    answerer = open_answerer(settings)
    query = answerer.prepare("Can a councillor bully someone?")
    assert answerer.corpus_names is None and query.vectors.shape[0] == 1


def test_a_bad_switch_is_an_error_naming_the_variable(index_dir, capsys, monkeypatch):
    monkeypatch.setenv("PROTOCOL_QA_CORPUS_WORDING", "maybe")
    assert cli.main(["ask", "Must members register gifts?", "--index", str(index_dir)]) == cli.EXIT_USAGE
    assert "PROTOCOL_QA_CORPUS_WORDING must be on or off" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["ask", "compare"])
def test_an_authority_the_index_lacks_is_a_usage_error_listing_those_it_has(index_dir, capsys, command):
    assert cli.main([command, "Must members register gifts?", "--index", str(index_dir),
                     "--authority", "Hertingfordbury"]) == cli.EXIT_USAGE
    err = capsys.readouterr().err
    assert "'Hertingfordbury' matches no authority" in err and "Ashford Test Council" in err


def test_an_authority_may_be_given_by_part_of_its_name(index_dir, capsys):
    assert cli.main(["ask", "Must members register gifts?", "--index", str(index_dir), "--authority", "ashford",
                     "--json"]) == cli.EXIT_OK
    results = json.loads(capsys.readouterr().out)["results"]
    assert results and {r["authority"] for r in results} == {"Ashford Test Council"}


def test_eval_scores_a_grown_index_in_the_same_run(index_dir, tmp_path, capsys):
    """--also-index: the same questions on the corpus and on the corpus plus another
    council's document, in one run, with the change (docs/inference.md)."""
    grown_corpus = write_corpus(tmp_path / "grown")
    (grown_corpus / "other.txt").write_text(
        "Tilbury Borough Council\n\nMembers' rights\n\n1. Members are entitled to information held by the council "
        "on a need to know basis.\n\n2. Members must register gifts over fifty pounds.\n", encoding="utf-8")
    assert cli.main(["ingest", "-q", "--index", str(tmp_path / "grown-index"), str(grown_corpus)]) == 0
    questions = tmp_path / "q.jsonl"
    questions.write_text("\n".join(json.dumps(q) for q in [
        {"id": "a", "question": "Can members ask officers for information?", "kind": "single",
         "expect": [{"authority": "Ashford Test Council", "contains": "Members may ask officers for information"}]},
        {"id": "b", "question": "How do I pay my council tax?", "kind": "none", "expect": []},
    ]) + "\n", encoding="utf-8")
    capsys.readouterr()
    assert cli.main(["eval", str(questions), "--index", str(index_dir), "--also-index", str(tmp_path / "grown-index"),
                     "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    first, grown = report["corpora"]
    assert grown["documents"] == first["documents"] + 1 and grown["passages"] > first["passages"]
    assert first["index"].endswith("index") and grown["index"].endswith("grown-index")
    for row in (first, grown):
        assert 0.0 <= row["success_at_5"] <= 1.0 and (row["answerable"], row["off_topic"]) == (1, 1)
    assert "change from the first: success@5" in report["table"]
