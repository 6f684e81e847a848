"""The rag commands of the ``e5`` CLI end to end (hash model; the session's throw-away E5_HOME)."""

import json

import pytest
from typer.testing import CliRunner

from ui.cli import app

runner = CliRunner()


def e5(*args: str):
    return runner.invoke(app, list(args))


@pytest.fixture
def folder(tmp_path):
    root = tmp_path / "handbook"
    (root / "ops").mkdir(parents=True)
    (root / "ops" / "deploy.md").write_text(
        "# Deploy\n\nRoll out the release with a canary, then watch the metrics."
    )
    (root / "hiring.txt").write_text("Interviews have four rounds and a take-home exercise.")
    (root / "logo.png").write_bytes(b"\x89PNG\r\n")
    return root


def test_index_search_collections_rm(folder, monkeypatch):
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    first = e5("index", str(folder), "-m", "hash", "-c", "cli-handbook", "-q", "--chunk-tokens", "32")
    assert first.exit_code == 0, first.output
    assert "added ops/deploy.md" in first.stdout and "skipped logo.png: unsupported file type" in first.stderr
    again = e5(
        "index", str(folder), "-c", "cli-handbook", "-q"
    )  # model and settings come from the collection
    assert again.exit_code == 0 and "no changes" in again.stdout

    found = e5("search", "canary release metrics", "-c", "cli-handbook", "-k", "1", "--json", "--task", "qa")
    hits = json.loads(found.stdout)
    assert found.exit_code == 0 and hits[0]["path"] == "ops/deploy.md"
    assert {"path", "score", "text", "chunk", "snippet"} <= hits[0].keys()
    text = e5("search", "interview rounds", "-c", "cli-handbook", "--path", "*.txt")
    assert "hiring.txt  [chunk 0, chars 0-" in text.stdout and "deploy" not in text.stdout

    answered = e5("ask", "how do we deploy?", "-c", "cli-handbook", "-k", "1")
    assert answered.exit_code == 0 and "no LLM endpoint configured" in answered.stderr
    assert answered.stdout.startswith("[1] ops/deploy.md")

    listing = e5("collections")
    assert "cli-handbook" in listing.stdout and "hash:256" in listing.stdout
    assert e5("rm", "cli-handbook", "ops").stdout == "removed ops/deploy.md\n"
    assert "deleted collection 'cli-handbook' (1 documents)" in e5("rm", "cli-handbook", "-y").stdout


def test_user_errors_are_one_line(tmp_path, folder):
    cases = [
        (("index", str(tmp_path / "nope"), "-m", "hash"), "does not exist"),
        (("index", str(folder / "hiring.txt"), "-m", "hash"), "is a file, not a folder"),
        (("index", str(folder), "-m", "hash", "--overlap", "500"), "overlap must be in"),
        (("search", "x", "-c", "no-such-collection"), "no collection named 'no-such-collection'"),
        (("search", "x", "-c", "bad", "--task", "nonsense"), "no collection named 'bad'"),
        (("rm", "no-such-collection", "-y"), "no collection named"),
    ]
    for args, message in cases:
        result = e5(*args)
        assert result.exit_code == 2 and message in result.stderr and "Traceback" not in result.output, args
    e5("index", str(folder), "-m", "hash", "-c", "cli-mismatch", "-q")
    refused = e5("search", "x", "-c", "cli-mismatch", "-m", "base")
    assert refused.exit_code == 2 and "refusing encoder 'llm:" in refused.stderr
    e5("rm", "cli-mismatch", "-y")
